"""Copy an etbot SQLite database into an empty PostgreSQL one, for benchmarks.

``bench/commands.py`` compares the two backends on the same history. Importing a million
player-rounds a second time (into PostgreSQL) takes long on a busy 2-core machine, and the
result is the same rows anyway; this copies every table (ids kept) with ``COPY``:

    python bench/copy_db.py sqlite:////tmp/etbench/full.db postgresql://etbot@127.0.0.1/etbench

The target is migrated first and must hold no rounds (``--replace`` empties it). Foreign
keys are not checked while copying (``session_replication_role = replica``, which needs a
superuser): the rows come from a database that checked them. Sequences are moved past the
copied ids and the tables analysed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from typing import Any

from peewee import AutoField, BlobField, BooleanField

from etbot.db import connect, drop_everything, is_postgres, open_database
from etbot.models import ALL_MODELS, Round, database_proxy

CHUNK = 50_000


def cell(value: Any, blob: bool, boolean: bool) -> Any:
    if value is None:
        return r"\N"
    if blob:
        return "\\x" + bytes(value).hex()
    if boolean:
        return "t" if value else "f"
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Copy a SQLite etbot database into PostgreSQL.")
    ap.add_argument("source", help="sqlite:///… URL")
    ap.add_argument("target", help="postgresql://… URL")
    ap.add_argument("--replace", action="store_true", help="empty the target first")
    args = ap.parse_args(argv)

    source = connect(args.source)
    source.connect()
    if args.replace:
        old = connect(args.target)
        database_proxy.initialize(old)
        drop_everything(old)
        old.close()
    target = open_database(args.target)  # migrated; the models now point at it
    if not is_postgres():
        ap.error("the target must be PostgreSQL")
    if Round.select().exists():
        ap.error("the target already holds rounds (use --replace)")
    raw = target.connection()
    started = time.perf_counter()
    with target.atomic():
        target.execute_sql("SET LOCAL session_replication_role = replica")
        for model in ALL_MODELS:
            fields = model._meta.sorted_fields
            table = model._meta.table_name
            columns = ", ".join(f'"{f.column_name}"' for f in fields)
            kinds = [(isinstance(f, BlobField), isinstance(f, BooleanField)) for f in fields]
            cursor = source.execute_sql(f'SELECT {columns} FROM "{table}"')  # noqa: S608 model names
            copied = 0
            t0 = time.perf_counter()
            while rows := cursor.fetchmany(CHUNK):
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in rows:
                    writer.writerow([cell(v, b, k) for v, (b, k) in zip(row, kinds, strict=True)])
                buffer.seek(0)
                with raw.cursor() as pg:
                    pg.copy_expert(
                        f"COPY \"{table}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                        buffer,
                    )
                copied += len(rows)
            pk = model._meta.primary_key
            if isinstance(pk, AutoField) and copied:
                sequence = f"pg_get_serial_sequence('\"{table}\"', '{pk.column_name}')"
                highest = f'SELECT MAX("{pk.column_name}") FROM "{table}"'  # noqa: S608 model names
                target.execute_sql(f"SELECT setval({sequence}, ({highest}))")
            if copied:
                print(f"{table:24s} {copied:>10,} rows in {time.perf_counter() - t0:6.1f} s")
    target.execute_sql("ANALYZE")
    print(f"copied in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
