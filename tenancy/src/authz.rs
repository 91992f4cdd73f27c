//! Authorization: casbin decides, from role permissions and grants, whether a principal may take an
//! action on a target; the answer is a `Permit` or a `Denied`.
//!
//! Grants are `(user, role, tenant)` groupings. A request is checked once for each tenant of the target's
//! ancestor chain (at most four), so a grant at a tenant reaches its whole subtree with plain equality on the
//! domain, and siblings never match each other.

use std::collections::HashMap;

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi, StringAdapter};
use fengqiao_domain::{Ancestry, Command, TenantLevel, vocabulary};
use tokio::sync::RwLock;

const MODEL: &str = include_str!("../casbin/model.conf");
const ROLE_PERMISSIONS: &str = include_str!("../casbin/roles.csv");

vocabulary! {
    /// Roles of docs/DOMAIN.md, granted per tenant and inherited by its subtree.
    Role {
        /// The system administrator (系统管理员): the tenant tree, accounts and units.
        CountyAdmin = "county_admin",
        /// The security administrator (安全保密管理员): role grants.
        SecurityAdmin = "security_admin",
        CenterDirector = "center_director",
        IntakeClerk = "intake_clerk",
        Dispatcher = "dispatcher",
        UnitHandler = "unit_handler",
        Mediator = "mediator",
        GridMember = "grid_member",
        Supervisor = "supervisor",
        Auditor = "auditor",
    }
}

vocabulary! {
    /// Everything that is authorized, named `object.verb`.
    Action {
        TenantRead = "tenant.read",
        TenantCreate = "tenant.create",
        /// Set a center's own rules, such as its clock policies.
        TenantConfigure = "tenant.configure",
        UserRead = "user.read",
        UserCreate = "user.create",
        /// Deactivate or reactivate an account (the system administrator's).
        UserManage = "user.manage",
        RoleGrant = "role.grant",
        /// Take back a role granted before (the security administrator's).
        RoleRevoke = "role.revoke",
        UnitRead = "unit.read",
        UnitCreate = "unit.create",
        UnitManageMembers = "unit.manage_members",
        CaseRead = "case.read",
        CaseRegister = "case.register",
        CaseAccept = "case.accept",
        CaseReject = "case.reject",
        CaseDispatch = "case.dispatch",
        CaseClaim = "case.claim",
        CaseReturn = "case.return",
        CaseReviewReturn = "case.review_return",
        CaseResolve = "case.resolve",
        CaseUnresolve = "case.unresolve",
        CaseEscalate = "case.escalate",
        CaseFollowUp = "case.follow_up",
        CaseClose = "case.close",
        CaseReopen = "case.reopen",
        CaseRevealPersonalData = "case.reveal_personal_data",
        /// Approve extending a case's conclusion deadline.
        CaseExtend = "case.extend",
        /// Issue a supervision order on a subordinate center's case.
        CaseSupervise = "case.supervise",
        /// Answer a supervision order on one's own center's case.
        CaseRespondSupervision = "case.respond_supervision",
        AuditRead = "audit.read",
        /// Set a county's security policy: session lifetimes, concurrent sessions, password expiry (the
        /// security administrator's).
        SecurityConfigure = "security.configure",
        /// Read a center's rollups (dashboard, monthly report): figures, never personal data.
        RollupRead = "rollup.read",
    }
}

impl Action {
    fn split(self) -> (&'static str, &'static str) {
        self.as_str().split_once('.').unwrap_or((self.as_str(), ""))
    }

    /// The read action of the same object: whoever lacks it must not learn the object exists.
    pub fn read_of_object(self) -> Action {
        use Action::*;
        match self {
            TenantRead | TenantCreate | TenantConfigure | SecurityConfigure => TenantRead,
            UserRead | UserCreate | UserManage | RoleGrant | RoleRevoke => UserRead,
            UnitRead | UnitCreate | UnitManageMembers => UnitRead,
            AuditRead => AuditRead,
            RollupRead => RollupRead,
            CaseRead
            | CaseRegister
            | CaseAccept
            | CaseReject
            | CaseDispatch
            | CaseClaim
            | CaseReturn
            | CaseReviewReturn
            | CaseResolve
            | CaseUnresolve
            | CaseEscalate
            | CaseFollowUp
            | CaseClose
            | CaseReopen
            | CaseRevealPersonalData
            | CaseExtend
            | CaseSupervise
            | CaseRespondSupervision => CaseRead,
        }
    }

    pub fn is_read(self) -> bool {
        self.read_of_object() == self
    }

    /// The action whose absence hides the target altogether (`NOT_FOUND` rather than `FORBIDDEN`): the
    /// object's read action, except that rollups are figures of a tenant, so whoever sees the tenant
    /// learns that its rollups exist.
    pub fn visible_with(self) -> Action {
        match self {
            // Both are done at a tenant: whoever sees the tenant knows it exists, and is told why not.
            Action::RollupRead | Action::CaseRegister => Action::TenantRead,
            other => other.read_of_object(),
        }
    }

