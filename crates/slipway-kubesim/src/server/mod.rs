//! The HTTP side: routing of the apiserver's paths, content negotiation (JSON, Tables, aggregated
//! discovery), the verbs, and watches as chunked streams of JSON events.

pub mod discovery;
pub mod table;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ops::{self, Ctx, DeleteOptions, Sub};
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{EventType, Key, Store};

/// Response bodies: whole documents or watch streams.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest request body accepted (the apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Pod logs by (namespace, pod, container), written by the runtime.
pub type Logs = std::sync::Mutex<HashMap<(String, String, String), Vec<u8>>>;

/// What the handlers share.
pub struct App {
    /// The objects.
    pub store: Arc<Store>,
    /// `HOST:PORT` the server listens on.
    pub addr: String,
    /// Container output.
    pub logs: Arc<Logs>,
    /// The Prometheus API's answers.
    pub metrics: Arc<crate::metrics::Metrics>,
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn json_response(code: StatusCode, value: &Value, content_type: &str) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}

fn ok_json(value: &Value) -> Response<Body> {
    json_response(StatusCode::OK, value, "application/json")
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.to_status(),
        "application/json",
    )
}

fn text_response(code: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters (last value wins).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(k), percent_decode(v));
        }
        Query(map)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// What a request addresses.
struct Target {
    t: Arc<ResourceType>,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn wants_aggregated(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=APIGroupDiscoveryList"))
}

/// Serves one request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let resp = match route(&app, req).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    Ok(resp)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = Limited::new(req.into_body(), MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(MAX_BODY))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Refuses request bodies in encodings kubesim does not read (protobuf, CBOR) with 415, the answer on
/// which client-go falls back to JSON.
fn check_body_type(content_type: &str, body: &[u8]) -> Result<(), ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let readable = media.is_empty()
        || media.ends_with("json")
        || media.ends_with("yaml")
        || media == PROTOBUF
        || media == "*/*";
    if readable || body.is_empty() {
        return Ok(());
    }
    Err(ApiError::unsupported_media_type(format!(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {media})"
    )))
}

/// The protobuf media type kubectl's typed clients send.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The object in a request body: JSON, or Kubernetes protobuf (decoded to the same JSON).
fn decode_object(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == PROTOBUF {
        return crate::protobuf::decode(body).map_err(|e| ApiError::bad_request(e.to_string()));
    }
    parse_object(body)
}

fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml: {e}"
        ))
    })
}

/// The field manager of a request: `fieldManager`, else the user agent's program name (as the apiserver
/// derives it).
fn manager(query: &Query, req_agent: Option<&str>) -> String {
    if let Some(m) = query.get("fieldManager") {
        return m.to_owned();
    }
    let agent = req_agent.unwrap_or("unknown");
    let name = agent.split('/').next().unwrap_or(agent);
    name.chars().take(128).collect()
}

