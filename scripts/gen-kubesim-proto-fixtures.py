#!/usr/bin/env python3
"""Captures the request bodies kubectl sends and what it means by them, for slipway-kubesim's protobuf tests.

Called by scripts/gen-kubesim-proto-fixtures.sh. A small HTTP server on 127.0.0.1 stands in for the
apiserver: it answers legacy discovery (enough for kubectl to map resource names), serves a few seeded
objects (for `kubectl expose`), records the method, path, Content-Type and body of every request that has
one, and answers a create with 201 and the object (the expected JSON, so kubectl prints the right name).
For each generated command the script runs
    kubectl ARGS --dry-run=client -o json      -> the object as kubectl built it (the expected JSON)
    kubectl ARGS                               -> the body kubectl sends for it (captured)
and writes, to OUT_DIR:
    cases.jsonl         one case per line: {"args", "contentType", "body" (base64), "expected"} for every
                        protobuf body of a kind slipway_kubesim::protobuf::decode reads
    content-types.txt   which commands sent which Content-Type to which path (the commands that send
                        protobuf, including kinds kubesim does not serve)
Commands are generated from a fixed seed, so a re-run writes the same cases (kubectl 1.32 assumed).
"""
import base64
import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading

KUBECTL = os.environ.get("KUBECTL", "kubectl")

# Kinds the decoder reads (src/protobuf/types.rs KINDS): cases of other kinds only go to content-types.txt.
DECODED = {("v1", k) for k in ("ConfigMap", "Endpoints", "Event", "Namespace", "Node", "Pod", "Secret",
                               "Service", "ServiceAccount")} | {
    ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("discovery.k8s.io/v1", "EndpointSlice"),
    ("autoscaling/v1", "Scale"), ("policy/v1", "Eviction")}

