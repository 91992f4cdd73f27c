//! The `CaseIndex` contract and tenant tokens on a Meilisearch server (`MEILI_URL`, `MEILI_MASTER_KEY`).
//! Each test uses a fresh index and deletes it afterwards; without `MEILI_URL` they print a notice and
//! pass. The unavailable server test needs no server.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod meili_support;

use chrono::{Duration, Utc};
use fengqiao_domain::TenantLevel;
use fengqiao_search::query::MAX_TEXT_CHARS;
use fengqiao_search::testing::{
    TOWNSHIP_A, TOWNSHIP_B, case, contract_suite, path, query, rebuild_contract,
};
use fengqiao_search::{
    CaseDoc, CaseIndex, MeiliIndex, Scope, SearchError, SearchQuery, tenant_token,
};
use meili_support::{server, with_fresh_index};

#[tokio::test]
async fn the_meilisearch_index_keeps_the_contract() {
    let Some(server) = server("the_meilisearch_index_keeps_the_contract") else {
        return;
    };
    with_fresh_index(&server, "contract", |index| async move {
        // The server holds the port as a trait object.
        let index: std::sync::Arc<dyn CaseIndex> = std::sync::Arc::new(index);
        contract_suite(index.as_ref()).await;
    })
    .await;
}

#[tokio::test]
async fn the_meilisearch_index_rebuilds() {
    let Some(server) = server("the_meilisearch_index_rebuilds") else {
        return;
    };
    with_fresh_index(&server, "rebuild", |index| async move {
        rebuild_contract(&index).await;
    })
    .await;
}

/// The settings tasks the server has for an index.
async fn settings_tasks(server: &meili_support::Server, uid: &str) -> usize {
    let found: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/tasks?indexUids={uid}&types=settingsUpdate&limit=1000",
            server.url
        ))
        .bearer_auth(&server.master_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    found["results"].as_array().unwrap().len()
}

#[tokio::test]
async fn opening_an_index_that_has_the_settings_changes_nothing() {
    let Some(server) = server("opening_an_index_that_has_the_settings_changes_nothing") else {
        return;
    };
    let url = server.url.clone();
    let key = server.master_key.clone();
    let probe = meili_support::Server {
        url: server.url.clone(),
        master_key: server.master_key.clone(),
    };
    with_fresh_index(&server, "reopen", |index| async move {
        let uid = index.uid().to_owned();
        let created = settings_tasks(&probe, &uid).await;
        assert!(created > 0, "a new index gets the settings");
        let doc = CaseDoc {
            title: "宅基地纠纷".into(),
            ..case(1, path(7, TenantLevel::Village, false))
        };
        index.upsert(&[doc]).await.unwrap();
        // A second server process opens the same index: its settings are there, so no task reprocesses
        // the documents.
        let again = MeiliIndex::connect(&url, &key, &uid).await.unwrap();
        assert_eq!(settings_tasks(&probe, &uid).await, created);
        let found = again
            .search(&query(Scope::county(7), "宅基地"))
            .await
            .unwrap();
        assert_eq!(found.hits.len(), 1);
    })
    .await;
}

