//! The node's service proxy: every Service of type `NodePort` or `LoadBalancer` is served on
//! `127.0.0.1:<nodePort>` (each TCP port that has one) by an HTTP/1.1 reverse proxy that balances
//! requests across the Service's ready pods that really run (those with an address in
//! [`PodAddrs`]), honouring the weights a routing object sets.
//!
//! Which routing object governs Service `NAME` in namespace `NS` (the first that exists wins):
//! 1. an Istio `VirtualService` in `NS` whose `spec.hosts` names the Service (`NAME`, `NAME.NS`,
//!    `NAME.NS.svc` or `NAME.NS.svc.cluster.local`). Its first `http[]` rule without `match` (else its
//!    first rule) gives the destinations: `route[].destination.host` names a Service (in any of those
//!    forms), `subset` keeps the pods carrying a `DestinationRule` subset's `labels` (the rule whose
//!    `spec.host` names the same Service, in its namespace or `NS`); integer `weight`s, a lone
//!    destination getting all traffic and a missing weight among several counting 0, as in Istio;
//! 2. a Gateway API `HTTPRoute` in `NS` whose `parentRefs` name the Service (`kind: Service`, the mesh
//!    way), else the `HTTPRoute` named `NAME` (the Flagger convention). Its first rule without
//!    `matches` (else its first rule) gives the `backendRefs` (`name`, `namespace`, `weight` defaulting
//!    to 1; refs to other kinds than Service get their share and no pods);
//! 3. a Knative Service (`serving.knative.dev`) named `NAME`: `status.traffic`, else `spec.traffic`,
//!    `percent` per revision (`latestRevision` meaning `status.latestReadyRevisionName`), with no traffic
//!    block all going to the latest ready revision; a revision's pods are the Service's ready pods that
//!    carry `serving.knative.dev/revision: REVISION`;
//! 4. else the Service's own ready endpoints, equally.
//!
//! A destination's pods are the ready addresses of the Service it names (its Endpoints, else its
//! EndpointSlices), kept when [`PodAddrs`] knows where the pod listens. Destinations are chosen by smooth
//! weighted round robin and pods within one by round robin, so the split is exact: of every 100 requests
//! under an 80/20 split, 80 and 20. A request whose destination has no such pod gets `502 Bad Gateway`
//! with a plain-text reason (as a mesh answers for a destination without healthy endpoints); so does a
//! request the pod does not answer. Request matching (`match`, `matches`), retries, timeouts, header
//! rewrites, upgrades (WebSocket) and non-HTTP traffic are not served.
//!
//! Every answer a pod gives (or the 502 for a pod that did not answer) is counted in
//! `kubesim_http_requests_total{namespace,service,pod,image,code}` (see [`crate::metrics`]).
//!
//! Ports are bound when the Service appears and unbound (with the connections on them closed) when it
//! goes, stops being `NodePort`/`LoadBalancer` or moves its `nodePort`. A port taken on the host gets a
//! `Warning` Event `FailedToBindNodePort` on the Service (once per port, retried every second) while the
//! Service's other ports are served. A `LoadBalancer` Service with a bound port gets
//! `status.loadBalancer.ingress: [{ip: 127.0.0.1}]`.

mod balance;
mod routing;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::metrics::{Metrics, RequestLabels};
use crate::ops::{self, Ctx, Sub};
use crate::runtime::PodAddrs;
use crate::store::{Key, Store};

/// How long the proxy waits for a pod to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often ports that could not be bound are tried again.
const RETRY_BIND: Duration = Duration::from_secs(1);

/// The Event reason for a nodePort taken on the host.
pub const BIND_FAILED_REASON: &str = "FailedToBindNodePort";

type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// What every served port shares.
struct Shared {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    pods: Arc<PodAddrs>,
    /// Balancing state per (namespace, Service).
    balancers: Mutex<HashMap<(String, String), balance::Balancer>>,
}

/// One bound nodePort.
struct Served {
    namespace: String,
    service: String,
    uid: String,
    /// Dropping it stops the port's listener and its connections.
    _stop: watch::Sender<bool>,
}

