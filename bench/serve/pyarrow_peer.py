"""The second peer: pyarrow finding a row by id with a filter, over a range-counting file wrapper,
on the same Parquet files our locator opened for that id (as bench/serve/hyparquet.mjs does).

Usage: bench/.venv/bin/python bench/serve/pyarrow_peer.py <native.json> <warehouse> <out.json> [ids] [reps]

Per file: `pq.read_table(file, columns=["id", "markdown"], filters=[("id", "==", id)],
use_threads=False)` — pyarrow's own way to ask for one row: it reads the footer, skips row groups
by statistics and reads the id and markdown chunks of the others. Every read() of the wrapper is
one request. CPU: process CPU time minus the time spent in the wrapper's reads."""

import json
import os
import sys
import time

import pyarrow
import pyarrow.parquet as pq

native_path, warehouse, out_path = sys.argv[1:4]
IDS = int(sys.argv[4]) if len(sys.argv) > 4 else 30
REPS = int(sys.argv[5]) if len(sys.argv) > 5 else 3
BUDGET_S = float(os.environ.get("PEER_TABLE_BUDGET_MS", "30000")) / 1000


class Counter:
    def __init__(self):
        self.reads = 0
        self.bytes = 0
        self.io_cpu = 0.0
        self.io_wall = 0.0


class CountingFile:
    """A read-only seekable file that counts each read() as one ranged request."""

    def __init__(self, path, size, counter):
        self._f = open(path, "rb", buffering=0)
        self._size = size
        self._pos = 0
        self._c = counter
        self.closed = False

    def read(self, n=-1):
        c0, w0 = time.process_time(), time.perf_counter()
        if n is None or n < 0:
            n = self._size - self._pos
        n = max(0, min(n, self._size - self._pos))
        data = os.pread(self._f.fileno(), n, self._pos)
        self._pos += len(data)
        self._c.reads += 1
        self._c.bytes += len(data)
        self._c.io_cpu += time.process_time() - c0
        self._c.io_wall += time.perf_counter() - w0
        return data

    def seek(self, offset, whence=0):
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._size + offset
        return self._pos

    def tell(self):
        return self._pos

    def size(self):
        return self._size

    def seekable(self):
        return True

    def readable(self):
        return True

    def writable(self):
        return False

    def close(self):
        self._f.close()
        self.closed = True


def lookup(files, wanted):
    c = Counter()
    c0, w0 = time.process_time(), time.perf_counter()
    winner = None
    for f in files:
        fh = CountingFile(os.path.join(warehouse, f["key"]), f["size"], c)
        t = pq.read_table(fh, columns=["id", "markdown"], filters=[("id", "==", wanted)], use_threads=False, pre_buffer=False)
        fh.close()
        if t.num_rows:
            winner = t.column("markdown")[t.num_rows - 1].as_py()
    cpu = time.process_time() - c0 - c.io_cpu
    wall = time.perf_counter() - w0
    return {
        "reads": c.reads,
        "bytes": c.bytes,
        "cpu_us": cpu * 1e6,
        "wall_us": wall * 1e6,
        "io_wall_us": c.io_wall * 1e6,
        "markdown_bytes": len(winner.encode()) if winner is not None else 0,
        "found": winner is not None,
    }


def median(xs):
    v = sorted(xs)
    n = len(v)
    return None if n == 0 else v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def summary(runs):
    return {
        "r2_reads": runs[0]["reads"],
        "r2_bytes": runs[0]["bytes"],
        "cpu_us": median([r["cpu_us"] for r in runs]),
        "wall_us": median([r["wall_us"] for r in runs]),
        "io_wall_us": median([r["io_wall_us"] for r in runs]),
    }


native = json.load(open(native_path))
out = {"peer": "pyarrow", "version": pyarrow.__version__, "tables": []}
for t in native["tables"]:
    started = time.perf_counter()
    samples = []
    for s in t["samples"][:IDS]:
        if time.perf_counter() - started > BUDGET_S and len(samples) >= 3:
            break
        runs = []
        for _ in range(REPS):
            runs.append(lookup(s["files"], s["id"]))
            if time.perf_counter() - started > BUDGET_S:
                break
        if not runs[0]["found"] or runs[0]["markdown_bytes"] != s["markdown_bytes"]:
            raise SystemExit(f"{t['root']} {s['id']}: pyarrow found {runs[0]['found']} with {runs[0]['markdown_bytes']} bytes, ours {s['markdown_bytes']}")
        samples.append({"id": s["id"], "files": len(s["files"]), "cold": summary(runs)})
    out["tables"].append({"root": t["root"], "rows": t["rows"], "files": t["files"], "samples": samples})
    print(f"pyarrow {t['root']}: {len(samples)} ids, {time.perf_counter() - started:.1f} s", file=sys.stderr)
json.dump(out, open(out_path, "w"), indent=1)
