# Two commands do all the set-up on a fresh Debian machine (see README.md):
#   make dev   - runs the API locally on :3000 (starts its own Postgres unless DATABASE_URL is set)
#   make test  - runs every test
# Each installs what it is missing (Debian packages, the Postgres cluster) and says so.

.PHONY: dev test sqlx-prepare fmt

dev:
	@bash scripts/make-dev.sh

test:
	@bash scripts/make-test.sh

# Refresh the committed .sqlx/ query cache after changing a query (needs sqlx-cli).
sqlx-prepare:
	@bash -c 'source scripts/lib.sh && ensure_postgres && cd "$$ROOT" && \
	  command -v sqlx >/dev/null || cargo install sqlx-cli --version "^0.8" --no-default-features --features postgres,rustls --locked; \
	  export DATABASE_URL="$${DATABASE_URL%/*}/tucano_sqlx" && sqlx database reset -y && \
	  SQLX_OFFLINE=false cargo sqlx prepare --workspace'

fmt:
	cargo fmt --all