# (group, version, [(plural, kind, namespaced, short names)]) for legacy discovery.
RESOURCES = [
    ("", "v1", [("namespaces", "Namespace", False, ["ns"]), ("pods", "Pod", True, ["po"]),
                ("services", "Service", True, ["svc"]), ("configmaps", "ConfigMap", True, ["cm"]),
                ("secrets", "Secret", True, []), ("serviceaccounts", "ServiceAccount", True, ["sa"]),
                ("endpoints", "Endpoints", True, ["ep"]), ("events", "Event", True, ["ev"]),
                ("nodes", "Node", False, ["no"]), ("resourcequotas", "ResourceQuota", True, ["quota"]),
                ("replicationcontrollers", "ReplicationController", True, ["rc"])]),
    ("apps", "v1", [("deployments", "Deployment", True, ["deploy"]),
                    ("replicasets", "ReplicaSet", True, ["rs"]),
                    ("statefulsets", "StatefulSet", True, ["sts"]),
                    ("daemonsets", "DaemonSet", True, ["ds"])]),
    ("discovery.k8s.io", "v1", [("endpointslices", "EndpointSlice", True, [])]),
    ("autoscaling", "v1", [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"])]),
    ("policy", "v1", [("poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"])]),
    ("batch", "v1", [("jobs", "Job", True, []), ("cronjobs", "CronJob", True, ["cj"])]),
    ("networking.k8s.io", "v1", [("ingresses", "Ingress", True, ["ing"])]),
    ("rbac.authorization.k8s.io", "v1", [("roles", "Role", True, []), ("rolebindings", "RoleBinding", True, []),
                                        ("clusterroles", "ClusterRole", False, []),
                                        ("clusterrolebindings", "ClusterRoleBinding", False, [])]),
    ("scheduling.k8s.io", "v1", [("priorityclasses", "PriorityClass", False, ["pc"])]),
]

LABELS = {"app": "web"}
POD_SPEC = {"containers": [{"name": "web", "image": "nginx:1.27",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}
SEED = {
    "/apis/apps/v1/namespaces/default/deployments/web": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": LABELS, "uid": "u1"},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}},
    "/apis/apps/v1/namespaces/default/replicasets/web-5d8f": {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5d8f", "namespace": "default", "labels": LABELS, "uid": "u2"},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}},
    "/api/v1/namespaces/default/pods/web-pod": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-pod", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                     "uid": "u3"},
        "spec": POD_SPEC},
    "/api/v1/namespaces/default/services/web-svc": {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web-svc", "namespace": "default", "uid": "u4"},
        "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
}


def discovery(path):
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
             "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
            for g, v, _ in RESOURCES if g]}
    for g, v, rs in RESOURCES:
        if path == (f"/apis/{g}/{v}" if g else f"/api/{v}"):
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{g}/{v}" if g else v,
                    "resources": [{"name": p, "singularName": k.lower(), "namespaced": ns, "kind": k,
                                   "shortNames": sn,
                                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                                  for p, k, ns, sn in rs] + [
                        {"name": f"{p}/scale", "namespaced": True, "kind": "Scale", "group": "autoscaling",
                         "version": "v1", "verbs": ["get", "patch", "update"]}
                        for p, _, _, _ in rs if p in ("deployments", "replicasets")]}
    return None


class Capture(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = []
        self.echo = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self):
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                         "message": "not found", "code": 404})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        d = discovery(path)
        if d is not None:
            return self.reply(200, d)
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.4"})
        if path in SEED:
            return self.reply(200, SEED[path])
        return self.not_found()

    def body_request(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with self.server.lock:
            self.server.requests.append((self.command, self.path, self.headers.get("Content-Type", ""), body))
        path = self.path.split("?", 1)[0]
        echo = self.server.echo or SEED.get(path) or {"kind": "Status", "apiVersion": "v1",
                                                      "status": "Success"}
        self.reply(201 if self.command == "POST" else 200, echo)

    do_POST = do_PUT = do_PATCH = do_DELETE = body_request


def kubectl(kubeconfig, args, extra=()):
    # The extra flags go before a `--` that starts a container's command.
    cut = args.index("--") if "--" in args else len(args)
    argv = [KUBECTL, "--kubeconfig", kubeconfig, *args[:cut], *extra, *args[cut:]]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


# --- the commands -------------------------------------------------------------------------------------

IMAGES = ["nginx", "nginx:1.27", "busybox:1.36", "registry.k8s.io/pause:3.10", "127.0.0.1:5000/hello:v1",
          "ghcr.io/acme/api@sha256:" + "ab" * 32, "redis:7-alpine", "example.com:8443/team/app:2024.1"]
KEYS = ["a", "key", "a.b", "_x", "-y", "k-1", "x.y.z", "UPPER", "mixed_Case-9", "dots..", "1", "z" * 40]
VALUES = ["", "v", "hello world", "héllo", "日本語", "emoji 🚀", "line1\nline2", "tab\there", "a=b=c",
          "quote\"s", "back\\slash", " lead", "trail ", "{\"json\": true}", "x" * 200, "∑∫√", "null",
          "0", "true", "ünïcödé ✓"]


def name(rng, prefix):
    return f"{prefix}-{rng.randrange(10**6):06d}"


def literals(rng, n):
    keys = rng.sample(KEYS, n)
    return [f"--from-literal={k}={rng.choice(VALUES)}" for k in keys]


def from_file(rng, files):
    path = rng.choice(sorted(files))
    if rng.random() < 0.3:
        return f"--from-file={rng.choice(KEYS)}={path}"
    return f"--from-file={path}"


def gen_commands(rng, files):
    cmds = []
    for _ in range(90):
        args = ["create", "deployment", name(rng, "dep")]
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            args.append(f"--image={rng.choice(IMAGES)}")
        if rng.random() < 0.6:
            args.append(f"--replicas={rng.choice([0, 1, 2, 3, 5, 10, 100])}")
        if rng.random() < 0.5:
            args.append(f"--port={rng.choice([80, 443, 8080, 9090, 65535])}")
        if rng.random() < 0.3:
            args += ["-n", rng.choice(["team-a", "prod", "kube-system"])]
        cmds.append(args)
    for _ in range(20):
        cmds.append(["create", "namespace", name(rng, "ns")])
    for _ in range(60):
        args = ["create", "configmap", name(rng, "cm"), *literals(rng, rng.randrange(0, 5))]
        if rng.random() < 0.3:
            args.append(from_file(rng, files))
        cmds.append(args)
    for _ in range(50):
        args = ["create", "secret", "generic", name(rng, "sec"), *literals(rng, rng.randrange(0, 5))]
        if rng.random() < 0.3:
            args.append(from_file(rng, files))
        if rng.random() < 0.2:
            args.append(f"--type={rng.choice(['Opaque', 'example.com/custom'])}")
        cmds.append(args)
    for _ in range(10):
        cmds.append(["create", "secret", "docker-registry", name(rng, "reg"),
                     f"--docker-server={rng.choice(['https://index.docker.io/v1/', '127.0.0.1:5000'])}",
                     f"--docker-username={rng.choice(['u', 'ci-bot'])}",
                     f"--docker-password={rng.choice(VALUES[1:])}", "--docker-email=a@example.com"])
    for _ in range(60):
        kind = rng.choice(["clusterip", "clusterip", "nodeport", "loadbalancer", "externalname"])
        args = ["create", "service", kind, name(rng, "svc")]
        if kind == "externalname":
            args.append(f"--external-name={rng.choice(['db.example.com', 'x.internal'])}")
        else:
            for _ in range(rng.choice([1, 1, 2, 3])):
                args.append(f"--tcp={rng.choice([80, 443, 5000])}:{rng.choice([80, 8080, 9000])}")
        if kind == "clusterip" and rng.random() < 0.3:
            args.append("--clusterip=None")
        if kind == "nodeport" and rng.random() < 0.5:
            args.append(f"--node-port={rng.randrange(30000, 32768)}")
        cmds.append(args)
    for _ in range(15):
        cmds.append(["create", "serviceaccount", name(rng, "sa")])
    # run and expose send JSON (content-types.txt): a few of each show it.
    for _ in range(12):
        args = ["run", name(rng, "pod"), f"--image={rng.choice(IMAGES)}"]
        for _ in range(rng.randrange(0, 3)):
            key = rng.choice(KEYS[:-2]).upper().replace(".", "_").replace("-", "_")
            args.append(f"--env={key}={rng.choice(VALUES)}")
        if rng.random() < 0.4:
            args.append("--labels=" + ",".join(f"l{i}={rng.choice(['a', 'b-c', 'x.y'])}"
                                               for i in range(rng.randrange(1, 4))))
        if rng.random() < 0.4:
            args.append(f"--port={rng.choice([80, 8080])}")
        if rng.random() < 0.3:
            args.append(f"--restart={rng.choice(['Never', 'OnFailure', 'Always'])}")
        if rng.random() < 0.2:
            args.append(f"--image-pull-policy={rng.choice(['Always', 'IfNotPresent', 'Never'])}")
        if rng.random() < 0.2:
            args.append("--privileged")
        if rng.random() < 0.2:
            args.append(f"--annotations=note={rng.choice(VALUES)}")
        if rng.random() < 0.3:
            args += ["--command", "--", "sh", "-c", rng.choice(["sleep 3600", "echo 'hi' && exit 0"])]
        elif rng.random() < 0.2:
            args += ["--", "--flag", rng.choice(VALUES)]
        cmds.append(args)
    for _ in range(12):
        target = rng.choice(["deployment/web", "pod/web-pod", "service/web-svc", "replicaset/web-5d8f"])
        args = ["expose", target, f"--port={rng.choice([80, 443, 8080])}", f"--name={name(rng, 'exp')}"]
        if rng.random() < 0.5:
            args.append(f"--target-port={rng.choice(['8080', 'http', '9000'])}")
        if rng.random() < 0.3:
            args.append(f"--type={rng.choice(['NodePort', 'LoadBalancer', 'ClusterIP'])}")
        if rng.random() < 0.2:
            args.append(f"--protocol={rng.choice(['UDP', 'SCTP'])}")
        if rng.random() < 0.2:
            args.append("--labels=exposed=yes")
        if rng.random() < 0.1:
            args.append("--session-affinity=ClientIP")
        cmds.append(args)
    return cmds


# Other commands, run once each for content-types.txt only (kinds kubesim does not serve, or verbs that
# send patches or no body).
PROBES = [
    ["create", "quota", "q", "--hard=pods=10,cpu=2"],
    ["create", "priorityclass", "pc", "--value=1000"],
    ["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
    ["create", "role", "r", "--verb=get", "--resource=pods"],
    ["create", "rolebinding", "rb", "--role=r", "--user=u"],
    ["create", "clusterrole", "cr", "--verb=get", "--resource=pods"],
    ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--user=u"],
    ["create", "job", "j", "--image=busybox"],
    ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *"],
    ["create", "ingress", "ing", "--rule=example.com/=web-svc:80"],
    ["autoscale", "deployment", "web", "--min=1", "--max=3"],
    ["scale", "deployment", "web", "--replicas=3"],
    ["label", "deployment", "web", "x=y"],
    ["annotate", "deployment", "web", "x=y"],
    ["set", "image", "deployment/web", "web=nginx:2"],
    ["rollout", "restart", "deployment/web"],
    ["delete", "deployment", "web", "--wait=false"],
    ["create", "-f", "@MANIFEST@", "--validate=false"],
    ["apply", "-f", "@MANIFEST@", "--validate=false"],
    ["replace", "-f", "@MANIFEST@", "--validate=false"],
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    server = Capture()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp()
    kubeconfig = os.path.join(tmp, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}}}]
