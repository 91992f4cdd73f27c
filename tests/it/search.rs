//! `searchCases` through the API on the configured index (embedded by default): the outbox feeds it in
//! the case's own transaction, the scope comes from the caller, personal data is never matched by
//! number and shown masked, filters and facets, paging, errors, and `reindex` / `verify-index` repairing drift.

// Comparing a list of hits with `[id.clone()]` reads better than `std::slice::from_ref(&id)`.
#![allow(clippy::cloned_ref_to_slice_refs)]
use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, case_input, code};

const SEARCH: &str = "query($text: String!, $filter: CaseSearchFilter, $first: Int, $after: String) {
  searchCases(text: $text, filter: $filter, first: $first, after: $after) {
    total hasNextPage endCursor
    hits { score cursor case { id code title status parties { name idCard } } title { text html matches } description { text matches } }
    facets { level categories { category count } statuses { status count } tenants { tenant { id name } count } }
  }
}";

fn case_id(gid: &str) -> i64 {
    fengqiao::graphql::decode_id(
        "id",
        fengqiao::graphql::GlobalId::Case,
        &async_graphql::ID(gid.to_owned()),
    )
    .unwrap()
}

fn hit_ids(data: &Value) -> Vec<String> {
    data["searchCases"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["case"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(app: &TestApp, token: &str, text: &str) -> Value {
    app.ok(token, SEARCH, json!({ "text": text })).await
}

async fn register(
    app: &TestApp,
    token: &str,
    tenant: &str,
    title: &str,
    description: &str,
) -> String {
    let mut input = case_input(Some(tenant), title);
    input["description"] = json!(description);
    app.register_input(token, input).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_cases_in_the_callers_scope_only() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    // Townships 1 and 10 share a prefix; so do their villages.
    let ours = app.tenant(&county, &app.township_code(1), "柳河乡").await;
    let theirs = app.tenant(&county, &app.township_code(10), "石桥镇").await;
    let our_village = app.tenant(&ours, &app.village_code(1, 1), "柳树村").await;
    let their_village = app
        .tenant(&theirs, &app.village_code(10, 1), "石桥村")
        .await;
    let (_, our_clerk) = app.user(&ours, "clerk", &[Role::IntakeClerk]).await;
    let (_, their_clerk) = app.user(&theirs, "clerk2", &[Role::IntakeClerk]).await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;

    let a = register(
        &app,
        &our_clerk,
        &our_village,
        "宅基地界址纠纷",
        "两户因宅基地界址发生争执。",
    )
    .await;
    let b = register(
        &app,
        &their_clerk,
        &their_village,
        "宅基地边界争议",
        "新建院墙越过宅基地边界。",
    )
    .await;
    let c = register(
        &app,
        &our_clerk,
        &ours,
        "拖欠工资",
        "某厂拖欠三名工人工资两个月。",
    )
    .await;
    app.state.settle_search().await.unwrap();

    let mine = search(&app, &our_clerk, "宅基地").await;
    assert_eq!(hit_ids(&mine), [a.clone()], "{mine}");
    assert_eq!(mine["searchCases"]["total"], 1);
    let theirs_found = search(&app, &their_clerk, "宅基地").await;
    assert_eq!(hit_ids(&theirs_found), [b.clone()]);

    // The county's supervisor sees both, counted by township.
    let all = search(&app, &supervisor, "宅基地").await;
    let mut found = hit_ids(&all);
    found.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(found, expected);
    let facets = &all["searchCases"]["facets"];
    assert_eq!(facets["level"], "TOWNSHIP");
    let mut by_township: Vec<(String, u64)> = facets["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"]["name"].as_str().unwrap().to_owned(),
                t["count"].as_u64().unwrap(),
            )
        })
        .collect();
    by_township.sort();
    assert_eq!(
        by_township,
        [("柳河乡".to_owned(), 1), ("石桥镇".to_owned(), 1)]
    );
    assert_eq!(facets["categories"][0]["category"], "NEIGHBOUR");
    assert_eq!(facets["categories"][0]["count"], 2);

    // Highlights mark what matched, escaped for HTML.
    let hit = &mine["searchCases"]["hits"][0];
    assert_eq!(hit["title"]["matches"][0], "宅基地");
    assert!(
        hit["title"]["html"]
            .as_str()
            .unwrap()
            .contains("<em>宅基地</em>")
    );

    // An empty text lists the scope, newest first; a sibling's case never shows.
    let listed = search(&app, &our_clerk, "").await;
    assert_eq!(hit_ids(&listed), [c.clone(), a.clone()]);

    // Synonyms, traditional characters and homophone typos find what they mean.
    assert_eq!(
        hit_ids(&search(&app, &our_clerk, "欠薪").await),
        [c.clone()]
    );
    assert_eq!(
        hit_ids(&search(&app, &our_clerk, "宅基地界址糾紛").await)[0],
        a
    );
    assert_eq!(
        hit_ids(&search(&app, &our_clerk, "拖欠公资").await),
        [c.clone()]
    );

    // A document the index holds wrongly (stale or damaged: the sibling's case filed under our township)
    // matches the scope in the index, but the hit is read from the database and checked again: left out.
    let mut docs =
        fengqiao::store::scope::as_system(app.state.store.case_docs(&[case_id(&a), case_id(&b)]))
            .await
            .unwrap();
    docs.sort_by_key(|d| d.id);
    let (ours_doc, mut misfiled) = (docs[0].clone(), docs[1].clone());
    assert_eq!(misfiled.id, case_id(&b));
    misfiled.path = ours_doc.path;
    misfiled.tenant_id = ours_doc.tenant_id;
    app.state.search.index.upsert(&[misfiled]).await.unwrap();
    let checked = search(&app, &our_clerk, "宅基地").await;
    assert_eq!(
        checked["searchCases"]["total"], 2,
        "the index itself now places the sibling's case in our scope (the total is the index's count)"
    );
    assert_eq!(hit_ids(&checked), [a.clone()], "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_find_cases_numbers_are_refused_and_fragments_find_nothing() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    // `case_input` has 张建国 with ID 11010519491231002X and phone 13812345678.
    let case = register(&app, &clerk, &township, "院墙越界", "邻里因院墙发生纠纷。").await;
    app.state.settle_search().await.unwrap();

    let by_name = search(&app, &clerk, "张建国").await;
    assert_eq!(hit_ids(&by_name), [case.clone()]);
    let party = &by_name["searchCases"]["hits"][0]["case"]["parties"][0];
    assert_eq!(party["name"], "张*国", "names are shown masked");
    assert_eq!(party["idCard"], "110105********002X");

    // A whole number is no search text: matching its keyed hash would undo the masks (a masked ID
    // number leaves a few thousand candidates). It is looked up with `findCasesByParty` (masking.rs).
    for number in [
        "11010519491231002X",
        "13812345678",
        "0938-8123456",
        "宅基地 13812345678",
    ] {
        let body = app
            .gql(Some(&clerk), SEARCH, json!({ "text": number }))
            .await;
        assert_eq!(
            (
                code(&body),
                body["errors"][0]["extensions"]["field"].as_str()
            ),
            ("BAD_USER_INPUT", Some("text")),
            "{number}: {body:#}"
        );
    }
    for fragment in ["1101051949", "19491231", "002X", "1381234", "12345678"] {
        let found = search(&app, &clerk, fragment).await;
        assert!(
            hit_ids(&found).is_empty(),
            "a fragment {fragment} of a number must find nothing: {found}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_paging_and_changes_follow_the_store() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::CenterDirector, Role::Dispatcher],
        )
        .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            register(
                &app,
                &staff,
                &township,
                &format!("漏水纠纷{n}号楼"),
                "楼上漏水殃及楼下。",
            )
            .await,
        );
    }
    app.state.settle_search().await.unwrap();

    // Pages follow each other without gaps or repeats.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .ok(
                &staff,
                SEARCH,
                json!({ "text": "漏水", "first": 2, "after": after }),
            )
            .await;
        seen.extend(hit_ids(&page));
        assert_eq!(page["searchCases"]["total"], 5);
        if !page["searchCases"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(
            page["searchCases"]["endCursor"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "{seen:?}");

    // Accepting a case reaches the index through the outbox; the status filter sees it.
    app.accept(&staff, &ids[0]).await;
    app.state.settle_search().await.unwrap();
    let accepted = app
        .ok(
            &staff,
            SEARCH,
            json!({ "text": "漏水", "filter": { "statuses": ["ACCEPTED"] } }),
        )
        .await;
    assert_eq!(hit_ids(&accepted), [ids[0].clone()]);
    let registered = app
        .ok(
            &staff,
            SEARCH,
            json!({ "text": "", "filter": { "statuses": ["REGISTERED"] } }),
        )
        .await;
    assert_eq!(registered["searchCases"]["total"], 4);
    let statuses = &registered["searchCases"]["facets"]["statuses"];
    assert_eq!(statuses[0]["status"], "REGISTERED");
    let none = app
        .ok(
            &staff,
            SEARCH,
            json!({ "text": "漏水", "filter": { "categories": ["LABOUR"] } }),
        )
        .await;
    assert_eq!(none["searchCases"]["total"], 0);

    // Bad input is a typed error.
    for (variables, field) in [
        (json!({ "text": "漏水", "first": 0 }), "first"),
        (json!({ "text": "漏水", "first": 101 }), "first"),
        (json!({ "text": "漏水", "after": "nonsense" }), "after"),
        (json!({ "text": "漏".repeat(201) }), "text"),
        (
            json!({ "text": "漏水", "filter": { "registeredFrom": "2026-03-02T00:00:00Z", "registeredBefore": "2026-03-01T00:00:00Z" } }),
            "registeredFrom",
        ),
    ] {
        let body = app.gql(Some(&staff), SEARCH, variables).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}"
        );
    }
    let body = app.gql(None, SEARCH, json!({ "text": "漏水" })).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_written_with_the_case_and_drained_by_the_worker() {
    let app = TestApp::spawn_with(|config| config.search.worker = false).await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let before = app.state.search_backlog().await.unwrap();
    let case = register(
        &app,
        &clerk,
        &township,
        "土地流转合同纠纷",
        "流转费用未付。",
    )
    .await;
    assert_eq!(
        app.state.search_backlog().await.unwrap(),
        before + 1,
        "the registration committed its outbox row"
    );
    assert!(hit_ids(&search(&app, &clerk, "土地流转").await).is_empty());
    // Drained here (on PostgreSQL another server may hold the outbox for a moment: settle waits its turn).
    app.state.settle_search().await.unwrap();
    assert_eq!(app.state.search_backlog().await.unwrap(), 0);
    assert_eq!(
        hit_ids(&search(&app, &clerk, "土地流转").await),
        [case.clone()]
    );
    // A replayed row is harmless.
    let again = app
        .state
        .reindex(&fengqiao::store::scope::SystemPermit::for_the_process())
        .await
        .unwrap();
    assert!(again.cases >= 1 && again.replayed >= 1);
    assert_eq!(hit_ids(&search(&app, &clerk, "土地流转").await), [case]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_index_finds_and_repairs_drift() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let gone = register(
        &app,
        &clerk,
        &township,
        "山林权属争议",
        "两村山林界线不清。",
    )
    .await;
    let stale = register(
        &app,
        &clerk,
        &township,
        "婚约彩礼返还",
        "解除婚约后要求返还彩礼。",
    )
    .await;
    app.state.settle_search().await.unwrap();
    let ours = |drift: &[fengqiao::search::CountyDrift]| {
        drift
            .iter()
            .find(|d| d.county == app.county.id)
            .cloned()
            .unwrap()
    };
    let clean = ours(&app.state.verify_index(false).await.unwrap());
    assert!(!clean.drifted(), "{clean}");
    assert_eq!(clean.store.count, 2);

    // Tamper with the index behind the outbox's back: drop one case, change another, add a stranger.
    let gone_id = case_id(&gone);
    let stale_id = case_id(&stale);
    let index = app.state.search.index.clone();
    index.delete(&[gone_id]).await.unwrap();
    let mut docs = fengqiao::store::scope::as_system(app.state.store.case_docs(&[stale_id]))
        .await
        .unwrap();
    docs[0].title = "改过的标题".into();
    let mut stranger = docs[0].clone();
    stranger.id = i64::MAX - 7;
    index.upsert(&[docs[0].clone(), stranger]).await.unwrap();

    let drift = ours(&app.state.verify_index(false).await.unwrap());
    assert!(drift.drifted());
    assert_eq!(drift.missing, [gone_id]);
    assert_eq!(drift.stale, [stale_id]);
    assert_eq!(drift.extra, [i64::MAX - 7]);
    assert!(hit_ids(&search(&app, &clerk, "山林").await).is_empty());

    let repaired = ours(&app.state.verify_index(true).await.unwrap());
    assert!(repaired.repaired);
    let after = ours(&app.state.verify_index(false).await.unwrap());
    assert!(!after.drifted(), "{after}");
    assert_eq!(hit_ids(&search(&app, &clerk, "山林").await), [gone]);
    assert_eq!(hit_ids(&search(&app, &clerk, "彩礼").await), [stale]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_finds_its_townships_cases_and_never_a_siblings() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let ours = app.tenant(&county, &app.township_code(1), "柳河乡").await;
    let theirs = app.tenant(&county, &app.township_code(10), "石桥镇").await;
    let (_, our_clerk) = app.user(&ours, "clerk", &[Role::IntakeClerk]).await;
    let (_, their_clerk) = app.user(&theirs, "clerk2", &[Role::IntakeClerk]).await;
    const TOKEN: &str = "{ searchToken { token url indexUid expiresAt } }";
    if crate::helpers::meilisearch().is_none() {
        // The embedded index has no server to hand a token for.
        let body = app.gql(Some(&our_clerk), TOKEN, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        eprintln!("MEILI_URL is not set: tenant tokens not exercised against a server");
        return;
    }
    let a = register(
        &app,
        &our_clerk,
        &ours,
        "征地补偿纠纷",
        "征地补偿款分配不均。",
    )
    .await;
    let b = register(
        &app,
        &their_clerk,
        &theirs,
        "征地补偿争议",
        "征地补偿标准有异议。",
    )
    .await;
    app.state.settle_search().await.unwrap();

    let issued = app.ok(&our_clerk, TOKEN, json!({})).await;
    let token = issued["searchToken"]["token"].as_str().unwrap();
    let url = issued["searchToken"]["url"].as_str().unwrap();
    let index = issued["searchToken"]["indexUid"].as_str().unwrap();
    let expires: chrono::DateTime<chrono::Utc> = issued["searchToken"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires <= chrono::Utc::now() + chrono::Duration::minutes(61));
    let direct = |body: Value| {
        let request = app
            .http
            .post(format!("{url}/indexes/{index}/search"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let ids = |body: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    // Everything the token may see: our township's case, not the sibling's (ids 1 and 10 share a prefix).
    let (status, all) = direct(json!({ "q": "", "limit": 1000 })).await;
    assert!(status.is_success(), "{all}");
    assert_eq!(ids(&all), [case_id(&a)]);
    // Asking for the sibling by filter finds nothing: the token's filter is ANDed with the request's.
    let sibling = format!("id = {}", case_id(&b));
    let (status, probe) = direct(json!({ "q": "", "filter": sibling })).await;
    assert!(status.is_success(), "{probe}");
    assert!(ids(&probe).is_empty(), "{probe}");
    // No personal data is shown to a token holder.
    let shown = all["hits"][0].as_object().unwrap();
    for hidden in ["party_names", "addresses", "id_card_hashes", "phone_hashes"] {
        assert!(!shown.contains_key(hidden), "{hidden} shown: {all}");
    }
    // A token for another index is refused.
    let (status, _) = {
        let response = app
            .http
            .post(format!("{url}/indexes/someone_else/search"))
            .bearer_auth(token)
            .json(&json!({ "q": "" }))
            .send()
            .await
            .unwrap();
        (response.status(), ())
    };
    assert!(status.is_client_error());
}

/// Starts the Meilisearch binary `MEILI_BIN` on a free port with its data in `db`.
fn start_meilisearch(bin: &str, db: &std::path::Path, port: u16, key: &str) -> std::process::Child {
    std::process::Command::new(bin)
        .args([
            "--db-path",
            db.to_str().unwrap(),
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--master-key",
            key,
            "--no-analytics",
            "--env",
            "development",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for(client: &reqwest::Client, url: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{url}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("Meilisearch did not start at {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_meilisearch_down_writes_go_on_and_the_backlog_drains_when_it_returns() {
    let Ok(bin) = std::env::var("MEILI_BIN") else {
        eprintln!(
            "MEILI_BIN is not set: no Meilisearch server of its own to stop and start; not run"
        );
        return;
    };
    let db = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = "degradation-test-master-key-0123456789";
    let url = format!("http://127.0.0.1:{port}");
    let mut server = start_meilisearch(&bin, &db.path().join("meili"), port, key);
    let client = reqwest::Client::new();
    wait_for(&client, &url).await;
    let meili_url = url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.search.meili_url = meili_url;
        config.search.meili_api_key = fengqiao::config::Secret::new(key);
        config.search.meili_index = "degradation".into();
        config.search.meili_search_key = fengqiao::config::Secret::default();
        config.search.meili_search_key_uid = String::new();
    })
    .await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let before = register(&app, &clerk, &township, "赡养纠纷", "子女拒绝赡养老人。").await;
    app.state.settle_search().await.unwrap();
    assert_eq!(
        hit_ids(&search(&app, &clerk, "赡养").await),
        [before.clone()]
    );

    // Meilisearch goes down: registrations go on, searches answer SEARCH_UNAVAILABLE, the backlog grows.
    server.kill().unwrap();
    server.wait().unwrap();
    let mut during = Vec::new();
    for n in 0..3 {
        during.push(
            register(
                &app,
                &clerk,
                &township,
                &format!("赡养费{n}"),
                "赡养费未按时给付。",
            )
            .await,
        );
    }
    let body = app
        .gql(Some(&clerk), SEARCH, json!({ "text": "赡养" }))
        .await;
    assert_eq!(code(&body), "SEARCH_UNAVAILABLE", "{body}");
    assert!(app.state.search_backlog().await.unwrap() >= 3);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        app.state.search_backlog().await.unwrap() >= 3,
        "nothing is marked done while the index is down"
    );

    // It comes back with its data: the worker drains the backlog on its own, and nothing is missing.
    let mut server = start_meilisearch(&bin, &db.path().join("meili"), port, key);
    wait_for(&client, &url).await;
    let mut drained = false;
    for _ in 0..120 {
        if app.state.search_backlog().await.unwrap() == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(drained, "the backlog drained once Meilisearch was back");
    let mut found = hit_ids(&search(&app, &clerk, "赡养").await);
    found.sort();
    let mut expected = during.clone();
    expected.push(before);
    expected.sort();
    assert_eq!(found, expected);
    let drift = app.state.verify_index(false).await.unwrap();
    let ours = drift.iter().find(|d| d.county == app.county.id).unwrap();
    assert!(!ours.drifted(), "{ours}");
    server.kill().unwrap();
    server.wait().unwrap();
}
