//! Analysis: Argo's documented templates read as is; the Prometheus provider against kubesim's
//! Prometheus API; the web provider against a loopback HTTP server started here.

// Short names (t: template, m: metric, p: provider, s: schedule) keep the assertions readable.
#![allow(clippy::many_single_char_names)]

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use slipway_deploy::analysis::judge::{MetricSchedule, Outcome, Phase, Run};
use slipway_deploy::analysis::template::{self, AnalysisTemplate, Kind, ProviderSpec};

fn fixture(name: &str) -> AnalysisTemplate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/deploy/fixtures/analysis")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    AnalysisTemplate::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn argo_doc_success_rate() {
    let t = fixture("success-rate.yaml");
    assert_eq!(t.kind, Kind::AnalysisTemplate);
    assert_eq!(t.name.as_deref(), Some("success-rate"));
    let m = &t.metrics[0];
    assert_eq!(m.interval, Some(Duration::from_secs(300)));
    assert_eq!(m.success_condition.as_deref(), Some("result[0] >= 0.95"));
    let ProviderSpec::Prometheus(p) = &m.provider else {
        panic!("{:?}", m.provider)
    };
    assert_eq!(p.address, "http://prometheus.example.com:9090");
    // The arg has no default: using it without a value names it.
    let args = t.args(&[]).unwrap();
    let err = args.substitute(&p.query, &m.name, "query").unwrap_err();
    assert!(
        matches!(&err, template::Error::MissingArg { arg, .. } if arg == "service-name"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "metric `success-rate`, field `query`: arg `service-name` has no value"
    );
    let args = t
        .args(&[("service-name", "web.prod.svc.cluster.local")])
        .unwrap();
    let q = args.substitute(&p.query, &m.name, "query").unwrap();
    assert!(
        q.contains(r#"destination_service=~"web.prod.svc.cluster.local",response_code!~"5.*""#),
        "{q}"
    );
    let s = MetricSchedule::from_metric(m, &args).unwrap();
    assert_eq!(
        (
            s.count,
            s.failure_limit,
            s.inconclusive_limit,
            s.consecutive_error_limit
        ),
        (None, 3, 0, 4)
    );
}

#[test]
fn argo_doc_web_with_secret_arg() {
    let t = fixture("web.yaml");
    let m = &t.metrics[0];
    let ProviderSpec::Web(w) = &m.provider else {
        panic!("{:?}", m.provider)
    };
    assert_eq!(w.json_path.as_deref(), Some("{$.data.ok}"));
    assert_eq!(w.timeout_seconds, Some(20));
    assert_eq!(w.headers[0].key, "Authorization");
    // `valueFrom` (a Secret) is not read: the value must be passed.
    let err = t.args(&[("service-name", "web")]).unwrap_err();
    assert_eq!(
        err,
        template::Error::ValueFrom {
            arg: "api-token".into()
        }
    );
    let args = t
        .args(&[("service-name", "web"), ("api-token", "s3cret")])
        .unwrap();
    assert_eq!(
        args.substitute(&w.url, &m.name, "url").unwrap(),
        "http://my-server.com/api/v1/measurement?service=web"
    );
    assert_eq!(
        args.substitute(&w.headers[0].value, &m.name, "headers[0]")
            .unwrap(),
        "Bearer s3cret"
    );
    assert!(matches!(
        t.args(&[("nope", "x")]),
        Err(template::Error::UnknownArg { .. })
    ));
    // Measured once (no interval, no count).
    assert_eq!(
        MetricSchedule::from_metric(m, &args).unwrap(),
        MetricSchedule::new("webmetric")
    );
}

#[test]
fn argo_doc_web_post_background_limits_and_json() {
    let t = fixture("web-post.yaml");
    let ProviderSpec::Web(w) = &t.metrics[0].provider else {
        panic!()
    };
    assert_eq!(
        (w.method.as_deref(), w.body.as_deref()),
        (Some("POST"), Some("string value"))
    );

    let t = fixture("error-rate-background.yaml");
    assert_eq!(t.kind, Kind::ClusterAnalysisTemplate);
    assert_eq!(t.metrics[0].initial_delay, Some(Duration::from_secs(300)));

    let t = fixture("limits.yaml");
    let s = MetricSchedule::from_metric(&t.metrics[0], &t.args(&[]).unwrap()).unwrap();
    assert_eq!(
        (s.count, s.inconclusive_limit, s.consecutive_error_limit),
        (Some(10), 2, 4)
    );
    assert_eq!(s.interval, Some(Duration::from_secs(10)));

    let t = fixture("multiple-metrics.json");
    assert_eq!(t.metrics.len(), 2);
    assert_eq!(
        t.args(&[]).unwrap().get("api-url"),
        Some("http://example/measure")
    );
    assert!(matches!(&t.metrics[1].provider, ProviderSpec::Other { name, .. } if name == "job"));
}

#[test]
fn template_errors_locate_the_problem() {
    let bad_interval = "spec:\n  metrics:\n  - name: m\n    interval: 5 minutes\n    provider: {web: {url: 'http://x'}}\n";
    let e = AnalysisTemplate::parse(bad_interval).unwrap_err();
    assert!(
        matches!(&e, template::Error::Field { metric, field: "interval", .. } if metric == "m"),
        "{e}"
    );
    let two = "spec:\n  metrics:\n  - name: m\n    provider: {web: {url: 'http://x'}, prometheus: {address: a, query: q}}\n";
    let e = AnalysisTemplate::parse(two).unwrap_err();
    assert!(
        matches!(
            e,
            template::Error::Field {
                field: "provider",
                ..
            }
        ),
        "{e}"
    );
    let e = AnalysisTemplate::parse("kind: Rollout\nspec: {metrics: []}\n").unwrap_err();
    assert_eq!(
        e,
        template::Error::Kind {
            kind: "Rollout".into()
        }
    );
    let e = AnalysisTemplate::parse("spec:\n  metrics: [\n").unwrap_err();
    assert!(matches!(e, template::Error::Syntax { .. }), "{e}");
}

#[test]
fn run_of_a_template_through_the_state_machine() {
    let t = fixture("limits.yaml");
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut run = Run::from_template(&t, &t.args(&[]).unwrap(), t0).unwrap();
    for i in 0..9 {
        let at = t0 + Duration::from_secs(10 * i);
        assert_eq!(run.due(at), ["success-rate"], "measurement {i}");
        run.record("success-rate", Outcome::Successful, at, None)
            .unwrap();
    }
    assert_eq!(run.phase(), Phase::Running);
    run.record(
        "success-rate",
        Outcome::Successful,
        t0 + Duration::from_secs(90),
        None,
    )
    .unwrap();
    assert_eq!(run.phase(), Phase::Successful);
}

#[cfg(feature = "http")]
mod http {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::time::{Duration, UNIX_EPOCH};

    use slipway_deploy::analysis::expr::Value;
    use slipway_deploy::analysis::judge::{Outcome, Phase, Run};
    use slipway_deploy::analysis::provider::{
        Error, HttpOptions, HttpProviders, Prometheus, ProviderExt, Web,
    };
    use slipway_deploy::analysis::template::{AnalysisTemplate, Args};
    use slipway_kubesim::{Options, Sim};

    const QUERY: &str = r#"sum(rate(requests{service="web",code!~"5.."}[1m])) / sum(rate(requests{service="web"}[1m]))"#;

    fn prometheus_template(address: &str, success: &str) -> AnalysisTemplate {
        AnalysisTemplate::parse(&format!(
            r#"
spec:
  args: [{{name: service}}]
  metrics:
  - name: success-rate
    interval: 30s
    count: 2
    successCondition: "{success}"
    provider:
      prometheus:
        address: {address}
        query: 'sum(rate(requests{{service="{{{{args.service}}}}",code!~"5.."}}[1m])) / sum(rate(requests{{service="{{{{args.service}}}}"}}[1m]))'
"#
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn web_args(t: &AnalysisTemplate) -> Args {
        t.args(&[("service", "web")]).unwrap()
    }

    #[test]
    fn prometheus_against_kubesim() {
        let sim = Sim::start(Options::default().metric(QUERY, 0.97)).unwrap();
        let t = prometheus_template(&sim.url(), "result[0] >= 0.95");
        let args = web_args(&t);
        let prom = Prometheus::new(HttpOptions::default()).unwrap();
        let m = prom.measurement(&t.metrics[0], &args);
        assert_eq!(
            m.value,
            Some(Value::Array(vec![Value::Float(0.97)])),
            "{}",
            m.message
        );
        assert_eq!(m.outcome, Outcome::Successful);

        // The whole run, time passed in: two measurements 30 s apart.
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut run = Run::from_template(&t, &args, t0).unwrap();
        assert_eq!(
            prom.measure_due(&mut run, &t, &args, t0).unwrap(),
            ["success-rate"]
        );
        assert!(
            prom.measure_due(&mut run, &t, &args, t0 + Duration::from_secs(29))
                .unwrap()
                .is_empty()
        );
        sim.inject_metric(QUERY, 0.96);
        prom.measure_due(&mut run, &t, &args, t0 + Duration::from_secs(30))
            .unwrap();
        assert_eq!(run.phase(), Phase::Successful);

        // Below the threshold: Failed (only a success condition, Argo's rule).
        sim.inject_metric(QUERY, 0.5);
        assert_eq!(
            prom.measurement(&t.metrics[0], &args).outcome,
            Outcome::Failed
        );
        // NaN reaches the condition as a float.
        sim.inject_metric(QUERY, f64::NAN);
        let nan = prometheus_template(&sim.url(), "isNaN(result[0])");
        assert_eq!(
            prom.measurement(&nan.metrics[0], &args).outcome,
            Outcome::Successful
        );
    }

    #[test]
    fn prometheus_no_data_is_inconclusive() {
        let sim = Sim::start(Options::default()).unwrap();
        // A condition that an empty vector would satisfy in Argo (`all` of nothing is true).
        let t = prometheus_template(&sim.url(), "all(result, {# >= 0.95})");
        let args = web_args(&t);
        let prom = Prometheus::new(HttpOptions::default()).unwrap();
        let m = prom.measurement(&t.metrics[0], &args);
        assert_eq!(m.value, Some(Value::Array(vec![])));
        assert_eq!(m.outcome, Outcome::Inconclusive, "{}", m.message);
        let t0 = UNIX_EPOCH + Duration::from_secs(1);
        let mut run = Run::from_template(&t, &args, t0).unwrap();
        prom.measure_due(&mut run, &t, &args, t0).unwrap();
        assert_eq!(run.phase(), Phase::Inconclusive);
    }

    #[test]
    fn prometheus_errors() {
        let sim = Sim::start(Options::default()).unwrap();
        let prom = Prometheus::new(HttpOptions::default()).unwrap();
        let bad = AnalysisTemplate::parse(&format!(
            "spec:\n  metrics:\n  - name: m\n    provider: {{prometheus: {{address: '{}', query: 'sum(('}}}}\n",
            sim.url()
        ))
        .unwrap();
        let e = prom.query(&bad.metrics[0], &Args::default()).unwrap_err();
        assert!(
            matches!(&e, Error::Prometheus { error_type, .. } if error_type == "bad_data"),
            "{e}"
        );
        assert_eq!(
            prom.measurement(&bad.metrics[0], &Args::default()).outcome,
            Outcome::Error
        );
        // Nothing listens: an error, never a pass.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = prometheus_template(&format!("http://{closed}"), "result[0] >= 0.95");
        let e = prom.query(&t.metrics[0], &web_args(&t)).unwrap_err();
        assert!(matches!(e, Error::Send { .. }), "{e}");
    }

    /// What the loopback server saw of one request.
    #[derive(Debug)]
    struct Seen {
        head: String,
        body: Vec<u8>,
    }

    /// A loopback HTTP/1.1 server answering every request with `respond(request head)`; each request is
    /// also sent on the returned channel.
    fn serve(
        respond: impl Fn(&str) -> Vec<u8> + Send + 'static,
    ) -> (SocketAddr, mpsc::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(seen) = read_request(&mut stream) else {
                    continue;
                };
                let answer = respond(&seen.head);
                let _ = stream.write_all(&answer);
                let _ = stream.flush();
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        (addr, rx)
    }

    fn read_request(stream: &mut TcpStream) -> Option<Seen> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 || buf.len() > 64 << 10 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + len.min(1 << 20) {
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(Seen {
            head,
            body: buf[head_end..].to_vec(),
        })
    }

    fn answer(status: &str, extra: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn web_template(url: &str, extra: &str) -> AnalysisTemplate {
        AnalysisTemplate::parse(&format!(
            r#"
spec:
  args: [{{name: service}}, {{name: token}}]
  metrics:
  - name: webmetric
    successCondition: result == true
    provider:
      web:
        url: "{url}?service={{{{ args.service }}}}"
        headers:
        - key: Authorization
          value: "Bearer {{{{ args.token }}}}"
        jsonPath: "{{$.data.ok}}"
{extra}"#
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn token_args(t: &AnalysisTemplate) -> Args {
        t.args(&[("service", "web"), ("token", "s3cret")]).unwrap()
    }

    #[test]
    fn web_get_with_headers_and_json_path() {
        let (addr, seen) = serve(|head| {
            let ok = head.contains("authorization: Bearer s3cret")
                || head.contains("Authorization: Bearer s3cret");
            answer("200 OK", "", &format!(r#"{{"data": {{"ok": {ok}}}}}"#))
        });
        let t = web_template(&format!("http://{addr}/api/v1/measurement"), "");
        let web = Web::new(HttpOptions::default()).unwrap();
        let m = web.measurement(&t.metrics[0], &token_args(&t));
        assert_eq!(
            (m.outcome, m.value),
            (Outcome::Successful, Some(Value::Bool(true)))
        );
        let req = seen.recv().unwrap();
        assert!(
            req.head
                .starts_with("GET /api/v1/measurement?service=web HTTP/1.1\r\n"),
            "{}",
            req.head
        );

        // Through the dispatching providers and a run: measured once.
        let providers = HttpProviders::new(HttpOptions::default()).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(5);
        let args = token_args(&t);
        let mut run = Run::from_template(&t, &args, t0).unwrap();
        providers.measure_due(&mut run, &t, &args, t0).unwrap();
        assert_eq!(run.phase(), Phase::Successful);
    }

    #[test]
    fn web_post_body_and_failures() {
        let (addr, seen) = serve(|head| {
            if head.starts_with("POST /fail") {
                answer("503 Service Unavailable", "", "{\"error\": \"down\u{7}\"}")
            } else {
                answer("200 OK", "", r#"{"data": {"ok": "False"}}"#)
            }
        });
        let post = "        method: POST\n        body: '{\"service\": \"{{args.service}}\"}'\n";
        let t = web_template(&format!("http://{addr}/measure"), post);
        let web = Web::new(HttpOptions::default()).unwrap();
        let m = web.measurement(&t.metrics[0], &token_args(&t));
        // "False" reads as a Go bool, as in Argo: the success condition does not hold.
        assert_eq!(
            (m.outcome, m.value),
            (Outcome::Failed, Some(Value::Bool(false)))
        );
        let req = seen.recv().unwrap();
        assert!(
            req.head.starts_with("POST /measure?service=web "),
            "{}",
            req.head
        );
        assert_eq!(req.body, br#"{"service": "web"}"#);

        // jsonBody: args are substituted inside its strings, so quotes in them stay text.
        let json_post =
            "        method: PUT\n        jsonBody: {service: '{{args.service}}', n: 1}\n";
        let t = web_template(&format!("http://{addr}/measure"), json_post);
        let args = t
            .args(&[("service", r#"we"b"#), ("token", "s3cret")])
            .unwrap();
        web.request(&t.metrics[0], &args).unwrap();
        let req = seen.recv().unwrap();
        assert!(
            req.head.starts_with("PUT /measure?service=we%22b "),
            "{}",
            req.head
        );
        assert!(
            req.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            req.head
        );
        let sent: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(sent, serde_json::json!({"service": "we\"b", "n": 1}));

        let t = web_template(&format!("http://{addr}/fail"), post);
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(
            matches!(&e, Error::Status { status: 503, body, .. } if !body.contains('\u{7}')),
            "{e}"
        );
        assert_eq!(
            web.measurement(&t.metrics[0], &token_args(&t)).outcome,
            Outcome::Error
        );

        // A jsonPath that finds nothing is an error.
        let (addr, _seen) = serve(|_| answer("200 OK", "", r#"{"other": 1}"#));
        let t = web_template(&format!("http://{addr}/"), "");
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(
            matches!(&e, Error::JsonPath { message, .. } if message.contains("`data` not found")),
            "{e}"
        );
    }

    #[test]
    fn web_missing_arg_is_named() {
        let t = web_template("http://127.0.0.1:9/", "");
        let web = Web::new(HttpOptions::default()).unwrap();
        let args = t.args(&[("service", "web")]).unwrap();
        let m = web.measurement(&t.metrics[0], &args);
        assert_eq!(m.outcome, Outcome::Error);
        assert!(
            m.message.contains("arg `token` has no value"),
            "{}",
            m.message
        );
    }

    #[test]
    fn body_reads_are_bounded() {
        let big = format!(
            r#"{{"data": {{"ok": true, "pad": "{}"}}}}"#,
            "x".repeat(4096)
        );
        let declared = big.clone();
        let (addr, _seen) = serve(move |_| answer("200 OK", "", &declared));
        let options = HttpOptions::default().max_body_bytes(1024);
        let web = Web::new(options.clone()).unwrap();
        let t = web_template(&format!("http://{addr}/"), "");
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(matches!(e, Error::BodyTooLarge { limit: 1024, .. }), "{e}");
        // Without a Content-Length (body until close), the read stops at the limit too.
        let (addr, _seen) = serve(move |_| {
            format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{big}").into_bytes()
        });
        let t = web_template(&format!("http://{addr}/"), "");
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(matches!(e, Error::BodyTooLarge { limit: 1024, .. }), "{e}");
        // Within the limit it reads.
        let web = Web::new(options.max_body_bytes(8192)).unwrap();
        assert_eq!(
            web.request(&t.metrics[0], &token_args(&t)).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn headers_never_follow_a_redirect_to_another_origin() {
        let (other, other_seen) = serve(|_| answer("200 OK", "", r#"{"data": {"ok": true}}"#));
        let location = format!("Location: http://{other}/steal\r\n");
        let (addr, seen) = serve(move |head| {
            if head.starts_with("GET /same") {
                answer("302 Found", "Location: /final\r\n", "")
            } else if head.starts_with("GET /final") {
                let ok = head
                    .to_ascii_lowercase()
                    .contains("authorization: bearer s3cret");
                answer("200 OK", "", &format!(r#"{{"data": {{"ok": {ok}}}}}"#))
            } else {
                answer("302 Found", &location, "")
            }
        });
        let web = Web::new(HttpOptions::default()).unwrap();
        let t = web_template(&format!("http://{addr}/away"), "");
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(
            matches!(&e, Error::CrossOriginRedirect { location, .. } if location.contains(&other.to_string())),
            "{e}"
        );
        assert!(seen.recv().is_ok());
        assert!(
            other_seen.try_recv().is_err(),
            "the other origin received a request"
        );
        // Within the origin, redirects are followed and the headers kept.
        let t = web_template(&format!("http://{addr}/same"), "");
        assert_eq!(
            web.request(&t.metrics[0], &token_args(&t)).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn web_timeout() {
        // Accepts and never answers; the metric's own timeoutSeconds bounds the wait.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let conn = listener.accept();
            let _ = hold_rx.recv();
            drop(conn);
        });
        let t = web_template(&format!("http://{addr}/"), "        timeoutSeconds: 1\n");
        let web = Web::new(HttpOptions::default()).unwrap();
        let e = web.request(&t.metrics[0], &token_args(&t)).unwrap_err();
        assert!(matches!(e, Error::Timeout { seconds: 1, .. }), "{e}");
        drop(hold_tx);
    }
}
