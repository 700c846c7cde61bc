//! Environments: the `deploy/base` + `deploy/overlays/{dev,staging,prod}` layout, and promotion between
//! overlays.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::{read_bounded, write_file};
use crate::kustomize;

/// The environments `deploy init` writes, in promotion order.
pub const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// The kustomization of environment `env` under a deploy directory.
pub fn overlay(deploy_dir: &Path, env: &str) -> PathBuf {
    deploy_dir
        .join("overlays")
        .join(env)
        .join("kustomization.yaml")
}

/// The files of the standard layout for service `name`, relative to the deploy directory.
pub fn layout(name: &str) -> Vec<(PathBuf, String)> {
    let base_kustomization = format!(
        "# Base manifests of {name}: every environment under overlays/ builds on these.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\nlabels:\n- pairs:\n    app.kubernetes.io/name: {name}\n  includeSelectors: true\n"
    );
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: {name}\n        # The overlays' `images:` entries name this image and set what runs.\n        image: {name}\n        ports:\n        - name: http\n          containerPort: 8080\n        env:\n        - name: PORT\n          value: \"8080\"\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n        livenessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n        resources:\n          requests:\n            cpu: 50m\n            memory: 64Mi\n          limits:\n            memory: 128Mi\n"
    );
    let service = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"
    );
    let mut files = vec![
        (PathBuf::from("base/kustomization.yaml"), base_kustomization),
        (PathBuf::from("base/deployment.yaml"), deployment),
        (PathBuf::from("base/service.yaml"), service),
    ];
    for (env, replicas) in ENVIRONMENTS.iter().zip([1, 2, 3]) {
        files.push((
            Path::new("overlays").join(env).join("kustomization.yaml"),
            format!(
                "# {env}: `slipway gitops set-image --env {env}` edits the images: entry below;\n# `slipway gitops promote --from A --to B` copies it between environments.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {name}-{env}\nresources:\n- ../../base\nreplicas:\n- name: {name}\n  count: {replicas}\nimages:\n- name: {name}\n  newTag: latest\n"
            ),
        ));
    }
    files
}

/// Writes the standard layout for `name` under `deploy_dir`; refuses to overwrite a file unless `force`.
/// Returns the files written.
pub fn init(deploy_dir: &Path, name: &str, force: bool) -> Result<Vec<PathBuf>> {
    let files = layout(name);
    if !force && let Some((path, _)) = files.iter().find(|(p, _)| deploy_dir.join(p).exists()) {
        return Err(Error::Exists {
            path: deploy_dir.join(path),
        });
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = deploy_dir.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::Io {
                operation: "create",
                path: dir.to_owned(),
                source,
            })?;
        }
        write_file(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}

/// Makes environment `to` run exactly the images `from` runs: every `images:` entry of `from`'s
/// kustomization is written into `to`'s with its newName, newTag and digest (a field `from` lacks is removed
/// from `to`). Returns the file written, or `None` when `to` already ran them.
pub fn promote(deploy_dir: &Path, from: &str, to: &str) -> Result<Option<PathBuf>> {
    let source = overlay(deploy_dir, from);
    let target = overlay(deploy_dir, to);
    let missing = |path: &Path| Error::Io {
        operation: "read",
        path: path.to_owned(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    let from_text = read_bounded(&source)?.ok_or_else(|| missing(&source))?;
    let old = read_bounded(&target)?.ok_or_else(|| missing(&target))?;
    let entries = kustomize::image_entries(&source.display().to_string(), &from_text)?;
    if entries.is_empty() {
        return Err(Error::NoImageToPromote {
            env: from.to_owned(),
            path: source,
        });
    }
    let mut new = old.clone();
    for entry in &entries {
        new = kustomize::set_image(&target.display().to_string(), &new, entry)?;
    }
    if new == old {
        return Ok(None);
    }
    write_file(&target, &new)?;
    Ok(Some(target))
}
