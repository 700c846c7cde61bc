//! The objects that split traffic between the stable and the new version: the Services `NAME-stable` and
//! `NAME-canary`, and the router's object (an Istio `VirtualService`, with a `DestinationRule`'s subsets
//! when the strategy names one, or a Gateway API `HTTPRoute`). Pure: objects in, objects out.
//!
//! The stable Service selects the Deployment's pods pinned to the stable `pod-template-hash` while a new
//! version runs beside it (the new version's pods carry the same labels plus `slipway.dev/role: canary`,
//! so only a pin can leave them out); during promotion the pin is dropped, so that the user's Deployment
//! can roll to the new version without its Service losing endpoints.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::cluster::{DESTINATION_RULE, HTTP_ROUTE, Kind, SERVICE, VIRTUAL_SERVICE};
use crate::replicas::Weight;
use crate::spec::TrafficRouting;
use crate::state::{MANAGED_BY, MANAGED_BY_VALUE, POD_TEMPLATE_HASH, ROLE_CANARY, ROLE_LABEL};
use crate::strategy::Change;

/// The names of the objects of a rollout of workload `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Names {
    /// The user's Deployment (the stable version) and the active Service.
    pub stable: String,
    /// The new version's Deployment, `NAME-canary`.
    pub canary: String,
    /// The stable Service of a routed canary, `NAME-stable` (or the strategy's `stableService`).
    pub stable_service: String,
    /// The canary Service of a routed canary, `NAME-canary` (or the strategy's `canaryService`).
    pub canary_service: String,
    /// The blue-green preview Service, `NAME-preview` (or the strategy's `previewService`).
    pub preview_service: String,
}

impl Names {
    /// The default names for workload `name`.
    #[must_use]
    pub fn new(name: &str) -> Names {
        Names {
            stable: name.to_owned(),
            canary: format!("{name}-canary"),
            stable_service: format!("{name}-stable"),
            canary_service: format!("{name}-canary"),
            preview_service: format!("{name}-preview"),
        }
    }
}

/// `metadata` of an object slipway owns: its name and the managed-by label.
#[must_use]
pub fn owned_metadata(name: &str) -> Value {
    json!({"name": name, "labels": {MANAGED_BY: MANAGED_BY_VALUE}})
}

/// A selector: `base` plus the pin (`pod-template-hash`) or the canary role.
#[must_use]
pub fn selector(base: &Map<String, Value>, pin: Pin<'_>) -> Value {
    let mut labels = base.clone();
    match pin {
        Pin::None => {}
        Pin::Stable(hash) => {
            labels.insert(POD_TEMPLATE_HASH.to_owned(), json!(hash));
        }
        Pin::Canary => {
            labels.insert(ROLE_LABEL.to_owned(), json!(ROLE_CANARY));
        }
    }
    Value::Object(labels)
}

/// Which pods a Service or subset selects beyond the Deployment's own labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin<'a> {
    /// All of them (stable and new).
    None,
    /// The stable pods with this `pod-template-hash`.
    Stable(&'a str),
    /// The new version's pods.
    Canary,
}

/// A `ClusterIP` Service `name` over `ports` selecting `selector`, owned by slipway.
#[must_use]
pub fn service(name: &str, selector: &Value, ports: &Value) -> Value {
    json!({"apiVersion": SERVICE.api_version, "kind": SERVICE.kind, "metadata": owned_metadata(name),
        "spec": {"selector": selector, "ports": ports}})
}

