//! What the verbs mean, as the apiserver's registry strategies define them: create (names, uids,
//! defaults, allocation), update (optimistic concurrency, generation, the status subresource), delete
//! (finalizers, propagation, graceful pod deletion), and the scale subresource. The HTTP layer and the
//! controllers both go through here, so a controller's write is a client's write.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::defaults;
use crate::resource::ResourceType;
use crate::selector::LabelSelector;
use crate::status::{ApiError, Cause};
use crate::store::{Key, Locked, Store};

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// The object itself (its status is kept when the kind has a status subresource).
    Main,
    /// `/status`: only the status changes.
    Status,
    /// `/scale`: a `Scale` view of the replicas.
    Scale,
}

/// Who writes and how.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// The field manager (`fieldManager`, or derived from the user agent).
    pub manager: String,
    /// A server-side apply: the object's managedFields are already the apply's.
    pub applied: bool,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `Orphan`, `Background` or `Foreground`.
    pub propagation: Option<String>,
    /// Grace period for pods.
    pub grace_seconds: Option<i64>,
    /// Precondition on the UID.
    pub uid: Option<String>,
    /// Precondition on the resourceVersion.
    pub resource_version: Option<String>,
    /// Validate only.
    pub dry_run: bool,
}

pub(crate) fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

pub(crate) fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let map = object.as_object_mut().expect("made an object above");
    let entry = map.entry("metadata").or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("made an object above")
}

pub(crate) fn meta_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    meta(object)
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

