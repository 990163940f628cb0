"""Hold a read-write DuckDB connection to a database file, as a running notebook kernel does.

    python hold_duckdb.py DB_FILE

Prints "open" once the connection (and DuckDB's file lock) is held; runs until killed.
"""

import sys
import time

import duckdb

connection = duckdb.connect(sys.argv[1])
connection.execute("select 1").fetchall()
print("open", flush=True)
while True:
    time.sleep(60)
