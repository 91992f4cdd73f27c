//! The closed loop's steps as the harness takes them, so a test reads as the story it checks:
//! `app.register(&clerk, &village, "宅基地纠纷")`, `app.accept(&clerk, &case.id)`, `app.dispatch(…)`, … Each
//! step is one mutation over HTTP in its `input` shape, as the given token; it fails the test on any error
//! and answers the case as it stands after the step (`STEP_FIELDS`). A test that checks an error sends its
//! mutation itself (many in the deprecated separate-argument shape, which keeps them covered).

use serde_json::{Value, json};

use crate::helpers::{REGISTER_INPUT, TestApp, case_input};

/// What a step answers of the case.
pub const STEP_FIELDS: &str = "id code status tier overdue extended concludeBy followUpBy
    outcome satisfaction risk { level reasons } leadUnit { id name } coUnits { id name }
    handledBy { id name } registeredIn { id name }";

/// A case as a step left it.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub body: Value,
}

impl std::ops::Index<&str> for Case {
    type Output = Value;
    fn index(&self, field: &str) -> &Value {
        &self.body[field]
    }
}

impl Case {
    fn from(body: &Value) -> Case {
        Case {
            id: body["id"]
                .as_str()
                .expect("a case answers its id")
                .to_owned(),
            body: body.clone(),
        }
    }

    pub fn status(&self) -> &str {
        self.body["status"].as_str().unwrap_or("<none>")
    }
}

/// An RFC 3339 time `days` from now.
pub fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

impl TestApp {
    /// Sends one case mutation with `args` as its `input` and answers the case it returns
    /// (`{ name(input: {args}) { case { … } } }`).
    async fn step(&self, who: &str, name: &str, params: &str, args: &str, vars: Value) -> Case {
        let query = format!(
            "mutation({params}) {{ {name}(input: {{ {args} }}) {{ case {{ {STEP_FIELDS} }} }} }}"
        );
        let data = self.ok(who, &query, vars).await;
        Case::from(&data[name]["case"])
    }

    /// Registers the usual two-party dispute (`case_input`) at `tenant` (the caller's own center if none).
    pub async fn register(&self, who: &str, tenant: Option<&str>, title: &str) -> Case {
        self.register_input(who, case_input(tenant, title)).await
    }

    /// Registers a case from a whole `RegisterCaseInput`.
    pub async fn register_input(&self, who: &str, input: Value) -> Case {
        let query = REGISTER_INPUT.replace("FIELDS", STEP_FIELDS);
        let data = self.ok(who, &query, json!({ "input": input })).await;
        Case::from(&data["registerCase"]["case"])
    }

    pub async fn accept(&self, who: &str, case: &str) -> Case {
        self.step(
            who,
            "acceptCase",
            "$id: ID!",
            "id: $id",
            json!({ "id": case }),
        )
        .await
    }

    /// Declines the case, telling the resident where to go instead (一次性告知).
    pub async fn reject(&self, who: &str, case: &str, reason: &str, referral: &str) -> Case {
        let vars = json!({ "id": case, "r": reason, "f": referral });
        self.step(
            who,
            "rejectCase",
            "$id: ID!, $r: String!, $f: String!",
            "id: $id, reason: $r, referral: $f",
            vars,
        )
        .await
    }

    /// Dispatches to a lead unit and co-units, due in `days`.
    pub async fn dispatch(
        &self,
        who: &str,
        case: &str,
        lead: &str,
        co: &[&str],
        days: i64,
    ) -> Case {
        let vars = json!({ "id": case, "u": lead, "co": co, "d": in_days(days) });
        self.step(
            who,
            "dispatchCase",
            "$id: ID!, $u: ID!, $co: [ID!]!, $d: DateTime!",
            "id: $id, leadUnitId: $u, coUnitIds: $co, deadline: $d",
            vars,
        )
        .await
    }

    pub async fn claim(&self, who: &str, case: &str) -> Case {
        self.step(
            who,
            "claimCase",
            "$id: ID!",
            "id: $id",
            json!({ "id": case }),
        )
        .await
    }

    /// The lead unit hands the case back (退回).
    pub async fn give_back(&self, who: &str, case: &str, reason: &str) -> Case {
        let vars = json!({ "id": case, "r": reason });
        self.step(
            who,
            "returnCase",
            "$id: ID!, $r: String!",
            "id: $id, reason: $r",
            vars,
        )
        .await
    }

    /// The center answers a return by dispatching again, due in `days`.
    pub async fn redispatch(&self, who: &str, case: &str, lead: &str, days: i64) -> Case {
        let vars = json!({ "id": case, "u": lead, "d": in_days(days) });
        self.step(
            who,
            "reviewReturn",
            "$id: ID!, $u: ID!, $d: DateTime!",
            "id: $id, decision: REDISPATCH, leadUnitId: $u, deadline: $d",
            vars,
        )
        .await
    }