/// The router's objects for `weight` percent to the new version. `stable_pin` selects the stable pods
/// of a `DestinationRule`'s `stable` subset; `port` is the Services' first port (for HTTPRoute
/// backendRefs). Empty without a router.
#[must_use]
pub fn router_objects(
    routing: &TrafficRouting,
    names: &Names,
    base: &Map<String, Value>,
    stable_pin: Pin<'_>,
    weight: Weight,
    port: Option<i64>,
) -> Vec<Value> {
    let canary = i64::from(weight.get());
    let stable = 100 - canary;
    match routing {
        TrafficRouting::None => Vec::new(),
        TrafficRouting::Istio {
            virtual_service,
            destination_rule,
        } => {
            let vs_name = virtual_service.as_deref().unwrap_or(&names.stable);
            let (stable_dest, canary_dest) = match destination_rule {
                Some(_) => (
                    json!({"host": names.stable, "subset": "stable"}),
                    json!({"host": names.stable, "subset": "canary"}),
                ),
                None => (
                    json!({"host": names.stable_service}),
                    json!({"host": names.canary_service}),
                ),
            };
            let mut out = vec![json!({
                "apiVersion": VIRTUAL_SERVICE.api_version, "kind": VIRTUAL_SERVICE.kind,
                "metadata": owned_metadata(vs_name),
                "spec": {"hosts": [names.stable], "http": [{"name": "primary", "route": [
                    {"destination": stable_dest, "weight": stable},
                    {"destination": canary_dest, "weight": canary}]}]}})];
            if let Some(dr) = destination_rule {
                out.push(json!({
                    "apiVersion": DESTINATION_RULE.api_version, "kind": DESTINATION_RULE.kind,
                    "metadata": owned_metadata(dr),
                    "spec": {"host": names.stable, "subsets": [
                        {"name": "stable", "labels": selector(base, stable_pin)},
                        {"name": "canary", "labels": selector(base, Pin::Canary)}]}}));
            }
            out
        }
        TrafficRouting::GatewayApi { http_route } => {
            let route_name = http_route.as_deref().unwrap_or(&names.stable);
            let backend = |service: &str, weight: i64| {
                let mut b = json!({"name": service, "weight": weight});
                if let Some(port) = port {
                    b["port"] = json!(port);
                }
                b
            };
            vec![json!({
                "apiVersion": HTTP_ROUTE.api_version, "kind": HTTP_ROUTE.kind,
                "metadata": owned_metadata(route_name),
                "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": names.stable}],
                    "rules": [{"backendRefs": [backend(&names.stable_service, stable),
                        backend(&names.canary_service, canary)]}]}})]
        }
    }
}

/// What a router needs to know to split traffic.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Route<'a> {
    /// The objects' names.
    pub names: &'a Names,
    /// The Deployment's `matchLabels`.
    pub base: &'a Map<String, Value>,
    /// Which stable pods the stable destination selects.
    pub stable_pin: Pin<'a>,
    /// The share of traffic for the new version.
    pub weight: Weight,
    /// The Services' first port.
    pub port: Option<i64>,
    /// The routing objects that exist now, by `Kind/name` (see [`route_key`]).
    pub live: &'a BTreeMap<String, Value>,
}

/// Why a router cannot split the traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A routing object the user owns has no route to the stable and canary destinations.
    #[error("{kind} {name} has no route to {stable} and {canary}")]
    NoRoute {
        /// Its kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The stable destination slipway looks for.
        stable: String,
        /// The canary destination.
        canary: String,
    },
}

/// Sets the traffic split between the stable and the new version: the changes that make the routing
/// objects send `route.weight` percent to the new version.
///
/// Implemented by [`TrafficRouting`] (Istio, Gateway API; nothing without a router). Objects slipway
/// created are applied whole; a routing object the user owns (without the managed-by label, e.g. the
/// VirtualService an Argo Rollouts user names) keeps everything but the weights of the routes to the
/// stable and canary destinations.
pub trait TrafficRouter {
    /// The changes for `route`.
    fn route(&self, route: &Route<'_>) -> Result<Vec<Change>, RouteError>;
}

impl<T: TrafficRouter + ?Sized> TrafficRouter for &T {
    fn route(&self, route: &Route<'_>) -> Result<Vec<Change>, RouteError> {
        (**self).route(route)
    }
}

impl<T: TrafficRouter + ?Sized> TrafficRouter for Box<T> {
    fn route(&self, route: &Route<'_>) -> Result<Vec<Change>, RouteError> {
        (**self).route(route)
    }
}

/// The key of a routing object in [`Route::live`]: `Kind/name`.
#[must_use]
pub fn route_key(kind: &Kind, name: &str) -> String {
    format!("{}/{name}", kind.kind)
}

fn managed(object: &Value) -> bool {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(MANAGED_BY))
        .and_then(Value::as_str)
        == Some(MANAGED_BY_VALUE)
}

