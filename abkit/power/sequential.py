"""Maximum and expected sample sizes of group-sequential designs from a fixed-horizon design.

A group-sequential test with maximum information ``R`` times the fixed test's (``R`` the
design's inflation factor at the target power, Jennison and Turnbull 2000, section 2.6) has the
fixed test's power, and stops early on average. :func:`sequential_sample_size` takes a solved
fixed design (any of :func:`abkit.power_means`, :func:`abkit.power_proportions`,
:func:`abkit.power_ratio`) and an :class:`abkit.sequential.GroupSequentialDesign` (or
:func:`abkit.sequential.wang_tsiatis` design) of the same ``alpha`` and ``alternative``.

The inflation factor and the expected information come from the normal (z) theory of the
design, as rpact's ``getSampleSizeMeans``; for a t-test fixed size they are the usual
large-sample approximation. The design's power counts the efficacy bound on the effect's side
only (a two-sided fixed design's far tail is negligible at any useful power).

Examples
--------
>>> from abkit import power_means, sequential_sample_size
>>> from abkit.sequential import GroupSequentialDesign
>>> fixed = power_means(sd=1.0, mde=0.2, power=0.8, alpha=0.025, alternative="greater", method="z")
>>> design = GroupSequentialDesign(3, alpha=0.025, alternative="greater")
>>> s = sequential_sample_size(fixed, design)
>>> round(s.n_total_max, 2), round(s.expected_n_h1, 2)
(794.93, 679.37)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from abkit.power._core import ArrayResult, FloatOrArray, PowerResult

if TYPE_CHECKING:
    from abkit.sequential.group import _Design

__all__ = ["SequentialSampleSizeResult", "sequential_sample_size"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SequentialSampleSizeResult(ArrayResult):
    """Sizes of a group-sequential design (arrays of the fixed result's shape, or scalars).

    ``n_control`` and ``n_treatment`` are the maximum arm sizes (fixed sizes times
    ``inflation_factor``, unrounded); ``n_control_rounded``, ``n_treatment_rounded`` round them
    up and ``n_total`` adds the rounded arms. ``n_total_max`` is the unrounded maximum total and
    ``expected_n_h0`` / ``expected_n_h1`` the expected total at stopping under no effect and
    under the design's effect (the fixed design's ``mde``). The control arm's size at look ``k``
    is ``information[k] * n_control``.
    """

    n_fixed_control: FloatOrArray
    n_control: FloatOrArray
    n_treatment: FloatOrArray
    n_control_rounded: int | np.ndarray
    n_treatment_rounded: int | np.ndarray
    n_total: int | np.ndarray
    n_total_max: FloatOrArray
    expected_n_h0: FloatOrArray
    expected_n_h1: FloatOrArray
    inflation_factor: FloatOrArray
    power: FloatOrArray
    alpha: float
    alternative: str
    information: tuple[float, ...]


def _check_compatible(fixed: PowerResult, design: _Design) -> None:
    if not isinstance(fixed, PowerResult):
        raise TypeError(f"`fixed` must be a result of abkit.power_*; got {type(fixed).__name__}.")
    if not all(hasattr(design, a) for a in ("alpha", "alternative", "drift", "inflation_factor")):
        raise TypeError(
            f"`design` must be a group-sequential design (GroupSequentialDesign, WangTsiatisDesign); "
            f"got {type(design).__name__}."
        )
    if not np.all(np.asarray(fixed.inflation_factor) == 1.0):
        raise ValueError("`fixed` must be a fixed-horizon design (inflation_factor=1); got "
                         f"inflation_factor={np.asarray(fixed.inflation_factor).ravel()[0]}.")
    alphas = np.unique(np.asarray(fixed.alpha, dtype=float))
    if alphas.size != 1 or not np.isclose(alphas[0], design.alpha, rtol=1e-12, atol=0.0):
        raise ValueError(f"`fixed` must have the design's alpha {design.alpha}; got {alphas.tolist()}.")
    if fixed.alternative != design.alternative:
        raise ValueError(f"`fixed` must have the design's alternative {design.alternative!r}; "
                         f"got {fixed.alternative!r}.")


def sequential_sample_size(fixed: PowerResult, design: _Design) -> SequentialSampleSizeResult:
    """Maximum and expected sample sizes of ``design`` with the power of the fixed design ``fixed``.

    Parameters
    ----------
    fixed
        A fixed-horizon result (``inflation_factor=1``) of :func:`abkit.power_means`,
        :func:`abkit.power_proportions` or :func:`abkit.power_ratio`, solved for ``n_control``
        (or any result: its ``n_control`` and ``power`` are used as the fixed design's).
    design
        A group-sequential design with the same ``alpha`` and ``alternative``.

    Returns
    -------
    SequentialSampleSizeResult

    Examples
    --------
    >>> from abkit import power_proportions, sequential_sample_size
    >>> from abkit.sequential import GroupSequentialDesign
    >>> fixed = power_proportions(control_rate=0.10, mde=0.01, power=0.9)
    >>> s = sequential_sample_size(fixed, GroupSequentialDesign(4, alpha=0.05, spending="pocock"))
    >>> round(s.inflation_factor, 3), s.n_total > fixed.n_total
    (1.178, True)
    """
    _check_compatible(fixed, design)
    power = np.asarray(fixed.power, dtype=float)
    unique, inverse = np.unique(power.ravel(), return_inverse=True)
    inflation, info_h0, info_h1 = (np.empty(unique.size) for _ in range(3))
    for j, target in enumerate(unique):
        theta = design.drift(float(target))
        inflation[j] = design.inflation_factor(float(target))
        info_h0[j] = design.expected_information(0.0)
        info_h1[j] = design.expected_information(theta)
    factor, h0, h1 = (v[inverse].reshape(power.shape) for v in (inflation, info_h0, info_h1))
    n_fixed = np.asarray(fixed.n_control, dtype=float)
    ratio = np.asarray(fixed.ratio, dtype=float)
    k = np.asarray(fixed.n_treatments, dtype=float)
    n_control = n_fixed * factor
    n_treatment = n_control * ratio
    total = n_control + k * n_treatment
    c_rounded = np.ceil(n_control * (1.0 - 1e-12))
    t_rounded = np.ceil(n_treatment * (1.0 - 1e-12))
    fields: dict[str, Any] = {
        "n_fixed_control": n_fixed,
        "n_control": n_control,
        "n_treatment": n_treatment,
        "n_control_rounded": c_rounded.astype(np.int64),
        "n_treatment_rounded": t_rounded.astype(np.int64),
        "n_total": (c_rounded + k * t_rounded).astype(np.int64),
        "n_total_max": total,
        "expected_n_h0": total * h0,
        "expected_n_h1": total * h1,
        "inflation_factor": factor,
        "power": power,
    }
    scalar = power.ndim == 0
    if scalar:
        fields = {name: (int(v) if v.dtype.kind == "i" else float(v)) for name, v in fields.items()}
    return SequentialSampleSizeResult(
        **fields,
        alpha=float(design.alpha),
        alternative=design.alternative,
        information=tuple(design.information),
    )
