//! The server's dependency rule, checked on its source (docs/ARCHITECTURE.md): imports point down only —
//! http → graphql → app → adapters (store, live, search, reports, bus, cache, directory) → shared
//! (config, error, clock, pii) — and the GraphQL layer never names the store. `lib.rs`, `main.rs` and
//! `seed.rs` compose the whole and are not checked.

use std::path::{Path, PathBuf};

/// The layer of a module of the `fengqiao` crate, by its first path segment; `None` for the roots.
fn layer_of_module(module: &str) -> Option<u8> {
    Some(match module {
        "http" => 5,
        "graphql" => 4,
        "app" => 3,
        "store" | "live" | "search" | "reports" | "bus" | "cache" | "directory" => 2,
        "config" | "error" | "clock" | "pii" => 1,
        _ => return None,
    })
}

/// The module a source file belongs to: `app/identity.rs` → `app`, `http.rs` → `http`.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a file names outside comments, with its line number.
fn named_modules(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((n + 1, name));
        }
    }
    found
}

/// The breaches of the rule in the sources under `root`.
fn breaches(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(root, &mut files);
    let mut out = Vec::new();
    for file in files {
        let module = module_of(root, &file);
        let Some(layer) = layer_of_module(&module) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, named) in named_modules(&text) {
            let Some(target) = layer_of_module(&named) else {
                out.push(format!(
                    "{}:{line}: `{module}` names `crate::{named}`, a composition root",
                    file.display()
                ));
                continue;
            };
            if named != module && target > layer {
                out.push(format!(
                    "{}:{line}: `{module}` (layer {layer}) imports `{named}` (layer {target}) above it",
                    file.display()
                ));
            }
            if module == "graphql" && named == "store" {
                out.push(format!(
                    "{}:{line}: the GraphQL layer names the store; go through `app`",
                    file.display()
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn imports_point_down_and_graphql_never_names_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src");
    let found = breaches(&root);
    assert!(
        found.is_empty(),
        "the dependency rule is broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_an_upward_import_and_the_store_in_graphql() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("store")).unwrap();
    std::fs::create_dir_all(root.join("graphql")).unwrap();
    std::fs::write(
        root.join("store/cases.rs"),
        "use crate::graphql::CaseNode;\n// crate::http in a comment\n",
    )
    .unwrap();
    std::fs::write(
        root.join("graphql/cases.rs"),
        "use crate::store::cases::CaseRecord;\nuse crate::app::AppState;\n",
    )
    .unwrap();
    std::fs::write(root.join("app.rs"), "use crate::store::Store;\n").unwrap();
    let found = breaches(root);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("graphql/cases.rs:1") && found[0].contains("names the store"));
    assert!(found[1].contains("store/cases.rs:1") && found[1].contains("above it"));
}
