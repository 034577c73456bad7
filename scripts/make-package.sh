#!/usr/bin/env bash
# `make package`: the CloudFormation template, offline, and its checks.
#   1. serverless.yml must be what scripts/serverless_yml.py writes from the route table;
#   2. `serverless package` (osls, pinned in package.json) with the Lambda zips of
#      `make lambdas` (target/lambda/<function>/bootstrap.zip; built first if missing);
#   3. cfn-lint (no errors allowed) and checkov (every skipped check is in
#      checkov-skips.txt with its reason).
# With PACKAGE_FROM_DEBUG=1 (what `make test` does) the zips are made from the debug
# build instead, to check the template without a release build: the template does not
# depend on what is inside them.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_serverless
ensure_template_tools

say "checking that serverless.yml matches the route table (scripts/serverless_yml.py)"
python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml
python3 scripts/serverless_yml.py --check || {
  echo "serverless.yml is stale: run python3 scripts/serverless_yml.py and commit it" >&2; exit 1; }

functions=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import serverless_yml as s; print(" ".join(s.build()[0]))')
artifacts="${TUCANO_ARTIFACTS:-target/lambda}"
if [ "${PACKAGE_FROM_DEBUG:-}" = 1 ]; then
  artifacts=target/lambda-debug
  say "zipping the debug build of every function into $artifacts (template check only)"
  cargo build -p tucano-functions --bins --locked -q
  python3 - "$artifacts" $functions <<'PY'
import os, sys, zipfile
out, names = sys.argv[1], sys.argv[2:]
for n in names:
    os.makedirs(f"{out}/{n}", exist_ok=True)
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    with zipfile.ZipFile(f"{out}/{n}/bootstrap.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(info, open(f"target/debug/{n}", "rb").read())
PY
fi
missing() { for f in $functions; do [ -f "$artifacts/$f/bootstrap.zip" ] || return 0; done; return 1; }
if missing && [ "$artifacts" = target/lambda ]; then
  say "some Lambda zips are missing: building them (make lambdas)"
  bash "$ROOT/scripts/make-lambdas.sh"
fi
for f in $functions; do
  [ -f "$artifacts/$f/bootstrap.zip" ] || { echo "missing $artifacts/$f/bootstrap.zip" >&2; exit 1; }
done

say "serverless package (offline) -> .serverless/"
TUCANO_ARTIFACTS="$artifacts" node_modules/.bin/serverless package --stage "${STAGE:-dev}" >"$STATE/package.log" 2>&1 \
  || { cat "$STATE/package.log" >&2; exit 1; }
template=.serverless/cloudformation-template-update-stack.json

say "cfn-lint $template"
.venv-cfn/bin/cfn-lint --format parseable --non-zero-exit-code error --ignore-checks=W3005 -- "$template"

say "checkov (skips and their reasons: checkov-skips.txt)"
skips=$(grep -v '^#' checkov-skips.txt | awk 'NF {print $1}' | paste -sd, -)
.venv-checkov/bin/checkov -f "$template" --framework cloudformation --skip-download --compact --quiet \
  ${skips:+--skip-check "$skips"}
say "template ready: $template"