/// An object's name.
pub fn name_of(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

/// An object's namespace.
pub fn namespace_of(object: &Value) -> &str {
    meta_str(object, "namespace").unwrap_or_default()
}

/// An object's UID.
pub fn uid_of(object: &Value) -> &str {
    meta_str(object, "uid").unwrap_or_default()
}

fn finalizers(object: &Value) -> Vec<String> {
    meta(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Five characters of the apiserver's `generateName` alphabet.
pub fn random_suffix(state: &mut Locked<'_>) -> String {
    let mut n = state.random();
    let mut s = String::with_capacity(5);
    for _ in 0..5 {
        s.push(char::from(NAME_ALPHABET[(n % 27) as usize]));
        n /= 27;
    }
    s
}

/// Whether `name` is a DNS-1123 subdomain.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_dns_subdomain(name)
}

fn name_cause(t: &ResourceType, name: &str) -> Option<Cause> {
    let label_only = t.group.is_empty() && matches!(t.plural.as_str(), "namespaces" | "services");
    if label_only {
        if is_dns_label(name) {
            return None;
        }
        return Some(Cause::invalid(
            "metadata.name",
            &json!(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ));
    }
    if is_dns_subdomain(name) {
        return None;
    }
    Some(Cause::invalid(
        "metadata.name",
        &json!(name),
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ))
}

fn go_map(labels: &Value) -> String {
    let entries: Vec<String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!("map[string]string{{{}}}", entries.join(", "))
}

/// Validation of the built-in kinds that clients run into.
fn validate(t: &ResourceType, object: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    match (t.group.as_str(), t.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet") => {
            let selector = object.pointer("/spec/selector");
            match selector {
                None | Some(Value::Null) => causes.push(Cause::required("spec.selector")),
                Some(sel) => {
                    let labels = object
                        .pointer("/spec/template/metadata/labels")
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    match LabelSelector::from_object(sel) {
                        Ok(Some(s)) if s.is_empty() => causes.push(Cause::invalid(
                            "spec.selector",
                            &json!("{}"),
                            "empty selector is invalid for deployment",
                        )),
                        Ok(Some(s))
                            if !s.matches_object(&json!({"metadata": {"labels": labels}})) =>
                        {
                            causes.push(Cause {
                                reason: "FieldValueInvalid",
                                message: format!(
                                    "Invalid value: {}: `selector` does not match template `labels`",
                                    go_map(&labels)
                                ),
                                field: "spec.template.metadata.labels".to_owned(),
                            });
                        }
                        Ok(_) => {}
                        Err(e) => causes.push(Cause::invalid("spec.selector", sel, &e)),
                    }
                    if t.kind == "Deployment"
                        && let Some(old_sel) = old.and_then(|o| o.pointer("/spec/selector"))
                        && old_sel != sel
                    {
                        causes.push(Cause {
                            reason: "FieldValueInvalid",
                            message: "Invalid value: v1.LabelSelector: field is immutable"
                                .to_owned(),
                            field: "spec.selector".to_owned(),
                        });
                    }
                }
            }
            if let Some(r) = object.pointer("/spec/replicas").and_then(Value::as_i64)
                && r < 0
            {
                causes.push(Cause::invalid(
                    "spec.replicas",
                    &json!(r),
                    "must be greater than or equal to 0",
                ));
            }
            pod_spec_causes(
                object.pointer("/spec/template/spec"),
                "spec.template.spec",
                &mut causes,
            );
        }
        ("", "Pod") => pod_spec_causes(object.get("spec"), "spec", &mut causes),
        ("", "Service") => {
            let ports = object.pointer("/spec/ports").and_then(Value::as_array);
            let external_name =
                object.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
            if ports.is_none_or(Vec::is_empty) && !external_name {
                causes.push(Cause::required("spec.ports"));
            }
            for (i, p) in ports.into_iter().flatten().enumerate() {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    causes.push(Cause::invalid(
                        format!("spec.ports[{i}].port"),
                        &json!(port),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
        _ => {}
    }
    causes
}

fn pod_spec_causes(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => causes.push(Cause::required(format!("{at}.containers"))),
        Some(list) if list.is_empty() => causes.push(Cause::required(format!("{at}.containers"))),
        Some(list) => {
            for (i, c) in list.iter().enumerate() {
                if c.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(Cause::required(format!("{at}.containers[{i}].name")));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(Cause::required(format!("{at}.containers[{i}].image")));
                }
            }
        }
    }
}

/// The part of an object that moves `metadata.generation`: everything but metadata and status.
fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(m) = copy.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    copy
}

fn namespace_check(state: &Locked<'_>, t: &ResourceType, namespace: &str) -> Result<(), ApiError> {
    if !t.namespaced {
        return Ok(());
    }
    let Some(ns_type) = state.registry.get("", "v1", "namespaces") else {
        return Ok(());
    };
    match state.get(&Key::new(&ns_type, "", namespace)) {
        None => Err(ApiError::not_found(&ns_type, namespace)),
        Some(ns) if meta(ns).is_some_and(|m| m.contains_key("deletionTimestamp")) => {
            Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    t.qualified(),
                    "",
                ),
                details: Some(json!({"name": "", "kind": t.plural})),
            })
        }
        Some(_) => Ok(()),
    }
}

