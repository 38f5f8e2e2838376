#!/usr/bin/env bash
# Runs the service with a local ClickHouse it starts itself (data in
# ./data/clickhouse), the example journey from ./dashboards and a small demo data
# set, installing what is missing. Serves on http://127.0.0.1:8080 until Ctrl-C.
# Extra arguments go to `touchpoint serve`; TOUCHPOINT_* variables apply.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_cargo
if [ -z "${TOUCHPOINT_CLICKHOUSE_URL:-}" ]; then ensure_clickhouse; fi
cargo build --release --locked
# Without a touchpoint.toml of your own, the example config (site `demo`) applies.
if [ ! -f touchpoint.toml ]; then set -- --config touchpoint.example.toml "$@"; fi
# --demo fills the example journey with synthetic data while it is still empty.
exec target/release/touchpoint serve --demo "$@"
