//! A minimal Knative Serving (`serving.knative.dev/v1`): the four kinds served as built-in custom kinds
//! (discovery, status subresource, generation, no CRD needed), the webhook's defaults and refusals, and
//! a reconciler that runs a Knative Service on the cluster's own Deployments.
//!
//! What it does, in Knative's terms:
//! - a `Service` NAME makes a `Configuration` and a `Route` NAME (controlled by it, labelled
//!   `serving.knative.dev/service`); its status carries theirs: `latestCreatedRevisionName`,
//!   `latestReadyRevisionName`, `traffic`, `url`, `address`, and the conditions `ConfigurationsReady`,
//!   `RoutesReady` and `Ready` with Knative's reasons (`OutOfDate`, `TrafficNotMigrated`, `NotOwned`, and
//!   those propagated from below);
//! - a `Configuration` makes one `Revision` per generation of its spec: `NAME-00001`, `NAME-00002`, … or
//!   `spec.template.metadata.name` when given; `latestReadyRevisionName` moves only when the latest
//!   created revision becomes ready (`Ready` False `RevisionFailed` when it fails);
//! - a `Revision` runs through a Deployment `REVISION-deployment` whose pods carry
//!   `serving.knative.dev/revision`, `…/configuration`, `…/service` and `…/revisionUID`, the env
//!   `K_SERVICE`, `K_CONFIGURATION`, `K_REVISION`, and the user port (`containerPort`, 8080 by default);
//!   replicas are `autoscaling.knative.dev/min-scale` or 1 (no scale to zero, no activator, no
//!   queue-proxy); `serving.knative.dev/progress-deadline` sets the Deployment's deadline (600s by
//!   default). `Ready` (from `ResourcesAvailable` and `ContainerHealthy`) follows the Deployment: True
//!   with a ready replica; False `ProgressDeadlineExceeded`, a pod's waiting reason (`ImagePullBackOff`)
//!   or `ExitCodeN` for a container that exited before the revision was ever ready;
//! - a `Route` resolves `spec.traffic` (`revisionName`, or `configurationName` → its latest ready
//!   revision) into `status.traffic` (with `url` for tags); an unknown revision is `AllTrafficAssigned`
//!   False `RevisionMissing` (`Revision "X" referenced in traffic not found.`), as Knative's route
//!   reconciler reports it: the webhook does not look revisions up. While unresolved, the previous
//!   `status.traffic` stays, as in Knative.
//!
//! How the Service is reached: the Route of a Knative Service NAME owns a `v1` Service NAME of type
//! `NodePort` (port 80, `http`) selecting `serving.knative.dev/service: NAME`. Kubesim's NodePort proxy
//! serves it on `127.0.0.1:<nodePort>` and splits requests by the Knative Service's `status.traffic`
//! ([`crate::proxy`]); `kubectl get service NAME -o jsonpath='{.spec.ports[0].nodePort}'` gives the
//! port. (Knative's own placeholder Service is an `ExternalName` to its ingress; here the NodePort stands
//! in for the ingress.) A `v1` Service NAME that exists and is not the Route's is left alone and makes
//! `IngressReady` False `NotOwned`. `status.url` and `status.address.url` are
//! `http://NAME.NAMESPACE.svc.cluster.local` (Knative's cluster-local domain).
//!
//! The webhook (`validation.webhook.serving.knative.dev`) refuses, with 400 `BadRequest` and Knative's
//! texts: traffic percents not summing to 100, a percent outside 0–100, `revisionName` together with
//! `latestRevision: true` (or neither with `latestRevision: false`), `configurationName` in a Service's
//! traffic, tags that are not DNS-1035 labels or appear twice, revision names that are not qualified
//! names, and a template without containers or images. It defaults what `kubectl get -o yaml` shows on
//! a cluster: the single container's name `user-container`, `timeoutSeconds: 300`,
//! `containerConcurrency: 0`, and a Service's traffic `[{latestRevision: true, percent: 100}]`.

use serde_json::{Map, Value, json};

use super::Ctl;
use crate::clock;
use crate::ops;
use crate::resource::{PrinterColumn, ResourceType};
use crate::status::ApiError;

/// The API group.
pub const GROUP: &str = "serving.knative.dev";
/// The label naming a pod's (and a Configuration's, Route's, Revision's) Knative Service.
pub const SERVICE_LABEL: &str = "serving.knative.dev/service";
/// The label naming a Revision's Configuration.
pub const CONFIGURATION_LABEL: &str = "serving.knative.dev/configuration";
/// The label naming a pod's Revision.
pub const REVISION_LABEL: &str = "serving.knative.dev/revision";
const REVISION_UID_LABEL: &str = "serving.knative.dev/revisionUID";
const CONFIGURATION_GENERATION_LABEL: &str = "serving.knative.dev/configurationGeneration";
const ROUTE_LABEL: &str = "serving.knative.dev/route";
const PROGRESS_DEADLINE: &str = "serving.knative.dev/progress-deadline";
const MIN_SCALE: &str = "autoscaling.knative.dev/min-scale";
const WEBHOOK: &str = "validation.webhook.serving.knative.dev";
/// The port a container serves on when it names none (Knative's and Cloud Run's default).
pub const DEFAULT_PORT: i64 = 8080;
const DEFAULT_PROGRESS_DEADLINE: i64 = 600;

