//! `slipway_kubesim::protobuf::decode` against the bodies kubectl 1.32 sends (fixtures made by
//! scripts/gen-kubesim-proto-fixtures.sh) and hand-made edge cases.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use slipway_kubesim::protobuf::{Error, Limits, decode, decode_with};

const CASES: &str = include_str!("fixtures/protobuf/cases.jsonl");

/// (command, body, expected JSON) of each fixture, parsed once.
fn cases() -> &'static [(String, Vec<u8>, Value)] {
    static PARSED: std::sync::OnceLock<Vec<(String, Vec<u8>, Value)>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        CASES
            .lines()
            .map(|line| {
                let case: Value = serde_json::from_str(line).expect("a JSON line");
                let args: Vec<&str> = case["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .map(|a| a.as_str().expect("an arg"))
                    .collect();
                let body = base64::engine::general_purpose::STANDARD
                    .decode(case["body"].as_str().expect("body"))
                    .expect("base64");
                (args.join(" "), body, case["expected"].clone())
            })
            .collect()
    })
}

#[test]
fn kubectl_bodies_decode_to_the_objects_kubectl_shows() {
    let cases = cases();
    assert!(cases.len() >= 200, "only {} fixtures", cases.len());
    let mut disagree = Vec::new();
    for (command, body, expected) in cases {
        match decode(body) {
            Ok(got) if got == *expected => {}
            Ok(got) => disagree.push(format!(
                "kubectl {command}\n  expected {expected}\n  got      {got}"
            )),
            Err(e) => disagree.push(format!("kubectl {command}\n  error {e}")),
        }
    }
    assert!(
        disagree.is_empty(),
        "{} of {} fixtures disagree:\n{}",
        disagree.len(),
        cases.len(),
        disagree.join("\n")
    );
}

#[test]
fn fixtures_cover_every_protobuf_create_command_kubesim_serves() {
    let cases = cases();
    for command in [
        "create deployment",
        "create namespace",
        "create configmap",
        "create secret generic",
        "create secret docker-registry",
        "create service clusterip",
        "create service nodeport",
        "create service loadbalancer",
        "create service externalname",
        "create serviceaccount",
    ] {
        let n = cases.iter().filter(|c| c.0.starts_with(command)).count();
        assert!(n >= 5, "{n} fixtures of kubectl {command}");
    }
}

// --- a small encoder for hand-made bodies -----------------------------------------------------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v.to_le_bytes()[0] & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v.to_le_bytes()[0]);
}

fn num(field: u64, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3, &mut out);
    varint(v, &mut out);
    out
}

fn bytes(field: u64, b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint((field << 3) | 2, &mut out);
    varint(b.len() as u64, &mut out);
    out.extend_from_slice(b);
    out
}

fn msg(field: u64, parts: &[Vec<u8>]) -> Vec<u8> {
    bytes(field, &parts.concat())
}

fn body(api_version: &str, kind: &str, object: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"k8s\0".to_vec();
    out.extend(msg(
        1,
        &[bytes(1, api_version.as_bytes()), bytes(2, kind.as_bytes())],
    ));
    out.extend(bytes(2, &object.concat()));
    out
}

/// A Deployment whose spec holds `spec` (fields of `DeploymentSpec`).
fn deployment(spec: &[Vec<u8>]) -> Vec<u8> {
    body(
        "apps/v1",
        "Deployment",
        &[msg(1, &[bytes(1, b"d")]), msg(2, spec)],
    )
}

#[test]
fn absent_fields_show_as_encoding_json_shows_the_go_zero_values() {
    let got = decode(&deployment(&[])).expect("decodes");
    assert_eq!(
        got,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "creationTimestamp": null},
            // selector is a pointer without omitempty: null; template and strategy are structs.
            "spec": {
                "selector": null,
                "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}},
                "strategy": {},
            },
            "status": {},
        })
    );
}

#[test]
fn a_pointer_field_sent_as_zero_is_shown() {
    // DeploymentSpec.replicas (*int32) = 0; DeploymentSpec.minReadySeconds (int32, omitempty) = 0.
    let got = decode(&deployment(&[num(1, 0), num(5, 0)])).expect("decodes");
    assert_eq!(got["spec"]["replicas"], json!(0));
    assert!(got["spec"].get("minReadySeconds").is_none());
}

#[test]
fn times_intorstring_quantities_bytes_and_maps() {
    // Pod metadata.creationTimestamp 2026-12-04T18:21:45Z (nanos dropped as the apiserver drops them),
    // deletionTimestamp sent empty (the zero time: null).
    let meta = msg(
        1,
        &[
            bytes(1, b"p"),
            msg(8, &[num(1, 1_796_408_505), num(2, 5)]),
            bytes(9, b""),
        ],
    );
    let container = msg(
        2,
        &[
            bytes(1, b"c"),
            // ports: containerPort absent (int32 without omitempty: 0)
            msg(6, &[bytes(1, b"http")]),
            // resources.limits: map<string, Quantity>: cpu=500m, memory with no value (zero: "0")
            msg(
                8,
                &[
                    msg(1, &[bytes(1, b"cpu"), msg(2, &[bytes(1, b"500m")])]),
                    msg(1, &[bytes(1, b"memory")]),
                ],
            ),
            // readinessProbe.httpGet.port: IntOrString string "http"; livenessProbe...port int 8080
            msg(
                11,
                &[msg(
                    1,
                    &[msg(2, &[msg(2, &[num(1, 1), bytes(3, b"http")])])],
                )],
            ),
            msg(10, &[msg(1, &[msg(2, &[msg(2, &[num(2, 8080)])])])]),
        ],
    );
    let got = decode(&body("v1", "Pod", &[meta, msg(2, &[container])])).expect("decodes");
    assert_eq!(
        got["metadata"]["creationTimestamp"],
        json!("2026-12-04T18:21:45Z")
    );
    assert_eq!(got["metadata"]["deletionTimestamp"], Value::Null);
    let c = &got["spec"]["containers"][0];
    assert_eq!(c["ports"], json!([{"name": "http", "containerPort": 0}]));
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "500m", "memory": "0"}})
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], json!("http"));
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], json!(8080));

    // Secret.data: map<string, bytes>, base64 in JSON; a value left out is the empty []byte.
    let secret = body(
        "v1",
        "Secret",
        &[
            msg(1, &[bytes(1, b"s")]),
            msg(2, &[bytes(1, b"bin"), bytes(2, &[0, 0xff, 0x80])]),
            msg(2, &[bytes(1, b"none")]),
        ],
    );
    let got = decode(&secret).expect("decodes");
    assert_eq!(got["data"], json!({"bin": "AP+A", "none": ""}));
}

