"""Result containers shared by every primitive.

Results are frozen, slotted, keyword-only dataclasses whose fields are plain Python numbers,
strings, tuples, or :class:`ConfidenceInterval`. They print as a two-column table, render as
HTML in Jupyter, and convert to JSON-safe dictionaries with ``to_dict()``.

Examples
--------
>>> ci = ConfidenceInterval(-0.5, 1.5)
>>> ci.contains(0.0), ci.width
(True, 2.0)
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterator
from typing import Any

__all__ = ["NAN_INTERVAL", "ConfidenceInterval", "Result"]


@dataclasses.dataclass(frozen=True, slots=True)
class ConfidenceInterval:
    """A confidence (or credible) interval ``[low, high]``; one-sided ones have an infinite end.

    An interval on a bounded parameter (a rate, a difference of rates, an AUC) stays inside its
    range; there the open end of a one-sided interval is the range's end (see
    ``abkit._inference.clip_interval``).

    Examples
    --------
    >>> ConfidenceInterval(0.1, 0.3)
    ConfidenceInterval(low=0.1, high=0.3)
    """

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval."""
        from abkit._validation import check_real

        return bool(self.low <= check_real("value", value) <= self.high)

    @property
    def width(self) -> float:
        """``high - low`` (infinite for a one-sided interval)."""
        return self.high - self.low

    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))

    def to_dict(self) -> dict[str, float | str]:
        """JSON-safe form ``{"low": ..., "high": ...}``: finite ends are floats, and a non-finite
        end is the string ``"-inf"``, ``"inf"`` or ``"nan"`` (what ``float()`` reads back), as in
        every result's ``to_dict``. Strict JSON has no infinity; a string keeps a one-sided
        interval's open end apart from a missing (NaN) one, which ``null`` would not.

        >>> import json
        >>> json.dumps(ConfidenceInterval(0.25, float("inf")).to_dict(), allow_nan=False)
        '{"low": 0.25, "high": "inf"}'
        """
        return {"low": _json_number(self.low), "high": _json_number(self.high)}


NAN_INTERVAL = ConfidenceInterval(math.nan, math.nan)
"""The interval of a degenerate result (the only copy; ``abkit._inference`` re-exports it)."""


def _json_number(value: float) -> Any:
    # json.dumps writes NaN/Infinity, which strict parsers reject; they become "nan"/"inf"/"-inf".
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _to_json_safe(value: Any) -> Any:
    if isinstance(value, ConfidenceInterval | Result):
        return value.to_dict()
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, tuple | list):
        return [_to_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json_safe(v) for k, v in value.items()}
    return value


def _format_value(value: Any) -> str:
    if isinstance(value, ConfidenceInterval):
        return f"[{_format_value(value.low)}, {_format_value(value.high)}]"
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    return str(value)


def object_repr(title: str, items: list[tuple[str, Any]]) -> str:
    """``Title(name=value, ...)``: the ``repr`` of a stateful object (configuration, then state)."""
    return f"{title}(" + ", ".join(f"{name}={value!r}" for name, value in items) + ")"


def object_html(title: str, items: list[tuple[str, Any]]) -> str:
    """A two-column HTML table of ``items`` captioned ``title`` (a stateful object in Jupyter)."""
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
        f"<td style='text-align:left'>{html.escape(_format_value(value))}</td></tr>"
        for name, value in items
    )
    return f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>{cells}</table>"


class Result:
    """Mixin for frozen result dataclasses: ``to_dict``, a table ``repr`` and ``_repr_html_``."""

    __slots__ = ()

    def _items(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe ``dict`` of the fields (intervals become ``{"low", "high"}``)."""
        return {name: _to_json_safe(value) for name, value in self._items()}

    def __repr__(self) -> str:
        rows = [(name, _format_value(value)) for name, value in self._items()]
        width = max((len(name) for name, _ in rows), default=0)
        lines = [type(self).__name__]
        lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(_format_value(value))}</td></tr>"
            for name, value in self._items()
        )
        title = html.escape(type(self).__name__)
        return f"<table><caption style='text-align:left'><b>{title}</b></caption>{cells}</table>"
