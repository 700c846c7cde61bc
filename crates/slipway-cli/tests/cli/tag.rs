//! `slipway tag` and `slipway version next` on real git repositories.

use std::path::Path;
use std::process::{Command, Output};

use crate::slipway;

/// CI variables that would change what `slipway tag` reads; cleared so the tests see only the repository.
const CI_VARS: [&str; 12] = [
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_EVENT_NAME",
    "GITHUB_REF",
    "GITHUB_SHA",
    "GITHUB_EVENT_PATH",
    "SLIPWAY_EVENT",
    "SLIPWAY_REF",
    "SLIPWAY_SHA",
    "SLIPWAY_PR",
    "SLIPWAY_DEFAULT_BRANCH",
    "SOURCE_DATE_EPOCH",
];

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_AUTHOR_DATE", "2024-05-06T07:08:09Z")
        .env("GIT_COMMITTER_DATE", "2024-05-06T07:08:09Z")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository with `v1.3.0` on main and HEAD at `v1.2.1` on a maintenance branch.
fn repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["commit", "-q", "--allow-empty", "-m", "feat: one"]);
    git(p, &["tag", "v1.2.0"]);
    git(p, &["branch", "release-1.2"]);
    git(p, &["commit", "-q", "--allow-empty", "-m", "feat: two"]);
    git(p, &["tag", "v1.3.0"]);
    git(p, &["checkout", "-q", "release-1.2"]);
    git(p, &["commit", "-q", "--allow-empty", "-m", "fix: backport"]);
    git(p, &["tag", "v1.2.1"]);
    let head = git(p, &["rev-parse", "HEAD"]);
    (dir, head)
}

fn tag(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = slipway();
    for var in CI_VARS {
        cmd.env_remove(var);
    }
    cmd.arg("tag")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied());
    cmd.output().expect("slipway runs")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn tag_event_inferred_from_git_with_default_rules() {
    let (dir, _) = repo();
    // An old line's patch: no `latest` (metadata-action's ref/tag rule would move it back).
    assert_eq!(stdout(&tag(dir.path(), &[], &[])), "v1.2.1\n");
}

#[test]
fn rules_and_images() {
    let (dir, head) = repo();
    let out = tag(
        dir.path(),
        &[
            "--rule",
            "type=semver,pattern={{version}}",
            "--rule",
            "type=semver,pattern={{major}}.{{minor}}",
            "--rule",
            "type=semver,pattern={{major}}",
            "--rule",
            "type=sha",
            "--image",
            "Registry.example/Acme/API",
        ],
        &[],
    );
    let short = &head[..7];
    assert_eq!(
        stdout(&out),
        format!(
            "registry.example/acme/api:1.2.1\nregistry.example/acme/api:1.2\nregistry.example/acme/api:sha-{short}\n"
        )
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the highest release of its line"));
}

#[test]
fn push_event_and_pr_event_from_flags() {
    let (dir, head) = repo();
    assert_eq!(
        stdout(&tag(dir.path(), &["--event", "push"], &[])),
        "release-1.2\n"
    );
    let out = tag(
        dir.path(),
        &[
            "--pr",
            "42",
            "--rule",
            "type=ref,event=pr",
            "--rule",
            "type=sha",
        ],
        &[],
    );
    assert_eq!(stdout(&out), format!("pr-42\nsha-{}\n", &head[..7]));
}

#[test]
fn event_from_ci_variables() {
    let (dir, _) = repo();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/feature/x"),
    ];
    assert_eq!(stdout(&tag(dir.path(), &[], &env)), "feature-x\n");
    let env = [("SLIPWAY_EVENT", "schedule"), ("SLIPWAY_REF", "main")];
    assert_eq!(stdout(&tag(dir.path(), &[], &env)), "nightly\nmain\n");
}

#[test]
fn annotations_and_json() {
    let (dir, head) = repo();
    let out = tag(
        dir.path(),
        &["--annotations"],
        &[
            ("SLIPWAY_SOURCE_URL", "https://example.invalid/acme/api"),
            ("SLIPWAY_TITLE", "api"),
        ],
    );
    assert_eq!(
        stdout(&out),
        format!(
            "org.opencontainers.image.created=2024-05-06T07:08:09Z\n\
             org.opencontainers.image.revision={head}\n\
             org.opencontainers.image.source=https://example.invalid/acme/api\n\
             org.opencontainers.image.title=api\n\
             org.opencontainers.image.url=https://example.invalid/acme/api\n\
             org.opencontainers.image.version=v1.2.1\n"
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&tag(dir.path(), &["--json"], &[]))).unwrap();
    assert_eq!(json["tags"], serde_json::json!(["v1.2.1"]));
    assert_eq!(json["latest"], false);
    assert_eq!(json["templates"]["Version"], "1.2.1");
    assert_eq!(json["templates"]["IsSnapshot"], false);
    assert_eq!(json["build"]["event"], "tag");
}

