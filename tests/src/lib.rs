//! What Fengqiao's load tools share: a GraphQL-over-HTTP client that reports the first error's code, demo
//! sign-ins, and the input of a realistic `registerCase` (a valid ID number, a mobile, a 清水县 dispute).
//! `loadgen` measures with it; `faults` drives load with it while it breaks the parts underneath.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// Sign in again before an access token (15 minutes by default) runs out.
pub const SESSION_RENEW_AFTER: Duration = Duration::from_secs(600);

/// Parses `20s`, `1500ms`, `2m`, `1h`, `2.5s` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Refuses anything but plain http on the loopback interface.
pub fn loopback_url(text: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(text).with_context(|| format!("--url {text:?} is not a URL"))?;
    if url.scheme() != "http" {
        bail!("--url must be plain http (got {})", url.scheme());
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "--url must point at the loopback interface (127.0.0.1, ::1 or localhost), not {host:?}"
        );
    }
    Ok(url)
}

// ---- GraphQL over HTTP ---------------------------------------------------------------------------------

/// Why a request failed.
#[derive(Debug, Clone)]
pub struct CallError {
    /// `extensions.code` of the first GraphQL error, or `HTTP_<status>`, `TRANSPORT`, `TIMEOUT`, `BAD_RESPONSE`,
    /// `UNEXPECTED` (a well-formed answer that is not what the step should produce).
    pub code: String,
    pub message: String,
}

impl CallError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        CallError {
            code: code.into(),
            message: message.into(),
        }
    }
}

pub struct Gql {
    pub http: reqwest::Client,
    pub url: reqwest::Url,
}

impl Gql {
    /// Sends one operation and returns its `data`, or the first error.
    pub async fn call(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, CallError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport_error)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(CallError::new(
                format!("HTTP_{}", status.as_u16()),
                text.chars().take(300).collect::<String>(),
            ));
        }
        let mut answer: Value = serde_json::from_slice(&body)
            .map_err(|e| CallError::new("BAD_RESPONSE", format!("the answer is not JSON: {e}")))?;
        if let Some(first) = answer
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|errors| errors.first())
        {
            let code = first
                .pointer("/extensions/code")
                .and_then(Value::as_str)
                .unwrap_or("NO_CODE");
            let message = first
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let path = first.get("path").map(Value::to_string).unwrap_or_default();
            return Err(CallError::new(
                code,
                format!("{message} {path}").trim_end().to_owned(),
            ));
        }
        match answer.get_mut("data").map(Value::take) {
            Some(data) if !data.is_null() => Ok(data),
            _ => Err(CallError::new(
                "BAD_RESPONSE",
                "the answer has neither data nor errors",
            )),
        }
    }
}

fn transport_error(e: reqwest::Error) -> CallError {
    let code = if e.is_timeout() {
        "TIMEOUT"
    } else {
        "TRANSPORT"
    };
    // reqwest's message is generic ("error sending request"); the cause is further down the chain.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    CallError::new(code, message)
}

pub fn text_at<'a>(data: &'a Value, pointer: &str) -> Result<&'a str, CallError> {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            CallError::new(
                "BAD_RESPONSE",
                format!("the answer has no {pointer}: {data}"),
            )
        })
}

pub const SIGN_IN: &str = "mutation($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken user { id tenantId } } }";
pub const MY_UNITS: &str = "query { me { units { id name } } }";
pub const REGISTER: &str = "mutation($input: RegisterCaseInput!) { registerCase(input: $input) { replayed case { id code status } } }";
pub const ACCEPT: &str = "mutation($id: ID!) { acceptCase(id: $id) { case { id status } } }";
pub const DISPATCH: &str = "mutation($id: ID!, $lead: ID!, $deadline: DateTime!) { dispatchCase(id: $id, leadUnitId: $lead, deadline: $deadline) { case { id status } } }";
pub const CLAIM: &str = "mutation($id: ID!) { claimCase(id: $id) { case { id status } } }";
pub const RESOLVE: &str = "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: PEOPLES_MEDIATION) { case { id status } } }";
pub const FOLLOW_UP: &str =
    "mutation($id: ID!) { followUpCase(id: $id, satisfaction: SATISFIED) { case { id status } } }";
pub const CLOSE: &str = "mutation($id: ID!) { closeCase(id: $id) { case { id status } } }";

/// A signed-in demo user.
pub struct Session {
    pub username: String,
    pub token: String,
    pub signed_in: Instant,
}

