"""Exceptions and warnings raised by abkit.

Hierarchy::

    AbkitWarning(UserWarning)
    └── DegenerateDataWarning      legal but degenerate data: fields are NaN
    AbkitError(Exception)
    ├── ConvergenceError(RuntimeError)   a solver did not converge; no guess is returned
    └── StateError(ValueError)           a serialised state is corrupt or does not match

Wrong kinds of input raise the built-in ``TypeError``; wrong values raise ``ValueError``.

Examples
--------
>>> from abkit.errors import DegenerateDataWarning
>>> issubclass(DegenerateDataWarning, UserWarning)
True
"""

from __future__ import annotations

__all__ = [
    "AbkitError",
    "AbkitWarning",
    "ConvergenceError",
    "DegenerateDataWarning",
    "StateError",
]


class AbkitWarning(UserWarning):
    """Base class of abkit's warnings."""


class DegenerateDataWarning(AbkitWarning):
    """Data are legal but degenerate (zero variance, no events, too few samples).

    The affected result fields are NaN.
    """


class AbkitError(Exception):
    """Base class of abkit's own exceptions."""


class ConvergenceError(AbkitError, RuntimeError):
    """A numerical solver did not converge; abkit never returns a guess instead."""


class StateError(AbkitError, ValueError):
    """A serialised state (JSON) is corrupt, or does not match the object loading it."""
