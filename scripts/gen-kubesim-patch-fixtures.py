#!/usr/bin/env python3
"""Random objects and patches, applied by the real `kubectl patch --local`, recorded as fixtures.

Called by scripts/gen-kubesim-patch-fixtures.sh. Writes OUT_DIR/objects.jsonl (one object a line:
{"id", "object"}) and OUT_DIR/cases.jsonl (one case a line: {"object": id, "type":
"strategic"|"merge"|"json", "patch", and "result" or "error" (kubectl's message without "error: ")}).
Deterministic for a seed (kubectl's answers aside).
"""
import json
import os
import random
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

NAMES = ["app", "proxy", "sidecar", "log", "init", "metrics"]
ENV = ["A", "B", "C", "LEVEL", "PORT"]
VOLS = ["data", "config", "cache", "tls"]
FINALIZERS = ["example.com/a", "example.com/b", "kubernetes", "x/y"]


def container(r, name):
    c = {"name": name, "image": f"{name}:{r.randint(1, 3)}"}
    if r.random() < 0.6:
        c["env"] = [{"name": e, "value": str(r.randint(0, 9))} for e in r.sample(ENV, r.randint(1, 3))]
    if r.random() < 0.5:
        c["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in r.sample([80, 443, 8080, 9090], r.randint(1, 2))]
    if r.random() < 0.3:
        c["args"] = r.sample(["--a", "--b", "--c", "-v"], r.randint(1, 3))
    if r.random() < 0.3:
        c["volumeMounts"] = [{"name": v, "mountPath": "/" + v} for v in r.sample(VOLS, r.randint(1, 2))]
    if r.random() < 0.3:
        c["resources"] = {"limits": {"cpu": "100m"}, "requests": {"memory": "64Mi"}}
    return c


def volume(r, name):
    k = r.choice(["emptyDir", "configMap", "secret"])
    if k == "emptyDir":
        return {"name": name, "emptyDir": {}}
    if k == "configMap":
        return {"name": name, "configMap": {"name": name + "-cm"}}
    return {"name": name, "secret": {"secretName": name + "-s"}}


def pod_spec(r):
    spec = {"containers": [container(r, n) for n in r.sample(NAMES, r.randint(1, 3))]}
    if r.random() < 0.5:
        spec["volumes"] = [volume(r, v) for v in r.sample(VOLS, r.randint(1, 3))]
    if r.random() < 0.2:
        spec["initContainers"] = [container(r, "init")]
    if r.random() < 0.3:
        spec["nodeSelector"] = {"disk": "ssd"}
    return spec


def metadata(r, name):
    m = {"name": name, "labels": {"app": name}}
    if r.random() < 0.5:
        m["labels"]["tier"] = r.choice(["web", "db"])
    if r.random() < 0.5:
        m["annotations"] = {"example.com/note": "x", "a~b": "y"}
    if r.random() < 0.4:
        m["finalizers"] = r.sample(FINALIZERS, r.randint(1, 3))
    return m


def make_object(r, i):
    kind = r.choice(["Deployment", "Deployment", "Pod", "Service"])
    name = f"obj{i}"
    if kind == "Deployment":
        spec = {"replicas": r.randint(1, 5), "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(r)}}
        if r.random() < 0.6:
            spec["strategy"] = ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}
                                if r.random() < 0.7 else {"type": "Recreate"})
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata(r, name), "spec": spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": kind, "metadata": metadata(r, name), "spec": pod_spec(r)}
    ports = [{"name": f"p{p}", "port": p, "targetPort": p + 1000, "protocol": "TCP"} for p in r.sample([80, 443, 8080], r.randint(1, 3))]
    spec = {"selector": {"app": name}, "ports": ports, "type": r.choice(["ClusterIP", "NodePort"])}
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata(r, name), "spec": spec}


def pod_spec_of(obj):
    if obj["kind"] == "Deployment":
        return obj["spec"]["template"]["spec"]
    return obj["spec"]