/// The next free cluster IP in 10.96.0.0/12.
fn allocate_cluster_ip(state: &Locked<'_>) -> String {
    let used: std::collections::HashSet<String> = state
        .list("", "services", None)
        .filter_map(|(_, s)| {
            s.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    for n in 10u32..65_000 {
        let ip = format!("10.96.{}.{}", n / 256, n % 256);
        if !used.contains(&ip) {
            return ip;
        }
    }
    "10.96.255.254".to_owned()
}

/// A free node port: random in 30000-32767 as the apiserver allocates them, skipping ports other
/// Services hold and ports already bound on this host (the NodePort proxy serves them on 127.0.0.1, and
/// several simulators may share a machine).
fn allocate_node_port(state: &mut Locked<'_>, taken_here: &[i64]) -> Option<i64> {
    let used: Vec<i64> = state
        .list("", "services", None)
        .flat_map(|(_, s)| {
            s.pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .collect::<Vec<_>>()
        })
        .collect();
    let start = i64::try_from(state.random() % 2768).unwrap_or(0);
    (0..2768)
        .map(|i| 30_000 + (start + i) % 2768)
        .find(|p| !used.contains(p) && !taken_here.contains(p) && host_port_free(*p))
}

fn host_port_free(port: i64) -> bool {
    u16::try_from(port).is_ok_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
}

fn allocate_service(
    state: &mut Locked<'_>,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let type_ = object
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if type_ == "ExternalName" {
        return Ok(());
    }
    let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        let ip = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if ip.is_empty() {
            let ip = match old_ip {
                Some(Value::String(s)) if !s.is_empty() => s,
                _ => allocate_cluster_ip(state),
            };
            spec.insert("clusterIP".to_owned(), json!(ip));
            spec.insert("clusterIPs".to_owned(), json!([ip]));
        } else if ip != "None" && !spec.contains_key("clusterIPs") {
            spec.insert("clusterIPs".to_owned(), json!([ip]));
        }
        if matches!(type_.as_str(), "NodePort" | "LoadBalancer") {
            let old_ports: Vec<Value> = old
                .and_then(|o| o.pointer("/spec/ports"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut taken = Vec::new();
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    if p.get("nodePort").and_then(Value::as_i64).is_some() {
                        continue;
                    }
                    let reuse = old_ports
                        .iter()
                        .find(|o| o.get("port") == p.get("port"))
                        .and_then(|o| o.get("nodePort"))
                        .and_then(Value::as_i64);
                    let port = match reuse {
                        Some(port) => port,
                        None => allocate_node_port(state, &taken).ok_or_else(|| {
                            ApiError::internal("range for service node ports is full")
                        })?,
                    };
                    taken.push(port);
                    p.insert("nodePort".to_owned(), json!(port));
                }
            }
        }
    }
    if let Some(o) = object.as_object_mut() {
        o.entry("status")
            .or_insert_with(|| json!({"loadBalancer": {}}));
    }
    Ok(())
}

fn initial_status(t: &ResourceType, object: &mut Value) {
    let Some(o) = object.as_object_mut() else {
        return;
    };
    match (t.group.as_str(), t.kind.as_str()) {
        ("", "Pod") => {
            o.insert(
                "status".to_owned(),
                json!({"phase": "Pending", "qosClass": "BestEffort"}),
            );
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {}
        _ if t.status_subresource && !(t.group.is_empty() && t.kind == "Namespace") => {
            o.remove("status");
        }
        _ => {}
    }
}

/// Sets `apiVersion` and `kind` to what the kind is stored as (the version asked for, for custom kinds).
fn stamp_type(t: &ResourceType, object: &mut Value, version: &str) {
    if let Some(o) = object.as_object_mut() {
        o.insert(
            "apiVersion".to_owned(),
            json!(crate::resource::api_version(&t.group, version)),
        );
        o.insert("kind".to_owned(), json!(t.kind));
    }
}

/// Creates an object.
pub fn create(
    store: &Store,
    t: &Arc<ResourceType>,
    version: &str,
    namespace: &str,
    object: Value,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let mut state = store.lock();
    create_locked(&mut state, t, version, namespace, object, ctx)
}

/// [`create`] with the store already locked (controllers).
#[allow(clippy::too_many_lines)]
pub fn create_locked(
    state: &mut Locked<'_>,
    t: &Arc<ResourceType>,
    version: &str,
    namespace: &str,
    mut object: Value,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let body_ns = namespace_of(&object).to_owned();
    if t.namespaced && !body_ns.is_empty() && !namespace.is_empty() && body_ns != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let namespace = if t.namespaced {
        if namespace.is_empty() {
            body_ns
        } else {
            namespace.to_owned()
        }
    } else {
        String::new()
    };
    let mut name = name_of(&object).to_owned();
    if name.is_empty() {
        let generate = meta_str(&object, "generateName")
            .unwrap_or_default()
            .to_owned();
        if generate.is_empty() {
            return Err(ApiError::invalid(
                t,
                "",
                &[Cause {
                    reason: "FieldValueRequired",
                    message: "Required value: name or generateName is required".to_owned(),
                    field: "metadata.name".to_owned(),
                }],
            ));
        }
        name = format!("{generate}{}", random_suffix(state));
    }
    if let Some(cause) = name_cause(t, &name) {
        return Err(ApiError::invalid(t, &name, &[cause]));
    }
    namespace_check(state, t, &namespace)?;
    let key = Key::new(t, &namespace, &name);
    if state.get(&key).is_some() {
        return Err(ApiError::already_exists(t, &name));
    }
    stamp_type(t, &mut object, version);
    let uid = state.new_uid();
    {
        let m = meta_mut(&mut object);
        m.insert("name".to_owned(), json!(name));
        if t.namespaced {
            m.insert("namespace".to_owned(), json!(namespace));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".to_owned(), json!(uid));
        m.insert("creationTimestamp".to_owned(), json!(clock::now_string()));
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        m.remove("resourceVersion");
        m.remove("selfLink");
        if t.generation {
            m.insert("generation".to_owned(), json!(1));
        } else {
            m.remove("generation");
        }
        if m.get("labels")
            .is_some_and(|l| l.as_object().is_some_and(Map::is_empty))
        {
            m.remove("labels");
        }
    }
    initial_status(t, &mut object);
    defaults::apply(&t.group, &t.kind, &mut object);
    crate::controller::knative::admit(t, &mut object)?;
    let causes = validate(t, &object, None);
    if !causes.is_empty() {
        return Err(ApiError::invalid(t, &name, &causes));
    }
    // The apiserver records ownership of the request as decoded, before its storage allocates.
    if !ctx.applied {
        crate::managed::record(None, &mut object, &ctx.manager, t, version, Sub::Main);
    }
    if t.group.is_empty() && t.kind == "Service" {
        allocate_service(state, &mut object, None)?;
    }
    if t.group == "apiextensions.k8s.io" && t.kind == "CustomResourceDefinition" {
        crd_established(state, &mut object, ctx.dry_run)?;
    }
    if ctx.dry_run {
        return Ok(object);
    }
    Ok(state.put(key, object))
}

fn crd_established(state: &mut Locked<'_>, crd: &mut Value, dry_run: bool) -> Result<(), ApiError> {
    let mut registry = state.registry.clone();
    let defined = registry.define(crd);
    let crd_type = state
        .registry
        .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .ok_or_else(|| ApiError::internal("customresourcedefinitions not served"))?;
    let t = defined.map_err(|e| {
        ApiError::invalid(
            &crd_type,
            name_of(crd),
            &[Cause::invalid("spec", &Value::Null, &e)],
        )
    })?;
    let expected = format!("{}.{}", t.plural, t.group);
    if name_of(crd) != expected {
        return Err(ApiError::invalid(
            &crd_type,
            name_of(crd),
            &[Cause::invalid(
                "metadata.name",
                &json!(name_of(crd)),
                "must be spec.names.plural+\".\"+spec.group",
            )],
        ));
    }
    let now = clock::now_string();
    let stored: Vec<Value> = t
        .versions
        .first()
        .map(|v| vec![json!(v)])
        .unwrap_or_default();
    if let Some(o) = crd.as_object_mut() {
        o.insert(
            "status".to_owned(),
            json!({
                "acceptedNames": crate::resource::accepted_names(crd_names(o)),
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now}
                ],
                "storedVersions": stored,
            }),
        );
    }
    if !dry_run {
        state.registry = registry;
    }
    Ok(())
}

fn crd_names(o: &Map<String, Value>) -> &Value {
    static EMPTY: Value = Value::Null;
    o.get("spec").unwrap_or(&EMPTY)
}

/// Replaces an object (`PUT`), or its status, or its scale.
#[allow(clippy::too_many_arguments)]
pub fn update(
    store: &Store,
    t: &Arc<ResourceType>,
    version: &str,
    namespace: &str,
    name: &str,
    object: Value,
    sub: Sub,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let mut state = store.lock();
    let key = Key::new(t, namespace, name);
    let Some(old) = state.get(&key).cloned() else {
        return Err(ApiError::not_found(t, name));
    };
    write(&mut state, t, version, &key, &old, object, sub, ctx)
}

/// The `Scale` view of an object.
pub fn scale_of(t: &ResourceType, object: &Value) -> Value {
    let paths = t.scale.clone().unwrap_or(crate::resource::ScalePaths {
        spec_replicas: ".spec.replicas".to_owned(),
        status_replicas: ".status.replicas".to_owned(),
        label_selector: None,
    });
    let at = |path: &str| object.pointer(&path.replace('.', "/")).cloned();
    let spec_replicas = at(&paths.spec_replicas)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let status_replicas = at(&paths.status_replicas)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let selector = paths
        .label_selector
        .as_deref()
        .and_then(at)
        .map(|s| match s {
            Value::String(text) => text,
            obj => LabelSelector::from_object(&obj)
                .ok()
                .flatten()
                .map(|s| s.to_query())
                .unwrap_or_default(),
        });
    let m = meta(object);
    let mut status = json!({"replicas": status_replicas});
    if let Some(sel) = selector {
        status["selector"] = json!(sel);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.and_then(|m| m.get("name")).cloned().unwrap_or(Value::Null),
            "namespace": m.and_then(|m| m.get("namespace")).cloned().unwrap_or(Value::Null),
            "uid": m.and_then(|m| m.get("uid")).cloned().unwrap_or(Value::Null),
            "resourceVersion": m.and_then(|m| m.get("resourceVersion")).cloned().unwrap_or(Value::Null),
            "creationTimestamp": m.and_then(|m| m.get("creationTimestamp")).cloned().unwrap_or(Value::Null),
        },
        "spec": {"replicas": spec_replicas},
        "status": status,
    })
}

