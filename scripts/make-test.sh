#!/usr/bin/env bash
# `make test`: every test of the workspace (unit, property, Postgres, end-to-end over HTTP,
# AWS adapters against moto) and the deployment template (packaged offline, linted,
# security-scanned, then checked against the route table by tests/template.rs).
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_postgres
cd "$ROOT"
# moto and the template tools (npm ci, three pip venvs) install while cargo builds, one
# after another (two package installs at once could contend for apt's lock): minutes saved
# on a fresh clone.
say "installing moto, the template and contract tools in the background (osls, Swagger UI, cfn-lint, checkov, schemathesis, pypix-api, chromium; log: .tucano/tools.log)"
( ensure_moto && ensure_serverless && ensure_template_tools && ensure_contract_tools ) >"$STATE/tools.log" 2>&1 &
tools=$!
# One build for everything: `cargo build --bins` and `cargo test` resolve features
# differently (the tests' dev-dependencies), so building the binaries first compiled the
# AWS SDK and much of the tree twice. The test build also makes the binaries the tests
# (and the template's artifact) run.
# A first build gains nothing from incremental compilation and pays for writing its caches
# (the workspace's own crates: 106 s with, 67 s without, measured on 2 cores): off when the
# target directory is new, as in a fresh clone; later runs are incremental again.
if [ ! -d "${CARGO_TARGET_DIR:-$ROOT/target}/debug" ]; then
  say "new target directory: this first build is not incremental"
  export CARGO_INCREMENTAL=0
fi
say "compiling the workspace and its tests (queries checked against the committed .sqlx cache)"
cargo test --workspace --locked --no-run
wait "$tools" || { cat "$STATE/tools.log" >&2; echo "installing moto, the template or contract tools failed" >&2; exit 1; }
# openapi.json is written from the route table and Bacen's spec (../shared/spec beside
# the checkout, when it is there): it must be what the script writes today.
if [ -f "$ROOT/../shared/spec/bacen-pix-api-2.9.0.yaml" ]; then
  say "checking that openapi.json is what scripts/openapi.py writes"
  TUCANO_BIN="$ROOT/target/debug/tucano" python3 scripts/openapi.py --check
else
  say "Bacen's spec is not beside the checkout (../shared/spec): openapi.json is checked against the route table only"
fi
# The contract tests (a Bacen client library, schemathesis) against their own tucano dev,
# while the other tests run.
say "contract tests in the background: pypix-api and schemathesis against tucano dev (log: .tucano/contract.log)"
bash "$ROOT/scripts/contract.sh" >"$STATE/contract.log" 2>&1 &
contract=$!
# The template is packaged and checked (Node, Python) while the other tests run.
say "packaging and checking the template in the background (log: .tucano/package-check.log)"
PACKAGE_FROM_DEBUG=1 PACKAGE_DEBUG_BUILT=1 bash "$ROOT/scripts/make-package.sh" >"$STATE/package-check.log" 2>&1 &
package=$!
# Every test target of the workspace but the template's (same packages selected as the
# build above, so nothing is compiled again), then the template's once it is packaged.
targets=()
while read -r name; do
  [ "$name" = template ] || targets+=(--test "$name")
done < <(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "test" in t["kind"]:
            print(t["name"])')
say "cargo test --workspace: unit tests and $(( ${#targets[@]} / 2 )) test targets (the template's after it is packaged)"
status=0
cargo test --workspace --locked --lib "${targets[@]}" || status=$?
packaged=0
wait "$package" || packaged=$?
cat "$STATE/package-check.log"
contracted=0
wait "$contract" || contracted=$?
cat "$STATE/contract.log"
[ "$status" = 0 ] || echo "tests failed" >&2
[ "$packaged" = 0 ] || echo "make package failed" >&2
[ "$contracted" = 0 ] || echo "contract tests failed" >&2
[ "$status" = 0 ] && [ "$packaged" = 0 ] && [ "$contracted" = 0 ] || exit 1
say "cargo test --test template (the packaged template and its artifact)"
TUCANO_REQUIRE_TEMPLATE=1 cargo test --workspace --locked --test template
