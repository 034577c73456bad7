# Shared set-up steps for `make dev` and `make test`: each checks for what it needs and
# installs only what is missing, saying what it does. Sourced, not run.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.tucano"
mkdir -p "$STATE"

say() { printf '==> [%s] %s\n' "$(date +%T)" "$*"; }

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
  # Tests run without fsync (they crash nothing but processes); benchmarks ask for durable
  # commits, as on RDS, with PG_FSYNC=on. A cluster running the other way is restarted.
  local fsync="${PG_FSYNC:-off}"
  if "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 \
    && ! grep -q -- "\"fsync=$fsync\"" "$dir/data/postmaster.opts" 2>/dev/null; then
    say "restarting the private Postgres with fsync=$fsync"
    "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  if ! "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "starting the private Postgres on 127.0.0.1:$port (fsync=$fsync)"
    "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=$fsync" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  fi
  cd "$ROOT"
  PG_DIR="$dir"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  say "using the private Postgres at $DATABASE_URL"
}

# TLS on the private cluster, as RDS Proxy requires it in AWS: a dev-only CA and a server
# certificate for 127.0.0.1 made by openssl (dev-only, under .tucano/pg/tls), and a password role that logs
# in with SCRAM-SHA-256. Plain connections keep working. Exports PG_TLS_ROOT_CERT. With
# DATABASE_URL set, TLS to that server is its operator's: set PG_TLS_ROOT_CERT yourself.
ensure_postgres_tls() {
  ensure_postgres
  if [ -z "${PG_DIR:-}" ]; then return; fi
  local tls="$PG_DIR/tls" data="$PG_DIR/data"
  if [ ! -f "$tls/ca.crt" ]; then
    command -v openssl >/dev/null || apt_install openssl
    say "making a dev-only TLS CA and server certificate for the private Postgres ($tls)"
    rm -rf "$tls" && mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tucano-dev-postgres-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
      -extfile "$tls/server.ext" -out "$tls/server.crt" >/dev/null 2>&1
    chmod 600 "$tls/server.key" "$tls/ca.key"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$tls"; fi
  fi
  local hba="$data/pg_hba.conf" rule="host all tucano_bench 127.0.0.1/32 scram-sha-256"
  if ! grep -qF "$rule" "$hba"; then
    say "the private Postgres: TLS on, role tucano_bench by SCRAM-SHA-256"
    { echo "$rule"; cat "$hba"; } >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
  fi
  psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 >/dev/null <<SQL
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$tls/server.crt';
ALTER SYSTEM SET ssl_key_file = '$tls/server.key';
SELECT pg_reload_conf();
SQL
  export PG_TLS_ROOT_CERT="$tls/ca.crt"
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

# How the Lambda binary is linked: a position-dependent executable (non-PIE). A PIE makes
# the dynamic loader apply ~40,000 relative relocations at every cold start (a third of
# init); without them the executable image sits at a fixed address (no ASLR for it; the
# stack, heap, mmap areas and shared libraries stay randomised). BENCHMARKS.md has the
# figures and README.md ("Deploy to AWS") the trade. Applied only with an explicit
# --target, so build scripts and proc-macros are unaffected.
LAMBDA_RUSTFLAGS="-C relocation-model=static"

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

# Node.js, the Serverless Framework (osls) and Swagger UI (the /docs page), pinned in
# package.json / package-lock.json. SCARF_ANALYTICS=false: swagger-ui-dist's dependency
# would otherwise try to report the install to a third party.
ensure_serverless() {
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  if { [ ! -x "$ROOT/node_modules/.bin/serverless" ] && [ ! -x "$ROOT/node_modules/.bin/osls" ]; } \
    || [ ! -f "$ROOT/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
    say "installing the Serverless Framework (osls), its plugins and Swagger UI from npm (npm ci)"
    (cd "$ROOT" && SCARF_ANALYTICS=false npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The contract tests' tools: schemathesis, a Bacen API Pix client library, an independent
# JOSE library and QR reader (PyPI), and Debian's Chromium for the API reference page's test.
ensure_contract_tools() {
  local pins=('schemathesis==4.32.5' 'pypix-api==0.14.0' 'jwcrypto==1.5.6' 'zxing-cpp==2.3.0' 'pillow==13.0.0')
  ensure_venv .venv-contract schemathesis "${pins[@]}"
  # A venv from before a pin was added gets it now.
  "$ROOT/.venv-contract/bin/python" -c 'import schemathesis, pypix_api, jwcrypto, zxingcpp, PIL' 2>/dev/null \
    || { say "installing ${pins[*]} from PyPI into .venv-contract"
         "$ROOT/.venv-contract/bin/pip" install -q --disable-pip-version-check "${pins[@]}"; }
  command -v chromium >/dev/null || apt_install chromium
}