fn set_path(object: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let mut cur = object;
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().expect("made an object above");
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return;
        }
        cur = map.entry((*part).to_owned()).or_insert_with(|| json!({}));
    }
}

// The apiserver's update path in one place (preconditions, subresources, immutable metadata, defaults,
// validation, finalizers, generation, no-op detection); split, its order would be harder to follow.
#[allow(clippy::too_many_lines)]
/// The write behind update and patch: `new` is the whole object (or a status, or a Scale) as the client
/// wants it; returns what is stored.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    state: &mut Locked<'_>,
    t: &Arc<ResourceType>,
    version: &str,
    key: &Key,
    old: &Value,
    mut new: Value,
    sub: Sub,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let name = key.name.as_str();
    if !new.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let want_rv = meta_str(&new, "resourceVersion").map(str::to_owned);
    if let Some(rv) = want_rv.as_deref()
        && !rv.is_empty()
        && Some(rv) != meta_str(old, "resourceVersion")
    {
        return Err(ApiError::conflict(t, name));
    }
    if sub == Sub::Scale {
        let replicas = new
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                &scale_type(),
                name,
                &[Cause::invalid(
                    "spec.replicas",
                    &json!(replicas),
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut whole = old.clone();
        let path = t
            .scale
            .as_ref()
            .map_or(".spec.replicas", |s| s.spec_replicas.as_str());
        set_path(&mut whole, path, json!(replicas));
        new = whole;
    }
    let body_name = name_of(&new);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if sub == Sub::Status {
        let status = new.get("status").cloned();
        let managed = meta(&new).and_then(|m| m.get("managedFields")).cloned();
        new = old.clone();
        match status {
            Some(s) => {
                new["status"] = s;
            }
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        if let Some(mf) = managed {
            meta_mut(&mut new).insert("managedFields".to_owned(), mf);
        }
    } else if t.status_subresource && sub == Sub::Main {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    stamp_type(t, &mut new, version);
    {
        let old_meta = meta(old).cloned().unwrap_or_default();
        let m = meta_mut(&mut new);
        for keep in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(keep) {
                Some(v) => {
                    m.insert(keep.to_owned(), v.clone());
                }
                None => {
                    m.remove(keep);
                }
            }
        }
        if m.get("labels")
            .is_some_and(|l| l.as_object().is_some_and(Map::is_empty))
        {
            m.remove("labels");
        }
        if m.get("annotations")
            .is_some_and(|l| l.as_object().is_some_and(Map::is_empty))
        {
            m.remove("annotations");
        }
        m.remove("resourceVersion");
    }
    defaults::apply(&t.group, &t.kind, &mut new);
    if sub == Sub::Main {
        crate::controller::knative::admit(t, &mut new)?;
    }
    if t.group.is_empty() && t.kind == "Service" {
        allocate_service(state, &mut new, Some(old))?;
    }
    let causes = validate(t, &new, Some(old));
    if !causes.is_empty() {
        return Err(ApiError::invalid(t, name, &causes));
    }
    let old_finalizers = finalizers(old);
    let deleting = meta(old).is_some_and(|m| m.contains_key("deletionTimestamp"));
    if deleting {
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                t,
                name,
                &[Cause::forbidden(
                    "metadata.finalizers",
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{:?}}}",
                        added.join("\", \"")
                    ),
                )],
            ));
        }
    }
    if t.generation && spec_part(&new) != spec_part(old) {
        let g = meta(old)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(&mut new).insert("generation".to_owned(), json!(g + 1));
    }
    if t.group == "apiextensions.k8s.io" && t.kind == "CustomResourceDefinition" {
        crd_established(state, &mut new, ctx.dry_run)?;
    }
    if !ctx.applied {
        crate::managed::record(Some(old), &mut new, &ctx.manager, t, version, sub);
    }
    // The stored object without its version, to tell a no-op write (which the apiserver does not store).
    let mut old_cmp = old.clone();
    meta_mut(&mut old_cmp).remove("resourceVersion");
    if new == old_cmp {
        return Ok(old.clone());
    }
    if deleting && finalizers(&new).is_empty() && !pod_awaits_kubelet(t, &new) {
        if ctx.dry_run {
            return Ok(new);
        }
        state.put(key.clone(), new);
        return Ok(finish_delete(state, t, key).unwrap_or_default());
    }
    if ctx.dry_run {
        meta_mut(&mut new).insert(
            "resourceVersion".to_owned(),
            json!(meta_str(old, "resourceVersion").unwrap_or_default()),
        );
        return Ok(new);
    }
    Ok(state.put(key.clone(), new))
}

