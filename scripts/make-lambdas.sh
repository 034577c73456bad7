#!/usr/bin/env bash
# `make lambdas`: the one release arm64 Lambda binary every function runs (non-PIE, see
# LAMBDA_RUSTFLAGS in lib.sh), zipped with cargo-lambda (from PyPI, with the zig it links
# arm64 with) into target/lambda/bootstrap/bootstrap.zip, and its size. Built alone, so
# that the CLI's tokio features (signal, process) do not reach the Lambda binary.
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_cargo_lambda
cd "$ROOT"
target="${CARGO_TARGET_DIR:-$ROOT/target}"
start=$(date +%s)
say "cargo lambda build --release --arm64 --output-format zip --bin bootstrap (every function runs it; non-PIE: $LAMBDA_RUSTFLAGS)"
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$LAMBDA_RUSTFLAGS" cargo lambda build --release --arm64 --output-format zip -p tucano-functions --bin bootstrap --locked
zip="$target/lambda/bootstrap/bootstrap.zip"
say "built in $(( $(date +%s) - start )) s: $zip, $(stat -c %s "$zip" | awk '{printf "%.2f MiB", $1 / 1048576}') (every function's code, uploaded once)"
