#!/usr/bin/env bash
# Contract tests against a real `tucano dev` (a database of its own, the sandbox rail, the
# CLI's merchant and OAuth client), run by `make test`:
#   1. a Bacen API Pix client library written by others (PyPI pypix-api), only its base URL
#      and credentials changed (scripts/bacen_client.py);
#   2. schemathesis with our openapi.json: every operation, bounded in time; no 5xx, no
#      response that violates its schema, no undocumented status code or content type.
# Needs DATABASE_URL (a server where it may create a database) and the debug build.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_contract_tools
TUCANO="$ROOT/target/debug/tucano"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"; RAIL_PORT="$(free_port)"
base="${DATABASE_URL%/*}"
db="tucano_contract_$$"
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$base/$db"
export CIPHER=local TUCANO_DEV_MASTER_KEY="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export RAIL_WEBHOOK_SECRET="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export PIX_RAIL_URL="http://127.0.0.1:$RAIL_PORT" LOCATION_SCHEME=http PIX_LOCATION_BASE="127.0.0.1:$PORT/qr/v2"
export WEBHOOK_ALLOW_LOCAL=true LOG_FORMAT=json
# Payloads signed with the TEST-ONLY key of tests/fixtures/jws (its certificate names
# 127.0.0.1), and the rail, as the payer's bank, trusting its CA.
export PAYLOAD_SIGNING=local PAYLOAD_KEY_FILE="$ROOT/tests/fixtures/jws/leaf.pk8.pem" \
  PAYLOAD_CERT_CHAIN_FILE="$ROOT/tests/fixtures/jws/chain.pem" PAYLOAD_TRUST_STORE="$ROOT/tests/fixtures/jws/ca.pem"
# Generated requests arrive by the thousand: the per-minute list quota would answer most
# of them 429 (documented, but then nothing behind it is exercised).
export QUOTA_LIST_PER_MINUTE=100000 QUOTA_DICT_TOKENS_PJ=100000
"$TUCANO" migrate >/dev/null
"$TUCANO" sandbox-rail --port "$RAIL_PORT" --tucano-url "http://127.0.0.1:$PORT" >"$STATE/contract-rail.log" 2>&1 &
rail=$!
"$TUCANO" dev --port "$PORT" >"$STATE/contract-dev.log" 2>&1 &
dev=$!
cleanup() {
  kill "$dev" "$rail" 2>/dev/null || true
  wait "$dev" "$rail" 2>/dev/null || true
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/openapi.json" -o /dev/null && break; sleep 0.1; done
creds="$("$TUCANO" merchants create --name "Loja Contrato" --pix-key contrato@example.com --json)"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }
client_id="$(field client_id)"; client_secret="$(field client_secret)"
# The receiver details charges with a due date show, so /cobv answers its happy path too.
"$TUCANO" merchants receiver --merchant "$(field id)" --cnpj 11222333000181 --logradouro "Rua do Contrato, 1" \
  --uf PE --cep 50000000 >/dev/null

say "a Bacen API Pix client from PyPI (pypix-api) against tucano dev"
"$ROOT/.venv-contract/bin/python" "$ROOT/scripts/bacen_client.py" "http://127.0.0.1:$PORT" "$client_id" "$client_secret" \
  contrato@example.com "http://127.0.0.1:$RAIL_PORT"

token="$(curl -fs -u "$client_id:$client_secret" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
budget="${CONTRACT_SECONDS:-90}"
say "schemathesis against tucano dev with openapi.json (every operation, at most ${budget} s)"
"$ROOT/.venv-contract/bin/schemathesis" run "$ROOT/openapi.json" --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
  --max-examples 40 --max-time "$budget" --workers 1 --seed 20261203 \
  --output-truncate true --warnings off --report junit --report-dir "$STATE/schemathesis" || {
    echo "schemathesis found responses that break the document (server log: .tucano/contract-dev.log)" >&2
    exit 1
  }
