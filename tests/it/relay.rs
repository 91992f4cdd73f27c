//! Relay's object identification: `node` and `nodes` answer `null` for what the caller may not see, in the
//! order asked; a malformed id is still bad input.

use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_nodes_answer_null_for_what_the_caller_may_not_see() {
    let app = TestApp::spawn().await;
    let (other_county, _, _) = app.another_county().await;
    let own = app.county_gid();
    let unknown = fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Case, 999_999_999).0;
    let party = fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Party, 1).0;

    let data = app
        .ok(
            &app.admin_token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": own }),
        )
        .await;
    assert_eq!(data["node"]["id"], own.as_str());
    for hidden in [&other_county, &unknown, &party] {
        let data = app
            .ok(
                &app.admin_token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": hidden }),
            )
            .await;
        assert!(data["node"].is_null(), "{hidden}: {data}");
    }

    let data = app
        .ok(
            &app.admin_token,
            NODES,
            json!({ "ids": [unknown, own, other_county, own] }),
        )
        .await;
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    assert!(nodes[0].is_null() && nodes[2].is_null(), "{data}");
    assert_eq!(nodes[1]["id"], own.as_str());
    assert_eq!(nodes[1]["__typename"], "Tenant");
    assert_eq!(nodes[3]["id"], own.as_str());

    // Malformed ids, too many ids, no token.
    let body = app
        .gql(
            Some(&app.admin_token),
            NODES,
            json!({ "ids": [own, "not-an-id"] }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let many: Vec<String> = (0..101).map(|_| own.clone()).collect();
    let body = app
        .gql(Some(&app.admin_token), NODES, json!({ "ids": many }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = app.gql(None, NODES, json!({ "ids": [own] })).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // A lone value is coerced to a list of one (GraphQL's input coercion): still checked.
    let body = app
        .gql(Some(&app.admin_token), NODES, json!({ "ids": "x" }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .gql(Some(&app.admin_token), NODES, json!({ "ids": [7] }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
}

/// Every object type with an `id: ID!` (deprecated fields aside) implements `Node`, and these are the ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_with_an_id_is_a_node() {
    let app = TestApp::spawn().await;
    let schema = app
        .ok(
            &app.admin_token,
            "{ __schema { types { name kind interfaces { name } fields { name type { kind ofType { name } } } } } }",
            json!({}),
        )
        .await;
    let mut with_id = Vec::new();
    for t in schema["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if t["kind"] != "OBJECT" || name.starts_with("__") {
            continue;
        }
        let has_id = t["fields"].as_array().unwrap().iter().any(|f| {
            f["name"] == "id"
                && f["type"]["kind"] == "NON_NULL"
                && f["type"]["ofType"]["name"] == "ID"
        });
        let is_node = t["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "Node");
        assert_eq!(
            has_id, is_node,
            "{name}: an id without Node, or Node without an id"
        );
        if has_id {
            with_id.push(name.to_owned());
        }
    }
    with_id.sort();
    assert_eq!(
        with_id,
        [
            "Case",
            "Party",
            "Session",
            "Summons",
            "SupervisionOrder",
            "Tenant",
            "Unit",
            "User"
        ]
    );
}

const NODES_SHOWN: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
    ... on SupervisionOrder { reason } ... on Party { name } } }";

/// `node` finds each kind of object by the id it was shown with, as the caller who saw it, and nothing
/// of it for a sibling township's staff or another county; a supervision order found by id is masked as
/// on its case. A `Staff` (a name on a case) is not a node yet: its deprecated `id` is the account's, as
/// `userId` is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_round_trips_every_kind_within_reach_only() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let sibling = app.tenant(&county, &app.township_code(2), "乙镇").await;
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::Dispatcher, Role::CenterDirector],
        )
        .await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (_, neighbour) = app
        .user(
            &sibling,
            "neighbour",
            &[Role::IntakeClerk, Role::CenterDirector],
        )
        .await;
    let (_, supervisor) = app.user(&county, "sup", &[Role::Supervisor]).await;
    let (on_call, _) = app
        .stationed_unit(&township, "甲镇人社所", "ON_CALL", "rss")
        .await;
    let case = app.register(&staff, Some(&township), "宅基地纠纷").await.id;
    app.accept(&staff, &case).await;
    let summons = app.summon(&staff, &case, &on_call).await;
    let reason = "李秀英身份证11010519491231002X多次来访";
    let order = app.supervise(&supervisor, &case, "URGE", reason).await;

    let shown = app
        .ok(
            &staff,
            "query($id: ID!) { case(id: $id) { id registeredBy { id userId } parties { id }
                summonses { id } supervisionOrdersConnection { edges { node { id } } } }
                me { user { id } sessions { id } } }",
            json!({ "id": case }),
        )
        .await;
    let c = &shown["case"];
    let order_node = &c["supervisionOrdersConnection"]["edges"][0]["node"];
    assert_eq!(order_node["id"], order.as_str());
    let expected: Vec<(&str, String)> = vec![
        ("Case", case.clone()),
        ("Tenant", township.clone()),
        ("Unit", on_call.clone()),
        (
            "User",
            shown["me"]["user"]["id"].as_str().unwrap().to_owned(),
        ),
        ("Party", c["parties"][0]["id"].as_str().unwrap().to_owned()),
        ("Party", c["parties"][1]["id"].as_str().unwrap().to_owned()),
        ("Summons", summons.clone()),
        ("SupervisionOrder", order.clone()),
        (
            "Session",
            shown["me"]["sessions"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
    ];
    let ids: Vec<&str> = expected.iter().map(|(_, id)| id.as_str()).collect();
    let found = app.ok(&staff, NODES_SHOWN, json!({ "ids": ids })).await;
    for (n, (typename, id)) in expected.iter().enumerate() {
        let node = &found["nodes"][n];
        assert_eq!(node["__typename"], *typename, "{id}: {found:#}");
        assert_eq!(node["id"], id.as_str(), "{found:#}");
    }
    // The clerk's name on the case carries the clerk's account id, under both names.
    assert_eq!(c["registeredBy"]["userId"], expected[3].1.as_str());
    assert_eq!(c["registeredBy"]["id"], expected[3].1.as_str());

    // The dispatcher may not reveal: the order found by id is masked exactly as on the case.
    let on_case = app
        .ok(
            &dispatcher,
            "query($id: ID!) { case(id: $id) { supervisionOrdersConnection { edges { node { reason } } } } }",
            json!({ "id": case }),
        )
        .await;
    let masked = on_case["case"]["supervisionOrdersConnection"]["edges"][0]["node"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !masked.contains("11010519491231002X") && !masked.contains("李秀英"),
        "{masked}"
    );
    let by_id = app
        .ok(&dispatcher, NODES_SHOWN, json!({ "ids": [order] }))
        .await;
    assert_eq!(by_id["nodes"][0]["reason"], masked.as_str());

    // A sibling township's staff sees none of it; another county sees nothing at all.
    let sibling_view = app.ok(&neighbour, NODES_SHOWN, json!({ "ids": ids })).await;
    for (n, (typename, id)) in expected.iter().enumerate() {
        let node = &sibling_view["nodes"][n];
        assert!(
            node.is_null(),
            "{typename} {id} seen by a sibling: {sibling_view:#}"
        );
    }
    let (_, other_admin, _) = app.another_county().await;
    let other_view = app
        .ok(&other_admin, NODES_SHOWN, json!({ "ids": ids }))
        .await;
    assert!(
        other_view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null),
        "{other_view:#}"
    );
}

