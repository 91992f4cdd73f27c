//! Relay's object identification: `node` and `nodes` answer `null` for what the caller may not see, in the
//! order asked; a malformed id is still bad input.

use serde_json::json;

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