def smp_containers(r, spec, key="containers"):
    """A strategic patch of a container list, with $setElementOrder sometimes."""
    existing = [c["name"] for c in spec.get(key, [])]
    items = []
    deleted = set()
    for name in existing:
        x = r.random()
        if x < 0.25:
            change = {"name": name, "image": f"{name}:{r.randint(4, 9)}"}
            if r.random() < 0.4:
                change["env"] = [{"name": r.choice(ENV), "value": "p"}]
                if r.random() < 0.3:
                    change["env"].append({"name": r.choice(ENV), "$patch": "delete"})
            if r.random() < 0.2:
                change["ports"] = [{"containerPort": r.choice([80, 81, 8080]), "protocol": "TCP"}]
            if r.random() < 0.2:
                change["args"] = ["--new"]
            if r.random() < 0.15:
                change["resources"] = None
            if r.random() < 0.1:
                change["$setElementOrder/env"] = [{"name": e} for e in r.sample(ENV, 2)]
            items.append(change)
        elif x < 0.35:
            items.append({"name": name, "$patch": "delete"})
            deleted.add(name)
    for name in NAMES:
        if name not in existing and r.random() < 0.2:
            items.append(container(r, name))
    if r.random() < 0.05:
        items.append({"image": "no-name"})  # no merge key: an error
    if r.random() < 0.05:
        items = [{"$patch": "replace"}] + [container(r, n) for n in r.sample(NAMES, 1)]
        return {key: items}
    r.shuffle(items)
    patch = {key: items}
    if r.random() < 0.4:
        order = [n for n in existing if n not in deleted] + [i["name"] for i in items if "name" in i and i.get("$patch") != "delete" and i["name"] not in existing]
        r.shuffle(order)
        if r.random() < 0.8:
            # keep the patch's items in the directive's order, as kubectl writes them
            pos = {n: k for k, n in enumerate(order)}
            items.sort(key=lambda i: (i.get("$patch") == "delete", pos.get(i.get("name"), -1)))
        patch["$setElementOrder/" + key] = [{"name": n} for n in order]
    return patch


def smp_volumes(r, spec):
    existing = [v["name"] for v in spec.get("volumes", [])]
    items = []
    for v in VOLS:
        x = r.random()
        if v in existing and x < 0.2:
            items.append({"name": v, "$patch": "delete"})
        elif v in existing and x < 0.45:
            items.append({"name": v, "$retainKeys": ["name", "emptyDir"], "emptyDir": {}})
        elif x < 0.6:
            items.append(volume(r, v))
    return {"volumes": items}


