//! The audit trail for the auditor: sign-ins (allowed and refused), sign-outs, account and grant changes,
//! reveals of personal data and exports are audit records, and the auditor reads them over GraphQL within
//! the subtree its role reaches: a township's auditor sees its township's, never the county's or a
//! sibling's; nobody else reads them.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, code};
use fengqiao::store::scope::as_system;
use fengqiao_tenancy::Role;

const TRAIL: &str = "query($t: ID!, $a: String, $n: Int, $after: String) {
    auditRecords(tenantId: $t, action: $a, first: $n, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { node { at action object outcome reason clientAddress actor { id userId displayName } tenantId } }
    } }";
const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }";

/// The records of a page: (action, outcome, actor id, tenant id, object).
fn records(data: &Value) -> Vec<(String, String, String, String, String)> {
    data["auditRecords"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
            (
                text(&n["action"]),
                text(&n["outcome"]),
                text(&n["actor"]["userId"]),
                text(&n["tenantId"]),
                text(&n["object"]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_reads_the_trail_of_its_subtree_and_nobody_else_reads_it() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let east = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let west = app.tenant(&county, &app.township_code(11), "西山镇").await;
    let (clerk, clerk_token) = app.user(&east, "clerk", &[Role::IntakeClerk]).await;
    let (west_clerk, _) = app.user(&west, "westclerk", &[Role::IntakeClerk]).await;
    let (_, auditor) = app.user(&county, "auditor", &[Role::Auditor]).await;
    let (_, east_auditor) = app.user(&east, "eastauditor", &[Role::Auditor]).await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let (_, dispatcher) = app.user(&east, "dispatcher", &[Role::Dispatcher]).await;

    // A wrong password, a reveal, an export, a sign-out.
    let wrong = app
        .gql(
            None,
            SIGN_IN,
            json!({ "u": format!("{}.clerk", app.tag), "p": "not the password" }),
        )
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    let case = app
        .register(&clerk_token, Some(&east), "宅基地纠纷")
        .await
        .id;
    let parties = app
        .ok(
            &clerk_token,
            "query($id: ID!) { case(id: $id) { parties { id } } }",
            json!({ "id": case }),
        )
        .await;
    let party = parties["case"]["parties"][0]["id"].as_str().unwrap();
    let shown = app
        .ok(
            &clerk_token,
            "mutation($id: ID!, $p: ID!) { revealParty(caseId: $id, partyId: $p, reason: \"核实身份\") { idCard } }",
            json!({ "id": case, "p": party }),
        )
        .await;
    let id_card = shown["revealParty"]["idCard"].as_str().unwrap().to_owned();
    let base = app.url.trim_end_matches("/graphql");
    let month = app.state.now().format("%Y-%m").to_string();
    let export = app
        .http
        .get(format!(
            "{base}/reports/monthly?tenantId={county}&month={month}&format=csv"
        ))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap();
    assert!(export.status().is_success(), "{}", export.status());
    app.ok(&clerk_token, "mutation { signOut }", json!({}))
        .await;
    // Policy changes: a center's clock policy, a rotating unit's duty roster.
    let (_, director) = app.user(&east, "director", &[Role::CenterDirector]).await;
    app.ok(
        &director,
        "mutation($t: ID!) { setClockPolicy(input: {tenantId: $t, kind: DISPUTE, complexity: SIMPLE, acceptWithin: \"2wd\", concludeWithin: \"3wd\", followUpWithin: \"5wd\"}) { concludeWithin } }",
        json!({ "t": east }),
    )
    .await;
    let (rotating, _) = app
        .stationed_unit(&east, "东山法庭", "ROTATING", "judge")
        .await;
    app.ok(
        &director,
        "mutation($u: ID!) { setDutyRoster(unitId: $u, roster: {weekly: [{weekday: TUE, start: \"09:00\", end: \"12:00\"}]}) { id } }",
        json!({ "u": rotating }),
    )
    .await;

    // The county's auditor sees every kind, with who and from where.
    let data = app
        .ok(&auditor, TRAIL, json!({ "t": county, "n": 100 }))
        .await;
    let all = records(&data);
    let kinds: HashSet<(&str, &str)> = all
        .iter()
        .map(|(a, o, ..)| (a.as_str(), o.as_str()))
        .collect();
    for expected in [
        ("session.sign_in", "allowed"),
        ("session.sign_in", "wrong_password"),
        ("session.sign_out", "allowed"),
        ("account.create", "allowed"),
        ("role.grant", "allowed"),
        ("party.reveal", "allowed"),
        ("report.export", "allowed"),
        ("policy.clock", "allowed"),
        ("policy.roster", "allowed"),
    ] {
        assert!(kinds.contains(&expected), "{expected:?} missing: {all:#?}");
    }
    let reveal = all.iter().find(|r| r.0 == "party.reveal").unwrap();
    assert_eq!(reveal.2, clerk, "the reveal names its actor");
    assert_eq!(reveal.3, east);
    for edge in data["auditRecords"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["clientAddress"], "127.0.0.1", "{edge:#}");
        assert!(
            !edge.to_string().contains(&id_card),
            "a record shows an ID number: {edge:#}"
        );
    }
    // Newest first.
    let times: Vec<&str> = data["auditRecords"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // One action only.
    let data = app
        .ok(
            &auditor,
            TRAIL,
            json!({ "t": county, "a": "session.sign_in", "n": 100 }),
        )
        .await;
    let sign_ins = records(&data);
    assert!(!sign_ins.is_empty());
    assert!(sign_ins.iter().all(|r| r.0 == "session.sign_in"));

    // The township's auditor: only what was done by accounts acting in the township.
    let data = app
        .ok(&east_auditor, TRAIL, json!({ "t": east, "n": 100 }))
        .await;
    let east_records = records(&data);
    assert!(
        east_records.iter().any(|r| r.0 == "party.reveal"),
        "{east_records:#?}"
    );
    assert!(
        east_records.iter().all(|r| r.3 == east),
        "a record from outside the township: {east_records:#?}"
    );
    assert!(
        east_records.iter().all(|r| r.2 != west_clerk),
        "{east_records:#?}"
    );
    // Above it, beside it, and for everyone without audit.read: not found.
    for (token, tenant) in [
        (&east_auditor, &county),
        (&east_auditor, &west),
        (&app.admin_token, &county),
        (&app.security_token, &county),
        (&supervisor, &county),
        (&dispatcher, &east),
        (&clerk_token, &east),
    ] {
        let body = app.gql(Some(token), TRAIL, json!({ "t": tenant })).await;
        assert!(
            ["NOT_FOUND", "UNAUTHENTICATED"].contains(&code(&body)),
            "{body:#}"
        );
        assert!(body["data"].is_null(), "{body:#}");
    }
    let body = app.gql(None, TRAIL, json!({ "t": county })).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_pages_without_gaps_and_refuses_bad_arguments_and_other_counties() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (_, auditor) = app.user(&county, "auditor", &[Role::Auditor]).await;
    for n in 0..4 {
        app.user(&county, &format!("staff{n}"), &[Role::IntakeClerk])
            .await;
    }
    // Every record, one page.
    let whole = app
        .ok(&auditor, TRAIL, json!({ "t": county, "n": 100 }))
        .await;
    let whole = records(&whole);
    assert!(whole.len() > 12, "{whole:#?}");
    // The same, three at a time.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .ok(
                &auditor,
                TRAIL,
                json!({ "t": county, "n": 3, "after": after }),
            )
            .await;
        let page = records(&data);
        assert!(page.len() <= 3);
        paged.extend(page);
        let info = &data["auditRecords"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    // Reading makes no record, so the pages are the whole, in order, each record once.
    assert_eq!(paged, whole);

    for (variables, field) in [
        (json!({ "t": county, "n": 0 }), "first"),
        (json!({ "t": county, "n": 101 }), "first"),
        (json!({ "t": county, "n": -1 }), "first"),
        (
            json!({ "t": county, "a": "session.sign_in' OR 1=1 --" }),
            "action",
        ),
        (json!({ "t": county, "a": "x".repeat(65) }), "action"),
        (json!({ "t": county, "after": "bm90IGEgY3Vyc29y" }), "after"),
        (json!({ "t": "not-an-id" }), "tenantId"),
    ] {
        let body = app.gql(Some(&auditor), TRAIL, variables.clone()).await;
        assert_eq!(
            (
                code(&body),
                body["errors"][0]["extensions"]["field"].as_str()
            ),
            ("BAD_USER_INPUT", Some(field)),
            "{variables}: {body:#}"
        );
    }
    // A tenant id of the wrong type, and a list for a string.
    let body = app
        .gql(
            Some(&auditor),
            TRAIL,
            json!({ "t": county, "a": ["session.sign_in"] }),
        )
        .await;
    assert!(
        body["errors"].is_array() && body["data"].is_null(),
        "{body:#}"
    );

    // Another county's auditor reads nothing of ours, and ours nothing of theirs.
    let (other, other_admin, other_security) = app.another_county().await;
    let other_auditor_name = format!("{}.otherauditor", app.tag);
    let data = app
        .ok(&other_admin, "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"邻县审计员\", password: \"Zx9 Qv initial!\"}) { id } }", json!({ "t": other, "u": other_auditor_name }))
        .await;
    let other_auditor_id = data["createUser"]["id"].as_str().unwrap().to_owned();
    app.ok(&other_security, "mutation($u: ID!, $t: ID!) { grantRole(input: {userId: $u, tenantId: $t, role: AUDITOR}) { role } }", json!({ "u": other_auditor_id, "t": other }))
        .await;
    let other_auditor = app.first_sign_in(&other_auditor_name).await;
    let body = app
        .gql(Some(&other_auditor), TRAIL, json!({ "t": county }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
    let body = app.gql(Some(&auditor), TRAIL, json!({ "t": other })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
    let theirs = app
        .ok(&other_auditor, TRAIL, json!({ "t": other, "n": 100 }))
        .await;
    let ours: HashSet<_> = whole.iter().map(|r| r.2.clone()).collect();
    assert!(
        records(&theirs)
            .iter()
            .all(|r| r.2.is_empty() || !ours.contains(&r.2)),
        "{theirs:#}"
    );
}

/// Runs `statement` as the database's owner could, past the server's grants (and, on PostgreSQL, in the
/// system's row scope).
async fn as_the_owner(app: &TestApp, statement: &str) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let postgres = app.database_url.starts_with("postgres");
    let url = if postgres {
        app.config.database_owner_url.expose().to_owned()
    } else {
        app.database_url.clone()
    };
    let db = sea_orm::Database::connect(url).await.unwrap();
    let txn = db.begin().await.unwrap();
    if postgres {
        txn.execute_unprepared("SELECT set_config('fengqiao.system', 'on', true)")
            .await
            .unwrap();
    }
    txn.execute_unprepared(statement).await.unwrap();
    txn.commit().await.unwrap();
}

async fn chain_of(app: &TestApp) -> fengqiao::store::audit::ChainCheck {
    as_system(app.state.store.verify_audit_chain(app.county.id))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_is_a_chain_that_breaks_where_a_record_was_changed_or_removed() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    for n in 0..3 {
        app.user(&county, &format!("staff{n}"), &[Role::IntakeClerk])
            .await;
    }
    // Records appended at once, from parallel requests, still form one chain.
    let attempts = (0..12).map(|n| {
        let username = format!("{}.staff{}", app.tag, n % 3);
        let app = &app;
        async move {
            app.gql(
                None,
                SIGN_IN,
                json!({ "u": username, "p": "wrong password" }),
            )
            .await
        }
    });
    for body in futures::future::join_all(attempts).await {
        assert!(
            ["UNAUTHENTICATED", "ACCOUNT_LOCKED"].contains(&code(&body)),
            "{body:#}"
        );
    }
    let intact = chain_of(&app).await;
    assert_eq!(intact.broken_at, None, "{intact:?}");
    assert_eq!(intact.unchained, 0);
    assert!(intact.records >= 20, "{intact:?}");
    assert_eq!(intact.head.len(), 64);

    let records = as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap();
    assert_eq!(records.len() as u64, intact.records);
    let middle = records.len() / 2;
    let (victim, next) = (records[middle].id, records[middle + 1].id);
    // Rewritten where it lies: the record itself no longer matches its hash.
    as_the_owner(
        &app,
        &format!("UPDATE audit_records SET reason = 'rewritten' WHERE id = {victim}"),
    )
    .await;
    let check = chain_of(&app).await;
    assert_eq!(check.broken_at.map(|(id, _)| id), Some(victim), "{check:?}");
    // Removed: the record after it names a record that is not there.
    as_the_owner(
        &app,
        &format!("DELETE FROM audit_records WHERE id = {victim}"),
    )
    .await;
    let check = chain_of(&app).await;
    assert_eq!(check.broken_at.map(|(id, _)| id), Some(next), "{check:?}");
    // The command says so too, with a failing status.
    let checks = app
        .state
        .verify_audit(&fengqiao::store::scope::SystemPermit::for_the_process())
        .await
        .unwrap();
    let ours = checks
        .iter()
        .find(|c| c.county_id == app.county.id)
        .expect("our county is checked");
    assert_eq!(ours.broken_at.map(|(id, _)| id), Some(next));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_half_a_year_and_the_chain_goes_on_from_its_anchor() {
    let app = TestApp::spawn().await;
    app.user(&app.county_gid(), "early", &[Role::IntakeClerk])
        .await;
    let early = chain_of(&app).await.records;
    // Two hundred days on, one more record: a sign-in.
    app.clock.advance(chrono::Duration::days(200));
    app.sign_in(&format!("{}.admin", app.tag)).await;
    let now = app.state.now();
    let before_now = chain_of(&app).await;
    assert_eq!(before_now.records, early + 1);

    let postgres = app.database_url.starts_with("postgres");
    let owner_url = if postgres {
        app.config.database_owner_url.expose().to_owned()
    } else {
        app.database_url.clone()
    };
    let owner = fengqiao::store::Store::connect(&owner_url, 2)
        .await
        .unwrap();
    // Less than half a year back: refused.
    let refused =
        as_system(owner.prune_audit(app.county.id, now - chrono::Duration::days(100), now))
            .await
            .expect_err("records of the last 180 days are kept");
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    // The server's own role may not prune at all (PostgreSQL; on SQLite there is one role).
    if postgres {
        let denied = as_system(app.state.store.prune_audit(
            app.county.id,
            now - chrono::Duration::days(181),
            now,
        ))
        .await
        .expect_err("the server's role prunes nothing");
        assert!(
            denied.detail().contains("permission denied"),
            "{}",
            denied.detail()
        );
        assert_eq!(chain_of(&app).await.records, early + 1);
    }
    let pruned =
        as_system(owner.prune_audit(app.county.id, now - chrono::Duration::days(181), now))
            .await
            .unwrap()
            .expect("the early records are pruned");
    assert_eq!(pruned.records, early);
    let after = chain_of(&app).await;
    assert_eq!(after.broken_at, None, "{after:?}");
    assert_eq!(after.anchored_through, Some(pruned.through_id));
    assert_eq!(after.records, 1);
    assert_eq!(after.head, before_now.head, "the head did not move");
    // The remaining record still links to the anchor: changing it breaks the chain there.
    let remaining = as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap();
    as_the_owner(
        &app,
        &format!(
            "UPDATE audit_records SET outcome = 'rewritten' WHERE id = {}",
            remaining[0].id
        ),
    )
    .await;
    let broken = chain_of(&app).await;
    assert_eq!(broken.broken_at.map(|(id, _)| id), Some(remaining[0].id));
    // And a broken chain is not pruned.
    app.clock.advance(chrono::Duration::days(200));
    let refused = as_system(owner.prune_audit(
        app.county.id,
        app.state.now() - chrono::Duration::days(181),
        app.state.now(),
    ))
    .await
    .expect_err("a broken chain is kept as it is");
    assert_eq!(refused.code(), "CONFLICT");
    owner.close().await;
}

/// `GET /audit/export` as `token`: (status, body).
async fn export(
    app: &TestApp,
    token: Option<&str>,
    tenant: &str,
    from: &str,
    to: &str,
) -> (u16, String) {
    let base = app.url.trim_end_matches("/graphql");
    let mut request = app.http.get(format!("{base}/audit/export")).query(&[
        ("tenantId", tenant),
        ("from", from),
        ("to", to),
    ]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_exports_as_a_file_for_the_auditor_of_the_subtree_only() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let east = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let (clerk, _) = app.user(&east, "clerk", &[Role::IntakeClerk]).await;
    let (_, auditor) = app.user(&county, "auditor", &[Role::Auditor]).await;
    let (_, east_auditor) = app.user(&east, "eastauditor", &[Role::Auditor]).await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    // A reason that a spreadsheet would run as a formula.
    app.ok(
        &app.admin_token,
        "mutation($u: ID!) { deactivateAccount(input: {userId: $u, reason: \"=HYPERLINK(\\\"http://x\\\")\"}) { id } }",
        json!({ "u": clerk }),
    )
    .await;
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = app.state.now().with_timezone(&china).date_naive();
    let (from, to) = (
        (today - chrono::Duration::days(1)).to_string(),
        today.to_string(),
    );

    let (status, body) = export(&app, Some(&auditor), &county, &from, &to).await;
    assert_eq!(status, 200, "{body}");
    let body = body.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "at",
            "county",
            "tenant",
            "account",
            "address",
            "action",
            "object",
            "outcome",
            "reason",
            "prev_hash",
            "hash"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // Every record of the county so far, oldest first, with the hashes the chain holds.
    let stored = as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap();
    let exported: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r[0].to_owned(), r[11].to_owned()))
        .collect();
    let expected: Vec<(String, String)> = stored
        .iter()
        .filter(|r| r.action != "audit.export")
        .map(|r| (r.id.to_string(), r.hash.clone()))
        .collect();
    assert_eq!(exported, expected);
    let formula = rows.iter().find(|r| &r[6] == "account.deactivate").unwrap();
    assert!(formula[9].starts_with("'="), "{:?}", &formula[9]);
    // The export is itself a record.
    let after = as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap();
    assert!(after.iter().any(
        |r| r.action == "audit.export" && r.object.contains(&format!("{} records", rows.len()))
    ));

    // The township's auditor gets its township's accounts' records only.
    let (status, body) = export(&app, Some(&east_auditor), &east, &from, &to).await;
    assert_eq!(status, 200, "{body}");
    let east_id = fengqiao::graphql::decode_id(
        "t",
        fengqiao::graphql::GlobalId::Tenant,
        &east.clone().into(),
    )
    .unwrap();
    let mut east_rows = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let tenants: HashSet<String> = east_rows
        .records()
        .map(|r| r.unwrap()[3].to_owned())
        .collect();
    assert!(
        tenants.iter().all(|t| *t == east_id.to_string()),
        "{tenants:?}"
    );

    // Nobody else; nothing above or beside; bad ranges and ids typed.
    let (other, other_admin, other_security) = app.another_county().await;
    let _ = (other_admin, other_security);
    for (token, tenant, expected) in [
        (Some(&app.admin_token), &county, 404),
        (Some(&supervisor), &county, 404),
        (Some(&east_auditor), &county, 404),
        (Some(&auditor), &other, 404),
        (None, &county, 401),
    ] {
        let (status, body) = export(&app, token.map(String::as_str), tenant, &from, &to).await;
        assert_eq!(status, expected, "{body}");
    }
    let too_long = (today - chrono::Duration::days(400)).to_string();
    for (tenant, from, to, field) in [
        (county.as_str(), to.as_str(), from.as_str(), "to"),
        (county.as_str(), too_long.as_str(), to.as_str(), "to"),
        (county.as_str(), "2026-13-01", to.as_str(), "from"),
        (county.as_str(), from.as_str(), "yesterday", "to"),
        ("not-an-id", from.as_str(), to.as_str(), "tenantId"),
    ] {
        let (status, body) = export(&app, Some(&auditor), tenant, from, to).await;
        assert_eq!(status, 400, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "BAD_USER_INPUT");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{body}"
        );
    }
}
