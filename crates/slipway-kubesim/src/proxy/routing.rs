//! Where a request to a NodePort Service may go: its destinations (with weights) and each destination's
//! ready pods, read from the store. Pure: no I/O, no clock.

use serde_json::Value;

use crate::store::{Key, State};

/// A pod a destination may send a request to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's first container's image.
    pub image: String,
}

/// One weighted destination of a Service's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// What the routing object names (`NAME-canary`, `NAME-canary/subset`, a revision), for messages.
    pub name: String,
    /// The relative weight (0 gets nothing).
    pub weight: u64,
    /// Its ready pods, by name.
    pub pods: Vec<Backend>,
}

/// Which object set the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    VirtualService,
    HttpRoute,
    KnativeService,
    Endpoints,
}

fn key(group: &str, plural: &str, namespace: &str, name: &str) -> Key {
    Key {
        group: group.to_owned(),
        plural: plural.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The names of a Service's ready pods: from its Endpoints, else from its EndpointSlices.
fn ready_pod_names(state: &State, namespace: &str, service: &str) -> Vec<String> {
    let target = |a: &Value| {
        (str_at(a, "/targetRef/kind") == Some("Pod"))
            .then(|| str_at(a, "/targetRef/name").map(str::to_owned))
            .flatten()
    };
    if let Some(ep) = state.get(&key("", "endpoints", namespace, service)) {
        return array_at(ep, "/subsets")
            .iter()
            .flat_map(|s| array_at(s, "/addresses"))
            .filter_map(target)
            .collect();
    }
    state
        .list("discovery.k8s.io", "endpointslices", Some(namespace))
        .filter(|(_, s)| str_at(s, "/metadata/labels/kubernetes.io~1service-name") == Some(service))
        .flat_map(|(_, s)| array_at(s, "/endpoints"))
        .filter(|e| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false))
        .filter_map(target)
        .collect()
}

/// A Service's ready pods whose labels include `labels` (all of them when `labels` is empty).
fn ready_backends(
    state: &State,
    namespace: &str,
    service: &str,
    labels: &serde_json::Map<String, Value>,
) -> Vec<Backend> {
    ready_pod_names(state, namespace, service)
        .into_iter()
        .filter_map(|name| {
            let pod = state.get(&key("", "pods", namespace, &name))?;
            let has_labels = labels
                .iter()
                .all(|(k, v)| pod.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v));
            has_labels.then(|| Backend {
                namespace: namespace.to_owned(),
                image: str_at(pod, "/spec/containers/0/image")
                    .unwrap_or_default()
                    .to_owned(),
                pod: name,
            })
        })
        .collect()
}

/// The (namespace, Service) an Istio host names: `NAME`, `NAME.NS`, `NAME.NS.svc`,
/// `NAME.NS.svc.cluster.local`; `None` for a host outside the cluster.
fn service_of_host<'a>(host: &'a str, namespace: &'a str) -> Option<(&'a str, &'a str)> {
    let host = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    match host.split('.').collect::<Vec<_>>().as_slice() {
        [name] => Some((namespace, name)),
        [name, ns] => Some((ns, name)),
        _ => None,
    }
}

/// The first rule that matches every request (no match conditions), else the first rule.
fn catch_all<'a>(rules: &'a [Value], matches_field: &str) -> Option<&'a Value> {
    rules
        .iter()
        .find(|r| {
            r.get(matches_field)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        })
        .or_else(|| rules.first())
}

fn weight_of(v: Option<&Value>, default: u64) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(default)
}