// One match over the apiserver's paths reads better whole than split across helpers.
#[allow(clippy::too_many_lines)]
async fn route(app: &Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let query = Query::parse(req.uri().query());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match segs.as_slice() {
        ["version"] => return Ok(ok_json(&discovery::version())),
        ["healthz" | "livez" | "readyz", ..] => return Ok(text_response(StatusCode::OK, "ok")),
        [
            "api",
            "v1",
            "query" | "query_range" | "series" | "labels" | "status",
            ..,
        ] => {
            let body = if method == Method::POST {
                read_body(req).await?
            } else {
                Bytes::new()
            };
            return Ok(app
                .metrics
                .serve(&segs[2..], &req_query_and_form(&query, &body)));
        }
        ["api"] => {
            if wants_aggregated(&accept) {
                let reg = app.store.lock().registry.clone();
                return Ok(json_response(
                    StatusCode::OK,
                    &discovery::aggregated(&reg, true),
                    discovery::AGGREGATED,
                ));
            }
            return Ok(ok_json(&discovery::api_versions(&app.addr)));
        }
        ["apis"] => {
            let reg = app.store.lock().registry.clone();
            if wants_aggregated(&accept) {
                return Ok(json_response(
                    StatusCode::OK,
                    &discovery::aggregated(&reg, false),
                    discovery::AGGREGATED,
                ));
            }
            return Ok(ok_json(&discovery::api_group_list(&reg)));
        }
        ["api", "v1"] => {
            let reg = app.store.lock().registry.clone();
            return discovery::resource_list(&reg, "", "v1")
                .map(|v| ok_json(&v))
                .ok_or_else(ApiError::no_route);
        }
        ["apis", group] => {
            let reg = app.store.lock().registry.clone();
            return discovery::api_group(&reg, group)
                .map(|v| ok_json(&v))
                .ok_or_else(ApiError::no_route);
        }
        ["apis", group, version] => {
            let reg = app.store.lock().registry.clone();
            return discovery::resource_list(&reg, group, version)
                .map(|v| ok_json(&v))
                .ok_or_else(ApiError::no_route);
        }
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] if method == Method::POST => {
            // No authorization here: every client may do everything, and says so when asked
            // (`kubectl auth can-i`). The review's spec is not needed to answer.
            let review = json!({
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {},
                "status": {"allowed": true, "reason": "kubesim authorizes every request"},
            });
            return Ok(json_response(
                StatusCode::CREATED,
                &review,
                "application/json",
            ));
        }
        ["openapi", "v3"] => {
            let custom = custom_openapi_paths(&app.store.lock().registry);
            return Ok(ok_json(&openapi_index(custom)));
        }
        ["openapi", "v3", rest @ ..] => {
            let doc_path = rest.join("/");
            if let Some(doc) = custom_openapi(&app.store.lock().registry, &doc_path) {
                return Ok(ok_json(&doc));
            }
            return crate::schema::openapi_document(&doc_path)
                .map(|document| {
                    let mut response = Response::new(full(Bytes::from_static(document)));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                })
                .ok_or_else(ApiError::no_route);
        }
        _ => {}
    }
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (group, version, rest),
        _ => return Err(ApiError::no_route()),
    };
    let target = resolve(app, group, version, rest)?;
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let dry_run = query.get("dryRun") == Some("All");
    let ctx = Ctx {
        dry_run,
        manager: manager(&query, agent.as_deref()),
        applied: false,
    };
    let table = wants_table(&accept);
    let t = target.t.clone();
    let ns = target.namespace.clone().unwrap_or_default();
    let sub = match target.sub.as_deref() {
        None => Sub::Main,
        Some("status") if t.status_subresource => Sub::Status,
        Some("scale") if t.scale.is_some() => Sub::Scale,
        Some("log") if t.group.is_empty() && t.kind == "Pod" => {
            let name = target.name.clone().unwrap_or_default();
            return pod_log(app, &t, &ns, &name, &query);
        }
        Some(_) => return Err(ApiError::no_route()),
    };
    match (method, target.name.clone()) {
        (Method::GET, None) if query.flag("watch") => watch(app, &target, &query, table),
        (Method::GET, None) => list(app, &target, &query, table),
        (Method::GET, Some(name)) => {
            let obj = get(app, &t, &ns, &name)?;
            let obj = if sub == Sub::Scale {
                ops::scale_of(&t, &obj)
            } else {
                obj
            };
            if table && sub == Sub::Main {
                let rv = ops::meta_str(&obj, "resourceVersion")
                    .unwrap_or_default()
                    .to_owned();
                return Ok(ok_json(&table::table(
                    &t,
                    std::slice::from_ref(&obj),
                    &rv,
                    true,
                    None,
                )));
            }
            Ok(ok_json(&served_as(&obj, &t, &target.version)))
        }
        (Method::POST, None) => {
            let body = read_body(req).await?;
            check_body_type(&content_type, &body)?;
            let mut object = decode_object(&content_type, &body)?;
            check_kind(&t, &target.version, &object)?;
            let warnings = field_validation(&t, &target.version, &query, &mut object)?;
            let made = ops::create(&app.store, &t, &target.version, &ns, object, &ctx)?;
            let mut response = json_response(
                StatusCode::CREATED,
                &served_as(&made, &t, &target.version),
                "application/json",
            );
            add_warnings(&mut response, &warnings);
            Ok(response)
        }
        (Method::PUT, Some(name)) => {
            let body = read_body(req).await?;
            check_body_type(&content_type, &body)?;
            let mut object = decode_object(&content_type, &body)?;
            let mut warnings = Vec::new();
            if sub != Sub::Scale {
                check_kind(&t, &target.version, &object)?;
                warnings = field_validation(&t, &target.version, &query, &mut object)?;
            }
            let written = ops::update(
                &app.store,
                &t,
                &target.version,
                &ns,
                &name,
                object,
                sub,
                &ctx,
            )?;
            let out = if sub == Sub::Scale {
                ops::scale_of(&t, &written)
            } else {
                written
            };
            let mut response = ok_json(&served_as(&out, &t, &target.version));
            add_warnings(&mut response, &warnings);
            Ok(response)
        }
        (Method::PATCH, Some(name)) => {
            let body = read_body(req).await?;
            let (written, created) =
                patch(app, &target, &name, sub, &content_type, &body, &query, &ctx)?;
            let out = if sub == Sub::Scale {
                ops::scale_of(&t, &written)
            } else {
                written
            };
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(
                code,
                &served_as(&out, &t, &target.version),
                "application/json",
            ))
        }
        (Method::DELETE, Some(name)) => {
            let body = read_body(req).await?;
            check_body_type(&content_type, &body)?;
            let options = delete_options(&content_type, &query, &body)?;
            let gone = ops::delete(&app.store, &t, &ns, &name, &options)?;
            Ok(ok_json(&served_as(&gone, &t, &target.version)))
        }
        (Method::DELETE, None) => {
            let body = read_body(req).await?;
            let options = delete_options(&content_type, &query, &body)?;
            delete_collection(app, &target, &query, &options)
        }
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

