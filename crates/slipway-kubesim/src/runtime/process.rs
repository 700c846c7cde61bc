//! The process runtime: a [`Kubelet`] that runs pods as local processes.
//!
//! For each pod, each container gets its image pulled for this host's platform and unpacked into a root
//! directory of its own ([`super::pull`]), then its program runs as a plain process of this
//! machine: `ROOT/path/to/program`, found inside the root, with the working directory `ROOT/WorkingDir`,
//! the image's environment then the container's, and `PORT`, a free loopback port that stands for the
//! container's (first) `containerPort` (the Cloud Run and Knative convention). The pod's loopback address
//! is recorded in [`PodAddrs`]; the container's standard output and error are its log (`kubectl logs`),
//! of which the last [`ProcessOptions::log_limit`] bytes are kept.
//!
//! Probes run for real (`httpGet` and `tcpSocket`, with their delays, periods, timeouts and thresholds);
//! without a readiness probe a container is ready once it has run for the simulator's `ready_after`. An
//! exit, or a failed liveness or startup probe (which kills the container), is a restart after a backoff
//! of the same shape as the simulated kubelet's crash loop, counted in `restartCount` with `lastState`.
//! A pull that fails is `ErrImagePull` then `ImagePullBackOff` with the error's text, and is retried.
//! Deleting a pod sends `SIGTERM` to its processes' groups, `SIGKILL` after the grace period, and then
//! finalizes the pod; dropping the [`Sim`](crate::Sim) kills every process group at once.
//!
//! Pulls, unpacking, processes and probes live on threads of their own: a controller pass only reads what
//! they report and never waits for them.
//!
//! # Limits
//!
//! - **No isolation.** A pod is an ordinary process of the user running the simulator: no namespaces, no
//!   chroot, no cgroups, no resource limits, no user from the image. It sees the host's file system;
//!   absolute paths it opens are the host's (its own files are under its root, which is its working
//!   directory when the image sets none). Run only images you would run on this machine.
//! - **This host's platform only**: an image for another OS or architecture is an image pull error that
//!   says which platform it is for.
//! - **`$PORT` is the only way in.** The pod's address is `127.0.0.1:$PORT`; a service that ignores
//!   `$PORT` and listens on a fixed port cannot be reached through the pod's address, and two replicas of
//!   it collide.
//! - **No volumes**, no init containers, no `exec` or `grpc` probes (such a probe always fails), no
//!   HTTPS probes, no image pull secrets beyond the Docker/containers auth files slipway-oci reads, no
//!   changes to a running pod's image.

use std::collections::HashMap;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::PodAddrs;
use super::launch::{self, Probe};
use super::pull;
use crate::clock;
use crate::controller::Ctl;
use crate::controller::kubelet::{
    Kubelet, allocate_pod_ip, crash_backoff, finish_deletion, glob_match, pod_conditions, schedule,
};
use crate::ops;
use crate::server::Logs;
use crate::store::Store;

/// How often a container's supervisor looks at its process and at a stop request.
const TICK: Duration = Duration::from_millis(50);
/// How long `ErrImagePull` shows before `ImagePullBackOff`.
const ERR_IMAGE_PULL_SHOWN: Duration = Duration::from_secs(1);
/// How long dropping the simulator waits for killed processes to be reaped.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the process runtime runs pods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcessOptions {
    /// Where pods' root directories are made (one directory per pod, removed when the pod goes). `None`:
    /// a temporary directory removed when the simulator stops.
    pub root_dir: Option<PathBuf>,
    /// How many bytes of each container's output are kept (the last ones): 4 MiB by default.
    pub log_limit: usize,
    /// How many bytes one container's image may unpack to (file contents plus 512 per entry): 4 GiB by
    /// default.
    pub unpack_limit: u64,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            root_dir: None,
            log_limit: 4 << 20,
            unpack_limit: 4 << 30,
        }
    }
}