fn knative_type(
    kind: &str,
    plural: &str,
    short: &[&str],
    columns: &[(&str, &str)],
) -> ResourceType {
    ResourceType {
        group: GROUP.to_owned(),
        versions: vec!["v1".to_owned()],
        kind: kind.to_owned(),
        plural: plural.to_owned(),
        singular: kind.to_ascii_lowercase(),
        namespaced: true,
        short_names: short.iter().map(|s| (*s).to_owned()).collect(),
        categories: ["all", "knative", "serving"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        status_subresource: true,
        scale: None,
        generation: true,
        // Knative's kinds are CRDs on a real cluster: JSON merge patches, lists atomic under apply.
        custom: true,
        printer_columns: columns
            .iter()
            .map(|(name, path)| PrinterColumn {
                name: (*name).to_owned(),
                type_: "string".to_owned(),
                json_path: (*path).to_owned(),
            })
            .collect(),
    }
}

/// The kinds of `serving.knative.dev/v1`, served without a CRD (a CRD of the same names replaces them).
pub fn resource_types() -> Vec<ResourceType> {
    vec![
        knative_type(
            "Service",
            "services",
            &["kservice", "ksvc"],
            &[
                ("URL", ".status.url"),
                ("LatestCreated", ".status.latestCreatedRevisionName"),
                ("LatestReady", ".status.latestReadyRevisionName"),
            ],
        ),
        knative_type(
            "Configuration",
            "configurations",
            &["config", "cfg"],
            &[
                ("LatestCreated", ".status.latestCreatedRevisionName"),
                ("LatestReady", ".status.latestReadyRevisionName"),
            ],
        ),
        knative_type(
            "Revision",
            "revisions",
            &["rev"],
            &[("Actual Replicas", ".status.actualReplicas")],
        ),
        knative_type("Route", "routes", &["rt"], &[("URL", ".status.url")]),
    ]
}

// ---------------------------------------------------------------------------------------------------
// The webhook: defaults and validation.

/// One of the webhook's field errors: a message and the paths it is about.
struct FieldError {
    message: String,
    paths: Vec<String>,
}

fn field_error(message: impl Into<String>, path: impl Into<String>) -> FieldError {
    FieldError {
        message: message.into(),
        paths: vec![path.into()],
    }
}

/// Knative's defaulting webhook for a Service, Configuration or Route (others are left alone).
fn set_defaults(kind: &str, object: &mut Value) {
    let template = match kind {
        "Service" | "Configuration" => object.pointer_mut("/spec/template/spec"),
        _ => None,
    };
    if let Some(spec) = template.and_then(Value::as_object_mut) {
        spec.entry("timeoutSeconds").or_insert(json!(300));
        spec.entry("containerConcurrency").or_insert(json!(0));
        if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
            let single = containers.len() == 1;
            for (i, c) in containers.iter_mut().enumerate() {
                if let Some(c) = c.as_object_mut()
                    && c.get("name")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                {
                    let name = if single {
                        "user-container".to_owned()
                    } else {
                        format!("user-container-{i}")
                    };
                    c.insert("name".to_owned(), json!(name));
                }
            }
        }
    }
    if kind == "Service"
        && let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut)
    {
        let empty = spec
            .get("traffic")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if empty {
            spec.insert(
                "traffic".to_owned(),
                json!([{"latestRevision": true, "percent": 100}]),
            );
        }
    }
    if matches!(kind, "Service" | "Route")
        && let Some(traffic) = object
            .pointer_mut("/spec/traffic")
            .and_then(Value::as_array_mut)
    {
        for t in traffic.iter_mut().filter_map(Value::as_object_mut) {
            if !t.contains_key("latestRevision") {
                let pinned = t.get("revisionName").and_then(Value::as_str).is_some();
                t.insert("latestRevision".to_owned(), json!(!pinned));
            }
        }
    }
}