/// Pages through a connection at `path` of the answer to `query` (which takes `$first`, `$after`,
/// `$last`, `$before` and `vars`) forwards and backwards by `size`, and answers the ids in order, after
/// checking both ways find each once, in the same order, and `totalCount` counts them.
pub async fn page_both_ways(
    app: &TestApp,
    token: &str,
    query: &str,
    vars: Value,
    path: &[&str],
    size: i64,
) -> Vec<String> {
    let at = |body: &Value| -> Value {
        let mut v = body.clone();
        for key in path {
            v = v[*key].clone();
        }
        v
    };
    let with = |extra: Value| {
        let mut v = vars.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let mut forwards = Vec::new();
    let mut after = Value::Null;
    let mut total = None;
    for page in 0.. {
        let body = app
            .ok(token, query, with(json!({ "first": size, "after": after })))
            .await;
        let c = at(&body);
        let count = c["totalCount"].as_u64().unwrap();
        assert!(
            total.is_none_or(|t| t == count),
            "totalCount changes between pages"
        );
        total = Some(count);
        let edges = c["edges"].as_array().unwrap();
        assert!(edges.len() as i64 <= size);
        forwards.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        assert_eq!(c["pageInfo"]["hasPreviousPage"], page > 0, "{c:#}");
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(c["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
        after = c["pageInfo"]["endCursor"].clone();
    }
    let mut backwards: Vec<String> = Vec::new();
    let mut before = Value::Null;
    for page in 0.. {
        let body = app
            .ok(
                token,
                query,
                with(json!({ "last": size, "before": before })),
            )
            .await;
        let c = at(&body);
        let edges = c["edges"].as_array().unwrap();
        let mut ids: Vec<String> = edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        ids.extend(backwards);
        backwards = ids;
        assert_eq!(c["pageInfo"]["hasNextPage"], page > 0, "{c:#}");
        if !c["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(c["pageInfo"]["startCursor"], edges[0]["cursor"]);
        before = c["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(forwards, backwards, "forwards and backwards disagree");
    let mut unique = forwards.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), forwards.len(), "an id repeats: {forwards:?}");
    assert_eq!(total, Some(forwards.len() as u64));
    forwards
}

/// The lists that grow are connections that page both ways and count: a center's children, units and
/// accounts, a unit's members, a case's timeline and supervision orders, the case list and a search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_page_both_ways_and_agree_with_the_whole_lists() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let mut townships = Vec::new();
    for n in 1..=5 {
        townships.push(
            app.tenant(&county, &app.township_code(n), &format!("镇{n}"))
                .await,
        );
    }
    let township = townships[0].clone();
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::Dispatcher, Role::CenterDirector],
        )
        .await;
    let (_, supervisor) = app.user(&county, "sup", &[Role::Supervisor]).await;
    let mut units = Vec::new();
    for n in 0..3 {
        units.push(
            app.unit(&township, &format!("所{n}"), &format!("h{n}"))
                .await
                .0,
        );
    }
    for n in 0..2 {
        let (member, _) = app
            .user(&township, &format!("m{n}"), &[Role::UnitHandler])
            .await;
        app.ok(
            &app.admin_token,
            "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
            json!({ "u": units[0], "m": member }),
        )
        .await;
    }
    let mut cases = Vec::new();
    for n in 0..7 {
        cases.push(
            app.register(&staff, Some(&township), &format!("漏水纠纷{n}号楼"))
                .await
                .id,
        );
    }
    let case = cases[0].clone();
    app.accept(&staff, &case).await;
    for n in 0..3 {
        app.supervise(&supervisor, &case, "REMIND", &format!("第{n}次提醒"))
            .await;
    }
    app.state.settle_search().await.unwrap();

    let args = "$first: Int, $after: String, $last: Int, $before: String";
    let page = "first: $first, after: $after, last: $last, before: $before";
    let shape = "totalCount edges { cursor node { id } } pageInfo { hasPreviousPage hasNextPage startCursor endCursor }";
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // A tenant's lists, against the whole (deprecated) lists.
    let tenant_query = format!(
        "query($id: ID!, {args}) {{ tenant(id: $id) {{ children {{ id }} childrenConnection({page}) {{ {shape} }} }} }}"
    );
    let whole = app
        .ok(&app.admin_token, &tenant_query, json!({ "id": county }))
        .await;
    let paged = page_both_ways(
        &app,
        &app.admin_token,
        &tenant_query,
        json!({ "id": county }),
        &["tenant", "childrenConnection"],
        2,
    )
    .await;
    assert_eq!(paged, ids(&whole["tenant"]["children"]));
    assert_eq!(paged, townships);
    for (field, reference) in [
        ("unitsConnection", "units"),
        ("accountsConnection", "accounts"),
    ] {
        let q = format!(
            "query($id: ID!, {args}) {{ tenant(id: $id) {{ {reference} {{ id }} {field}({page}) {{ {shape} }} }} }}"
        );
        let whole = app
            .ok(&app.admin_token, &q, json!({ "id": township }))
            .await;
        let paged = page_both_ways(
            &app,
            &app.admin_token,
            &q,
            json!({ "id": township }),
            &["tenant", field],
            2,
        )
        .await;
        assert_eq!(paged, ids(&whole["tenant"][reference]), "{field}");
        assert!(paged.len() >= 3, "{field}: {paged:?}");
    }
    let q = format!(
        "query($id: ID!, {args}) {{ unit(id: $id) {{ members {{ id }} membersConnection({page}) {{ {shape} }} }} }}"
    );
    let whole = app
        .ok(&app.admin_token, &q, json!({ "id": units[0] }))
        .await;
    let paged = page_both_ways(
        &app,
        &app.admin_token,
        &q,
        json!({ "id": units[0] }),
        &["unit", "membersConnection"],
        2,
    )
    .await;
    assert_eq!(paged, ids(&whole["unit"]["members"]));
    assert_eq!(paged.len(), 3);

    // A case's orders and timeline (events have no ids of their own: their cursors stand for them).
    let q = format!(
        "query($id: ID!, {args}) {{ case(id: $id) {{ supervisionOrders {{ id }} supervisionOrdersConnection({page}) {{ {shape} }} }} }}"
    );
    let whole = app.ok(&staff, &q, json!({ "id": case })).await;
    let paged = page_both_ways(
        &app,
        &staff,
        &q,
        json!({ "id": case }),
        &["case", "supervisionOrdersConnection"],
        2,
    )
    .await;
    assert_eq!(paged, ids(&whole["case"]["supervisionOrders"]));
    assert_eq!(paged.len(), 3);
    let q = format!(
        "query($id: ID!, {args}) {{ case(id: $id) {{ timelineConnection({page}) {{ totalCount edges {{ cursor node {{ command }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let first = app.ok(&staff, &q, json!({ "id": case, "first": 2 })).await;
    let c = &first["case"]["timelineConnection"];
    assert_eq!(c["edges"][0]["node"]["command"], "register");
    assert_eq!(c["edges"][1]["node"]["command"], "accept");
    let total = c["totalCount"].as_u64().unwrap();
    assert!(total >= 5, "{c:#}");
    let last = app.ok(&staff, &q, json!({ "id": case, "last": 1 })).await;
    assert_eq!(
        last["case"]["timelineConnection"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The case list, newest first, and the search (an empty text lists the scope, newest first).
    let q = format!("query({args}) {{ cases({page}) {{ {shape} }} }}");
    let listed = page_both_ways(&app, &staff, &q, json!({}), &["cases"], 3).await;
    let mut newest_first = cases.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let q = format!(
        "query($text: String!, {args}) {{ searchCases(text: $text, {page}) {{ {shape} }} }}"
    );
    let found = page_both_ways(&app, &staff, &q, json!({ "text": "" }), &["searchCases"], 3).await;
    assert_eq!(found, newest_first);

    // Bad paging is a typed error naming its argument.
    for (vars, field) in [
        (json!({ "first": 2, "last": 2 }), "last"),
        (json!({ "first": 0 }), "first"),
        (json!({ "last": 101 }), "last"),
        (json!({ "last": 2, "before": "nonsense" }), "before"),
        (json!({ "first": 2, "after": "czE6Mw" }), "after"),
    ] {
        let body = app
            .gql(
                Some(&staff),
                &format!("query({args}) {{ cases({page}) {{ totalCount }} }}"),
                vars.clone(),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{vars}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}"
        );
    }
    // Counts are the costly part of a connection: five a request, however aliased.
    let counts = |n: usize| {
        let fields: String = (0..n)
            .map(|i| format!("c{i}: cases(first: 1) {{ totalCount }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    let five = app.ok(&staff, &counts(5), json!({})).await;
    assert_eq!(five["c4"]["totalCount"], 7);
    let six = app.gql(Some(&staff), &counts(6), json!({})).await;
    assert_eq!(code(&six), "BAD_USER_INPUT", "{six}");
    assert!(
        six["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("totalCount"),
        "{six}"
    );
    let search = format!(
        "query($text: String!, {args}) {{ searchCases(text: $text, {page}) {{ totalCount }} }}"
    );
    for (vars, field) in [
        (
            json!({ "text": "", "last": 2, "before": "cursor" }),
            "before",
        ),
        (
            json!({ "text": "", "first": 2, "before": "s1:3" }),
            "before",
        ),
        (json!({ "text": "", "last": 2, "after": "s1:3" }), "after"),
        (json!({ "text": "", "first": 2, "last": 2 }), "last"),
    ] {
        let body = app.gql(Some(&staff), &search, vars.clone()).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{vars}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}"
        );
    }
}

/// Every mutation takes one `input` (its other arguments are the deprecated old shape); the old shape
/// still works for this release, never together with `input`, and what it required it still requires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_take_one_input_and_the_deprecated_arguments_still_work() {
    let app = TestApp::spawn().await;
    let schema = app
        .ok(
            &app.admin_token,
            "{ __type(name: \"Mutation\") { fields { name args(includeDeprecated: true) { name isDeprecated } } } }",
            json!({}),
        )
        .await;
    for field in schema["__type"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        for arg in field["args"].as_array().unwrap() {
            let current = arg["name"] == "input";
            assert_eq!(
                arg["isDeprecated"], !current,
                "{name}({}): a mutation takes `input`, its other arguments are deprecated",
                arg["name"]
            );
        }
    }

    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let sibling = app.tenant(&county, &app.township_code(2), "乙镇").await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (_, neighbour) = app
        .user(
            &sibling,
            "neighbour",
            &[Role::IntakeClerk, Role::Dispatcher],
        )
        .await;
    let case = app.register(&staff, Some(&township), "宅基地纠纷").await.id;
    let status = "query($id: ID!) { case(id: $id) { status } }";

    // The old shape, as front ends built before send it.
    let old = app
        .ok(
            &staff,
            "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(old["acceptCase"]["case"]["status"], "ACCEPTED");

    for (mutation, vars, field) in [
        // Both shapes at once, and neither.
        (
            "mutation($id: ID!) { rejectCase(id: $id, input: {id: $id, reason: \"r\", referral: \"f\"}) { case { status } } }",
            json!({ "id": case }),
            "input",
        ),
        (
            "mutation { closeCase { case { status } } }",
            json!({}),
            "input",
        ),
        // The old shape without an argument it required.
        (
            "mutation($id: ID!) { rejectCase(id: $id, reason: \"不属受理范围\") { case { status } } }",
            json!({ "id": case }),
            "referral",
        ),
        (
            "mutation { rejectCase(reason: \"r\", referral: \"f\") { case { status } } }",
            json!({}),
            "id",
        ),
        // An id of another kind inside `input`.
        (
            "mutation($id: ID!) { rejectCase(input: {id: $id, reason: \"r\", referral: \"f\"}) { case { status } } }",
            json!({ "id": township }),
            "id",
        ),
    ] {
        let body = app.gql(Some(&staff), mutation, vars).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{mutation}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{mutation}: {body}"
        );
    }
    // Wrong types inside `input` fail validation; another township's case is not found.
    let body = app
        .gql(
            Some(&staff),
            "mutation($id: ID!) { rejectCase(input: {id: $id, reason: 5, referral: [\"f\"]}) { case { status } } }",
            json!({ "id": case }),
        )
        .await;
    assert!(
        body["data"].is_null() && body["errors"].is_array(),
        "{body}"
    );
    let body = app
        .gql(
            Some(&neighbour),
            "mutation($id: ID!) { rejectCase(input: {id: $id, reason: \"r\", referral: \"f\"}) { case { status } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    // None of the refused calls changed the case.
    let data = app.ok(&staff, status, json!({ "id": case })).await;
    assert_eq!(data["case"]["status"], "ACCEPTED");

    // The new shape does what the old one did.
    let fresh = app.register(&staff, Some(&township), "咨询").await.id;
    let new = app
        .ok(
            &staff,
            "mutation($id: ID!) { rejectCase(input: {id: $id, reason: \"不属受理范围\", referral: \"请向县法院咨询\"}) { case { status } } }",
            json!({ "id": fresh }),
        )
        .await;
    assert_eq!(new["rejectCase"]["case"]["status"], "REJECTED", "{new}");
}
