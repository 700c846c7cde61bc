//! The NodePort proxy against a `Sim`: pods created through the API (made ready by the simulated
//! kubelet) and answered by small HTTP servers on loopback registered in `Sim::pod_addrs`; traffic sent to
//! `127.0.0.1:<nodePort>`; weights from a VirtualService, an HTTPRoute and a Knative Service; the
//! counters read back through the Prometheus API.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use k8s_openapi::api::core::v1::{Endpoints, Event, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use slipway_kubesim::{Options, Sim};

fn sim() -> Sim {
    Sim::start(
        Options::default()
            .ready_after(Duration::from_millis(20))
            .never_ready("*:never"),
    )
    .expect("simulator starts")
}

/// A nodePort free on this host now, different for every call in this process.
fn free_node_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = u16::try_from(std::process::id() % 1000).expect("small") * 2;
    loop {
        let port = 30_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 2768;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// An HTTP server on loopback answering every request with `status` and its name as the body.
async fn backend(name: &str, status: u16) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let name = Bytes::from(name.to_owned());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let name = name.clone();
                    async move {
                        let mut resp = http::Response::new(Full::new(name));
                        *resp.status_mut() = http::StatusCode::from_u16(status).expect("status");
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// One keep-alive HTTP/1.1 connection.
struct Client(hyper::client::conn::http1::SendRequest<Empty<Bytes>>);

impl Client {
    /// Connects to `127.0.0.1:port`, waiting for the proxy to bind it.
    async fn connect(port: u16) -> Client {
        for _ in 0..500 {
            if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .expect("handshake");
                tokio::spawn(conn);
                return Client(sender);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nothing listens on 127.0.0.1:{port}");
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let req = http::Request::get(path)
            .header("host", "kubesim.test")
            .body(Empty::new())
            .expect("request");
        let resp = self.0.send_request(req).await.expect("answer");
        let code = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (code, String::from_utf8_lossy(&body).into_owned())
    }

    /// Sends `n` requests and counts the answers by body.
    async fn tally(&mut self, n: usize) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for _ in 0..n {
            let (_, body) = self.get("/").await;
            *seen.entry(body).or_default() += 1;
        }
        seen
    }
}

fn tally(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn dynamic(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Api::default_namespaced_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    // A kind a CRD just added may take a moment to be served.
    for _ in 0..250 {
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 404 => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("creating {object:?}: {e}"),
        }
    }
    panic!("{object:?} never became creatable");
}

async fn crd(client: &kube::Client, group: &str, version: &str, kind: &str, plural: &str) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
            "versions": [{"name": version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .expect("a CRD");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("CRD created");
}

async fn service(
    client: &kube::Client,
    name: &str,
    type_: &str,
    selector: Value,
    node_ports: &[u16],
) {
    let ports: Vec<Value> = if node_ports.is_empty() {
        vec![json!({"name": "http", "port": 80, "targetPort": 8080})]
    } else {
        node_ports
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"name": format!("p{i}"), "port": 80 + i, "targetPort": 8080, "nodePort": p}))
            .collect()
    };
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": type_, "selector": selector, "ports": ports}
    }))
    .expect("a Service");
    Api::<Service>::default_namespaced(client.clone())
        .create(&PostParams::default(), &svc)
        .await
        .expect("Service created");
}

/// Creates a pod answered by a loopback server whose body is the pod's name.
async fn pod(
    sim: &Sim,
    client: &kube::Client,
    name: &str,
    image: &str,
    labels: Value,
    status: u16,
) {
    let api = dynamic(client, "", "v1", "Pod", "pods");
    create(
        &api,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]}}),
    )
    .await;
    let addr = backend(name, status).await;
    sim.pod_addrs().set("default", name, addr);
}