#[test]
fn repeated_occurrences_merge_and_repeat_as_go_unmarshals_them() {
    // spec sent twice: the occurrences merge; containers appended; a scalar sent twice: the last wins.
    let pod = body(
        "v1",
        "Pod",
        &[
            msg(2, &[msg(2, &[bytes(1, b"a")]), bytes(3, b"Always")]),
            msg(2, &[msg(2, &[bytes(1, b"b")]), bytes(3, b"Never")]),
            // an unknown field (number 999) is skipped, as Go skips it
            num(999, 7),
        ],
    );
    let got = decode(&pod).expect("decodes");
    let names: Vec<_> = got["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("b")]);
    assert_eq!(got["spec"]["restartPolicy"], json!("Never"));
}

#[test]
fn packed_repeated_integers_are_read() {
    // Pod.spec.securityContext.supplementalGroups (`repeated int64`), packed and then one unpacked.
    let mut packed = Vec::new();
    for v in [1000u64, 2000, 3] {
        varint(v, &mut packed);
    }
    let pod = body(
        "v1",
        "Pod",
        &[msg(2, &[msg(14, &[bytes(4, &packed), num(4, 4)])])],
    );
    let got = decode(&pod).expect("decodes");
    assert_eq!(
        got["spec"]["securityContext"]["supplementalGroups"],
        json!([1000, 2000, 3, 4])
    );
}

#[test]
fn hostile_bodies_are_errors_that_say_where() {
    assert!(matches!(decode(b"{\"kind\":\"Pod\"}"), Err(Error::Magic)));

    let mut truncated = deployment(&[num(1, 3)]);
    truncated.truncate(truncated.len() - 2);
    let e = decode(&truncated).expect_err("truncated");
    assert!(matches!(e, Error::Truncated { .. }), "{e}");

    // a length far past the end
    let mut long = b"k8s\0".to_vec();
    long.extend([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let e = decode(&long).expect_err("too long");
    assert_eq!(
        e.to_string(),
        "the length-delimited field at byte 4 runs past the end of its message"
    );

    let e = decode(&body("v1", "Pod", &[num(1, 5)])).expect_err("wrong wire type");
    assert_eq!(
        e.to_string(),
        "field Pod.metadata at byte 17 has wire type 0, not 2"
    );

    let e = decode(&body("batch/v1", "Job", &[])).expect_err("unknown kind");
    assert_eq!(e.to_string(), "no protobuf schema for kind Job of batch/v1");

    let mut encoded = body("v1", "Pod", &[]);
    encoded.extend(bytes(3, b"gzip"));
    assert!(matches!(
        decode(&encoded),
        Err(Error::Envelope {
            field: "contentEncoding",
            ..
        })
    ));

    let mut no_kind = b"k8s\0".to_vec();
    no_kind.extend(msg(1, &[bytes(1, b"v1")]));
    assert_eq!(
        decode(&no_kind).expect_err("no kind").to_string(),
        "the envelope names no kind"
    );

    let bad_intstr = deployment(&[msg(4, &[msg(2, &[msg(1, &[num(1, 2)])])])]);
    let e = decode(&bad_intstr).expect_err("IntOrString type 2");
    assert!(
        e.to_string()
            .contains("RollingUpdateDeployment.maxUnavailable"),
        "{e}"
    );
}

#[test]
fn limits_bound_depth_and_size() {
    let d = deployment(&[msg(3, &[msg(2, &[msg(2, &[bytes(1, b"c")])])])]);
    assert!(decode(&d).is_ok());
    let e = decode_with(&d, Limits::default().max_depth(3)).expect_err("too deep");
    assert!(matches!(e, Error::TooDeep { limit: 3, .. }), "{e}");

    // 20,000 empty containers: 40 KB that expand to 60,000 JSON values.
    let containers: Vec<Vec<u8>> = (0..20_000).map(|_| bytes(2, b"")).collect();
    let pod = body("v1", "Pod", &[msg(2, &containers)]);
    assert!(decode(&pod).is_ok());
    let e = decode_with(&pod, Limits::default().max_values(10_000)).expect_err("too large");
    assert!(matches!(e, Error::TooLarge { limit: 10_000, .. }), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = b"k8s\0".to_vec();
        b.extend(tail);
        let _ = decode_with(&b, Limits::default().max_values(100_000));
    }

    #[test]
    fn mangled_kubectl_bodies_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let cases = cases();
        let mut b = cases[which.index(cases.len())].1.clone();
        for (at, byte) in edits {
            let i = 4 + at.index(b.len() - 4);
            b[i] = byte;
        }
        b.truncate(4 + cut.index(b.len() - 3));
        let _ = decode_with(&b, Limits::default().max_values(100_000));
    }
}
