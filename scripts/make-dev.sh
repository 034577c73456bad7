#!/usr/bin/env bash
# `make dev`: build, start Postgres and the sandbox rail if none is configured, make a demo
# merchant, serve the API on :PORT (default 3000).
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-3000}"
RAIL_PORT="${RAIL_PORT:-3100}"
ensure_rust
ensure_postgres
cd "$ROOT"
say "building the tucano CLI"
cargo build --locked --bin tucano -q
TUCANO="$ROOT/target/debug/tucano"
"$TUCANO" migrate >/dev/null
# Swagger UI for the API reference page (/docs), from npm with the deploy tooling.
ensure_serverless

# AWS=local: the same server on the AWS adapters (DynamoDB idempotency, KMS envelope
# encryption) against a local moto server. moto keeps its keys in memory, so this mode
# uses a database of its own, recreated at each start.
if [ "${AWS:-}" = "local" ]; then
  ensure_moto
  MOTO_PORT="${MOTO_PORT:-4566}"
  say "starting moto server (DynamoDB + KMS API) on 127.0.0.1:$MOTO_PORT"
  "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 &
  MOTO_PID=$!
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=sa-east-1
  for _ in $(seq 1 100); do curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
  read -r KMS_KEY_ID BLIND_INDEX_KEY_WRAPPED < <("$ROOT/.venv/bin/python" - <<'PY'
import boto3, os
kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="sa-east-1")
key = kms.create_key(Description="tucano local")["KeyMetadata"]["KeyId"]
wrapped = kms.generate_data_key(KeyId=key, KeySpec="AES_256",
                                EncryptionContext={"merchant": "none", "purpose": "blind-index-key"})["CiphertextBlob"]
print(key, wrapped.hex())
PY
)
  export CIPHER=kms KMS_KEY_ID BLIND_INDEX_KEY_WRAPPED IDEMPOTENCY_STORE=dynamodb IDEMPOTENCY_TABLE=tucano-idempotency
  base="${DATABASE_URL%/*}"
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS tucano_aws_local WITH (FORCE)" -c "CREATE DATABASE tucano_aws_local" >/dev/null
  export DATABASE_URL="$base/tucano_aws_local"
  rm -f "$STATE/demo-$(printf '%s' "$DATABASE_URL" | cksum | cut -d' ' -f1).json"
  "$TUCANO" migrate >/dev/null