/// Waits until the Service's Endpoints list exactly these ready pods.
async fn wait_ready(client: &kube::Client, service: &str, pods: &[&str]) {
    let api: Api<Endpoints> = Api::default_namespaced(client.clone());
    let mut want: Vec<String> = pods.iter().map(|p| (*p).to_owned()).collect();
    want.sort();
    let mut got = Vec::new();
    for _ in 0..500 {
        got = api
            .get_opt(service)
            .await
            .expect("get endpoints")
            .and_then(|e| e.subsets)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|s| s.addresses.unwrap_or_default())
            .filter_map(|a| a.target_ref.and_then(|r| r.name))
            .collect();
        got.sort();
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("endpoints of {service}: {got:?}, expected {want:?}");
}

/// Services `web` (NodePort), `web-stable` and `web-canary`, one ready pod behind each of the latter.
async fn stable_and_canary(sim: &Sim, client: &kube::Client, canary_status: u16) -> u16 {
    let port = free_node_port();
    service(client, "web", "NodePort", json!({"app": "web"}), &[port]).await;
    service(
        client,
        "web-stable",
        "ClusterIP",
        json!({"app": "web", "track": "stable"}),
        &[],
    )
    .await;
    service(
        client,
        "web-canary",
        "ClusterIP",
        json!({"app": "web", "track": "canary"}),
        &[],
    )
    .await;
    pod(
        sim,
        client,
        "web-s",
        "img:1",
        json!({"app": "web", "track": "stable"}),
        200,
    )
    .await;
    pod(
        sim,
        client,
        "web-c",
        "img:2",
        json!({"app": "web", "track": "canary"}),
        canary_status,
    )
    .await;
    wait_ready(client, "web-stable", &["web-s"]).await;
    wait_ready(client, "web-canary", &["web-c"]).await;
    port
}

async fn virtual_service(client: &kube::Client, stable: u64, canary: u64) {
    crd(
        client,
        "networking.istio.io",
        "v1",
        "VirtualService",
        "virtualservices",
    )
    .await;
    create(
        &dynamic(client, "networking.istio.io", "v1", "VirtualService", "virtualservices"),
        json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "web"},
            "spec": {"hosts": ["web"], "http": [{"route": [
                {"destination": {"host": "web-stable"}, "weight": stable},
                {"destination": {"host": "web-canary.default.svc.cluster.local"}, "weight": canary}]}]}}),
    )
    .await;
}

#[tokio::test]
async fn node_port_reaches_ready_running_pods_only_and_502_without_any() {
    let sim = sim();
    let client = sim.client().expect("client");
    let port = free_node_port();
    service(&client, "web", "NodePort", json!({"app": "web"}), &[port]).await;
    pod(&sim, &client, "web-1", "img:1", json!({"app": "web"}), 200).await;
    pod(&sim, &client, "web-2", "img:1", json!({"app": "web"}), 200).await;
    // Never ready: listed as not ready, so it gets nothing although it listens.
    pod(
        &sim,
        &client,
        "web-3",
        "img:never",
        json!({"app": "web"}),
        200,
    )
    .await;
    // Ready but not running anywhere (no PodAddrs entry): nothing to send to.
    pod(&sim, &client, "web-4", "img:1", json!({"app": "web"}), 200).await;
    sim.pod_addrs().remove("default", "web-4");
    wait_ready(&client, "web", &["web-1", "web-2", "web-4"]).await;
    let mut c = Client::connect(port).await;
    assert_eq!(c.tally(100).await, tally(&[("web-1", 50), ("web-2", 50)]));

    let empty = free_node_port();
    service(
        &client,
        "empty",
        "NodePort",
        json!({"app": "nothing"}),
        &[empty],
    )
    .await;
    let (code, body) = Client::connect(empty).await.get("/").await;
    assert_eq!(code, 502);
    assert_eq!(
        body,
        "no endpoints available for service \"default/empty\"\n"
    );

    // Deleting the Service unbinds its port.
    Api::<Service>::default_namespaced(client.clone())
        .delete("web", &DeleteParams::default())
        .await
        .expect("deleted");
    let mut unbound = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            unbound = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(unbound, "127.0.0.1:{port} still accepts connections");
}

