//! The contract of `CaseIndex`. Each part works in its own county, so the parts share one index without
//! seeing each other's documents; `rebuild_contract` replaces the whole index and needs one of its own.

use chrono::Duration;
use fengqiao_domain::risk::RiskLevel;
use fengqiao_domain::{CaseKind, CaseStatus, Category, TenantLevel, Tier};

use super::{
    GRID_A, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_B, base_time, case, id_set, ids, must, page, path,
    query, test_hash,
};
use crate::doc::{CaseDoc, Fingerprint};
use crate::error::SearchError;
use crate::page::Count;
use crate::port::{CaseIndex, Subtree};
use crate::query::{Cursor, Filters, Grant, MAX_FIRST, Scope, SearchQuery};

async fn upsert(index: &dyn CaseIndex, docs: &[CaseDoc]) {
    must("upserting", index.upsert(docs).await);
}

async fn delete(index: &dyn CaseIndex, ids: &[i64]) {
    must("deleting", index.delete(ids).await);
}

/// Runs every part of the contract but the rebuild on one index. Counties 9001 to 9020 and 9500 to
/// 9520 are used.
pub async fn contract_suite(index: &dyn CaseIndex) {
    upserts_replace_and_deletes_are_idempotent(index, 9001).await;
    scopes_never_leak(index, 9002).await;
    every_filter_applies(index, 9003).await;
    pages_follow_each_other(index, 9004).await;
    highlights_mark_what_matched(index, 9005).await;
    facets_count_every_hit(index, 9006).await;
    synonyms_find_each_other(index, 9007).await;
    traditional_and_simplified_find_each_other(index, 9008).await;
    homophone_typos_are_found_below_exact_matches(index, 9009).await;
    identifiers_match_whole_and_never_in_part(index, 9010).await;
    fingerprints_follow_the_documents(index, 9011).await;
    partial_words_and_names_are_found(index, 9012).await;
    bad_queries_are_refused(index).await;
}

async fn upserts_replace_and_deletes_are_idempotent(index: &dyn CaseIndex, county: i64) {
    let scope = Scope::county(county);
    let at = path(county, TenantLevel::Village, false);
    let first = CaseDoc {
        title: "柳树村宅基地界址纠纷".into(),
        description: "两户村民因宅基地界址发生争执。".into(),
        ..case(1, at)
    };
    upsert(index, std::slice::from_ref(&first)).await;
    upsert(index, std::slice::from_ref(&first)).await;
    assert_eq!(
        ids(index, &query(scope.clone(), "宅基地")).await,
        [1],
        "upserting twice keeps one document"
    );

    let replaced = CaseDoc {
        title: "柳树村排水沟堵塞纠纷".into(),
        description: "排水沟堵塞，雨水倒灌进院。".into(),
        ..case(1, at)
    };
    upsert(index, &[replaced]).await;
    assert!(
        ids(index, &query(scope.clone(), "宅基地")).await.is_empty(),
        "an upsert replaces the old text"
    );
    assert_eq!(ids(index, &query(scope.clone(), "排水沟")).await, [1]);

    let older = CaseDoc {
        title: "旧标题调解".into(),
        ..case(2, at)
    };
    let newer = CaseDoc {
        title: "新标题协商".into(),
        ..case(2, at)
    };
    upsert(index, &[older, newer]).await;
    assert!(
        ids(index, &query(scope.clone(), "旧标题")).await.is_empty(),
        "the last copy of an id in a batch wins"
    );
    assert_eq!(ids(index, &query(scope.clone(), "新标题")).await, [2]);

    upsert(index, &[]).await;
    delete(index, &[]).await;
    delete(index, &[1]).await;
    delete(index, &[1, 999]).await;
    assert!(
        ids(index, &query(scope.clone(), "排水沟")).await.is_empty(),
        "a deleted case is gone"
    );
    assert_eq!(ids(index, &SearchQuery::new(scope)).await, [2]);
}