fn is_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// `validation.IsQualifiedName` for the names Knative checks (no prefix part).
fn is_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn validate_traffic(traffic: &[Value], in_service: bool, errors: &mut Vec<FieldError>) {
    let mut sum = 0i64;
    let mut tags: Vec<(String, usize)> = Vec::new();
    for (i, t) in traffic.iter().enumerate() {
        let at = |f: &str| format!("spec.traffic[{i}].{f}");
        let revision = t.get("revisionName").and_then(Value::as_str).unwrap_or("");
        let configuration = t
            .get("configurationName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(latest) = t.get("latestRevision").and_then(Value::as_bool)
            && latest != revision.is_empty()
        {
            errors.push(field_error(
                format!("may not set revisionName {revision:?} when latestRevision is {latest}"),
                at("latestRevision"),
            ));
        }
        if in_service && !configuration.is_empty() {
            errors.push(field_error(
                "must not set the field(s)",
                at("configurationName"),
            ));
        } else if !revision.is_empty() && !configuration.is_empty() {
            errors.push(FieldError {
                message: "expected exactly one, got both".to_owned(),
                paths: vec![at("configurationName"), at("revisionName")],
            });
        } else if !revision.is_empty() {
            if !is_qualified_name(revision) {
                errors.push(field_error(
                    format!("invalid key name {revision:?}"),
                    at("revisionName"),
                ));
            }
        } else if !in_service && configuration.is_empty() {
            errors.push(FieldError {
                message: "expected exactly one, got neither".to_owned(),
                paths: vec![at("configurationName"), at("revisionName")],
            });
        }
        if let Some(p) = t.get("percent") {
            let p = p.as_i64().unwrap_or(-1);
            if !(0..=100).contains(&p) {
                errors.push(field_error(
                    format!("expected 0 <= {p} <= 100"),
                    at("percent"),
                ));
            }
            sum += p;
        }
        if t.get("url").is_some() {
            errors.push(field_error("must not set the field(s)", at("url")));
        }
        if let Some(tag) = t.get("tag").and_then(Value::as_str) {
            if !is_dns1035_label(tag) {
                errors.push(field_error(
                    format!("invalid value: not a DNS 1035 label: {tag:?}"),
                    at("tag"),
                ));
            }
            if let Some((_, first)) = tags.iter().find(|(seen, _)| seen == tag) {
                errors.push(FieldError {
                    message: format!("Multiple definitions for {tag:?}"),
                    paths: vec![at("tag"), format!("spec.traffic[{first}].tag")],
                });
            } else {
                tags.push((tag.to_owned(), i));
            }
        }
    }
    if sum != 100 {
        errors.push(field_error(
            format!("Traffic targets sum to {sum}, want 100"),
            "spec.traffic",
        ));
    }
}

fn validate_template(object: &Value, errors: &mut Vec<FieldError>) {
    let containers = object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array);
    match containers {
        None => errors.push(field_error(
            "missing field(s)",
            "spec.template.spec.containers",
        )),
        Some(list) if list.is_empty() => errors.push(field_error(
            "missing field(s)",
            "spec.template.spec.containers",
        )),
        Some(list) => {
            for (i, c) in list.iter().enumerate() {
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(field_error(
                        "missing field(s)",
                        format!("spec.template.spec.containers[{i}].image"),
                    ));
                }
            }
        }
    }
    if let Some(name) = object
        .pointer("/spec/template/metadata/name")
        .and_then(Value::as_str)
    {
        let parent = ops::name_of(object);
        if !name.starts_with(&format!("{parent}-")) {
            errors.push(field_error(
                format!("{name:?} must have prefix \"{parent}-\""),
                "spec.template.metadata.name",
            ));
        }
    }
}

/// What Knative's webhooks do to a write of a `serving.knative.dev` object: defaults, then validation.
/// Objects of other groups pass untouched; so do status writes (the caller skips them).
pub(crate) fn admit(t: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    if t.group != GROUP {
        return Ok(());
    }
    set_defaults(&t.kind, object);
    let mut errors = Vec::new();
    match t.kind.as_str() {
        "Service" => {
            validate_template(object, &mut errors);
            let traffic = object
                .pointer("/spec/traffic")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            validate_traffic(&traffic, true, &mut errors);
        }
        "Configuration" => validate_template(object, &mut errors),
        "Route" => {
            let traffic = object
                .pointer("/spec/traffic")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !traffic.is_empty() {
                validate_traffic(&traffic, false, &mut errors);
            }
        }
        _ => {}
    }
    if errors.is_empty() {
        return Ok(());
    }
    // knative.dev/pkg's FieldError text: "MESSAGE: PATH, PATH", one per line, sorted.
    let mut lines: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.message, e.paths.join(", ")))
        .collect();
    lines.sort();
    Err(ApiError::bad_request(format!(
        "admission webhook {WEBHOOK:?} denied the request: validation failed: {}",
        lines.join("\n")
    )))
}

// ---------------------------------------------------------------------------------------------------
// Conditions, as knative.dev/pkg's ConditionSet keeps them: sorted by type, no lastUpdateTime, the
// transition time kept while the status stays.

#[derive(Debug, Clone, PartialEq)]
struct Cond {
    status: &'static str,
    reason: String,
    message: String,
}

impl Cond {
    fn truth() -> Self {
        Cond {
            status: "True",
            reason: String::new(),
            message: String::new(),
        }
    }

