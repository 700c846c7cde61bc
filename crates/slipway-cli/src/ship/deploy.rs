//! The deploy and verify stages: a rollout through slipway-deploy on the in-process kubesim (the
//! default: its process runtime runs the image from the layout) or on the cluster of a kubeconfig; then
//! the service asked for its health path through its NodePort.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_deploy::analysis::provider::{HttpOptions, HttpProviders};
use slipway_deploy::cluster::kube::Kube;
use slipway_deploy::cluster::{Cluster as _, SERVICE};
use slipway_deploy::rollout::{Request, Rollout};
use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
use slipway_deploy::state::{MANAGED_BY, MANAGED_BY_VALUE, Phase};
use slipway_kubesim::runtime::process::ProcessOptions;
use slipway_kubesim::{Options, Sim};

use super::Outcome;
use super::config::Config;
use super::report::Running;
use crate::deploy::chain;

/// Where `--deploy` sends the rollout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A kubesim in this process, with the process runtime.
    Kubesim,
    /// The current context of a kubeconfig.
    Kubeconfig(PathBuf),
    /// A `GitOps` repository.
    Gitops(String),
    /// Knative Serving.
    Knative,
}

impl Target {
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        match text.split_once('=') {
            None if text == "kubesim" => Ok(Target::Kubesim),
            None if text == "knative" => Ok(Target::Knative),
            Some(("kubeconfig", file)) if !file.is_empty() => {
                Ok(Target::Kubeconfig(PathBuf::from(file)))
            }
            Some(("gitops", url)) if !url.is_empty() => Ok(Target::Gitops(url.to_owned())),
            _ => Err(format!(
                "--deploy {text:?}: expected kubesim, kubeconfig=FILE, gitops=URL or knative"
            )),
        }
    }
}

/// A cluster connection, and what ship knows about it.
pub(crate) struct Connection {
    pub kube: Kube,
    /// The in-process simulator, kept alive as long as the connection (and `--serve`).
    pub sim: Option<Sim>,
    _kubeconfig_dir: Option<tempfile::TempDir>,
    /// The API server says it is kubesim (`/version`'s gitVersion ends in `-kubesim`).
    pub is_kubesim: bool,
    /// The API server is on this machine (so are kubesim's `NodePort`s).
    pub loopback: bool,
}

/// Connects to the target (starting the in-process kubesim for [`Target::Kubesim`]).
pub(crate) fn connect(target: &Target, namespace: &str) -> Result<Connection, String> {
    match target {
        // Knative runs on the in-process kubesim too, which serves `serving.knative.dev`.
        Target::Kubesim | Target::Knative => {
            let sim = Sim::start(Options::default().process_runtime(ProcessOptions::default()))
                .map_err(|e| format!("starting kubesim: {}", chain(&e)))?;
            let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
            let path = dir.path().join("kubeconfig");
            sim.write_kubeconfig(&path)
                .map_err(|e| format!("writing kubesim's kubeconfig: {}", chain(&e)))?;
            let kube = Kube::from_kubeconfig(&path, namespace).map_err(|e| chain(&e))?;
            Ok(Connection {
                kube,
                sim: Some(sim),
                _kubeconfig_dir: Some(dir),
                is_kubesim: true,
                loopback: true,
            })
        }
        Target::Kubeconfig(path) => {
            let kube = Kube::from_kubeconfig(path, namespace).map_err(|e| chain(&e))?;
            let (is_kubesim, loopback) = probe(path)?;
            Ok(Connection {
                kube,
                sim: None,
                _kubeconfig_dir: None,
                is_kubesim,
                loopback,
            })
        }
        // The deploy stage hands a GitOps target to slipway-gitops before it connects to anything.
        Target::Gitops(url) => Err(format!("{url} is a Git repository, not a cluster")),
    }
}