/// Searches the index directly with a token, as a browser would; the ids found, or the refusal's status.
async fn search_with_token(
    url: &str,
    index_uid: &str,
    token: &str,
    body: serde_json::Value,
) -> Result<Vec<i64>, u16> {
    let response = reqwest::Client::new()
        .post(format!("{url}/indexes/{index_uid}/search"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    if !status.is_success() {
        return Err(status.as_u16());
    }
    let found: serde_json::Value = response.json().await.unwrap();
    let mut ids: Vec<i64> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

#[tokio::test]
async fn a_tenant_token_sees_its_scope_only() {
    let Some(server) = server("a_tenant_token_sees_its_scope_only") else {
        return;
    };
    let (url, master_key) = (server.url.clone(), server.master_key.clone());
    with_fresh_index(&server, "token", |index| async move {
        let county = 9300;
        let title = "广场舞噪音扰民";
        let docs = vec![
            CaseDoc {
                title: title.into(),
                ..case(1, path(county, TenantLevel::Village, false))
            },
            CaseDoc {
                title: title.into(),
                ..case(10, path(county, TenantLevel::Village, true))
            },
            CaseDoc {
                title: title.into(),
                ..case(100, path(county, TenantLevel::Grid, false))
            },
            CaseDoc {
                title: title.into(),
                ..case(11, path(county, TenantLevel::County, false))
            },
            CaseDoc {
                title: title.into(),
                ..case(1000, path(county + 1, TenantLevel::Village, false))
            },
        ];
        index.upsert(&docs).await.unwrap();
        let (key_uid, key) = index.create_search_key(&master_key).await.unwrap();
        let uid = index.uid().to_owned();
        let all = serde_json::json!({ "limit": 100 });

        assert_eq!(
            search_with_token(&url, &uid, &key, all.clone()).await,
            Ok(vec![1, 10, 11, 100, 1000]),
            "the search key itself sees the whole index"
        );

        let in_a = Scope::subtree(county, TenantLevel::Township, TOWNSHIP_A);
        let token = tenant_token(
            &in_a,
            &key_uid,
            &key,
            &uid,
            Utc::now() + Duration::minutes(10),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            search_with_token(&url, &uid, &token, all.clone()).await,
            Ok(vec![1, 100]),
            "township A's token sees A's cases only"
        );
        let sibling = serde_json::json!({ "filter": format!("township = {TOWNSHIP_B}") });
        assert_eq!(
            search_with_token(&url, &uid, &token, sibling).await,
            Ok(vec![]),
            "a filter of the client cannot widen the token's scope"
        );
        let in_b = Scope::subtree(county, TenantLevel::Township, TOWNSHIP_B);
        let token_b = tenant_token(
            &in_b,
            &key_uid,
            &key,
            &uid,
            Utc::now() + Duration::minutes(10),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            search_with_token(&url, &uid, &token_b, all.clone()).await,
            Ok(vec![10]),
            "township B (id 10) does not see township A (id 1)"
        );

        let elsewhere = tenant_token(
            &in_a,
            &key_uid,
            &key,
            "another_index",
            Utc::now() + Duration::minutes(10),
            Utc::now(),
        )
        .unwrap();
        assert!(
            search_with_token(&url, &uid, &elsewhere, all.clone())
                .await
                .is_err(),
            "a token for another index is refused"
        );

        let short = tenant_token(
            &in_a,
            &key_uid,
            &key,
            &uid,
            Utc::now() + Duration::seconds(2),
            Utc::now(),
        )
        .unwrap();
        assert!(
            search_with_token(&url, &uid, &short, all.clone())
                .await
                .is_ok()
        );
        tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
        assert!(
            search_with_token(&url, &uid, &short, all.clone())
                .await
                .is_err(),
            "an expired token is refused"
        );

        let forged = tenant_token(
            &Scope::county(county),
            &key_uid,
            "not-the-key-value",
            &uid,
            Utc::now() + Duration::minutes(10),
            Utc::now(),
        )
        .unwrap();
        assert!(
            search_with_token(&url, &uid, &forged, all).await.is_err(),
            "a token not signed with the key is refused"
        );

        let deleted = reqwest::Client::new()
            .delete(format!("{url}/keys/{key_uid}"))
            .bearer_auth(&master_key)
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "deleting the search key");
    })
    .await;
}

#[tokio::test]
async fn the_longest_query_is_answered() {
    let Some(server) = server("the_longest_query_is_answered") else {
        return;
    };
    with_fresh_index(&server, "long", |index| async move {
        let county = 9400;
        let sentence = "柳树村村民张建国与邻居李秀英因宅基地界址发生争执，张建国称李秀英新建围墙占用其宅基地约0.5米，\
                        双方多次争吵，要求村委会调解。王家湾村82岁老人王桂兰反映，三个子女互相推诿，均不履行赡养义务，\
                        老人独自居住生活困难。杨家庄村民杨志强与周丽订婚时给付彩礼12万元，后双方婚约解除，\
                        杨志强要求女方家返还彩礼，女方家只同意退还一半。";
        let text: String = sentence.chars().take(MAX_TEXT_CHARS).collect();
        let docs = vec![
            CaseDoc {
                title: "宅基地界址纠纷".into(),
                description: sentence.into(),
                ..case(1, path(county, TenantLevel::Village, false))
            },
            CaseDoc {
                title: "工资拖欠".into(),
                ..case(2, path(county, TenantLevel::Village, false))
            },
        ];
        index.upsert(&docs).await.unwrap();
        let started = std::time::Instant::now();
        let found = index
            .search(&query(Scope::county(county), &text))
            .await
            .unwrap();
        assert_eq!(found.ids(), [1], "{} characters", text.chars().count());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "a long query took {:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn only_plain_http_addresses_are_taken() {
    assert!(matches!(
        MeiliIndex::new("https://search.example", "key", "cases"),
        Err(SearchError::Internal(_))
    ));
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let index = MeiliIndex::new(&url, "some-key", "cases").unwrap();
    let search = index.search(&SearchQuery::new(Scope::county(1))).await;
    assert!(
        matches!(search, Err(SearchError::Unavailable(_))),
        "{search:?}"
    );
    let error = search.unwrap_err();
    assert_eq!(error.code(), "SEARCH_UNAVAILABLE");
    assert!(error.is_transient());
    let upsert = index
        .upsert(&[case(1, fengqiao_domain::Ancestry::county(1))])
        .await;
    assert!(
        matches!(upsert, Err(SearchError::Unavailable(_))),
        "{upsert:?}"
    );
    let connect = MeiliIndex::connect(&url, "some-key", "cases").await;
    assert!(
        matches!(connect, Err(SearchError::Unavailable(_))),
        "{connect:?}"
    );
}
