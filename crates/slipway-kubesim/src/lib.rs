//! A Kubernetes API on loopback that `kubectl` and kube-rs use unmodified.
//!
//! No kube-apiserver can be installed where slipway's tests and demos run, yet the deployment crate and
//! the pipeline must talk to a real Kubernetes API over HTTP. [`Sim`] is that API, in-process: discovery
//! (aggregated and legacy), the OpenAPI v3 documents kubectl reads, the built-in kinds a delivery tool
//! touches and any kind a CustomResourceDefinition adds, every verb with the apiserver's `Status` errors,
//! watches, and the controllers that make a Deployment roll out (Deployment, ReplicaSet, endpoints, garbage
//! collection, namespace deletion) with a kubelet that simulates pods, including faults chosen by image
//! glob. NodePort and LoadBalancer Services are served on `127.0.0.1:<nodePort>` by a proxy that balances
//! across ready pods that really run, honouring VirtualService, HTTPRoute and Knative traffic weights
//! ([`proxy`]). A Prometheus HTTP API on the same address answers injected queries and `PromQL` over the
//! proxy's request counters ([`metrics`]).
//!
//! Roles:
//! - [`Sim`] starts everything on a free loopback port and hands back its address, a kubeconfig and a
//!   `kube::Client`; dropping it stops it.
//! - [`Options`] says how pods behave (readiness delay, faults) and which metric queries answer.
//! - [`runtime::process`] (`Options::process_runtime`, `--runtime process`) runs pods for real, as local
//!   processes without isolation: read its limits before pointing it at an image you would not run here.
//!
//! ```
//! use slipway_kubesim::{Options, Sim};
//!
//! let sim = Sim::start(Options::default())?;
//! assert!(sim.url().starts_with("http://127.0.0.1:"));
//! assert!(sim.kubeconfig().contains(&sim.url()));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod apply;
mod apply_patch;
mod clock;
pub mod controller;
mod defaults;
mod managed;
pub mod metrics;
pub mod ops;
pub mod patch;
pub mod protobuf;
pub mod proxy;
pub mod resource;
pub mod runtime;
pub mod schema;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

pub use controller::Behaviour;

/// Why a simulator could not start or hand something out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The runtime threads could not be started.
    #[error("starting the simulator's threads")]
    Runtime {
        /// What the OS said.
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("writing the kubeconfig {path}")]
    Kubeconfig {
        /// Where it was to be written.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A `--metric` value is not `QUERY=VALUE`.
    #[error("{message}")]
    Metric {
        /// What is wrong with it.
        message: String,
    },
    /// The process runtime's directory for pods' roots could not be made.
    #[error("making the directory for pods' roots")]
    PodDir {
        /// What the OS said.
        source: std::io::Error,
    },
    /// The kube client could not be built.
    #[error("building a kube client for {url}: {message}")]
    Client {
        /// The server URL.
        url: String,
        /// kube's explanation.
        message: String,
    },
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Where to listen; `127.0.0.1:0` (a free port) by default.
    pub addr: SocketAddr,
    /// How pods behave.
    pub behaviour: Behaviour,
    /// Injected Prometheus answers (`QUERY`, value).
    pub metrics: Vec<(String, f64)>,
    /// How many changes watches can resume from.
    pub history: usize,
    /// Run pods as local processes ([`runtime::process`]) instead of simulating them.
    pub process: Option<runtime::process::ProcessOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            behaviour: Behaviour::default(),
            metrics: Vec::new(),
            history: store::DEFAULT_HISTORY,
            process: None,
        }
    }
}

impl Options {
    /// Listen on `addr`.
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Containers become ready this long after they start.
    #[must_use]
    pub fn ready_after(mut self, d: Duration) -> Self {
        self.behaviour.ready_after = d;
        self
    }

    /// Pods of images matching `glob` never become ready.
    #[must_use]
    pub fn never_ready(mut self, glob: impl Into<String>) -> Self {
        self.behaviour.never_ready.push(glob.into());
        self
    }