/// Asks the API server of a kubeconfig for `/version`: (is it kubesim, is it on loopback).
fn probe(path: &Path) -> Result<(bool, bool), String> {
    let cluster = Kube::from_kubeconfig(path, "default").map_err(|e| crate::deploy::chain(&e))?;
    let loopback = matches!(
        cluster.server_host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    let version = cluster
        .server_version()
        .map_err(|e| crate::deploy::chain(&e))?;
    Ok((version.ends_with("-kubesim"), loopback))
}

/// The Deployment and Service of a service without manifests of its own: `--port` as the container
/// port (and `$PORT`), a readiness probe on `--health`, the progress deadline; a NodePort Service on
/// kubesim, `ClusterIP` elsewhere.
pub(crate) fn generated_manifest(
    name: &str,
    image: &str,
    config: &Config,
    deadline_seconds: u64,
    node_port: bool,
) -> Vec<Value> {
    let labels = json!({"app.kubernetes.io/name": name});
    let service_type = if node_port { "NodePort" } else { "ClusterIP" };
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {MANAGED_BY: MANAGED_BY_VALUE}},
            "spec": {"replicas": config.replicas, "progressDeadlineSeconds": deadline_seconds,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": name, "image": image,
                        "ports": [{"name": "http", "containerPort": config.port, "protocol": "TCP"}],
                        "env": [{"name": "PORT", "value": config.port.to_string()}],
                        "readinessProbe": {"httpGet": {"path": config.health, "port": "http"},
                            "periodSeconds": 1, "failureThreshold": 3}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {MANAGED_BY: MANAGED_BY_VALUE}},
            "spec": {"type": service_type, "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}),
    ]
}

/// The rollout spec from the strategy and steps in effect.
pub(crate) fn spec(config: &Config) -> Result<RolloutSpec, String> {
    let kind: StrategyKind = config
        .strategy
        .parse()
        .map_err(|e| format!("--strategy {}: {}", config.strategy, chain(&e)))?;
    let steps = if kind == StrategyKind::Canary {
        config.effective_steps()
    } else {
        config.steps.as_deref()
    };
    RolloutSpec::from_flags(kind, steps, TrafficRouting::None).map_err(|e| chain(&e))
}