fn pod_awaits_kubelet(t: &ResourceType, object: &Value) -> bool {
    t.group.is_empty()
        && t.kind == "Pod"
        && meta(object)
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .is_some_and(|g| g > 0)
}

fn scale_type() -> ResourceType {
    ResourceType {
        group: "autoscaling".to_owned(),
        versions: vec!["v1".to_owned()],
        kind: "Scale".to_owned(),
        plural: "scale".to_owned(),
        singular: "scale".to_owned(),
        namespaced: true,
        short_names: Vec::new(),
        categories: Vec::new(),
        status_subresource: false,
        scale: None,
        generation: false,
        custom: false,
        printer_columns: Vec::new(),
    }
}

/// Removes an object for good, and what a deleted CRD served.
fn finish_delete(state: &mut Locked<'_>, t: &ResourceType, key: &Key) -> Option<Value> {
    let removed = state.remove(key)?;
    if t.group == "apiextensions.k8s.io" && t.kind == "CustomResourceDefinition" {
        let group = removed
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let plural = removed
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let doomed: Vec<Key> = state
            .list(&group, &plural, None)
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            state.remove(&k);
        }
        state.registry.undefine(&group, &plural);
    }
    Some(removed)
}

/// Deletes an object: at once, or by setting `deletionTimestamp` while finalizers (or a pod's kubelet)
/// have work to do. Returns the object as the apiserver answers it.
pub fn delete(
    store: &Store,
    t: &Arc<ResourceType>,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let mut state = store.lock();
    let key = Key::new(t, namespace, name);
    let Some(old) = state.get(&key).cloned() else {
        return Err(ApiError::not_found(t, name));
    };
    delete_locked(&mut state, t, &key, &old, options)
}