fn req_query_and_form(query: &Query, body: &[u8]) -> HashMap<String, String> {
    let mut all = query.0.clone();
    let form = Query::parse(std::str::from_utf8(body).ok());
    all.extend(form.0);
    all
}

fn openapi_index(custom: Vec<(String, String)>) -> Value {
    let mut paths = serde_json::Map::new();
    let builtin = crate::schema::openapi_paths().map(|(p, h)| (p.to_owned(), h.to_owned()));
    for (path, hash) in builtin.chain(custom) {
        let url = format!("/openapi/v3/{path}?hash={hash}");
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// The group-versions of custom kinds (CRDs and the Knative kinds) without an embedded document, each
/// with its document's hash.
fn custom_openapi_paths(registry: &crate::resource::Registry) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in registry.all().filter(|t| t.custom) {
        for v in &t.versions {
            let path = format!("apis/{}/{v}", t.group);
            if out.iter().any(|(p, _)| *p == path) {
                continue;
            }
            if let Some(doc) = custom_openapi(registry, &path) {
                use std::hash::{Hash as _, Hasher as _};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                doc.to_string().hash(&mut h);
                out.push((path, format!("{:016x}", h.finish())));
            }
        }
    }
    out
}

/// An OpenAPI v3 document for the custom kinds of `apis/GROUP/VERSION`, as the apiserver publishes one
/// per CRD group-version; the schemas keep unknown fields (kubesim validates custom kinds itself), which
/// is what `kubectl apply`'s client-side validation needs to find the kind.
fn custom_openapi(registry: &crate::resource::Registry, path: &str) -> Option<Value> {
    let rest = path.strip_prefix("apis/")?;
    let (group, version) = rest.split_once('/')?;
    let mut schemas = serde_json::Map::new();
    let mut paths = serde_json::Map::new();
    for t in registry
        .in_group_version(group, version)
        .filter(|t| t.custom)
    {
        // kubectl looks for the PATCH operation's `fieldValidation` parameter to know the server
        // validates fields itself.
        let query = |name: &str| json!({"in": "query", "name": name, "schema": {"type": "string"}});
        let operation = json!({"patch": {
            "operationId": format!("patch{}", t.kind),
            "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": t.group, "version": version, "kind": t.kind},
        }});
        let item = if t.namespaced {
            format!(
                "/apis/{group}/{version}/namespaces/{{namespace}}/{}/{{name}}",
                t.plural
            )
        } else {
            format!("/apis/{group}/{version}/{}/{{name}}", t.plural)
        };
        paths.insert(item, operation);
        let reversed: Vec<&str> = t.group.split('.').rev().collect();
        let gvk = json!([{"group": t.group, "version": version, "kind": t.kind}]);
        for (name, kind) in [
            (t.kind.clone(), gvk.clone()),
            (
                format!("{}List", t.kind),
                json!([{"group": t.group, "version": version, "kind": format!("{}List", t.kind)}]),
            ),
        ] {
            schemas.insert(
                format!("{}.{version}.{name}", reversed.join(".")),
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "x-kubernetes-group-version-kind": kind}),
            );
        }
    }
    if schemas.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `fieldValidation`: unknown fields of a built-in kind are an error (`Strict`, what kubectl sends),