    /// Containers of images matching `glob` crash soon after every start.
    #[must_use]
    pub fn crash_loop(mut self, glob: impl Into<String>) -> Self {
        self.behaviour.crash_loop.push(glob.into());
        self
    }

    /// Images matching `glob` cannot be pulled.
    #[must_use]
    pub fn pull_error(mut self, glob: impl Into<String>) -> Self {
        self.behaviour.pull_error.push(glob.into());
        self
    }

    /// The Prometheus API answers `query` with `value`.
    #[must_use]
    pub fn metric(mut self, query: impl Into<String>, value: f64) -> Self {
        self.metrics.push((query.into(), value));
        self
    }

    /// Runs pods as local processes (`--runtime process`), with these options (where pods' roots live).
    #[must_use]
    pub fn process_runtime(mut self, options: runtime::process::ProcessOptions) -> Self {
        self.process = Some(options);
        self
    }

    /// Adds a `QUERY=VALUE` metric as the CLI's `--metric` gives it.
    pub fn metric_text(self, text: &str) -> Result<Self, Error> {
        let (q, v) = metrics::parse_injected(text).map_err(|message| Error::Metric { message })?;
        Ok(self.metric(q, v))
    }
}

/// A running simulator. Dropping it stops the server and the controllers.
pub struct Sim {
    addr: SocketAddr,
    store: Arc<store::Store>,
    metrics: Arc<metrics::Metrics>,
    pod_addrs: Arc<runtime::PodAddrs>,
    process: Option<Arc<runtime::process::Process>>,
    stop: tokio::sync::watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn seed(store: &store::Store) {
    let ctx = ops::Ctx {
        dry_run: false,
        manager: "kube-apiserver".to_owned(),
        applied: false,
    };
    let (ns, node, sa) = {
        let s = store.lock();
        (
            s.registry.get("", "v1", "namespaces"),
            s.registry.get("", "v1", "nodes"),
            s.registry.get("", "v1", "serviceaccounts"),
        )
    };
    if let (Some(ns), Some(node), Some(sa)) = (ns, node, sa) {
        for name in INITIAL_NAMESPACES {
            let _ = ops::create(
                store,
                &ns,
                "v1",
                "",
                json!({"metadata": {"name": name}}),
                &ctx,
            );
            let _ = ops::create(
                store,
                &sa,
                "v1",
                name,
                json!({"metadata": {"name": "default"}}),
                &ctx,
            );
        }
        let _ = ops::create(
            store,
            &node,
            "v1",
            "",
            json!({
                "metadata": {"name": controller::kubelet::NODE,
                    "labels": {"kubernetes.io/hostname": controller::kubelet::NODE,
                        "kubernetes.io/os": std::env::consts::OS,
                        "kubernetes.io/arch": server::discovery::go_arch()}},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": clock::now_string(), "lastTransitionTime": clock::now_string()}],
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                        {"type": "Hostname", "address": controller::kubelet::NODE}],
                    "nodeInfo": {"kubeletVersion": server::discovery::GIT_VERSION,
                        "architecture": server::discovery::go_arch(), "operatingSystem": std::env::consts::OS,
                        "containerRuntimeVersion": "kubesim://1", "kernelVersion": "", "osImage": "kubesim",
                        "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
                },
            }),
            &ctx,
        );
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<server::App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| server::handle(app.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
        });
    }
}

