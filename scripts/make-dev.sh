#!/usr/bin/env bash
# `make dev`: build, start Postgres if needed, make a demo merchant, serve on :PORT.
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-3000}"
ensure_rust
ensure_postgres
cd "$ROOT"
say "building the tucano CLI"
cargo build --locked --bin tucano -q
TUCANO="$ROOT/target/debug/tucano"
"$TUCANO" migrate >/dev/null

# One demo merchant per database, remembered in .tucano/demo-<hash of DATABASE_URL>.json.
demo="$STATE/demo-$(printf '%s' "$DATABASE_URL" | cksum | cut -d' ' -f1).json"
if [ ! -s "$demo" ]; then
  say "creating a demo merchant"
  key="$(cat /proc/sys/kernel/random/uuid)"
  "$TUCANO" merchants create --name "Loja Demo Tucano" --city "SAO PAULO" --pix-key "$key" --json \
    | sed "s/}\$/,\"pix_key\":\"$key\"}/" >"$demo"
fi
api_key="$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$demo")"
pix_key="$(sed -E 's/.*"pix_key":"([^"]+)".*/\1/' "$demo")"
txid="demo$(date +%s)abcdefghijklmnopqrstu"
cat <<TXT

Tucano is starting on http://127.0.0.1:$PORT (Ctrl-C stops it).
Demo merchant API key: $api_key

Create a charge, then read it back:

  curl -s -X PUT http://127.0.0.1:$PORT/cob/$txid \\
    -H 'Authorization: Bearer $api_key' -H 'Content-Type: application/json' \\
    -d '{"calendario":{"expiracao":3600},"valor":{"original":"12.34"},"chave":"$pix_key","solicitacaoPagador":"Pedido 42"}'

  curl -s http://127.0.0.1:$PORT/cob/$txid -H 'Authorization: Bearer $api_key'

TXT
exec "$TUCANO" dev --port "$PORT"
