#!/usr/bin/env bash
# The booking of a received Pix at the SQL level, before and after migration
# 20261202000002 and the autocommitted booking, measured with pgbench (a C client, so the
# client's cost is small) on the same Postgres in one run:
#   before: liveness ping, owner lookup, BEGIN, the booking statement with per-row posting
#           and zero-sum triggers, COMMIT, sqlx's ping on release (scripts/ledger-ab/old.sql);
#   after:  owner lookup, the booking statement alone (autocommit) with the statement-level
#           trigger, the ping on release (new.sql);
#   floor:  a one-row insert-and-commit (floor.sql).
# (SELECT 1 stands for sqlx's pings, which are an empty Sync: slightly dearer here.)
# Usage: bash scripts/ledger-ab.sh [seconds per run]   (DATABASE_URL, else make test's Postgres)
source "$(dirname "$0")/lib.sh"
[ -n "${DATABASE_URL:-}" ] || ensure_postgres
cd "$ROOT"
seconds="${1:-10}"
server="${DATABASE_URL%/*}"
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
[ -x "$pgbench" ] || { echo "pgbench not found (Debian: postgresql-contrib)" >&2; exit 1; }
for db in ledger_ab_before ledger_ab_after; do
  psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  for f in migrations/*.sql; do
    [ "$db" = ledger_ab_before ] && [[ "$f" == *20261202000002* ]] && continue
    # (20261201000003 grants on sqlx's own table, absent here: harmless.)
    psql -q "$server/$db" -f "$f" >/dev/null 2>&1 || true
  done
  psql -q "$server/$db" -f scripts/ledger-ab/seed.sql
done
psql -q "$server/ledger_ab_after" -c "CREATE TABLE commit_floor (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bigint NOT NULL)"
# Three rounds, alternating, medians: this machine's figures move by 2x from minute to minute.
echo "| concurrency | before tps | after tps | floor tps | after / before | after / floor |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in 1 16; do
  run() { "$pgbench" -n -M prepared -c "$c" -j "$(( c < 2 ? 1 : 2 ))" -T "$seconds" -f "scripts/ledger-ab/$2" "$server/$1" 2>&1 \
            | awk '/^tps/ {printf "%.0f", $3}'; }
  b=(); a=(); f=()
  for round in 1 2 3; do
    b+=("$(run ledger_ab_before old.sql)"); a+=("$(run ledger_ab_after new.sql)"); f+=("$(run ledger_ab_after floor.sql)")
  done
  python3 - "$c" "${b[*]}" "${a[*]}" "${f[*]}" <<'PY2'
import statistics, sys
c, (b, a, f) = sys.argv[1], [statistics.median(map(float, x.split())) for x in sys.argv[2:5]]
print(f"| {c} | {b:.0f} | {a:.0f} | {f:.0f} | {a / b:.2f} | {a / f:.3f} |")
PY2
done
