"""Shared test fixtures: the reference cases and hypothesis settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from scipy import stats

# On a developer's machine hypothesis draws new examples each run (to hunt for bugs); in CI
# (CI set) it derandomizes, so a submission's result does not depend on the draw.
settings.register_profile(
    "abkit",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("abkit")

# The project's own copy of the reference cases (refreshed from the team's shared/reference
# folder when it changes), so a fresh clone with nothing beside it passes the suite.
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


def load_reference(name: str) -> list[dict[str, Any]]:
    """The cases of ``abkit/tests/reference/<name>.json``."""
    path = REFERENCE_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"Reference file {path} is missing from the repository.")
    with path.open() as handle:
        cases: list[dict[str, Any]] = json.load(handle)
    return cases


def reference_cases(name: str, **match: str) -> list[Any]:
    """``pytest.param`` objects for the cases whose fields equal ``match``, ids from the file."""
    cases = [
        c for c in load_reference(name) if all(c.get(k) == v for k, v in match.items())
    ]
    return [pytest.param(c, id=c["id"]) for c in cases]


def binomial_band(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central ``level`` band of a Binomial(n, p) count, for Monte Carlo calibration checks."""
    return int(stats.binom.ppf((1 - level) / 2, n, p)), int(stats.binom.isf((1 - level) / 2, n, p))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The folder holding the reference JSON files and their data/ CSVs."""
    return REFERENCE_DIR
