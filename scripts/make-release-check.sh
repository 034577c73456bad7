#!/usr/bin/env bash
# `make release-check`: the real deploy artifact, checked. Builds the release arm64 zip
# (`make lambdas`), packages the template with it (`make package`), then runs the template
# tests against it: every function's declared architecture matches the binary, and the zip
# each packaged function gets answers three different routes under the Runtime API emulator
# (on an x86_64 machine the arm64 binary runs under qemu's user-mode emulator, with Debian's
# arm64 C library). CI runs it after `make test`.
source "$(dirname "$0")/lib.sh"
ensure_rust
ensure_postgres
cd "$ROOT"
if [ "$(uname -m)" != aarch64 ]; then
  if ! command -v qemu-aarch64-static >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    apt_install qemu-user-static libc6-arm64-cross
  fi
fi
bash "$ROOT/scripts/make-lambdas.sh"
bash "$ROOT/scripts/make-package.sh"
say "cargo test --test template against the release artifact"
# --workspace: the same feature set as `make test`, so its build is reused.
TUCANO_REQUIRE_TEMPLATE=1 TUCANO_RELEASE_ARTIFACT=1 cargo test --workspace --locked --test template