/// warnings (`Warn`, the default) or nothing (`Ignore`), as the apiserver's strict decoding reports them.
fn field_validation(
    t: &ResourceType,
    version: &str,
    query: &Query,
    object: &mut Value,
) -> Result<Vec<String>, ApiError> {
    let mode = query.get("fieldValidation").unwrap_or("Warn");
    if t.custom {
        return Ok(Vec::new());
    }
    let Some(schema) = crate::schema::Schema::for_kind(&t.group, version, &t.kind) else {
        return Ok(Vec::new());
    };
    let unknown = crate::schema::unknown_fields(schema, object);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    if mode == "Ignore" {
        // Decoding into the kind's type drops what it does not know.
        prune(object, &unknown);
        return Ok(Vec::new());
    }
    match mode {
        "Strict" => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {}",
            crate::schema::strict_decoding_message(&unknown),
            kind = t.kind
        ))),
        "Warn" => {
            prune(object, &unknown);
            Ok(unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect())
        }
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Removes the fields at `paths` (`spec.template.spec.containers[0].foo`), as decoding into the kind's
/// type drops them.
fn prune(object: &mut Value, paths: &[String]) {
    for path in paths {
        let mut pointer = String::new();
        let mut last = "";
        for (i, part) in path.split('.').enumerate() {
            if i > 0 {
                pointer.push('/');
                pointer.push_str(&last.replace('~', "~0").replace('/', "~1"));
            }
            let (name, indices) = part.split_once('[').unwrap_or((part, ""));
            last = name;
            for idx in indices.split('[').filter(|s| !s.is_empty()) {
                pointer.push('/');
                pointer.push_str(&last.replace('~', "~0").replace('/', "~1"));
                last = idx.trim_end_matches(']');
            }
        }
        if let Some(map) = object.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            map.remove(last);
        }
    }
}

/// `Warning: 299 - "..."` headers, which kubectl prints as `Warning: ...`.
fn add_warnings(resp: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {w:?}");
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
}

fn check_kind(t: &ResourceType, version: &str, object: &Value) -> Result<(), ApiError> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let want = crate::resource::api_version(&t.group, version);
    if (!kind.is_empty() && kind != t.kind) || (!api_version.is_empty() && api_version != want) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({want})"
        )));
    }
    Ok(())
}

