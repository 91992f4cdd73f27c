//! The `CaseIndex` contract on the embedded adapter, in memory and in a folder.

use fengqiao_search::EmbeddedIndex;
use fengqiao_search::testing::{contract_suite, rebuild_contract};

#[tokio::test]
async fn the_embedded_index_in_memory_keeps_the_contract() {
    // The server holds the port as a trait object.
    let index: std::sync::Arc<dyn fengqiao_search::CaseIndex> =
        std::sync::Arc::new(EmbeddedIndex::in_ram().unwrap());
    contract_suite(index.as_ref()).await;
}

#[tokio::test]
async fn the_embedded_index_in_a_folder_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let index = EmbeddedIndex::open(dir.path()).unwrap();
    contract_suite(&index).await;
}

#[tokio::test]
async fn the_embedded_index_in_memory_rebuilds() {
    let index = EmbeddedIndex::in_ram().unwrap();
    rebuild_contract(&index).await;
}

#[tokio::test]
async fn the_embedded_index_in_a_folder_rebuilds_and_reopens_the_new_generation() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = EmbeddedIndex::open(dir.path()).unwrap();
        assert!(
            index.needs_rebuild(),
            "a new folder needs filling from the store"
        );
        rebuild_contract(&index).await;
        assert!(!index.needs_rebuild());
    }
    let generations: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    assert_eq!(
        generations.len(),
        1,
        "old generations are removed: {generations:?}"
    );

    let reopened = EmbeddedIndex::open(dir.path()).unwrap();
    assert!(!reopened.needs_rebuild());
    let page = fengqiao_search::testing::page(
        &reopened,
        &fengqiao_search::SearchQuery::new(fengqiao_search::Scope::county(9100)),
    )
    .await;
    let mut ids = page.ids();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [1, 3, 4],
        "what was published and written after it survives a restart"
    );
}

#[tokio::test]
async fn an_index_of_another_format_is_replaced_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = EmbeddedIndex::open(dir.path()).unwrap();
        let doc = fengqiao_search::testing::case(1, fengqiao_domain::Ancestry::county(5));
        fengqiao_search::CaseIndex::upsert(&index, &[doc])
            .await
            .unwrap();
    }
    let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
    std::fs::write(
        dir.path().join(current.trim()).join("FORMAT"),
        "an older format\n",
    )
    .unwrap();
    let index = EmbeddedIndex::open(dir.path()).unwrap();
    assert!(index.needs_rebuild());
    let page = fengqiao_search::testing::page(
        &index,
        &fengqiao_search::SearchQuery::new(fengqiao_search::Scope::county(5)),
    )
    .await;
    assert!(page.hits.is_empty(), "nothing of the old format is served");
    assert!(
        !dir.path().join(current.trim()).exists(),
        "the old generation is removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_racing_a_swap_never_fail() {
    use fengqiao_search::CaseIndex;
    use fengqiao_search::testing::case;

    let index = EmbeddedIndex::in_ram().unwrap();
    let county = fengqiao_domain::Ancestry::county(3);
    let writer = {
        let index = index.clone();
        tokio::spawn(async move {
            for id in 0..60 {
                index.upsert(&[case(id, county)]).await.unwrap();
            }
        })
    };
    for round in 0..3 {
        let mut rebuild = index.rebuild().await.unwrap();
        rebuild.add(&[case(1000 + round, county)]).await.unwrap();
        rebuild.publish().await.unwrap();
    }
    writer.await.unwrap();
    index.upsert(&[case(2000, county)]).await.unwrap();
    let page = fengqiao_search::testing::page(
        &index,
        &fengqiao_search::SearchQuery::new(fengqiao_search::Scope::county(3)).page(100, None),
    )
    .await;
    let ids = page.ids();
    assert!(ids.contains(&1002) && ids.contains(&2000), "{ids:?}");
    assert!(
        !ids.contains(&1000),
        "earlier rebuilds were replaced: {ids:?}"
    );
}