impl Sim {
    /// Starts a simulator: the API on `options.addr`, the controllers, and the simulated kubelet.
    pub fn start(options: Options) -> Result<Sim, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kubesim")
            .enable_all()
            .build()
            .map_err(|source| Error::Runtime { source })?;
        let std_listener =
            std::net::TcpListener::bind(options.addr).map_err(|source| Error::Bind {
                addr: options.addr,
                source,
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|source| Error::Bind {
                addr: options.addr,
                source,
            })?;
        let addr = std_listener.local_addr().map_err(|source| Error::Bind {
            addr: options.addr,
            source,
        })?;
        let store = Arc::new(store::Store::new(options.history));
        seed(&store);
        let metrics = Arc::new(metrics::Metrics::default());
        for (q, v) in &options.metrics {
            metrics.inject(q, *v);
        }
        let logs = Arc::new(server::Logs::default());
        let addrs = Arc::new(runtime::PodAddrs::default());
        let app = Arc::new(server::App {
            store: store.clone(),
            addr: addr.to_string(),
            logs: logs.clone(),
            metrics: metrics.clone(),
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)
                .map_err(|source| Error::Bind { addr, source })?
        };
        runtime.spawn(serve(listener, app, stop_rx.clone()));
        runtime.spawn(proxy::run(
            store.clone(),
            metrics.clone(),
            addrs.clone(),
            stop_rx.clone(),
        ));
        let process = match &options.process {
            Some(p) => Some(Arc::new(
                runtime::process::Process::new(p.clone(), logs, addrs.clone(), store.clone())
                    .map_err(|source| Error::PodDir { source })?,
            )),
            None => None,
        };
        let kubelet: Arc<dyn controller::kubelet::Kubelet> = match &process {
            Some(p) => p.clone(),
            None => Arc::new(controller::kubelet::Simulated),
        };
        runtime.spawn(controller::run(
            store.clone(),
            options.behaviour,
            kubelet,
            stop_rx,
        ));
        Ok(Sim {
            addr,
            store,
            metrics,
            pod_addrs: addrs,
            process,
            stop,
            runtime: Some(runtime),
        })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig (YAML) whose current context is this simulator.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: {url}\ncontexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n    namespace: default\ncurrent-context: kubesim\nusers:\n- name: kubesim\n  user: {{}}\npreferences: {{}}\n",
            url = self.url()
        )
    }

    /// Writes the kubeconfig to `path` atomically (a temporary file beside it, then a rename).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        let err = |source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        // A unique temporary beside the target, removed if anything fails before the rename.
        // Mode 0666 less the umask, as a plain file create gives (tempfile's default is 0600).
        let mut tmp = tempfile::Builder::new()
            .prefix(".kubeconfig.")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(err)?;
        tmp.write_all(self.kubeconfig().as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(path).map(drop).map_err(|e| err(e.error))
    }

    /// A kube client for this simulator. Call it inside a tokio runtime (kube's client spawns a task).
    pub fn client(&self) -> Result<kube::Client, Error> {
        let url = self.url();
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::Client {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let mut config = kube::Config::new(uri);
        "default".clone_into(&mut config.default_namespace);
        kube::Client::try_from(config).map_err(|e| Error::Client {
            url,
            message: e.to_string(),
        })
    }

    /// Makes the Prometheus API answer `query` with `value` from now on.
    pub fn inject_metric(&self, query: &str, value: f64) {
        self.metrics.inject(query, value);
    }

    /// Where running pods listen on loopback: the NodePort proxy sends a ready pod's requests to the
    /// address recorded here, and sends none to a pod without one.
    pub fn pod_addrs(&self) -> &Arc<runtime::PodAddrs> {
        &self.pod_addrs
    }

    /// The Prometheus API's answers (injected series and the proxy's request counters).
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.metrics
    }

    /// Where a running pod listens on loopback (the process runtime's `127.0.0.1:$PORT`).
    pub fn pod_addr(&self, namespace: &str, pod: &str) -> Option<SocketAddr> {
        self.pod_addrs.get(namespace, pod)
    }

    /// Forgets the change history: watches from older resourceVersions get 410 Gone.
    pub fn compact(&self) {
        self.store.lock().compact();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // No orphans: every pod's processes are killed before this returns.
        if let Some(p) = &self.process {
            p.shutdown();
        }
        if let Some(rt) = self.runtime.take() {
            // Allowed inside another runtime's async context, unlike dropping a runtime there.
            rt.shutdown_background();
        }
    }
}
