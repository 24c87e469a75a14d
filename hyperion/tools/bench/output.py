"""What ``hyperion bench run`` writes: summary rows, the terminal table, Block-STM's cost table
(``--phases``, and ``bench parallel``), PNG plots, a Markdown report, and ``bench compare`` of
two runs' JSON.  Everything here reads the JSON form of a
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


def _timed(data: dict) -> str:
    if data.get("chain"):
        return ("time = execute() end to end (decode + sender recovery + execution + receipts + state root), "
                "chained blocks, commit untimed")
    return "time = execute + commit end to end"


def _senders(data: dict) -> str:
    """`` from N wallets`` when wallets send several transactions per block (older JSON: none)."""
    accounts = data.get("accounts", data["txs"])
    return f" from {accounts:,} wallets" if accounts != data["txs"] else ""


def headline(data: dict) -> str:
    m = data["machine"]
    return (f"suite workloads: {data['txs']:,} txs/block{_senders(data)} x {data['blocks']} block(s); median of {data['rounds']} rounds, sides "
            f"alternating; {m['cpu']}, {m['cores']} cores, Python {m['python']}"
            f"{'' if m.get('compiled', True) else ' (pure Python)'}; speedup = baseline time / side time "
            f"per block, median [min-max]; {_timed(data)}")


def markdown_table(rows: List[dict]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    return "\n".join(lines)


# -- Block-STM's costs -------------------------------------------------------------------------
#: ``stats`` keys that split a Block-STM block's time (the workers' phase, the serial tail after
#: it, the fold of the workers' writes, early and late, and the state root)
PHASES = ("parallel_seconds", "tail_seconds", "fold_seconds", "root_seconds")


def blockstm_costs(data: dict) -> List[dict]:
    """One row per configuration and Block-STM side of a run with the sequential baseline:
    median times, the ratio to sequential, each side's cost per transaction (the sequential
    engine's time; the workers' busy time: workers x parallel phase - their idle time), the
    median of each phase, aborts and the fallbacks."""
    rows = []
    for config in data["configs"]:
        sides, txs = config["samples"], config["txs"]
        if SEQUENTIAL not in sides:
            continue
        sequential = statistics.median(s["seconds"] for s in sides[SEQUENTIAL])
        for side, samples in sides.items():
            stats = [s["stats"] for s in samples]
            if side in (STOCK, SEQUENTIAL) or stats[0].get("scheduler") != "blockstm":
                continue
            ratios = sorted(b["seconds"] / s["seconds"] for b, s in zip(sides[SEQUENTIAL], samples))
            busy = [(st["workers"] * st["parallel_seconds"] - st["worker_idle_seconds"]) / txs for st in stats
                    if _number(st.get("parallel_seconds")) is not None and _number(st.get("worker_idle_seconds"))
                    is not None]
            phases = {name: statistics.median(values) for name in PHASES
                      if (values := [v for v in (_number(st.get(name)) for st in stats) if v is not None])}
            rows.append({
                "workload": config["workload"], "contention": config["contention"], "side": side,
                "workers": stats[0].get("workers"), "sequential_seconds": sequential,
                "seconds": statistics.median(s["seconds"] for s in samples),
                "ratio": statistics.median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
                "sequential_us_per_tx": 1e6 * sequential / txs,
                "worker_us_per_tx": 1e6 * statistics.median(busy) if busy else None, "phases": phases,
                "aborts": statistics.median(st.get("aborts") or 0 for st in stats),
                "fallbacks": [str(st["fallback"]) for st in stats if st.get("fallback")],
            })
    return rows


def _fallbacks(reasons: List[str], rounds: int) -> str:
    """``-`` or ``k/rounds: <the first reason>`` (every reason is in the JSON)."""
    if not reasons:
        return "-"
    first = reasons[0].split(";")[0]
    return f"{len(reasons)}/{rounds}: {first if len(first) <= 70 else first[:69] + '…'}"


def format_blockstm_costs(data: dict) -> str:
    """The Block-STM cost table, with the lines that say what its columns mean."""
    lines = [
        f"Block-STM vs sequential, {data['txs']:,}-tx blocks, LMDB, chain id {data['chain_id']}; median of "
        f"{data['rounds']} rounds, sides alternating; {_timed(data)}",
        "ratio: sequential / Block-STM per block (> 1: Block-STM faster), median [min-max]",
        "µs/tx: sequential time per tx | Block-STM workers' busy time per tx (workers x parallel phase - idle)",
        "",
    ]
    header = (f"{'block':8} {'cont.':>5} {'side':12} {'seq s':>7} {'par s':>7} {'ratio':>19} {'seq µs/tx':>10} "
              f"{'worker µs/tx':>13}  {'phases (median s)':<44} {'aborts':>7}  fallback")
    lines += [header, "-" * len(header)]
    for r in blockstm_costs(data):
        ratio = f"{r['ratio']:.2f}x [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
        worker = f"{r['worker_us_per_tx']:.0f}" if r["worker_us_per_tx"] is not None else "-"
        phases = " ".join(f"{name.replace('_seconds', '')} {value:.3f}" for name, value in r["phases"].items())
        lines.append(f"{r['workload']:8} {r['contention']:>5g} {r['side']:12} {r['sequential_seconds']:>7.3f} "
                     f"{r['seconds']:>7.3f} {ratio:>19} {r['sequential_us_per_tx']:>10.0f} {worker:>13}  "
                     f"{phases:<44} {r['aborts']:>7.0f}  {_fallbacks(r['fallbacks'], data['rounds'])}")
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
        # one small panel per workload, so that ten workloads stay readable
        names = list(dict.fromkeys(r["workload"] for r in parallel))
        columns = min(len(names), 4)
        grid_rows = -(-len(names) // columns)
        fig, axes = plt.subplots(grid_rows, columns, figsize=(3 * columns, 2.4 * grid_rows), sharey=True,
                                 squeeze=False)
        for ax, workload in zip(axes.flat, names):
            for side in sorted({r["side"] for r in parallel if r["workload"] == workload}, key=_side_order):
                points = sorted((r["contention"], r["vs_sequential"][0]) for r in parallel
                                if (r["workload"], r["side"]) == (workload, side))
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=side)
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_title(workload, fontsize="small")
            ax.tick_params(labelsize="x-small")
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        axes[0][0].legend(fontsize="x-small")
        fig.supxlabel("contention", fontsize="small")
        fig.supylabel("speedup vs Hyperion sequential", fontsize="small")
        save(fig, "speedup_vs_contention.png")

    # each workload at its own lowest contention (``hot`` runs at 1 only)
    lowest_of: Dict[str, float] = {}
    for r in rows:
        lowest_of[r["workload"]] = min(lowest_of.get(r["workload"], r["contention"]), r["contention"])

    fig, ax = plt.subplots(figsize=(6, 4))
    for workload in lowest_of:
        points = sorted((int(r["side"].split("-")[1]), r["tx_per_s"]) for r in rows
                        if r["workload"] == workload and r["contention"] == lowest_of[workload]
                        and r["side"].startswith("blockstm-"))
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=workload)
    ax.set(xlabel="Block-STM workers", ylabel="tx/s end to end", title="Throughput vs workers (lowest contention)")
    ax.set_xticks(data["workers"])
    ax.legend(fontsize="x-small", ncol=2)
    save(fig, "throughput_vs_workers.png")

    split_rows = [r for r in rows if r["split"] and r["contention"] == lowest_of[r["workload"]]]
    if split_rows:
        fig, ax = plt.subplots(figsize=(min(16, max(6, 0.4 * len(split_rows))), 4.5))
        labels = [f"{r['workload']} {r['contention']:g}\n{r['side']}" for r in split_rows]
        bottom = [0.0] * len(split_rows)
        for phase in [label for label, _ in SPLIT] + ["other"]:
            # shares, not seconds: workloads whose blocks take 10 ms and 2 s stay comparable
            values = [100 * r["split"].get(phase, 0.0) / (sum(r["split"].values()) or 1) for r in split_rows]
            ax.bar(labels, values, bottom=bottom, label=phase)
            bottom = [b + v for b, v in zip(bottom, values)]
        # Block-STM decodes inside its workers: its decoding is part of "execute"
        ax.set(ylabel="% of the block's time (medians)",
               title="Time split at the lowest contention (Block-STM: decoding inside execute)")
        ax.tick_params(axis="x", labelsize="x-small", labelrotation=60)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, not on them
        save(fig, "time_split.png")
    return made


def sizes(data: dict) -> str:
    """What was run, in one sentence."""
    levels = data.get("contentions") or sorted({c["contention"] for c in data["configs"]})  # older JSON: no list
    workloads = list(dict.fromkeys(c["workload"] for c in data["configs"]))
    return (f"Workloads: {', '.join(workloads)}; {data['txs']:,} transactions per block{_senders(data)}, {data['blocks']} "
            f"block(s) per configuration, {data['rounds']} measured round(s) after a warm-up block; Block-STM "
            f"workers {', '.join(map(str, data['workers']))}; contention {', '.join(f'{c:g}' for c in levels)}; "
            f"baselines {', '.join(data['baselines'])}; seed {data['seed']}")


def report(data: dict, images: Sequence[str], command: str) -> str:
    """The one-page Markdown report (images referenced by file name, beside it)."""
    m = data["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in m["packages"].items() if version)
    lines = [
        "# Hyperion benchmark report", "",
        f"Command: `{command}`", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}"
        f"{'' if m.get('compiled', True) else ' (pure Python)'}, git {m['git_revision'] or 'unknown'}; "
        f"{packages}.", "",
        sizes(data) + ".", "",
        headline(data) + ".", "",
        "State roots of every side agreed on every block before these figures were computed.", "",
        markdown_table(summary(data)), "",
    ]
    lines += [f"Note: {note}.\n" for note in data.get("notes", [])]
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
