"""The public surface: curated names, import layering, results' behaviour, shared checks."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

import abkit
from abkit import ConfidenceInterval, ProportionStats, proportions_test
from abkit._validation import check_int, check_rng

PACKAGE = Path(abkit.__file__).resolve().parent

# Modules allowed to touch data frames, engines, plotting or the router layer (paths relative to
# the package; every `__init__.py` re-exports and is exempt too).
NOT_PRIMITIVE = {"cli.py", "datasets.py"}
FORBIDDEN = ("pandas", "narwhals", "polars", "duckdb", "pyspark", "pyarrow", "matplotlib",
             "abkit.frame", "abkit.adapters", "abkit.plotting", "abkit.cli")


def primitive_modules() -> list[Path]:
    paths = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("tests", "plotting", "adapters", "frame") or relative.as_posix() in NOT_PRIMITIVE:
            continue
        if relative.name == "__init__.py":
            continue
        paths.append(path)
    return paths


def module_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in tree.body:  # module level only; imports inside functions are lazy and allowed
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
    return names


def test_all_is_sorted_and_complete() -> None:
    assert abkit.__all__ == sorted(abkit.__all__)
    assert len(set(abkit.__all__)) == len(abkit.__all__)
    for name in abkit.__all__:
        assert hasattr(abkit, name), name


def test_foundation_public_names() -> None:
    for name in ("ProportionStats", "MeanStats", "BivariateStats", "proportions_test", "means_test",
                 "ratio_test", "cuped_test", "srm_test", "adjust_pvalues"):
        assert name in abkit.__all__


@pytest.mark.parametrize("path", primitive_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_primitives_do_not_import_frames_plotting_or_adapters(path: Path) -> None:
    bad = [name for name in module_level_imports(path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad} at module level"


def test_result_to_dict_is_strict_json_and_repr_is_a_table() -> None:
    r = proportions_test(ProportionStats(100, 1000), ProportionStats(130, 1000), alternative="greater")
    text = json.dumps(r.to_dict(), allow_nan=False)  # infinite interval ends become strings
    restored = json.loads(text)
    assert restored["ci"]["high"] == "inf"
    assert restored["pvalue"] == pytest.approx(r.pvalue)
    lines = repr(r).splitlines()
    assert lines[0] == "ProportionsTestResult"
    assert any(line.split()[0] == "pvalue" for line in lines[1:])
    html = r._repr_html_()
    assert html.startswith("<table>") and "pvalue" in html


def test_results_are_frozen() -> None:
    r = proportions_test(ProportionStats(100, 1000), ProportionStats(130, 1000))
    with pytest.raises(AttributeError):
        r.pvalue = 0.5  # type: ignore[misc]


def test_confidence_interval_helpers() -> None:
    ci = ConfidenceInterval(-1.0, math.inf)
    assert ci.contains(5.0) and not ci.contains(-2.0)
    assert ci.width == math.inf
    low, high = ci
    assert (low, high) == (-1.0, math.inf)


def test_rng_normalisation() -> None:
    assert check_rng(5).random() == np.random.default_rng(5).random()
    generator = np.random.default_rng(1)
    assert check_rng(generator) is generator
    with pytest.raises(TypeError, match=r"`rng` must be an int seed, a numpy.random.Generator or None; got 'a'\."):
        check_rng("a")
    with pytest.raises(ValueError, match=r"`rng` must be a non-negative seed; got -1\."):
        check_rng(-1)


def test_integers_accept_numpy_and_integral_floats() -> None:
    assert check_int("n", np.int64(5)) == 5
    assert check_int("n", 5.0) == 5
    with pytest.raises(TypeError, match=r"`n` must be an integer; got True\."):
        check_int("n", True)
