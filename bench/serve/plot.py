"""bench/out/bytes-requests-vs-files.png from bench/out/serve.json: bytes read and requests per
lookup against the number of data files, ours and hyparquet, fully cold and with metadata warm (plus ours with serve's whole isolate cache warm,
and the serving table's path, cold and isolate warm, where the table has one),
one colour per row count. Run with the venv `make bench-serve` sets up (matplotlib, pinned)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

src, dst = sys.argv[1], sys.argv[2]
doc = json.load(open(src))
tables = doc["tables"]
groups = sorted({(t["rows"], bool(t.get("sorted"))) for t in tables})
colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def label(g):
    r, srt = g
    base = f"{r // 1_000_000}M rows" if r >= 1_000_000 else f"{r // 1000}k rows"
    return base + (", ids sorted" if srt else "")


fig, axes = plt.subplots(2, 2, figsize=(13.5, 8.5))
panels = [
    ("fully cold", [("ours", "cold", "-", "o"), ("hyparquet", "cold", "--", "s"), ("serving", "cold", "-.", "D")]),
    (
        "metadata warm",
        [
            ("ours", "warm_metadata", "-", "o"),
            ("hyparquet", "warm_metadata", "--", "s"),
            ("ours", "warm_isolate", ":", "^"),
            ("serving", "warm_isolate", "-.", "D"),
        ],
    ),
]
names = {"cold": "cold", "warm_metadata": "warm metadata", "warm_isolate": "warm isolate"}
for row, (title, series) in enumerate(panels):
    ax_req, ax_bytes = axes[row]
    for i, g in enumerate(groups):
        ts = sorted((t for t in tables if (t["rows"], bool(t.get("sorted"))) == g), key=lambda t: t["files"])
        plain = sorted({t["rows"] for t in tables})
        c = "#7f7f7f" if g[1] else colors[plain.index(g[0]) % len(colors)]
        for who, mode, ls, mk in series:
            if g[1] and mode == "warm_isolate":
                continue  # the same as warm metadata there: the sample ids sit in other files
            pts = [(t["files"], (t.get(who) or {}).get(mode)) for t in ts]
            pts = [(f, m) for f, m in pts if m and m.get("r2_reads") is not None]
            if not pts:
                continue
            xs = [p[0] for p in pts]
            lab = f"{who} {names[mode]}, {label(g)}"
            ax_req.plot(xs, [max(p[1]["r2_reads"], 0.8) for p in pts], ls, marker=mk, color=c, label=lab)
            ax_bytes.plot(xs, [p[1]["r2_bytes"] / 1e6 for p in pts], ls, marker=mk, color=c, label=lab)
    ax_req.axhline(doc["free_plan"]["subrequests"], color="grey", lw=1, ls="-.")
    ax_req.annotate("free plan: 50 subrequests", (250, doc["free_plan"]["subrequests"] * 1.12), color="grey", fontsize=8)
    for ax, what, unit in ((ax_req, "Requests per lookup", "R2 requests"), (ax_bytes, "Bytes read per lookup", "MB read")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("data files in the table")
        ax.set_ylabel(unit)
        ax.set_title(f"{what}, {title}")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks([10, 100, 1000, 10000])
        ax.set_xticklabels(["10", "100", "1,000", "10,000"])
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
# One legend: colour = table, line = reader and mode.
from matplotlib.lines import Line2D  # noqa: E402

plain = sorted({t["rows"] for t in tables})
handles = [
    Line2D([], [], color="#7f7f7f" if g[1] else colors[plain.index(g[0]) % len(colors)], lw=6, label=label(g)) for g in groups
] + [
    Line2D([], [], color="black", ls="-", marker="o", label="ours"),
    Line2D([], [], color="black", ls="--", marker="s", label="hyparquet"),
    Line2D([], [], color="black", ls=":", marker="^", label="ours, whole isolate warm"),
    Line2D([], [], color="black", ls="-.", marker="D", label="serving table (#15): cold / whole isolate warm"),
]
fig.legend(handles=handles, loc="center right", fontsize=9, frameon=False)
fig.suptitle("Serve lookup by id: ours (native, serve's caching) vs hyparquet, same Parquet files", fontsize=11)
fig.tight_layout(rect=(0, 0, 0.83, 0.97))
fig.savefig(dst, dpi=110)