else
  # The local DEV-ONLY cipher's master key, kept in .tucano/.
  [ -s "$STATE/dev-master-key" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$STATE/dev-master-key"
  export CIPHER="${CIPHER:-local}" TUCANO_DEV_MASTER_KEY="${TUCANO_DEV_MASTER_KEY:-$(cat "$STATE/dev-master-key")}"
fi

# Payload signatures (JWS): a DEV-ONLY CA and a signing certificate for this machine's
# location host (127.0.0.1, localhost), made by openssl in .tucano/jws on the first run. The
# sandbox rail, as the payer's bank, trusts that CA; nothing else should.
jws="$STATE/jws"
if [ -z "${PAYLOAD_SIGNING:-}" ] && [ ! -s "$jws/chain.pem" ]; then
  command -v openssl >/dev/null || apt_install openssl
  say "making a DEV-ONLY CA and payload-signing certificate for 127.0.0.1/localhost (.tucano/jws)"
  mkdir -p "$jws"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$jws/ca.key" -out "$jws/ca.pem" -days 825 \
    -subj "/CN=Tucano DEV-ONLY QR CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$jws/leaf.key" -out "$jws/leaf.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' \
    >"$jws/leaf.ext"
  openssl x509 -req -in "$jws/leaf.csr" -CA "$jws/ca.pem" -CAkey "$jws/ca.key" -CAcreateserial -days 825 -sha256 \
    -extfile "$jws/leaf.ext" -out "$jws/leaf.pem" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$jws/leaf.key" -out "$jws/leaf.pk8.pem"
  cat "$jws/leaf.pem" "$jws/ca.pem" >"$jws/chain.pem"
  # The CA signs nothing else: its key goes.
  rm -f "$jws/ca.key" "$jws/leaf.key" "$jws/leaf.csr" "$jws/leaf.ext" "$jws/ca.srl"
fi
if [ -z "${PAYLOAD_SIGNING:-}" ]; then
  export PAYLOAD_SIGNING=local PAYLOAD_KEY_FILE="$jws/leaf.pk8.pem" PAYLOAD_CERT_CHAIN_FILE="$jws/chain.pem"
  export PAYLOAD_TRUST_STORE="${PAYLOAD_TRUST_STORE:-$jws/ca.pem}"
fi

# The secret Tucano and the rail sign their messages with (dev-only, kept in .tucano/).
if [ -z "${RAIL_WEBHOOK_SECRET:-}" ]; then
  [ -s "$STATE/rail-secret" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$STATE/rail-secret"
  RAIL_WEBHOOK_SECRET="$(cat "$STATE/rail-secret")"
fi
export RAIL_WEBHOOK_SECRET

# Webhooks may go to receivers on this machine (http://127.0.0.1): DEVELOPMENT ONLY.
export WEBHOOK_ALLOW_LOCAL="${WEBHOOK_ALLOW_LOCAL:-true}"

if [ -z "${PIX_RAIL_URL:-}" ]; then
  # The API and the sandbox share a simulated clock: `tucano sandbox advance --days N` moves both.
  export SANDBOX_CLOCK_FILE="${SANDBOX_CLOCK_FILE:-$STATE/sandbox-clock}"
  say "starting the sandbox Pix rail on 127.0.0.1:$RAIL_PORT (log: .tucano/sandbox-rail.log)"
  "$TUCANO" sandbox-rail --port "$RAIL_PORT" --tucano-url "http://127.0.0.1:$PORT" >"$STATE/sandbox-rail.log" 2>&1 &
  RAIL_PID=$!
  trap 'kill $RAIL_PID ${MOTO_PID:-} 2>/dev/null' EXIT INT TERM
  export PIX_RAIL_URL="http://127.0.0.1:$RAIL_PORT" LOCATION_SCHEME=http
else
  say "using the Pix rail at $PIX_RAIL_URL"
fi

# One demo merchant per database, remembered in .tucano/demo-<hash of DATABASE_URL>.json.
demo="$STATE/demo-$(printf '%s' "$DATABASE_URL" | cksum | cut -d' ' -f1).json"
# A file from before OAuth clients existed has no client: make a new demo merchant.
if [ -s "$demo" ] && ! grep -q '"client_secret"' "$demo"; then rm -f "$demo"; fi
create_demo() {
  say "creating a demo merchant (fee: 0.99% per received Pix)"
  key="$(cat /proc/sys/kernel/random/uuid)"
  "$TUCANO" merchants create --name "Loja Demo Tucano" --city "SAO PAULO" --pix-key "$key" --fee-percent 0.99 --json \
    | sed "s/}\$/,\"pix_key\":\"$key\"}/" >"$demo"
}
# Its receiver details (fictitious, DEV ONLY), which charges with a due date show.
set_receiver() {
  "$TUCANO" merchants receiver --merchant "$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$demo")" --cnpj 11222333000181 \
    --nome-fantasia "Loja Demo" --logradouro "Rua Demo, 1" --uf SP --cep 01001000 | sed -n 's/.*conta \([0-9]*\).*/\1/p'
}
if [ ! -s "$demo" ]; then create_demo; fi
# A database made anew under the same URL no longer has the remembered merchant: make another.
if ! account="$(set_receiver 2>/dev/null)"; then
  say "the remembered demo merchant is not in this database (made anew?)"
  create_demo
  account="$(set_receiver)"
fi
client_id="$(sed -E 's/.*"client_id":"([^"]+)".*/\1/' "$demo")"
client_secret="$(sed -E 's/.*"client_secret":"([^"]+)".*/\1/' "$demo")"
pix_key="$(sed -E 's/.*"pix_key":"([^"]+)".*/\1/' "$demo")"
txid="demo$(date +%s)abcdefghijklmnopqrstu"
cat <<TXT

Tucano is starting on http://127.0.0.1:$PORT (Ctrl-C stops it and the sandbox rail).
API reference: http://127.0.0.1:$PORT/docs (OpenAPI: /openapi.json)
Payload locations are signed (JWS) with a DEV-ONLY key; its key set: http://localhost:$PORT/.well-known/jwks.json
Demo merchant's OAuth client: client_id $client_id, client_secret $client_secret
Demo merchant's account here (recurring charges' recebedor.conta): $account

The README's walkthrough, with these set (paste them into another shell):

  CLIENT_ID=$client_id CLIENT_SECRET=$client_secret CHAVE=$pix_key CONTA=$account

Get an access token (OAuth2 client credentials; valid one hour):

  TOKEN=\$(curl -s -u '$client_id:$client_secret' -d grant_type=client_credentials \\
    http://127.0.0.1:$PORT/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

Create a charge, then read it back:

  curl -s -X PUT http://127.0.0.1:$PORT/v2/cob/$txid \\
    -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"calendario":{"expiracao":3600},"valor":{"original":"12.34"},"chave":"$pix_key","solicitacaoPagador":"Pedido 42"}'

  curl -s http://127.0.0.1:$PORT/v2/cob/$txid -H "Authorization: Bearer \$TOKEN"

Pay it as a customer would, through the sandbox rail, then see the money:

  target/debug/tucano sandbox pay --rail-url $PIX_RAIL_URL "\$(curl -s http://127.0.0.1:$PORT/v2/cob/$txid -H "Authorization: Bearer \$TOKEN" | sed -E 's/.*"pixCopiaECola":"([^"]+)".*/\1/')"
  curl -s http://127.0.0.1:$PORT/v2/saldo -H "Authorization: Bearer \$TOKEN"
  curl -s http://127.0.0.1:$PORT/v2/extrato -H "Authorization: Bearer \$TOKEN"

TXT
"$TUCANO" dev --port "$PORT"