/// What the Services ask to be served: nodePort -> (namespace, name, uid).
fn wanted_ports(store: &Store) -> BTreeMap<u16, (String, String, String)> {
    let state = store.lock();
    let mut wanted = BTreeMap::new();
    for (_, svc) in state.list("", "services", None) {
        let type_ = svc.pointer("/spec/type").and_then(Value::as_str);
        if !matches!(type_, Some("NodePort" | "LoadBalancer"))
            || ops::meta(svc).is_some_and(|m| m.contains_key("deletionTimestamp"))
        {
            continue;
        }
        let ports = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for p in ports {
            let tcp = p
                .get("protocol")
                .and_then(Value::as_str)
                .is_none_or(|proto| proto == "TCP");
            let node_port = p
                .get("nodePort")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok());
            if let (true, Some(port)) = (tcp, node_port) {
                wanted.entry(port).or_insert_with(|| {
                    (
                        ops::namespace_of(svc).to_owned(),
                        ops::name_of(svc).to_owned(),
                        ops::uid_of(svc).to_owned(),
                    )
                });
            }
        }
    }
    wanted
}

fn ctx() -> Ctx {
    Ctx {
        dry_run: false,
        manager: "kubesim-proxy".to_owned(),
        applied: false,
    }
}

/// Records a Warning Event on Service `namespace/name` (as the controllers' events look).
fn warn(store: &Store, namespace: &str, name: &str, reason: &str, message: &str) {
    let mut state = store.lock();
    let Some(svc) = state.get(&Key {
        group: String::new(),
        plural: "services".to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }) else {
        return;
    };
    let svc = svc.clone();
    let reporter = crate::controller::Reporter {
        source: "kubesim-proxy",
        reporting: "kubesim-proxy",
        ctx: &ctx(),
    };
    crate::controller::record_event(&mut state, &svc, "Warning", reason, message, &reporter);
}

/// Sets or clears `status.loadBalancer.ingress` of every Service as served ports say.
fn sync_load_balancers(store: &Store, served: &HashMap<u16, Served>) {
    let served_uids: HashSet<&str> = served.values().map(|s| s.uid.as_str()).collect();
    let mut state = store.lock();
    let Some(t) = state.registry.get("", "v1", "services") else {
        return;
    };
    let ours = json!([{"ip": "127.0.0.1"}]);
    let changes: Vec<(Key, Value, Value)> = state
        .list("", "services", None)
        .filter_map(|(key, svc)| {
            let is_lb = svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
            let ingress = svc.pointer("/status/loadBalancer/ingress");
            let want = if is_lb && served_uids.contains(ops::uid_of(svc)) {
                Some(&ours)
            } else if ingress == Some(&ours) {
                None
            } else {
                return None;
            };
            if ingress == want {
                return None;
            }
            let mut new = svc.clone();
            new["status"]["loadBalancer"] = match want {
                Some(w) => json!({"ingress": w}),
                None => json!({}),
            };
            ops::meta_mut(&mut new).remove("resourceVersion");
            Some((key.clone(), svc.clone(), new))
        })
        .collect();
    for (key, old, new) in changes {
        let _ = ops::write(&mut state, &t, "v1", &key, &old, new, Sub::Status, &ctx());
    }
}