/// The object with `apiVersion` of the version it was asked for (custom kinds serve every version as
/// stored, without conversion).
fn served_as(object: &Value, t: &ResourceType, version: &str) -> Value {
    let mut out = object.clone();
    if out.get("kind").and_then(Value::as_str) == Some(t.kind.as_str())
        && let Some(o) = out.as_object_mut()
    {
        o.insert(
            "apiVersion".to_owned(),
            json!(crate::resource::api_version(&t.group, version)),
        );
    }
    out
}

fn resolve(app: &App, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let state = app.store.lock();
    let reg = &state.registry;
    let target = |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        reg.get(group, version, plural).map(|t| Target {
            t,
            version: version.to_owned(),
            namespace: ns.map(str::to_owned),
            name: name.map(str::to_owned),
            sub: sub.map(str::to_owned),
        })
    };
    let found = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if reg
                .get(group, version, plural)
                .is_some_and(|t| t.namespaced)
                && tail.len() <= 2 =>
        {
            target(
                plural,
                Some(ns),
                tail.first().copied(),
                tail.get(1).copied(),
            )
        }
        [plural] => target(plural, None, None, None),
        [plural, name] => target(plural, None, Some(name), None).filter(|t| !t.t.namespaced),
        [plural, name, sub] => {
            target(plural, None, Some(name), Some(sub)).filter(|t| !t.t.namespaced)
        }
        _ => None,
    };
    found.ok_or_else(ApiError::no_route)
}

fn get(app: &App, t: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
    app.store
        .lock()
        .get(&Key::new(t, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, name))
}

struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn new(t: &ResourceType, query: &Query) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(
            query.get("fieldSelector").unwrap_or_default(),
            &t.group,
            &t.plural,
            t.custom,
        )
        .map_err(ApiError::bad_request)?;
        Ok(Filter { labels, fields })
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches(object)
    }
}

fn encode_continue(rv: u64, after: &Key) -> String {
    use base64::Engine as _;
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}", after.namespace, after.name)});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    use base64::Engine as _;
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((rv, ns.to_owned(), name.to_owned()))
}

fn strip_type_for_list(t: &ResourceType, object: &Value) -> Value {
    if t.custom {
        return object.clone();
    }
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

fn list(
    app: &App,
    target: &Target,
    query: &Query,
    table: bool,
) -> Result<Response<Body>, ApiError> {
    let t = &target.t;
    let filter = Filter::new(t, query)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let state = app.store.lock();
    let (rv, start) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, ns, name) = decode_continue(token)?;
            (Some(rv), Some((ns, name)))
        }
        None => (None, None),
    };
    let mut items = Vec::new();
    let mut next = None;
    let ns = target.namespace.as_deref().filter(|_| t.namespaced);
    for (key, object) in state.list(&t.group, &t.plural, ns) {
        if let Some((sns, sname)) = &start
            && (key.namespace.as_str(), key.name.as_str()) <= (sns.as_str(), sname.as_str())
        {
            continue;
        }
        if !filter.matches(object) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            next = Some(encode_continue(
                rv.unwrap_or(state.rv()),
                &Key {
                    group: String::new(),
                    plural: String::new(),
                    namespace: ops::namespace_of(items.last().unwrap_or(object)).to_owned(),
                    name: ops::name_of(items.last().unwrap_or(object)).to_owned(),
                },
            ));
            break;
        }
        items.push(object.clone());
    }
    let list_rv = rv.unwrap_or(state.rv()).to_string();
    drop(state);
    if table {
        return Ok(ok_json(&table::table(
            t,
            &items,
            &list_rv,
            true,
            next.as_deref(),
        )));
    }
    let mut metadata = json!({"resourceVersion": list_rv});
    if let Some(token) = next {
        metadata["continue"] = json!(token);
    }
    let items: Vec<Value> = items
        .iter()
        .map(|o| strip_type_for_list(t, &served_as(o, t, &target.version)))
        .collect();
    Ok(ok_json(&json!({
        "kind": format!("{}List", t.kind),
        "apiVersion": crate::resource::api_version(&t.group, &target.version),
        "metadata": metadata,
        "items": items,
    })))
}

