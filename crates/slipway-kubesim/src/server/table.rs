//! Server-side printing: the `Table` objects `kubectl get` asks for (`as=Table;g=meta.k8s.io;v=v1`), with
//! the apiserver's columns for the built-in kinds and `additionalPrinterColumns` for custom ones.

use serde_json::{Value, json};

use crate::clock;
use crate::resource::ResourceType;

/// `HumanDuration` as kubectl's AGE column shows it.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(object: &Value, path: &str) -> String {
    let Some(t) = object
        .pointer(path)
        .and_then(Value::as_str)
        .and_then(clock::parse)
    else {
        return "<unknown>".to_owned();
    };
    #[allow(clippy::cast_possible_truncation)]
    let secs = clock::seconds_between(t, clock::now()).floor() as i64;
    human_duration(secs)
}

fn int(object: &Value, path: &str) -> i64 {
    object.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

fn column(name: &str, type_: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": type_, "format": format, "description": "", "priority": priority})
}

fn containers_and_images(object: &Value, path: &str) -> (String, String) {
    let list = object
        .pointer(path)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = list
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = list
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

fn selector_text(object: &Value) -> String {
    object
        .pointer("/spec/selector")
        .and_then(|s| {
            crate::selector::LabelSelector::from_object(s)
                .ok()
                .flatten()
        })
        .map_or_else(|| "<none>".to_owned(), |s| s.to_query())
}

/// The STATUS kubectl shows for a pod.
pub fn pod_status(pod: &Value) -> String {
    let mut reason = pod
        .pointer("/status/reason")
        .and_then(Value::as_str)
        .or_else(|| pod.pointer("/status/phase").and_then(Value::as_str))
        .unwrap_or("Pending")
        .to_owned();
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut has_running = false;
    for c in statuses.iter().rev() {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            r.clone_into(&mut reason);
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            r.clone_into(&mut reason);
        } else if c.pointer("/state/terminated").is_some() {
            reason = format!("ExitCode:{}", int(c, "/state/terminated/exitCode"));
        } else if c.get("ready").and_then(Value::as_bool) == Some(true)
            && c.pointer("/state/running").is_some()
        {
            has_running = true;
        }
    }
    if reason == "Completed" && has_running {
        "Running".clone_into(&mut reason);
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".clone_into(&mut reason);
    }
    reason
}

fn pod_restarts(pod: &Value) -> String {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let restarts: i64 = statuses.iter().map(|c| int(c, "/restartCount")).sum();
    let last = statuses
        .iter()
        .filter_map(|c| {
            c.pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
        })
        .filter_map(clock::parse)
        .max();
    match last {
        Some(t) if restarts > 0 => {
            #[allow(clippy::cast_possible_truncation)]
            let secs = clock::seconds_between(t, clock::now()).floor() as i64;
            format!("{restarts} ({} ago)", human_duration(secs))
        }
        _ => restarts.to_string(),
    }
}

fn service_ports(svc: &Value) -> String {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return "<none>".to_owned();
    }
    ports
        .iter()
        .map(|p| {
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) => format!("{}:{np}/{proto}", int(p, "/port")),
                None => format!("{}/{proto}", int(p, "/port")),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn external_ip(svc: &Value) -> String {
    let type_ = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let ingress: Vec<String> = svc
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match type_ {
        "LoadBalancer" if ingress.is_empty() => "<pending>".to_owned(),
        "LoadBalancer" => ingress.join(","),
        "ExternalName" => svc
            .pointer("/spec/externalName")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
            .to_owned(),
        _ => "<none>".to_owned(),
    }
}

fn endpoints_text(ep: &Value) -> String {
    let mut out = Vec::new();
    for subset in ep
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|p| int(p, "/port")).collect())
            .unwrap_or_default();
        for addr in subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ip = addr.get("ip").and_then(Value::as_str).unwrap_or_default();
            if ports.is_empty() {
                out.push(ip.to_owned());
            }
            for p in &ports {
                out.push(format!("{ip}:{p}"));
            }
        }
    }
    if out.is_empty() {
        return "<none>".to_owned();
    }
    if out.len() > 3 {
        let more = out.len() - 3;
        out.truncate(3);
        return format!("{} + {more} more...", out.join(","));
    }
    out.join(",")
}