async fn scopes_never_leak(index: &dyn CaseIndex, county: i64) {
    let text = "广场舞噪音扰民";
    let in_a = CaseDoc {
        title: text.into(),
        code: "620521-20260301-00001".into(),
        units: vec![77],
        ..case(1, path(county, TenantLevel::Village, false))
    };
    let in_b = CaseDoc {
        title: text.into(),
        code: "620521-20260301-00010".into(),
        units: vec![78],
        ..case(10, path(county, TenantLevel::Village, true))
    };
    let at_county = CaseDoc {
        title: text.into(),
        code: "620521-20260301-00011".into(),
        ..case(11, path(county, TenantLevel::County, false))
    };
    let in_grid = CaseDoc {
        title: text.into(),
        code: "620521-20260301-00100".into(),
        registered_by: 55,
        ..case(100, path(county, TenantLevel::Grid, false))
    };
    let elsewhere = CaseDoc {
        title: text.into(),
        ..case(1000, path(county + 500, TenantLevel::Village, false))
    };
    upsert(index, &[in_a, in_b, at_county, in_grid, elsewhere]).await;

    let sub = |level, tenant| Scope::subtree(county, level, tenant);
    let cases = [
        (Scope::county(county), vec![1, 10, 11, 100]),
        (sub(TenantLevel::Township, TOWNSHIP_A), vec![1, 100]),
        (sub(TenantLevel::Township, TOWNSHIP_B), vec![10]),
        (sub(TenantLevel::Village, VILLAGE_B), vec![10]),
        (sub(TenantLevel::Grid, GRID_A), vec![100]),
        (Scope::grants(county, vec![]), vec![]),
        (
            Scope::subtree(county + 501, TenantLevel::Township, TOWNSHIP_A),
            vec![],
        ),
        (
            Scope::grants(
                county,
                vec![Grant::UnitCases {
                    level: TenantLevel::Township,
                    tenant: TOWNSHIP_A,
                    units: vec![77, 78],
                }],
            ),
            vec![1],
        ),
        (
            Scope::grants(
                county,
                vec![Grant::Reports {
                    level: TenantLevel::Township,
                    tenant: TOWNSHIP_A,
                    reporter: 55,
                }],
            ),
            vec![100],
        ),
        (
            Scope::grants(county, vec![Grant::Cases(vec![10, 1000])]),
            vec![10],
        ),
        (
            Scope::grants(
                county,
                vec![
                    Grant::Subtree {
                        level: TenantLevel::Township,
                        tenant: TOWNSHIP_B,
                    },
                    Grant::Cases(vec![1]),
                ],
            ),
            vec![1, 10],
        ),
    ];
    for (scope, expected) in cases {
        for text in [text, "扰民", ""] {
            assert_eq!(
                id_set(index, &query(scope.clone(), text)).await,
                expected,
                "scope {scope:?}, query {text:?}"
            );
        }
    }
    let b = sub(TenantLevel::Township, TOWNSHIP_B);
    assert!(
        ids(index, &query(b.clone(), "620521-20260301-00001"))
            .await
            .is_empty(),
        "a sibling's case code finds nothing"
    );
    assert!(ids(index, &query(b, "00001")).await.is_empty());
    let a = sub(TenantLevel::Township, TOWNSHIP_A);
    assert_eq!(
        ids(index, &query(a.clone(), "620521-20260301-00001")).await,
        [1],
        "a whole case code is found"
    );
    assert_eq!(
        ids(index, &query(a, "00100")).await,
        [100],
        "the sequence part of a case code is found"
    );
}

