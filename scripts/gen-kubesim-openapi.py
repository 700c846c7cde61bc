#!/usr/bin/env python3
"""Trims the apiserver's OpenAPI v3 documents to the kinds slipway-kubesim serves.

Called by scripts/gen-kubesim-openapi.sh (which documents where the source documents come from).
Keeps, per group-version document: the group root path, every path of a served kind (list, item and
the subresources kubesim serves) with their operations, parameters, request bodies, responses and
x-kubernetes-* extensions, and every component schema those paths reference, transitively. Schemas are
kept whole (descriptions for `kubectl explain`, the x-kubernetes-* extensions for strategic merge and
server-side apply). Two things are left out to keep the documents small: the deprecated `/watch/` path
forms (kubesim serves watches as `?watch=true` on the list paths, as clients use them) and the prose
`description` of operations and parameters inside `paths` (the same paragraphs repeated on every
operation; names, locations and types of the parameters stay).
"""
import json
import os
import sys

# Source file name -> (path prefix, {plural: {served subresources}}).
DOCUMENTS = {
    "api__v1": ("/api/v1", {
        "namespaces": {"status"},
        "nodes": {"status"},
        "pods": {"status", "log"},
        "services": {"status"},
        "endpoints": set(),
        "configmaps": set(),
        "secrets": set(),
        "serviceaccounts": set(),
        "events": set(),
    }),
    "apis__apps__v1": ("/apis/apps/v1", {
        "deployments": {"status", "scale"},
        "replicasets": {"status", "scale"},
    }),
    "apis__discovery.k8s.io__v1": ("/apis/discovery.k8s.io/v1", {
        "endpointslices": set(),
    }),
    "apis__apiextensions.k8s.io__v1": ("/apis/apiextensions.k8s.io/v1", {
        "customresourcedefinitions": {"status"},
    }),
}


def served(path, prefix, kinds):
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix):]
    if rest == "/":
        return True  # the group-version's resource list (getAPIResources)
    segments = rest.strip("/").split("/")
    if segments[:1] == ["watch"]:
        return False  # deprecated; watches are `?watch=true` on the list paths
    if segments[:2] == ["namespaces", "{namespace}"] and len(segments) > 2:
        segments = segments[2:]
    if not segments or segments[0] not in kinds:
        return False
    if len(segments) == 1:
        return True
    if len(segments) == 2:
        return segments[1] == "{name}"
    if len(segments) == 3:
        return segments[1] == "{name}" and segments[2] in kinds[segments[0]]
    return False


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.append(value)
            else:
                refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def without_descriptions(node):
    if isinstance(node, dict):
        return {k: without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [without_descriptions(v) for v in node]
    return node


def trim(doc, prefix, kinds):
    paths = {p: without_descriptions(ops) for p, ops in doc["paths"].items() if served(p, prefix, kinds)}
    schemas = doc["components"]["schemas"]
    kept = {}
    pending = []
    refs(paths, pending)
    while pending:
        ref = pending.pop()
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/components/schemas/"):
            raise SystemExit(f"unexpected reference {ref}")
        if name in kept:
            continue
        kept[name] = schemas[name]
        refs(schemas[name], pending)
    out = dict(doc)
    out["paths"] = paths
    out["components"] = dict(doc["components"])
    out["components"]["schemas"] = kept
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: gen-kubesim-openapi.py SOURCE_DIR OUT_DIR")
    source, out_dir = sys.argv[1], sys.argv[2]
    for name, (prefix, kinds) in DOCUMENTS.items():
        with open(os.path.join(source, name + "_openapi.json"), encoding="utf-8") as f:
            doc = json.load(f)
        trimmed = trim(doc, prefix, kinds)
        missing = sorted(set(kinds) - {p[len(prefix):].strip("/").split("/")[-1] for p in trimmed["paths"]})
        if missing:
            raise SystemExit(f"{name}: no paths for {missing}")
        text = json.dumps(trimmed, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        target = os.path.join(out_dir, name + ".json")
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{target}: {len(trimmed['paths'])} paths, {len(trimmed['components']['schemas'])} schemas, {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