/// Whether an Istio destination host names Service `service` (`NAME`, `NAME.NS`, `NAME.NS.svc…`).
fn host_is(host: &str, service: &str) -> bool {
    host == service
        || host
            .strip_prefix(service)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The user's object with the weights of the routes to our destinations set; `None` when no route
/// reaches them.
fn reweighted(live: &Value, names: &Names, weight: Weight) -> Option<Value> {
    let canary = i64::from(weight.get());
    let stable = 100 - canary;
    let mut edited = 0;
    if let Some(http) = live.pointer("/spec/http").and_then(Value::as_array) {
        let mut http = http.clone();
        for rule in &mut http {
            for dest in rule
                .get_mut("route")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let host = dest
                    .pointer("/destination/host")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let subset = dest.pointer("/destination/subset").and_then(Value::as_str);
                let w = if subset == Some("stable") || host_is(host, &names.stable_service) {
                    stable
                } else if subset == Some("canary") || host_is(host, &names.canary_service) {
                    canary
                } else {
                    continue;
                };
                dest["weight"] = json!(w);
                edited += 1;
            }
        }
        return (edited > 0).then(|| json!({"spec": {"http": http}}));
    }
    let mut rules = live.pointer("/spec/rules")?.as_array()?.clone();
    for rule in &mut rules {
        for backend in rule
            .get_mut("backendRefs")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let name = backend
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let w = if name == names.stable_service {
                stable
            } else if name == names.canary_service {
                canary
            } else {
                continue;
            };
            backend["weight"] = json!(w);
            edited += 1;
        }
    }
    (edited > 0).then(|| json!({"spec": {"rules": rules}}))
}

impl TrafficRouter for TrafficRouting {
    fn route(&self, route: &Route<'_>) -> Result<Vec<Change>, RouteError> {
        let mut out = Vec::new();
        for object in router_objects(
            self,
            route.names,
            route.base,
            route.stable_pin,
            route.weight,
            route.port,
        ) {
            let Some(kind) = Kind::of(&object) else {
                continue;
            };
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match route.live.get(&route_key(&kind, &name)) {
                Some(live) if !managed(live) => {
                    if kind == DESTINATION_RULE {
                        // The user's subsets keep their names; their labels follow the pods.
                        let mut subsets = live
                            .pointer("/spec/subsets")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        for subset in &mut subsets {
                            let pin = match subset.get("name").and_then(Value::as_str) {
                                Some("stable") => route.stable_pin,
                                Some("canary") => Pin::Canary,
                                _ => continue,
                            };
                            subset["labels"] = selector(route.base, pin);
                        }
                        out.push(Change::Patch {
                            kind,
                            name,
                            patch: json!({"spec": {"subsets": subsets}}),
                        });
                        continue;
                    }
                    let patch = reweighted(live, route.names, route.weight).ok_or_else(|| {
                        RouteError::NoRoute {
                            kind: kind.kind,
                            name: name.clone(),
                            stable: route.names.stable_service.clone(),
                            canary: route.names.canary_service.clone(),
                        }
                    })?;
                    out.push(Change::Patch { kind, name, patch });
                }
                _ => out.push(Change::Apply(object)),
            }
        }
        Ok(out)
    }
}

/// The routing objects a strategy touches, as `(kind, name)`, for reading them back.
#[must_use]
pub fn routing_objects(routing: &TrafficRouting, names: &Names) -> Vec<(Kind, String)> {
    match routing {
        TrafficRouting::None => Vec::new(),
        TrafficRouting::Istio {
            virtual_service,
            destination_rule,
        } => {
            let mut out = vec![(
                VIRTUAL_SERVICE,
                virtual_service
                    .clone()
                    .unwrap_or_else(|| names.stable.clone()),
            )];
            if let Some(dr) = destination_rule {
                out.push((DESTINATION_RULE, dr.clone()));
            }
            out
        }
        TrafficRouting::GatewayApi { http_route } => vec![(
            HTTP_ROUTE,
            http_route.clone().unwrap_or_else(|| names.stable.clone()),
        )],
    }
}

