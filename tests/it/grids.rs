//! Grids (网格) and grid members: a grid member registers from its own grid and sees its own reports, and
//! nothing else; its village's center handles them.

use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{REGISTER, TestApp, case_input, code};

const CASE: &str =
    "query($id: ID!) { case(id: $id) { id registeredIn { id } handledBy { id } status } }";
const LIST: &str = "{ cases(first: 100) { edges { node { id } } } }";

fn listed(data: &Value) -> Vec<String> {
    data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_member_reports_from_its_own_grid_and_sees_only_its_own_reports() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let village_code = app.village_code(1, 1);
    let village = app.tenant(&township, &village_code, "柳树村").await;
    // Grids 1 and 10 of the village: codes that share a prefix.
    let grid = app
        .tenant(&village, &format!("{village_code}001"), "一网格")
        .await;
    let other_grid = app
        .tenant(&village, &format!("{village_code}010"), "十网格")
        .await;
    // A grid code must extend its village's with three digits of its own.
    let refused = app
        .gql(
            Some(&app.admin_token),
            "mutation($p: ID!) { createTenant(input: {parentId: $p, code: \"999999101201001\", name: \"错网格\"}) { id } }",
            json!({ "p": village }),
        )
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused:#}");

    let (_, member) = app.user(&grid, "gm1", &[Role::GridMember]).await;
    let (_, neighbour) = app.user(&grid, "gm2", &[Role::GridMember]).await;
    let (_, elsewhere) = app.user(&other_grid, "gm10", &[Role::GridMember]).await;
    let (_, dispatcher) = app.user(&village, "dispatcher", &[Role::Dispatcher]).await;

    // It reports from its grid.
    let case = app
        .register(&member, None, "网格员上报：路灯损坏引发纠纷")
        .await
        .id;
    // Not from another grid, which does not exist for it.
    let outside = app
        .gql(
            Some(&member),
            REGISTER,
            json!({ "input": case_input(Some(&other_grid), "越界上报") }),
        )
        .await;
    assert_eq!(code(&outside), "NOT_FOUND", "{outside:#}");
    // The system administrator sees the grid but does no case work (三员分立): told so, not "not found".
    let admin = app
        .gql(
            Some(&app.admin_token),
            REGISTER,
            json!({ "input": case_input(Some(&grid), "管理员登记") }),
        )
        .await;
    assert_eq!(code(&admin), "FORBIDDEN", "{admin:#}");

    // It sees its report, registered in the grid and handled by the village's center.
    let seen = app.ok(&member, CASE, json!({ "id": case })).await;
    assert_eq!(seen["case"]["registeredIn"]["id"], grid.as_str());
    assert_eq!(seen["case"]["handledBy"]["id"], village.as_str());
    assert_eq!(
        listed(&app.ok(&member, LIST, json!({})).await),
        vec![case.clone()]
    );
    // It cannot work the case.
    let accept = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(code(&accept), "FORBIDDEN", "{accept:#}");

    // Another member of the same grid and a member of the sibling grid see none of it.
    for stranger in [&neighbour, &elsewhere] {
        let hidden = app.gql(Some(stranger), CASE, json!({ "id": case })).await;
        assert_eq!(code(&hidden), "NOT_FOUND", "{hidden:#}");
        assert!(listed(&app.ok(stranger, LIST, json!({})).await).is_empty());
    }
    // The neighbour's own report is its own, not the first member's.
    let theirs = app
        .register(&neighbour, None, "网格员上报：占道经营")
        .await
        .id;
    assert_eq!(
        listed(&app.ok(&member, LIST, json!({})).await),
        vec![case.clone()]
    );
    assert_eq!(
        listed(&app.ok(&neighbour, LIST, json!({})).await),
        vec![theirs.clone()]
    );

    // The village's center works both.
    let mut village_sees = listed(&app.ok(&dispatcher, LIST, json!({})).await);
    village_sees.sort();
    let mut both = vec![case.clone(), theirs];
    both.sort();
    assert_eq!(village_sees, both);
    app.accept(&dispatcher, &case).await;
    assert_eq!(
        app.ok(&member, CASE, json!({ "id": case })).await["case"]["status"],
        "ACCEPTED"
    );
}