    fn unknown(reason: &str, message: impl Into<String>) -> Self {
        Cond {
            status: "Unknown",
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn falsity(reason: &str, message: impl Into<String>) -> Self {
        Cond {
            status: "False",
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn true_with(reason: &str, message: &str) -> Self {
        Cond {
            status: "True",
            reason: reason.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// The top-level `Ready` of a living condition set: the first False, else the first Unknown, else True.
fn aggregate(deps: &[&Cond]) -> Cond {
    deps.iter()
        .find(|c| c.status == "False")
        .or_else(|| deps.iter().find(|c| c.status == "Unknown"))
        .map_or_else(Cond::truth, |c| (*c).clone())
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn cond_of(object: &Value, type_: &str) -> Option<Cond> {
    let c = condition(object, type_)?;
    let status = match c.get("status").and_then(Value::as_str) {
        Some("True") => "True",
        Some("False") => "False",
        _ => "Unknown",
    };
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Some(Cond {
        status,
        reason: text("reason"),
        message: text("message"),
    })
}

fn conditions(old: &Value, set: &[(&str, &Cond)]) -> Value {
    let now = clock::now_string();
    let mut list: Vec<Value> = set
        .iter()
        .map(|(type_, c)| {
            let transition = condition(old, type_)
                .filter(|o| o.get("status").and_then(Value::as_str) == Some(c.status))
                .and_then(|o| o.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            let mut v =
                json!({"type": type_, "status": c.status, "lastTransitionTime": transition});
            if !c.reason.is_empty() {
                v["reason"] = json!(c.reason);
            }
            if !c.message.is_empty() {
                v["message"] = json!(c.message);
            }
            v
        })
        .collect();
    list.sort_by(|a, b| a["type"].as_str().cmp(&b["type"].as_str()));
    Value::Array(list)
}

fn is_ready(object: &Value) -> bool {
    cond_of(object, "Ready").is_some_and(|c| c.status == "True")
}

// ---------------------------------------------------------------------------------------------------
// The reconciler.

fn deleting(object: &Value) -> bool {
    ops::meta(object).is_some_and(|m| m.contains_key("deletionTimestamp"))
}

fn owner_ref(owner: &Value, kind: &str) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or_else(|| json!(format!("{GROUP}/v1"))),
        "kind": kind,
        "name": ops::name_of(owner),
        "uid": ops::uid_of(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn controlled_by(object: &Value, owner: &Value) -> bool {
    super::controller_ref(object).as_deref() == Some(ops::uid_of(owner))
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)?
        .get(key)
        .and_then(Value::as_str)
}

fn labels_of(object: &Value, pointer: &str) -> Map<String, Value> {
    object
        .pointer(pointer)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Writes `status` when it changed.
fn put_status(ctl: &mut Ctl<'_, '_>, plural: &str, object: &Value, status: Value) {
    if object.get("status") == Some(&status) {
        return;
    }
    let mut new = object.clone();
    new["status"] = status;
    ctl.update_status(GROUP, plural, object, new);
}

/// Creates `desired`, or updates the object of its name when `spec` or labels differ; `None` when an
/// object of that name exists that `owner` does not control.
fn ensure_child(
    ctl: &mut Ctl<'_, '_>,
    (group, plural): (&str, &str),
    owner: &Value,
    desired: Value,
) -> Result<Option<Value>, ()> {
    let ns = ops::namespace_of(owner).to_owned();
    let name = ops::name_of(&desired).to_owned();
    match ctl.get(group, plural, &ns, &name) {
        None => Ok(ctl.create(group, plural, &ns, desired).ok()),
        Some(existing) if !controlled_by(&existing, owner) => Err(()),
        Some(existing) => {
            let same_spec = existing.get("spec") == desired.get("spec");
            let same_labels =
                labels_of(&existing, "/metadata/labels") == labels_of(&desired, "/metadata/labels");
            if same_spec && same_labels {
                return Ok(Some(existing));
            }
            let mut new = existing.clone();
            new["spec"] = desired["spec"].clone();
            ops::meta_mut(&mut new).insert(
                "labels".to_owned(),
                Value::Object(labels_of(&desired, "/metadata/labels")),
            );
            Ok(ctl.update(group, plural, &existing, new).or(Some(existing)))
        }
    }
}

/// One pass over every Knative object: Services' children, Configurations, Revisions, Routes, then
/// Services' status from what their children report.
pub fn sync(ctl: &mut Ctl<'_, '_>) {
    let services = ctl.list_all(GROUP, "services");
    for svc in services.iter().filter(|s| !deleting(s)) {
        service_children(ctl, svc);
    }
    for cfg in ctl.list_all(GROUP, "configurations") {
        if !deleting(&cfg) {
            configuration(ctl, &cfg);
        }
    }
    for rev in ctl.list_all(GROUP, "revisions") {
        if !deleting(&rev) {
            revision(ctl, &rev);
        }
    }
    for route in ctl.list_all(GROUP, "routes") {
        if !deleting(&route) {
            self::route(ctl, &route);
        }
    }
    for svc in ctl.list_all(GROUP, "services") {
        if !deleting(&svc) {
            service_status(ctl, &svc);
        }
    }
}

fn child_labels(svc: &Value) -> Value {
    let mut labels = labels_of(svc, "/metadata/labels");
    labels.insert(SERVICE_LABEL.to_owned(), json!(ops::name_of(svc)));
    Value::Object(labels)
}

fn service_children(ctl: &mut Ctl<'_, '_>, svc: &Value) {
    let name = ops::name_of(svc);
    let ns = ops::namespace_of(svc);
    let meta = json!({"name": name, "namespace": ns, "labels": child_labels(svc),
        "ownerReferences": [owner_ref(svc, "Service")]});
    let template = svc
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let configuration = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Configuration",
        "metadata": meta.clone(), "spec": {"template": template}});
    let _ = ensure_child(ctl, (GROUP, "configurations"), svc, configuration);
    // Knative's Route of a Service: targets floating to the latest name the Configuration.
    let traffic: Vec<Value> = svc
        .pointer("/spec/traffic")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut t| {
            if t.get("revisionName").is_none() {
                t["configurationName"] = json!(name);
            }
            t
        })
        .collect();
    let route = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Route",
        "metadata": meta, "spec": {"traffic": traffic}});
    let _ = ensure_child(ctl, (GROUP, "routes"), svc, route);
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn configuration(ctl: &mut Ctl<'_, '_>, cfg: &Value) {
    let name = ops::name_of(cfg);
    let ns = ops::namespace_of(cfg);
    let generation = generation(cfg);
    let template = cfg
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let revision_name = template
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{name}-{generation:05}"), str::to_owned);
    let mut labels = labels_of(&template, "/metadata/labels");
    labels.insert(CONFIGURATION_LABEL.to_owned(), json!(name));
    labels.insert(
        CONFIGURATION_GENERATION_LABEL.to_owned(),
        json!(generation.to_string()),
    );
    if let Some(service) = label(cfg, SERVICE_LABEL) {
        labels.insert(SERVICE_LABEL.to_owned(), json!(service));
    }
    let old_status = cfg.get("status").cloned().unwrap_or_else(|| json!({}));
    let created = match ctl.get(GROUP, "revisions", ns, &revision_name) {
        Some(r) if controlled_by(&r, cfg) => Some(r),
        Some(_) => None,
        None => {
            let mut metadata = json!({"name": revision_name, "namespace": ns,
                "labels": labels, "ownerReferences": [owner_ref(cfg, "Configuration")]});
            if let Some(a) = template.pointer("/metadata/annotations") {
                metadata["annotations"] = a.clone();
            }
            let revision = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Revision",
                "metadata": metadata,
                "spec": template.get("spec").cloned().unwrap_or_else(|| json!({}))});
            ctl.create(GROUP, "revisions", ns, revision).ok()
        }
    };
    let mut status = json!({"observedGeneration": generation});
    let previous_ready = old_status
        .get("latestReadyRevisionName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ready = match &created {
        None => Cond::falsity(
            "RevisionNameTaken",
            format!("The revision name {revision_name:?} is taken by a conflicting Revision"),
        ),
        Some(r) => {
            status["latestCreatedRevisionName"] = json!(revision_name);
            match cond_of(r, "Ready") {
                Some(c) if c.status == "True" => {
                    status["latestReadyRevisionName"] = json!(revision_name);
                    Cond::truth()
                }
                Some(c) if c.status == "False" => Cond::falsity(
                    "RevisionFailed",
                    format!(
                        "Revision {revision_name:?} failed with message: {}.",
                        c.message
                    ),
                ),
                _ => Cond::unknown("", ""),
            }
        }
    };
    if status.get("latestReadyRevisionName").is_none()
        && let Some(p) = previous_ready
    {
        status["latestReadyRevisionName"] = json!(p);
    }
    status["conditions"] = conditions(&old_status, &[("Ready", &ready)]);
    put_status(ctl, "configurations", cfg, status);
}

/// `30s`, `10m`, `1m30s`, `1h` (what Knative's progress-deadline annotation takes) in whole seconds.
fn seconds_of(text: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    digits.is_empty().then_some(total).filter(|t| *t > 0)
}

/// The user port of a pod spec's (first) container: its first `containerPort`, else 8080.
pub fn user_port(spec: &Value) -> i64 {
    spec.pointer("/containers/0/ports/0/containerPort")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_PORT)
}

fn revision_deployment(rev: &Value) -> Value {
    let name = ops::name_of(rev);
    let ns = ops::namespace_of(rev);
    let uid = ops::uid_of(rev);
    let annotations = labels_of(rev, "/metadata/annotations");
    let mut labels = labels_of(rev, "/metadata/labels");
    labels.insert(REVISION_LABEL.to_owned(), json!(name));
    labels.insert(REVISION_UID_LABEL.to_owned(), json!(uid));
    let mut pod_labels = labels.clone();
    pod_labels.insert("app".to_owned(), json!(name));
    let spec = rev.get("spec").cloned().unwrap_or_else(|| json!({}));
    let port = user_port(&spec);
    let service = label(rev, SERVICE_LABEL).unwrap_or("");
    let configuration = label(rev, CONFIGURATION_LABEL).unwrap_or("");
    let mut pod_spec = Map::new();
    for key in [
        "containers",
        "volumes",
        "serviceAccountName",
        "imagePullSecrets",
        "enableServiceLinks",
        "nodeSelector",
        "tolerations",
        "affinity",
        "securityContext",
        "runtimeClassName",
        "priorityClassName",
    ] {
        if let Some(v) = spec.get(key) {
            pod_spec.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(containers) = pod_spec.get_mut("containers").and_then(Value::as_array_mut) {
        for (i, c) in containers.iter_mut().enumerate() {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            let env = c.entry("env").or_insert_with(|| json!([]));
            if let Some(env) = env.as_array_mut() {
                for (k, v) in [
                    ("K_REVISION", name),
                    ("K_CONFIGURATION", configuration),
                    ("K_SERVICE", service),
                ] {
                    env.push(json!({"name": k, "value": v}));
                }
            }
            if i == 0 {
                c.insert(
                    "ports".to_owned(),
                    json!([{"name": "user-port", "containerPort": port, "protocol": "TCP"}]),
                );
                // Knative probes the user port when a probe names none.
                for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                    for handler in ["httpGet", "tcpSocket"] {
                        if let Some(h) = c
                            .get_mut(probe)
                            .and_then(|p| p.get_mut(handler))
                            .and_then(Value::as_object_mut)
                            && h.get("port").is_none_or(|p| p.as_i64() == Some(0))
                        {
                            h.insert("port".to_owned(), json!(port));
                        }
                    }
                }
            }
        }
    }
    let replicas = annotations
        .get(MIN_SCALE)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(1, |n| n.max(1));
    let deadline = annotations
        .get(PROGRESS_DEADLINE)
        .and_then(Value::as_str)
        .and_then(seconds_of)
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": format!("{name}-deployment"), "namespace": ns, "labels": labels,
            "ownerReferences": [owner_ref(rev, "Revision")]},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": {REVISION_UID_LABEL: uid}},
            "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": annotations},
                "spec": pod_spec,
            },
        },
    })
}

