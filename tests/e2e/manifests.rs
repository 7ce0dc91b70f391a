//! The deployment files (compose, Kubernetes, the image) name only settings that exist
//! and mount only files that exist: every `CASEGRID__…` variable they set is loaded
//! through the settings tree, which refuses unknown keys, and every repository path
//! they mount or bundle is checked. No container runtime is needed: the files are read
//! line by line (the shapes they use are few, and a YAML parser would be a dependency
//! for one test).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_owned()
}

/// Every `CASEGRID__KEY` set in `text` with its value: `KEY: value` (compose),
/// `- name: KEY` then `value: v` or `valueFrom:` (Kubernetes), `KEY=value` (env
/// files written by scripts, Dockerfile `ENV`).
fn settings_in(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("ENV ");
        let t = t.trim_end_matches('\\').trim();
        if let Some(name) = t
            .strip_prefix("name: ")
            .filter(|n| n.starts_with("CASEGRID__"))
        {
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            let value = next
                .strip_prefix("value: ")
                .map(unquote)
                // From a Secret: a string the file does not show.
                .unwrap_or_else(|| "from-a-secret".to_owned());
            found.push((name.to_owned(), value));
        } else if t.starts_with("CASEGRID__") {
            let (key, value) = match (t.find(':'), t.find('=')) {
                (Some(c), Some(e)) if e < c => t.split_at(e),
                (Some(c), _) => t.split_at(c),
                (None, Some(e)) => t.split_at(e),
                (None, None) => continue,
            };
            found.push((key.to_owned(), unquote(&value[1..])));
        }
    }
    found
}

/// Every repository path `file` mounts or bundles: compose volumes and build
/// contexts (`./x:/y`, `../x:/y`), Kubernetes `files:`/`envs:` lists, Dockerfile
/// `COPY`. Paths under `secrets/` are generated at deployment (never in git).
fn mounted_in(file: &Path) -> Vec<PathBuf> {
    let dir = file.parent().unwrap();
    let text = read(file);
    let mut paths = Vec::new();
    // The indentation of the `files:` or `envs:` key whose list is being read.
    let mut files_indent: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if files_indent.is_some_and(|f| indent <= f) {
            files_indent = None;
        }
        if t == "files:" || t == "envs:" {
            files_indent = Some(indent);
            continue;
        }
        if let Some(item) = t.strip_prefix("- ") {
            if files_indent.is_some() {
                paths.push(dir.join(item.trim()));
                continue;
            }
            if item.starts_with('.') && item.contains(':') {
                paths.push(dir.join(item.split(':').next().unwrap()));
            }
        }
        if let Some(context) = t.strip_prefix("context: ") {
            paths.push(dir.join(context.trim()));
        }
        if let Some(copy) = t.strip_prefix("COPY ").filter(|c| !c.starts_with("--from")) {
            let parts: Vec<&str> = copy.split_whitespace().collect();
            for source in &parts[..parts.len() - 1] {
                paths.push(dir.join(source));
            }
        }
    }
    paths
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "secrets"))
        .collect()
}

#[test]
fn deployment_files_set_only_known_settings_and_mount_only_existing_files() {
    let root = repo();
    let mut files = vec![
        root.join("Dockerfile"),
        root.join("deploy/compose/compose.yaml"),
        root.join("deploy/compose/generate-secrets.sh"),
    ];
    let mut k8s: Vec<PathBuf> = std::fs::read_dir(root.join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    k8s.sort();
    assert!(k8s.len() >= 4, "{k8s:?}");
    files.extend(k8s);
    let (mut settings, mut mounts) = (0, 0);
    for file in &files {
        let pairs = settings_in(&read(file));
        settings += pairs.len();
        casegrid_runtime::Settings::load_from(None, &pairs).unwrap_or_else(|e| {
            panic!(
                "{} sets a setting the tree does not have: {e:#}\n{pairs:?}",
                file.display()
            )
        });
        for path in mounted_in(file) {
            mounts += 1;
            assert!(
                path.exists(),
                "{} mounts {}, which is not in the repository",
                file.display(),
                path.display()
            );
        }
    }
    println!(
        "{settings} settings and {mounts} mounted paths checked in {} files",
        files.len()
    );
    assert!(
        settings >= 30 && mounts >= 20,
        "{settings} settings, {mounts} mounts"
    );
}

#[test]
fn the_check_catches_a_misspelt_setting_and_a_missing_file() {
    let pairs = settings_in("    CASEGRID__NATS__URLS: nats://a:4222\n");
    assert_eq!(pairs[0].0, "CASEGRID__NATS__URLS");
    assert!(casegrid_runtime::Settings::load_from(None, &pairs).is_err());
    let k8s =
        settings_in("            - name: CASEGRID__ROUTING__REPLICA\n              valueFrom:\n");
    assert!(casegrid_runtime::Settings::load_from(None, &k8s).is_ok());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, "    volumes:\n      - ./gone.conf:/etc/x:ro\n").unwrap();
    let mounted = mounted_in(&file);
    assert_eq!(mounted, [dir.path().join("./gone.conf")]);
    assert!(!mounted[0].exists());
}

#[test]
fn the_compose_nodes_keep_fsync_on_every_write() {
    let node = read(&repo().join("deploy/compose/nats/node.conf"));
    assert!(node.contains("sync_interval: always"), "{node}");
    assert!(node.contains("include \"cluster.conf\""));
    let values = read(&repo().join("deploy/k8s/nats-values.yaml"));
    assert!(values.contains("sync_interval: always"));
}