fn count(object: &Value, path: &str) -> i64 {
    object
        .pointer(path)
        .and_then(Value::as_object)
        .map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX))
}

fn simple_path(object: &Value, json_path: &str) -> Value {
    let path = json_path.trim_start_matches('.');
    let pointer = format!("/{}", path.replace('.', "/"));
    object.pointer(&pointer).cloned().unwrap_or(Value::Null)
}

/// Column definitions and one row of cells for an object of kind `t`.
pub fn columns(t: &ResourceType) -> Vec<Value> {
    let c = column;
    match (t.group.as_str(), t.kind.as_str()) {
        ("", "Pod") => vec![
            c("Name", "string", 0),
            c("Ready", "string", 0),
            c("Status", "string", 0),
            c("Restarts", "string", 0),
            c("Age", "string", 0),
            c("IP", "string", 1),
            c("Node", "string", 1),
            c("Nominated Node", "string", 1),
            c("Readiness Gates", "string", 1),
        ],
        ("apps", "Deployment") => vec![
            c("Name", "string", 0),
            c("Ready", "string", 0),
            c("Up-to-date", "integer", 0),
            c("Available", "integer", 0),
            c("Age", "string", 0),
            c("Containers", "string", 1),
            c("Images", "string", 1),
            c("Selector", "string", 1),
        ],
        ("apps", "ReplicaSet") => vec![
            c("Name", "string", 0),
            c("Desired", "integer", 0),
            c("Current", "integer", 0),
            c("Ready", "integer", 0),
            c("Age", "string", 0),
            c("Containers", "string", 1),
            c("Images", "string", 1),
            c("Selector", "string", 1),
        ],
        ("", "Service") => vec![
            c("Name", "string", 0),
            c("Type", "string", 0),
            c("Cluster-IP", "string", 0),
            c("External-IP", "string", 0),
            c("Port(s)", "string", 0),
            c("Age", "string", 0),
            c("Selector", "string", 1),
        ],
        ("", "Namespace") => vec![
            c("Name", "string", 0),
            c("Status", "string", 0),
            c("Age", "string", 0),
        ],
        ("", "ConfigMap") => vec![
            c("Name", "string", 0),
            c("Data", "integer", 0),
            c("Age", "string", 0),
        ],
        ("", "Secret") => vec![
            c("Name", "string", 0),
            c("Type", "string", 0),
            c("Data", "integer", 0),
            c("Age", "string", 0),
        ],
        ("", "Endpoints") => vec![
            c("Name", "string", 0),
            c("Endpoints", "string", 0),
            c("Age", "string", 0),
        ],
        ("", "Event") => vec![
            c("Last Seen", "string", 0),
            c("Type", "string", 0),
            c("Reason", "string", 0),
            c("Object", "string", 0),
            c("Message", "string", 0),
        ],
        ("", "Node") => vec![
            c("Name", "string", 0),
            c("Status", "string", 0),
            c("Roles", "string", 0),
            c("Age", "string", 0),
            c("Version", "string", 0),
        ],
        ("", "ServiceAccount") => vec![
            c("Name", "string", 0),
            c("Secrets", "integer", 0),
            c("Age", "string", 0),
        ],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            vec![c("Name", "string", 0), c("Created At", "date", 0)]
        }
        _ if t.custom && !t.printer_columns.is_empty() => {
            let mut cols = vec![c("Name", "string", 0)];
            cols.extend(t.printer_columns.iter().map(|p| c(&p.name, &p.type_, 0)));
            cols
        }
        _ => vec![c("Name", "string", 0), c("Age", "date", 0)],
    }
}