/// Why the revision's pods are failing, from the first pod that says so: a waiting reason other than
/// `ContainerCreating` (`ResourcesAvailable`), or a terminated container (`ContainerHealthy`).
fn pod_failure(ctl: &Ctl<'_, '_>, rev: &Value) -> Option<(&'static str, Cond)> {
    let name = ops::name_of(rev);
    let pods = ctl.list("", "pods", ops::namespace_of(rev));
    for pod in pods
        .iter()
        .filter(|p| label(p, REVISION_LABEL) == Some(name))
    {
        let statuses = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for s in &statuses {
            if let Some(t) = s
                .pointer("/lastState/terminated")
                .or_else(|| s.pointer("/state/terminated"))
            {
                let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                let message = t.get("message").and_then(Value::as_str).unwrap_or("");
                return Some((
                    "ContainerHealthy",
                    Cond::falsity(
                        &format!("ExitCode{code}"),
                        format!("Container failed with: {message}"),
                    ),
                ));
            }
            if let Some(w) = s.pointer("/state/waiting") {
                let reason = w.get("reason").and_then(Value::as_str).unwrap_or("");
                if !reason.is_empty() && reason != "ContainerCreating" {
                    let message = w.get("message").and_then(Value::as_str).unwrap_or("");
                    return Some(("ResourcesAvailable", Cond::falsity(reason, message)));
                }
            }
        }
    }
    None
}

