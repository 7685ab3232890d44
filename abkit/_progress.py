"""Progress bars for long computations: one rule for when they show, one tqdm bar.

Every call that can run longer than a few seconds takes ``progress: bool | None = None``:

- ``True`` / ``False`` show or hide the bar;
- ``None`` (the default) shows it when the work is large (above the caller's threshold, about
  two seconds of work) and someone is watching: standard error is a terminal, or the code runs
  in a Jupyter kernel;
- the environment variable ``TQDM_DISABLE=1`` hides every bar, whatever ``progress`` says.

The bar is tqdm's, written to standard error (``tqdm.notebook`` in Jupyter when ipywidgets is
installed). Bars never change results: a computation split into steps for its bar draws the
same random numbers in the same order.

Examples
--------
>>> show_progress(None, work=10, threshold=100)
False
>>> with progress_bar(False, total=3, desc="demo") as advance:
...     for _ in range(3):
...         advance(1)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from abkit._validation import check_progress

__all__ = ["progress_bar", "show_progress"]

_OFF = ("", "0", "false", "no", "off")


def _disabled_by_environment() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in _OFF


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "ZMQ" in type(shell).__name__


def _watched() -> bool:
    stderr = sys.stderr
    return bool(stderr is not None and hasattr(stderr, "isatty") and stderr.isatty()) or _in_notebook()


def show_progress(progress: bool | None, *, work: float, threshold: float) -> bool:
    """Whether to show a bar: ``progress`` if given, else ``work > threshold`` when watched.

    ``TQDM_DISABLE`` (any value but ``0``, ``false``, ``no``, ``off`` or empty) hides every bar.
    """
    progress = check_progress(progress)
    if _disabled_by_environment():
        return False
    if progress is not None:
        return progress
    return work > threshold and _watched()


def _tqdm() -> Any:
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm


@contextmanager
def progress_bar(
    show: bool, *, total: float, desc: str, unit: str = "it"
) -> Iterator[Callable[[float], Any]]:
    """A context giving ``advance(n)``, which moves a tqdm bar by ``n`` (a no-op when not ``show``)."""
    if not show:
        yield lambda n: None
        return
    bar = _tqdm()(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
