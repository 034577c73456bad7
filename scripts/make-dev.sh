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

# The secret Tucano and the rail sign their messages with (dev-only, kept in .tucano/).
if [ -z "${RAIL_WEBHOOK_SECRET:-}" ]; then
  [ -s "$STATE/rail-secret" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$STATE/rail-secret"
  RAIL_WEBHOOK_SECRET="$(cat "$STATE/rail-secret")"
fi
export RAIL_WEBHOOK_SECRET

if [ -z "${PIX_RAIL_URL:-}" ]; then
  say "starting the sandbox Pix rail on 127.0.0.1:$RAIL_PORT (log: .tucano/sandbox-rail.log)"
  "$TUCANO" sandbox-rail --port "$RAIL_PORT" --tucano-url "http://127.0.0.1:$PORT" >"$STATE/sandbox-rail.log" 2>&1 &
  RAIL_PID=$!
  trap 'kill $RAIL_PID 2>/dev/null' EXIT INT TERM
  export PIX_RAIL_URL="http://127.0.0.1:$RAIL_PORT"
else
  say "using the Pix rail at $PIX_RAIL_URL"
fi

# One demo merchant per database, remembered in .tucano/demo-<hash of DATABASE_URL>.json.
demo="$STATE/demo-$(printf '%s' "$DATABASE_URL" | cksum | cut -d' ' -f1).json"
if [ ! -s "$demo" ]; then
  say "creating a demo merchant (fee: 0.99% per received Pix)"
  key="$(cat /proc/sys/kernel/random/uuid)"
  "$TUCANO" merchants create --name "Loja Demo Tucano" --city "SAO PAULO" --pix-key "$key" --fee-percent 0.99 --json \
    | sed "s/}\$/,\"pix_key\":\"$key\"}/" >"$demo"
fi
api_key="$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$demo")"
pix_key="$(sed -E 's/.*"pix_key":"([^"]+)".*/\1/' "$demo")"
txid="demo$(date +%s)abcdefghijklmnopqrstu"
cat <<TXT

Tucano is starting on http://127.0.0.1:$PORT (Ctrl-C stops it and the sandbox rail).
Demo merchant API key: $api_key

Create a charge, then read it back:

  curl -s -X PUT http://127.0.0.1:$PORT/cob/$txid \\
    -H 'Authorization: Bearer $api_key' -H 'Content-Type: application/json' \\
    -d '{"calendario":{"expiracao":3600},"valor":{"original":"12.34"},"chave":"$pix_key","solicitacaoPagador":"Pedido 42"}'

  curl -s http://127.0.0.1:$PORT/cob/$txid -H 'Authorization: Bearer $api_key'

Pay it as a customer would, through the sandbox rail, then see the money:

  target/debug/tucano sandbox pay --rail-url $PIX_RAIL_URL "\$(curl -s http://127.0.0.1:$PORT/cob/$txid -H 'Authorization: Bearer $api_key' | sed -E 's/.*"pixCopiaECola":"([^"]+)".*/\1/')"
  curl -s http://127.0.0.1:$PORT/saldo -H 'Authorization: Bearer $api_key'
  curl -s http://127.0.0.1:$PORT/extrato -H 'Authorization: Bearer $api_key'

TXT
"$TUCANO" dev --port "$PORT"