fn delete_options(
    content_type: &str,
    query: &Query,
    body: &[u8],
) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        propagation: query.get("propagationPolicy").map(str::to_owned),
        grace_seconds: query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()),
        uid: None,
        resource_version: None,
        dry_run: query.get("dryRun") == Some("All"),
    };
    if body.iter().any(|b| !b.is_ascii_whitespace()) {
        let v: Value = decode_object(content_type, body)?;
        if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
            options.propagation = Some(p.to_owned());
        }
        if let Some(true) = v.get("orphanDependents").and_then(Value::as_bool) {
            options.propagation = Some("Orphan".to_owned());
        }
        if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
            options.grace_seconds = Some(g);
        }
        if let Some(uid) = v.pointer("/preconditions/uid").and_then(Value::as_str) {
            options.uid = Some(uid.to_owned());
        }
        if let Some(rv) = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            options.resource_version = Some(rv.to_owned());
        }
        if v.get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|d| d == "All"))
        {
            options.dry_run = true;
        }
    }
    Ok(options)
}

fn delete_collection(
    app: &App,
    target: &Target,
    query: &Query,
    options: &DeleteOptions,
) -> Result<Response<Body>, ApiError> {
    let t = &target.t;
    let filter = Filter::new(t, query)?;
    let mut state = app.store.lock();
    let ns = target.namespace.as_deref().filter(|_| t.namespaced);
    let doomed: Vec<(Key, Value)> = state
        .list(&t.group, &t.plural, ns)
        .filter(|(_, o)| filter.matches(o))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect();
    let mut items = Vec::new();
    for (key, object) in doomed {
        items.push(strip_type_for_list(
            t,
            &ops::delete_locked(&mut state, t, &key, &object, options)?,
        ));
    }
    let rv = state.rv().to_string();
    Ok(ok_json(&json!({
        "kind": format!("{}List", t.kind),
        "apiVersion": crate::resource::api_version(&t.group, &target.version),
        "metadata": {"resourceVersion": rv},
        "items": items,
    })))
}

#[allow(clippy::too_many_arguments)]
fn patch(
    app: &App,
    target: &Target,
    name: &str,
    sub: Sub,
    content_type: &str,
    body: &[u8],
    query: &Query,
    ctx: &Ctx,
) -> Result<(Value, bool), ApiError> {
    let t = &target.t;
    let ns = target.namespace.clone().unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let mut state = app.store.lock();
    let key = Key::new(t, &ns, name);
    let current = state.get(&key).cloned();
    if media == "application/apply-patch+yaml" || media == "application/apply-patch+cbor" {
        drop(state);
        return crate::apply_patch::server_side_apply(
            &app.store,
            t,
            &target.version,
            &ns,
            name,
            body,
            sub,
            query.flag("force"),
            query.get("fieldManager").is_some(),
            ctx,
        );
    }
    let Some(current) = current else {
        return Err(ApiError::not_found(t, name));
    };
    let doc = if sub == Sub::Scale {
        ops::scale_of(t, &current)
    } else {
        current.clone()
    };
    let patch_value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let patched = match media {
        "application/json-patch+json" => crate::patch::json_patch(&doc, &patch_value),
        "application/merge-patch+json" => crate::patch::merge_patch(&doc, &patch_value),
        "application/strategic-merge-patch+json" => {
            if !t.strategic_merge() {
                return Err(ApiError::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            let (group, version, kind) = if sub == Sub::Scale {
                ("autoscaling", "v1", "Scale")
            } else {
                (t.group.as_str(), target.version.as_str(), t.kind.as_str())
            };
            match crate::schema::Schema::for_kind(group, version, kind) {
                Some(schema) => crate::patch::strategic_merge_patch(&doc, &patch_value, schema),
                None => crate::patch::merge_patch(&doc, &patch_value),
            }
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
            )));
        }
    };
    let mut patched = patched.map_err(|e| patch_error(&e))?;
    // A patch applies to the version it read; drop a resourceVersion it did not set itself.
    let patch_sets_rv = patch_value.pointer("/metadata/resourceVersion").is_some()
        || (media == "application/json-patch+json" && body_mentions_rv(&patch_value));
    if !patch_sets_rv && sub != Sub::Scale {
        ops::meta_mut(&mut patched).remove("resourceVersion");
    }
    let written = ops::write(
        &mut state,
        t,
        &target.version,
        &key,
        &current,
        patched,
        sub,
        ctx,
    )?;
    Ok((written, false))
}

