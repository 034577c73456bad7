# Shared set-up steps for `make dev` and `make test`: each checks for what it needs and
# installs only what is missing, saying what it does. Sourced, not run.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.tucano"
mkdir -p "$STATE"

say() { printf '==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
  say "installing Debian packages: $*"
  if [ ! -f "$STATE/.apt-updated" ]; then as_root apt-get update -qq && touch "$STATE/.apt-updated"; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Rust: the machine's toolchain (rustup), or Debian's rustup package where there is one.
ensure_rust() {
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
  if ! command -v cargo >/dev/null; then
    say "cargo not found: installing rustup from Debian and the stable toolchain"
    apt_install rustup || { echo "Install Rust (https://rustup.rs) and run again." >&2; exit 1; }
    rustup default stable
  fi
  if ! command -v cc >/dev/null; then apt_install build-essential; fi
}

pg_bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Postgres: DATABASE_URL if set; else a private cluster under .tucano/pg (started if needed).
# Exports DATABASE_URL.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then say "using DATABASE_URL from the environment"; return; fi
  local bin; bin="$(pg_bindir)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    apt_install postgresql
    bin="$(pg_bindir)"
  fi
  local dir="$STATE/pg" run_as=()
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses root: the cluster belongs to the postgres user, who must reach it.
    run_as=(runuser -u postgres --)
    cd /
    chown postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      dir="/var/tmp/tucano-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
      mkdir -p "$dir" && chown postgres "$dir"
      say "the checkout is not reachable by the postgres user; the cluster lives in $dir"
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "creating a private Postgres cluster in $dir (initdb)"
    "${run_as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if [ ! -f "$dir/port" ]; then
    # A port derived from the checkout path, so two checkouts on one machine do not collide.
    echo $(( 20000 + $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 20000 )) >"$dir/port"
  fi
  local port; port="$(cat "$dir/port")"
  if ! "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "starting the private Postgres on 127.0.0.1:$port"
    "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  fi
  cd "$ROOT"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  say "using the private Postgres at $DATABASE_URL"
}

# moto server (a DynamoDB/KMS-compatible API) in the project's own venv, for the AWS
# adapters' tests and `make dev AWS=local`.
ensure_moto() { ensure_venv .venv moto_server 'moto[server]>=5.2,<5.3'; }

# A Python tool from PyPI in its own venv under the checkout (tools pin clashing versions
# of boto3 and friends, so each gets one): ensure_venv DIR BINARY REQUIREMENT...
ensure_venv() {
  local dir="$ROOT/$1" bin="$2"; shift 2
  if [ -x "$dir/bin/$bin" ]; then return; fi
  if ! command -v python3 >/dev/null; then apt_install python3; fi
  say "installing $* from PyPI into ${dir#"$ROOT"/}"
  if ! python3 -m venv "$dir" >/dev/null 2>&1; then
    rm -rf "$dir"
    apt_install python3-venv
    python3 -m venv "$dir"
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
}

# cargo-lambda (with the zig it cross-links arm64 with) from PyPI.
ensure_cargo_lambda() {
  ensure_venv .venv-lambda cargo-lambda 'cargo-lambda==1.9.2'
  export PATH="$ROOT/.venv-lambda/bin:$PATH"
}

# The template checkers, each in its own venv.
ensure_template_tools() {
  ensure_venv .venv-cfn cfn-lint 'cfn-lint==1.58.0'
  ensure_venv .venv-checkov checkov 'checkov==3.3.30'
}

# Node.js and the Serverless Framework (osls, pinned in package.json / package-lock.json).
ensure_serverless() {
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  if [ ! -x "$ROOT/node_modules/.bin/serverless" ] && [ ! -x "$ROOT/node_modules/.bin/osls" ]; then
    say "installing the Serverless Framework (osls) and its plugins from npm (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