fn virtual_service(state: &State, namespace: &str, service: &str) -> Option<Vec<Destination>> {
    let (_, vs) = state
        .list("networking.istio.io", "virtualservices", Some(namespace))
        .find(|(_, vs)| {
            array_at(vs, "/spec/hosts")
                .iter()
                .filter_map(Value::as_str)
                .any(|h| service_of_host(h, namespace) == Some((namespace, service)))
        })?;
    let rule = catch_all(array_at(vs, "/spec/http"), "match")?;
    let routes = array_at(rule, "/route");
    // Istio: a lone destination takes all traffic; among several, a missing weight is 0.
    let default_weight = if routes.len() == 1 { 100 } else { 0 };
    Some(
        routes
            .iter()
            .map(|r| {
                let host = str_at(r, "/destination/host").unwrap_or_default();
                let subset = str_at(r, "/destination/subset");
                let pods = service_of_host(host, namespace)
                    .and_then(|(ns, name)| {
                        let labels = match subset {
                            None => serde_json::Map::new(),
                            Some(subset) => subset_labels(state, namespace, ns, name, subset)?,
                        };
                        Some(ready_backends(state, ns, name, &labels))
                    })
                    .unwrap_or_default();
                Destination {
                    name: subset.map_or_else(|| host.to_owned(), |s| format!("{host}/{s}")),
                    weight: weight_of(r.get("weight"), default_weight),
                    pods,
                }
            })
            .collect(),
    )
}

/// The labels of a `DestinationRule` subset for the Service `ns/name` (rules looked up in the Service's
/// namespace and the VirtualService's).
fn subset_labels(
    state: &State,
    vs_namespace: &str,
    ns: &str,
    name: &str,
    subset: &str,
) -> Option<serde_json::Map<String, Value>> {
    let mut namespaces = vec![ns];
    if vs_namespace != ns {
        namespaces.push(vs_namespace);
    }
    namespaces.into_iter().find_map(|rule_ns| {
        state
            .list("networking.istio.io", "destinationrules", Some(rule_ns))
            .filter(|(_, dr)| {
                str_at(dr, "/spec/host").and_then(|h| service_of_host(h, rule_ns))
                    == Some((ns, name))
            })
            .find_map(|(_, dr)| {
                array_at(dr, "/spec/subsets")
                    .iter()
                    .find(|s| str_at(s, "/name") == Some(subset))
                    .map(|s| {
                        s.get("labels")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default()
                    })
            })
    })
}

