#!/usr/bin/env bash
# Vendors GitLab's CI JSON schema (GitLab's app/assets/javascripts/editor/schema/ci.json, as the PyPI
# package check-jsonschema ships it under check_jsonschema/builtin_schemas/vendor/gitlab-ci.json) into
# crates/slipway-cli/tests/schemas/, with its license, after checking it against the sha256 the package
# records beside it. The `slipway init` tests validate the generated .gitlab-ci.yml against it.
#
# Bump CHECK_JSONSCHEMA_VERSION (and scripts/install-test-tools.sh's, the validator) to take a newer schema.
set -euo pipefail

CHECK_JSONSCHEMA_VERSION="${CHECK_JSONSCHEMA_VERSION:-0.39.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/crates/slipway-cli/tests/schemas"
python="$root/.tools/venv/bin/python"
[ -x "$python" ] || python=python3

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download -q --disable-pip-version-check --no-deps -d "$work" \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
wheel="$(ls "$work"/check_jsonschema-*.whl)"
vendor=check_jsonschema/builtin_schemas/vendor
"$python" - "$wheel" "$work" "$vendor" <<'PY'
import sys, zipfile
wheel, out, vendor = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for member, name in [
        (f"{vendor}/gitlab-ci.json", "gitlab-ci.json"),
        (f"{vendor}/sha256/gitlab-ci.sha256", "gitlab-ci.sha256"),
        (f"{vendor}/licenses/LICENSE.gitlab", "LICENSE.gitlab"),
    ]:
        with open(f"{out}/{name}", "wb") as f:
            f.write(z.read(member))
PY
expected="$(tr -d ' \n' <"$work/gitlab-ci.sha256")"
actual="$(sha256sum "$work/gitlab-ci.json" | cut -d' ' -f1)"
if [ "$expected" != "$actual" ]; then
    echo "vendor-gitlab-ci-schema: gitlab-ci.json has sha256 $actual, the package records $expected" >&2
    exit 1
fi
mkdir -p "$dest"
cp "$work/gitlab-ci.json" "$work/LICENSE.gitlab" "$dest/"
cat >"$dest/SOURCE.md" <<MD
# gitlab-ci.json

GitLab's CI configuration schema (GitLab's \`app/assets/javascripts/editor/schema/ci.json\`, MIT Expat
part of GitLab's license: LICENSE.gitlab), as vendored by the PyPI package
check-jsonschema $CHECK_JSONSCHEMA_VERSION (\`check_jsonschema/builtin_schemas/vendor/gitlab-ci.json\`,
sha256 $actual).

Fetched by \`scripts/vendor-gitlab-ci-schema.sh\`; \`slipway init\`'s tests (crates/slipway-cli/tests/cli/init.rs)
validate the generated .gitlab-ci.yml against it with check-jsonschema, which
scripts/install-test-tools.sh installs into .tools.
MD
echo "vendor-gitlab-ci-schema: $dest/gitlab-ci.json (check-jsonschema $CHECK_JSONSCHEMA_VERSION, sha256 $actual)" >&2