impl ProcessOptions {
    /// Make pods' root directories under `dir`.
    #[must_use]
    pub fn root_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root_dir = Some(dir.into());
        self
    }

    /// Keep the last `bytes` of each container's output.
    #[must_use]
    pub fn log_limit(mut self, bytes: usize) -> Self {
        self.log_limit = bytes;
        self
    }

    /// Let one container's image unpack to at most `bytes`.
    #[must_use]
    pub fn unpack_limit(mut self, bytes: u64) -> Self {
        self.unpack_limit = bytes;
        self
    }
}

/// A kubelet that runs pods as processes of this machine (see the [module documentation](self)).
pub struct Process {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("root_dir", &self.inner.base)
            .finish_non_exhaustive()
    }
}

struct Inner {
    options: ProcessOptions,
    base: PathBuf,
    _temp: Option<tempfile::TempDir>,
    logs: Arc<Logs>,
    addrs: Arc<PodAddrs>,
    /// Running pods by UID.
    pods: Mutex<HashMap<String, Arc<Pod>>>,
    shut_down: AtomicBool,
}

impl Process {
    /// A process runtime writing pods' output to `logs` and their addresses to `addrs`. A thread watches
    /// `store` for pods removed without the kubelet (a forced delete) and stops their processes.
    pub fn new(
        options: ProcessOptions,
        logs: Arc<Logs>,
        addrs: Arc<PodAddrs>,
        store: Arc<Store>,
    ) -> std::io::Result<Self> {
        let (base, temp) = if let Some(dir) = &options.root_dir {
            std::fs::create_dir_all(dir)?;
            (dir.clone(), None)
        } else {
            let temp = tempfile::Builder::new().prefix("kubesim-pods-").tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        };
        let inner = Arc::new(Inner {
            options,
            base,
            _temp: temp,
            logs,
            addrs,
            pods: Mutex::new(HashMap::new()),
            shut_down: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("kubesim-reaper".to_owned())
            .spawn(move || reap(&weak, &store))?;
        Ok(Process { inner })
    }

    /// Kills every pod's processes (their whole process groups, at once) and waits, briefly, for them to
    /// be reaped and their root directories removed. Pods started afterwards do not run.
    pub fn shutdown(&self) {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        let pods: Vec<Arc<Pod>> = lock(&self.inner.pods).values().cloned().collect();
        for pod in &pods {
            pod.stop(Duration::ZERO);
        }
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        for pod in &pods {
            while !pod.finished() && Instant::now() < deadline {
                std::thread::sleep(TICK);
            }
            self.inner.forget(pod);
        }
    }

    /// Where a pod's root directories are (one per container, named after it).
    pub fn pod_root(&self, pod_uid: &str) -> PathBuf {
        self.inner.base.join(pod_uid)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Inner {
    fn forget(&self, pod: &Pod) {
        lock(&self.pods).remove(&pod.uid);
        self.addrs.remove(&pod.namespace, &pod.name);
        let mut logs = lock(&self.logs);
        for c in &pod.containers {
            logs.remove(&(pod.namespace.clone(), pod.name.clone(), c.name.clone()));
        }
    }
}

/// Stops the processes of pods that left the store without passing through the kubelet.
fn reap(inner: &Weak<Inner>, store: &Store) {
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let live: std::collections::HashSet<String> = {
            let state = store.lock();
            state
                .list("", "pods", None)
                .map(|(_, p)| ops::uid_of(p).to_owned())
                .collect()
        };
        let gone: Vec<Arc<Pod>> = lock(&inner.pods)
            .values()
            .filter(|p| !live.contains(&p.uid))
            .cloned()
            .collect();
        for pod in gone {
            pod.stop(Duration::ZERO);
            if pod.finished() {
                inner.forget(&pod);
            }
        }
    }
}

/// One pod's processes.
struct Pod {
    uid: String,
    namespace: String,
    name: String,
    ip: String,
    /// When the pod's processes must be gone: set by a deletion (now + its grace period).
    stop_at: Mutex<Option<Instant>>,
    wake: Condvar,
    containers: Vec<Arc<Container>>,
    finished: AtomicBool,
}

impl Pod {
    fn stop(&self, grace: Duration) {
        let at = Instant::now() + grace;
        let mut stop = lock(&self.stop_at);
        *stop = Some(stop.map_or(at, |s| s.min(at)));
        self.wake.notify_all();
    }

    fn stop_at(&self) -> Option<Instant> {
        *lock(&self.stop_at)
    }

    fn stopping(&self) -> bool {
        self.stop_at().is_some()
    }

    /// Sleeps up to `d`, waking early when the pod is told to stop; returns whether it is stopping.
    fn sleep(&self, d: Duration) -> bool {
        let guard = lock(&self.stop_at);
        if guard.is_some() {
            return true;
        }
        let (guard, _) = self
            .wake
            .wait_timeout(guard, d)
            .unwrap_or_else(PoisonError::into_inner);
        guard.is_some()
    }

    fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
}

/// What a container runs, fixed when the pod is first seen.
struct Spec {
    image: String,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    /// The container's own variables (with `PORT` and `HOSTNAME`), applied over the image's.
    env: Vec<(String, String)>,
    restart: Restart,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
    startup: Option<Probe>,
    termination_grace: Duration,
    pull_error: bool,
    never_ready: bool,
    ready_after: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Restart {
    Always,
    OnFailure,
    Never,
}

/// One container: its spec and what its supervisor reports.
struct Container {
    name: String,
    port: u16,
    spec: Spec,
    report: Mutex<Report>,
}

/// A container's state as its status shows it.
// The flags are independent facts a container status reports side by side, not states of one machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone)]
struct Report {
    /// `{"waiting": …}`, `{"running": …}` or `{"terminated": …}`.
    state: Value,
    last_state: Value,
    restart_count: i64,
    image_id: String,
    /// When the current run started (monotonic), for `ready_after`.
    running_since: Option<Instant>,
    /// The startup probe passed (or there is none) in the current run.
    started: bool,
    /// The readiness probe's verdict in the current run.
    probe_ready: bool,
    /// It has run at least once.
    ever_started: bool,
    /// It ended for good (restart policy).
    done: bool,
}

impl Container {
    fn set(&self, f: impl FnOnce(&mut Report)) {
        f(&mut lock(&self.report));
    }

    fn waiting(&self, reason: &str, message: Option<String>) {
        let mut w = json!({"reason": reason});
        if let Some(m) = message {
            w["message"] = json!(m);
        }
        self.set(|r| {
            r.state = json!({"waiting": w});
            r.running_since = None;
            r.started = false;
            r.probe_ready = false;
        });
    }
}

/// `message: cause: cause …`, as the CLI prints an error.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

impl Kubelet for Process {
    fn sync(&self, ctl: &mut Ctl<'_, '_>, pod: &Value) {
        let uid = ops::uid_of(pod).to_owned();
        let running = lock(&self.inner.pods).get(&uid).cloned();
        if ops::meta(pod).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            let Some(running) = running else {
                finish_deletion(ctl, pod);
                return;
            };
            let grace = ops::meta(pod)
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            running.stop(Duration::from_secs(grace));
            self.inner.addrs.remove(&running.namespace, &running.name);
            if running.finished() {
                self.inner.forget(&running);
                finish_deletion(ctl, pod);
            } else {
                ctl.wake_in(Duration::from_millis(100));
            }
            return;
        }
        let Some(pod) = schedule(ctl, pod) else {
            return;
        };
        let running = if let Some(r) = running {
            r
        } else {
            if matches!(
                pod.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            ) || self.inner.shut_down.load(Ordering::SeqCst)
            {
                return;
            }
            self.start(ctl, &pod)
        };
        report_status(ctl, &pod, &running);
    }
}

impl Process {
    /// Works out the pod's containers and starts their supervisors.
    #[allow(clippy::too_many_lines)]
    fn start(&self, ctl: &mut Ctl<'_, '_>, pod: &Value) -> Arc<Pod> {
        let behaviour = ctl.behaviour().clone();
        let namespace = ops::namespace_of(pod).to_owned();
        let name = ops::name_of(pod).to_owned();
        let uid = ops::uid_of(pod).to_owned();
        let pod_ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .map_or_else(|| allocate_pod_ip(ctl), str::to_owned);
        let restart = match pod.pointer("/spec/restartPolicy").and_then(Value::as_str) {
            Some("Never") => Restart::Never,
            Some("OnFailure") => Restart::OnFailure,
            _ => Restart::Always,
        };
        let termination_grace = Duration::from_secs(
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(30),
        );
        let specs = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut containers = Vec::new();
        for c in &specs {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let port = free_port();
            let lookup = |kind: &str, source: &Value| -> Option<String> {
                env_source(ctl, pod, &namespace, &pod_ip, kind, source)
            };
            let mut env = launch::container_env(c, &lookup);
            launch::set_env(&mut env, "HOSTNAME", name.clone());
            launch::set_env(&mut env, "PORT", port.to_string());
            let command = strings(c.get("command"))
                .map(|v| v.iter().map(|s| launch::expand(s, &env)).collect());
            let args =
                strings(c.get("args")).map(|v| v.iter().map(|s| launch::expand(s, &env)).collect());
            containers.push(Arc::new(Container {
                name: cname.to_owned(),
                port,
                spec: Spec {
                    image: image.to_owned(),
                    command,
                    args,
                    env,
                    restart,
                    readiness: launch::probe(c, "readinessProbe", port),
                    liveness: launch::probe(c, "livenessProbe", port),
                    startup: launch::probe(c, "startupProbe", port),
                    termination_grace,
                    pull_error: behaviour.pull_error.iter().any(|g| glob_match(g, image)),
                    never_ready: behaviour.never_ready.iter().any(|g| glob_match(g, image)),
                    ready_after: behaviour.ready_after,
                },
                report: Mutex::new(Report {
                    state: json!({"waiting": {"reason": "ContainerCreating"}}),
                    last_state: json!({}),
                    restart_count: 0,
                    image_id: String::new(),
                    running_since: None,
                    started: false,
                    probe_ready: false,
                    ever_started: false,
                    done: false,
                }),
            }));
        }
        // The pod's address: the container that declares ports (the first), else the first container.
        let addressed = specs
            .iter()
            .position(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty())
            })
            .unwrap_or(0);
        let running = Arc::new(Pod {
            uid: uid.clone(),
            namespace,
            name,
            ip: pod_ip,
            stop_at: Mutex::new(None),
            wake: Condvar::new(),
            containers,
            finished: AtomicBool::new(false),
        });
        if let Some(c) = running.containers.get(addressed) {
            self.inner.addrs.set(
                &running.namespace,
                &running.name,
                SocketAddr::from(([127, 0, 0, 1], c.port)),
            );
        }
        lock(&self.inner.pods).insert(uid.clone(), running.clone());
        let root = self.inner.base.join(&uid);
        let inner = self.inner.clone();
        let supervised = running.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("kubesim-pod-{}", running.name))
            .spawn(move || supervise_pod(&inner, &supervised, &root));
        if let Err(e) = spawned {
            for c in &running.containers {
                c.waiting(
                    "CreateContainerError",
                    Some(format!("starting a thread: {e}")),
                );
            }
            running.finished.store(true, Ordering::SeqCst);
        }
        running
    }
}

