//! No personal data in the wrong place: a server process logging at every level (`trace`) is driven
//! through everything that handles a resident's ID number, phone, name and address — registration, free
//! text, a reveal, an exact look-up, a search for a number, input refused for a bad ID number or phone, a
//! sign-in with a number for a username, a query that does not parse — and neither its log nor any error
//! message it answered holds one of them.

use std::io::Read;

use serde_json::{Value, json};

use crate::helpers::{REGISTER, TestApp, case_input};
use crate::live::spawn_replica;
use fengqiao_tenancy::Role;

/// A GB 11643 number: the 17 digits and their check character.
fn id_number(body: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

pub(crate) async fn post(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = app
        .http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(json!({ "raw": text }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_reaches_the_log_at_any_level_or_an_error_message() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (_, clerk) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let (_, director) = app.user(&county, "director", &[Role::CenterDirector]).await;
    let mut replica = spawn_replica(&app, "trace", std::process::Stdio::piped()).await;
    let mut stderr = replica.child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let url = replica.url.clone();

    let id = id_number("62052119800307451");
    let wrong_check = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
    let (name, phone, landline, address) =
        ("欧阳明华", "13987654321", "0931-8123456", "清水路88号");
    let secrets = [
        id.as_str(),
        &id[..14],
        wrong_check.as_str(),
        phone,
        &phone[3..],
        landline,
        name,
        address,
    ];
    let mut answers: Vec<Value> = Vec::new();

    // Registration, the number, phone and name in the free text too.
    let mut input = case_input(None, &format!("{name}反映邻里纠纷"));
    input["description"] = json!(format!(
        "{name}（身份证{id}，电话{phone}，座机{landline}）反映邻居占用通道。"
    ));
    input["parties"] = json!([{ "role": "APPLICANT", "name": name, "idCard": id, "phone": phone, "address": address }]);
    let registered = post(
        &app,
        &url,
        Some(&clerk),
        REGISTER,
        json!({ "input": input }),
    )
    .await;
    let case = registered["data"]["registerCase"]["case"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("registered: {registered:#}"))
        .to_owned();
    // Read masked, revealed with a reason, looked up exactly.
    let read = post(
        &app,
        &url,
        Some(&director),
        "query($id: ID!) { case(id: $id) { title description parties { id name idCard phone } timeline { note } } }",
        json!({ "id": case }),
    )
    .await;
    let party = read["data"]["case"]["parties"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("read: {read:#}"))
        .to_owned();
    let revealed = post(
        &app,
        &url,
        Some(&director),
        "mutation($c: ID!, $p: ID!) { revealParty(caseId: $c, partyId: $p, reason: \"核实当事人身份\") { name idCard phone } }",
        json!({ "c": case, "p": party }),
    )
    .await;
    assert_eq!(
        revealed["data"]["revealParty"]["idCard"], id,
        "the reveal works: {revealed:#}"
    );
    answers.push(
        post(
            &app,
            &url,
            Some(&director),
            "query($id: String!) { findCasesByParty(input: {idCard: $id, reason: \"核实当事人\"}) { id } }",
            json!({ "id": id }),
        )
        .await,
    );
    // Refused input, each carrying a number.
    let unparsable = format!("{{ searchCases(text: \"{phone}\" {{ total }} }}");
    let refused = [
        (
            Some(&clerk),
            "query($t: String!) { searchCases(text: $t) { total } }",
            json!({ "t": phone }),
        ),
        (
            Some(&clerk),
            "query($t: String!) { searchCases(text: $t) { total } }",
            json!({ "t": id }),
        ),
        (Some(&clerk), REGISTER, {
            let mut bad = case_input(None, "身份证号有误");
            bad["parties"][0]["idCard"] = json!(wrong_check);
            json!({ "input": bad })
        }),
        (Some(&clerk), REGISTER, {
            let mut bad = case_input(None, "电话有误");
            bad["parties"][0]["phone"] = json!(format!("{phone}9"));
            json!({ "input": bad })
        }),
        (
            None,
            "mutation($u: String!) { signIn(input: {username: $u, password: \"Wrong password 1\"}) { accessToken } }",
            json!({ "u": id }),
        ),
        (Some(&clerk), unparsable.as_str(), json!({})),
        (
            Some(&clerk),
            "query($id: String!) { findCasesByParty(input: {idCard: $id, reason: \"查\"}) { id } }",
            json!({ "id": id }),
        ),
    ];
    for (token, query, variables) in refused {
        let body = post(&app, &url, token.map(String::as_str), query, variables).await;
        assert!(body["errors"].is_array(), "refused: {body:#}");
        answers.push(body);
    }

    // Every message the server answered, and the whole log.
    for body in &answers {
        for error in body["errors"].as_array().into_iter().flatten() {
            let message = error["message"].as_str().unwrap_or_default();
            for secret in secrets {
                assert!(
                    !message.contains(secret),
                    "an error message holds {secret:?}: {message}"
                );
            }
        }
    }
    let _ = replica.child.kill();
    let _ = replica.child.wait();
    let log = log.join().unwrap();
    assert!(
        log.contains("TRACE") && log.contains("DEBUG"),
        "the log was at every level ({} bytes)",
        log.len()
    );
    for secret in secrets {
        if let Some(at) = log.find(secret) {
            let start = log[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = log[at..].find('\n').map_or(log.len(), |n| at + n);
            panic!("the log holds {secret:?}: {}", &log[start..end]);
        }
    }
}
