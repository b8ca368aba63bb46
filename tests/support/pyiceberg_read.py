#!/usr/bin/env python3
"""Reads Iceberg tables with pyiceberg and prints what it sees as one JSON document on stdout.

Used by tests/standin-pyiceberg.test.mjs (run with the pinned venv, `make pyenv`):

    pyiceberg_read.py static [--ids=<id>,<id>...] <metadata-location> [<metadata-location> ...]
        StaticTable.from_metadata for each location (pyiceberg's local FileIO reads the files);
        `--ids` limits the filtered scans to those ids (default: every id).
    pyiceberg_read.py rest <catalog-uri> <namespace>
        RestCatalog at <catalog-uri>: list the namespaces and the namespace's tables, check that
        table_exists / namespace_exists agree, load every table and scan it.

Per table it prints the metadata location, the current snapshot, the schema (field ids), every
row of a full scan (`ts` as integer microseconds), for each id the rows of a scan filtered on
`id == <id>` (pyiceberg prunes manifests and files by the bounds we wrote, so a wrong bound makes
a row vanish), and per data file its record count, value and null counts, decoded bounds, split
offsets and (for `file://` files, read with pyarrow) the offsets where its row groups start.

Nothing here decides what is right: the JS test compares it with what it sent.
"""

import datetime as dt
import json
import sys
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq

from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.expressions import EqualTo
from pyiceberg.table import StaticTable, Table
from pyiceberg.types import StringType, TimestamptzType, TimestampType, LongType, BooleanType

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def plain(value):
    """A JSON-safe value: datetimes as integer microseconds since the epoch."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def rows(table: Table, row_filter=None):
    scan = table.scan() if row_filter is None else table.scan(row_filter=row_filter)
    return [{k: plain(v) for k, v in r.items()} for r in scan.to_arrow().to_pylist()]


def bound(field_type, raw: bytes):
    """Single-value serialization → a JSON value (only the types the record contract uses)."""
    if isinstance(field_type, StringType):
        return raw.decode("utf-8")
    if isinstance(field_type, (LongType, TimestamptzType, TimestampType)):
        return int.from_bytes(raw, "little", signed=True)
    if isinstance(field_type, BooleanType):
        return bool(raw[0])
    return raw.hex()


def row_groups(file_path: str):
    """Start offset and row count of each row group, from the Parquet footer (file:// only)."""
    url = urlparse(file_path)
    if url.scheme != "file":
        return None
    meta = pq.ParquetFile(unquote(url.path)).metadata
    out = []
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        col = rg.column(0)
        start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
        out.append({"offset": start, "rows": rg.num_rows})
    return out


def files(table: Table):
    """Every live data file of the current snapshot, with its metrics as pyiceberg decodes them."""
    out = []
    schema = table.schema()
    for task in table.scan().plan_files():
        f = task.file
        def decoded(bounds):
            return {str(k): bound(schema.find_type(k), v) for k, v in (bounds or {}).items()}
        out.append(
            {
                "file_path": f.file_path,
                "file_format": str(f.file_format.value),
                "record_count": f.record_count,
                "file_size_in_bytes": f.file_size_in_bytes,
                "value_counts": {str(k): v for k, v in (f.value_counts or {}).items()},
                "null_value_counts": {str(k): v for k, v in (f.null_value_counts or {}).items()},
                "lower_bounds": decoded(f.lower_bounds),
                "upper_bounds": decoded(f.upper_bounds),
                "split_offsets": f.split_offsets,
                "row_groups": row_groups(f.file_path),
            }
        )
    return out


def describe(table: Table, location: str, ids=None):
    snap = table.current_snapshot()
    all_rows = rows(table)
    by_id = {}
    for rid in sorted({r["id"] for r in all_rows} if ids is None else ids):
        by_id[rid] = rows(table, EqualTo("id", rid))
    return {
        "metadata_location": location,
        "format_version": table.metadata.format_version,
        "snapshot": None
        if snap is None
        else {
            "snapshot_id": snap.snapshot_id,
            "parent_snapshot_id": snap.parent_snapshot_id,
            "sequence_number": snap.sequence_number,
            "operation": snap.summary.operation.value if snap.summary else None,
        },
        "snapshots": len(table.snapshots()),
        "schema": [
            {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
            for f in table.schema().fields
        ],
        "rows": all_rows,
        "by_id": by_id,
        "files": files(table),
    }


def main(argv):
    if len(argv) >= 2 and argv[0] == "static":
        args = argv[1:]
        ids = None
        if args[0].startswith("--ids="):
            ids = [i for i in args[0][len("--ids="):].split(",") if i]
            args = args[1:]
        tables = {}
        for location in args:
            tables[location] = describe(StaticTable.from_metadata(location), location, ids)
        return {"tables": tables}
    if len(argv) == 3 and argv[0] == "rest":
        uri, namespace = argv[1], argv[2]
        catalog = RestCatalog("standin", uri=uri)
        idents = catalog.list_tables(namespace)
        tables = {}
        for ident in idents:
            name = ".".join(ident)
            table = catalog.load_table(ident)
            tables[name] = describe(table, table.metadata_location)
            tables[name]["exists"] = catalog.table_exists(ident)
        return {
            "namespaces": [list(n) for n in catalog.list_namespaces()],
            "namespace_exists": catalog.namespace_exists(namespace),
            "missing_namespace_exists": catalog.namespace_exists("no_such_namespace"),
            "missing_table_exists": catalog.table_exists((namespace, "no_such_table")),
            "tables": tables,
        }
    sys.stderr.write(__doc__)
    return None


if __name__ == "__main__":
    result = main(sys.argv[1:])
    if result is None:
        sys.exit(2)
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