/// A `valueFrom` source: `fieldRef` (name, namespace, uid, node, IPs, labels and annotations),
/// `configMapKeyRef` and `secretKeyRef` from the store.
fn env_source(
    ctl: &Ctl<'_, '_>,
    pod: &Value,
    namespace: &str,
    pod_ip: &str,
    kind: &str,
    source: &Value,
) -> Option<String> {
    match kind {
        "fieldRef" => {
            let path = source.get("fieldPath").and_then(Value::as_str)?;
            let meta = |k: &str| ops::meta_str(pod, k).map(str::to_owned);
            match path {
                "metadata.name" => meta("name"),
                "metadata.namespace" => Some(namespace.to_owned()),
                "metadata.uid" => meta("uid"),
                "spec.nodeName" => Some(crate::controller::kubelet::NODE.to_owned()),
                "spec.serviceAccountName" => pod
                    .pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                "status.podIP" | "status.podIPs" => Some(pod_ip.to_owned()),
                "status.hostIP" | "status.hostIPs" => Some("127.0.0.1".to_owned()),
                other => {
                    let (map, key) = other
                        .strip_prefix("metadata.labels['")
                        .map(|k| ("labels", k))
                        .or_else(|| {
                            other
                                .strip_prefix("metadata.annotations['")
                                .map(|k| ("annotations", k))
                        })?;
                    let key = key.strip_suffix("']")?;
                    ops::meta(pod)?
                        .get(map)?
                        .get(key)?
                        .as_str()
                        .map(str::to_owned)
                }
            }
        }
        "configMapKeyRef" | "secretKeyRef" => {
            let plural = if kind == "configMapKeyRef" {
                "configmaps"
            } else {
                "secrets"
            };
            let object_name = source.get("name").and_then(Value::as_str)?;
            let key = source.get("key").and_then(Value::as_str)?;
            let object = ctl.get("", plural, namespace, object_name)?;
            if let Some(v) = object
                .get("data")
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
            {
                if kind == "secretKeyRef" {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
                    return String::from_utf8(bytes).ok();
                }
                return Some(v.to_owned());
            }
            object
                .get("stringData")
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// Runs the pod's containers, waits for them all to end, removes the pod's root and says so.
fn supervise_pod(inner: &Arc<Inner>, pod: &Arc<Pod>, root: &Path) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for c in &pod.containers {
        let (inner, pod_ref, c_ref) = (inner.clone(), pod.clone(), c.clone());
        let croot = root.join(&c.name);
        let spawned = std::thread::Builder::new()
            .name(format!("kubesim-{}-{}", pod.name, c.name))
            .spawn(move || supervise_container(&inner, &pod_ref, &c_ref, &croot));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => c.waiting(
                "CreateContainerError",
                Some(format!("starting a thread: {e}")),
            ),
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_dir_all(root);
    pod.finished.store(true, Ordering::SeqCst);
}

/// Pulls (retrying with backoff), then runs and restarts one container until the pod stops or the
/// restart policy says it is done.
#[allow(clippy::too_many_lines)]
fn supervise_container(inner: &Inner, pod: &Pod, c: &Container, root: &Path) {
    let mut attempts = 0i64;
    let pulled = loop {
        if pod.stopping() {
            return;
        }
        let result = if c.spec.pull_error {
            Err(format!(
                "failed to pull and unpack image \"{}\": failed to resolve reference \"{}\": not found",
                c.spec.image, c.spec.image
            ))
        } else {
            let _ = std::fs::remove_dir_all(root);
            std::fs::create_dir_all(root)
                .map_err(|e| format!("creating {}: {e}", root.display()))
                .and_then(|()| {
                    pull::pull_into(&c.spec.image, root, inner.options.unpack_limit, &|| {
                        pod.stopping()
                    })
                    .map_err(|e| chain(&e))
                })
        };
        match result {
            Ok(p) => break p,
            Err(message) => {
                attempts += 1;
                c.waiting("ErrImagePull", Some(message.clone()));
                if pod.sleep(ERR_IMAGE_PULL_SHOWN) {
                    return;
                }
                c.waiting(
                    "ImagePullBackOff",
                    Some(format!(
                        "Back-off pulling image \"{}\": ErrImagePull: {message}",
                        c.spec.image
                    )),
                );
                if pod.sleep(crash_backoff(attempts)) {
                    return;
                }
            }
        }
    };
    c.set(|r| r.image_id = pulled.digest.to_string());
    let config = &pulled.config;
    let mut env = launch::image_env(&config.env);
    if !env.iter().any(|(k, _)| k == "PATH") {
        launch::set_env(&mut env, "PATH", launch::DEFAULT_PATH.to_owned());
    }
    for (k, v) in &c.spec.env {
        launch::set_env(&mut env, k, v.clone());
    }
    let argv = launch::command_line(
        &config.entrypoint,
        &config.cmd,
        c.spec.command.as_deref(),
        c.spec.args.as_deref(),
    );
    let workdir = config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_owned());
    let cwd = root.join(workdir.trim_start_matches('/'));
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let log_key = (pod.namespace.clone(), pod.name.clone(), c.name.clone());
    loop {
        if pod.stopping() {
            return;
        }
        let started_at = clock::now_string();
        let outcome = match argv.first() {
            None => Err("no command specified".to_owned()),
            Some(argv0) => {
                launch::find_executable(root, argv0, &workdir, &path_var).and_then(|exe| {
                    spawn(&exe, argv0, &argv[1..], &env, &cwd)
                        .map_err(|e| format!("exec: \"{argv0}\": {e}"))
                })
            }
        };
        let (exit_code, reason, message) = match outcome {
            Err(message) => (128, "StartError", Some(message)),
            Ok((child, output)) => {
                // Not joined: a process that left the group could hold the pipe open for ever.
                let _pump = pump_log(inner, &log_key, output);
                let (code, reason) = run_until_exit(pod, c, child, &started_at);
                (code, reason, None)
            }
        };
        let mut terminated = json!({"exitCode": exit_code, "reason": reason,
            "startedAt": started_at, "finishedAt": clock::now_string()});
        if let Some(m) = message {
            terminated["message"] = json!(m);
        }
        let again = !pod.stopping()
            && match c.spec.restart {
                Restart::Always => true,
                Restart::OnFailure => exit_code != 0,
                Restart::Never => false,
            };
        if !again {
            c.set(|r| {
                r.state = json!({"terminated": terminated});
                r.running_since = None;
                r.probe_ready = false;
                r.done = true;
            });
            return;
        }
        let mut restarts = 0;
        c.set(|r| {
            r.restart_count += 1;
            restarts = r.restart_count;
            r.last_state = json!({"terminated": terminated});
        });
        let backoff = crash_backoff(restarts);
        c.waiting(
            "CrashLoopBackOff",
            Some(format!(
                "back-off {}s restarting failed container={} pod={}_{}({})",
                backoff.as_secs(),
                c.name,
                pod.name,
                pod.namespace,
                pod.uid
            )),
        );
        if pod.sleep(backoff) {
            return;
        }
    }
}

fn spawn(
    exe: &Path,
    argv0: &str,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
) -> std::io::Result<(Child, std::io::PipeReader)> {
    let (reader, writer) = std::io::pipe()?;
    let child = Command::new(exe)
        .arg0(argv0)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        // Its own process group, so that signals reach whatever it starts too.
        .process_group(0)
        .spawn()?;
    Ok((child, reader))
}

/// Copies a container's output into its log, keeping the last `log_limit` bytes.
fn pump_log(
    inner: &Inner,
    key: &(String, String, String),
    mut output: std::io::PipeReader,
) -> std::io::Result<JoinHandle<()>> {
    let logs = inner.logs.clone();
    let limit = inner.options.log_limit;
    let key = key.clone();
    std::thread::Builder::new()
        .name(format!("kubesim-log-{}", key.1))
        .spawn(move || {
            let mut buf = vec![0u8; 16 << 10];
            loop {
                let n = match output.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                append_log(&logs, &key, &buf[..n], limit);
            }
        })
}

/// Appends to a log, then drops its oldest bytes beyond `limit` (in steps, so that a chatty container
/// does not move the whole buffer on every write).
fn append_log(logs: &Logs, key: &(String, String, String), chunk: &[u8], limit: usize) {
    let mut logs = lock(logs);
    let buf = logs.entry(key.clone()).or_default();
    buf.extend_from_slice(chunk);
    let slack = (limit / 8).max(1);
    if buf.len() > limit.saturating_add(slack) || (limit < 8 && buf.len() > limit) {
        let cut = buf.len() - limit;
        buf.drain(..cut);
    }
}

fn signal_group(child: &Child, signal: rustix::process::Signal) {
    let _ = rustix::process::kill_process_group(rustix::process::Pid::from_child(child), signal);
}

/// Watches a running container: its exit, the pod's stop, and its probes' verdicts. Returns the exit code
/// and reason.
fn run_until_exit(
    pod: &Pod,
    c: &Container,
    mut child: Child,
    started_at: &str,
) -> (i64, &'static str) {
    c.set(|r| {
        r.state = json!({"running": {"startedAt": started_at}});
        r.running_since = Some(Instant::now());
        r.started = c.spec.startup.is_none();
        r.probe_ready = false;
        r.ever_started = true;
    });
    let run_over = Arc::new(AtomicBool::new(false));
    // A probe verdict that the container must die: when, at the latest, it must be gone.
    let kill_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let has_probes =
        c.spec.readiness.is_some() || c.spec.liveness.is_some() || c.spec.startup.is_some();
    let status = std::thread::scope(|scope| {
        if has_probes {
            let (over, kill) = (&*run_over, &*kill_at);
            scope.spawn(move || probe_loop(c, over, kill));
        }
        let mut termed = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(_) => break None,
            }
            let deadline = match (pod.stop_at(), *lock(&kill_at)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(deadline) = deadline {
                if !termed {
                    signal_group(&child, rustix::process::Signal::TERM);
                    termed = true;
                }
                if Instant::now() >= deadline {
                    signal_group(&child, rustix::process::Signal::KILL);
                    break child.wait().ok();
                }
            }
            if pod.sleep(TICK) {
                // Stopping: `sleep` no longer waits.
                std::thread::sleep(TICK);
            }
        };
        // Whatever the container started dies with it, as its cgroup would.
        signal_group(&child, rustix::process::Signal::KILL);
        run_over.store(true, Ordering::SeqCst);
        status
    });
    let code = status.map_or(-1, |s| {
        s.code()
            .map_or_else(|| 128 + i64::from(s.signal().unwrap_or(9)), i64::from)
    });
    (code, if code == 0 { "Completed" } else { "Error" })
}

/// One probe's schedule and counts.
struct Prober<'a> {
    probe: &'a Probe,
    next: Instant,
    successes: u32,
    failures: u32,
}

