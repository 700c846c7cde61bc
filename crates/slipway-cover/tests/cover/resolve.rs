//! `ModuleResolver` over a workspace laid out on disk: go.work modules, nested module paths, vendor/,
//! GOROOT/src, and the list of places tried when nothing matches.

use std::fs;
use std::path::Path;

use slipway_cover::{ModuleResolver, ResolveError, SourceResolver};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn resolves_workspace_modules_vendor_and_goroot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("go.work"),
        "go 1.22\n\nuse (\n\t./svc // the service\n\t\"./lib\"\n)\n",
    );
    write(
        &root.join("svc/go.mod"),
        "module example.com/svc\n\ngo 1.22\n",
    );
    write(&root.join("svc/api/api.go"), "package api // svc");
    write(&root.join("svc/main.go"), "package main // svc root");
    write(
        &root.join("lib/go.mod"),
        "// lib\nmodule \"example.com/svc/lib\"\n",
    );
    write(
        &root.join("lib/x.go"),
        "package lib // nested path, own module",
    );
    write(
        &root.join("svc/vendor/golang.org/x/text/t.go"),
        "package text // vendored",
    );
    let goroot = root.join("goroot");
    write(
        &goroot.join("src/strings/strings.go"),
        "package strings // std",
    );

    let resolver = ModuleResolver::discover(root.join("svc/api")).with_goroot(Some(goroot.clone()));
    let paths: Vec<&str> = resolver.modules().iter().map(|m| m.path.as_str()).collect();
    // Longest module path first, so the nested module wins for its own files.
    assert_eq!(paths, ["example.com/svc/lib", "example.com/svc"]);
    let text = |name: &str| String::from_utf8(resolver.resolve(name).unwrap()).unwrap();
    assert_eq!(text("example.com/svc/api/api.go"), "package api // svc");
    assert_eq!(text("example.com/svc/main.go"), "package main // svc root");
    assert_eq!(
        text("example.com/svc/lib/x.go"),
        "package lib // nested path, own module"
    );
    assert_eq!(text("golang.org/x/text/t.go"), "package text // vendored");
    assert_eq!(text("strings/strings.go"), "package strings // std");
    assert_eq!(
        resolver.locate("strings/strings.go"),
        Some(goroot.join("src/strings/strings.go"))
    );

    let err = resolver.resolve("example.com/other/o.go").unwrap_err();
    let ResolveError::NotFound { file, looked } = &err else {
        panic!("{err}");
    };
    assert_eq!(file, "example.com/other/o.go");
    assert_eq!(
        looked,
        &[
            root.join("svc/vendor/example.com/other/o.go"),
            goroot.join("src/example.com/other/o.go"),
            goroot.join("src/vendor/example.com/other/o.go"),
        ]
    );
}

#[test]
fn relative_and_absolute_names_are_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("pkg/a.go"), "package pkg");
    let resolver = ModuleResolver::discover(dir.path()).with_goroot(None);
    assert_eq!(resolver.resolve("./pkg/a.go").unwrap(), b"package pkg");
    let absolute = dir.path().join("pkg/a.go");
    assert_eq!(
        resolver.resolve(absolute.to_str().unwrap()).unwrap(),
        b"package pkg"
    );
}
