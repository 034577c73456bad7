#!/usr/bin/env bash
# `make package`: the CloudFormation template, offline, and its checks.
#   1. serverless.yml must be what scripts/serverless_yml.py writes from the route table;
#   2. `serverless package` (osls, pinned in package.json) with the one Lambda zip of
#      `make lambdas` (target/lambda/bootstrap/bootstrap.zip, under CARGO_TARGET_DIR if set;
#      built first if missing), shared by every function;
#   3. cfn-lint (no errors allowed) and checkov (every skipped check is in
#      checkov-skips.txt with its reason), over the root template and the nested stacks
#      deploy/nested-stacks.js writes beside it (one per route family: a stack holds at
#      most 500 resources, and each HTTP function brings ten).
# With PACKAGE_FROM_DEBUG=1 (what `make test` does) the zip is made from the debug build
# instead, to check the template (and run its artifact) without a release build.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_serverless
ensure_template_tools

say "checking that serverless.yml matches the route table (scripts/serverless_yml.py)"
python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml
python3 scripts/serverless_yml.py --check || {
  echo "serverless.yml is stale: run python3 scripts/serverless_yml.py and commit it" >&2; exit 1; }

# Every function runs the one `bootstrap` binary (its handler names its route or job).
target="${CARGO_TARGET_DIR:-$ROOT/target}"
artifacts="${TUCANO_ARTIFACTS:-$target/lambda}"
if [ "${PACKAGE_FROM_DEBUG:-}" = 1 ]; then
  artifacts="$target/lambda-debug"
  say "zipping the debug build of the bootstrap binary into $artifacts (template check only)"
  # make test has just built it (and compiles the tests meanwhile, holding cargo's lock).
  [ "${PACKAGE_DEBUG_BUILT:-}" = 1 ] || cargo build -p tucano-functions --bin bootstrap --locked -q
  python3 - "$artifacts" "$target/debug/bootstrap" <<'PY'
import os, sys, zipfile
out, binary = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/bootstrap", exist_ok=True)
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o755 << 16
with zipfile.ZipFile(f"{out}/bootstrap/bootstrap.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr(info, open(binary, "rb").read())
PY
fi
if [ ! -f "$artifacts/bootstrap/bootstrap.zip" ] && [ "$artifacts" = "$target/lambda" ]; then
  say "the Lambda zip is missing: building it (make lambdas)"
  bash "$ROOT/scripts/make-lambdas.sh"
fi
[ -f "$artifacts/bootstrap/bootstrap.zip" ] || { echo "missing $artifacts/bootstrap/bootstrap.zip" >&2; exit 1; }

say "serverless package (offline) -> .serverless/"
TUCANO_ARTIFACTS="$artifacts" node_modules/.bin/serverless package --stage "${STAGE:-dev}" >"$STATE/package.log" 2>&1 \
  || { cat "$STATE/package.log" >&2; exit 1; }
template=.serverless/cloudformation-template-update-stack.json
# The root stack and its nested stacks per route family (deploy/nested-stacks.js).
templates=("$template" .serverless/nested-*.json)

say "cfn-lint ${templates[*]}"
.venv-cfn/bin/cfn-lint --format parseable --non-zero-exit-code error --ignore-checks=W3005 -- "${templates[@]}"

say "checkov (skips and their reasons: checkov-skips.txt)"
skips=$(grep -v '^#' checkov-skips.txt | awk 'NF {print $1}' | paste -sd, -)
.venv-checkov/bin/checkov -f "${templates[@]}" --framework cloudformation --skip-download --compact --quiet \
  ${skips:+--skip-check "$skips"}
say "template ready: $template"
