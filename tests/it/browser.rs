//! CORS as a real browser enforces it: headless Chromium opens a page of another origin that calls the
//! API with a token (a preflighted request), and GraphiQL from the binary, offline.
//!
//! These run where Chromium is (`/usr/bin/chromium`, or `TEST_BROWSER`); CI installs it and
//! sets `TEST_BROWSER`, which makes a missing browser a failure rather than a skip.

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// The browser to drive, or `None` (skip) where none is installed and none was asked for.
fn browser() -> Option<PathBuf> {
    match std::env::var("TEST_BROWSER") {
        Ok(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(
                path.exists(),
                "TEST_BROWSER={} is not there",
                path.display()
            );
            Some(path)
        }
        _ => {
            let path = PathBuf::from("/usr/bin/chromium");
            if path.exists() {
                Some(path)
            } else {
                eprintln!("no Chromium here: the browser tests are skipped");
                None
            }
        }
    }
}

/// Loads `url` in headless Chromium, lets its scripts run, and returns the DOM as they left it.
async fn dom_after_scripts(browser: &PathBuf, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=20000",
            "--timeout=60000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Serves one HTML page (set later, once the API's address is known) at every path, on a port of its
/// own: a page of another origin.
async fn serve_page(html: std::sync::Arc<std::sync::Mutex<String>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let html = html.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    html.len(),
                    html
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// A page that calls the API with the token and writes what it could read into its body.
fn calling_page(api: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><html><body><p id="out">pending</p><script>
fetch({api:?}, {{
  method: "POST",
  headers: {{ "content-type": "application/json", "authorization": "Bearer {token}", "x-request-id": "browser-1" }},
  body: JSON.stringify({{ query: "{{ me {{ user {{ username }} }} }}" }}),
}})
  .then(async (r) => {{
    const body = await r.json();
    document.getElementById("out").textContent =
      "READ " + body.data.me.user.username + " id=" + r.headers.get("x-request-id");
  }})
  .catch((e) => {{ document.getElementById("out").textContent = "REFUSED " + e.name; }});
</script></body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_an_allowed_origin_reads_the_api_and_one_of_another_origin_cannot() {
    let Some(browser) = browser() else {
        return;
    };
    // The same page on two ports: two origins, one of them allowed.
    let html = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let allowed_port = serve_page(html.clone()).await;
    let refused_port = serve_page(html.clone()).await;
    let app = TestApp::spawn_with(move |config| {
        config.http.cors_allowed_origins = vec![format!("http://127.0.0.1:{allowed_port}")];
    })
    .await;
    *html.lock().unwrap() = calling_page(&app.url, &app.admin_token);

    let dom = dom_after_scripts(&browser, &format!("http://127.0.0.1:{allowed_port}/")).await;
    assert!(
        dom.contains(&format!("READ {}.admin id=browser-1", app.tag)),
        "the allowed origin could not read the answer: {dom}"
    );
    let dom = dom_after_scripts(&browser, &format!("http://127.0.0.1:{refused_port}/")).await;
    assert!(
        dom.contains("REFUSED TypeError"),
        "another origin read the answer: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_from_the_binarys_own_assets() {
    let Some(browser) = browser() else {
        return;
    };
    let app = TestApp::spawn_with(|config| config.graphql.graphiql = true).await;
    let base = app.url.trim_end_matches("/graphql");
    let dom = dom_after_scripts(&browser, &format!("{base}/graphiql")).await;
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render: {}",
        &dom[..dom.len().min(2000)]
    );
}
