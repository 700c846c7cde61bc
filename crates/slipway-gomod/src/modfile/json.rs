//! The JSON documents of `go mod edit -json` and `go work edit -json`.
//!
//! Written by hand to reproduce Go's `json.MarshalIndent(v, "", "\t")` byte for byte: fields in struct
//! order, `omitempty` fields left out when empty, HTML-sensitive characters escaped as `\u003c` etc.

use std::fmt::Write as _;

use super::rule::{ModFile, ModuleVersion};
use super::work::WorkFile;

enum Json {
    Str(String),
    Bool(bool),
    Object(Vec<(&'static str, Json)>),
    Array(Vec<Json>),
}

// `encoding/json`'s string escaping with HTML escaping on (the default of json.Marshal).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_value(out: &mut String, v: &Json, depth: usize) {
    let indent = |out: &mut String, n: usize| {
        out.push('\n');
        for _ in 0..n {
            out.push('\t');
        }
    };
    match v {
        Json::Str(s) => write_str(out, s),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v, depth + 1);
            }
            indent(out, depth);
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_value(out, v, depth + 1);
            }
            indent(out, depth);
            out.push(']');
        }
    }
}

fn render(v: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    out
}

fn str_field(fields: &mut Vec<(&'static str, Json)>, name: &'static str, value: &str) {
    if !value.is_empty() {
        fields.push((name, Json::Str(value.to_owned())));
    }
}

fn array_field(fields: &mut Vec<(&'static str, Json)>, name: &'static str, items: Vec<Json>) {
    if !items.is_empty() {
        fields.push((name, Json::Array(items)));
    }
}

// module.Version: Path always, Version omitempty.
fn module_version(m: &ModuleVersion) -> Json {
    let mut fields = vec![("Path", Json::Str(m.path.clone()))];
    str_field(&mut fields, "Version", &m.version);
    Json::Object(fields)
}

fn replace(old: &ModuleVersion, new: &ModuleVersion) -> Json {
    Json::Object(vec![
        ("Old", module_version(old)),
        ("New", module_version(new)),
    ])
}

fn godebug(key: &str, value: &str) -> Json {
    Json::Object(vec![
        ("Key", Json::Str(key.to_owned())),
        ("Value", Json::Str(value.to_owned())),
    ])
}

fn path_only(path: &str) -> Json {
    Json::Object(vec![("Path", Json::Str(path.to_owned()))])
}

impl ModFile {
    /// The document `go mod edit -json` prints for this file (call [`ModFile::sort_blocks`] and
    /// [`ModFile::cleanup`] first to match it exactly, as [`super::edit_json`] does).
    pub fn to_json(&self) -> String {
        let mut module = Vec::new();
        let (path, deprecated) = self
            .module
            .as_ref()
            .map_or(("", ""), |m| (m.path.as_str(), m.deprecated.as_str()));
        module.push(("Path", Json::Str(path.to_owned())));
        str_field(&mut module, "Deprecated", deprecated);
        let mut fields = vec![("Module", Json::Object(module))];
        str_field(
            &mut fields,
            "Go",
            self.go.as_ref().map_or("", |g| g.version.as_str()),
        );
        str_field(
            &mut fields,
            "Toolchain",
            self.toolchain.as_ref().map_or("", |t| t.name.as_str()),
        );
        array_field(
            &mut fields,
            "GoDebug",
            self.godebug
                .iter()
                .map(|g| godebug(&g.key, &g.value))
                .collect(),
        );
        let require = self
            .require
            .iter()
            .map(|r| {
                let mut f = vec![("Path", Json::Str(r.module.path.clone()))];
                str_field(&mut f, "Version", &r.module.version);
                if r.indirect {
                    f.push(("Indirect", Json::Bool(true)));
                }
                Json::Object(f)
            })
            .collect();
        array_field(&mut fields, "Require", require);
        array_field(
            &mut fields,
            "Exclude",
            self.exclude
                .iter()
                .map(|x| module_version(&x.module))
                .collect(),
        );
        array_field(
            &mut fields,
            "Replace",
            self.replace
                .iter()
                .map(|r| replace(&r.old, &r.new))
                .collect(),
        );
        let retract = self
            .retract
            .iter()
            .map(|r| {
                let mut f = Vec::new();
                str_field(&mut f, "Low", &r.interval.low);
                str_field(&mut f, "High", &r.interval.high);
                str_field(&mut f, "Rationale", &r.rationale);
                Json::Object(f)
            })
            .collect();
        array_field(&mut fields, "Retract", retract);
        array_field(
            &mut fields,
            "Tool",
            self.tool.iter().map(|t| path_only(&t.path)).collect(),
        );
        array_field(
            &mut fields,
            "Ignore",
            self.ignore.iter().map(|t| path_only(&t.path)).collect(),
        );
        render(&Json::Object(fields))
    }
}

impl WorkFile {
    /// The document `go work edit -json` prints for this file (after [`WorkFile::sort_blocks`] and
    /// [`WorkFile::cleanup`], as [`super::edit_json`] does).
    pub fn to_json(&self) -> String {
        let mut fields = Vec::new();
        str_field(
            &mut fields,
            "Go",
            self.go.as_ref().map_or("", |g| g.version.as_str()),
        );
        str_field(
            &mut fields,
            "Toolchain",
            self.toolchain.as_ref().map_or("", |t| t.name.as_str()),
        );
        array_field(
            &mut fields,
            "Godebug",
            self.godebug
                .iter()
                .map(|g| godebug(&g.key, &g.value))
                .collect(),
        );
        let uses = self
            .uses
            .iter()
            .map(|u| {
                let mut f = vec![("DiskPath", Json::Str(u.path.clone()))];
                str_field(&mut f, "ModPath", &u.module_path);
                Json::Object(f)
            })
            .collect();
        array_field(&mut fields, "Use", uses);
        array_field(
            &mut fields,
            "Replace",
            self.replace
                .iter()
                .map(|r| replace(&r.old, &r.new))
                .collect(),
        );
        render(&Json::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_encoding_json() {
        let mut s = String::new();
        write_str(&mut s, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn empty_work_file_is_an_empty_object() {
        let w = WorkFile::parse("go.work", "").unwrap();
        assert_eq!(w.to_json(), "{}\n");
    }
}