    /// Concludes the case as mediated (人民调解), resolved.
    pub async fn resolve(&self, who: &str, case: &str) -> Case {
        self.step(
            who,
            "resolveCase",
            "$id: ID!",
            "id: $id, outcome: RESOLVED, method: PEOPLES_MEDIATION, note: \"签订人民调解协议书\"",
            json!({ "id": case }),
        )
        .await
    }

    pub async fn unresolve(&self, who: &str, case: &str, reason: &str) -> Case {
        let vars = json!({ "id": case, "r": reason });
        self.step(
            who,
            "unresolveCase",
            "$id: ID!, $r: String!",
            "id: $id, reason: $r",
            vars,
        )
        .await
    }

    /// Follows up with the resident, who answers `satisfaction` (`SATISFIED`, `DISSATISFIED`, …).
    pub async fn follow_up(&self, who: &str, case: &str, satisfaction: &str) -> Case {
        let args = format!("id: $id, satisfaction: {satisfaction}, note: \"电话回访\"");
        self.step(
            who,
            "followUpCase",
            "$id: ID!",
            &args,
            json!({ "id": case }),
        )
        .await
    }

    pub async fn close(&self, who: &str, case: &str) -> Case {
        self.step(
            who,
            "closeCase",
            "$id: ID!",
            "id: $id",
            json!({ "id": case }),
        )
        .await
    }

    /// Reopens a closed case to its lead unit, due in `days`.
    pub async fn reopen(&self, who: &str, case: &str, reason: &str, days: i64) -> Case {
        let vars = json!({ "id": case, "r": reason, "d": in_days(days) });
        self.step(
            who,
            "reopenCase",
            "$id: ID!, $r: String!, $d: DateTime!",
            "id: $id, reason: $r, deadline: $d",
            vars,
        )
        .await
    }

    /// Escalates to `target` (`NEXT_TIER` or `PARENT_TENANT`).
    pub async fn escalate(&self, who: &str, case: &str, target: &str) -> Case {
        let args = format!("id: $id, target: {target}, note: \"调解未果\"");
        self.step(
            who,
            "escalateCase",
            "$id: ID!",
            &args,
            json!({ "id": case }),
        )
        .await
    }

    /// Extends the conclusion deadline, with a reason.
    pub async fn extend(&self, who: &str, case: &str, reason: &str) -> Case {
        let vars = json!({ "id": case, "r": reason });
        self.step(
            who,
            "extendCaseDeadline",
            "$id: ID!, $r: String!",
            "id: $id, reason: $r",
            vars,
        )
        .await
    }

    /// Summons an on-call unit to the case; the summons' id.
    pub async fn summon(&self, who: &str, case: &str, unit: &str) -> String {
        let data = self
            .ok(
                who,
                "mutation($c: ID!, $u: ID!) { summonUnit(input: {caseId: $c, unitId: $u}) { id } }",
                json!({ "c": case, "u": unit }),
            )
            .await;
        data["summonUnit"]["id"].as_str().unwrap().to_owned()
    }

    /// The summoned unit reports (报到); whether it reported late.
    pub async fn report(&self, who: &str, summons: &str) -> bool {
        let data = self
            .ok(
                who,
                "mutation($s: ID!) { reportSummons(input: {id: $s}) { late } }",
                json!({ "s": summons }),
            )
            .await;
        data["reportSummons"]["late"].as_bool().unwrap()
    }

    pub async fn release(&self, who: &str, summons: &str) {
        self.ok(
            who,
            "mutation($s: ID!) { releaseSummons(input: {id: $s}) { id } }",
            json!({ "s": summons }),
        )
        .await;
    }

    /// Issues a supervision order (督办) of `level` on the case; the order's id.
    pub async fn supervise(&self, who: &str, case: &str, level: &str, reason: &str) -> String {
        let query = format!(
            "mutation($c: ID!, $r: String!) {{ issueSupervisionOrder(input: {{caseId: $c, level: {level}, reason: $r}}) {{ order {{ id }} }} }}"
        );
        let data = self
            .ok(who, &query, json!({ "c": case, "r": reason }))
            .await;
        data["issueSupervisionOrder"]["order"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Answers a supervision order.
    pub async fn answer_order(&self, who: &str, order: &str, response: &str) {
        self.ok(
            who,
            "mutation($o: ID!, $r: String!) { respondToSupervision(input: {orderId: $o, response: $r}) { order { id } } }",
            json!({ "o": order, "r": response }),
        )
        .await;
    }
}
