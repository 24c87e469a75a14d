"""What the commands show on a terminal: tables that never cut a figure, and progress.

Rich shrinks every column of a table that is wider than the terminal, figures included
(``12,34…``).  :func:`table` sizes the figure columns to their longest cell and gives the
hash columns what is left, shortening the hashes instead (a hash stays recognisable by its
first bytes; a cut figure is a wrong figure).

Progress is shown only when stdout is a terminal and ``--quiet`` is not given; piped or
redirected output gets the results alone.
"""
from __future__ import annotations

import contextlib
from typing import ContextManager, Iterable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

#: shortest a hash column gets, ellipsis included (``0x1234abcd…``)
MIN_HASH_WIDTH = 11
# a boxed table with the default padding spends 3 characters per column plus 1
_COLUMN_OVERHEAD = 3


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis (hashes only)."""
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def table(console: Console, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
          hash_columns: Sequence[str] = ()) -> Table:
    """A table whose figure columns keep every character; hash columns absorb the shortfall,
    and headers wider than their figures break at spaces when the terminal is narrow."""
    rows = [list(row) for row in rows]
    headers = list(columns)
    cells = [max([0] + [len(row[i]) for row in rows]) for i in range(len(columns))]
    hashes = [i for i, name in enumerate(columns) if name in hash_columns]

    def widths() -> list:
        return [max(cells[i], *(len(line) for line in headers[i].split("\n"))) for i in range(len(columns))]

    def fixed() -> int:
        return sum(w + _COLUMN_OVERHEAD for i, w in enumerate(widths()) if i not in hashes) + 1

    room = lambda: console.width - fixed() - len(hashes) * (MIN_HASH_WIDTH + _COLUMN_OVERHEAD)  # noqa: E731
    if room() < 0:
        headers = [name.replace(" ", "\n") if i not in hashes else name for i, name in enumerate(headers)]
    final = widths()
    if hashes:
        share = (console.width - fixed()) // len(hashes) - _COLUMN_OVERHEAD
        for i in hashes:
            final[i] = max(min(final[i], share), MIN_HASH_WIDTH)
            for row in rows:
                row[i] = shorten(row[i], final[i])
    result = Table(title=title)
    for i, name in enumerate(headers):
        result.add_column(name, justify="left" if i in hashes else "right", no_wrap=True, min_width=final[i],
                          max_width=final[i] if i in hashes else None)
    for row in rows:
        result.add_row(*row)
    return result


def show_progress(console: Console, quiet: bool) -> bool:
    return console.is_terminal and not quiet


def progress(console: Console, enabled: bool, label: str, *, total_known: bool = True) -> Progress:
    """A transient progress bar (removed when done); does nothing when ``enabled`` is false."""
    columns = [SpinnerColumn(), TextColumn(f"[bold]{label}"), BarColumn()]
    if total_known:
        columns.append(MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TextColumn("{task.description}")]
    return Progress(*columns, console=console, transient=True, disable=not enabled)


def status(console: Console, enabled: bool, message: str) -> ContextManager:
    """A spinner with ``message`` while a step runs (nothing when ``enabled`` is false)."""
    return console.status(message) if enabled else contextlib.nullcontext()
