//! Every setting lives in the one settings tree (`casegrid_runtime::settings`): this
//! test reads the workspace's sources and fails, listing file and line, where code
//! other than the settings module reads a `CASEGRID_…` environment variable.
//!
//! Allowed: `CASEGRID_SETTINGS` (it names the settings file), reads in test code (files
//! under `tests/`, the test kit, and everything after a file's `#[cfg(test)]`), and the
//! tool switches listed in `TOOL_SWITCHES` with the reason each is not a setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Variables read outside the tree on purpose, and why.
const TOOL_SWITCHES: &[(&str, &str)] = &[
    (
        "CASEGRID_SETTINGS",
        "names the settings file, read before the tree exists",
    ),
    (
        "CASEGRID_NATS_SERVER",
        "where the nats-server binary is, for `casegrid dev` and the test kit alike",
    ),
    (
        "CASEGRID_BENCH_KEEP",
        "`casegrid bench` keeps its temporary folder",
    ),
    (
        "CASEGRID_TEST_DATABASE_URL",
        "the throw-away PostgreSQL of the tests and the bench (runtime's `postgres` feature) \
         uses this server instead of starting one",
    ),
    (
        "CASEGRID_PG_BIN",
        "where the PostgreSQL server binaries are, for the throw-away PostgreSQL",
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// `const NAME: &str = "VALUE";` anywhere in the workspace, so a read through a
/// constant is caught too.
fn constants(files: &[(PathBuf, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, text) in files {
        for line in text.lines() {
            let Some(rest) = line.trim().split("const ").nth(1) else {
                continue;
            };
            if let Some((name, value)) = rest.split_once(": &str = \"") {
                if let Some(value) = value.strip_suffix("\";") {
                    out.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }
    out
}

/// The variable names read on `line`: the arguments of `env::var(` and `env::var_os(`,
/// literal or a constant's name; an argument that is neither is answered as is.
fn reads(line: &str, constants: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for call in ["env::var(", "env::var_os("] {
        for (at, _) in line.match_indices(call) {
            let arg = &line[at + call.len()..];
            let arg = arg.split(')').next().unwrap_or_default().trim();
            let name = match arg.strip_prefix('"') {
                Some(literal) => literal.trim_end_matches('"').to_owned(),
                None => {
                    let ident = arg
                        .rsplit("::")
                        .next()
                        .unwrap_or(arg)
                        .trim_start_matches('&');
                    constants
                        .get(ident)
                        .cloned()
                        .unwrap_or_else(|| ident.to_owned())
                }
            };
            out.push(name);
        }
    }
    out
}

fn is_test_file(relative: &Path) -> bool {
    relative.starts_with("crates/testkit")
        || relative.components().any(|c| c.as_os_str() == "tests")
}

#[test]
fn no_casegrid_variable_is_read_outside_the_settings_tree() {
    let root = workspace();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(&root).unwrap().to_owned(), text)
        })
        .collect();
    assert!(
        files
            .iter()
            .any(|(p, _)| p == Path::new("crates/runtime/src/settings.rs")),
        "the scan found the workspace"
    );
    let constants = constants(&files);
    let allowed = |name: &str| TOOL_SWITCHES.iter().any(|(n, _)| *n == name);
    let mut found = Vec::new();
    for (path, text) in &files {
        if path == Path::new("crates/runtime/src/settings.rs") || is_test_file(path) {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            if line.trim() == "#[cfg(test)]" {
                break;
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            for name in reads(line, &constants) {
                let casegrid = name.starts_with("CASEGRID_") && !name.starts_with("CASEGRID__");
                // A name not known here (a closure's argument) may be anything.
                let unknown = !name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                if (casegrid && !allowed(&name)) || unknown {
                    found.push(format!("{}:{}: {name}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "CASEGRID_… variables read outside the settings tree (make them settings in \
         crates/runtime/src/settings.rs, `CASEGRID__SECTION__KEY` in the environment):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_literal_constant_and_unknown_reads() {
    let constants = BTreeMap::from([("ENV_X".to_owned(), "CASEGRID_X".to_owned())]);
    assert_eq!(
        reads(r#"let a = std::env::var("CASEGRID_A").ok();"#, &constants),
        ["CASEGRID_A"]
    );
    assert_eq!(
        reads("if std::env::var_os(crate::ENV_X).is_some() {", &constants),
        ["CASEGRID_X"]
    );
    assert_eq!(
        reads("let var = |n: &str| std::env::var(n).ok();", &constants),
        ["n"]
    );
    assert!(reads("let s = settings.http.addr;", &constants).is_empty());
}
