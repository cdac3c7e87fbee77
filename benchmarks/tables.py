"""The plain-text tables the benchmark scripts print: columns padded to their widest cell, numbers right-aligned."""

from __future__ import annotations

from collections.abc import Iterable


def text_table(head: list[str], rows: Iterable[list[str]], left: Iterable[int] = (0,)) -> list[str]:
    """Header, a dashed rule and the rows; columns in `left` (labels) align left, the others (numbers) right."""
    rows = list(rows)
    left = set(left)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return [line(head), "  ".join("-" * w for w in widths), *[line(r) for r in rows]]