    /// The action a lifecycle command needs.
    pub fn for_command(command: &Command) -> Action {
        match command {
            Command::Accept => Action::CaseAccept,
            Command::Reject { .. } => Action::CaseReject,
            Command::Dispatch { .. } => Action::CaseDispatch,
            Command::Claim => Action::CaseClaim,
            Command::Return { .. } => Action::CaseReturn,
            Command::ReviewReturn(_) => Action::CaseReviewReturn,
            Command::Resolve { .. } => Action::CaseResolve,
            Command::Unresolve { .. } => Action::CaseUnresolve,
            Command::Escalate { .. } => Action::CaseEscalate,
            Command::FollowUp { .. } => Action::CaseFollowUp,
            Command::Close => Action::CaseClose,
            Command::Reopen { .. } => Action::CaseReopen,
        }
    }
}

vocabulary! {
    /// How the principal stands to the target resource.
    Relation {
        /// A member of the case's lead unit.
        Lead = "lead",
        /// A member of one of the case's co-units.
        Co = "co",
        /// A member of the lead unit, which is rotating and off its duty shift now: it may read.
        LeadOffShift = "lead_off_shift",
        /// A member of a co-unit that is rotating and off its duty shift now: it may read.
        CoOffShift = "co_off_shift",
        /// A member of an on-call unit summoned to the case and neither its lead unit nor a co-unit yet.
        Summoned = "summoned",
        /// No unit of the principal works the case, but the principal registered it (a grid member's own
        /// report).
        Reporter = "reporter",
        None = "none",
    }
}

/// The signed-in actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    /// The tenant the user belongs to and acts in.
    pub tenant_id: i64,
}

/// A role granted to a user at a tenant, reaching the tenant's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grant {
    pub user_id: i64,
    pub role: Role,
    pub tenant_id: i64,
    pub level: TenantLevel,
}

/// What an action is taken on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource_id: Option<i64>,
    /// Where the resource may be seen from: for a case, the tenant where it was registered. Every ancestor
    /// of it sees it, which includes any center it was escalated to.
    pub visible_in: Ancestry,
    /// Where the resource is worked: for a case, the center currently handling it.
    pub owned_by: Ancestry,
    pub lead_unit: Option<i64>,
    pub co_units: Vec<i64>,
    /// Units of the case that are rotating and off their duty shift now (they may only read).
    pub off_shift_units: Vec<i64>,
    /// On-call units of the case without an open summons to it: their members are as strangers to it.
    pub hidden_units: Vec<i64>,
    /// On-call units with an open summons to the case.
    pub summoned_units: Vec<i64>,
    /// Who registered the resource (a case's reporter).
    pub reported_by: Option<i64>,
}

impl Target {
    /// A resource that lives in one tenant, such as the tenant itself, a unit or a user.
    pub fn in_tenant(resource_id: Option<i64>, tenant: Ancestry) -> Self {
        Target {
            resource_id,
            visible_in: tenant,
            owned_by: tenant,
            lead_unit: None,
            co_units: Vec::new(),
            off_shift_units: Vec::new(),
            hidden_units: Vec::new(),
            summoned_units: Vec::new(),
            reported_by: None,
        }
    }
}

/// The action a permit is for, as a type: `Permit<act::CaseExtend>` can be passed only where extending a
/// case is checked, so handing a use case a permit for another action does not compile. Sealed: the acts are
/// the ones below.
pub trait Act: sealed::Sealed + Send + Sync + 'static {
    /// The casbin action checked for it.
    const ACTION: Action;
}

/// An act a member of a unit takes for the unit, on a case the member may read: reporting to a summons.
pub trait MemberAct: sealed::Sealed + Send + Sync + 'static {
    const NAME: &'static str;
}

mod sealed {
    pub trait Sealed {}
}

/// The acts, one type for each action that a use case checks (see `Act`).
pub mod act {
    use super::{Act, Action, MemberAct, sealed::Sealed};