#[allow(clippy::too_many_lines)]
pub(crate) fn delete_locked(
    state: &mut Locked<'_>,
    t: &Arc<ResourceType>,
    key: &Key,
    old: &Value,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let name = key.name.as_str();
    if let Some(uid) = &options.uid
        && uid != uid_of(old)
    {
        return Err(ApiError::conflict_with(
            t,
            name,
            format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                uid_of(old)
            ),
            None,
        ));
    }
    if let Some(rv) = &options.resource_version
        && Some(rv.as_str()) != meta_str(old, "resourceVersion")
    {
        return Err(ApiError::conflict_with(
            t,
            name,
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(old, "resourceVersion").unwrap_or_default()
            ),
            None,
        ));
    }
    let mut new = old.clone();
    let mut fins = finalizers(old);
    match options.propagation.as_deref() {
        Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".to_owned()),
        Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
            fins.push("foregroundDeletion".to_owned());
        }
        Some("Orphan" | "Foreground" | "Background") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "DeleteOptions.PropagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    }
    let is_pod = t.group.is_empty() && t.kind == "Pod";
    let is_namespace = t.group.is_empty() && t.kind == "Namespace";
    let grace = if is_pod {
        let running = new.pointer("/spec/nodeName").is_some()
            && !matches!(
                new.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
        let spec_grace = new
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        if running {
            options.grace_seconds.unwrap_or(spec_grace).max(0)
        } else {
            0
        }
    } else {
        0
    };
    let pending = !fins.is_empty() || grace > 0 || is_namespace;
    if !pending {
        if options.dry_run {
            return Ok(old.clone());
        }
        return finish_delete(state, t, key).ok_or_else(|| ApiError::not_found(t, name));
    }
    let already = meta(old).is_some_and(|m| m.contains_key("deletionTimestamp"));
    {
        let now = clock::now();
        let m = meta_mut(&mut new);
        if !already {
            let at = now
                .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(grace))
                .unwrap_or(now);
            m.insert("deletionTimestamp".to_owned(), json!(clock::format(at)));
            m.insert("deletionGracePeriodSeconds".to_owned(), json!(grace));
            if t.generation {
                let g = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
                m.insert("generation".to_owned(), json!(g + 1));
            }
        } else if is_pod
            && grace
                < m.get("deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
        {
            m.insert("deletionGracePeriodSeconds".to_owned(), json!(grace));
        }
        if fins.is_empty() {
            m.remove("finalizers");
        } else {
            m.insert("finalizers".to_owned(), json!(fins));
        }
    }
    if is_namespace && let Some(o) = new.as_object_mut() {
        o.insert("status".to_owned(), json!({"phase": "Terminating"}));
    }
    if options.dry_run {
        return Ok(new);
    }
    if is_pod && grace == 0 && fins.is_empty() {
        state.put(key.clone(), new);
        return finish_delete(state, t, key).ok_or_else(|| ApiError::not_found(t, name));
    }
    Ok(state.put(key.clone(), new))
}