users: [{{name: u, user: {{}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u, namespace: default}}}}]
current-context: c
""")
    # Files for --from-file: text, odd names, and bytes that are not UTF-8 (binaryData / Secret data).
    files = {}
    for fname, data in [("plain.txt", b"hello\n"), ("conf.ini", b"[a]\nb = 1\n"),
                        ("bin.dat", bytes(range(256))), ("mixed.bin", b"\xff\xfeok\x00\x80"),
                        ("empty", b""), ("utf8.txt", "été ✓\n".encode())]:
        path = os.path.join(tmp, fname)
        with open(path, "wb") as f:
            f.write(data)
        files[path] = data
    manifest = os.path.join(tmp, "manifest.json")
    with open(manifest, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "b"}}, f)

    rng = random.Random(12)
    cases = []
    content_types = {}
    failures = []

    def run(args):
        rc, stdout, stderr = kubectl(kubeconfig, args, ["--dry-run=client", "-o", "json"])
        try:
            expected = json.loads(stdout) if rc == 0 else None
        except ValueError:
            expected, stderr = None, b"not JSON: " + stdout[:200]
        with server.lock:
            server.requests.clear()
            server.echo = expected
        rc2, _, stderr2 = kubectl(kubeconfig, args)
        with server.lock:
            reqs = list(server.requests)
        return expected, rc2, stderr if rc else stderr2, reqs

    for args in gen_commands(rng, files):
        expected, rc, stderr, reqs = run(args)
        shown = " ".join(a.replace(tmp + "/", "") for a in args)
        if expected is None or rc != 0:
            failures.append((shown, stderr.decode(errors="replace").strip()))
            continue
        verb = " ".join(args[:3] if args[:2] == ["create", "secret"] or args[:2] == ["create", "service"]
                        else args[:2] if args[0] == "create" else args[:1])
        for method, path, ctype, body in reqs:
            key = (verb, method, ctype, path.split("?")[0])
            content_types[key] = content_types.get(key, 0) + 1
            if ctype != "application/vnd.kubernetes.protobuf" or method != "POST":
                continue
            if (expected.get("apiVersion"), expected.get("kind")) not in DECODED:
                continue
            cases.append({"args": [a.replace(tmp + "/", "") for a in args], "contentType": ctype,
                          "body": base64.b64encode(body).decode(), "expected": expected})
    for args in PROBES:
        args = [manifest if a == "@MANIFEST@" else a for a in args]
        with server.lock:
            server.requests.clear()
            server.echo = None
        rc, _, stderr = kubectl(kubeconfig, args)
        with server.lock:
            reqs = list(server.requests)
        shown = " ".join(a.replace(tmp + "/", "") for a in args)
        if not reqs:
            why = stderr.decode(errors="replace").replace(tmp + "/", "").strip().splitlines()[-1:] or [""]
            content_types[(shown, "-", f"no body (rc {rc}: {why[0][:100]})", "-")] = 1
        for method, path, ctype, _ in reqs:
            content_types[(shown, method, ctype, path.split("?")[0])] = 1
    server.shutdown()

    with open(os.path.join(out, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")
    with open(os.path.join(out, "content-types.txt"), "w", encoding="utf-8") as f:
        f.write("# command | method | Content-Type | path (generated commands: count; probes: one run)\n")
        for (verb, method, ctype, path), n in sorted(content_types.items()):
            f.write(f"{verb} | {method} | {ctype} | {path} | {n}\n")
    print(f"{len(cases)} cases; {len(failures)} commands failed", file=sys.stderr)
    for shown, err in failures:
        print(f"  failed: kubectl {shown}: {err}", file=sys.stderr)


if __name__ == "__main__":
    main()
