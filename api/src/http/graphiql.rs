//! GraphiQL at `/graphiql`, its scripts and styles served from the binary (`api/assets/graphiql/`, with
//! their versions and licences): a county intranet has no internet, and a page loading them from a CDN
//! would be blank there. No inline script: the page's policy allows scripts of its own origin only.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// An asset: its path under `/graphiql/`, its media type and its bytes. The path names the version, so a
/// browser may keep it for a year.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 5] = [
    Asset {
        path: "react-18.3.1.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        path: "react-dom-18.3.1.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        path: "graphiql-4.1.2.min.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        path: "graphiql-4.1.2.min.css",
        media_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        path: "init-1.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/init.js"),
    },
];

/// What the page may load: its own scripts, styles and websocket; the styles set inline styles and
/// embed their fonts and icons as `data:` URLs.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src 'self' data:; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>枫桥 Fengqiao GraphQL</title>
    <link rel="stylesheet" href="/graphiql/graphiql-4.1.2.min.css">
    <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  </head>
  <body>
    <div id="graphiql">GraphiQL 正在加载…</div>
    <script src="/graphiql/react-18.3.1.production.min.js"></script>
    <script src="/graphiql/react-dom-18.3.1.production.min.js"></script>
    <script src="/graphiql/graphiql-4.1.2.min.js"></script>
    <script src="/graphiql/init-1.js"></script>
  </body>
</html>
"#;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphiql", web::get().to(page))
        .route("/graphiql/{asset}", web::get().to(asset));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.path == name.as_str()) {
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.media_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_asset_and_nothing_from_elsewhere() {
        for asset in &ASSETS {
            assert!(
                PAGE.contains(&format!("/graphiql/{}", asset.path)),
                "{}",
                asset.path
            );
            assert!(!asset.body.is_empty());
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }
}
