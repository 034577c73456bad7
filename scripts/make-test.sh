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
say "building the workspace (queries checked against the committed .sqlx cache)"
cargo build --workspace --bins --locked
wait "$tools" || { cat "$STATE/tools.log" >&2; echo "installing moto or the template tools failed" >&2; exit 1; }
# The template is packaged and checked (Node, Python) while cargo compiles the tests.
say "packaging and checking the template in the background (log: .tucano/package-check.log)"
PACKAGE_FROM_DEBUG=1 PACKAGE_DEBUG_BUILT=1 bash "$ROOT/scripts/make-package.sh" >"$STATE/package-check.log" 2>&1 &
package=$!
say "compiling the tests"
cargo test --workspace --locked --no-run
wait "$package" || { cat "$STATE/package-check.log" >&2; echo "make package failed" >&2; exit 1; }
cat "$STATE/package-check.log"
say "cargo test --workspace"
TUCANO_REQUIRE_TEMPLATE=1 cargo test --workspace --locked
