#!/usr/bin/env bash
# `make bench`: `tucano bench all --record` in release — the ledger (hot vs spread), the API
# over HTTP vs its storage floor, the cold start of representative functions vs a
# hello-world Lambda, and the Lambda zip sizes when `make lambdas` has written them — each
# figure as a ratio to its floor measured in the same run, appended to BENCHMARKS.md.
# Uses DATABASE_URL if set (the figures depend on its durability settings, which the
# summary records), else the private Postgres of `make test`.
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_postgres
cd "$ROOT"
if [ -f "${CARGO_TARGET_DIR:-$ROOT/target}/lambda/bootstrap/bootstrap.zip" ]; then
  ensure_cargo_lambda
  say "the hello-world floor as a Lambda zip, built like the functions' (for tucano bench packages)"
  cargo lambda build --release --arm64 --output-format zip -p tucano-hello --locked
fi
say "building the tucano CLI (release)"
cargo build --release --locked --bin tucano -q
say "tucano bench all --record (the function binaries are built by the cold-start scenario)"
"$ROOT/target/release/tucano" bench all --record "$@"