/// The cells of `object`'s row.
// One arm per kind, as the apiserver's printers are one function per kind.
#[allow(clippy::too_many_lines)]
pub fn cells(t: &ResourceType, object: &Value) -> Vec<Value> {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::Null);
    let created = age(object, "/metadata/creationTimestamp");
    match (t.group.as_str(), t.kind.as_str()) {
        ("", "Pod") => {
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(0, |a| {
                    a.iter()
                        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                        .count()
                });
            let text = |p: &str| {
                object
                    .pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("<none>")
                    .to_owned()
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(object)),
                json!(pod_restarts(object)),
                json!(created),
                json!(text("/status/podIP")),
                json!(text("/spec/nodeName")),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("apps", "Deployment") => {
            let (containers, images) =
                containers_and_images(object, "/spec/template/spec/containers");
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(object, "/status/readyReplicas"),
                    int(object, "/spec/replicas")
                )),
                json!(int(object, "/status/updatedReplicas")),
                json!(int(object, "/status/availableReplicas")),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(object)),
            ]
        }
        ("apps", "ReplicaSet") => {
            let (containers, images) =
                containers_and_images(object, "/spec/template/spec/containers");
            vec![
                name,
                json!(int(object, "/spec/replicas")),
                json!(int(object, "/status/replicas")),
                json!(int(object, "/status/readyReplicas")),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(object)),
            ]
        }
        ("", "Service") => {
            let selector = object
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map_or_else(
                    || "<none>".to_owned(),
                    |m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                );
            vec![
                name,
                json!(
                    object
                        .pointer("/spec/type")
                        .and_then(Value::as_str)
                        .unwrap_or("ClusterIP")
                ),
                json!(
                    object
                        .pointer("/spec/clusterIP")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")
                ),
                json!(external_ip(object)),
                json!(service_ports(object)),
                json!(created),
                json!(selector),
            ]
        }
        ("", "Namespace") => vec![
            name,
            json!(
                object
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("Active")
            ),
            json!(created),
        ],
        ("", "ConfigMap") => vec![
            name,
            json!(count(object, "/data") + count(object, "/binaryData")),
            json!(created),
        ],
        ("", "Secret") => vec![
            name,
            json!(
                object
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("Opaque")
            ),
            json!(count(object, "/data")),
            json!(created),
        ],
        ("", "Endpoints") => vec![name, json!(endpoints_text(object)), json!(created)],
        ("", "Event") => {
            let last = object
                .get("lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| object.get("eventTime").and_then(Value::as_str))
                .map_or_else(|| created.clone(), |_| age(object, "/lastTimestamp"));
            let obj = format!(
                "{}/{}",
                object
                    .pointer("/involvedObject/kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                object
                    .pointer("/involvedObject/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            vec![
                json!(last),
                json!(
                    object
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                json!(
                    object
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                json!(obj),
                json!(
                    object
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            ]
        }
        ("", "Node") => vec![
            name,
            json!("Ready"),
            json!("<none>"),
            json!(created),
            json!(
                object
                    .pointer("/status/nodeInfo/kubeletVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        ],
        ("", "ServiceAccount") => vec![name, json!(0), json!(created)],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => vec![
            name,
            object
                .pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        ],
        _ if t.custom && !t.printer_columns.is_empty() => {
            let mut row = vec![name];
            for p in &t.printer_columns {
                let v = simple_path(object, &p.json_path);
                let v = if p.type_ == "date" {
                    v.as_str().and_then(clock::parse).map_or(Value::Null, |t| {
                        #[allow(clippy::cast_possible_truncation)]
                        let secs = clock::seconds_between(t, clock::now()).floor() as i64;
                        json!(human_duration(secs))
                    })
                } else {
                    v
                };
                row.push(v);
            }
            row
        }
        _ => vec![name, json!(created)],
    }
}

/// A `PartialObjectMetadata` of the object, as rows carry it.
pub fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A `Table` of `objects`.
pub fn table(
    t: &ResourceType,
    objects: &[Value],
    resource_version: &str,
    headers: bool,
    continue_token: Option<&str>,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": cells(t, o), "object": partial_metadata(o)}))
        .collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    let mut table = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "rows": rows,
    });
    if headers {
        table["columnDefinitions"] = json!(columns(t));
    } else {
        table["columnDefinitions"] = Value::Null;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(50 * 3600), "2d2h");
        assert_eq!(human_duration(-5), "<invalid>");
    }

    #[test]
    fn pod_statuses() {
        let waiting = json!({"status": {"phase": "Running", "containerStatuses": [
            {"ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&waiting), "CrashLoopBackOff");
        let deleting =
            json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&deleting), "Terminating");
    }
}
