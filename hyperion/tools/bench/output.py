"""What ``hyperion bench run`` writes: summary rows, the terminal table, PNG plots, a Markdown
report, and ``bench compare`` of two runs' JSON.  Everything here reads the JSON form of a
run (:meth:`hyperion.tools.bench.runner.Run.to_json`), so a report can be remade from a file.
"""
from __future__ import annotations

import os
import statistics
from typing import Dict, List, Optional, Sequence

from hyperion.tools.bench.runner import SEQUENTIAL, STOCK

#: the time split of a Hyperion block: (label, stats keys summed); "other" is the rest of the
#: measured time (the commit, the coordinator's serial part, Python between the phases)
SPLIT = (
    ("decode+recover", ("prepare_seconds",)),
    ("execute", ("execution_seconds",)),
    ("validate", ("validation_seconds",)),
    ("root", ("root_seconds",)),
    ("commit", ("commit_seconds",)),
)
#: a slow-down beyond this share between two runs is flagged by ``bench compare``
REGRESSION = 0.10


def _number(value) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _split(samples: Sequence[dict]) -> Dict[str, float]:
    """Median seconds per phase; execution excludes decoding, which the engine times inside it."""
    phases: Dict[str, List[float]] = {}
    for sample in samples:
        stats = sample["stats"]
        if not stats:
            continue
        parts = {label: sum(_number(stats.get(k)) or 0.0 for k in keys) for label, keys in SPLIT}
        parts["execute"] -= parts["decode+recover"]
        parts["other"] = max(sample["seconds"] - sum(parts.values()), 0.0)
        for label, value in parts.items():
            phases.setdefault(label, []).append(value)
    return {label: statistics.median(values) for label, values in phases.items()}


def _side_order(side: str) -> tuple:
    """stock, sequential, then Block-STM by worker count (the JSON keeps run order)."""
    return (0, 0) if side == STOCK else (1, 0) if side == SEQUENTIAL else (2, int(side.rsplit("-", 1)[1]))


def summary(data: dict) -> List[dict]:
    """One row per configuration and side: medians, speedups (median and range of per-sample
    ratios, each against the baseline's run of the same block in the same round)."""
    rows = []
    for config in data["configs"]:
        txs = config["txs"]
        sides = config["samples"]
        for side, samples in sorted(sides.items(), key=lambda item: _side_order(item[0])):
            seconds = [s["seconds"] for s in samples]
            median = statistics.median(seconds)
            gas = statistics.median(s["gas_used"] for s in samples)
            row = {"workload": config["workload"], "contention": config["contention"], "side": side,
                   "seconds": median, "tx_per_s": txs / median, "mgas_per_s": gas / median / 1e6,
                   "peak_rss_mib": config["peak_rss_mib"], "split": _split(samples)}
            for baseline in (STOCK, SEQUENTIAL):
                if baseline in sides and baseline != side:
                    ratios = sorted(b["seconds"] / s["seconds"] for b, s in zip(sides[baseline], samples))
                    row[f"vs_{baseline}"] = (statistics.median(ratios), ratios[0], ratios[-1])
            stats = [s["stats"] for s in samples if s["stats"]]
            if stats and stats[0].get("scheduler") == "blockstm":
                row["incarnations_per_tx"] = statistics.median(st.get("incarnations", 0) for st in stats) / txs
                row["aborts_per_tx"] = statistics.median(st.get("aborts", 0) for st in stats) / txs
                row["fallbacks"] = sum(1 for st in stats if st.get("fallback"))
            rows.append(row)
    return rows


def _speedup(row: dict, baseline: str) -> str:
    value = row.get(f"vs_{baseline}")
    return f"{value[0]:.2f}x [{value[1]:.2f}-{value[2]:.2f}]" if value else "-"


TABLE_COLUMNS = ("workload", "cont.", "side", "tx/s", "Mgas/s", "vs sequential", "vs stock", "inc/tx",
                 "aborts/tx", "fallbacks", "peak RSS MiB")


def table_rows(rows: List[dict]) -> List[List[str]]:
    out = []
    for r in rows:
        blockstm = "incarnations_per_tx" in r
        out.append([r["workload"], f"{r['contention']:g}", r["side"], f"{r['tx_per_s']:,.0f}",
                    f"{r['mgas_per_s']:.2f}", _speedup(r, SEQUENTIAL), _speedup(r, STOCK),
                    f"{r['incarnations_per_tx']:.2f}" if blockstm else "-",
                    f"{r['aborts_per_tx']:.2f}" if blockstm else "-",
                    str(r["fallbacks"]) if blockstm else "-", f"{r['peak_rss_mib']:,.0f}"])
    return out


