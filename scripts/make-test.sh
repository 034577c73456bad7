#!/usr/bin/env bash
# `make test`: every test of the workspace (unit, property, Postgres, end-to-end over HTTP).
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_postgres
ensure_moto
cd "$ROOT"
say "cargo test --workspace (queries checked against the committed .sqlx cache)"
cargo test --workspace --locked
