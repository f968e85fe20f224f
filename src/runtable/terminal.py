"""Text for a terminal: a table fitted to its width, and one row shown vertically."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .export import csv_cell, printable, table_frame
from .summary import CELL_WIDTH, summarise

if TYPE_CHECKING:
    import pandas as pd


def render_table(df: pd.DataFrame, width: int) -> str:
    """``df`` as text at most ``width`` wide, leaving out right-hand columns that do not fit."""
    if df.shape[0] == 0:
        return f"(no rows; columns: {', '.join(map(str, df.columns))})"
    df = table_frame(df, CELL_WIDTH)

    def draw(frame: pd.DataFrame) -> str:
        return str(frame.to_string(index=False, max_colwidth=CELL_WIDTH))

    def widest(text: str) -> int:
        return max(len(line) for line in text.splitlines())

    keep, used = 0, -2  # estimate from the widths of single columns, then check the real thing
    for i in range(df.shape[1]):
        used += widest(draw(df.iloc[:, [i]])) + 2
        if used > width and keep:
            break
        keep += 1
    text = draw(df.iloc[:, :keep])
    while keep > 1 and widest(text) > width:
        keep -= 1
        text = draw(df.iloc[:, :keep])
    dropped = [str(c) for c in df.columns[keep:]]
    if dropped:
        note = f"... {len(dropped)} more columns: {', '.join(dropped)}"
        text += "\n" + (note if len(note) <= width else note[: max(width - 3, 20)] + "...")
    return text


def vertical(row: dict[str, Any], width: int) -> str:
    """One run as ``name | value`` lines, like psql's ``\\x``: text whole (continued under its
    first line), arrays and frames by their summary, containers as JSON."""
    names = [str(k) for k in row]
    pad = max(len(n) for n in names)
    room = max(width - pad - 3, 20)
    lines = [f"-[ run {row.get('id_run')} ]".ljust(min(width, pad + 3 + room), "-")]
    for name, value in zip(names, row.values(), strict=True):
        text = printable(value) if isinstance(value, str) else csv_cell(value)
        if not isinstance(value, str) and len(text) > room:
            text = str(summarise(text, room))
        first, *rest = text.splitlines() or [""]
        lines.append(f"{name.ljust(pad)} | {first}")
        lines.extend(f"{'':{pad}} | {line}" for line in rest)
    return "\n".join(line.rstrip() for line in lines)