    macro_rules! acts {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("A permit for `Action::", stringify!($name), "`.")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub enum $name {}
            impl Sealed for $name {}
            impl Act for $name {
                const ACTION: Action = Action::$name;
            }
        )*};
    }

    acts!(
        TenantRead,
        TenantCreate,
        TenantConfigure,
        UserRead,
        UserCreate,
        UserManage,
        RoleGrant,
        RoleRevoke,
        UnitRead,
        UnitCreate,
        UnitManageMembers,
        CaseRead,
        CaseRegister,
        CaseDispatch,
        CaseRevealPersonalData,
        CaseExtend,
        CaseSupervise,
        CaseRespondSupervision,
        AuditRead,
        SecurityConfigure,
        RollupRead,
    );

    /// A lifecycle command (accept, dispatch, claim, resolve, …): the permit holds the command's action,
    /// and the store checks it against the command it applies.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Lifecycle {}
    impl Sealed for Lifecycle {}

    /// Reporting (报到) to a summons: only a member of the summoned unit, on a case it may read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ReportSummons {}
    impl Sealed for ReportSummons {}
    impl MemberAct for ReportSummons {
        const NAME: &'static str = "summons.report";
    }

    /// Releasing a summons: the center that may dispatch the case, or a member of the summoned unit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ReleaseSummons {}
    impl Sealed for ReleaseSummons {}
    impl Act for ReleaseSummons {
        const ACTION: Action = Action::CaseDispatch;
    }
    impl MemberAct for ReleaseSummons {
        const NAME: &'static str = "summons.release";
    }
}

/// Proof that an authorization check for the act `A` passed. Only the `Authorizer` makes one, so a store
/// method that takes a `&Permit<A>` cannot be called without the check for `A`:
///
/// ```compile_fail
/// use fengqiao_tenancy::{Permit, act};
/// fn extend(_: &Permit<act::CaseExtend>) {}
/// fn with(read: Permit<act::CaseRead>) {
///     extend(&read); // a read permit is not a permit to extend
/// }
/// ```
///
/// ```compile_fail
/// use fengqiao_tenancy::{Permit, act};
/// fn report(_: &Permit<act::ReportSummons>) {}
/// fn with(read: Permit<act::CaseRead>) {
///     report(&read); // reading the case is not reporting to its summons
/// }
/// ```
///
/// ```compile_fail
/// // Nobody outside the authorizer makes one.
/// let forged = fengqiao_tenancy::Permit::<fengqiao_tenancy::act::CaseExtend> {
///     user_id: 1, action: fengqiao_tenancy::Action::CaseExtend, tenant_id: 1, resource_id: None,
///     act: std::marker::PhantomData,
/// };
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Permit<A> {
    user_id: i64,
    action: Action,
    tenant_id: i64,
    resource_id: Option<i64>,
    act: std::marker::PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for Permit<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("act", &std::any::type_name::<A>().rsplit("::").next())
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("tenant_id", &self.tenant_id)
            .field("resource_id", &self.resource_id)
            .finish()
    }
}