fn revision(ctl: &mut Ctl<'_, '_>, rev: &Value) {
    let desired = revision_deployment(rev);
    let deployment = ensure_child(ctl, ("apps", "deployments"), rev, desired)
        .ok()
        .flatten();
    let old = rev.get("status").cloned().unwrap_or_else(|| json!({}));
    let was_ready = is_ready(rev);
    let ready_replicas = deployment
        .as_ref()
        .and_then(|d| d.pointer("/status/readyReplicas"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let desired_replicas = deployment
        .as_ref()
        .and_then(|d| d.pointer("/spec/replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let deadline_exceeded = deployment.as_ref().is_some_and(|d| {
        cond_of(d, "Progressing")
            .is_some_and(|c| c.status == "False" && c.reason == "ProgressDeadlineExceeded")
    });
    let mut resources = Cond::unknown("Deploying", "");
    let mut healthy = Cond::unknown("Deploying", "");
    if ready_replicas >= 1 || was_ready {
        resources = Cond::truth();
        healthy = Cond::truth();
    } else if deadline_exceeded {
        resources = Cond::falsity(
            "ProgressDeadlineExceeded",
            "Initial scale was never achieved",
        );
    } else if let Some((which, c)) = pod_failure(ctl, rev) {
        if which == "ContainerHealthy" {
            healthy = c;
        } else {
            resources = c;
        }
    }
    let ready = aggregate(&[&resources, &healthy]);
    let containers: Vec<Value> = rev
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| json!({"name": c.get("name").cloned().unwrap_or(Value::Null)}))
                .collect()
        })
        .unwrap_or_default();
    let status = json!({
        "observedGeneration": generation(rev),
        "actualReplicas": ready_replicas,
        "desiredReplicas": desired_replicas,
        "containerStatuses": containers,
        "conditions": conditions(&old, &[
            ("ContainerHealthy", &healthy),
            ("Ready", &ready),
            ("ResourcesAvailable", &resources),
        ]),
    });
    put_status(ctl, "revisions", rev, status);
}

fn host(name: &str, ns: &str) -> String {
    format!("{name}.{ns}.svc.cluster.local")
}