pub async fn sign_in(gql: &Gql, username: &str, password: &str) -> Result<Session, CallError> {
    let data = gql
        .call(
            None,
            SIGN_IN,
            json!({ "input": { "username": username, "password": password } }),
        )
        .await?;
    let token = text_at(&data, "/signIn/accessToken")?.to_owned();
    Ok(Session {
        username: username.to_owned(),
        token,
        signed_in: Instant::now(),
    })
}

/// Signs in again when the session is getting old; the time it takes is not measured.
pub async fn renew_if_old(
    gql: &Gql,
    session: &mut Session,
    password: &str,
) -> Result<(), CallError> {
    if session.signed_in.elapsed() >= SESSION_RENEW_AFTER {
        *session = sign_in(gql, &session.username, password).await?;
    }
    Ok(())
}

// ---- what a client sends ------------------------------------------------------------------------------

/// xorshift64*: enough to vary names, ID numbers and phones without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len() as u64) as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// Appends the GB 11643 check character to the first 17 characters of a resident ID number.
fn with_check_digit(body17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = body17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    let check = CHECK.get((sum % 11) as usize).copied().unwrap_or(b'0') as char;
    format!("{body17}{check}")
}

/// A valid 18-character ID number of someone born in 清水县 (620521) between 1940 and 2005.
pub fn id_card(rng: &mut Rng) -> String {
    let year = 1940 + rng.below(66);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let sequence = rng.below(1000);
    with_check_digit(&format!("620521{year:04}{month:02}{day:02}{sequence:03}"))
}

pub fn mobile(rng: &mut Rng) -> String {
    format!(
        "1{}{}{:08}",
        3 + rng.below(7),
        rng.below(10),
        rng.below(100_000_000)
    )
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "丽", "军", "海燕", "保平", "金凤", "小明", "玉梅", "永福",
];
const DISPUTES: &[(&str, &str)] = &[
    ("NEIGHBOUR", "邻里排水沟堵塞纠纷"),
    ("NEIGHBOUR", "宅基地边界院墙纠纷"),
    ("MARRIAGE_FAMILY", "赡养老人费用分担纠纷"),
    ("LAND_FOREST", "承包地界桩移动纠纷"),
    ("LABOUR", "务工人员工资拖欠纠纷"),
    ("LENDING", "民间借贷还款纠纷"),
];

fn person(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

/// The input of one `registerCase`, with a key no other request of any run uses.
pub fn register_input(rng: &mut Rng, key: String) -> Value {
    let (category, title) = DISPUTES
        .get(rng.below(DISPUTES.len() as u64) as usize)
        .copied()
        .unwrap_or(("OTHER", "其他纠纷"));
    let group = 1 + rng.below(9);
    json!({
        "kind": "DISPUTE",
        "channel": "WINDOW",
        "category": category,
        "title": title,
        "description": format!("当事人到中心窗口反映：{title}，双方多次协商未果，请求中心组织调解。（压测数据，第{group}组）"),
        "place": format!("清水县某村{group}组"),
        "parties": [
            { "role": "APPLICANT", "name": person(rng), "idCard": id_card(rng), "phone": mobile(rng), "address": format!("某村{group}组") },
            { "role": "RESPONDENT", "name": person(rng), "phone": mobile(rng), "address": format!("某村{}组", 1 + rng.below(9)) },
        ],
        "idempotencyKey": key,
    })
}

/// `2026-12-23T08:00:00Z`: an RFC 3339 instant `days` from now.
pub fn rfc3339_days_from_now(days: u64) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + days * 86_400;
    let (day_number, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = day_number + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_gb_11643() {
        assert_eq!(with_check_digit("11010519491231002"), "11010519491231002X");
        let mut rng = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(id_card(&mut rng).len(), 18);
        }
    }

    #[test]
    fn durations_and_urls() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(loopback_url("http://127.0.0.1:18080/graphql").is_ok());
        assert!(loopback_url("http://[::1]:18080/graphql").is_ok());
        assert!(loopback_url("http://localhost/graphql").is_ok());
        assert!(loopback_url("http://10.0.0.1/graphql").is_err());
        assert!(loopback_url("https://127.0.0.1/graphql").is_err());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), 50);
        assert_eq!(percentile(&samples, 99.0), 99);
        assert_eq!(percentile(&samples, 100.0), 100);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn deadlines_are_rfc_3339() {
        let text = rfc3339_days_from_now(0);
        assert_eq!(text.len(), 20);
        assert!(text.ends_with('Z'));
    }
}