fn http_route(state: &State, namespace: &str, service: &str) -> Option<Vec<Destination>> {
    let names_service = |route: &Value| {
        array_at(route, "/spec/parentRefs").iter().any(|p| {
            str_at(p, "/kind") == Some("Service")
                && matches!(str_at(p, "/group"), None | Some("" | "core"))
                && str_at(p, "/name") == Some(service)
                && str_at(p, "/namespace").is_none_or(|ns| ns == namespace)
        })
    };
    let mut routes = state.list("gateway.networking.k8s.io", "httproutes", Some(namespace));
    let route = routes
        .find(|(_, r)| names_service(r))
        .map(|(_, r)| r)
        .or_else(|| {
            state.get(&key(
                "gateway.networking.k8s.io",
                "httproutes",
                namespace,
                service,
            ))
        })?;
    let rule = catch_all(array_at(route, "/spec/rules"), "matches")?;
    Some(
        array_at(rule, "/backendRefs")
            .iter()
            .map(|b| {
                let name = str_at(b, "/name").unwrap_or_default();
                let ns = str_at(b, "/namespace").unwrap_or(namespace);
                let is_service = matches!(str_at(b, "/kind"), None | Some("Service"))
                    && matches!(str_at(b, "/group"), None | Some("" | "core"));
                Destination {
                    name: name.to_owned(),
                    // Gateway API: weight defaults to 1.
                    weight: weight_of(b.get("weight"), 1),
                    pods: if is_service {
                        ready_backends(state, ns, name, &serde_json::Map::new())
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect(),
    )
}

const REVISION_LABEL: &str = "serving.knative.dev/revision";

fn knative_service(state: &State, namespace: &str, service: &str) -> Option<Vec<Destination>> {
    let ksvc = state.get(&key("serving.knative.dev", "services", namespace, service))?;
    let latest = str_at(ksvc, "/status/latestReadyRevisionName");
    let traffic = Some(array_at(ksvc, "/status/traffic"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| array_at(ksvc, "/spec/traffic"));
    let targets: Vec<(String, u64)> = if traffic.is_empty() {
        vec![(latest?.to_owned(), 100)]
    } else {
        let default_percent = if traffic.len() == 1 { 100 } else { 0 };
        traffic
            .iter()
            .filter_map(|t| {
                let revision = match str_at(t, "/revisionName") {
                    Some(r) => r,
                    None if t.get("latestRevision").and_then(Value::as_bool) != Some(false) => {
                        latest?
                    }
                    None => return None,
                };
                Some((
                    revision.to_owned(),
                    weight_of(t.get("percent"), default_percent),
                ))
            })
            .collect()
    };
    Some(
        targets
            .into_iter()
            .map(|(revision, weight)| {
                let labels = serde_json::Map::from_iter([(
                    REVISION_LABEL.to_owned(),
                    Value::String(revision.clone()),
                )]);
                Destination {
                    pods: ready_backends(state, namespace, service, &labels),
                    name: revision,
                    weight,
                }
            })
            .collect(),
    )
}

/// The destinations of Service `namespace/service` and which object decided them: a VirtualService
/// whose hosts name the Service, else an HTTPRoute whose parentRefs name it (or that has its name), else
/// a Knative Service of its name, else the Service's own ready endpoints.
pub(crate) fn destinations(
    state: &State,
    namespace: &str,
    service: &str,
) -> (Source, Vec<Destination>) {
    if let Some(d) = virtual_service(state, namespace, service) {
        return (Source::VirtualService, d);
    }
    if let Some(d) = http_route(state, namespace, service) {
        return (Source::HttpRoute, d);
    }
    if let Some(d) = knative_service(state, namespace, service) {
        return (Source::KnativeService, d);
    }
    let pods = ready_backends(state, namespace, service, &serde_json::Map::new());
    (
        Source::Endpoints,
        vec![Destination {
            name: service.to_owned(),
            weight: 1,
            pods,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    fn put(store: &Store, group: &str, plural: &str, object: Value) {
        let name = str_at(&object, "/metadata/name")
            .unwrap_or_default()
            .to_owned();
        store
            .lock()
            .put(key(group, plural, "default", &name), object);
    }

    fn pod(store: &Store, name: &str, labels: &Value) {
        put(
            store,
            "",
            "pods",
            json!({"metadata": {"name": name, "labels": labels.clone()},
                "spec": {"containers": [{"name": "c", "image": format!("img/{name}")}]}}),
        );
    }

    fn endpoints(store: &Store, service: &str, pods: &[&str]) {
        let addresses: Vec<Value> = pods
            .iter()
            .map(|p| json!({"ip": "10.244.0.1", "targetRef": {"kind": "Pod", "name": p}}))
            .collect();
        put(
            store,
            "",
            "endpoints",
            json!({"metadata": {"name": service}, "subsets": [{"addresses": addresses,
                "notReadyAddresses": [{"ip": "10.244.0.9", "targetRef": {"kind": "Pod", "name": "unready"}}]}]}),
        );
    }

    fn summary(store: &Store, service: &str) -> (Source, Vec<(String, u64, Vec<String>)>) {
        let state = store.lock();
        let (source, d) = destinations(&state, "default", service);
        (
            source,
            d.into_iter()
                .map(|d| {
                    (
                        d.name,
                        d.weight,
                        d.pods.into_iter().map(|b| b.pod).collect(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn plain_endpoints_are_ready_pods_only() {
        let store = Store::new(100);
        pod(&store, "web-1", &json!({"app": "web"}));
        pod(&store, "unready", &json!({"app": "web"}));
        endpoints(&store, "web", &["web-1"]);
        assert_eq!(
            summary(&store, "web"),
            (
                Source::Endpoints,
                vec![("web".into(), 1, vec!["web-1".into()])]
            )
        );
        let state = store.lock();
        let (_, d) = destinations(&state, "default", "web");
        assert_eq!(d[0].pods[0].image, "img/web-1");
    }

    #[test]
    fn virtual_service_hosts_and_subsets() {
        let store = Store::new(100);
        pod(&store, "web-a", &json!({"app": "web", "version": "a"}));
        pod(&store, "web-b", &json!({"app": "web", "version": "b"}));
        endpoints(&store, "web-stable", &["web-a"]);
        endpoints(&store, "web-all", &["web-a", "web-b"]);
        put(
            &store,
            "networking.istio.io",
            "virtualservices",
            json!({"metadata": {"name": "web"}, "spec": {"hosts": ["web.default.svc.cluster.local"],
            "http": [
                {"match": [{"headers": {"x-canary": {"exact": "1"}}}], "route": [{"destination": {"host": "web-all"}}]},
                {"route": [
                    {"destination": {"host": "web-stable"}, "weight": 80},
                    {"destination": {"host": "web-all.default.svc", "subset": "b"}, "weight": 20},
                    {"destination": {"host": "web-all", "subset": "missing"}},
                ]}]}}),
        );
        put(
            &store,
            "networking.istio.io",
            "destinationrules",
            json!({"metadata": {"name": "web-all"}, "spec": {"host": "web-all",
                "subsets": [{"name": "b", "labels": {"version": "b"}}]}}),
        );
        assert_eq!(
            summary(&store, "web"),
            (
                Source::VirtualService,
                vec![
                    ("web-stable".into(), 80, vec!["web-a".into()]),
                    ("web-all.default.svc/b".into(), 20, vec!["web-b".into()]),
                    ("web-all/missing".into(), 0, vec![]),
                ]
            )
        );
    }

    #[test]
    fn http_route_by_parent_ref_and_knative_revisions() {
        let store = Store::new(100);
        pod(&store, "web-a", &json!({"app": "web"}));
        pod(&store, "web-b", &json!({"app": "web"}));
        endpoints(&store, "web-stable", &["web-a"]);
        endpoints(&store, "web-canary", &["web-b"]);
        put(
            &store,
            "gateway.networking.k8s.io",
            "httproutes",
            json!({"metadata": {"name": "other-name"}, "spec": {
                "parentRefs": [{"group": "", "kind": "Service", "name": "web"}],
                "rules": [{"backendRefs": [{"name": "web-stable", "port": 80, "weight": 4},
                    {"name": "web-canary", "port": 80}]}]}}),
        );
        assert_eq!(
            summary(&store, "web"),
            (
                Source::HttpRoute,
                vec![
                    ("web-stable".into(), 4, vec!["web-a".into()]),
                    ("web-canary".into(), 1, vec!["web-b".into()]),
                ]
            )
        );
        pod(&store, "fn-1", &json!({REVISION_LABEL: "fn-00001"}));
        pod(&store, "fn-2", &json!({REVISION_LABEL: "fn-00002"}));
        endpoints(&store, "fn", &["fn-1", "fn-2"]);
        put(
            &store,
            "serving.knative.dev",
            "services",
            json!({"metadata": {"name": "fn"},
                "spec": {"traffic": [{"revisionName": "fn-00001", "percent": 50}, {"latestRevision": true, "percent": 50}]},
                "status": {"latestReadyRevisionName": "fn-00002",
                    "traffic": [{"revisionName": "fn-00001", "percent": 90}, {"revisionName": "fn-00002", "percent": 10}]}}),
        );
        assert_eq!(
            summary(&store, "fn"),
            (
                Source::KnativeService,
                vec![
                    ("fn-00001".into(), 90, vec!["fn-1".into()]),
                    ("fn-00002".into(), 10, vec!["fn-2".into()]),
                ]
            )
        );
    }
}