async fn every_filter_applies(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let day = Duration::days(1);
    let docs = vec![
        CaseDoc {
            title: "邻里噪音纠纷".into(),
            status: CaseStatus::Registered,
            registered_at: base_time(),
            ..case(1, at)
        },
        CaseDoc {
            title: "工资拖欠纠纷".into(),
            kind: CaseKind::Petition,
            category: Category::Labour,
            status: CaseStatus::InProgress,
            tier: Tier::JointMediation,
            risk: RiskLevel::Orange,
            overdue: true,
            registered_at: base_time() + day,
            ..case(2, at)
        },
        CaseDoc {
            title: "土地承包纠纷".into(),
            category: Category::LandForest,
            status: CaseStatus::Resolved,
            tier: Tier::Litigation,
            risk: RiskLevel::Red,
            registered_at: base_time() + day * 2,
            ..case(3, at)
        },
        CaseDoc {
            title: "法律咨询 继承纠纷".into(),
            kind: CaseKind::LegalConsultation,
            category: Category::MarriageFamily,
            status: CaseStatus::Closed,
            tier: Tier::LeaderCase,
            risk: RiskLevel::Yellow,
            overdue: true,
            registered_at: base_time() + day * 3,
            ..case(4, at)
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    let filtered = |filters: Filters, text: &str| query(scope.clone(), text).with_filters(filters);
    let checks: Vec<(&str, Filters, Vec<i64>)> = vec![
        ("none", Filters::default(), vec![1, 2, 3, 4]),
        (
            "statuses",
            Filters {
                statuses: vec![CaseStatus::Registered, CaseStatus::Closed],
                ..Filters::default()
            },
            vec![1, 4],
        ),
        (
            "kinds",
            Filters {
                kinds: vec![CaseKind::Petition],
                ..Filters::default()
            },
            vec![2],
        ),
        (
            "categories",
            Filters {
                categories: vec![Category::LandForest, Category::Labour],
                ..Filters::default()
            },
            vec![2, 3],
        ),
        (
            "tiers",
            Filters {
                tiers: vec![Tier::LeaderCase],
                ..Filters::default()
            },
            vec![4],
        ),
        (
            "risks",
            Filters {
                risks: vec![RiskLevel::Red, RiskLevel::Orange],
                ..Filters::default()
            },
            vec![2, 3],
        ),
        (
            "registered from",
            Filters {
                registered_from: Some(base_time() + day * 2),
                ..Filters::default()
            },
            vec![3, 4],
        ),
        (
            "registered before",
            Filters {
                registered_before: Some(base_time() + day),
                ..Filters::default()
            },
            vec![1],
        ),
        (
            "registered between",
            Filters {
                registered_from: Some(base_time() + day),
                registered_before: Some(base_time() + day * 3),
                ..Filters::default()
            },
            vec![2, 3],
        ),
        (
            "overdue",
            Filters {
                overdue: Some(true),
                ..Filters::default()
            },
            vec![2, 4],
        ),
        (
            "not overdue",
            Filters {
                overdue: Some(false),
                ..Filters::default()
            },
            vec![1, 3],
        ),
        (
            "combined",
            Filters {
                overdue: Some(true),
                kinds: vec![CaseKind::LegalConsultation, CaseKind::Dispute],
                ..Filters::default()
            },
            vec![4],
        ),
    ];
    for (name, filters, expected) in checks {
        assert_eq!(
            id_set(index, &filtered(filters.clone(), "")).await,
            expected,
            "filter {name} without text"
        );
        assert_eq!(
            id_set(index, &filtered(filters, "纠纷")).await,
            expected,
            "filter {name} with text"
        );
    }
}

async fn pages_follow_each_other(index: &dyn CaseIndex, county: i64) {
    let docs: Vec<CaseDoc> = (1..=25)
        .map(|id| CaseDoc {
            title: format!("第{id}号邻里调解"),
            description: if id % 3 == 0 {
                "调解成功，双方握手言和。".into()
            } else {
                String::new()
            },
            ..case(id, path(county, TenantLevel::Village, id % 2 == 0))
        })
        .collect();
    upsert(index, &docs).await;
    for text in ["调解", ""] {
        let mut seen = Vec::new();
        let mut after: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            let q = query(Scope::county(county), text).page(10, after);
            let got = page(index, &q).await;
            assert_eq!(got.total, 25, "the total counts every hit, query {text:?}");
            assert!(got.hits.len() <= 10);
            seen.extend(got.ids());
            pages += 1;
            if !got.has_next_page {
                break;
            }
            let end = got.end_cursor();
            assert!(end.is_some(), "a page with a next page has an end cursor");
            if let Some(end) = end {
                after = Some(must("decoding a cursor", Cursor::decode(&end.encode())));
            }
            assert!(pages < 5, "paging does not end");
        }
        assert_eq!(pages, 3);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted,
            (1..=25).collect::<Vec<i64>>(),
            "pages neither skip nor repeat, query {text:?}"
        );
        if text.is_empty() {
            assert_eq!(
                seen,
                (1..=25).rev().collect::<Vec<i64>>(),
                "without text the newest come first"
            );
        }
    }
    let ranked = page(index, &query(Scope::county(county), "调解成功")).await;
    assert!(
        ranked.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "hits come by score"
    );
}