/// Removes a pod whose containers have stopped (the kubelet's final delete with grace 0).
pub fn finalize_pod(state: &mut Locked<'_>, t: &Arc<ResourceType>, key: &Key) {
    let Some(pod) = state.get(key).cloned() else {
        return;
    };
    if finalizers(&pod).is_empty() {
        finish_delete(state, t, key);
    } else {
        let mut new = pod;
        meta_mut(&mut new).insert("deletionGracePeriodSeconds".to_owned(), json!(0));
        state.put(key.clone(), new);
    }
}

/// Removes an object whose finalizers are done, or deletes it now (controllers' deletes).
pub fn remove_now(state: &mut Locked<'_>, t: &ResourceType, key: &Key) -> Option<Value> {
    finish_delete(state, t, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Store, Arc<ResourceType>, Arc<ResourceType>) {
        let store = Store::new(100);
        let (ns, deploy) = {
            let s = store.lock();
            (
                s.registry.get("", "v1", "namespaces").expect("ns"),
                s.registry.get("apps", "v1", "deployments").expect("deploy"),
            )
        };
        let ctx = Ctx::default();
        create(
            &store,
            &ns,
            "v1",
            "",
            json!({"metadata": {"name": "default"}}),
            &ctx,
        )
        .expect("ns");
        (store, ns, deploy)
    }

    fn deployment(name: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "img:1"}]}}}})
    }

    #[test]
    fn create_update_generation_and_conflicts() {
        let (store, _, d) = setup();
        let ctx = Ctx::default();
        let made = create(&store, &d, "v1", "default", deployment("web"), &ctx).expect("created");
        assert_eq!(made["metadata"]["generation"], 1);
        assert_eq!(made["apiVersion"], "apps/v1");
        let err = create(&store, &d, "v1", "default", deployment("web"), &ctx).expect_err("exists");
        assert_eq!(err.reason, "AlreadyExists");
        let mut changed = made.clone();
        changed["metadata"]["labels"] = json!({"x": "y"});
        let same_gen =
            update(&store, &d, "v1", "default", "web", changed, Sub::Main, &ctx).expect("ok");
        assert_eq!(same_gen["metadata"]["generation"], 1);
        let mut stale = made.clone();
        stale["spec"]["replicas"] = json!(3);
        let err =
            update(&store, &d, "v1", "default", "web", stale, Sub::Main, &ctx).expect_err("stale");
        assert_eq!(err.reason, "Conflict");
        let mut fresh = same_gen.clone();
        fresh["spec"]["replicas"] = json!(3);
        fresh["status"] = json!({"replicas": 99});
        let bumped =
            update(&store, &d, "v1", "default", "web", fresh, Sub::Main, &ctx).expect("ok");
        assert_eq!(bumped["metadata"]["generation"], 2);
        assert!(
            bumped.get("status").is_none(),
            "status only through /status"
        );
        let noop = update(
            &store,
            &d,
            "v1",
            "default",
            "web",
            bumped.clone(),
            Sub::Main,
            &ctx,
        )
        .expect("ok");
        assert_eq!(
            noop["metadata"]["resourceVersion"],
            bumped["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn invalid_and_missing_namespace() {
        let (store, _, d) = setup();
        let ctx = Ctx::default();
        let mut bad = deployment("web");
        bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
        let err = create(&store, &d, "v1", "default", bad, &ctx).expect_err("invalid");
        assert_eq!(
            err.message,
            "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
        );
        let err = create(&store, &d, "v1", "nope", deployment("web"), &ctx).expect_err("no ns");
        assert_eq!(err.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn finalizers_hold_deletion() {
        let (store, _, d) = setup();
        let ctx = Ctx::default();
        let mut obj = deployment("web");
        obj["metadata"]["finalizers"] = json!(["example.com/x"]);
        create(&store, &d, "v1", "default", obj, &ctx).expect("created");
        let pending =
            delete(&store, &d, "default", "web", &DeleteOptions::default()).expect("deleting");
        assert!(pending["metadata"]["deletionTimestamp"].is_string());
        let mut cleared = pending.clone();
        cleared["metadata"]["finalizers"] = json!([]);
        update(&store, &d, "v1", "default", "web", cleared, Sub::Main, &ctx).expect("finalized");
        assert!(store.lock().get(&Key::new(&d, "default", "web")).is_none());
    }
}
