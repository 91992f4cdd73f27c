//! Files over plain HTTP, with the same bearer token as `/graphql`: the monthly report and the audit
//! export. Errors are JSON with the GraphQL codes and the request's id.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::headers::RequestId;
use super::{BodyLimits, client_address, request_auth, status_of};
use crate::app::AppState;
use crate::error::ApiError;
use crate::graphql::RequestAuth;
use crate::store::scope;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MonthlyReportQuery {
    tenant_id: String,
    month: String,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /reports/monthly?tenantId=<id>&month=yyyy-mm&format=csv|xlsx` with the same bearer token as
/// `/graphql`: a tenant's month, with the dashboard's numbers. Errors are JSON with the GraphQL codes.
pub(super) async fn monthly_report(
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    query: web::Query<MonthlyReportQuery>,
) -> HttpResponse {
    let client = client_address(&req, &limits.trusted_proxies);
    let outcome = async {
        let principal = signed_in(&state, &req).await?;
        let tenant_id = crate::graphql::decode_id(
            "tenantId",
            crate::graphql::GlobalId::Tenant,
            &async_graphql::ID(query.tenant_id.clone()),
        )?;
        let month = fengqiao_domain::rollup::Month::parse(&query.month)
            .ok_or_else(|| ApiError::bad_input("month", "write a month as yyyy-mm"))?;
        let xlsx = match query.format.as_deref().unwrap_or("csv") {
            "csv" => false,
            "xlsx" => true,
            _ => return Err(ApiError::bad_input("format", "csv or xlsx")),
        };
        let rows = state.db_scope(&principal).await?;
        let (body, extension, mime) = scope::within(
            rows,
            state.monthly_report(&principal, tenant_id, month, xlsx, client),
        )
        .await?;
        Ok((body, extension, mime, month))
    }
    .await;
    match outcome {
        Ok((body, extension, mime, month)) => HttpResponse::Ok()
            .content_type(mime)
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"fengqiao-{month}.{extension}\""),
            ))
            .body(body),
        Err(error) => error_response("monthly report", RequestId::of(&req), error),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AuditExportQuery {
    tenant_id: String,
    from: String,
    to: String,
}

/// `GET /audit/export?tenantId=<id>&from=yyyy-mm-dd&to=yyyy-mm-dd` with the auditor's bearer token: the
/// audit trail of the tenant's subtree over those days as CSV. Errors are JSON with the GraphQL codes.
pub(super) async fn audit_export(
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    query: web::Query<AuditExportQuery>,
) -> HttpResponse {
    let client = client_address(&req, &limits.trusted_proxies);
    let outcome = async {
        let principal = signed_in(&state, &req).await?;
        let tenant_id = crate::graphql::decode_id(
            "tenantId",
            crate::graphql::GlobalId::Tenant,
            &async_graphql::ID(query.tenant_id.clone()),
        )?;
        let day = |field: &'static str, text: &str| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_input(field, "write a day as yyyy-mm-dd"))
        };
        let (from, to) = (day("from", &query.from)?, day("to", &query.to)?);
        let rows = state.db_scope(&principal).await?;
        let body = scope::within(
            rows,
            state.export_audit(&principal, tenant_id, from, to, client),
        )
        .await?;
        Ok((body, from, to))
    }
    .await;
    match outcome {
        Ok((body, from, to)) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"fengqiao-audit-{from}-{to}.csv\""),
            ))
            .body(body),
        Err(error) => error_response("audit export", RequestId::of(&req), error),
    }
}

/// The caller of a plain HTTP route, which needs a bearer token as `/graphql` does.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<fengqiao_tenancy::Principal, ApiError> {
    match request_auth(state, req).await {
        RequestAuth::Caller(caller) => Ok(caller.principal),
        RequestAuth::Refused(why) => Err(ApiError::Unauthenticated(why)),
        RequestAuth::Anonymous => Err(ApiError::Unauthenticated(
            "sign in first: send an access token as 'Authorization: Bearer …'",
        )),
    }
}

/// A typed error on a plain HTTP route, as JSON with its code.
fn error_response(route: &str, request_id: RequestId, error: ApiError) -> HttpResponse {
    if let ApiError::Internal(_) = &error {
        tracing::error!(error = %error.detail(), route, "internal error");
    }
    let mut response = HttpResponse::build(status_of(&error));
    if let Some(seconds) = error.retry_after() {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.json(serde_json::json!({
        "code": error.code(),
        "message": error.message(),
        "requestId": request_id.0,
    }))
}
