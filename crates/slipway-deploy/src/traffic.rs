//! The objects that split traffic between the stable and the new version: the Services `NAME-stable` and
//! `NAME-canary`, and the router's object (an Istio `VirtualService`, with a `DestinationRule`'s subsets
//! when the strategy names one, or a Gateway API `HTTPRoute`). Pure: objects in, objects out.
//!
//! The stable Service selects the Deployment's pods pinned to the stable `pod-template-hash` while a new
//! version runs beside it (the new version's pods carry the same labels plus `slipway.dev/role: canary`,
//! so only a pin can leave them out); during promotion the pin is dropped, so that the user's Deployment
//! can roll to the new version without its Service losing endpoints.

use serde_json::{Map, Value, json};

use crate::cluster::{DESTINATION_RULE, HTTP_ROUTE, Kind, SERVICE, VIRTUAL_SERVICE};
use crate::replicas::Weight;
use crate::spec::TrafficRouting;
use crate::state::{MANAGED_BY, MANAGED_BY_VALUE, POD_TEMPLATE_HASH, ROLE_CANARY, ROLE_LABEL};

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

/// The router kinds a strategy uses (for reading them back).
#[must_use]
pub fn router_kind(routing: &TrafficRouting) -> Option<Kind> {
    match routing {
        TrafficRouting::Istio { .. } => Some(VIRTUAL_SERVICE),
        TrafficRouting::GatewayApi { .. } => Some(HTTP_ROUTE),
        _ => None,
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