#[tokio::test]
async fn virtual_service_splits_1000_requests_800_200() {
    let sim = sim();
    let client = sim.client().expect("client");
    let port = stable_and_canary(&sim, &client, 200).await;
    virtual_service(&client, 80, 20).await;
    let mut c = Client::connect(port).await;
    assert_eq!(
        c.tally(1000).await,
        tally(&[("web-c", 200), ("web-s", 800)])
    );
}

#[tokio::test]
async fn http_route_splits_1000_requests_800_200() {
    let sim = sim();
    let client = sim.client().expect("client");
    let port = stable_and_canary(&sim, &client, 200).await;
    crd(
        &client,
        "gateway.networking.k8s.io",
        "v1",
        "HTTPRoute",
        "httproutes",
    )
    .await;
    create(
        &dynamic(&client, "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "web", "port": 80}],
                "rules": [{"backendRefs": [{"name": "web-stable", "port": 80, "weight": 80},
                    {"name": "web-canary", "port": 80, "weight": 20}]}]}}),
    )
    .await;
    let mut c = Client::connect(port).await;
    assert_eq!(
        c.tally(1000).await,
        tally(&[("web-c", 200), ("web-s", 800)])
    );
}

#[tokio::test]
async fn knative_traffic_splits_1000_requests_800_200() {
    let sim = sim();
    let client = sim.client().expect("client");
    let port = free_node_port();
    service(
        &client,
        "fn",
        "NodePort",
        json!({"serving.knative.dev/service": "fn"}),
        &[port],
    )
    .await;
    for (pod_name, revision) in [("fn-1", "fn-00001"), ("fn-2", "fn-00002")] {
        let labels =
            json!({"serving.knative.dev/service": "fn", "serving.knative.dev/revision": revision});
        pod(&sim, &client, pod_name, "img:1", labels, 200).await;
    }
    wait_ready(&client, "fn", &["fn-1", "fn-2"]).await;
    crd(&client, "serving.knative.dev", "v1", "Service", "services").await;
    create(
        &dynamic(&client, "serving.knative.dev", "v1", "Service", "services"),
        json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "fn"},
            "spec": {"template": {"spec": {"containers": [{"image": "img:1"}]}},
                "traffic": [{"revisionName": "fn-00001", "percent": 80},
                    {"revisionName": "fn-00002", "percent": 20}]}}),
    )
    .await;
    let mut c = Client::connect(port).await;
    assert_eq!(c.tally(1000).await, tally(&[("fn-1", 800), ("fn-2", 200)]));
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asks the simulator's Prometheus API; returns the HTTP status and the answer.
async fn prometheus(sim: &Sim, query: &str) -> (u16, Value) {
    let mut c = Client::connect(sim.addr().port()).await;
    let (code, body) = c
        .get(&format!("/api/v1/query?query={}", encode(query)))
        .await;
    (code, serde_json::from_str(&body).expect("JSON"))
}

