"""Plain-text and HTML tables for results made of rows (quantiles, model comparisons)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from abkit._results import _format_value


def text_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table under ``title``; values formatted as in every abkit result.

    >>> print(text_table("T", ["a", "b"], [[1, 0.5]]))
    T
      a  b
      1  0.5
    """
    cells = [[_format_value(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [title, "  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def html_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table as HTML (for Jupyter's ``_repr_html_``)."""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(_format_value(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return (f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
            f"<tr>{head}</tr>{body}</table>")