/// Runs the proxy until `stop` says so: a pass over the Services after every change to one (and every
/// second while a port could not be bound).
pub(crate) async fn run(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    pods: Arc<PodAddrs>,
    mut stop: watch::Receiver<bool>,
) {
    let shared = Arc::new(Shared {
        store: store.clone(),
        metrics,
        pods,
        balancers: Mutex::new(HashMap::new()),
    });
    let mut events = store.subscribe();
    let mut served: HashMap<u16, Served> = HashMap::new();
    // (uid, port) already warned about, so a taken port gives one Event, not one a second.
    let mut warned: HashSet<(String, u16)> = HashSet::new();
    loop {
        let wanted = wanted_ports(&store);
        served.retain(|port, s| {
            wanted.get(port).is_some_and(|(ns, name, uid)| {
                *ns == s.namespace && *name == s.service && *uid == s.uid
            })
        });
        warned.retain(|(uid, port)| wanted.get(port).is_some_and(|w| w.2 == *uid));
        let mut failed = false;
        for (port, (ns, name, uid)) in &wanted {
            if served.contains_key(port) {
                continue;
            }
            match bind(*port) {
                Ok(listener) => {
                    let (tx, rx) = watch::channel(false);
                    tokio::spawn(serve_port(
                        listener,
                        shared.clone(),
                        ns.clone(),
                        name.clone(),
                        rx,
                    ));
                    served.insert(
                        *port,
                        Served {
                            namespace: ns.clone(),
                            service: name.clone(),
                            uid: uid.clone(),
                            _stop: tx,
                        },
                    );
                }
                Err(e) => {
                    failed = true;
                    if warned.insert((uid.clone(), *port)) {
                        let message = format!(
                            "cannot serve nodePort {port} on 127.0.0.1: {e}; the Service's other ports are served"
                        );
                        warn(&store, ns, name, BIND_FAILED_REASON, &message);
                    }
                }
            }
        }
        sync_load_balancers(&store, &served);
        let retry = if failed {
            RETRY_BIND
        } else {
            Duration::from_secs(3600)
        };
        let sleep = tokio::time::sleep(retry);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                () = &mut sleep => break,
                e = events.recv() => match e {
                    Ok(e) if e.group.is_empty() && e.plural == "services" => break,
                    Ok(_) => {}
                    // Missed events may have been Services.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}

fn bind(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}

async fn serve_port(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    namespace: String,
    service: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let (namespace, service) = (namespace.clone(), service.clone());
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let handler = hyper::service::service_fn(move |req| {
                forward(shared.clone(), namespace.clone(), service.clone(), req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, handler);
            tokio::select! {
                _ = conn => {}
                _ = conn_stop.changed() => {}
            }
        });
    }
}

fn plain(code: StatusCode, text: String) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(text))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Where one request goes, or why it cannot go anywhere.
fn choose(
    shared: &Shared,
    namespace: &str,
    service: &str,
) -> Result<(routing::Backend, SocketAddr), String> {
    let (_, destinations) = {
        let state = shared.store.lock();
        routing::destinations(&state, namespace, service)
    };
    let mut balancers = shared
        .balancers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let balancer = balancers
        .entry((namespace.to_owned(), service.to_owned()))
        .or_default();
    let keys: Vec<(String, u64)> = destinations
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("{i}:{}", d.name), d.weight))
        .collect();
    let Some(i) = balancer.pick_destination(&keys) else {
        return Err(format!(
            "no endpoints available for service \"{namespace}/{service}\"\n"
        ));
    };
    let destination = &destinations[i];
    let running: Vec<(&routing::Backend, SocketAddr)> = destination
        .pods
        .iter()
        .filter_map(|b| Some((b, shared.pods.get(&b.namespace, &b.pod)?)))
        .collect();
    if running.is_empty() {
        return Err(if destination.name == service {
            format!("no endpoints available for service \"{namespace}/{service}\"\n")
        } else {
            format!(
                "no endpoints available for destination \"{}\" of service \"{namespace}/{service}\"\n",
                destination.name
            )
        });
    }
    let (backend, addr) = running[balancer.pick_pod(&keys[i].0, running.len())];
    Ok((backend.clone(), addr))
}

/// Headers that belong to one connection, not to the message (RFC 9110 section 7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect();
    for name in listed {
        headers.remove(name.as_str());
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

async fn send(addr: SocketAddr, mut req: Request<Incoming>) -> Result<Response<Incoming>, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))?
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("talking to {addr}: {e}"))?;
    // The connection task ends when the response body has been read (or dropped).
    tokio::spawn(conn);
    strip_hop_by_hop(req.headers_mut());
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string);
    *req.uri_mut() = path
        .parse()
        .map_err(|e| format!("request target {path:?}: {e}"))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("waiting for {addr}: {e}"))
}

async fn forward(
    shared: Arc<Shared>,
    namespace: String,
    service: String,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (backend, addr) = match choose(&shared, &namespace, &service) {
        Ok(chosen) => chosen,
        Err(message) => return Ok(plain(StatusCode::BAD_GATEWAY, message)),
    };
    let (resp, code) = match send(addr, req).await {
        Ok(mut resp) => {
            strip_hop_by_hop(resp.headers_mut());
            let code = resp.status().as_u16();
            (resp.map(BodyExt::boxed_unsync), code)
        }
        Err(why) => (
            plain(
                StatusCode::BAD_GATEWAY,
                format!(
                    "pod \"{}/{}\" did not answer: {why}\n",
                    backend.namespace, backend.pod
                ),
            ),
            StatusCode::BAD_GATEWAY.as_u16(),
        ),
    };
    shared.metrics.record_request(RequestLabels {
        namespace,
        service,
        pod: backend.pod,
        image: backend.image,
        code,
    });
    Ok(resp)
}
