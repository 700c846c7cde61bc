use std::path::Path;
use std::process::Command;

use slipway_gitops::{ImageSpec, SetImage, env, files, flux, helm, kustomize};

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Asserts that `after` differs from `before` only inside one contiguous run of bytes, which equals `new`
/// in `after` and `old` in `before`.
fn changed_only(before: &str, after: &str, old: &str, new: &str) {
    let prefix = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = before[prefix..]
        .bytes()
        .rev()
        .zip(after[prefix..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let was = &before[prefix..before.len() - suffix];
    let now = &after[prefix..after.len() - suffix];
    assert!(
        old.contains(was) && new.contains(now),
        "changed {was:?} -> {now:?}, expected within {old:?} -> {new:?}"
    );
    assert_eq!(before.replacen(old, new, 1), after);
}

#[test]
fn kustomization_with_comments_quoting_and_anchors_changes_only_the_tag() {
    let before = "# Production overlay\r\napiVersion: kustomize.config.k8s.io/v1beta1\r\nkind: Kustomization\r\nresources: [../../base]   # flow list\r\ncommonAnnotations: &notes\r\n  team: 'payments' # owner\r\nimages:\r\n  # the API\r\n  - name: \"api\"\r\n    newName: 'ghcr.io/acme/api'   # registry\r\n    newTag: \"v1.0.0\" # released\r\n  - name: db\r\n    newTag: '15'\r\nlabels: *notes\r\n";
    let spec = ImageSpec::parse("api=ghcr.io/acme/api:v1.1.0").expect("spec");
    let after = kustomize::set_image("k", before, &spec).expect("edit");
    changed_only(before, &after, "\"v1.0.0\"", "\"v1.1.0\"");
}

#[test]
fn helm_values_in_a_multi_document_file_change_only_the_value() {
    let before = "# defaults\nimage:\n  repository: ghcr.io/acme/api\n  tag: v1   # bumped by CI\n  pullPolicy: IfNotPresent\n---\nimage:\n  tag: other\n";
    let spec = ImageSpec::parse("ghcr.io/acme/api:v2").expect("spec");
    let after = helm::set_image("v", before, &spec, &helm::HelmKeys::default()).expect("edit");
    changed_only(before, &after, "tag: v1 ", "tag: v2 ");
}

#[test]
fn flux_setters_across_documents_change_only_their_values() {
    let before = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: 'ghcr.io/acme/api:v1' # {\"$imagepolicy\": \"flux-system:api\"}\n---\n# second\nkind: ConfigMap\ndata:\n  tag: v1 # {\"$imagepolicy\": \"flux-system:api:tag\"}\n";
    let spec = ImageSpec::parse(&format!("ghcr.io/acme/api:v2@{D}")).expect("spec");
    let after = flux::set_image("f", before, &spec, None).expect("edit");
    assert_eq!(
        after,
        before
            .replace(
                "'ghcr.io/acme/api:v1'",
                &format!("'ghcr.io/acme/api:v2@{D}'")
            )
            .replace("tag: v1 #", &format!("tag: v2@{D} #"))
    );
}

fn kubectl_kustomize(dir: &Path) -> Option<String> {
    let Some(kubectl) = slipway_testkit::find_tool("kubectl") else {
        eprintln!("SKIPPED: kubectl is not installed; `kubectl kustomize` renders are not checked");
        return None;
    };
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("utf-8"))
}

#[test]
fn init_renders_and_set_image_then_promote_render_the_intended_image() {
    let tmp = tempfile::tempdir().expect("tmp");
    let deploy = tmp.path().join("deploy");
    env::init(&deploy, "api", false).expect("init");
    assert!(matches!(
        env::init(&deploy, "api", false),
        Err(slipway_gitops::Error::Exists { .. })
    ));
    let Some(rendered) = kubectl_kustomize(&deploy.join("overlays/dev")) else {
        return;
    };
    assert!(rendered.contains("image: api:latest"), "{rendered}");

    let staging = env::overlay(&deploy, "staging");
    let before = std::fs::read_to_string(&staging).expect("read");
    let spec = ImageSpec::parse(&format!("api=ghcr.io/acme/api:v1@{D}")).expect("spec");
    files::set_image_in(&staging, &SetImage::new(spec))
        .expect("edit")
        .expect("changed");
    let after = std::fs::read_to_string(&staging).expect("read");
    assert_eq!(
        after,
        before.replace(
            "  newTag: latest\n",
            &format!("  newTag: v1\n  newName: ghcr.io/acme/api\n  digest: {D}\n")
        )
    );
    let rendered = kubectl_kustomize(staging.parent().expect("dir")).expect("kubectl");
    assert!(
        rendered.contains(&format!("image: ghcr.io/acme/api:v1@{D}")),
        "{rendered}"
    );

    // Promotion copies exactly what staging runs, then is a no-op.
    env::promote(&deploy, "staging", "prod")
        .expect("promote")
        .expect("changed");
    let rendered = kubectl_kustomize(&deploy.join("overlays/prod")).expect("kubectl");
    assert!(
        rendered.contains(&format!("image: ghcr.io/acme/api:v1@{D}")),
        "{rendered}"
    );
    assert!(rendered.contains("replicas: 3"), "{rendered}");
    assert_eq!(
        env::promote(&deploy, "staging", "prod").expect("promote"),
        None
    );

    // Digest only: the tag goes, as with kustomize edit set image.
    let pin = ImageSpec::parse(&format!("api=ghcr.io/acme/api@{D}")).expect("spec");
    files::set_image_in(&env::overlay(&deploy, "dev"), &SetImage::new(pin)).expect("edit");
    let rendered = kubectl_kustomize(&deploy.join("overlays/dev")).expect("kubectl");
    assert!(
        rendered.contains(&format!("image: ghcr.io/acme/api@{D}")),
        "{rendered}"
    );
}
