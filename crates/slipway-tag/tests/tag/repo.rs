//! Real git repositories built with the git CLI, with fixed identities and dates so runs are repeatable.

use std::path::Path;
use std::process::Command;

use slipway_tag::{
    Build, BuildRef, CiEnv, Flavor, GitRepo, Options, RefSourceExt, TagRule, TagSet, compute_tags,
};

/// A scratch repository on branch `main`.
pub struct Repo {
    dir: tempfile::TempDir,
    counter: std::cell::Cell<u32>,
}

impl Repo {
    pub fn new() -> Self {
        // Fail loudly, naming the install hint, when git is missing.
        slipway_testkit::require_tool("git");
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
            counter: std::cell::Cell::new(0),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository, failing the test with git's stderr when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let n = self.counter.get();
        // Each command gets a later date, so commit order by time matches creation order.
        let date = format!("2024-01-02T03:{:02}:{:02}Z", (n / 60) % 60, n % 60);
        self.counter.set(n + 1);
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs (is it installed?)");
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Commits a change to `file` with `message`; returns the commit id.
    pub fn commit_in(&self, file: &str, message: &str) -> String {
        let path = self.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, format!("{old}{message}\n")).expect("write");
        self.git(&["add", "--", file]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    /// Commits a change to `README` with `message`.
    pub fn commit(&self, message: &str) -> String {
        self.commit_in("README", message)
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", "-m", name, name]);
    }

    pub fn short(sha: &str) -> String {
        format!("sha-{}", &sha[..7])
    }
}

/// Parses rules, failing the test on a bad one.
pub fn rules(rules: &[&str]) -> Vec<TagRule> {
    rules
        .iter()
        .map(|r| r.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The build as `slipway tag` sees it: `cli` over CI variables `ci` over the repository.
pub fn build(repo: &Repo, cli: BuildRef, ci: &[(&str, &str)], options: Options) -> Build {
    let git = GitRepo::discover(repo.path()).expect("open repo");
    let source = cli.or(CiEnv::from_vars(ci.iter().copied())).or(git);
    let b = slipway_tag::RefSource::build_ref(&source).expect("read build");
    Build::resolve(b, options).expect("resolve build")
}

/// Tags for the repository's HEAD with no CI variables.
pub fn tags(repo: &Repo, rule_list: &[&str]) -> TagSet {
    tags_ci(repo, rule_list, &[], &[])
}

/// Tags with CI variables and flavors.
pub fn tags_ci(repo: &Repo, rule_list: &[&str], flavor: &[&str], ci: &[(&str, &str)]) -> TagSet {
    let b = build(repo, BuildRef::default(), ci, Options::default());
    let rule_list = if rule_list.is_empty() {
        TagRule::defaults()
    } else {
        rules(rule_list)
    };
    compute_tags(&b, &rule_list, &Flavor::parse(flavor).expect("flavor")).expect("compute")
}
