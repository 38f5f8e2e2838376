"""Replays on chdb (a current ClickHouse release, in-process) every read query
the test suite sent to its shared ClickHouse 18.16 server, to prove the
service's SQL runs on both dialects, not only the statements chosen by hand in
tests/it/migrations.rs.

Usage: python3 tests/chdb_replay.py DIR, where DIR is the shared server's data
folder that tests/it/support.rs names in target/tmp/shared-clickhouse. The
server logged its queries (users.d/log_queries.xml); this starts it again on
that folder, reads system.query_log, stops it, migrates an empty chdb database
from migrations/*.sql and runs each distinct SELECT there.

The cluster tests' servers leave theirs in target/tmp/cluster-*/s*/queries.jsonl
(tests/it/cluster/launcher.rs); they are replayed too, each event table's
`Distributed` twin (`feedback_all`) read as the table itself, since chdb is
one server.

A query that names a table no migration creates (a test's own scratch table),
a table of the BI database (`<database>_bi`: dictionaries, storage::bi) or a
dictionary's load of its source view, is skipped; any other error fails the
run with the query.
"""
import json
import pathlib
import re
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


def start():
    return subprocess.Popen(
        ["clickhouse-server", f"--config-file={root / 'config.xml'}"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


# The suite's own server gets SIGTERM when the test process ends and may still
# be stopping: a second one on the folder exits at once ("Cannot lock file"),
# so it is started again until the first has gone.
server = start()
try:
    for _ in range(600):
        try:
            ask("SELECT 1")
            break
        except Exception:
            if server.poll() is not None:
                server = start()
            time.sleep(0.1)
    # Finished queries clients sent (not the parts a Distributed table sent on);
    # tests/it/cluster/launcher.rs asks its servers the same.
    logged = ask(
        "SELECT DISTINCT query FROM system.query_log WHERE type = 2 AND is_initial_query FORMAT JSONEachRow"
    )
finally:
    server.terminate()
    server.wait(60)


def rows(text):
    """The read queries of a log, not those of the server's own state (`system.`)."""
    queries = (json.loads(line)["query"] for line in text.splitlines() if line.strip())
    return [q for q in queries if re.match(r"\s*(WITH|SELECT)", q) and "system." not in q]


queries = rows(logged)
cluster_logs = sorted(root.parent.glob("cluster-*/s*/queries.jsonl"))
on_cluster = {q for log in cluster_logs for q in rows(log.read_text())}
# The client asks for RowBinary; chdb answers in its default format instead.
bare = lambda q: q.rsplit(" FORMAT ", 1)[0] if " FORMAT RowBinary" in q else q
queries = {bare(q) for q in queries}
on_cluster = {bare(q) for q in on_cluster} - queries


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
    tables = {line.strip() for line in str(s.query("SHOW TABLES", "CSV")).splitlines()}
    tables = {t.strip('"') for t in tables if t}
    twin = re.compile(r"\b(" + "|".join(sorted(tables, key=len, reverse=True)) + r")_all\b")
    queries = sorted(queries | {twin.sub(r"\1", q) for q in on_cluster})
    for query in queries:
        try:
            s.query(query)
        except Exception as e:
            text = str(e)
            if "UNKNOWN_TABLE" in text or "Unknown table" in text:
                skipped += 1
            elif "UNKNOWN_DATABASE" in text and re.search(r"\b\w+_bi\.bi_\w+|`\w+`\.`bi_\w+_source`", query):
                # The BI database's dictionaries and their loads (storage::bi): chdb has
                # no dictionaries; tests/it/migrations.rs runs the sources' SQL on chdb.
                skipped += 1
            else:
                failures.append(f"{text.splitlines()[0][:400]}\n--- query ---\n{query[:2000]}")
print(
    f"{len(queries)} distinct read queries replayed on chdb ({len(on_cluster)} from {len(cluster_logs)} cluster "
    f"servers); {skipped} on tables no migration makes"
)
if failures:
    print(f"{len(failures)} failed on current ClickHouse:\n\n" + "\n\n".join(failures))
    sys.exit(1)