def strategic_patch(r, obj):
    patch = {}
    spec_patch = {}
    ps = pod_spec_of(obj)
    for _ in range(r.randint(1, 3)):
        x = r.random()
        if obj["kind"] == "Service":
            if x < 0.5:
                ports = []
                for p in [80, 443, 8080, 9000]:
                    y = r.random()
                    if y < 0.2:
                        ports.append({"port": p, "$patch": "delete"})
                    elif y < 0.5:
                        ports.append({"port": p, "targetPort": r.randint(1, 99), "name": f"n{p}"})
                spec_patch["ports"] = ports
                if r.random() < 0.3:
                    spec_patch["$setElementOrder/ports"] = [{"port": p["port"]} for p in ports if "$patch" not in p]
            elif x < 0.7:
                spec_patch["selector"] = {"app": None, "new": "v"}
            else:
                spec_patch["type"] = r.choice(["ClusterIP", "NodePort", None])
            continue
        target = spec_patch if obj["kind"] == "Pod" else spec_patch.setdefault("template", {}).setdefault("spec", {})
        if x < 0.35 and "initContainers" not in target:
            target.update(smp_containers(r, ps))
        elif x < 0.45:
            target.update(smp_volumes(r, ps))
        elif x < 0.5 and "containers" not in target:
            # Not with containers: two failing lists in one map fail in Go's random map order.
            target.update(smp_containers(r, ps, "initContainers"))
        elif x < 0.6:
            patch.setdefault("metadata", {})["labels"] = {"tier": None, "v": str(r.randint(1, 3))}
        elif x < 0.65:
            patch.setdefault("metadata", {})["labels"] = {"$patch": "replace", "only": "this"}
        elif x < 0.72:
            m = patch.setdefault("metadata", {})
            if r.random() < 0.5:
                m["$deleteFromPrimitiveList/finalizers"] = r.sample(FINALIZERS, r.randint(1, 2))
            else:
                m["finalizers"] = r.sample(FINALIZERS, r.randint(1, 2))
            if "finalizers" in m and "$deleteFromPrimitiveList/finalizers" in m:
                # The apiserver visits the two keys in random order: an item in both has no one answer.
                m["$deleteFromPrimitiveList/finalizers"] = [f for f in m["$deleteFromPrimitiveList/finalizers"] if f not in m["finalizers"]]
        elif obj["kind"] == "Deployment" and x < 0.82:
            y = r.random()
            if y < 0.4:
                spec_patch["strategy"] = {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}
            elif y < 0.7:
                spec_patch["strategy"] = {"$retainKeys": ["type", "rollingUpdate"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}
            elif y < 0.85:
                spec_patch["strategy"] = {"$patch": "delete"}
            else:
                spec_patch["strategy"] = {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}  # invalid
        elif obj["kind"] == "Deployment" and x < 0.9:
            spec_patch["replicas"] = r.choice([0, 3, None])
        elif x < 0.95:
            target["nodeSelector"] = {"disk": None, "zone": "a"}
        else:
            target["restartPolicy"] = "Never" if obj["kind"] == "Pod" else "Always"
    if spec_patch:
        patch["spec"] = spec_patch
    return patch


def merge_patch(r, obj):
    def rnd(depth):
        x = r.random()
        if depth > 2 or x < 0.3:
            return r.choice([None, "s", 1, True, [1, None, {"a": None}], {"k": None}])
        return {r.choice(["a", "b", "spec", "replicas", "labels"]): rnd(depth + 1) for _ in range(r.randint(1, 3))}
    patch = {}
    if r.random() < 0.5:
        patch["metadata"] = {"labels": {"app": None, "n": "1"}, "annotations": r.choice([None, {"x": "y"}])}
    if r.random() < 0.7:
        patch["spec"] = rnd(1)
    if r.random() < 0.2:
        patch["extra"] = rnd(1)
    return patch


def paths_of(value, prefix=""):
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_of(v, prefix + "/" + k.replace("~", "~0").replace("/", "~1"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths_of(v, f"{prefix}/{i}")
    return out


def json_patch(r, obj):
    paths = [p for p in paths_of(obj) if p.startswith(("/spec", "/metadata/labels", "/metadata/annotations", "/metadata/finalizers"))]
    ops = []
    for _ in range(r.randint(1, 3)):
        p = r.choice(paths)
        x = r.random()
        if x < 0.2:
            ops.append({"op": "add", "path": p + r.choice(["/new", "/-", "/0", "/99", ""]), "value": r.choice(["v", 5, {"k": 1}])})
        elif x < 0.35:
            ops.append({"op": "remove", "path": r.choice([p, p + "/missing"])})
        elif x < 0.55:
            ops.append({"op": "replace", "path": r.choice([p, p + "/missing", "/spec/nope/x"]), "value": "r"})
        elif x < 0.7:
            ops.append({"op": "test", "path": p, "value": r.choice(["x", 1, None])})
        elif x < 0.8:
            ops.append({"op": "copy", "from": p, "path": r.choice(paths) if r.random() < 0.5 else "/spec/copied"})
        elif x < 0.9:
            q = r.choice(paths)
            ops.append({"op": "move", "from": p, "path": "/metadata/annotations/moved" if r.random() < 0.7 else q})
        else:
            ops.append({"op": r.choice(["add", "bogus"]), "path": "/metadata/labels/a~1b~0c", "value": "esc"})
    return ops


def run(job):
    obj_file, kind, patch = job
    p = subprocess.run(["kubectl", "patch", "--local", "-f", obj_file, "--type", kind, "-p", json.dumps(patch), "-o", "json"],
                       capture_output=True, text=True, env={**os.environ, "KUBECONFIG": "/nonexistent/kubeconfig"})
    if p.returncode == 0:
        return {"result": json.loads(p.stdout)}
    err = p.stderr.strip()
    if err.startswith("error: "):
        err = err[len("error: "):]
    return {"error": err}


def main():
    out_dir, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    r = random.Random(seed)
    n_objects = max(8, count // 10)
    objects = [make_object(r, i) for i in range(n_objects)]
    tmp = tempfile.mkdtemp(prefix="kubesim-patch-")
    files = []
    for i, o in enumerate(objects):
        f = os.path.join(tmp, f"{i}.json")
        with open(f, "w") as fh:
            json.dump(o, fh)
        files.append(f)
    cases = []
    for n in range(count):
        i = r.randrange(n_objects)
        x = r.random()
        if x < 0.7:
            cases.append({"object": i, "type": "strategic", "patch": strategic_patch(r, objects[i])})
        elif x < 0.85:
            cases.append({"object": i, "type": "merge", "patch": merge_patch(r, objects[i])})
        else:
            cases.append({"object": i, "type": "json", "patch": json_patch(r, objects[i])})
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, [(files[c["object"]], c["type"], c["patch"]) for c in cases]))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "objects.jsonl"), "w") as fh:
        for i, o in enumerate(objects):
            fh.write(json.dumps({"id": i, "object": o}, separators=(",", ":"), sort_keys=True) + "\n")
    with open(os.path.join(out_dir, "cases.jsonl"), "w") as fh:
        for c, o in zip(cases, outcomes):
            c.update(o)
            fh.write(json.dumps(c, separators=(",", ":"), sort_keys=True) + "\n")
    errors = sum(1 for o in outcomes if "error" in o)
    print(f"{count} cases ({errors} kubectl errors), {n_objects} objects -> {out_dir}")


if __name__ == "__main__":
    main()