/// A patch failure as the apiserver answers it (status code from the failure's class, its text).
fn patch_error(e: &crate::patch::Error) -> ApiError {
    let message = e.to_string();
    match e.http_status() {
        413 => ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message,
            details: None,
        },
        422 => ApiError {
            code: 422,
            reason: "Invalid",
            message,
            details: None,
        },
        500 => ApiError::internal(message),
        _ => ApiError::bad_request(message),
    }
}

fn body_mentions_rv(patch: &Value) -> bool {
    patch.as_array().is_some_and(|ops| {
        ops.iter().any(|op| {
            op.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion")
                && op.get("op").and_then(Value::as_str) != Some("test")
        })
    })
}

fn pod_log(
    app: &App,
    t: &ResourceType,
    ns: &str,
    name: &str,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let pod = get(app, t, ns, name)?;
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let container = match query.get("container") {
        Some(c) => {
            if !containers.iter().any(|x| x == c) {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.to_owned()
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let key = (ns.to_owned(), name.to_owned(), container.clone());
    let text = app
        .logs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned()
        .unwrap_or_default();
    let text = match query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
            lines[lines.len().saturating_sub(n)..].concat()
        }
        None => text,
    };
    if !query.flag("follow") {
        return Ok(text_response(StatusCode::OK, text));
    }
    // Follow: what is there, then what the container writes, until the pod is gone.
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let logs = app.logs.clone();
    let store = app.store.clone();
    let t = Arc::new(t.clone());
    let mut sent = text.len();
    let _ = tx.try_send(Bytes::from(text));
    let ns_owned = ns.to_owned();
    let name_owned = name.to_owned();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let chunk = {
                let logs = logs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                logs.get(&key)
                    .map(|b| b.get(sent..).unwrap_or_default().to_vec())
            };
            if let Some(chunk) = chunk
                && !chunk.is_empty()
            {
                sent += chunk.len();
                if tx.send(Bytes::from(chunk)).await.is_err() {
                    return;
                }
            }
            let alive = store
                .lock()
                .get(&Key::new(&t, &ns_owned, &name_owned))
                .is_some();
            if !alive || tx.is_closed() {
                return;
            }
        }
    });
    Ok(stream_response(rx, "text/plain; charset=utf-8"))
}

fn stream_response(rx: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response<Body> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}

fn watch_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