impl<'a> Prober<'a> {
    fn new(probe: &'a Probe, from: Instant) -> Self {
        Prober {
            probe,
            next: from + probe.initial_delay,
            successes: 0,
            failures: 0,
        }
    }

    /// Runs the check when due: `Some(true)` once it passes its success threshold, `Some(false)` once it
    /// reaches its failure threshold, `None` otherwise.
    fn tick(&mut self, now: Instant) -> Option<bool> {
        if now < self.next {
            return None;
        }
        self.next = now + self.probe.period;
        if super::probe::run(&self.probe.check, self.probe.timeout).is_ok() {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (self.successes >= self.probe.success_threshold).then_some(true)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (self.failures >= self.probe.failure_threshold).then_some(false)
        }
    }
}

fn probe_loop(c: &Container, over: &AtomicBool, kill_at: &Mutex<Option<Instant>>) {
    let start = Instant::now();
    let mut startup = c.spec.startup.as_ref().map(|p| Prober::new(p, start));
    let mut readiness: Option<Prober<'_>> = None;
    let mut liveness: Option<Prober<'_>> = None;
    let mut started = startup.is_none();
    let kill = |grace: Option<Duration>| {
        let at = Instant::now() + grace.unwrap_or(c.spec.termination_grace);
        let mut k = lock(kill_at);
        *k = Some(k.map_or(at, |x| x.min(at)));
    };
    while !over.load(Ordering::SeqCst) {
        let now = Instant::now();
        if !started {
            if let Some(s) = startup.as_mut() {
                match s.tick(now) {
                    Some(true) => started = true,
                    Some(false) => {
                        kill(s.probe.termination_grace);
                        return;
                    }
                    None => {}
                }
            }
            if started {
                c.set(|r| r.started = true);
            }
        }
        if started {
            let now = Instant::now();
            if readiness.is_none() && liveness.is_none() {
                readiness = c.spec.readiness.as_ref().map(|p| Prober::new(p, now));
                liveness = c.spec.liveness.as_ref().map(|p| Prober::new(p, now));
            }
            if let Some(r) = readiness.as_mut()
                && let Some(verdict) = r.tick(now)
            {
                c.set(|rep| rep.probe_ready = verdict);
            }
            if let Some(l) = liveness.as_mut()
                && l.tick(now) == Some(false)
            {
                kill(l.probe.termination_grace);
                return;
            }
        }
        std::thread::sleep(TICK);
    }
}

