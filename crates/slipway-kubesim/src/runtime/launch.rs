//! What a container runs, worked out as the kubelet does it: the command line from the image config and
//! the container's `command`/`args`, `$(VAR)` references expanded, the environment from the image and
//! the container (`value` and the simple `valueFrom`s), the executable found inside the root, and the
//! probes with their defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The `PATH` a container gets when its image sets none (containerd's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The command line a container runs: Kubernetes' rules for `command` and `args` over the image's
/// `Entrypoint` and `Cmd`. `command` replaces the entrypoint and drops the image's `Cmd`; `args` replaces
/// the `Cmd` only.
pub fn command_line(
    entrypoint: &[String],
    cmd: &[String],
    command: Option<&[String]>,
    args: Option<&[String]>,
) -> Vec<String> {
    match (command, args) {
        (Some(command), args) => {
            let mut out = command.to_vec();
            out.extend(args.unwrap_or_default().iter().cloned());
            out
        }
        (None, Some(args)) => {
            let mut out = entrypoint.to_vec();
            out.extend(args.iter().cloned());
            out
        }
        (None, None) => entrypoint.iter().chain(cmd).cloned().collect(),
    }
}

/// Expands `$(NAME)` from `vars` as the kubelet does: `$$` is a literal `$`, and a reference to a name
/// that is not defined stays as written.
pub fn expand(text: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            if let Some((_, v)) = vars.iter().rev().find(|(k, _)| k == name) {
                out.push_str(v);
            } else {
                out.push_str("$(");
                out.push_str(name);
                out.push(')');
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Sets `name` in an environment list, replacing an earlier value.
pub fn set_env(env: &mut Vec<(String, String)>, name: &str, value: String) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_owned(), value));
}

/// Image `Env` entries (`KEY=value`) as pairs.
pub fn image_env(entries: &[String]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for e in entries {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        set_env(&mut env, k, v.to_owned());
    }
    env
}

/// The container's own environment from its `env` list, each value expanded against the ones before it.
/// `lookup(kind, source)` answers a `valueFrom` (`fieldRef` with its `fieldPath`, `configMapKeyRef`
/// and `secretKeyRef` with the object); `None` leaves the variable out, as an optional reference does.
pub fn container_env(
    container: &Value,
    lookup: &dyn Fn(&str, &Value) -> Option<String>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for e in container
        .get("env")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let Some(name) = e.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = if let Some(v) = e.get("value").and_then(Value::as_str) {
            Some(expand(v, &env))
        } else if let Some(from) = e.get("valueFrom").and_then(Value::as_object) {
            from.iter().find_map(|(kind, source)| lookup(kind, source))
        } else {
            Some(String::new())
        };
        if let Some(value) = value {
            set_env(&mut env, name, value);
        }
    }
    env
}

/// Finds the program `argv0` names inside `root`: a path (absolute, or relative to the working
/// directory `workdir`), or a name searched along `path` (the container's `PATH`). Errors are runc's.
pub fn find_executable(
    root: &Path,
    argv0: &str,
    workdir: &str,
    path: &str,
) -> Result<PathBuf, String> {
    let inside = |p: &str| root.join(p.trim_start_matches('/'));
    if argv0.contains('/') {
        let full = if argv0.starts_with('/') {
            argv0.to_owned()
        } else {
            format!("{}/{argv0}", workdir.trim_end_matches('/'))
        };
        let host = inside(&full);
        return if host.is_file() {
            Ok(host)
        } else {
            Err(format!(
                "exec: \"{argv0}\": stat {full}: no such file or directory"
            ))
        };
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = inside(dir).join(argv0);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "exec: \"{argv0}\": executable file not found in $PATH"
    ))
}

/// How a probe checks a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `httpGet` on loopback.
    Http {
        /// The port on 127.0.0.1.
        port: u16,
        /// The request path.
        path: String,
        /// Extra request headers.
        headers: Vec<(String, String)>,
    },
    /// `tcpSocket` on loopback.
    Tcp {
        /// The port on 127.0.0.1.
        port: u16,
    },
    /// A probe the process runtime cannot run (exec, grpc, HTTPS, a port name the container lacks): it
    /// always fails, with this text.
    Unsupported(String),
}

/// A probe with Kubernetes' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What it checks.
    pub check: Check,
    /// Before the first check.
    pub initial_delay: Duration,
    /// Between checks.
    pub period: Duration,
    /// For one check.
    pub timeout: Duration,
    /// Successes in a row that make it pass.
    pub success_threshold: u32,
    /// Failures in a row that make it fail.
    pub failure_threshold: u32,
    /// The probe's own `terminationGracePeriodSeconds`, for liveness and startup kills.
    pub termination_grace: Option<Duration>,
}

fn seconds(probe: &Value, field: &str, default: u64, min: u64) -> Duration {
    Duration::from_secs(
        probe
            .get(field)
            .and_then(Value::as_u64)
            .unwrap_or(default)
            .max(min),
    )
}

fn count(probe: &Value, field: &str, default: u32) -> u32 {
    probe
        .get(field)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(default)
        .max(1)
}

