//! The server's dependency rule, checked on its source (docs/ARCHITECTURE.md): imports point down only —
//! http → graphql → app → adapters (store, live, search, reports, bus, cache, directory) → shared
//! (config, error, clock, pii, paging) — and the GraphQL layer never names the store. `lib.rs`, `main.rs` and
//! `seed.rs` compose the whole and are not checked.

use std::path::{Path, PathBuf};

/// The layer of a module of the `fengqiao` crate, by its first path segment; `None` for the roots.
fn layer_of_module(module: &str) -> Option<u8> {
    Some(match module {
        "http" => 5,
        "graphql" => 4,
        "app" => 3,
        "store" | "live" | "search" | "reports" | "bus" | "cache" | "directory" => 2,
        "config" | "error" | "clock" | "pii" | "paging" => 1,
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
    out.extend(calls_out_of_place(root));
    out.sort();
    out
}

/// Calls that only some files of the server may make, with the reason given when another file does.
const ONLY_HERE: [(&str, &[&str], &str); 2] = [
    // The process's own leave (`SystemPermit::for_the_process`): the composition roots and the module that
    // defines it. Request code must never hold one.
    (
        "for_the_process",
        &["lib.rs", "main.rs", "seed.rs", "store/scope.rs"],
        "only a composition root makes the process's own SystemPermit",
    ),
    // Opening a committed write (`Committed::into_parts`): only `AppState::settle`, which raises the
    // effects of the change, so no write skips them.
    (
        "into_parts(",
        &["app/effects.rs", "store/committed.rs"],
        "a committed write is opened only by AppState::settle (app/effects.rs), which raises its effects",
    ),
];

/// Every place that makes one of the `ONLY_HERE` calls outside the files allowed to.
fn calls_out_of_place(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(root, &mut files);
    let mut out = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap();
        for (call, allowed, why) in ONLY_HERE {
            if allowed.contains(&relative.as_str()) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains(call) {
                    out.push(format!("{}:{}: {why}", file.display(), n + 1));
                }
            }
        }
    }
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

    // Request code that makes the process's own leave is found; the roots may.
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(
        root.join("app/handling.rs"),
        "fn f() { let p = crate::store::scope::SystemPermit::for_the_process(); }\n",
    )
    .unwrap();
    std::fs::write(
        root.join("main.rs"),
        "let p = SystemPermit::for_the_process();\n",
    )
    .unwrap();
    let found = breaches(root);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("app/handling.rs:1") && found[0].contains("SystemPermit"));

    // A use case that opens a committed write itself, skipping its effects, is found; settle may.
    std::fs::write(
        root.join("app/intake.rs"),
        "let (case, _) = self.store.register_case(p, o, n, a, v, now).await?.into_parts();\n",
    )
    .unwrap();
    std::fs::write(
        root.join("app/effects.rs"),
        "let (value, change) = committed.into_parts();\n",
    )
    .unwrap();
    let found = breaches(root);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f.contains("app/intake.rs:1") && f.contains("AppState::settle")),
        "{found:#?}"
    );
}

/// The sibling files a source file imports: `super::cases::X` from `graphql/rosters.rs`, or
/// `crate::store::cases::X` from anywhere, name `graphql/cases.rs` and `store/cases.rs`. A folder's
/// `mod.rs` (and a module's parent) is not a sibling: it declares the files, and importing from it is
/// how a module uses its own shared items.
fn imported_files(root: &Path, file: &Path, text: &str) -> Vec<PathBuf> {
    let dir = file.parent().unwrap();
    let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
    let mut out = Vec::new();
    let mut push = |folder: PathBuf, name: &str| {
        let candidate = folder.join(format!("{name}.rs"));
        if candidate.is_file() && candidate != file {
            out.push(candidate);
        }
    };
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let words = |prefix: &str| -> Vec<Vec<String>> {
            let mut found = Vec::new();
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                let path: Vec<String> = rest
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or("")
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                found.push(path);
            }
            found
        };
        if !is_mod {
            for path in words("super::") {
                if let Some(first) = path.first() {
                    push(dir.to_path_buf(), first);
                }
            }
        }
        for path in words("crate::") {
            if let [module, file_name, ..] = path.as_slice() {
                push(root.join(module), file_name);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every circle of imports between the files under `root`, each as the files that form it.
fn circles(root: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    sources(root, &mut files);
    files.sort();
    let index = |p: &Path| files.iter().position(|f| f == p).unwrap();
    let edges: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            imported_files(root, f, &text)
                .iter()
                .map(|p| index(p))
                .collect()
        })
        .collect();
    // Tarjan's strongly connected components: a component of more than one file is a circle.
    struct Walk<'a> {
        edges: &'a [Vec<usize>],
        order: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        next: usize,
        found: Vec<Vec<usize>>,
    }
    fn visit(w: &mut Walk<'_>, v: usize) {
        w.order[v] = Some(w.next);
        w.low[v] = w.next;
        w.next += 1;
        w.stack.push(v);
        w.on_stack[v] = true;
        for &u in &w.edges[v].clone() {
            match w.order[u] {
                None => {
                    visit(w, u);
                    w.low[v] = w.low[v].min(w.low[u]);
                }
                Some(o) if w.on_stack[u] => w.low[v] = w.low[v].min(o),
                Some(_) => {}
            }
        }
        if Some(w.low[v]) == w.order[v] {
            let mut component = Vec::new();
            while let Some(u) = w.stack.pop() {
                w.on_stack[u] = false;
                component.push(u);
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                w.found.push(component);
            }
        }
    }
    let n = files.len();
    let mut walk = Walk {
        edges: &edges,
        order: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on_stack: vec![false; n],
        next: 0,
        found: Vec::new(),
    };
    for v in 0..n {
        if walk.order[v].is_none() {
            visit(&mut walk, v);
        }
    }
    walk.found
        .into_iter()
        .map(|c| {
            let mut names: Vec<String> = c
                .into_iter()
                .map(|i| files[i].strip_prefix(root).unwrap().display().to_string())
                .collect();
            names.sort();
            names
        })
        .collect()
}

#[test]
fn no_two_files_import_each_other_even_through_others() {
    for krate in ["api", "domain", "tenancy", "search"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(krate)
            .join("src");
        let found = circles(&root);
        assert!(found.is_empty(), "import circles in {krate}: {found:?}");
    }
}

#[test]
fn the_circle_check_finds_a_circle_through_three_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("graphql")).unwrap();
    std::fs::create_dir_all(root.join("store")).unwrap();
    let write = |p: &str, t: &str| std::fs::write(root.join(p), t).unwrap();
    write(
        "graphql/mod.rs",
        "mod cases;\nmod rosters;\nuse cases::CaseQuery;\n",
    );
    write(
        "graphql/cases.rs",
        "use super::rosters::SummonsNode;\nuse super::{caller, state};\n",
    );
    write("graphql/rosters.rs", "use super::tenants::UnitNode;\n");
    write(
        "graphql/tenants.rs",
        "use super::cases::CaseNode; // super::nodes in a comment\n",
    );
    write("store/cases.rs", "use super::rollups::bump;\n");
    write("store/rollups.rs", "use crate::store::search::enqueue;\n");
    write("store/search.rs", "use crate::graphql::cases::CaseNode;\n");
    let found = circles(root);
    assert_eq!(
        found,
        vec![vec![
            "graphql/cases.rs".to_owned(),
            "graphql/rosters.rs".to_owned(),
            "graphql/tenants.rs".to_owned(),
        ]],
    );
    write("store/search.rs", "use super::cases::CaseRecord;\n");
    assert_eq!(circles(root).len(), 2);
}