/// Resolves one spec traffic target to its revision, or says why it cannot be.
fn resolve_target(ctl: &Ctl<'_, '_>, ns: &str, target: &Value) -> Result<String, Cond> {
    if let Some(revision) = target.get("revisionName").and_then(Value::as_str) {
        return match ctl.get(GROUP, "revisions", ns, revision) {
            None => Err(Cond::falsity(
                "RevisionMissing",
                format!("Revision {revision:?} referenced in traffic not found."),
            )),
            Some(r) => match cond_of(&r, "Ready").map(|c| c.status) {
                Some("True") => Ok(revision.to_owned()),
                Some("False") => Err(Cond::falsity(
                    "RevisionMissing",
                    format!("Revision {revision:?} failed to become ready."),
                )),
                _ => Err(Cond::unknown(
                    "RevisionMissing",
                    format!("Revision {revision:?} is not yet ready."),
                )),
            },
        };
    }
    let configuration = target
        .get("configurationName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(cfg) = ctl.get(GROUP, "configurations", ns, configuration) else {
        return Err(Cond::falsity(
            "ConfigurationMissing",
            format!("Configuration {configuration:?} referenced in traffic not found."),
        ));
    };
    match cfg
        .pointer("/status/latestReadyRevisionName")
        .and_then(Value::as_str)
    {
        Some(r) => Ok(r.to_owned()),
        None if cond_of(&cfg, "Ready").is_some_and(|c| c.status == "False") => Err(Cond::falsity(
            "RevisionMissing",
            format!("Configuration {configuration:?} does not have any ready Revision."),
        )),
        None => Err(Cond::unknown(
            "RevisionMissing",
            format!("Configuration {configuration:?} is waiting for a Revision to become ready."),
        )),
    }
}

/// The NodePort Service standing in for the ingress of a Knative Service's Route.
fn placeholder(ctl: &mut Ctl<'_, '_>, route: &Value, service: &str) -> Cond {
    let ns = ops::namespace_of(route);
    let name = ops::name_of(route);
    let port = ctl
        .get(GROUP, "services", ns, service)
        .and_then(|s| s.pointer("/spec/template/spec").map(user_port))
        .unwrap_or(DEFAULT_PORT);
    let mut labels = labels_of(route, "/metadata/labels");
    labels.insert(ROUTE_LABEL.to_owned(), json!(name));
    let desired = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
            "ownerReferences": [owner_ref(route, "Route")]},
        "spec": {
            "type": "NodePort",
            "selector": {SERVICE_LABEL: service},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": port}],
        },
    });
    match ctl.get("", "services", ns, name) {
        None => {
            let _ = ctl.create("", "services", ns, desired);
            Cond::truth()
        }
        Some(existing) if !controlled_by(&existing, route) => Cond::falsity(
            "NotOwned",
            format!("There is an existing placeholder Service {name:?} that we do not own."),
        ),
        Some(existing) => {
            let same = existing.pointer("/spec/selector") == desired.pointer("/spec/selector")
                && existing.pointer("/spec/ports/0/targetPort")
                    == desired.pointer("/spec/ports/0/targetPort");
            if !same {
                let mut new = existing.clone();
                new["spec"]["selector"] = desired["spec"]["selector"].clone();
                new["spec"]["ports"][0]["targetPort"] = json!(port);
                ctl.update("", "services", &existing, new);
            }
            Cond::truth()
        }
    }
}

fn route(ctl: &mut Ctl<'_, '_>, route: &Value) {
    let ns = ops::namespace_of(route).to_owned();
    let name = ops::name_of(route).to_owned();
    let old = route.get("status").cloned().unwrap_or_else(|| json!({}));
    let targets = route
        .pointer("/spec/traffic")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut resolved = Vec::new();
    let mut assigned = Cond::truth();
    for t in &targets {
        match resolve_target(ctl, &ns, t) {
            Ok(revision) => {
                let mut entry = json!({"revisionName": revision,
                    "latestRevision": t.get("revisionName").is_none(),
                    "percent": t.get("percent").and_then(Value::as_i64).unwrap_or(0)});
                if let Some(tag) = t.get("tag").and_then(Value::as_str) {
                    entry["tag"] = json!(tag);
                    entry["url"] = json!(format!("http://{}", host(&format!("{tag}-{name}"), &ns)));
                }
                resolved.push(entry);
            }
            Err(c) => {
                // The first failure decides, as Knative's traffic builder stops at the first.
                if assigned.status == "True" {
                    assigned = c;
                }
            }
        }
    }
    let ingress = match label(route, SERVICE_LABEL) {
        Some(service) => {
            let service = service.to_owned();
            placeholder(ctl, route, &service)
        }
        None => Cond::truth(),
    };
    let certificate = Cond::true_with("TLSNotEnabled", "external-domain-tls is not enabled");
    let ready = aggregate(&[&assigned, &certificate, &ingress]);
    let url = format!("http://{}", host(&name, &ns));
    let mut status = json!({
        "observedGeneration": generation(route),
        "url": url,
        "address": {"url": url},
        "conditions": conditions(&old, &[
            ("AllTrafficAssigned", &assigned),
            ("CertificateProvisioned", &certificate),
            ("IngressReady", &ingress),
            ("Ready", &ready),
        ]),
    });
    if assigned.status == "True" {
        status["traffic"] = Value::Array(resolved);
    } else if let Some(t) = old.get("traffic") {
        status["traffic"] = t.clone();
    }
    put_status(ctl, "routes", route, status);
}