/// Requests to one path of a NodePort, one after another on a thread, until dropped.
struct Traffic {
    port: std::sync::Arc<std::sync::atomic::AtomicU16>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(path: String) -> Traffic {
        use std::sync::atomic::Ordering;
        let port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (port, stop) = (port.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match port.load(Ordering::Relaxed) {
                        0 => std::thread::sleep(Duration::from_millis(50)),
                        p => {
                            // Answers (and failures) are counted by kubesim's proxy; only the load
                            // matters here.
                            let _ = http_get(p, &path);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        };
        Traffic {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn aim(&self, port: u16) {
        self.port.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    fn aimed(&self) -> bool {
        self.port.load(std::sync::atomic::Ordering::Relaxed) != 0
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The image this directory shipped last (`oci:PATH@sha256:HEX`), when it differs from `image` and its
/// layout still holds it.
fn previous_image(record: &Path, image: &str) -> Option<String> {
    let text = std::fs::read_to_string(record).ok()?;
    let previous = text.trim();
    if previous.is_empty() || previous == image || previous.len() > 4096 {
        return None;
    }
    let (path, digest) = previous.strip_prefix("oci:")?.rsplit_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    Path::new(path)
        .join("blobs/sha256")
        .join(hex)
        .is_file()
        .then(|| previous.to_owned())
}

/// What the deploy stage leaves for the verify stage.
pub(crate) struct Deployed {
    pub phase: Phase,
    pub rolled_back: bool,
}

/// Runs `image` as the Knative Service `name` (kubesim serves Knative; the Route's NodePort Service of the
/// same name answers), walking the canary steps over revision traffic; a candidate that does not become
/// ready leaves all traffic on the previous revision.
pub(crate) fn knative(
    connection: &Connection,
    name: &str,
    image: &str,
    config: &Config,
    deadline: Duration,
) -> Result<(Deployed, Outcome), Outcome> {
    use slipway_deploy::serverless::{self, Action, Container, Probe};
    let steps = match config.effective_steps() {
        Some(text) => slipway_deploy::spec::parse_steps(text)
            .map_err(|e| Outcome::failed(format!("steps: {}", chain(&e))))?,
        None => Vec::new(),
    };
    let container = Container::new(image)
        .port(config.port)
        .readiness(Probe::http(config.health.clone()).period(1));
    let template = serverless::render(name, &container, &[])["spec"]["template"].clone();
    let (o, _) = crate::knative::walk_on(
        &connection.kube,
        name,
        &steps,
        Some(&template),
        Action::Reconcile,
        deadline,
    )
    .map_err(Outcome::failed)?;
    let phase = o.phase;
    let figure = format!("Knative Service {name}: {phase}: {}", o.message);
    let outcome = match phase {
        Phase::Healthy => Outcome::passed(figure),
        Phase::Paused | Phase::Inconclusive => Outcome::paused(figure),
        _ => Outcome::failed(figure),
    };
    Ok((
        Deployed {
            phase,
            rolled_back: phase == Phase::Degraded,
        },
        outcome,
    ))
}

/// Rolls `image` out as Deployment `name`.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)] // the request, the driver and its outcome
pub(crate) fn rollout(
    connection: &Connection,
    dir: &Path,
    name: &str,
    image: &str,
    config: &Config,
    deadline: Duration,
    running: &Running<'_>,
) -> Result<(Deployed, Outcome), Outcome> {
    let spec = spec(config).map_err(Outcome::failed)?;
    let mut request = Request::new(image, spec);
    request.manifest = match &config.manifests {
        Some(file) => {
            let path = dir.join(file);
            let text = crate::deploy::read_bounded("manifests", &path).map_err(Outcome::failed)?;
            serde_saphyr::from_multiple::<Value>(&text)
                .map_err(|e| Outcome::failed(format!("{}: {e}", path.display())))?
                .into_iter()
                .filter(|v| !v.is_null())
                .collect()
        }
        None => generated_manifest(
            name,
            image,
            config,
            deadline.as_secs(),
            connection.is_kubesim,
        ),
    };
    for file in &config.analysis.templates {
        let path = dir.join(file);
        request.templates.push(
            crate::deploy::read_bounded("analysis template", &path).map_err(Outcome::failed)?,
        );
    }
    request.args = config
        .analysis
        .args
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if connection.is_kubesim
        && !config.analysis.args.contains_key("prometheus")
        && let Some(url) = connection.kube.server_url()
    {
        request.args.push((
            "prometheus".to_owned(),
            url.trim_end_matches('/').to_owned(),
        ));
    }
    // Live traffic through the NodePort while the rollout runs, for analyses to judge.
    let traffic = config
        .analysis
        .traffic
        .clone()
        .filter(|_| connection.is_kubesim && connection.loopback)
        .map(Traffic::start);
    if let Some(t) = &traffic
        && let Ok(Some(port)) = node_port(connection, name)
    {
        t.aim(port);
    }
    // The in-process simulator starts empty: the version this directory shipped last comes up first, so
    // that the new one arrives as a real canary beside it (and one that fails leaves it serving).
    let last_shipped = dir.join("target").join("ship").join("last-shipped");
    if connection.sim.is_some()
        && let Some(previous) = previous_image(&last_shipped, image)
    {
        running.step(&format!(
            "bringing up the previous version first: {previous}"
        ));
        let mut first = Request::new(&previous, RolloutSpec::rolling());
        first.manifest.clone_from(&request.manifest);
        let up = Rollout::new(&connection.kube, name)
            .timeout(deadline + Duration::from_secs(60))
            .apply(&first)
            .map_err(|e| Outcome::failed(chain(&e)))?;
        if up.phase != Phase::Healthy {
            return Err(Outcome::failed(format!(
                "the previous version {previous} did not come up ({}): {}",
                up.phase, up.state.message
            )));
        }
    }
    let providers =
        HttpProviders::new(HttpOptions::default()).map_err(|e| Outcome::failed(chain(&e)))?;
    let outcome = {
        let mut driver = Rollout::new(&connection.kube, name)
            .provider(&providers)
            // Pauses and analyses can take long; a deadline that passes rolls back well before this.
            .timeout(deadline * 5 + Duration::from_secs(600))
            .on_progress(|state| {
                running.step(&state.summary());
                if let Some(t) = &traffic
                    && !t.aimed()
                    && let Ok(Some(port)) = node_port(connection, name)
                {
                    t.aim(port);
                }
            });
        driver.apply(&request)
    }
    .map_err(|e| Outcome::failed(chain(&e)))?;
    if outcome.phase == Phase::Healthy {
        // What the next ship brings up first on a fresh simulator (best effort: only a convenience).
        let _ = std::fs::write(&last_shipped, image);
    }
    let summary = outcome.state.summary();
    let rolled_back = outcome.phase == Phase::Degraded;
    let result = match outcome.phase {
        Phase::Healthy => Outcome::passed(format!("Healthy ({})", config.strategy)),
        Phase::Paused => Outcome::paused(format!(
            "{summary}; slipway deploy promote --name {name} carries on"
        )),
        Phase::Degraded => Outcome::failed(format!(
            "rolled back: the new version is {summary}; the previous version stays"
        )),
        _ => Outcome::paused(summary),
    };
    Ok((
        Deployed {
            phase: outcome.phase,
            rolled_back,
        },
        result,
    ))
}

/// The NodePort of Service `name`, if it has one.
pub(crate) fn node_port(connection: &Connection, name: &str) -> Result<Option<u16>, String> {
    let service = connection
        .kube
        .get(&SERVICE, name)
        .map_err(|e| format!("reading Service {name}: {}", chain(&e)))?;
    Ok(service
        .as_ref()
        .and_then(|s| s.pointer("/spec/ports/0/nodePort"))
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok()))
}

/// The status code and the start of the body of `GET path` on 127.0.0.1:port.
pub(crate) fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    const LIMIT: u64 = 64 * 1024;
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connecting to 127.0.0.1:{port}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("sending GET {path}: {e}"))?;
    let mut bytes = Vec::new();
    stream
        .take(LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the answer to GET {path}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("GET {path}: not an HTTP answer"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.chars().take(80).collect::<String>())
        .unwrap_or_default();
    Ok((status, body.trim().to_owned()))
}

/// Asks the service for its health path through the NodePort until it answers 2xx (the endpoints follow
/// the pods within moments) or `patience` passes.
pub(crate) fn verify(
    connection: &Connection,
    name: &str,
    health: &str,
    patience: Duration,
) -> (Option<String>, Outcome) {
    if !connection.is_kubesim || !connection.loopback {
        return (
            None,
            Outcome::skipped(
                "the cluster is not a kubesim on this machine: its Services are not reachable from here",
            ),
        );
    }
    let port = match node_port(connection, name) {
        Ok(Some(port)) => port,
        Ok(None) => {
            return (
                None,
                Outcome::skipped(&format!("Service {name} has no NodePort")),
            );
        }
        Err(e) => return (None, Outcome::failed(e)),
    };
    let url = format!("http://127.0.0.1:{port}{health}");
    let started = Instant::now();
    let mut last;
    loop {
        last = match http_get(port, health) {
            Ok((status, body)) if (200..300).contains(&status) => {
                return (
                    Some(url.clone()),
                    Outcome::passed(format!("{url} answered {status} {body}")),
                );
            }
            Ok((status, body)) => format!("{url} answered {status} {body}"),
            Err(e) => e,
        };
        if started.elapsed() >= patience {
            return (Some(url), Outcome::failed(last));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(Target::parse("kubesim"), Ok(Target::Kubesim));
        assert_eq!(
            Target::parse("kubeconfig=/tmp/k"),
            Ok(Target::Kubeconfig(PathBuf::from("/tmp/k")))
        );
        assert_eq!(
            Target::parse("gitops=file:///r"),
            Ok(Target::Gitops("file:///r".to_owned()))
        );
        assert!(Target::parse("kubeconfig=").is_err());
        assert!(Target::parse("cluster").is_err());
    }

    #[test]
    fn generated_objects_carry_port_probe_and_deadline() {
        let config = Config {
            port: 9000,
            health: "/ready".to_owned(),
            ..Config::default()
        };
        let objects = generated_manifest("web", "oci:/l@sha256:00", &config, 30, true);
        let d = &objects[0];
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 30);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["containerPort"], 9000);
        assert_eq!(c["env"][0], json!({"name": "PORT", "value": "9000"}));
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(objects[1]["spec"]["type"], "NodePort");
        let objects = generated_manifest("web", "img", &config, 30, false);
        assert_eq!(objects[1]["spec"]["type"], "ClusterIP");
    }
}