/// Writes the pod's status from its containers' reports.
#[allow(clippy::too_many_lines)]
fn report_status(ctl: &mut Ctl<'_, '_>, pod: &Value, running: &Pod) {
    let now = clock::now_string();
    let old_status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    let scheduled_at = old_status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type") == Some(&json!("PodScheduled")))
        })
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(Value::as_str)
        .map_or_else(|| now.clone(), str::to_owned);
    let start_time = old_status
        .get("startTime")
        .and_then(Value::as_str)
        .unwrap_or(&now)
        .to_owned();
    let mut statuses = Vec::new();
    let mut all_ready = !running.containers.is_empty();
    let mut all_created = true;
    let mut all_done = true;
    let mut any_failed = false;
    let mut settling = false;
    for c in &running.containers {
        let r = lock(&c.report).clone();
        let is_running = r.state.get("running").is_some();
        let ready_after_ok = r
            .running_since
            .is_some_and(|s| s.elapsed() >= c.spec.ready_after);
        let ready = is_running
            && r.started
            && !c.spec.never_ready
            && if c.spec.readiness.is_some() {
                r.probe_ready
            } else {
                ready_after_ok
            };
        if is_running && !ready && !c.spec.never_ready {
            settling = true;
        }
        all_ready &= ready;
        all_created &= r.ever_started;
        all_done &= r.done;
        any_failed |= r.done
            && r.state
                .pointer("/terminated/exitCode")
                .and_then(Value::as_i64)
                .is_some_and(|c| c != 0);
        let mut s = json!({
            "name": c.name,
            "image": c.spec.image,
            "imageID": r.image_id,
            "containerID": if r.ever_started { format!("kubesim://{}-{}", running.uid, c.name) } else { String::new() },
            "restartCount": r.restart_count,
            "started": is_running && r.started,
            "ready": ready,
            "state": r.state,
            "lastState": r.last_state,
        });
        if r.image_id.is_empty() {
            s["imageID"] = json!("");
        }
        statuses.push(s);
    }
    let ready_at = if all_ready {
        Some(
            crate::controller::kubelet::ready_transition(&old_status)
                .unwrap_or_else(|| now.clone()),
        )
    } else {
        None
    };
    let started = all_created.then_some(start_time.as_str());
    let mut conditions = pod_conditions(&scheduled_at, started, ready_at.as_deref());
    if let (Some(new), Some(old)) = (
        conditions.as_array_mut(),
        old_status.get("conditions").and_then(Value::as_array),
    ) {
        for c in new.iter_mut() {
            if let Some(o) = old
                .iter()
                .find(|o| o.get("type") == c.get("type") && o.get("status") == c.get("status"))
            {
                c["lastTransitionTime"] =
                    o.get("lastTransitionTime").cloned().unwrap_or(Value::Null);
            }
        }
    }
    let phase = if all_done && !running.containers.is_empty() {
        if any_failed { "Failed" } else { "Succeeded" }
    } else if all_created {
        "Running"
    } else {
        "Pending"
    };
    let status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": running.ip,
        "podIPs": [{"ip": running.ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
        "qosClass": old_status.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
    });
    if status != old_status {
        let mut updated = pod.clone();
        updated["status"] = status;
        ctl.update_status("", "pods", pod, updated);
    }
    // The supervisors change state on their own: look again soon while anything is in motion.
    ctl.wake_in(if settling || !all_created {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(250)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_the_last_bytes() {
        let logs = Logs::default();
        let key = ("ns".to_owned(), "p".to_owned(), "c".to_owned());
        for i in 0..100u8 {
            append_log(&logs, &key, &[i; 10], 64);
        }
        let kept = lock(&logs).get(&key).cloned().expect("log");
        assert!(kept.len() <= 64 + 8, "{}", kept.len());
        assert!(kept.len() >= 64, "{}", kept.len());
        assert_eq!(kept.last(), Some(&99));
    }
}