fn service_status(ctl: &mut Ctl<'_, '_>, svc: &Value) {
    let ns = ops::namespace_of(svc);
    let name = ops::name_of(svc);
    let old = svc.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut status = json!({"observedGeneration": generation(svc)});
    let cfg = ctl.get(GROUP, "configurations", ns, name);
    let configs_ready = match &cfg {
        None => Cond::unknown(
            "OutOfDate",
            "The Configuration is still working to reflect the latest desired specification.",
        ),
        Some(c) if !controlled_by(c, svc) => Cond::falsity(
            "NotOwned",
            format!("There is an existing Configuration {name:?} that we do not own."),
        ),
        Some(c) => {
            for key in ["latestCreatedRevisionName", "latestReadyRevisionName"] {
                if let Some(v) = c.pointer(&format!("/status/{key}")) {
                    status[key] = v.clone();
                }
            }
            let observed = c
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64);
            if observed != Some(generation(c))
                || c.get("spec")
                    != Some(
                        &json!({"template": svc.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}))}),
                    )
            {
                Cond::unknown(
                    "OutOfDate",
                    "The Configuration is still working to reflect the latest desired specification.",
                )
            } else {
                cond_of(c, "Ready").unwrap_or_else(|| Cond::unknown("", ""))
            }
        }
    };
    let rt = ctl.get(GROUP, "routes", ns, name);
    let latest_ready = status
        .get("latestReadyRevisionName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let routes_ready = match &rt {
        None => Cond::unknown(
            "OutOfDate",
            "The Route is still working to reflect the latest desired specification.",
        ),
        Some(r) if !controlled_by(r, svc) => Cond::falsity(
            "NotOwned",
            format!("There is an existing Route {name:?} that we do not own."),
        ),
        Some(r) => {
            for key in ["traffic", "url", "address"] {
                if let Some(v) = r.pointer(&format!("/status/{key}")) {
                    status[key] = v.clone();
                }
            }
            let observed = r
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64);
            let not_migrated = status
                .get("traffic")
                .and_then(Value::as_array)
                .is_some_and(|ts| {
                    ts.iter().any(|t| {
                        t.get("latestRevision").and_then(Value::as_bool) == Some(true)
                            && t.get("revisionName").and_then(Value::as_str)
                                != latest_ready.as_deref()
                    })
                });
            if observed == Some(generation(r)) {
                match cond_of(r, "Ready") {
                    Some(c) if c.status == "True" && not_migrated => Cond::unknown(
                        "TrafficNotMigrated",
                        "Traffic is not yet migrated to the latest revision.",
                    ),
                    Some(c) => c,
                    None => Cond::unknown("", ""),
                }
            } else {
                Cond::unknown(
                    "OutOfDate",
                    "The Route is still working to reflect the latest desired specification.",
                )
            }
        }
    };
    let ready = aggregate(&[&configs_ready, &routes_ready]);
    status["conditions"] = conditions(
        &old,
        &[
            ("ConfigurationsReady", &configs_ready),
            ("Ready", &ready),
            ("RoutesReady", &routes_ready),
        ],
    );
    put_status(ctl, "services", svc, status);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_type() -> ResourceType {
        resource_types().remove(0)
    }

    #[test]
    fn defaults_fill_the_container_name_and_all_traffic_to_the_latest() {
        let mut svc = json!({"metadata": {"name": "hello"},
            "spec": {"template": {"spec": {"containers": [{"image": "img"}]}}}});
        admit(&service_type(), &mut svc).expect("valid");
        assert_eq!(
            svc["spec"]["template"]["spec"]["containers"][0]["name"],
            "user-container"
        );
        assert_eq!(
            svc["spec"]["traffic"],
            json!([{"latestRevision": true, "percent": 100}])
        );
    }

    #[test]
    fn traffic_not_summing_to_100_is_refused_as_the_webhook_says() {
        let mut svc = json!({"metadata": {"name": "hello"},
            "spec": {"template": {"spec": {"containers": [{"image": "img"}]}},
                "traffic": [{"revisionName": "hello-00001", "percent": 70},
                    {"latestRevision": true, "percent": 20}]}});
        let err = admit(&service_type(), &mut svc).expect_err("invalid");
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "admission webhook \"validation.webhook.serving.knative.dev\" denied the request: \
             validation failed: Traffic targets sum to 90, want 100: spec.traffic"
        );
    }

    #[test]
    fn pinned_and_floating_targets_must_agree_and_tags_be_labels() {
        let mut svc = json!({"metadata": {"name": "hello"},
            "spec": {"template": {"spec": {"containers": [{"image": "img"}]}},
                "traffic": [{"revisionName": "hello-00001", "latestRevision": true, "percent": 50, "tag": "Bad"},
                    {"latestRevision": true, "percent": 50, "configurationName": "x"}]}});
        let err = admit(&service_type(), &mut svc).expect_err("invalid");
        assert!(err.message.contains("may not set revisionName \"hello-00001\" when latestRevision is true: spec.traffic[0].latestRevision"), "{}", err.message);
        assert!(
            err.message.contains("not a DNS 1035 label"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("must not set the field(s): spec.traffic[1].configurationName"),
            "{}",
            err.message
        );
    }

    #[test]
    fn progress_deadlines_read_go_durations() {
        assert_eq!(seconds_of("30s"), Some(30));
        assert_eq!(seconds_of("1m30s"), Some(90));
        assert_eq!(seconds_of("2h"), Some(7200));
        assert_eq!(seconds_of("30"), None);
        assert_eq!(seconds_of("x"), None);
    }
}