async fn highlights_mark_what_matched(index: &dyn CaseIndex, county: i64) {
    let filler = "双方当事人情绪激动，调解员多次上门做工作，".repeat(4);
    let docs = vec![
        CaseDoc {
            title: "柳树村王某与李某彩礼返还纠纷".into(),
            description: format!("{filler}男方要求女方返还彩礼八万元。{filler}"),
            ..case(1, path(county, TenantLevel::Village, false))
        },
        CaseDoc {
            title: "楊家莊彩禮糾紛".into(),
            description: "彩禮已付，婚約解除。".into(),
            ..case(2, path(county, TenantLevel::Village, false))
        },
    ];
    upsert(index, &docs).await;
    let got = page(index, &query(Scope::county(county), "彩礼")).await;
    let hit = |id| got.hits.iter().find(|h| h.id == id);
    let Some(first) = hit(1) else {
        panic!("彩礼 finds case 1: {:?}", got.ids())
    };
    assert_eq!(first.title.marked(), ["彩礼"]);
    assert_eq!(
        first.title.to_html(),
        "柳树村王某与李某<em>彩礼</em>返还纠纷"
    );
    assert!(
        first.description.marked().contains(&"彩礼"),
        "the description snippet holds the match"
    );
    assert!(
        first.description.text.chars().count() < 150,
        "a long description is cut"
    );
    let Some(second) = hit(2) else {
        panic!("彩礼 finds the traditional case 2: {:?}", got.ids())
    };
    assert_eq!(
        second.title.marked(),
        ["彩禮"],
        "marks point into the text as written"
    );

    let got = page(index, &query(Scope::county(county), "聘礼")).await;
    let marked: Vec<&str> = got.hits.iter().flat_map(|h| h.title.marked()).collect();
    assert!(
        marked.contains(&"彩礼"),
        "a synonym is marked where it matched: {marked:?}"
    );
}

async fn facets_count_every_hit(index: &dyn CaseIndex, county: i64) {
    let mut docs = Vec::new();
    for id in 1..=6 {
        docs.push(CaseDoc {
            title: if id <= 4 {
                "土地纠纷".into()
            } else {
                "工伤赔偿".into()
            },
            category: if id <= 4 {
                Category::LandForest
            } else {
                Category::Labour
            },
            status: if id % 2 == 0 {
                CaseStatus::Closed
            } else {
                CaseStatus::Accepted
            },
            ..case(id, path(county, TenantLevel::Village, id > 2))
        });
    }
    docs.push(CaseDoc {
        title: "土地纠纷".into(),
        category: Category::LandForest,
        ..case(7, path(county, TenantLevel::County, false))
    });
    upsert(index, &docs).await;
    let q = SearchQuery::new(Scope::county(county))
        .with_facet_level(TenantLevel::Township)
        .page(1, None);
    let got = page(index, &q).await;
    assert_eq!(got.hits.len(), 1);
    assert_eq!(got.total, 7);
    assert_eq!(
        got.facets.categories,
        [
            Count {
                value: Category::LandForest,
                count: 5
            },
            Count {
                value: Category::Labour,
                count: 2
            },
        ]
    );
    assert_eq!(
        got.facets.statuses,
        [
            Count {
                value: CaseStatus::Accepted,
                count: 4
            },
            Count {
                value: CaseStatus::Closed,
                count: 3
            },
        ]
    );
    assert_eq!(
        got.facets.tenants,
        [
            Count {
                value: Some(TOWNSHIP_B),
                count: 4
            },
            Count {
                value: Some(TOWNSHIP_A),
                count: 2
            },
            Count {
                value: None,
                count: 1
            },
        ]
    );
    assert_eq!(got.facets.level, Some(TenantLevel::Township));
    let by_grid = SearchQuery::new(Scope::county(county)).with_facet_level(TenantLevel::Grid);
    assert_eq!(
        page(index, &by_grid).await.facets.tenants,
        [Count {
            value: None,
            count: 7
        }],
        "cases above the level count as none"
    );
    let no_level = page(index, &SearchQuery::new(Scope::county(county))).await;
    assert!(no_level.facets.tenants.is_empty() && no_level.facets.level.is_none());

    let q = query(
        Scope::subtree(county, TenantLevel::Township, TOWNSHIP_B),
        "土地",
    )
    .with_facet_level(TenantLevel::Village);
    let got = page(index, &q).await;
    assert_eq!(
        got.total, 2,
        "facets and totals count the hits of the text in the scope"
    );
    assert_eq!(
        got.facets.categories,
        [Count {
            value: Category::LandForest,
            count: 2
        }]
    );
    assert_eq!(
        got.facets.tenants,
        [Count {
            value: Some(VILLAGE_B),
            count: 2
        }]
    );
}

