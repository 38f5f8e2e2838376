"""Replays on chdb (a current ClickHouse release, in-process) every read query
the test suite sent to its shared ClickHouse 18.16 server, to prove the
service's SQL runs on both dialects, not only the statements chosen by hand in
tests/it/migrations.rs.

Usage: python3 tests/chdb_replay.py DIR, where DIR is the shared server's data
folder that tests/it/support.rs names in target/tmp/shared-clickhouse. The
server logged its queries (users.d/log_queries.xml); this starts it again on
that folder, reads system.query_log, stops it, migrates an empty chdb database
from migrations/*.sql and runs each distinct SELECT there.

A query that names a table no migration creates (a test's own scratch table)
is skipped; any other error fails the run with the query.
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

try:
    from chdb import session
except ImportError:
    sys.exit("chdb is not installed: python3 -m pip install chdb-core (./scripts/test.sh does it)")

root = pathlib.Path(sys.argv[1])
repo = pathlib.Path(__file__).resolve().parent.parent
http = int((root / "ports").read_text().split()[0])
password = (root / "password").read_text().strip()


def ask(sql):
    url = f"http://127.0.0.1:{http}/?" + urllib.parse.urlencode({"user": "default", "password": password})
    with urllib.request.urlopen(urllib.request.Request(url, data=sql.encode()), timeout=60) as r:
        return r.read().decode()


server = subprocess.Popen(
    ["clickhouse-server", f"--config-file={root / 'config.xml'}"],
    cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
try:
    for _ in range(300):
        try:
            ask("SELECT 1")
            break
        except Exception:
            time.sleep(0.1)
    logged = ask(
        "SELECT DISTINCT query FROM system.query_log WHERE type = 2 AND match(query, '^\\\\s*(WITH|SELECT)') "
        "AND NOT match(query, 'system\\\\.') FORMAT JSONEachRow"
    )
finally:
    server.terminate()
    server.wait(60)

queries = [json.loads(line)["query"] for line in logged.splitlines() if line.strip()]
# The client asks for RowBinary; chdb answers in its default format instead.
queries = sorted({q.rsplit(" FORMAT ", 1)[0] if " FORMAT RowBinary" in q else q for q in queries})


def statements(sql):
    """Splits a migration as the service does: on ';' outside quotes and comments."""
    out, current, quote, i = [], "", None, 0
    while i < len(sql):
        c = sql[i]
        if quote:
            current += c
            if c == "\\" and i + 1 < len(sql):
                current += sql[i + 1]
                i += 1
            elif c == quote:
                quote = None
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            current += sql[i:end]
            i = end - 1
        elif c in "'`\"":
            quote = c
            current += c
        elif c == ";":
            out.append(current)
            current = ""
        else:
            current += c
        i += 1
    out.append(current)
    code = lambda s: "\n".join(l for l in s.splitlines() if not l.strip().startswith("--")).strip()
    return [s.strip() for s in out if code(s)]


failures, skipped = [], 0
with tempfile.TemporaryDirectory() as path:
    s = session.Session(path)
    s.query("CREATE DATABASE IF NOT EXISTS touchpoint")
    s.query("USE touchpoint")
    for file in sorted((repo / "migrations").glob("*.sql")):
        for statement in statements(file.read_text()):
            s.query(statement)
    for query in queries:
        try:
            s.query(query)
        except Exception as e:
            text = str(e)
            if "UNKNOWN_TABLE" in text or "Unknown table" in text:
                skipped += 1
            else:
                failures.append(f"{text.splitlines()[0][:400]}\n--- query ---\n{query[:2000]}")
print(f"{len(queries)} distinct read queries replayed on chdb; {skipped} on tables no migration makes")
if failures:
    print(f"{len(failures)} failed on current ClickHouse:\n\n" + "\n\n".join(failures))
    sys.exit(1)
