#!/usr/bin/env bash
# `make test`: every test of the workspace (unit, property, Postgres, end-to-end over HTTP,
# AWS adapters against moto) and the deployment template (packaged offline, linted,
# security-scanned, then checked against the route table by tests/template.rs).
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_postgres
ensure_moto
cd "$ROOT"
say "building the workspace (queries checked against the committed .sqlx cache)"
cargo build --workspace --bins --locked
PACKAGE_FROM_DEBUG=1 bash "$ROOT/scripts/make-package.sh"
say "cargo test --workspace"
TUCANO_REQUIRE_TEMPLATE=1 cargo test --workspace --locked
