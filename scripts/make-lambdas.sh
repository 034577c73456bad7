#!/usr/bin/env bash
# `make lambdas`: every function as a release arm64 Lambda zip,
# target/lambda/<function>/bootstrap.zip, with cargo-lambda (from PyPI, with the zig it
# links arm64 with), then each zip's size.
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_cargo_lambda
cd "$ROOT"
say "cargo lambda build --release --arm64 --output-format zip (every function)"
cargo lambda build --release --arm64 --output-format zip -p tucano-functions --locked
say "the hello-world floor, built the same way (for tucano bench packages)"
cargo lambda build --release --arm64 --output-format zip -p tucano-hello --locked
say "zip sizes"
for zip in target/lambda/*/bootstrap.zip; do
  [ "$(basename "$(dirname "$zip")")" = hello ] && continue
  printf "%-24s %s\n" "$(basename "$(dirname "$zip")")" "$(stat -c %s "$zip" | awk "{printf \"%.2f MiB\", \$1 / 1048576}")"
done | sort -k2 -n
