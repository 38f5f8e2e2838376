"""Runs the service's migration statements on chdb, an in-process build of a
current ClickHouse release, to prove they parse and run there too.

Input (stdin): JSON {"migrations": [[file name, [statement, ...]], ...] as the service
splits them, "queries": [[name, SQL with its parameters bound], ...]}: read queries of the
service, run on the migrated, empty database, "parsed": [[name, SQL], ...]: statements that
need a cluster to run (ON CLUSTER), checked by the parser only (formatQuery).
Output (stdout): JSON {"version": "...", "tables": [...]} of the resulting database.
"""
import json
import sys
import tempfile

try:
    from chdb import session
except ImportError:
    sys.exit("chdb is not installed: python3 -m pip install chdb-core (./scripts/test.sh does it)")

given = json.load(sys.stdin)
migrations, queries, parsed = given["migrations"], given["queries"], given.get("parsed", [])
with tempfile.TemporaryDirectory() as path:
    s = session.Session(path)
    s.query("CREATE DATABASE IF NOT EXISTS touchpoint")
    s.query("USE touchpoint")
    for name, statements in migrations:
        for statement in statements:
            try:
                s.query(statement)
            except Exception as e:  # chdb raises its own error types
                sys.exit(f"{name}: {e}\n--- statement ---\n{statement}")
    for name, query in queries:
        try:
            s.query(query)
        except Exception as e:
            sys.exit(f"query {name}: {e}\n--- query ---\n{query}")
    for name, statement in parsed:
        literal = "'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'"
        try:
            s.query(f"SELECT formatQuery({literal})")
        except Exception as e:
            sys.exit(f"{name} does not parse: {e}\n--- statement ---\n{statement}")
    tables = s.query("SELECT name FROM system.tables WHERE database = 'touchpoint' ORDER BY name", "JSONCompact")
    version = s.query("SELECT version()", "JSONCompact")
    print(json.dumps({
        "version": json.loads(str(version))["data"][0][0],
        "tables": [row[0] for row in json.loads(str(tables))["data"]],
    }))
