"""Every input check of abkit, and the one place their messages are worded.

Messages follow one form: the argument's name in backticks, the rule, and the value received,
e.g. ```alpha` must be in (0, 1); got 1.5.``. ``TypeError`` is for the wrong kind of input,
``ValueError`` for the wrong value.

Examples
--------
>>> check_open_unit("alpha", 0.05)
0.05
>>> check_open_unit("alpha", 1.5)
Traceback (most recent call last):
...
ValueError: `alpha` must be in (0, 1); got 1.5.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

ALTERNATIVES = ("two-sided", "less", "greater")
NAN_POLICIES = ("raise", "omit")

RngLike = int | np.random.Generator | None
INT64_MAX = 2**63 - 1

T = TypeVar("T")


def _show(value: Any) -> str:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= 10**21:
        digits = str(abs(int(value)))
        return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=6)
    return repr(value) if not isinstance(value, numbers.Number) else str(value)


def check_real(name: str, value: Any) -> float:
    """``value`` as a finite float, or a ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {_show(value)}.")
    try:
        result = float(value)
    except OverflowError:  # an int beyond the float range, e.g. 10**400
        raise ValueError(f"`{name}` must be finite; got {_show(value)}.") from None
    if not math.isfinite(result):
        raise ValueError(f"`{name}` must be finite; got {result}.")
    return result


def check_number(name: str, value: Any) -> float:
    """``value`` as a float that may be NaN or infinite (an int beyond the float range becomes
    an infinity), or a ``TypeError`` naming ``name``: for ports of lenient SDK helpers that clip
    or ignore out-of-range values rather than refuse them.

    Examples
    --------
    >>> check_number("coverage", 10**400)
    inf
    """
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {_show(value)}.")
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def check_open_unit(name: str, value: Any) -> float:
    """A real number strictly between 0 and 1 (alpha, power, confidence level, a rate)."""
    result = check_real(name, value)
    if not 0.0 < result < 1.0:
        raise ValueError(f"`{name}` must be in (0, 1); got {result}.")
    return result


def check_positive(name: str, value: Any) -> float:
    """A finite real number greater than 0."""
    result = check_real(name, value)
    if result <= 0.0:
        raise ValueError(f"`{name}` must be greater than 0; got {result}.")
    return result


def check_nonnegative(name: str, value: Any) -> float:
    """A finite real number at least 0."""
    result = check_real(name, value)
    if result < 0.0:
        raise ValueError(f"`{name}` must be at least 0; got {result}.")
    return result


def check_int(name: str, value: Any, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer (Python or NumPy, or an integral float) in ``[minimum, maximum]``.

    ``maximum`` defaults to the int64 range (every count lands in a NumPy array or a float);
    callers lower it where a larger size would exhaust memory or a numerical routine.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be an integer; got {_show(value)}.")
    if isinstance(value, numbers.Integral):
        result = int(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float) or as_float != math.floor(as_float):
            raise ValueError(f"`{name}` must be a whole number; got {as_float}.")
        result = int(as_float)
    if result < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}; got {_show(result)}.")
    if result > maximum:
        raise ValueError(f"`{name}` must be at most {_show(maximum)}; got {_show(result)}.")
    return result