/// The weight (percent to the new version) a router object sets, read back from the cluster: the
/// canary destination's share of the first rule.
#[must_use]
pub fn observed_weight(object: &Value, names: &Names) -> Option<u32> {
    let routes = object
        .pointer("/spec/http/0/route")
        .or_else(|| object.pointer("/spec/rules/0/backendRefs"))?
        .as_array()?;
    let is_canary = |r: &Value| {
        r.pointer("/destination/subset").and_then(Value::as_str) == Some("canary")
            || r.pointer("/destination/host").and_then(Value::as_str)
                == Some(names.canary_service.as_str())
            || r.get("name").and_then(Value::as_str) == Some(names.canary_service.as_str())
    };
    let total: i64 = routes
        .iter()
        .map(|r| r.get("weight").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    let canary: i64 = routes
        .iter()
        .filter(|r| is_canary(r))
        .map(|r| r.get("weight").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    if total <= 0 {
        return None;
    }
    u32::try_from(canary * 100 / total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Map<String, Value> {
        json!({"app": "web"}).as_object().cloned().unwrap()
    }

    #[test]
    fn weights_sum_to_100_for_every_router() {
        let names = Names::new("web");
        for routing in [
            TrafficRouting::Istio {
                virtual_service: None,
                destination_rule: None,
            },
            TrafficRouting::Istio {
                virtual_service: Some("vs".into()),
                destination_rule: Some("dr".into()),
            },
            TrafficRouting::GatewayApi { http_route: None },
        ] {
            for w in 0u32..=100 {
                let objects = router_objects(
                    &routing,
                    &names,
                    &base(),
                    Pin::Stable("h1"),
                    Weight::new(i64::from(w)).unwrap(),
                    Some(80),
                );
                let route = &objects[0];
                assert_eq!(observed_weight(route, &names), Some(w), "{route}");
            }
        }
    }

    #[test]
    fn a_users_virtual_service_keeps_all_but_the_weights() {
        let names = Names::new("web");
        let live = json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "web-vs", "labels": {"team": "a"}},
            "spec": {"hosts": ["web.example.com"], "gateways": ["public"],
                "http": [
                    {"name": "api", "match": [{"uri": {"prefix": "/api"}}], "retries": {"attempts": 3},
                     "route": [{"destination": {"host": "web-stable.prod.svc.cluster.local"}, "weight": 100},
                               {"destination": {"host": "web-canary"}, "weight": 0}]},
                    {"name": "static", "route": [{"destination": {"host": "cdn"}}]}]}});
        let mut routes = BTreeMap::new();
        routes.insert(route_key(&VIRTUAL_SERVICE, "web-vs"), live.clone());
        let routing = TrafficRouting::Istio {
            virtual_service: Some("web-vs".into()),
            destination_rule: None,
        };
        let route = Route {
            names: &names,
            base: &base(),
            stable_pin: Pin::Stable("h"),
            weight: Weight::new(30).unwrap(),
            port: None,
            live: &routes,
        };
        let changes = routing.route(&route).expect("routes");
        let [Change::Patch { kind, name, patch }] = changes.as_slice() else {
            panic!("one patch: {changes:?}");
        };
        assert_eq!((*kind, name.as_str()), (VIRTUAL_SERVICE, "web-vs"));
        let mut after = live.clone();
        crate::cluster::merge_patch(&mut after, patch);
        let mut expected = live;
        expected["spec"]["http"][0]["route"][0]["weight"] = json!(70);
        expected["spec"]["http"][0]["route"][1]["weight"] = json!(30);
        assert_eq!(after, expected, "only the two weights change");

        let mut elsewhere = routes.clone();
        elsewhere.insert(
            route_key(&VIRTUAL_SERVICE, "web-vs"),
            json!({"kind": "VirtualService", "metadata": {"name": "web-vs"},
                "spec": {"http": [{"route": [{"destination": {"host": "other"}}]}]}}),
        );
        let err = routing
            .route(&Route {
                live: &elsewhere,
                ..route
            })
            .expect_err("no route to ours");
        assert_eq!(
            err.to_string(),
            "VirtualService web-vs has no route to web-stable and web-canary"
        );
    }

    #[test]
    fn destination_rule_subsets_pin_the_stable_hash() {
        let names = Names::new("web");
        let objects = router_objects(
            &TrafficRouting::Istio {
                virtual_service: None,
                destination_rule: Some("web-dr".into()),
            },
            &names,
            &base(),
            Pin::Stable("abc"),
            Weight::new(20).unwrap(),
            None,
        );
        assert_eq!(objects[1]["metadata"]["name"], "web-dr");
        assert_eq!(
            objects[1]["spec"]["subsets"][0]["labels"],
            json!({"app": "web", "pod-template-hash": "abc"})
        );
        assert_eq!(
            objects[1]["spec"]["subsets"][1]["labels"],
            json!({"app": "web", "slipway.dev/role": "canary"})
        );
        assert_eq!(objects[0]["metadata"]["labels"][MANAGED_BY], "slipway");
    }
}
