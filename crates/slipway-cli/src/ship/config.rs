//! `slipway.toml` at the service's root, merged under the command-line flags.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The largest `slipway.toml` read, in bytes.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The file's name, at the service's root.
pub(crate) const FILE_NAME: &str = "slipway.toml";

/// Which stages run (all by default; `lint` only when golangci-lint is installed, `race` only when a C
/// compiler is there).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
// One switch per stage: bools by nature.
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct Stages {
    pub tidy: bool,
    pub vet: bool,
    pub lint: bool,
    pub test: bool,
    pub race: bool,
    pub coverage: bool,
    pub deploy: bool,
    pub verify: bool,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            tidy: true,
            vet: true,
            lint: true,
            test: true,
            race: true,
            coverage: true,
            deploy: true,
            verify: true,
        }
    }
}

/// Coverage gates, in percent (0 or absent: no gate).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Gates {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<f64>,
    /// Diff coverage of the lines changed since the base branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<f64>,
    /// The base revision for diff coverage (default: `$GITHUB_BASE_REF`, GitLab's merge-request target,
    /// `origin/HEAD`, or `main`/`master` when HEAD is on another branch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_base: Option<String>,
    /// Per-package overrides, `REGEX=N`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Files left out of every number (regexes on the profile's file names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// Analysis for `analysis=NAME` steps: Argo Rollouts `AnalysisTemplate` files and their arguments.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Analysis {
    /// Template files, relative to the service's root.
    pub templates: Vec<String>,
    /// Arguments. On kubesim, `prometheus` defaults to the simulator's URL (it serves the Prometheus
    /// query API over the requests its `NodePorts` carried, `kubesim_http_requests_total`).
    pub args: BTreeMap<String, String>,
    /// A path ship requests through the Service's NodePort all through the rollout, so that analyses
    /// judge live traffic (kubesim only; e.g. `/greet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<String>,
}

/// Overrides for one environment, chosen with `$SLIPWAY_ENVIRONMENT`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Environment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// The whole configuration: the file's values over the defaults, then the flags over both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// The service's name (Deployment and Service); default: the main package's directory name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The main package (`./cmd/NAME`); default: the only `cmd/NAME`, or `.` when the root is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub platforms: Vec<String>,
    /// Where the image goes: `oci:DIR` or a registry `HOST[:PORT]/REPO`; default `oci:target/ship/image`
    /// under the service's root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `kubesim`, `kubeconfig=FILE`, `gitops=URL` or `knative`.
    pub deploy: String,
    pub namespace: String,
    /// `rolling`, `blue-green` or `canary`.
    pub strategy: String,
    /// Canary steps (`setWeight=20,pause=10s,...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<String>,
    pub replicas: u32,
    pub port: u16,
    pub health: String,
    pub progress_deadline: String,
    /// Kubernetes objects to create instead of the generated Deployment and Service (YAML, relative to the
    /// service's root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<String>,
    /// An integration run (a shell command in the service's root) whose coverage counts too: the main
    /// package is built with `go build -cover` to `$SLIPWAY_COVER_BIN`, the command runs with `GOCOVERDIR`
    /// set, and what the binary recorded is merged with the unit tests' profile before the gates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    pub stages: Stages,
    pub gates: Gates,
    pub analysis: Analysis,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Environment>,
}

/// The canary steps used when neither the file nor `--steps` gives any.
pub(crate) const DEFAULT_STEPS: &str = "setWeight=50,pause=5s";

impl Default for Config {
    fn default() -> Self {
        Config {
            name: None,
            package: None,
            platforms: vec!["linux/amd64".to_owned(), "linux/arm64".to_owned()],
            repository: None,
            deploy: "kubesim".to_owned(),
            namespace: "default".to_owned(),
            strategy: "canary".to_owned(),
            steps: None,
            replicas: 2,
            port: 8080,
            health: "/healthz".to_owned(),
            progress_deadline: "2m".to_owned(),
            manifests: None,
            integration: None,
            stages: Stages::default(),
            gates: Gates::default(),
            analysis: Analysis::default(),
            environments: BTreeMap::new(),
        }
    }
}

