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
say "installing moto and the template tools in the background (osls, cfn-lint, checkov; log: .tucano/tools.log)"
( ensure_moto && ensure_serverless && ensure_template_tools ) >"$STATE/tools.log" 2>&1 &
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
wait "$tools" || { cat "$STATE/tools.log" >&2; echo "installing moto or the template tools failed" >&2; exit 1; }
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
[ "$status" = 0 ] || echo "tests failed" >&2
[ "$packaged" = 0 ] || echo "make package failed" >&2
[ "$status" = 0 ] && [ "$packaged" = 0 ] || exit 1
say "cargo test --test template (the packaged template and its artifact)"
TUCANO_REQUIRE_TEMPLATE=1 cargo test --workspace --locked --test template
