"""Matplotlib figures (the optional ``plot`` extra: ``pip install "abkit[plot]"``).

One submodule per topic; each function takes a result and returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def require_matplotlib() -> Any:
    """``matplotlib.pyplot``, or an ``ImportError`` that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Plotting needs matplotlib: pip install \"abkit[plot]\"."
        ) from exc
    return plt
