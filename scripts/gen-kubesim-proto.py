#!/usr/bin/env python3
"""Writes crates/slipway-kubesim/src/protobuf/types.rs: the protobuf schema of the kinds slipway-kubesim
reads from `application/vnd.kubernetes.protobuf` request bodies, as a table.

Called by scripts/gen-kubesim-proto.sh (which documents where the sources come from). Two facts are read
per field and joined on (message, field number):
- from generated.proto (the wire schema): field number, proto type, repeated or map<key, value>;
- from the Go struct tags of the same type (`json:"name,omitempty" protobuf:"bytes,N,opt,name=..."`): the
  JSON name, omitempty, `,inline`, and whether the Go field is a pointer. These decide what the object's
  JSON encoding shows for absent and zero fields (a non-pointer `int32` without omitempty is `0` even when
  the message lacks it; a non-pointer struct is never omitted), which the .proto file does not say.
Only the messages reachable from ROOTS are written. The script stops on anything it does not understand
(an unknown proto type, a field in one source and not the other) rather than guess.
"""
import os
import re
import sys

# (apiVersion, kind, proto message). apiVersion "" = any group-version (meta kinds every group registers).
ROOTS = [
    ("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
    ("v1", "Endpoints", "k8s.io.api.core.v1.Endpoints"),
    ("v1", "Event", "k8s.io.api.core.v1.Event"),
    ("v1", "Namespace", "k8s.io.api.core.v1.Namespace"),
    ("v1", "Node", "k8s.io.api.core.v1.Node"),
    ("v1", "Pod", "k8s.io.api.core.v1.Pod"),
    ("v1", "Secret", "k8s.io.api.core.v1.Secret"),
    ("v1", "Service", "k8s.io.api.core.v1.Service"),
    ("v1", "ServiceAccount", "k8s.io.api.core.v1.ServiceAccount"),
    ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "k8s.io.api.apps.v1.ReplicaSet"),
    ("discovery.k8s.io/v1", "EndpointSlice", "k8s.io.api.discovery.v1.EndpointSlice"),
    ("autoscaling/v1", "Scale", "k8s.io.api.autoscaling.v1.Scale"),
    ("policy/v1", "Eviction", "k8s.io.api.policy.v1.Eviction"),
    ("", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
]

# Proto package -> (source root key, directory under it).
PACKAGES = {
    "k8s.io.api.core.v1": ("api", "core/v1"),
    "k8s.io.api.apps.v1": ("api", "apps/v1"),
    "k8s.io.api.discovery.v1": ("api", "discovery/v1"),
    "k8s.io.api.autoscaling.v1": ("api", "autoscaling/v1"),
    "k8s.io.api.policy.v1": ("api", "policy/v1"),
    "k8s.io.apimachinery.pkg.apis.meta.v1": ("apimachinery", "pkg/apis/meta/v1"),
    "k8s.io.apimachinery.pkg.runtime": ("apimachinery", "pkg/runtime"),
    "k8s.io.apimachinery.pkg.runtime.schema": ("apimachinery", "pkg/runtime/schema"),
    "k8s.io.apimachinery.pkg.util.intstr": ("apimachinery", "pkg/util/intstr"),
    "k8s.io.apimachinery.pkg.api.resource": ("apimachinery", "pkg/api/resource"),
}

# Messages whose JSON is not their fields (custom MarshalJSON in Go) -> the decoder's Special variant.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
}

# The envelope the decoder reads by hand (src/protobuf/mod.rs): checked here so a schema change is noticed.
ENVELOPE = {
    "k8s.io.apimachinery.pkg.runtime.Unknown": {1: "typeMeta", 2: "raw", 3: "contentEncoding", 4: "contentType"},
    "k8s.io.apimachinery.pkg.runtime.TypeMeta": {1: "apiVersion", 2: "kind"},
}

# The scalar types the decoder reads (the Kubernetes API uses no others: no floats, no unsigned).
SCALARS = {"bool": "Bool", "int32": "Int32", "int64": "Int64", "string": "String", "bytes": "Bytes"}
PROTO_SCALARS = {"double", "float", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
                 "sfixed32", "sfixed64"}

FIELD_RE = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_RE = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(path, package):
    """message name -> {number: (label, type, proto name)}; label is optional/repeated/map:KEY."""
    messages = {}
    current = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("//", 1)[0]
            m = re.match(r"^message\s+(\w+)\s*\{", line)
            if m:
                current = {}
                messages[f"{package}.{m.group(1)}"] = current
                continue
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue
            m = FIELD_RE.match(line)
            if m:
                label, ty, name, num = m.groups()
                current[int(num)] = (label, qualify(ty, package), name)
                continue
            m = MAP_RE.match(line)
            if m:
                key, value, name, num = m.groups()
                current[int(num)] = ("map:" + key, qualify(value, package), name)
                continue
            if line.strip() and line.strip() not in ("}",):
                sys.exit(f"{path}: cannot read proto line: {line!r}")
    return messages


def qualify(ty, package):
    if ty in SCALARS:
        return ty
    if ty in PROTO_SCALARS:
        sys.exit(f"{package}: scalar type {ty} is not read by the decoder; teach it first")
    if ty.startswith("."):
        return ty[1:]
    return f"{package}.{ty}"


STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*\{")
TAGGED_RE = re.compile(r"^\s*(\w+\s+)?([^\s`]+)\s+`([^`]*)`")


def parse_go(directory):
    """Go struct name -> {proto field number: (json name, omitempty, inline, pointer)}."""
    structs = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".go") or name.endswith("_test.go") or name == "generated.pb.go":
            continue
        current = None
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            for line in f:
                m = STRUCT_RE.match(line)
                if m:
                    current = structs.setdefault(m.group(1), {})
                    continue
                if line.startswith("}"):
                    current = None
                    continue
                if current is None or "protobuf:\"" not in line or line.lstrip().startswith("//"):
                    continue
                m = TAGGED_RE.match(line)
                if not m:
                    sys.exit(f"{directory}/{name}: cannot read Go field: {line!r}")
                field, gotype, tags = m.groups()
                pb = re.search(r'protobuf:"([^"]*)"', tags).group(1).split(",")
                if pb == ["-"]:
                    continue
                number = int(pb[1])
                js = re.search(r'json:"([^"]*)"', tags)
                parts = js.group(1).split(",") if js else [(field or gotype).strip()]
                json_name = parts[0]
                if not json_name and "inline" not in parts[1:]:
                    json_name = (field or gotype.split(".")[-1]).strip()
                current[number] = (json_name, "omitempty" in parts[1:], "inline" in parts[1:],
                                   gotype.startswith("*"))
    return structs


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen-kubesim-proto.py API_DIR APIMACHINERY_DIR OUT.rs")
    roots = {"api": sys.argv[1], "apimachinery": sys.argv[2]}
    out = sys.argv[3]
    proto = {}
    go = {}
    for package, (root, sub) in PACKAGES.items():
        d = os.path.join(roots[root], sub)
        p = os.path.join(d, "generated.proto")
        if os.path.exists(p):
            proto.update(parse_proto(p, package))
        if os.path.isdir(d):
            go[package] = parse_go(d)

    for message, fields in ENVELOPE.items():
        got = {n: f[2] for n, f in proto[message].items()}
        if got != fields:
            sys.exit(f"{message} changed: {got}; update src/protobuf/mod.rs and ENVELOPE")

    # Reachable messages, in a stable order.
    order = []
    seen = set()
    # The special messages always, so the decoder's handling of each stays compiled and tested.
    stack = [r[2] for r in ROOTS] + sorted(SPECIAL)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        if name in SPECIAL:
            continue
        if name not in proto:
            sys.exit(f"message {name} not found in the .proto files")
        for _, (label, ty, _) in sorted(proto[name].items()):
            if ty not in SCALARS:
                stack.append(ty)
    order.sort()
    index = {name: i for i, name in enumerate(order)}

    rows = []
    for name in order:
        if name in SPECIAL:
            rows.append(f"    Message {{ name: {name!r}, special: Special::{SPECIAL[name]}, fields: &[] }},")
            continue
        package, short = name.rsplit(".", 1)
        gofields = go[package].get(short)
        if gofields is None:
            sys.exit(f"no Go struct {short} in {package}")
        pfields = proto[name]
        if set(gofields) != set(pfields):
            sys.exit(f"{name}: proto fields {sorted(pfields)} but Go tags {sorted(gofields)}")
        fields = []
        for num in sorted(pfields):
            label, ty, pname = pfields[num]
            json_name, omitempty, inline, pointer = gofields[num]
            if label.startswith("map:"):
                key = label[4:]
                if key not in SCALARS:
                    sys.exit(f"{name}.{pname}: map key {key}")
                shape = f"Shape::Map(Ty::{SCALARS[key]})"
            elif label == "repeated":
                shape = "Shape::Repeated"
            elif pointer:
                shape = "Shape::Pointer"
            else:
                shape = "Shape::Value"
            if inline and (ty in SCALARS or label != "optional" or pointer):
                sys.exit(f"{name}.{pname}: inline field that is not an embedded struct")
            ty_rs = f"Ty::{SCALARS[ty]}" if ty in SCALARS else f"Ty::Message({index[ty]})"
            flags = []
            if omitempty:
                flags.append("OMITEMPTY")
            if inline:
                flags.append("INLINE")
            flags_rs = " | ".join(flags) if flags else "0"
            json_rs = '""' if inline else f'"{json_name}"'
            fields.append(f"f({num}, {json_rs}, {ty_rs}, {shape}, {flags_rs})")
        body = ",\n        ".join(fields)
        rows.append(f"    Message {{ name: {name!r}, special: Special::None, fields: &[\n        {body},\n    ] }},")

    kinds = []
    for api_version, kind, message in sorted(ROOTS):
        kinds.append(f"    ({api_version!r}, {kind!r}, {index[message]}),")

    text = f"""// @generated by scripts/gen-kubesim-proto.sh from the generated.proto files and Go struct tags of
// k8s.io/api and k8s.io/apimachinery v0.32.4 (Kubernetes 1.32). Do not edit by hand.
//
// MESSAGES[i]: one proto message; fields sorted by number: f(number, JSON name ("" when inlined), type,
// shape, flags). KINDS: (apiVersion ("" = any), kind, message index) of the objects a body may carry.

use super::schema::{{f, Message, Shape, Special, Ty, INLINE, OMITEMPTY}};

pub(super) static KINDS: &[(&str, &str, u16)] = &[
{chr(10).join(kinds)}
];

pub(super) static MESSAGES: &[Message] = &[
{chr(10).join(rows)}
];
"""
    text = text.replace("name: '", 'name: "').replace("', special", '", special')
    text = re.sub(r"\('([^']*)', '([^']*)', (\d+)\)", r'("\1", "\2", \3)', text)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{out}: {len(order)} messages, {len(ROOTS)} kinds", file=sys.stderr)


if __name__ == "__main__":
    main()
