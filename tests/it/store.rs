//! Store behaviour that HTTP cannot show: unique case codes under concurrency and across processes,
//! optimistic concurrency on transitions, and refresh tokens spent once. Runs on SQLite, and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

use std::collections::BTreeSet;
use std::sync::Arc;

use fengqiao::app::Registration;
use fengqiao::error::ApiError;
use fengqiao::store::Store;
use fengqiao::store::cases::{NewCase, NewParty, Transition};
use fengqiao::store::tokens::Spend;
use fengqiao_domain::lifecycle::Context;
use fengqiao_domain::{CaseKind, Category, Channel, Command, PartyRole};
use fengqiao_tenancy::{Principal, Role, Target, act, hash_password};

use fengqiao::store::scope::{as_system, within};

use crate::helpers::{TestApp, anonymous};

fn new_case(title: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Dispute,
        complexity: fengqiao_domain::clocks::Complexity::General,
        channel: Channel::Window,
        category: Category::Lending,
        title: title.into(),
        description: "借款五万元逾期未还".into(),
        place: String::new(),
        parties: vec![NewParty {
            role: PartyRole::Applicant,
            name: "王建国".into(),
            id_card: None,
            phone: None,
            address: String::new(),
        }],
        idempotency: None,
    }
}

async fn clerk(app: &TestApp) -> Principal {
    let hash = hash_password(crate::helpers::PASSWORD).unwrap();
    let user = app
        .as_caller(
            &app.admin,
            app.state.create_user_hashed(
                &app.admin,
                app.county.id,
                &format!("{}.storeclerk", app.tag),
                "受理员",
                &hash,
                false,
                None,
            ),
        )
        .await
        .unwrap();
    app.as_caller(
        &app.security,
        app.state.grant_role(
            &app.security,
            user.id,
            app.county.id,
            Role::IntakeClerk,
            None,
        ),
    )
    .await
    .unwrap();
    Principal {
        user_id: user.id,
        tenant_id: app.county.id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_codes_stay_unique_under_concurrent_intake_and_across_processes() {
    let app = TestApp::spawn().await;
    let clerk = clerk(&app).await;
    // A second store on the same database stands for a second server process.
    let other = Arc::new(Store::connect(&app.database_url, 4).await.unwrap());
    let scope = app.state.db_scope(&clerk).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let state = app.state.clone();
        let clerk = clerk.clone();
        let other = other.clone();
        tasks.push(tokio::spawn(within(scope.clone(), async move {
            if i % 3 == 0 {
                let tenant = state
                    .directory
                    .must(&state.store, clerk.tenant_id)
                    .await
                    .unwrap();
                let permit = state
                    .authz
                    .permit::<act::CaseRegister>(
                        &clerk,
                        &Target::in_tenant(Some(tenant.id), tenant.ancestry),
                    )
                    .await
                    .unwrap();
                other
                    .register_case(
                        &permit,
                        &tenant,
                        new_case("另一进程"),
                        &fengqiao::store::cases::Assessed {
                            accept_by: state.now().date_naive(),
                            risk: fengqiao_domain::risk::RiskRules::default()
                                .grade(&Default::default()),
                        },
                        &state.vault,
                        state.now(),
                    )
                    .await
                    .unwrap()
                    .into_parts()
                    .0
                    .0
                    .code
            } else {
                state
                    .register_case(
                        &clerk,
                        Registration {
                            tenant_id: None,
                            case: new_case("并发登记"),
                        },
                    )
                    .await
                    .unwrap()
                    .0
                    .code
            }
        })));
    }
    let mut codes = BTreeSet::new();
    for task in tasks {
        let code = task.await.unwrap();
        assert!(code.starts_with(&app.county.code.as_str()[..6]));
        assert!(codes.insert(code.clone()), "duplicate case code {code}");
    }
    assert_eq!(codes.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_on_a_stale_read_is_refused_not_lost() {
    let app = TestApp::spawn().await;
    let clerk = clerk(&app).await;
    app.as_caller(&clerk, async {
        let (case, _) = app
            .state
            .register_case(
                &clerk,
                Registration {
                    tenant_id: None,
                    case: new_case("并发操作"),
                },
            )
            .await
            .unwrap();
        let (stale, permit) = app
            .state
            .case_for_command(&clerk, case.id, &Command::Accept)
            .await
            .unwrap();
        let ctx = Context {
            now: app.state.now(),
            has_parent_tenant: false,
        };
        let next = stale.state.apply(&Command::Accept, ctx).unwrap();
        let transition = || Transition {
            command: &Command::Accept,
            next: &next,
            tenant_after: stale.tenant_id,
            unit_id: None,
            note: "",
            data: serde_json::json!({}),
            clocks: stale.clocks,
            resolved_level: None,
            risk: stale.risk.clone(),
        };
        let first = app
            .state
            .store
            .apply_transition(&permit, &stale, transition(), app.state.now())
            .await
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(first.version, stale.version + 1);
        let second = app
            .state
            .store
            .apply_transition(&permit, &stale, transition(), app.state.now())
            .await;
        assert!(matches!(second, Err(ApiError::Conflict(_))), "{second:?}");
        let events = app.state.store.events(case.id).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.command == "accept").count(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_raced_by_a_thief_ends_the_whole_session() {
    let app = TestApp::spawn().await;
    anonymous(async {
        let session = app
            .state
            .sign_in(
                &format!("{}.admin", app.tag),
                crate::helpers::PASSWORD,
                None,
                None,
                "",
            )
            .await
            .unwrap();
        let secret = session.refresh_token.clone();
        let racers = (0..8).map(|_| {
            let state = app.state.clone();
            let secret = secret.clone();
            tokio::spawn(anonymous(async move { state.refresh(&secret).await }))
        });
        let mut winners = Vec::new();
        for racer in racers.collect::<Vec<_>>() {
            match racer.await.unwrap() {
                Ok(session) => winners.push(session),
                Err(ApiError::Unauthenticated(_)) => {}
                Err(other) => panic!("unexpected {}", other.detail()),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one use spends the token");
        // The others revealed a reuse: the winner's new refresh token must be dead as well.
        let successor = app.state.refresh(&winners[0].refresh_token).await;
        assert!(
            matches!(successor, Err(ApiError::Unauthenticated(_))),
            "the successor survived the revocation"
        );
        let expired = format!("{}-expired", app.tag);
        let now = app.state.now();
        let family = format!("{}-f2", app.tag);
        as_system(app.state.store.open_session(
            fengqiao::store::sessions::NewSession {
                family_id: &family,
                county_id: app.county.id,
                user_id: app.admin.user_id,
                at: now - chrono::Duration::days(2),
                expires_at: now - chrono::Duration::days(1),
                client_address: None,
                user_agent: "",
                refresh_hash: &expired,
                refresh_expires_at: now - chrono::Duration::days(1),
            },
            5,
        ))
        .await
        .unwrap();
        let spend = app
            .state
            .store
            .rotate_refresh_token(
                &expired,
                "never-saved",
                now,
                now + chrono::Duration::days(1),
            )
            .await;
        assert_eq!(spend.unwrap(), Spend::Invalid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commands_end_as_if_they_came_one_after_the_other() {
    let app = TestApp::spawn().await;
    let clerk = clerk(&app).await;
    app.as_caller(&clerk, async {
        let (case, _) = app
            .state
            .register_case(
                &clerk,
                Registration {
                    tenant_id: None,
                    case: new_case("同时受理"),
                },
            )
            .await
            .unwrap();
        let scope = app.state.db_scope(&clerk).await.unwrap();
        let racers = (0..6).map(|_| {
            let state = app.state.clone();
            let clerk = clerk.clone();
            tokio::spawn(within(scope.clone(), async move {
                state.transition(&clerk, case.id, Command::Accept).await
            }))
        });
        let mut accepted = 0;
        for racer in racers.collect::<Vec<_>>() {
            match racer.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(ApiError::InvalidTransition(_)) => {}
                Err(other) => panic!("unexpected {}", other.detail()),
            }
        }
        assert_eq!(accepted, 1);
        let events = app.state.store.events(case.id).await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| e.command.as_str())
                .collect::<Vec<_>>(),
            ["register", "accept"]
        );
    })
    .await;
}
