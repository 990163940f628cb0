"""Hold a DuckDB connection to a database file, as a notebook kernel or a SQL browser does.

    python hold_duckdb.py DB_FILE [--read-only] [--seconds N]

Prints "open" once the connection (and DuckDB's file lock) is held; holds it until
killed, or for N seconds and then exits.
"""

import argparse
import time

import duckdb

parser = argparse.ArgumentParser()
parser.add_argument("db_file")
parser.add_argument("--read-only", action="store_true")
parser.add_argument("--seconds", type=float)
args = parser.parse_args()
connection = duckdb.connect(args.db_file, read_only=args.read_only)
connection.execute("select 1").fetchall()
print("open", flush=True)
time.sleep(args.seconds if args.seconds is not None else 10**9)
connection.close()