/// Values from CI variables never forge lines: annotations are one line each, image names with control
/// characters are refused, and `--github-output` writes delimited entries the values cannot end early.
#[test]
fn hostile_values_do_not_forge_output_lines() {
    let (dir, head) = repo();
    let forged = "An API\n::add-mask::x\norg.opencontainers.image.version=9.9.9\r\n";
    let out = tag(
        dir.path(),
        &["--annotations"],
        &[
            ("SLIPWAY_DESCRIPTION", forged),
            ("SLIPWAY_TITLE", "api\u{1b}]0;t\u{7}"),
        ],
    );
    assert_eq!(
        stdout(&out),
        format!(
            "org.opencontainers.image.created=2024-05-06T07:08:09Z\n\
             org.opencontainers.image.description=An API ::add-mask::x org.opencontainers.image.version=9.9.9\n\
             org.opencontainers.image.revision={head}\n\
             org.opencontainers.image.title=api ]0;t\n\
             org.opencontainers.image.version=v1.2.1\n"
        )
    );

    let out = tag(
        dir.path(),
        &["--image", "registry.example/api\n::error::x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "slipway: --image \"registry.example/api\\n::error::x\": an image name cannot hold control characters\n"
    );

    let output = dir.path().join("github-output");
    std::fs::write(&output, "earlier=1\n").unwrap();
    let out = tag(
        dir.path(),
        &["--github-output", "--image", "registry.example/api"],
        &[
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            // A value holding a would-be delimiter line and a would-be entry.
            ("SLIPWAY_DESCRIPTION", "x\nEOF\ntags=evil"),
        ],
    );
    assert_eq!(stdout(&out), "registry.example/api:v1.2.1\n");
    let text = std::fs::read_to_string(&output).unwrap();
    let entries = parse_github_output(&text);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["earlier", "tags", "version", "annotations", "json"]);
    assert_eq!(entries[1].1, "registry.example/api:v1.2.1");
    assert_eq!(entries[2].1, "v1.2.1");
    assert!(
        entries[3]
            .1
            .lines()
            .any(|l| l == "org.opencontainers.image.description=x EOF tags=evil"),
        "{}",
        entries[3].1
    );
    let json: serde_json::Value = serde_json::from_str(&entries[4].1).unwrap();
    assert_eq!(
        json["tags"],
        serde_json::json!(["registry.example/api:v1.2.1"])
    );
    // Two runs use different delimiters.
    let first = text.lines().nth(1).unwrap().to_owned();
    tag(
        dir.path(),
        &["--github-output"],
        &[("GITHUB_OUTPUT", output.to_str().unwrap())],
    );
    let again = std::fs::read_to_string(&output).unwrap();
    let second = again
        .lines()
        .find(|l| l.starts_with("tags<<") && *l != first)
        .map(str::to_owned);
    assert!(second.is_some(), "{again}");
}

/// Reads `$GITHUB_OUTPUT` the way the runner does: `name=value` lines and `name<<DELIMITER` heredocs.
fn parse_github_output(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

#[test]
fn bad_rule_names_rule_and_field() {
    let (dir, _) = repo();
    let out = tag(dir.path(), &["--rule", "type=sha,format=medium"], &[]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "slipway: rule `type=sha,format=medium`, column 10: field `format`: invalid value `medium`: expected short or long\n"
    );
}

fn version_next(dir: &Path, args: &[&str]) -> Output {
    slipway()
        .args(["version", "next", "-C"])
        .arg(dir)
        .args(args)
        .output()
        .expect("slipway runs")
}

#[test]
fn version_next_from_conventional_commits() {
    let (dir, _) = repo();
    let p = dir.path();
    assert_eq!(stdout(&version_next(p, &[])), "v1.2.1\n");
    git(
        p,
        &["commit", "-q", "--allow-empty", "-m", "feat: new on 1.2"],
    );
    assert_eq!(stdout(&version_next(p, &[])), "v1.3.0\n");
    assert_eq!(
        stdout(&version_next(p, &["--prerelease", "rc"])),
        "v1.3.0-rc.1\n"
    );
    std::fs::create_dir(p.join("svc")).unwrap();
    std::fs::write(p.join("svc/a"), "a").unwrap();
    git(p, &["add", "svc/a"]);
    git(p, &["commit", "-q", "-m", "fix: in svc"]);
    git(p, &["tag", "svc/v0.1.0"]);
    git(
        p,
        &["commit", "-q", "--allow-empty", "-m", "feat!: outside svc"],
    );
    let out = version_next(p, &["--prefix", "svc/", "--path", "svc"]);
    assert_eq!(stdout(&out), "svc/v0.1.0\n");
    let bad = version_next(p, &["--prerelease", "r c"]);
    assert!(!bad.status.success());
}

#[test]
fn plain_version_still_prints_the_version_line() {
    let out = slipway().arg("version").output().unwrap();
    assert!(stdout(&out).starts_with("slipway "));
}
