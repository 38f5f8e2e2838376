#!/usr/bin/env bash
# Runs every test against a real ClickHouse, installing what is missing.
# The tests start their own ClickHouse server and stop it when they end; set
# TOUCHPOINT_TEST_CLICKHOUSE_URL to test against a server of your own instead.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_cargo
ensure_clickhouse
ensure_chdb
ensure_holidays
ensure_aiosmtpd
ensure_chromium
ensure_axe
ensure_poppler
ensure_zookeeper
ensure_esbuild
rm -rf target/tmp   # scratch folders of earlier runs
cargo test --locked "$@"
# After the whole suite: every read query it sent to ClickHouse 18.16, run on a current release too.
if [ $# -eq 0 ]; then
    python3 tests/chdb_replay.py "$(cat target/tmp/shared-clickhouse)"
fi