// The watch's setup (initial events, resume, 410) and its stream loop share their filter and state.
#[allow(clippy::too_many_lines)]
fn watch(
    app: &Arc<App>,
    target: &Target,
    query: &Query,
    table: bool,
) -> Result<Response<Body>, ApiError> {
    let t = target.t.clone();
    let filter = Filter::new(&t, query)?;
    let ns = target.namespace.clone().filter(|_| t.namespaced);
    let version = target.version.clone();
    let bookmarks = query.flag("allowWatchBookmarks");
    let initial_events = query.flag("sendInitialEvents");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let from = query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty())
        .map(|rv| {
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))
        })
        .transpose()?;
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let render = {
        let t = t.clone();
        let version = version.clone();
        move |object: &Value, first: &mut bool| -> Value {
            if table {
                let rv = ops::meta_str(object, "resourceVersion")
                    .unwrap_or_default()
                    .to_owned();
                let headers = std::mem::replace(first, false);
                table::table(&t, std::slice::from_ref(object), &rv, headers, None)
            } else {
                served_as(object, &t, &version)
            }
        }
    };
    let mut first = true;
    let (scope_t, scope_ns) = (t.clone(), ns.clone());
    let in_scope = move |e_group: &str, e_plural: &str, e_ns: &str| {
        e_group == scope_t.group
            && e_plural == scope_t.plural
            && scope_ns.as_deref().is_none_or(|n| n == e_ns)
    };
    let mut present: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    let mut queued = Vec::new();
    let (mut rx_events, start_rv) = {
        let state = app.store.lock();
        let rx_events = state.subscribe();
        let current = state.rv();
        match from {
            Some(rv) if rv > 0 && !initial_events => match state.since(rv) {
                Ok(events) => {
                    for (key, o) in state.list(&t.group, &t.plural, ns.as_deref()) {
                        if filter.matches(o) {
                            present.insert((key.namespace.clone(), key.name.clone()));
                        }
                    }
                    for e in events
                        .iter()
                        .filter(|e| in_scope(&e.group, &e.plural, &e.namespace))
                    {
                        if filter.matches(&e.object) || e.kind == EventType::Deleted {
                            queued
                                .push(watch_line(e.kind.as_str(), &render(&e.object, &mut first)));
                        }
                    }
                }
                Err(oldest) => {
                    let status =
                        ApiError::gone(format!("too old resource version: {rv} ({oldest})"))
                            .to_status();
                    queued.push(watch_line("ERROR", &status));
                }
            },
            _ => {
                for (key, o) in state.list(&t.group, &t.plural, ns.as_deref()) {
                    if filter.matches(o) {
                        present.insert((key.namespace.clone(), key.name.clone()));
                        queued.push(watch_line("ADDED", &render(o, &mut first)));
                    }
                }
                if initial_events && bookmarks {
                    queued.push(watch_line(
                        "BOOKMARK",
                        &json!({"kind": t.kind, "apiVersion": crate::resource::api_version(&t.group, &version),
                            "metadata": {"resourceVersion": current.to_string(),
                                "annotations": {"k8s.io/initial-events-end": "true"}}}),
                    ));
                }
            }
        }
        (rx_events, current)
    };
    for line in queued {
        let _ = tx.try_send(line);
    }
    let kind = t.kind.clone();
    let api_version = crate::resource::api_version(&t.group, &version);
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_rv = start_rv;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                () = tx.closed() => return,
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": last_rv.to_string()}});
                    if tx.send(watch_line("BOOKMARK", &bm)).await.is_err() { return; }
                }
                event = rx_events.recv() => {
                    // Too slow to keep up: end the watch; clients resume from their last version.
                    let Ok(event) = event else { return };
                    last_rv = event.rv;
                    if !in_scope(&event.group, &event.plural, &event.namespace) {
                        continue;
                    }
                    let id = (event.namespace.clone(), crate::ops::name_of(&event.object).to_owned());
                    let matches = filter.matches(&event.object);
                    let was = present.contains(&id);
                    let kind = match (event.kind, matches, was) {
                        (EventType::Deleted, _, true) | (_, false, true) => { present.remove(&id); "DELETED" }
                        (EventType::Deleted, _, false) | (_, false, false) => continue,
                        (_, true, true) => "MODIFIED",
                        (_, true, false) => { present.insert(id); "ADDED" }
                    };
                    if tx.send(watch_line(kind, &render(&event.object, &mut first))).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let content_type = "application/json";
    Ok(stream_response(rx, content_type))
}