/// Why `slipway.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: environment {name:?} (from $SLIPWAY_ENVIRONMENT) is not defined")]
    NoEnvironment { path: String, name: String },
}

impl Config {
    /// Reads `DIR/slipway.toml` over the defaults (the defaults alone when there is none).
    pub(crate) fn load(dir: &Path) -> Result<Config, Error> {
        let path = dir.join(FILE_NAME);
        let display = path.display().to_string();
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(Error::Read {
                    path: display,
                    source,
                });
            }
        };
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|source| Error::Read {
                path: display.clone(),
                source,
            })?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(Error::TooLarge { path: display });
        }
        Config::parse(&display, &text)
    }

    /// Parses the text of a `slipway.toml` over the defaults.
    pub(crate) fn parse(path: &str, text: &str) -> Result<Config, Error> {
        toml::from_str(text).map_err(|e| Error::Parse {
            path: path.to_owned(),
            // toml's message carries the line and column and a caret excerpt; keep its first line
            // plus the excerpt as it is (it is the source text itself, not a cause).
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Applies the environment `name` (from `$SLIPWAY_ENVIRONMENT`).
    pub(crate) fn select_environment(&mut self, name: &str) -> Result<(), Error> {
        let env = self
            .environments
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoEnvironment {
                path: FILE_NAME.to_owned(),
                name: name.to_owned(),
            })?;
        if let Some(v) = env.deploy {
            self.deploy = v;
        }
        if let Some(v) = env.namespace {
            self.namespace = v;
        }
        if let Some(v) = env.to {
            self.repository = Some(v);
        }
        if let Some(v) = env.strategy {
            self.strategy = v;
        }
        if env.steps.is_some() {
            self.steps = env.steps;
        }
        if let Some(v) = env.replicas {
            self.replicas = v;
        }
        Ok(())
    }

    /// The merged configuration as TOML (`--print-config`).
    pub(crate) fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }

    /// The canary steps in effect (the default ones for a canary without steps).
    pub(crate) fn effective_steps(&self) -> Option<&str> {
        match (&self.steps, self.strategy.as_str()) {
            (Some(s), _) => Some(s),
            (None, "canary") => Some(DEFAULT_STEPS),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_over_defaults() {
        let c = Config::parse(
            "slipway.toml",
            "platforms = [\"linux/amd64\"]\nport = 9090\n[stages]\nlint = false\n[gates]\ntotal = 60.0\n",
        )
        .expect("parses");
        assert_eq!(c.platforms, ["linux/amd64"]);
        assert_eq!(c.port, 9090);
        assert!(!c.stages.lint);
        assert!(c.stages.vet);
        assert_eq!(c.gates.total, Some(60.0));
        assert_eq!(c.health, "/healthz");
        assert_eq!(c.progress_deadline, "2m");
    }

    #[test]
    fn unknown_keys_are_errors_with_their_place() {
        let err = Config::parse("x/slipway.toml", "prot = 1\n").expect_err("a typo");
        let text = err.to_string();
        assert!(text.starts_with("x/slipway.toml: "), "{text}");
        assert!(text.contains("prot"), "{text}");
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn environments_override() {
        let mut c = Config::parse(
            "slipway.toml",
            "[environments.prod]\ndeploy = \"kubeconfig=prod.yaml\"\nstrategy = \"rolling\"\n",
        )
        .expect("parses");
        c.select_environment("prod").expect("defined");
        assert_eq!(c.deploy, "kubeconfig=prod.yaml");
        assert_eq!(c.strategy, "rolling");
        assert!(c.select_environment("staging").is_err());
    }

    #[test]
    fn printed_config_reads_back_the_same() {
        let mut c = Config::default();
        c.gates.total = Some(70.0);
        c.steps = Some("setWeight=20".to_owned());
        let again = Config::parse("printed", &c.to_toml()).expect("reads back");
        assert_eq!(again, c);
    }
}