/// The only sample of a vector answer.
fn only_value(answer: &Value) -> f64 {
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["data"]["resultType"], "vector", "{answer}");
    let result = answer["data"]["result"].as_array().expect("result");
    assert_eq!(result.len(), 1, "{answer}");
    assert_eq!(result[0]["metric"], json!({}), "{answer}");
    result[0]["value"][1]
        .as_str()
        .expect("a value string")
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn prometheus_api_serves_counters_rates_and_the_5xx_ratio() {
    let sim = sim();
    let client = sim.client().expect("client");
    let port = stable_and_canary(&sim, &client, 500).await;
    virtual_service(&client, 80, 20).await;
    let mut c = Client::connect(port).await;
    let codes: Vec<u16> = {
        let mut codes = Vec::new();
        for _ in 0..100 {
            codes.push(c.get("/").await.0);
        }
        codes
    };
    assert_eq!(codes.iter().filter(|&&c| c == 500).count(), 20);

    let (code, raw) = prometheus(&sim, "kubesim_http_requests_total{service=\"web\"}").await;
    assert_eq!(code, 200);
    let mut series: Vec<(Value, String)> = raw["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            (
                s["metric"].clone(),
                s["value"][1].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    series.sort_by_key(|(_, v)| v.clone());
    assert_eq!(
        series,
        vec![
            (
                json!({"__name__": "kubesim_http_requests_total", "namespace": "default", "service": "web",
                    "pod": "web-c", "image": "img:2", "code": "500"}),
                "20".to_owned()
            ),
            (
                json!({"__name__": "kubesim_http_requests_total", "namespace": "default", "service": "web",
                    "pod": "web-s", "image": "img:1", "code": "200"}),
                "80".to_owned()
            ),
        ]
    );
    let total =
        "sum(increase(kubesim_http_requests_total{namespace=\"default\",service=\"web\"}[10m]))";
    assert!((only_value(&prometheus(&sim, total).await.1) - 100.0).abs() < 1e-9);
    let rate = "sum(rate(kubesim_http_requests_total{service=\"web\"}[10m]))";
    assert!((only_value(&prometheus(&sim, rate).await.1) - 100.0 / 600.0).abs() < 1e-9);
    let ratio = "sum(rate(kubesim_http_requests_total{service=\"web\",code=~\"5..\"}[1m])) / sum(rate(kubesim_http_requests_total{service=\"web\"}[1m]))";
    assert!((only_value(&prometheus(&sim, ratio).await.1) - 0.2).abs() < 1e-9);
    let canary_ok = "sum(increase(kubesim_http_requests_total{pod!=\"web-s\",code!~\"5..\"}[1m]))";
    let (_, answer) = prometheus(&sim, canary_ok).await;
    assert_eq!(
        answer["data"]["result"],
        json!([]),
        "no 2xx from the canary: {answer}"
    );

    for unknown in [
        "up",
        "sum(rate(kubesim_http_requests_total{service=\"other\"}[1m]))",
        "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))",
    ] {
        let (code, answer) = prometheus(&sim, unknown).await;
        assert_eq!(code, 200);
        assert_eq!(
            answer,
            json!({"status": "success", "data": {"resultType": "vector", "result": []}}),
            "{unknown}"
        );
    }
    let (code, answer) = prometheus(&sim, "sum(rate(kubesim_http_requests_total[1m])").await;
    assert_eq!(code, 400);
    assert_eq!(
        answer,
        json!({"status": "error", "errorType": "bad_data",
            "error": "invalid parameter \"query\": 1:42: parse error: unclosed left parenthesis"})
    );
    // An injected series answers its exact query first.
    sim.inject_metric(ratio, 0.5);
    assert!((only_value(&prometheus(&sim, ratio).await.1) - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn a_taken_port_warns_while_the_others_serve_and_load_balancers_get_an_ingress() {
    let sim = sim();
    let client = sim.client().expect("client");
    let taken = free_node_port();
    let _holder = std::net::TcpListener::bind(("127.0.0.1", taken)).expect("hold the port");
    let free = free_node_port();
    service(
        &client,
        "lb",
        "LoadBalancer",
        json!({"app": "lb"}),
        &[taken, free],
    )
    .await;
    pod(&sim, &client, "lb-1", "img:1", json!({"app": "lb"}), 200).await;
    wait_ready(&client, "lb", &["lb-1"]).await;
    assert_eq!(
        Client::connect(free).await.get("/").await,
        (200, "lb-1".to_owned())
    );

    let events: Api<Event> = Api::default_namespaced(client.clone());
    let services: Api<Service> = Api::default_namespaced(client.clone());
    let mut warning = None;
    let mut ingress = None;
    for _ in 0..500 {
        warning = events
            .list(&kube::api::ListParams::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedToBindNodePort"));
        ingress = services
            .get_status("lb")
            .await
            .expect("service")
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress);
        if warning.is_some() && ingress.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let warning = warning.expect("a Warning Event");
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(warning.involved_object.kind.as_deref(), Some("Service"));
    assert_eq!(warning.involved_object.name.as_deref(), Some("lb"));
    let message = warning.message.unwrap_or_default();
    assert!(message.contains(&format!("nodePort {taken}")), "{message}");
    let ingress = serde_json::to_value(ingress.expect("an ingress")).expect("JSON");
    assert_eq!(ingress, json!([{"ip": "127.0.0.1"}]));
}
