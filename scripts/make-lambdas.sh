#!/usr/bin/env bash
# `make lambdas`: the one release arm64 Lambda binary every function runs, zipped with
# cargo-lambda (from PyPI, with the zig it links arm64 with) into
# target/lambda/bootstrap/bootstrap.zip, and the hello-world floor beside it; then sizes.
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_cargo_lambda
cd "$ROOT"
target="${CARGO_TARGET_DIR:-$ROOT/target}"
start=$(date +%s)
say "cargo lambda build --release --arm64 --output-format zip --bin bootstrap (every function runs it)"
cargo lambda build --release --arm64 --output-format zip -p tucano-functions --bin bootstrap --locked
say "the hello-world floor, built the same way (for tucano bench packages)"
cargo lambda build --release --arm64 --output-format zip -p tucano-hello --locked
say "built in $(( $(date +%s) - start )) s; zip sizes"
for name in bootstrap hello; do
  zip="$target/lambda/$name/bootstrap.zip"
  printf "%-10s %s\n" "$name" "$(stat -c %s "$zip" | awk '{printf "%.2f MiB", $1 / 1048576}')"
done