impl<A> Permit<A> {
    fn new(user_id: i64, action: Action, tenant_id: i64, resource_id: Option<i64>) -> Self {
        Permit {
            user_id,
            action,
            tenant_id,
            resource_id,
            act: std::marker::PhantomData,
        }
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The casbin action that was checked (for a lifecycle permit, the command's).
    pub fn action(&self) -> Action {
        self.action
    }

    /// The tenant whose grant allowed the action.
    pub fn granted_at(&self) -> i64 {
        self.tenant_id
    }

    pub fn resource_id(&self) -> Option<i64> {
        self.resource_id
    }

    /// Whether this permit is for the resource `resource_id`.
    pub fn is_for(&self, resource_id: Option<i64>) -> bool {
        self.resource_id == resource_id
    }
}

impl Permit<act::Lifecycle> {
    /// Whether this permit is for `command` on `resource_id`.
    pub fn covers(&self, command: &Command, resource_id: Option<i64>) -> bool {
        self.action == Action::for_command(command) && self.resource_id == resource_id
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The principal may not even see the target; callers answer as if it did not exist.
    #[error("not found")]
    NotVisible,
    /// The principal sees the target but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
}

/// The authorizer itself failed (a broken model or policy), which is never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error("authorization engine: {0}")]
pub struct AuthzError(String);

impl From<casbin::Error> for AuthzError {
    fn from(error: casbin::Error) -> Self {
        AuthzError(error.to_string())
    }
}

/// Where a principal may read cases from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseScope {
    /// Subtrees, as (level, tenant id), in which every case is readable.
    pub subtrees: Vec<(TenantLevel, i64)>,
    /// Subtrees in which only the cases of the principal's units are readable.
    pub unit_subtrees: Vec<(TenantLevel, i64)>,
    /// The principal's units.
    pub units: Vec<i64>,
    /// Cases the principal's on-call units are summoned to (readable while the summons is open).
    pub summoned_cases: Vec<i64>,
    /// Subtrees in which only the cases the principal registered are readable (a grid member's reports),
    /// and the principal.
    pub report_subtrees: Vec<(TenantLevel, i64)>,
    pub reporter: Option<i64>,
}

struct State {
    enforcer: Enforcer,
    grants: HashMap<i64, Vec<Grant>>,
    members: HashMap<i64, Vec<i64>>,
}

pub struct Authorizer {
    state: RwLock<State>,
    /// Case scopes worked out since the user's grants or units last changed, by user: a list request needs
    /// its caller's scope every time, and working it out asks casbin once or twice per grant. Filled while
    /// the state is read-locked and emptied (for the user concerned, or all on a reload) while it is
    /// write-locked, so an entry never outlives the policy it came from.
    scopes: std::sync::Mutex<HashMap<i64, CaseScope>>,
}

/// Case scopes kept at most; the cache starts over beyond it.
const SCOPES_KEPT: usize = 100_000;

fn subject(user_id: i64) -> String {
    format!("u{user_id}")
}

fn domain(tenant_id: i64) -> String {
    format!("t{tenant_id}")
}

impl Authorizer {
    /// Builds the enforcer from the model and role permissions shipped in this crate, with no grants.
    pub async fn new() -> Result<Self, AuthzError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let policies: String = ROLE_PERMISSIONS
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .map(|line| format!("{line}\n"))
            .collect();
        let mut enforcer = Enforcer::new(model, StringAdapter::new(policies)).await?;
        // Grants live in the store and are loaded from it; the enforcer never writes back to its adapter.
        enforcer.enable_auto_save(false);
        Ok(Authorizer {
            state: RwLock::new(State {
                enforcer,
                grants: HashMap::new(),
                members: HashMap::new(),
            }),
            scopes: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Forgets the cached case scope of `user`, or of everyone; called with the state write-locked (or
    /// by a benchmark that wants the cost of working scopes out).
    pub fn forget_scopes(&self, user: Option<i64>) {
        let mut scopes = match self.scopes.lock() {
            Ok(scopes) => scopes,
            Err(poisoned) => poisoned.into_inner(),
        };
        match user {
            Some(user) => {
                scopes.remove(&user);
            }
            None => scopes.clear(),
        }
    }

    /// Replaces every grant and unit membership, as loaded from the store.
    pub async fn load(&self, grants: &[Grant], members: &[(i64, i64)]) -> Result<(), AuthzError> {
        let mut state = self.state.write().await;
        self.forget_scopes(None);
        let old: Vec<Vec<String>> = state.enforcer.get_grouping_policy();
        if !old.is_empty() {
            state.enforcer.remove_grouping_policies(old).await?;
        }
        state.grants.clear();
        state.members.clear();
        let rules: Vec<Vec<String>> = grants
            .iter()
            .map(|g| {
                vec![
                    subject(g.user_id),
                    g.role.as_str().to_owned(),
                    domain(g.tenant_id),
                ]
            })
            .collect();
        if !rules.is_empty() {
            state.enforcer.add_grouping_policies(rules).await?;
        }
        for grant in grants {
            state.grants.entry(grant.user_id).or_default().push(*grant);
        }
        for (unit, user) in members {
            state.members.entry(*user).or_default().push(*unit);
        }
        Ok(())
    }

    pub async fn add_grant(&self, grant: Grant) -> Result<(), AuthzError> {
        let mut state = self.state.write().await;
        self.forget_scopes(Some(grant.user_id));
        let rule = vec![
            subject(grant.user_id),
            grant.role.as_str().to_owned(),
            domain(grant.tenant_id),
        ];
        state.enforcer.add_grouping_policy(rule).await?;
        let list = state.grants.entry(grant.user_id).or_default();
        if !list.contains(&grant) {
            list.push(grant);
        }
        Ok(())
    }

    pub async fn add_member(&self, unit_id: i64, user_id: i64) {
        let mut state = self.state.write().await;
        self.forget_scopes(Some(user_id));
        let units = state.members.entry(user_id).or_default();
        if !units.contains(&unit_id) {
            units.push(unit_id);
        }
    }

    /// Takes a grant back; removing one that is not held is harmless.
    pub async fn remove_grant(&self, grant: Grant) -> Result<(), AuthzError> {
        let mut state = self.state.write().await;
        self.forget_scopes(Some(grant.user_id));
        let rule = vec![
            subject(grant.user_id),
            grant.role.as_str().to_owned(),
            domain(grant.tenant_id),
        ];
        state.enforcer.remove_grouping_policy(rule).await?;
        if let Some(list) = state.grants.get_mut(&grant.user_id) {
            list.retain(|g| g.role != grant.role || g.tenant_id != grant.tenant_id);
        }
        Ok(())
    }

    pub async fn remove_member(&self, unit_id: i64, user_id: i64) {
        let mut state = self.state.write().await;
        self.forget_scopes(Some(user_id));
        if let Some(units) = state.members.get_mut(&user_id) {
            units.retain(|u| *u != unit_id);
        }
    }

    /// The user's grants.
    pub async fn grants_of(&self, user_id: i64) -> Vec<Grant> {
        self.state
            .read()
            .await
            .grants
            .get(&user_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The units the user is a member of.
    pub async fn units_of(&self, user_id: i64) -> Vec<i64> {
        self.state
            .read()
            .await
            .members
            .get(&user_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Checks `action` on `target` for `principal`.
    ///
    /// A principal who may not read the target gets `Denied::NotVisible` whatever the action, so that a
    /// refusal never tells a sibling tenant that the resource exists.
    pub async fn permit<A: Act>(
        &self,
        principal: &Principal,
        target: &Target,
    ) -> Result<Permit<A>, Denied> {
        let tenant_id = self.check(principal, A::ACTION, target).await?;
        Ok(Permit::new(
            principal.user_id,
            A::ACTION,
            tenant_id,
            target.resource_id,
        ))
    }

    /// Checks the action of a lifecycle `command` on `target` (as `permit` does).
    pub async fn permit_command(
        &self,
        principal: &Principal,
        command: &Command,
        target: &Target,
    ) -> Result<Permit<act::Lifecycle>, Denied> {
        let action = Action::for_command(command);
        let tenant_id = self.check(principal, action, target).await?;
        Ok(Permit::new(
            principal.user_id,
            action,
            tenant_id,
            target.resource_id,
        ))
    }

    /// Checks that `principal` may read `target` and is a member of `unit_id`, which takes the act `A`
    /// on it (reporting to a summons of that unit).
    pub async fn permit_member<A: MemberAct>(
        &self,
        principal: &Principal,
        target: &Target,
        unit_id: i64,
    ) -> Result<Permit<A>, Denied> {
        let tenant_id = self.check(principal, Action::CaseRead, target).await?;
        if !self.units_of(principal.user_id).await.contains(&unit_id) {
            return Err(Denied::Forbidden(format!(
                "{}: only a member of the summoned unit does this",
                A::NAME
            )));
        }
        Ok(Permit::new(
            principal.user_id,
            Action::CaseRead,
            tenant_id,
            target.resource_id,
        ))
    }

    /// Decides `action` on `target` for `principal`: the tenant whose grant allows it, or why not. Use
    /// cases take a `Permit` (`permit`); this is for questions that change nothing ("may this caller see
    /// that?").
    pub async fn check(
        &self,
        principal: &Principal,
        action: Action,
        target: &Target,
    ) -> Result<i64, Denied> {
        let state = self.state.read().await;
        let relation = relation(&state, principal.user_id, target);
        let chain = if action.is_read() {
            &target.visible_in
        } else {
            &target.owned_by
        };
        if let Some(tenant_id) = allowed_at(&state, principal.user_id, action, chain, relation) {
            return Ok(tenant_id);
        }
        let read = action.visible_with();
        if read == action
            || allowed_at(
                &state,
                principal.user_id,
                read,
                &target.visible_in,
                relation,
            )
            .is_none()
        {
            return Err(Denied::NotVisible);
        }
        let why = match relation {
            Relation::None
                if matches!(
                    action,
                    Action::CaseClaim
                        | Action::CaseReturn
                        | Action::CaseResolve
                        | Action::CaseUnresolve
                ) =>
            {
                "only the case's lead unit or a mediator can do this"
            }
            Relation::Co => {
                "a co-unit may read the case and add notes, but only the lead unit can do this"
            }
            Relation::LeadOffShift | Relation::CoOffShift => {
                "the unit is stationed here on a rotating duty roster (轮驻) and is not on a duty shift now: \
                 it may read the case, and act on it during its shifts"
            }
            _ if !action.is_read() && chain != &target.visible_in => {
                "the case is handled by another center now; it can be read here but not changed"
            }
            _ => "your roles here do not include this action",
        };
        Err(Denied::Forbidden(format!("{}: {why}", action.as_str())))
    }

    /// Where the principal may read cases from.
    pub async fn case_scope(&self, principal: &Principal) -> CaseScope {
        let state = self.state.read().await;
        let cached = match self.scopes.lock() {
            Ok(scopes) => scopes.get(&principal.user_id).cloned(),
            Err(_) => None,
        };
        if let Some(scope) = cached {
            return scope;
        }
        let scope = work_out_scope(&state, principal);
        if let Ok(mut scopes) = self.scopes.lock() {
            if scopes.len() >= SCOPES_KEPT {
                scopes.clear();
            }
            scopes.insert(principal.user_id, scope.clone());
        }
        scope
    }
}

/// Where `principal` may read cases from, by asking casbin at each tenant of its grants.
fn work_out_scope(state: &State, principal: &Principal) -> CaseScope {
    let mut scope = CaseScope {
        units: state
            .members
            .get(&principal.user_id)
            .cloned()
            .unwrap_or_default(),
        ..CaseScope::default()
    };
    let sub = subject(principal.user_id);
    let mut seen = Vec::new();
    for grant in state.grants.get(&principal.user_id).into_iter().flatten() {
        if seen.contains(&grant.tenant_id) {
            continue;
        }
        seen.push(grant.tenant_id);
        let dom = domain(grant.tenant_id);
        let any = state
            .enforcer
            .enforce((&sub, &dom, "case", "read", "none"))
            .unwrap_or(false);
        if any {
            scope.subtrees.push((grant.level, grant.tenant_id));
        } else if state
            .enforcer
            .enforce((&sub, &dom, "case", "read", "lead"))
            .unwrap_or(false)
        {
            scope.unit_subtrees.push((grant.level, grant.tenant_id));
        } else if state
            .enforcer
            .enforce((&sub, &dom, "case", "read", "reporter"))
            .unwrap_or(false)
        {
            scope.report_subtrees.push((grant.level, grant.tenant_id));
            scope.reporter = Some(principal.user_id);
        }
    }
    scope
}

fn relation(state: &State, user_id: i64, target: &Target) -> Relation {
    let units: Vec<i64> = state
        .members
        .get(&user_id)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|u| !target.hidden_units.contains(u))
        .copied()
        .collect();
    let on_shift = |unit: &i64| !target.off_shift_units.contains(unit);
    let lead = target.lead_unit.filter(|lead| units.contains(lead));
    let co: Vec<&i64> = target
        .co_units
        .iter()
        .filter(|co| units.contains(co))
        .collect();
    match lead {
        Some(lead) if on_shift(&lead) => Relation::Lead,
        _ if co.iter().any(|c| on_shift(c)) => Relation::Co,
        Some(_) => Relation::LeadOffShift,
        None if !co.is_empty() => Relation::CoOffShift,
        None if target.summoned_units.iter().any(|u| units.contains(u)) => Relation::Summoned,
        None if target.reported_by == Some(user_id) => Relation::Reporter,
        None => Relation::None,
    }
}

/// The first tenant of `chain`, from the county down, at which casbin allows the request.
fn allowed_at(
    state: &State,
    user_id: i64,
    action: Action,
    chain: &Ancestry,
    relation: Relation,
) -> Option<i64> {
    let grants = state.grants.get(&user_id)?;
    let (object, verb) = action.split();
    let sub = subject(user_id);
    chain.chain().into_iter().find(|tenant| {
        grants.iter().any(|g| g.tenant_id == *tenant)
            && state
                .enforcer
                .enforce((&sub, &domain(*tenant), object, verb, relation.as_str()))
                .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (Ancestry, Ancestry, Ancestry) {
        let county = Ancestry::county(1);
        (
            county,
            county.child(TenantLevel::Township, 1_1),
            county.child(TenantLevel::Township, 1_10),
        )
    }

    fn case_in(at: Ancestry, lead: Option<i64>, co: Vec<i64>) -> Target {
        Target {
            resource_id: Some(7),
            visible_in: at,
            owned_by: at,
            lead_unit: lead,
            co_units: co,
            off_shift_units: Vec::new(),
            hidden_units: Vec::new(),
            summoned_units: Vec::new(),
            reported_by: None,
        }
    }

    async fn authorizer(
        grants: &[(i64, Role, i64, TenantLevel)],
        members: &[(i64, i64)],
    ) -> Authorizer {
        let authz = Authorizer::new().await.unwrap();
        let grants: Vec<Grant> = grants
            .iter()
            .map(|(user_id, role, tenant_id, level)| Grant {
                user_id: *user_id,
                role: *role,
                tenant_id: *tenant_id,
                level: *level,
            })
            .collect();
        authz.load(&grants, members).await.unwrap();
        authz
    }

    #[tokio::test]
    async fn a_cached_case_scope_follows_every_grant_membership_and_reload() {
        let authz = authorizer(&[(100, Role::UnitHandler, 11, TenantLevel::Township)], &[]).await;
        let handler = Principal {
            user_id: 100,
            tenant_id: 11,
        };
        let first = authz.case_scope(&handler).await;
        assert_eq!(first.unit_subtrees, vec![(TenantLevel::Township, 11)]);
        assert!(first.units.is_empty());
        // Asked again, the same; after a membership, the unit is in it.
        assert_eq!(authz.case_scope(&handler).await, first);
        authz.add_member(7, 100).await;
        assert_eq!(authz.case_scope(&handler).await.units, vec![7]);
        // After a grant that reads everything at the township, the subtree is readable.
        authz
            .add_grant(Grant {
                user_id: 100,
                role: Role::Mediator,
                tenant_id: 11,
                level: TenantLevel::Township,
            })
            .await
            .unwrap_or_default();
        assert_eq!(
            authz.case_scope(&handler).await.subtrees,
            vec![(TenantLevel::Township, 11)]
        );
        // A reload without the user's grants leaves it nothing.
        authz.load(&[], &[]).await.unwrap_or_default();
        assert_eq!(authz.case_scope(&handler).await, CaseScope::default());
    }

    #[tokio::test]
    async fn a_revoked_grant_or_a_removed_membership_stops_at_once() {
        let (_, township, _) = tree();
        let mediator = Grant {
            user_id: 100,
            role: Role::Mediator,
            tenant_id: 1_1,
            level: TenantLevel::Township,
        };
        let handler = Grant {
            role: Role::UnitHandler,
            ..mediator
        };
        let authz = authorizer(
            &[
                (100, Role::Mediator, 1_1, TenantLevel::Township),
                (100, Role::UnitHandler, 1_1, TenantLevel::Township),
            ],
            &[(7, 100)],
        )
        .await;
        let who = Principal {
            user_id: 100,
            tenant_id: 1_1,
        };
        let case = case_in(township, Some(7), vec![]);
        assert!(authz.check(&who, Action::CaseResolve, &case).await.is_ok());
        assert_eq!(authz.case_scope(&who).await.units, vec![7]);

        authz.remove_grant(mediator).await.unwrap();
        assert_eq!(authz.grants_of(100).await, vec![handler]);
        // Still a handler of the lead unit: it resolves as a member, no longer as a mediator.
        assert!(authz.check(&who, Action::CaseResolve, &case).await.is_ok());
        assert!(authz.case_scope(&who).await.subtrees.is_empty());
        authz.remove_member(7, 100).await;
        assert!(authz.units_of(100).await.is_empty());
        assert!(authz.case_scope(&who).await.units.is_empty());
        assert!(authz.check(&who, Action::CaseResolve, &case).await.is_err());
        // Removing what is not held changes nothing and is no error.
        authz.remove_grant(mediator).await.unwrap();
        authz.remove_member(7, 100).await;
        assert_eq!(authz.grants_of(100).await, vec![handler]);
    }

    #[tokio::test]
    async fn a_grant_reaches_the_subtree_but_never_a_sibling() {
        let (county, a, b) = tree();
        let authz = authorizer(
            &[
                (100, Role::Dispatcher, 11, TenantLevel::Township),
                (200, Role::Supervisor, 1, TenantLevel::County),
            ],
            &[],
        )
        .await;
        let township_a = Principal {
            user_id: 100,
            tenant_id: 11,
        };
        let county_sup = Principal {
            user_id: 200,
            tenant_id: 1,
        };
        let village = a.child(TenantLevel::Village, 111);
        assert!(
            authz
                .check(
                    &township_a,
                    Action::CaseDispatch,
                    &case_in(village, None, vec![])
                )
                .await
                .is_ok()
        );
        assert_eq!(
            authz
                .check(&township_a, Action::CaseRead, &case_in(b, None, vec![]))
                .await,
            Err(Denied::NotVisible)
        );
        assert_eq!(
            authz
                .check(&township_a, Action::CaseDispatch, &case_in(b, None, vec![]))
                .await,
            Err(Denied::NotVisible)
        );
        assert_eq!(
            authz
                .check(
                    &township_a,
                    Action::CaseRead,
                    &case_in(county, None, vec![])
                )
                .await,
            Err(Denied::NotVisible)
        );
        assert!(
            authz
                .check(&county_sup, Action::CaseRead, &case_in(b, None, vec![]))
                .await
                .is_ok()
        );
        assert!(matches!(
            authz
                .check(&county_sup, Action::CaseDispatch, &case_in(b, None, vec![]))
                .await,
            Err(Denied::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_rotating_unit_off_its_shift_reads_but_does_not_act() {
        let (_, a, _) = tree();
        let authz = authorizer(
            &[(300, Role::UnitHandler, 11, TenantLevel::Township)],
            &[(50, 300)],
        )
        .await;
        let handler = Principal {
            user_id: 300,
            tenant_id: 11,
        };
        let off = Target {
            off_shift_units: vec![50],
            ..case_in(a, Some(50), vec![])
        };
        assert!(authz.check(&handler, Action::CaseRead, &off).await.is_ok());
        match authz.check(&handler, Action::CaseResolve, &off).await {
            Err(Denied::Forbidden(why)) => assert!(why.contains("duty shift"), "{why}"),
            other => panic!("expected FORBIDDEN, got {other:?}"),
        }
        let co_off = Target {
            off_shift_units: vec![50],
            ..case_in(a, Some(51), vec![50])
        };
        assert!(
            authz
                .check(&handler, Action::CaseRead, &co_off)
                .await
                .is_ok()
        );
        let on = case_in(a, Some(50), vec![]);
        assert!(
            authz
                .check(&handler, Action::CaseResolve, &on)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn unit_handlers_act_only_on_their_lead_cases() {
        let (_, a, _) = tree();
        let authz = authorizer(
            &[(300, Role::UnitHandler, 11, TenantLevel::Township)],
            &[(50, 300)],
        )
        .await;
        let handler = Principal {
            user_id: 300,
            tenant_id: 11,
        };
        let lead = case_in(a, Some(50), vec![]);
        let co = case_in(a, Some(51), vec![50]);
        let other = case_in(a, Some(51), vec![]);
        assert!(
            authz
                .check(&handler, Action::CaseClaim, &lead)
                .await
                .is_ok()
        );
        assert!(authz.check(&handler, Action::CaseRead, &co).await.is_ok());
        assert!(matches!(
            authz.check(&handler, Action::CaseResolve, &co).await,
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authz.check(&handler, Action::CaseRead, &other).await,
            Err(Denied::NotVisible)
        );
        let scope = authz.case_scope(&handler).await;
        assert_eq!(
            (scope.subtrees.len(), scope.unit_subtrees, scope.units),
            (0, vec![(TenantLevel::Township, 11)], vec![50])
        );
    }

    #[tokio::test]
    async fn an_escalated_case_stays_readable_where_it_came_from_but_not_writable() {
        let (county, a, _) = tree();
        let authz = authorizer(&[(100, Role::Dispatcher, 11, TenantLevel::Township)], &[]).await;
        let dispatcher = Principal {
            user_id: 100,
            tenant_id: 11,
        };
        let escalated = Target {
            resource_id: Some(9),
            visible_in: a,
            owned_by: county,
            lead_unit: None,
            co_units: vec![],
            off_shift_units: vec![],
            hidden_units: vec![],
            summoned_units: vec![],
            reported_by: None,
        };
        assert!(
            authz
                .check(&dispatcher, Action::CaseRead, &escalated)
                .await
                .is_ok()
        );
        assert!(matches!(
            authz
                .check(&dispatcher, Action::CaseDispatch, &escalated)
                .await,
            Err(Denied::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn the_system_and_security_administrators_hold_separate_powers() {
        let (county, _, _) = tree();
        let authz = authorizer(
            &[
                (1, Role::CountyAdmin, 1, TenantLevel::County),
                (3, Role::SecurityAdmin, 1, TenantLevel::County),
            ],
            &[],
        )
        .await;
        let admin = Principal {
            user_id: 1,
            tenant_id: 1,
        };
        let security = Principal {
            user_id: 3,
            tenant_id: 1,
        };
        let here = Target::in_tenant(Some(1), county);
        assert!(authz.check(&admin, Action::UserCreate, &here).await.is_ok());
        assert!(matches!(
            authz.check(&admin, Action::RoleGrant, &here).await,
            Err(Denied::Forbidden(_))
        ));
        assert!(
            authz
                .check(&security, Action::RoleGrant, &here)
                .await
                .is_ok()
        );
        assert!(matches!(
            authz.check(&security, Action::UserCreate, &here).await,
            Err(Denied::Forbidden(_))
        ));
        // Ending is split the same way: the administrator deactivates accounts, the security
        // administrator revokes grants, and neither does the other's.
        assert!(authz.check(&admin, Action::UserManage, &here).await.is_ok());
        assert!(
            authz
                .check(&security, Action::RoleRevoke, &here)
                .await
                .is_ok()
        );
        assert!(matches!(
            authz.check(&admin, Action::RoleRevoke, &here).await,
            Err(Denied::Forbidden(_))
        ));
        assert!(matches!(
            authz.check(&security, Action::UserManage, &here).await,
            Err(Denied::Forbidden(_))
        ));
        let case = case_in(county, None, vec![]);
        assert_eq!(
            authz.check(&security, Action::CaseRead, &case).await,
            Err(Denied::NotVisible)
        );
    }

    #[tokio::test]
    async fn the_administrator_does_no_case_work_and_the_auditor_changes_nothing() {
        let (county, _, _) = tree();
        let authz = authorizer(
            &[
                (1, Role::CountyAdmin, 1, TenantLevel::County),
                (2, Role::Auditor, 1, TenantLevel::County),
            ],
            &[],
        )
        .await;
        let admin = Principal {
            user_id: 1,
            tenant_id: 1,
        };
        let auditor = Principal {
            user_id: 2,
            tenant_id: 1,
        };
        let case = case_in(county, None, vec![]);
        assert_eq!(
            authz.check(&admin, Action::CaseRead, &case).await,
            Err(Denied::NotVisible)
        );
        assert_eq!(
            authz
                .check(&admin, Action::AuditRead, &Target::in_tenant(None, county))
                .await,
            Err(Denied::NotVisible)
        );
        assert!(
            authz
                .check(
                    &auditor,
                    Action::AuditRead,
                    &Target::in_tenant(None, county)
                )
                .await
                .is_ok()
        );
        for action in Action::ALL.iter().filter(|a| !a.is_read()) {
            assert!(
                authz.check(&auditor, *action, &case).await.is_err(),
                "{action}"
            );
        }
    }
}
