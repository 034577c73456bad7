#!/usr/bin/env bash
# `make bench`: `tucano bench all --record` in release — the ledger (hot vs spread, and
# against the raw commit floor), the API over HTTP vs its storage floor, the cold start of
# representative functions vs a hello-world Lambda, the first response with TLS to
# Postgres and its parts, and the deploy build (`make lambdas` from an empty target
# directory) and upload — each figure against its floor or target, appended to BENCHMARKS.md.
# Uses DATABASE_URL if set (then set PG_TLS_ROOT_CERT to its server's certificate; the
# figures depend on its durability settings, which the summary records), else the private
# Postgres of `make test`, restarted with fsync on and given TLS.
source "$(dirname "$0")/lib.sh"
ensure_rust
PG_FSYNC=on ensure_postgres_tls
cd "$ROOT"
say "building the tucano CLI (release)"
cargo build --release --locked --bin tucano -q
say "tucano bench all --record (the function binaries are built by the cold-start scenario)"
"$ROOT/target/release/tucano" bench all --record "$@"
