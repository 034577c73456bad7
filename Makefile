# Two commands do all the set-up on a fresh Debian machine (see README.md):
#   make dev   - runs the API locally on :3000 (starts its own Postgres unless DATABASE_URL is set)
#   make test  - runs every test, and packages and checks the AWS template
# Each installs what it is missing (Debian packages, the Postgres cluster, Python tools in
# venvs, the Serverless Framework from npm) and says so.
# For AWS:
#   make lambdas - the one release arm64 zip every function runs (cargo-lambda), its size
#   make package - the CloudFormation template from that zip, cfn-lint and checkov
#   make release-check - make lambdas + make package, then the template tests run the real
#                  release artifact (under qemu-user on x86_64); CI runs it after make test
# Benchmarks:
#   make bench   - tucano bench all --record (release): every figure against its floor, in BENCHMARKS.md

.PHONY: dev test lambdas package release-check bench serverless-yml openapi sqlx-prepare fmt

dev:
	@bash scripts/make-dev.sh

test:
	@bash scripts/make-test.sh

lambdas:
	@bash scripts/make-lambdas.sh

package:
	@bash scripts/make-package.sh

release-check:
	@bash scripts/make-release-check.sh

bench:
	@bash scripts/make-bench.sh

# Rewrite serverless.yml from the route table after adding a route.
serverless-yml:
	python3 scripts/serverless_yml.py

# Rewrite openapi.json from the route table and Bacen's spec (../shared/spec) after
# changing a route or an extension's schema (scripts/openapi.py).
openapi:
	python3 scripts/openapi.py

# Refresh the committed .sqlx/ query cache after changing a query (needs sqlx-cli).
sqlx-prepare:
	@bash -c 'source scripts/lib.sh && ensure_postgres && cd "$$ROOT" && \
	  command -v sqlx >/dev/null || cargo install sqlx-cli --version "^0.8" --no-default-features --features postgres,rustls --locked; \
	  export DATABASE_URL="$${DATABASE_URL%/*}/tucano_sqlx" && sqlx database reset -y && \
	  SQLX_OFFLINE=false cargo sqlx prepare --workspace'

fmt:
	cargo fmt --all