def check_share(name: str, value: Any) -> float:
    """A share (coverage, rollout, allocation) in the closed interval ``[0, 1]``."""
    result = check_real(name, value)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1]; got {result}.")
    return result


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` (Python or NumPy)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be True or False; got {_show(value)}.")
    return bool(value)


def check_string(name: str, value: Any) -> str:
    """A ``str`` (possibly empty)."""
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string; got {type(value).__name__} {_show(value)}.")
    return value


def check_utf8(name: str, value: Any) -> str:
    """A ``str`` that encodes as UTF-8: no lone surrogates such as ``'\\udcff'``.

    Hashes, logs and JSON state need the UTF-8 bytes (MurmurHash3 crashes the process on a
    lone surrogate), so such text is refused before any of them sees it.
    """
    if not check_string(name, value).isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"`{name}` must be encodable as UTF-8 (no lone surrogates); "
                             f"got {value!r}.") from None
    return value


def check_id(name: str, value: Any) -> str:
    """A non-empty string that encodes as UTF-8: a unit, request, experiment or model id."""
    if not check_utf8(name, value):
        raise ValueError(f"`{name}` must be a non-empty string; got ''.")
    return value


def check_path(name: str, value: Any) -> Path:
    """A file-system path (``str`` or ``os.PathLike``), non-empty and without NUL characters.

    Examples
    --------
    >>> check_path("path", 3)
    Traceback (most recent call last):
    ...
    TypeError: `path` must be a path (str or os.PathLike); got 3.
    """
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"`{name}` must be a path (str or os.PathLike); got {_show(value)}.")
    text = os.fspath(value)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ValueError(f"`{name}` must be a non-empty path without NUL characters; got {value!r}.")
    return Path(text)


def check_instance(name: str, value: Any, kind: type[T], *, hint: str = "") -> T:
    """An instance of ``kind``; ``hint`` (a sentence) says how to get one."""
    if not isinstance(value, kind):
        advice = f" {hint}" if hint else ""
        raise TypeError(f"`{name}` must be a {kind.__name__}; got {type(value).__name__}.{advice}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (strings)."""
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string; got {_show(value)}.")
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {options}; got {value!r}.")
    return value


def check_progress(progress: Any) -> bool | None:
    """``True``, ``False`` or ``None`` (a progress bar's switch)."""
    if progress is None or isinstance(progress, bool):
        return progress
    raise TypeError(f"`progress` must be True, False or None; got {_show(progress)}.")


def check_alternative(alternative: Any) -> str:
    """``"two-sided"``, ``"less"`` or ``"greater"``."""
    return check_choice("alternative", alternative, ALTERNATIVES)


def check_confidence_level(value: Any) -> float:
    """A confidence level in (0, 1)."""
    return check_open_unit("confidence_level", value)


def _to_float_array(name: str, values: Any) -> npt.NDArray[np.float64]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable | np.ndarray):
        raise TypeError(f"`{name}` must be a 1-D array of numbers; got {_show(values)}.")
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a 1-D array of numbers; got {_show(values)}.") from exc
    if array.dtype == bool:
        array = array.astype(np.float64)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be a 1-D array of real numbers; got dtype {array.dtype}.")
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D; got an array of shape {array.shape}.")
    return np.ascontiguousarray(array, dtype=np.float64)


def to_array(name: str, values: Any, dtype: Any = None) -> npt.NDArray[Any]:
    """``numpy.asarray(values, dtype)``, a ``TypeError`` naming ``name`` if it cannot be one
    (ragged nested lists, objects, integers beyond the float range)."""
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"`{name}` must be an array of numbers; got {_show(values)}.") from exc


def _check_nan_inf(name: str, array: npt.NDArray[np.float64], nan_policy: str) -> None:
    if nan_policy == "raise" and np.isnan(array).any():
        count = int(np.isnan(array).sum())
        raise ValueError(
            f"`{name}` must not contain NaN; got {count} NaN value(s) "
            "(pass nan_policy='omit' to drop them)."
        )
    if np.isinf(array).any():
        count = int(np.isinf(array).sum())
        raise ValueError(f"`{name}` must be finite; got {count} infinite value(s).")


def _check_size(name: str, array: npt.NDArray[np.float64], min_size: int) -> None:
    if array.size < min_size:
        raise ValueError(f"`{name}` must have at least {min_size} value(s); got {array.size}.")


def as_float_array(
    name: str,
    values: Any,
    *,
    nan_policy: str = "raise",
    min_size: int = 1,
) -> npt.NDArray[np.float64]:
    """A C-contiguous 1-D float64 copy of ``values``, checked for NaN, inf and size.

    With ``nan_policy="omit"`` NaN entries are dropped (infinities still raise).
    """
    check_choice("nan_policy", nan_policy, NAN_POLICIES)
    array = _to_float_array(name, values)
    _check_nan_inf(name, array, nan_policy)
    array = array[~np.isnan(array)] if nan_policy == "omit" else array
    _check_size(name, array, min_size)
    return array


def as_paired_float_arrays(
    name_a: str,
    a: Any,
    name_b: str,
    b: Any,
    *,
    nan_policy: str = "raise",
    min_size: int = 1,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Two equal-length float arrays; ``nan_policy="omit"`` drops pairs with a NaN on either side."""
    check_choice("nan_policy", nan_policy, NAN_POLICIES)
    array_a = _to_float_array(name_a, a)
    array_b = _to_float_array(name_b, b)
    check_same_length(name_a, array_a, name_b, array_b)
    _check_nan_inf(name_a, array_a, nan_policy)
    _check_nan_inf(name_b, array_b, nan_policy)
    if nan_policy == "omit":
        keep = ~(np.isnan(array_a) | np.isnan(array_b))
        array_a, array_b = array_a[keep], array_b[keep]
    _check_size(name_a, array_a, min_size)
    return array_a, array_b


def check_same_length(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Two sequences of equal length."""
    if len(a) != len(b):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same length; got {len(a)} and {len(b)}."
        )


def check_covariance_matrix(name: str, value: Any, *, size: int = 2, allow_nan: bool = False,
                            ) -> npt.NDArray[np.float64]:
    """A ``size`` x ``size`` sample covariance matrix as floats: finite, symmetric, non-negative
    variances and correlations within [-1, 1] (moments no data could produce are refused).

    ``allow_nan`` admits an all-NaN matrix (the ``ddof=1`` covariance of a single observation).

    Examples
    --------
    >>> check_covariance_matrix("s10", [[0.04, 0.05], [0.05, 0.04]])
    Traceback (most recent call last):
    ...
    ValueError: `s10` must be a covariance matrix (correlation within [-1, 1]); got correlation 1.25.
    """
    kind = f"`{name}` must be a {size}x{size} matrix of real numbers; got {_show(value)}."
    if isinstance(value, str | bytes) or not isinstance(value, Iterable | np.ndarray):
        raise TypeError(kind)
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(kind) from None
    if matrix.shape != (size, size):
        raise ValueError(f"`{name}` must have shape ({size}, {size}); got {matrix.shape}.")
    if allow_nan and np.isnan(matrix).all():
        return matrix
    if not np.isfinite(matrix).all():
        raise ValueError(f"`{name}` must be finite; got {_show(matrix)}.")
    diagonal = np.diag(matrix)
    if (diagonal < 0.0).any():
        raise ValueError(f"`{name}` must have non-negative variances on its diagonal; got {_show(diagonal)}.")
    if not np.allclose(matrix, matrix.T, rtol=1e-9, atol=0.0):
        raise ValueError(f"`{name}` must be symmetric; got {_show(matrix)}.")
    bound = np.sqrt(np.outer(diagonal, diagonal))
    excess = np.abs(matrix) > bound * (1.0 + 1e-9) + 1e-300
    if excess.any():
        i, j = map(int, np.argwhere(excess)[0])
        raise ValueError(f"`{name}` must be a covariance matrix (correlation within [-1, 1]); "
                         f"got correlation {matrix[i, j] / bound[i, j]:.3g}.")
    return matrix


def check_rng(rng: Any) -> np.random.Generator:
    """Normalise ``rng`` (int seed, Generator or None) once with ``numpy.random.default_rng``."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(f"`rng` must be an int seed, a numpy.random.Generator or None; got {_show(rng)}.")
    if int(rng) < 0:
        raise ValueError(f"`rng` must be a non-negative seed; got {int(rng)}.")
    return np.random.default_rng(int(rng))


_ARRAY_RULES: dict[str, tuple[Any, Any]] = {
    "real": (lambda a: np.ones(a.shape, dtype=bool), check_real),
    "positive": (lambda a: a > 0.0, check_positive),
    "nonnegative": (lambda a: a >= 0.0, check_nonnegative),
    "open_unit": (lambda a: (a > 0.0) & (a < 1.0), check_open_unit),
    "count": (lambda a: (a == np.floor(a)) & (a >= 1.0), lambda n, v: check_int(n, v, minimum=1)),
}


def as_checked_array(name: str, value: Any, rule: str = "real") -> npt.NDArray[np.float64]:
    """A number or an array of numbers as a float64 array whose every element obeys ``rule``.

    ``rule`` is ``"real"`` (finite), ``"positive"``, ``"nonnegative"``, ``"open_unit"`` or
    ``"count"`` (a whole number at least 1). A bad element raises the scalar check's message.

    Examples
    --------
    >>> as_checked_array("alpha", [0.05, 0.1], "open_unit")
    array([0.05, 0.1 ])
    >>> as_checked_array("alpha", [0.05, 1.5], "open_unit")
    Traceback (most recent call last):
    ...
    ValueError: `alpha` must be in (0, 1); got 1.5.
    """
    predicate, scalar_check = _ARRAY_RULES[rule]
    kind = f"`{name}` must be a real number or an array of real numbers; got {_show(value)}."
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        checked = scalar_check(name, value)
        try:
            return np.asarray(float(checked), dtype=np.float64)
        except OverflowError:  # a whole number beyond the float range
            raise ValueError(f"`{name}` must be finite; got {_show(checked)}.") from None
    if isinstance(value, str | bytes | bool) or not isinstance(value, Iterable | np.ndarray):
        raise TypeError(kind)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(kind) from exc
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.issubdtype(
        array.dtype, np.complexfloating
    ):
        raise TypeError(kind)
    array = array.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(array) | ~predicate(array)
    if bad.any():
        scalar_check(name, float(array[bad][0]))
    return array