/// The container's probe `field` (`readinessProbe`, …), with `$PORT` standing for the container's
/// (first) containerPort: a probe on that port, by number or by name, goes to `port`.
pub fn probe(container: &Value, field: &str, port: u16) -> Option<Probe> {
    let p = container.get(field)?;
    let ports = container
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let first = ports.first();
    let target = |v: Option<&Value>| -> Result<u16, String> {
        match v {
            Some(Value::Number(n)) => {
                let n = n.as_u64().unwrap_or(0);
                if first
                    .and_then(|f| f.get("containerPort"))
                    .and_then(Value::as_u64)
                    == Some(n)
                {
                    Ok(port)
                } else {
                    u16::try_from(n).map_err(|_| format!("port {n} is out of range"))
                }
            }
            Some(Value::String(name)) => {
                let found = ports
                    .iter()
                    .position(|p| p.get("name").and_then(Value::as_str) == Some(name));
                match found {
                    Some(0) => Ok(port),
                    Some(i) => ports[i]
                        .get("containerPort")
                        .and_then(Value::as_u64)
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| format!("port {name:?} has no number")),
                    None => name
                        .parse::<u16>()
                        .map_err(|_| format!("the container has no port named {name:?}")),
                }
            }
            _ => Err("the probe names no port".to_owned()),
        }
    };
    let check = if let Some(h) = p.get("httpGet") {
        if h.get("scheme").and_then(Value::as_str) == Some("HTTPS") {
            Check::Unsupported("HTTPS probes are not run by the process runtime".to_owned())
        } else {
            match target(h.get("port")) {
                Ok(port) => Check::Http {
                    port,
                    path: h
                        .get("path")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("/")
                        .to_owned(),
                    headers: h
                        .get("httpHeaders")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|h| {
                            Some((
                                h.get("name")?.as_str()?.to_owned(),
                                h.get("value")?.as_str()?.to_owned(),
                            ))
                        })
                        .collect(),
                },
                Err(e) => Check::Unsupported(e),
            }
        }
    } else if let Some(t) = p.get("tcpSocket") {
        match target(t.get("port")) {
            Ok(port) => Check::Tcp { port },
            Err(e) => Check::Unsupported(e),
        }
    } else {
        Check::Unsupported(
            "only httpGet and tcpSocket probes are run by the process runtime".to_owned(),
        )
    };
    Some(Probe {
        check,
        initial_delay: seconds(p, "initialDelaySeconds", 0, 0),
        period: seconds(p, "periodSeconds", 10, 1),
        timeout: seconds(p, "timeoutSeconds", 1, 1),
        success_threshold: count(p, "successThreshold", 1),
        failure_threshold: count(p, "failureThreshold", 3),
        termination_grace: p
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn command_and_args_override_as_kubernetes_does() {
        let (ep, cmd) = (v(&["/bin/app"]), v(&["--serve"]));
        assert_eq!(
            command_line(&ep, &cmd, None, None),
            v(&["/bin/app", "--serve"])
        );
        assert_eq!(
            command_line(&ep, &cmd, None, Some(&v(&["--once"]))),
            v(&["/bin/app", "--once"])
        );
        assert_eq!(
            command_line(&ep, &cmd, Some(&v(&["/bin/other"])), None),
            v(&["/bin/other"])
        );
        assert_eq!(
            command_line(&ep, &cmd, Some(&v(&["/bin/other"])), Some(&v(&["-x"]))),
            v(&["/bin/other", "-x"])
        );
    }

    #[test]
    fn variables_expand_like_the_kubelet() {
        let vars = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "two".to_owned()),
        ];
        assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
        assert_eq!(expand("$$(A) $(C) $ x$", &vars), "$(A) $(C) $ x$");
        let c = json!({"env": [
            {"name": "X", "value": "x"},
            {"name": "Y", "value": "$(X)y"},
            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": true}}},
        ]});
        let env = container_env(&c, &|kind, src| {
            (kind == "fieldRef" && src["fieldPath"] == "metadata.name").then(|| "pod-1".to_owned())
        });
        assert_eq!(
            env,
            vec![
                ("X".to_owned(), "x".to_owned()),
                ("Y".to_owned(), "xy".to_owned()),
                ("N".to_owned(), "pod-1".to_owned())
            ]
        );
    }

    #[test]
    fn probes_on_the_container_port_go_to_port() {
        let c = json!({"ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2},
            "livenessProbe": {"tcpSocket": {"port": 8080}},
            "startupProbe": {"httpGet": {"port": "metrics"}, "failureThreshold": 0}});
        let r = probe(&c, "readinessProbe", 40000).expect("readiness");
        assert_eq!(
            r.check,
            Check::Http {
                port: 40000,
                path: "/healthz".to_owned(),
                headers: vec![]
            }
        );
        assert_eq!(
            (r.period, r.timeout, r.failure_threshold),
            (Duration::from_secs(2), Duration::from_secs(1), 3)
        );
        assert_eq!(
            probe(&c, "livenessProbe", 40000).expect("l").check,
            Check::Tcp { port: 40000 }
        );
        let s = probe(&c, "startupProbe", 40000).expect("s");
        assert_eq!(
            s.check,
            Check::Http {
                port: 9090,
                path: "/".to_owned(),
                headers: vec![]
            }
        );
        assert_eq!(s.failure_threshold, 1);
        let bad = json!({"readinessProbe": {"httpGet": {"port": "web"}}});
        assert!(matches!(
            probe(&bad, "readinessProbe", 1).expect("p").check,
            Check::Unsupported(_)
        ));
    }

    #[test]
    fn executables_are_found_inside_the_root() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("usr/bin")).expect("dir");
        std::fs::write(dir.path().join("usr/bin/tool"), b"").expect("tool");
        assert_eq!(
            find_executable(dir.path(), "tool", "/", DEFAULT_PATH).expect("found"),
            dir.path().join("usr/bin/tool")
        );
        assert_eq!(
            find_executable(dir.path(), "./bin/tool", "/usr", DEFAULT_PATH).expect("found"),
            dir.path().join("usr/bin/tool")
        );
        assert_eq!(
            find_executable(dir.path(), "sh", "/", DEFAULT_PATH).expect_err("missing"),
            "exec: \"sh\": executable file not found in $PATH"
        );
    }
}
