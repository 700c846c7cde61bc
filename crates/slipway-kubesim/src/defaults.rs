//! Defaults the apiserver fills in (the `SetDefaults_*` functions and admission a client sees), applied on
//! create and update so that `kubectl get -o yaml` shows what a cluster shows.

use serde_json::{Map, Value, json};

fn obj(value: &mut Value) -> Option<&mut Map<String, Value>> {
    value.as_object_mut()
}

fn default_key(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Value {
    let entry = map.entry(key.to_owned()).or_insert_with(|| json!({}));
    if entry.is_null() {
        *entry = json!({});
    }
    entry
}

/// Defaults of a `Deployment`.
pub fn deployment(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(obj) else {
        return;
    };
    default_key(spec, "replicas", json!(1));
    default_key(spec, "revisionHistoryLimit", json!(10));
    default_key(spec, "progressDeadlineSeconds", json!(600));
    if let Some(strategy) = obj(child(spec, "strategy")) {
        default_key(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = obj(child(strategy, "rollingUpdate"))
        {
            default_key(ru, "maxUnavailable", json!("25%"));
            default_key(ru, "maxSurge", json!("25%"));
        }
    }
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

/// Defaults of a `ReplicaSet`.
pub fn replica_set(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(obj) else {
        return;
    };
    default_key(spec, "replicas", json!(1));
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

/// Defaults of a pod template (`metadata` and `spec`).
pub fn pod_template(template: &mut Value) {
    if let Some(t) = obj(template) {
        if let Some(meta) = obj(child(t, "metadata")) {
            meta.remove("creationTimestamp");
        }
        pod_spec(child(t, "spec"));
    }
}

/// Defaults of a `Pod`.
pub fn pod(object: &mut Value) {
    if let Some(o) = obj(object) {
        pod_spec(child(o, "spec"));
        if let Some(spec) = o.get_mut("spec").and_then(obj) {
            default_key(spec, "enableServiceLinks", json!(true));
            default_key(spec, "priority", json!(0));
            default_key(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            default_key(spec, "serviceAccountName", json!("default"));
            default_key(spec, "serviceAccount", json!("default"));
        }
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(spec) = obj(spec) else {
        return;
    };
    default_key(spec, "restartPolicy", json!("Always"));
    default_key(spec, "terminationGracePeriodSeconds", json!(30));
    default_key(spec, "dnsPolicy", json!("ClusterFirst"));
    default_key(spec, "securityContext", json!({}));
    default_key(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                container(c);
            }
        }
    }
}

fn probe(probe: &mut Value) {
    let Some(p) = obj(probe) else {
        return;
    };
    default_key(p, "timeoutSeconds", json!(1));
    default_key(p, "periodSeconds", json!(10));
    default_key(p, "successThreshold", json!(1));
    default_key(p, "failureThreshold", json!(3));
    if let Some(http) = p.get_mut("httpGet").and_then(obj) {
        default_key(http, "scheme", json!("HTTP"));
        default_key(http, "path", json!("/"));
    }
}

fn container(c: &mut Value) {
    let Some(c) = obj(c) else {
        return;
    };
    default_key(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_key(c, "terminationMessagePolicy", json!("File"));
    default_key(c, "resources", json!({}));
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let pull = if image_tag_is_latest(image) {
        "Always"
    } else {
        "IfNotPresent"
    };
    default_key(c, "imagePullPolicy", json!(pull));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(obj) {
            default_key(p, "protocol", json!("TCP"));
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(key) {
            probe(p);
        }
    }
}

/// Whether an image reference has no tag or the `latest` tag (and no digest): pulled `Always` by default.
pub fn image_tag_is_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// Defaults of a `Service` that need no allocation (the caller allocates cluster IPs and node ports).
pub fn service(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(obj) else {
        return;
    };
    default_key(spec, "type", json!("ClusterIP"));
    default_key(spec, "sessionAffinity", json!("None"));
    default_key(spec, "ipFamilies", json!(["IPv4"]));
    default_key(spec, "ipFamilyPolicy", json!("SingleStack"));
    default_key(spec, "internalTrafficPolicy", json!("Cluster"));
    let external = matches!(
        spec.get("type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    );
    if external {
        default_key(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(obj) {
            default_key(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                default_key(p, "targetPort", port);
            }
        }
    }
}

/// Defaults of a `Namespace`.
pub fn namespace(object: &mut Value) {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(o) = obj(object) else {
        return;
    };
    if let Some(meta) = obj(child(o, "metadata")) {
        let labels = child(meta, "labels");
        if let Some(labels) = obj(labels) {
            labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
        }
    }
    if let Some(spec) = obj(child(o, "spec")) {
        default_key(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = obj(child(o, "status")) {
        default_key(status, "phase", json!("Active"));
    }
}

/// Defaults of a `Secret`: `type: Opaque`, and `stringData` folded into `data`.
pub fn secret(object: &mut Value) {
    use base64::Engine as _;
    let Some(o) = obj(object) else {
        return;
    };
    default_key(o, "type", json!("Opaque"));
    if let Some(Value::Object(strings)) = o.remove("stringData") {
        let data = child(o, "data");
        if let Some(data) = obj(data) {
            for (k, v) in strings {
                let text = v.as_str().unwrap_or_default();
                data.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
}

/// Applies the defaults of `kind` (built-in kinds only).
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "ReplicaSet") => replica_set(object),
        ("", "Pod") => pod(object),
        ("", "Service") => service(object),
        ("", "Namespace") => namespace(object),
        ("", "Secret") => secret(object),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults() {
        let mut d = json!({"spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "reg:5000/x:1.2"}]}}}});
        deployment(&mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][1]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
            "TCP"
        );
        let mut r = json!({"spec": {"strategy": {"type": "Recreate"}}});
        deployment(&mut r);
        assert!(r["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn latest_images() {
        assert!(image_tag_is_latest("nginx"));
        assert!(image_tag_is_latest("localhost:5000/nginx"));
        assert!(image_tag_is_latest("nginx:latest"));
        assert!(!image_tag_is_latest("localhost:5000/nginx:1"));
        assert!(!image_tag_is_latest("nginx@sha256:00"));
    }
}
