"""Sequential testing: look at an experiment as often as you like and keep the error you asked for.

- Group-sequential designs with alpha spending (:class:`GroupSequentialDesign`) and classic
  Wang-Tsiatis boundaries (:func:`wang_tsiatis`), by recursive numerical integration.
- Always-valid inference: the mixture SPRT (:func:`msprt`, streaming :class:`MSPRT`),
  asymptotic confidence sequences (:func:`confidence_sequence`) and the uniform boundaries of
  Howard et al. (:mod:`abkit.sequential.boundaries`).
- Wald's SPRT for a Bernoulli rate (:class:`SPRT`) and a sequential sample-ratio-mismatch test
  (:func:`sequential_srm_test`, :class:`SequentialSRM`).

Examples
--------
>>> from abkit.sequential import GroupSequentialDesign
>>> [round(b, 3) for b in GroupSequentialDesign(5, alpha=0.025, alternative="greater").bounds]
[4.877, 3.357, 2.68, 2.29, 2.031]
"""

from abkit.sequential.always_valid import (
    MSPRT,
    ConfidenceSequenceResult,
    MSPRTResult,
    confidence_sequence,
    msprt,
    msprt_tau2,
)
from abkit.sequential.boundaries import (
    bernoulli_confidence_sequence,
    beta_binomial_log_mixture,
    beta_binomial_mixture_bound,
    gamma_poisson_log_mixture,
    gamma_poisson_mixture_bound,
    normal_log_mixture,
    normal_mixture_bound,
    normal_mixture_rho,
    poly_stitching_bound,
)
from abkit.sequential.group import (
    GroupSequentialAnalysis,
    GroupSequentialDesign,
    GroupSequentialSampleSize,
    WangTsiatisDesign,
    peeking_type1_error,
    wang_tsiatis,
)
from abkit.sequential.spending import (
    hsd_spending,
    obrien_fleming_spending,
    pocock_spending,
    power_spending,
    spending_function,
)
from abkit.sequential.sprt import SPRT, SPRTOperatingCharacteristics
from abkit.sequential.srm import SequentialSRM, SequentialSRMResult, sequential_srm_test

__all__ = [
    "MSPRT",
    "SPRT",
    "ConfidenceSequenceResult",
    "GroupSequentialAnalysis",
    "GroupSequentialDesign",
    "GroupSequentialSampleSize",
    "MSPRTResult",
    "SPRTOperatingCharacteristics",
    "SequentialSRM",
    "SequentialSRMResult",
    "WangTsiatisDesign",
    "bernoulli_confidence_sequence",
    "beta_binomial_log_mixture",
    "beta_binomial_mixture_bound",
    "confidence_sequence",
    "gamma_poisson_log_mixture",
    "gamma_poisson_mixture_bound",
    "hsd_spending",
    "msprt",
    "msprt_tau2",
    "normal_log_mixture",
    "normal_mixture_bound",
    "normal_mixture_rho",
    "obrien_fleming_spending",
    "peeking_type1_error",
    "pocock_spending",
    "poly_stitching_bound",
    "power_spending",
    "sequential_srm_test",
    "spending_function",
    "wang_tsiatis",
]