async fn synonyms_find_each_other(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let docs = vec![
        CaseDoc {
            title: "两户村民因琐事打架".into(),
            ..case(1, at)
        },
        CaseDoc {
            title: "彩礼返还纠纷".into(),
            ..case(2, at)
        },
        CaseDoc {
            title: "商户拖欠货款".into(),
            ..case(3, at)
        },
        CaseDoc {
            title: "个人欠款纠纷".into(),
            ..case(4, at)
        },
        CaseDoc {
            title: "建筑工地工资未结清".into(),
            ..case(5, at)
        },
        CaseDoc {
            title: "子女拒绝赡养老人".into(),
            ..case(6, at)
        },
        CaseDoc {
            title: "村民在集市斗殴".into(),
            ..case(7, at)
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    for (text, expected) in [
        ("斗殴", vec![1, 7]),
        ("打架", vec![1, 7]),
        ("聘礼", vec![2]),
        ("欠款", vec![3, 4]),
        ("拖欠货款", vec![3, 4]),
        ("薪水", vec![5]),
        ("养老", vec![6]),
    ] {
        assert_eq!(
            id_set(index, &query(scope.clone(), text)).await,
            expected,
            "synonyms of {text}"
        );
    }
    let ranked = ids(index, &query(scope, "斗殴")).await;
    assert_eq!(
        ranked.first(),
        Some(&7),
        "what was typed ranks above its synonyms"
    );
}

async fn traditional_and_simplified_find_each_other(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let docs = vec![
        CaseDoc {
            title: "離婚後孩子撫養費糾紛".into(),
            ..case(1, at)
        },
        CaseDoc {
            title: "土地承包经营权纠纷".into(),
            ..case(2, at)
        },
        CaseDoc {
            title: "３号楼楼顶漏水".into(),
            ..case(3, at)
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    assert_eq!(
        ids(index, &query(scope.clone(), "抚养费")).await,
        [1],
        "simplified finds traditional"
    );
    assert_eq!(ids(index, &query(scope.clone(), "撫養費")).await, [1]);
    assert_eq!(
        ids(index, &query(scope.clone(), "土地承包經營權")).await,
        [2],
        "traditional finds simplified"
    );
    assert_eq!(
        ids(index, &query(scope, "3号楼")).await,
        [3],
        "full-width digits fold to ASCII"
    );
}

async fn homophone_typos_are_found_below_exact_matches(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let docs = vec![
        CaseDoc {
            title: "房屋征收补偿款未到位".into(),
            ..case(1, at)
        },
        CaseDoc {
            title: "子女不履行赡养义务".into(),
            ..case(2, at)
        },
        CaseDoc {
            title: "争收费用引发口角".into(),
            ..case(3, at)
        },
        CaseDoc {
            title: "邻里争执".into(),
            ..case(4, at)
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    let found = ids(index, &query(scope.clone(), "争收")).await;
    assert!(found.contains(&1), "争收 finds 征收: {found:?}");
    assert!(
        !found.contains(&4),
        "a typo does not find unrelated words: {found:?}"
    );
    assert_eq!(
        found.first(),
        Some(&3),
        "the literal match ranks first: {found:?}"
    );
    assert_eq!(
        ids(index, &query(scope.clone(), "善养")).await,
        [2],
        "善养 finds 赡养"
    );
    assert_eq!(ids(index, &query(scope, "征收")).await.first(), Some(&1));
    sounds_follow_each_other(index, county).await;
}

/// A typed form is found by its sound only where its syllables follow each other in one text.
async fn sounds_follow_each_other(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let docs = vec![
        CaseDoc {
            title: "山林权属争议".into(),
            party_names: vec!["王建华".into(), "张建国".into()],
            ..case(11, at)
        },
        CaseDoc {
            title: "买卖合同纠纷".into(),
            party_names: vec!["汪健国".into()],
            ..case(12, at)
        },
        CaseDoc {
            title: "修理费用争议".into(),
            party_names: vec!["王建国".into()],
            ..case(13, at)
        },
    ];
    upsert(index, &docs).await;
    let found = ids(index, &query(Scope::county(county), "王建国")).await;
    assert_eq!(
        found.first(),
        Some(&13),
        "the name as typed ranks first: {found:?}"
    );
    assert!(found.contains(&12), "the same sound in one name: {found:?}");
    assert!(
        !found.contains(&11),
        "王建 of one name and 建国 of another are not 王建国: {found:?}"
    );
}

async fn identifiers_match_whole_and_never_in_part(index: &dyn CaseIndex, county: i64) {
    let at = path(county, TenantLevel::Village, false);
    let phone = "13812345678";
    let id_card = "11010519491231002X";
    let docs = vec![
        CaseDoc {
            title: "借款纠纷".into(),
            party_names: vec!["赵六".into()],
            phone_hashes: vec![test_hash(phone)],
            id_card_hashes: vec![test_hash(id_card)],
            ..case(1, at)
        },
        CaseDoc {
            title: "借款纠纷".into(),
            description: format!("来电人留下号码{phone}，身份证{id_card}。"),
            ..case(2, at)
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    assert_eq!(
        ids(index, &query(scope.clone(), phone)).await,
        [1],
        "a whole phone finds its party only"
    );
    assert_eq!(
        ids(index, &query(scope.clone(), "138 1234 5678"))
            .await
            .len(),
        0,
        "spaces split a number into fragments"
    );
    assert_eq!(
        ids(index, &query(scope.clone(), "11010519491231002x")).await,
        [1],
        "a whole ID number finds its party"
    );
    assert_eq!(
        ids(index, &query(scope.clone(), &format!("借款 {phone}"))).await,
        [1],
        "text and a number together"
    );
    for fragment in [
        "1381234",
        "5678",
        "12345678",
        "110105",
        "19491231",
        "1101051949123100",
    ] {
        assert!(
            ids(index, &query(scope.clone(), fragment)).await.is_empty(),
            "the fragment {fragment} finds nothing"
        );
    }
    assert!(
        ids(index, &query(scope.clone(), "110105194912310021"))
            .await
            .is_empty(),
        "an ID number with a wrong check character finds nothing"
    );
    let raw = SearchQuery {
        identifier_hashes: vec![phone.to_owned()],
        ..SearchQuery::new(scope)
    };
    assert!(
        ids(index, &raw).await.is_empty(),
        "the raw number is not what is indexed"
    );
}

async fn fingerprints_follow_the_documents(index: &dyn CaseIndex, county: i64) {
    let in_a = |id| CaseDoc {
        title: format!("甲乡案件{id}"),
        ..case(id, path(county, TenantLevel::Village, false))
    };
    let in_b = |id| CaseDoc {
        title: format!("乙乡案件{id}"),
        ..case(id, path(county, TenantLevel::Village, true))
    };
    let docs = vec![in_a(1), in_a(2), in_b(10), in_b(11), in_b(12)];
    upsert(index, &docs).await;
    let whole = must("fingerprinting", index.fingerprint(county, None).await);
    assert_eq!(whole, Fingerprint::of(&docs));
    assert_eq!(whole.count, 5);
    let a = Subtree {
        level: TenantLevel::Township,
        tenant: TOWNSHIP_A,
    };
    assert_eq!(
        must("fingerprinting", index.fingerprint(county, Some(a)).await),
        Fingerprint::of(&docs[..2])
    );
    let digests = must("listing digests", index.digests(county, None).await);
    assert_eq!(
        digests,
        docs.iter().map(|d| (d.id, d.digest())).collect::<Vec<_>>(),
        "digests come sorted by id"
    );
    let mut changed = in_b(12);
    changed.overdue = true;
    upsert(index, std::slice::from_ref(&changed)).await;
    assert_ne!(
        must("fingerprinting", index.fingerprint(county, None).await),
        whole,
        "a change shows"
    );
    delete(index, &[12]).await;
    assert_eq!(
        must("fingerprinting", index.fingerprint(county, None).await),
        Fingerprint::of(&docs[..4])
    );
    assert_eq!(
        must(
            "fingerprinting",
            index.fingerprint(county + 502, None).await
        ),
        Fingerprint::default()
    );
}

async fn partial_words_and_names_are_found(index: &dyn CaseIndex, county: i64) {
    let docs = vec![
        CaseDoc {
            title: "宅基地确权纠纷".into(),
            party_names: vec!["欧阳建国".into(), "李秀英".into()],
            place: "柳树村三组".into(),
            addresses: vec!["柳树村三组12号".into()],
            ..case(1, path(county, TenantLevel::Village, false))
        },
        CaseDoc {
            title: "劳动报酬争议".into(),
            category: Category::Labour,
            ..case(2, path(county, TenantLevel::Village, false))
        },
    ];
    upsert(index, &docs).await;
    let scope = Scope::county(county);
    for text in [
        "宅基",
        "欧阳建国",
        "建国",
        "李秀英",
        "秀英",
        "柳树村",
        "树村三组",
        "12号",
    ] {
        assert_eq!(
            ids(index, &query(scope.clone(), text)).await,
            [1],
            "{text} finds case 1"
        );
    }
    assert_eq!(
        ids(index, &query(scope, "劳动争议")).await,
        [2],
        "the category's name is searchable"
    );
}

async fn bad_queries_are_refused(index: &dyn CaseIndex) {
    let scope = Scope::county(9020);
    let bad = |q: SearchQuery| async move { index.search(&q).await };
    for q in [
        SearchQuery::new(scope.clone()).page(0, None),
        SearchQuery::new(scope.clone()).page(MAX_FIRST + 1, None),
        query(scope.clone(), &"长".repeat(201)),
        SearchQuery::new(scope.clone()).with_filters(Filters {
            registered_from: Some(base_time()),
            registered_before: Some(base_time()),
            ..Filters::default()
        }),
    ] {
        assert!(
            matches!(bad(q.clone()).await, Err(SearchError::BadQuery { .. })),
            "{q:?} is refused"
        );
    }
    assert!(matches!(
        Cursor::decode("nonsense"),
        Err(SearchError::BadQuery { .. })
    ));
    assert!(matches!(
        Cursor::decode("s1:999999"),
        Err(SearchError::BadQuery { .. })
    ));
}

/// The rebuild contract, on an index of its own: it replaces everything in it.
pub async fn rebuild_contract(index: &dyn CaseIndex) {
    let county = 9100;
    let at = path(county, TenantLevel::Village, false);
    let a = CaseDoc {
        title: "旧索引甲案".into(),
        ..case(1, at)
    };
    let b = CaseDoc {
        title: "旧索引乙案".into(),
        ..case(2, at)
    };
    upsert(index, &[a, b]).await;
    let scope = Scope::county(county);
    let all = || SearchQuery::new(scope.clone());

    let abandoned = must("starting a rebuild", index.rebuild().await);
    drop(abandoned);
    assert_eq!(
        id_set(index, &all()).await,
        [1, 2],
        "an abandoned rebuild changes nothing"
    );

    let mut rebuild = must("starting a rebuild", index.rebuild().await);
    let a2 = CaseDoc {
        title: "新索引甲案".into(),
        ..case(1, at)
    };
    let c = CaseDoc {
        title: "新索引丙案".into(),
        ..case(3, at)
    };
    must(
        "adding to a rebuild",
        rebuild.add(&[a2.clone(), c.clone()]).await,
    );
    must(
        "adding to a rebuild",
        rebuild.add(std::slice::from_ref(&c)).await,
    );
    assert_eq!(
        id_set(index, &all()).await,
        [1, 2],
        "the live index serves until the swap"
    );
    must("publishing a rebuild", rebuild.publish().await);
    assert_eq!(
        id_set(index, &all()).await,
        [1, 3],
        "the rebuilt index replaces the old one at once"
    );
    assert_eq!(ids(index, &query(scope.clone(), "新索引")).await.len(), 2);
    assert!(ids(index, &query(scope.clone(), "旧索引")).await.is_empty());
    assert_eq!(
        must("fingerprinting", index.fingerprint(county, None).await),
        Fingerprint::of([&a2, &c])
    );
    let d = CaseDoc {
        title: "新索引丁案".into(),
        ..case(4, at)
    };
    upsert(index, &[d]).await;
    assert_eq!(
        id_set(index, &all()).await,
        [1, 3, 4],
        "changes after a swap go to the new index"
    );
}