def headline(data: dict) -> str:
    m = data["machine"]
    return (f"suite workloads: {data['txs']:,} txs/block x {data['blocks']} block(s); median of {data['rounds']} rounds, sides "
            f"alternating; {m['cpu']}, {m['cores']} cores, Python {m['python']}"
            f"{'' if m.get('compiled', True) else ' (pure Python)'}; speedup = baseline time / side time "
            f"per block, median [min-max]; time = execute + commit end to end")


def markdown_table(rows: List[dict]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    return "\n".join(lines)


# -- plots and the report ---------------------------------------------------------------------
def plots(data: dict, out_dir: str) -> List[str]:
    """PNG plots in ``out_dir``; -> their file names.  Needs matplotlib (``pip install
    hyperion[bench]``); raises ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    rows = summary(data)
    made = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, name), dpi=100)
        plt.close(fig)
        made.append(name)

    parallel = [r for r in rows if r["side"].startswith("blockstm-") and "vs_sequential" in r]
    if parallel:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in sorted({(r["workload"], r["side"]) for r in parallel}):
            points = sorted((r["contention"], r["vs_sequential"][0]) for r in parallel
                            if (r["workload"], r["side"]) == key)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{key[0]} {key[1]}")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set(xlabel="contention", ylabel="speedup vs Hyperion sequential", title="Speedup vs contention")
        ax.legend(fontsize="small")
        save(fig, "speedup_vs_contention.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    lowest = min(r["contention"] for r in rows)
    for workload in sorted({r["workload"] for r in rows}):
        points = sorted((int(r["side"].split("-")[1]), r["tx_per_s"]) for r in rows
                        if r["workload"] == workload and r["contention"] == lowest
                        and r["side"].startswith("blockstm-"))
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=workload)
    ax.set(xlabel="Block-STM workers", ylabel="tx/s end to end", title=f"Throughput vs workers (contention {lowest:g})")
    ax.legend(fontsize="small")
    save(fig, "throughput_vs_workers.png")

    split_rows = [r for r in rows if r["split"]]
    if split_rows:
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(split_rows)), 4))
        labels = [f"{r['workload']} {r['contention']:g}\n{r['side']}" for r in split_rows]
        bottom = [0.0] * len(split_rows)
        for phase in [label for label, _ in SPLIT] + ["other"]:
            values = [1000 * r["split"].get(phase, 0.0) for r in split_rows]
            ax.bar(labels, values, bottom=bottom, label=phase)
            bottom = [b + v for b, v in zip(bottom, values)]
        # Block-STM decodes inside its workers: its decoding is part of "execute"
        ax.set(ylabel="ms per block (median)", title="Time split (Block-STM: decoding inside execute)")
        ax.tick_params(axis="x", labelsize="x-small", labelrotation=60)
        ax.legend(fontsize="small")
        save(fig, "time_split.png")
    return made


def report(data: dict, images: Sequence[str], command: str) -> str:
    """The one-page Markdown report (images referenced by file name, beside it)."""
    m = data["machine"]
    lines = [
        "# Hyperion benchmark report", "",
        f"Command: `{command}`", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}, "
        f"git {m['git_revision'] or 'unknown'}.", "",
        headline(data) + ".", "",
        "State roots of every side agreed on every block before these figures were computed.", "",
        markdown_table(summary(data)), "",
    ]
    lines += [f"![{name[:-4].replace('_', ' ')}]({name})\n" for name in images]
    return "\n".join(lines)


# -- compare ----------------------------------------------------------------------------------
def compare(old: dict, new: dict, threshold: float = REGRESSION) -> List[str]:
    """One line per configuration and side found in both runs: tx/s before and after, and
    REGRESSION where the new run is slower by more than ``threshold``."""
    before = {(r["workload"], r["contention"], r["side"]): r for r in summary(old)}
    lines = []
    for r in summary(new):
        key = (r["workload"], r["contention"], r["side"])
        if key not in before:
            continue
        was, now = before[key]["tx_per_s"], r["tx_per_s"]
        change = now / was - 1
        flag = "  REGRESSION" if change < -threshold else ""
        lines.append(f"{key[0]:8} {key[1]:>5g} {key[2]:12} {was:>10,.0f} -> {now:>10,.0f} tx/s "
                     f"({change:+.1%}){flag}")
    return lines
