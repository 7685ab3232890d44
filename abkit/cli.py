"""The ``abkit`` command.

``abkit demo`` generates a seeded experiment and prints a readable report of its analysis.
``abkit sample-size`` sizes an experiment (or gives its power or MDE) and, with traffic, its
duration in days.
``abkit compare LOG --champion A --challenger B`` compares shadow models on a long-layout log
(a Parquet, CSV or JSON Lines file or a directory of segments) from DuckDB aggregates.
``abkit ope LOG --policy p0,p1,p2 [--q-hat q0,q1,q2] [--policy-action best]`` estimates a target
policy's value on a decision log (IPS, SNIPS, direct method, doubly robust, replay) from DuckDB
aggregates.
``abkit analyze PATH`` analyses a CSV or Parquet file of one row per unit inside DuckDB (the file
is never loaded into pandas): ``--proportion converted``, ``--mean revenue`` or
``--mean revenue:revenue_pre`` (CUPED on a covariate), ``--ratio clicks/sessions``,
``--quantile revenue:0.9``, each optionally named as ``NAME=SPEC``; ``--cap NAME=percentile:0.99``
caps a mean, ``--engine bayes`` reports chances to win and expected losses; ``--by
country,platform`` adds one block of rows per segment (``--family all`` adjusts across them all);
``--weights control=0.2,treatment=0.8`` gives the designed split for the sample-ratio check.
Every command prints a table by default and JSON with ``--output json``; ``abkit --version``
prints the version.

A user's mistake never ends in a traceback: the command prints one line naming the argument or
the file and exits with status 2 when the command line is wrong (a bad option value, a missing
file, a column that is not in the file, a ``--control`` value that is not in the variant
column) and 1 when the data are (an unreadable or corrupt file, too few rows, a missing optional
dependency). To tell a mistyped ``--control`` or ``--weights`` from bad data, ``analyze`` reads
the distinct values of the variant column first (one more scan of that column) when either is
given.

Examples
--------
>>> main(["demo", "--users", "2000"])  # doctest: +ELLIPSIS
abkit demo: ...
0
>>> main(["sample-size", "--control-rate", "0.1", "--mde", "0.1", "--relative"])  # doctest: +ELLIPSIS
ProportionsPowerResult
  n_control            14750.8
...
0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from abkit import __version__
from abkit._results import ConfidenceInterval
from abkit.datasets import make_experiment
from abkit.errors import ConvergenceError
from abkit.frame import Experiment, Mean, Metric, Proportion, Quantile, RatioOfMeans
from abkit.frame.aggregate import check_schema as _check_schema
from abkit.means import MeansTestResult, cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.power import duration, power_means, power_proportions
from abkit.power.means import MeansPowerResult
from abkit.power.proportions import ProportionsPowerResult
from abkit.proportions import ProportionsTestResult, proportions_test
from abkit.srm import srm_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats


class UsageError(Exception):
    """The command line is wrong: exit status 2."""


class DataError(Exception):
    """The data (or the environment) cannot serve the command: exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``abkit demo: error: ...``) and exit status 2."""

    def error(self, message: str) -> Any:  # argparse's hook; never returns
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {value}")
        return value

    return parse


def _option_names(message: str, parser: argparse.ArgumentParser) -> str:
    """The library's argument names in ``message`` (`` `n_control` ``) as the command's options."""
    options = {action.dest: action.option_strings[-1] for action in parser._actions
               if action.option_strings and action.dest != "help"}
    return re.sub(r"`(\w+)`", lambda m: f"`{options.get(m.group(1), m.group(1))}`", message)


def _fmt_ci(ci: ConfidenceInterval, scale: float = 1.0, digits: int = 3) -> str:
    return f"[{ci.low * scale:+.{digits}f}, {ci.high * scale:+.{digits}f}]"


def run_demo(n_users: int, seed: int, *, output: str = "table") -> str:
    """The demo report for a seeded synthetic experiment, as text or JSON (``output="json"``)."""
    data = make_experiment(n_users, rng=seed)
    arms = {name: data[data["variant"] == name] for name in ("control", "treatment")}
    c, t = arms["control"], arms["treatment"]

    srm = srm_test([len(c), len(t)], [0.5, 0.5])
    conversion = proportions_test(
        ProportionStats.from_samples(c["converted"].to_numpy()),
        ProportionStats.from_samples(t["converted"].to_numpy()),
    )
    revenue = means_test(
        MeanStats.from_samples(c["revenue"].to_numpy()),
        MeanStats.from_samples(t["revenue"].to_numpy()),
    )
    revenue_cuped = cuped_test(
        BivariateStats.from_samples(c["revenue"].to_numpy(), c["revenue_pre"].to_numpy()),
        BivariateStats.from_samples(t["revenue"].to_numpy(), t["revenue_pre"].to_numpy()),
    )
    ctr = ratio_test(
        BivariateStats.from_samples(c["clicks"].to_numpy(), c["sessions"].to_numpy()),
        BivariateStats.from_samples(t["clicks"].to_numpy(), t["sessions"].to_numpy()),
    )
    # The decision family: one test per metric, Holm-adjusted together. Revenue is judged with
    # CUPED; the plain Welch test is printed beside it to show what the covariate buys.
    rows: list[tuple[str, float, float, ProportionsTestResult | MeansTestResult]] = [
        ("conversion", conversion.control_rate, conversion.treatment_rate, conversion),
        ("revenue (CUPED)", revenue_cuped.control_mean, revenue_cuped.treatment_mean,
         revenue_cuped),
        ("clicks/session", ctr.control_mean, ctr.treatment_mean, ctr),
    ]
    adjusted = adjust_pvalues(np.array([r[3].pvalue for r in rows]), method="holm")
    decisions = {
        name: "better" if p < 0.05 and r.effect > 0 else "worse" if p < 0.05 else "no evidence"
        for (name, _, _, r), p in zip(rows, adjusted, strict=True)
    }
    if output == "json":
        return json.dumps({
            "n_users": n_users, "seed": seed, "srm": srm.to_dict(),
            "metrics": [{"metric": name, "pvalue_holm": float(p), "decision": decisions[name],
                         "result": result.to_dict()}
                        for (name, _, _, result), p in zip(rows, adjusted, strict=True)],
            "revenue_welch": revenue.to_dict(),
            "variance_reduction": revenue_cuped.variance_reduction,
        }, indent=2)

    def line(name: str, control_value: float, treatment_value: float,
             result: ProportionsTestResult | MeansTestResult, p_adj: str) -> str:
        return (
            f"{name:<17}{control_value:>10.4f}{treatment_value:>11.4f}"
            f"{result.relative_effect * 100:>12.2f}%  {_fmt_ci(result.relative_ci, 100, 2):<20}"
            f"{result.pvalue:>9.4f}{p_adj:>10}"
        )

    lines = [
        f"abkit demo: {n_users:,} users, seed {seed}",
        "",
        f"Sample ratio: control {len(c):,}, treatment {len(t):,} "
        f"(chi2 = {srm.statistic:.3f}, p = {srm.pvalue:.4f}) -> "
        + ("MISMATCH: do not trust the results" if srm.mismatch else "ok"),
        "",
        f"{'metric':<17}{'control':>10}{'treatment':>11}{'rel. effect':>13}  "
        f"{'95% CI (relative)':<20}{'p':>9}{'p (Holm)':>10}",
    ]
    lines += [line(*row, f"{p_adj:.4f}") for row, p_adj in zip(rows, adjusted, strict=True)]
    lines += [
        line("revenue (Welch)", revenue.control_mean, revenue.treatment_mean, revenue, "-"),
        "",
        f"CUPED on pre-period revenue removed {revenue_cuped.variance_reduction:.0%} of the "
        "variance of the revenue effect (the Welch row is the same metric without it).",
        "Decision at alpha = 0.05, Holm across the three metrics: "
        + "; ".join(f"{name}: {decision}" for name, decision in decisions.items()),
    ]
    return "\n".join(lines)


def run_sample_size(args: argparse.Namespace) -> str:
    """The ``sample-size`` report: the solved design and, with traffic, its duration."""
    if (args.control_rate is None) == (args.sd is None):
        raise UsageError("give exactly one of --control-rate (rates) or --sd (means).")
    power = args.power
    if power is None and (args.mde is None or args.n_control is None):
        power = 0.8
    common = dict(mde=args.mde, n_control=args.n_control, power=power, alpha=args.alpha,
                  ratio=args.ratio, alternative=args.alternative, relative=args.relative,
                  two_sided_power=args.two_sided_power, margin=args.margin, rho=args.rho,
                  n_treatments=args.treatments, adjustment=args.adjustment,
                  inflation_factor=args.inflation_factor)
    if args.control_rate is not None:
        result: ProportionsPowerResult | MeansPowerResult = power_proportions(
            control_rate=args.control_rate, method=args.method or "pooled", **common)
    else:
        result = power_means(sd=args.sd, mean=args.mean, method=args.method or "t", **common)
    days = None
    if args.daily_visitors is not None:
        days = duration(n_control=result.n_control_rounded, n_treatment=result.n_treatment_rounded,
                        n_treatments=result.n_treatments, daily_visitors=args.daily_visitors,
                        traffic_share=args.traffic_share, population=args.population)
    if args.output == "json":
        return json.dumps({"design": result.to_dict(),
                           "duration": None if days is None else days.to_dict()}, indent=2)
    lines = [repr(result)]
    if days is not None:
        lines.append(f"duration: {days.days:.2f} days ({days.units_needed:,.0f} units at "
                     f"{args.traffic_share:g} of {args.daily_visitors:,.0f} daily visitors)")
    return "\n".join(lines)


def _add_sample_size(commands: Any) -> None:
    size = commands.add_parser(
        "sample-size", help="sample size, power or MDE of a design (solves the one left out)")
    size.add_argument("--baseline", "--control-rate", type=float, dest="control_rate",
                      help="control conversion rate (rates); --baseline is its old name")
    size.add_argument("--sd", type=float, help="per-unit standard deviation (means)")
    size.add_argument("--mean", type=float, help="control mean (for --relative with --sd)")
    size.add_argument("--mde", type=float, help="effect to detect (absolute unless --relative)")
    size.add_argument("--relative", action="store_true", help="--mde is relative to the control")
    size.add_argument("--n-control", type=float, help="units in the control arm")
    size.add_argument("--power", type=float, help="target power (0.8 when solving for n)")
    size.add_argument("--alpha", type=float, default=0.05)
    size.add_argument("--ratio", type=float, default=1.0, help="n_treatment / n_control")
    size.add_argument("--alternative", default="two-sided", choices=["two-sided", "greater", "less"])
    size.add_argument("--method", help="pooled | unpooled | arcsine (rates); t | z (means)")
    size.add_argument("--two-sided-power", default="both", choices=["both", "near"])
    size.add_argument("--margin", type=float, default=0.0, help="non-inferiority/superiority margin")
    size.add_argument("--rho", type=float, default=0.0, help="CUPED covariate correlation")
    size.add_argument("--treatments", type=int, default=1, help="number of treatment arms")
    size.add_argument("--adjustment", default="bonferroni", choices=["bonferroni", "dunnett"])
    size.add_argument("--inflation-factor", type=float, default=1.0,
                      help="group-sequential maximum over fixed sample size")
    size.add_argument("--daily-visitors", type=float, help="daily visitors, to report the duration")
    size.add_argument("--traffic-share", type=float, default=1.0, help="share in the experiment")
    size.add_argument("--population", type=float, help="distinct users (returning users)")
    size.add_argument("--output", default="table", choices=["table", "json"])


def parse_metric(kind: str, spec: str) -> tuple[str, Metric]:
    """A metric option's ``[NAME=]SPEC`` as ``(name, metric)``; the name defaults to the spec.

    >>> name, metric = parse_metric("ratio", "ctr=clicks/sessions")
    >>> name, metric.columns
    ('ctr', ('clicks', 'sessions'))
    """
    name, sep, body = spec.partition("=")
    if not sep:
        name, body = spec, spec
    metric: Metric
    if kind == "proportion":
        metric = Proportion(body)
    elif kind == "mean":
        column, _, covariate = body.partition(":")
        metric = Mean(column, covariate or None)
    elif kind == "quantile":
        column, colon, q = body.rpartition(":")
        try:
            if not (colon and column):
                raise ValueError(spec)
            metric = Quantile(column, float(q))
        except ValueError as exc:
            raise ValueError(f"`--quantile` must be COLUMN:Q with Q in (0, 1); got {spec!r}.") from exc
    else:
        numerator, slash, denominator = body.partition("/")
        if not slash or not numerator or not denominator:
            raise ValueError(f"`--ratio` must be NUMERATOR/DENOMINATOR; got {spec!r}.")
        metric = RatioOfMeans(numerator, denominator)
    if not name:
        raise ValueError(f"`--{kind}` must be [NAME=]SPEC with a non-empty NAME; got {spec!r}.")
    return name, metric


_DUCKDB_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "UHUGEINT")


def _control_value(types: dict[str, str], variant: str, control: str | None, option: str) -> Any:
    # The command line gives text; compare it as the variant column's type.
    if control is None or variant not in types:
        return control
    kind = types[variant].upper()
    try:
        if kind in _DUCKDB_INTEGERS:
            return int(control)
        if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
            return float(control)
    except ValueError as exc:
        raise UsageError(f"`{option}` must give values of column {variant!r} ({kind}); "
                         f"got {control!r}.") from exc
    if kind == "BOOLEAN":
        return control.lower() in ("true", "1", "t", "yes")
    return control


def apply_cap(declared: dict[str, Metric], spec: str) -> None:
    """``--cap NAME=percentile:P`` or ``NAME=absolute:X`` on the mean metric ``NAME``.

    >>> metrics: dict[str, Metric] = {"revenue": Mean("revenue")}
    >>> apply_cap(metrics, "revenue=percentile:0.99")
    >>> metrics["revenue"].cap
    ('percentile', 0.99)
    """
    name, _, rule = spec.partition("=")
    kind, _, value = rule.partition(":")
    metric = declared.get(name)
    if not isinstance(metric, Mean):
        raise ValueError(f"`--cap` must name a --mean metric (NAME=percentile:P or NAME=absolute:X); "
                         f"got {spec!r}.")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"`--cap` must be NAME=percentile:P or NAME=absolute:X; got {spec!r}.") from exc
    declared[name] = dataclasses.replace(metric, cap=(kind, number))


def parse_weights(spec: str) -> list[tuple[str, float]]:
    """``--weights``'s ``VARIANT=SHARE,...`` as ``[(variant, share), ...]`` (variants as text).

    >>> parse_weights("control=0.2,treatment=0.8")
    [('control', 0.2), ('treatment', 0.8)]
    """
    pairs = []
    for item in spec.split(","):
        variant, sep, share = item.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = math.nan
        if not sep or not variant or not (math.isfinite(value) and value > 0.0):
            raise UsageError(f"`--weights` must be VARIANT=SHARE,... with positive shares; got {spec!r}.")
        pairs.append((variant, value))
    return pairs


def _variant_values(relation: Any, variant: str) -> list[Any]:
    """The distinct values of the variant column (one more scan of that column)."""
    return [row[0] for row in relation.select(variant).distinct().fetchall()]


def _check_variants(relation: Any, variant: str, types: dict[str, str], control: str | None,
                    weights: list[tuple[str, float]] | None) -> tuple[Any, dict[Any, float] | None]:
    """``--control`` and ``--weights`` as values of the variant column, or a usage error."""
    control_value = _control_value(types, variant, control, "--control")
    shares = None if weights is None else {
        _control_value(types, variant, key, "--weights"): share for key, share in weights}
    if control is None and shares is None:
        return control_value, shares
    values = _variant_values(relation, variant)
    if control is not None and control_value not in values:
        raise UsageError(f"`--control` must be a value of column {variant!r} "
                         f"(one of {sorted(map(str, values))}); got {control!r}.")
    if shares is not None and set(shares) != set(values):
        raise UsageError(f"`--weights` must give one share for each value of column {variant!r} "
                         f"({sorted(map(str, values))}); got {sorted(map(str, shares))}.")
    return control_value, shares


def _read(path: str) -> tuple[Any, Any]:
    """A DuckDB connection and a relation on the CSV or Parquet file at ``path``."""
    try:
        import duckdb
    except ImportError:
        raise DataError('`abkit analyze` needs DuckDB: pip install "abkit[duckdb]".') from None
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"`PATH` must be an existing CSV or Parquet file; got {path!r}.")
    suffixes = "".join(file.suffixes).lower()
    if not any(ext in suffixes for ext in (".parquet", ".pq", ".csv", ".tsv")):
        raise UsageError(f"`PATH` must end in .csv, .tsv or .parquet; got {file.name!r}.")
    connection = duckdb.connect()
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            relation = connection.read_parquet(str(file))
        else:
            relation = connection.read_csv(str(file))
    except duckdb.Error as exc:
        raise DataError(f"cannot read {file.name!r}: {_first_line(exc)}") from None
    return connection, relation


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_analyze(path: str, *, variant: str, control: str | None, metrics: list[tuple[str, str]],
                alternative: str, confidence_level: float, adjust: str, output: str,
                weights: str | None = None, caps: Sequence[str] = (),
                engine: str = "frequentist", by: str | None = None,
                family: str = "segment") -> str:
    """Analyse a CSV or Parquet file with DuckDB; the report as text, CSV or JSON.

    Raises :class:`UsageError` when the command line does not fit the file and
    :class:`DataError` when the file cannot be read or analysed.
    """
    if not metrics:
        raise UsageError("Give at least one metric: --proportion, --mean, --ratio or --quantile.")
    try:
        declared = [parse_metric(kind, spec) for kind, spec in metrics]
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    names = [name for name, _ in declared]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"Metric names must be unique (use NAME=SPEC); got {duplicates} twice.")
    pairs = None if weights is None else parse_weights(weights)
    _, relation = _read(path)
    import duckdb
    import narwhals as nw

    experiment_metrics = dict(declared)
    try:
        for cap in caps:
            apply_cap(experiment_metrics, cap)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    experiment = Experiment(**experiment_metrics)
    segments = _column_list("--by", by)
    try:
        _check_schema(dict(nw.from_native(relation).collect_schema()), variant, experiment.metrics,
                      tuple(segments or ()))
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    types = {column: str(kind) for column, kind in zip(relation.columns, relation.types, strict=True)}
    try:
        control_value, shares = _check_variants(relation, variant, types, control, pairs)
        result = experiment.analyze(
            relation, variant=variant, control=control_value, alternative=alternative,
            confidence_level=confidence_level, adjust=adjust, srm_weights=shares, engine=engine,
            by=segments, family=family,
        )
    except (ValueError, TypeError) as exc:
        raise DataError(f"{Path(path).name}: {exc}") from None
    except duckdb.Error as exc:
        raise DataError(f"cannot read {Path(path).name!r}: {_first_line(exc)}") from None
    if output == "csv":
        return str(result.to_frame().to_csv(index=False)).rstrip("\n")
    if output == "json":
        return json.dumps(result.to_dict(), indent=2)
    return repr(result)


def _add_analyze(commands: Any) -> None:
    analyze = commands.add_parser(
        "analyze", help="analyse a CSV or Parquet file (one row per unit) inside DuckDB",
        description="Test every treatment against the control on each metric; Holm-adjusted "
                    "p-values and a sample-ratio check.")
    analyze.add_argument("path", help="CSV or Parquet file, one row per randomisation unit")
    analyze.add_argument("--variant", default="variant", help="variant column (default: variant)")
    analyze.add_argument("--control", default=None, help="control's value (default: the smallest)")
    analyze.add_argument("--proportion", dest="metrics", action="append", metavar="[NAME=]COLUMN",
                         type=lambda s: ("proportion", s), help="a 0/1 column")
    analyze.add_argument("--mean", dest="metrics", action="append", metavar="[NAME=]COLUMN[:COVARIATE]",
                         type=lambda s: ("mean", s), help="a numeric column, CUPED with a covariate")
    analyze.add_argument("--ratio", dest="metrics", action="append", metavar="[NAME=]NUM/DEN",
                         type=lambda s: ("ratio", s), help="a ratio of means, by the delta method")
    analyze.add_argument("--quantile", dest="metrics", action="append", metavar="[NAME=]COLUMN:Q",
                         type=lambda s: ("quantile", s), help="a quantile (R type 7), order statistics")
    analyze.add_argument("--cap", dest="caps", action="append", default=[],
                         metavar="NAME=percentile:P|NAME=absolute:X", help="cap a --mean metric")
    analyze.add_argument("--engine", default="frequentist", choices=["frequentist", "bayes"])
    analyze.add_argument("--alternative", default="two-sided",
                         choices=["two-sided", "less", "greater"])
    analyze.add_argument("--confidence-level", type=float, default=0.95)
    analyze.add_argument("--adjust", default="holm",
                         choices=["holm", "bonferroni", "hochberg", "bh", "by", "dunnett", "none"])
    analyze.add_argument("--by", default=None, metavar="COLUMN[,COLUMN...]",
                         help="segment columns: one block of rows per segment after the overall")
    analyze.add_argument("--family", default="segment", choices=["segment", "all"],
                         help="with --by, adjust p-values per segment (default) or across all rows")
    analyze.add_argument("--weights", metavar="VARIANT=SHARE,...",
                         help="designed split for the sample-ratio check (default: equal shares)")
    analyze.add_argument("--output", default="table", choices=["table", "csv", "json"])


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="serve experiments over HTTP (needs abkit[serve])",
        description="Route units and record outcomes over HTTP (Starlette + uvicorn) for the "
                    "experiments of a JSON configuration.")
    serve.add_argument("config", help='JSON file: {"experiments": [{"name", "type", ...}]}')
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (need a shared store)")
    serve.add_argument("--store", default="memory://",
                       help="memory:// | sqlite://PATH | redis://HOST:PORT/DB (default: memory://)")
    serve.add_argument("--log", default=None, metavar="DIR|URL",
                       help="decision and outcome log: a directory of segment files, or a Redis URL "
                            "(a stream every host appends to; drain it to segment files)")
    serve.add_argument("--durability", default="batch", choices=["batch", "sync"],
                       help="log durability (default: batch, at most 1 s lost in a crash)")


def run_compare(path: str, *, champion: str, challengers: list[str], metrics: list[str] | None,
                alpha: float, min_requests: int, output: str) -> str:
    """Compare shadow models on a Parquet/CSV/JSON Lines log (or a directory of segments) in DuckDB.

    The log is long-layout (``request_id``, ``model``, ``score`` or ``prediction``, ``label``,
    optional ``latency`` and ``timestamp``); only engine aggregates reach Python, except for
    the bootstrap metrics (latency quantiles), which load the log. Raises :class:`UsageError`
    when the command line does not fit the file and :class:`DataError` when the data cannot be
    compared.
    """
    from abkit.frame import ShadowTable

    try:
        import duckdb
    except ImportError:
        raise DataError('`abkit compare` needs DuckDB: pip install "abkit[duckdb]".') from None
    if not Path(path).exists():
        raise UsageError(
            f"`LOG` must be an existing Parquet, CSV or JSON Lines file or directory; got {path!r}.")
    name = Path(path).name
    try:
        table = ShadowTable(path)
        models = table.models
    except duckdb.Error as exc:
        raise DataError(f"cannot read {name!r}: {_first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    for model in [champion, *challengers]:
        if model not in models:
            raise UsageError(f"Unknown model {model!r}; {name!r} has models {list(models)}.")
    try:
        result = table.compare_models(champion=champion, challengers=challengers,
                                      metrics=metrics or ("auc", "log_loss"), alpha=alpha,
                                      min_requests=min_requests)
    except duckdb.Error as exc:
        raise DataError(f"cannot read {name!r}: {_first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name}: {exc}") from None
    return json.dumps(result.to_dict(), indent=2) if output == "json" else repr(result)


def _add_compare(commands: Any) -> None:
    compare = commands.add_parser(
        "compare", help="compare shadow models on a Parquet/CSV log inside DuckDB",
        description="Champion/challenger verdicts from a shadow log (long layout), computed from "
                    "DuckDB aggregates; Holm-adjusted across challengers and metrics.")
    compare.add_argument("path", metavar="LOG",
                         help="Parquet, CSV or JSON Lines file, or a directory of segments")
    compare.add_argument("--champion", required=True, help="the serving model's name")
    compare.add_argument("--challenger", dest="challengers", action="append", required=True,
                         help="a challenger's name (repeat for several)")
    compare.add_argument("--metric", dest="metrics", action="append",
                         choices=["auc", "accuracy", "log_loss", "brier", "latency", "latency_p50",
                                  "latency_p90", "latency_p95", "latency_p99"],
                         help="a metric (repeat; default: auc and log_loss)")
    compare.add_argument("--alpha", type=float, default=0.05)
    compare.add_argument("--min-requests", type=_at_least(2), default=500)
    compare.add_argument("--output", default="table", choices=["table", "json"])


def _column_list(option: str, spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    columns = [c.strip() for c in spec.split(",")]
    if not all(columns):
        raise UsageError(f"`{option}` must be COLUMN[,COLUMN...]; got {spec!r}.")
    return columns


def _policy_options(message: str) -> str:
    """evaluate_policy's argument names in ``message`` as ``abkit ope``'s options."""
    return message.replace("`target`", "`--policy`").replace("`target_action`", "`--policy-action`")


def run_ope(path: str, *, policy: str | None, policy_action: str | None, q_hat: str | None,
            methods: list[str] | None, reward: str, action: str | None, propensity: str,
            clip: float | None, confidence_level: float, memory_limit: str | None,
            output: str) -> str:
    """Off-policy estimates of a target policy on a decision log (a Parquet/CSV file or a
    directory of segments), through :func:`abkit.frame.evaluate_policy` in DuckDB.

    ``policy`` names the target's probability columns (one per arm, in arm order, comma
    separated; or one column holding its probability of the logged action); ``policy_action``
    the column of a deterministic target's action (replay); ``q_hat`` the reward model's
    columns (one per arm: direct method, doubly robust). Raises :class:`UsageError` when the
    command line does not fit the file and :class:`DataError` when the data cannot be evaluated.
    """
    from abkit.frame import OffPolicyTable

    try:
        import duckdb
    except ImportError:
        raise DataError('`abkit ope` needs DuckDB: pip install "abkit[duckdb]".') from None
    if not Path(path).exists():
        raise UsageError(f"`LOG` must be an existing Parquet or CSV file or directory; got {path!r}.")
    if policy is None and policy_action is None:
        raise UsageError("Give the target policy: --policy COLUMN[,COLUMN...] (its probabilities) "
                         "and/or --policy-action COLUMN (its deterministic action).")
    from abkit._validation import check_confidence_level, check_positive

    try:
        check_confidence_level(confidence_level)
        if clip is not None:
            check_positive("clip", clip)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    target = _column_list("--policy", policy)
    q_columns = _column_list("--q-hat", q_hat)
    name = Path(path).name
    try:
        table = OffPolicyTable(
            path, target=None if target is None else target[0] if len(target) == 1 else target,
            q_hat=q_columns, target_action=policy_action, reward=reward, action=action,
            propensity=propensity, memory_limit=memory_limit)
    except duckdb.Error as exc:
        raise DataError(f"cannot read {name!r}: {_first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(_policy_options(str(exc))) from None
    chosen = list(dict.fromkeys(methods)) if methods else list(table.methods)
    missing = [m for m in chosen if m not in table.methods]
    if missing or not chosen:
        raise UsageError(f"--method {', '.join(missing) or '(none)'} needs other columns: with these "
                         f"options abkit can run {list(table.methods) or 'no method'} (ips and snips need "
                         "--policy; direct_method and doubly_robust one --policy and one --q-hat column "
                         "per arm; replay --policy-action).")
    try:
        results = table.evaluate(chosen, clip=clip, confidence_level=confidence_level)
    except duckdb.Error as exc:
        raise DataError(f"cannot read {name!r}: {_first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name}: {_policy_options(str(exc))}") from None
    if output == "json":
        return json.dumps({method: r.to_dict() for method, r in results.items()}, indent=2)
    first = next(iter(results.values()))
    level = f"{confidence_level:.0%}"
    lines = [f"abkit ope: {name}, {first.n:,} rounds",
             f"{'method':<14} {'value':>10} {'se':>10}  {level + ' CI':<22} {'ESS':>12}"]
    for method, r in results.items():
        interval = f"[{r.ci.low:.4g}, {r.ci.high:.4g}]"
        lines.append(f"{method:<14} {r.value:>10.4g} {r.se:>10.3g}  {interval:<22} "
                     f"{r.effective_sample_size:>12,.0f}")
    return "\n".join(lines)


def _add_ope(commands: Any) -> None:
    from abkit.frame import OPE_METHODS
    from abkit.frame.offpolicy import OPE_MEMORY_LIMIT

    ope = commands.add_parser(
        "ope", help="evaluate a target policy on a decision log (off-policy) inside DuckDB",
        description="Off-policy estimates (IPS, SNIPS, direct method, doubly robust, replay) of a "
                    "target policy's value from a decision log, computed from DuckDB aggregates.")
    ope.add_argument("path", metavar="LOG", help="Parquet or CSV file, or a directory of segments")
    ope.add_argument("--policy", metavar="COLUMN[,COLUMN...]",
                     help="the target's probabilities: one column per arm in arm order (rows sum to "
                          "1), or one column with its probability of the logged action")
    ope.add_argument("--policy-action", metavar="COLUMN",
                     help="the action a deterministic target would take (replay)")
    ope.add_argument("--q-hat", metavar="COLUMN,COLUMN...",
                     help="a reward model's predictions, one column per arm (direct method, doubly robust)")
    ope.add_argument("--method", dest="methods", action="append", choices=list(OPE_METHODS),
                     help="an estimator (repeat; default: every one the columns allow)")
    ope.add_argument("--reward", default="reward", help="reward column (default: reward)")
    ope.add_argument("--action", default=None,
                     help="logged action column, arm indices 0..K-1 (default: action, else variant_index)")
    ope.add_argument("--propensity", default="propensity",
                     help="logging policy's probability of the logged action (default: propensity)")
    ope.add_argument("--clip", type=float, default=None, help="cap on the importance weights (IPS, DR)")
    ope.add_argument("--confidence-level", type=float, default=0.95)
    ope.add_argument("--memory-limit", default=OPE_MEMORY_LIMIT,
                     help=f"DuckDB's memory limit (default: {OPE_MEMORY_LIMIT})")
    ope.add_argument("--output", default="table", choices=["table", "json"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abkit`` command; returns the exit status (0 ok, 1 bad data, 2 usage)."""
    parser = _Parser(prog="abkit", description="Experimentation statistics.")
    parser.add_argument("--version", action="version", version=f"abkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="analyse a built-in seeded experiment")
    demo.add_argument("--users", type=_at_least(2), default=20_000, help="number of users (at least 2)")
    demo.add_argument("--seed", type=_at_least(0), default=0, help="random seed")
    demo.add_argument("--output", default="table", choices=["table", "json"])
    _add_sample_size(commands)
    _add_analyze(commands)
    _add_serve(commands)
    _add_compare(commands)
    _add_ope(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            report = run_demo(args.users, args.seed, output=args.output)
        elif args.command == "sample-size":
            try:
                report = run_sample_size(args)
            except (ValueError, TypeError, ConvergenceError) as exc:
                raise UsageError(str(exc)) from None
        elif args.command == "compare":
            report = run_compare(args.path, champion=args.champion, challengers=args.challengers,
                                 metrics=args.metrics, alpha=args.alpha, min_requests=args.min_requests,
                                 output=args.output)
        elif args.command == "ope":
            report = run_ope(args.path, policy=args.policy, policy_action=args.policy_action,
                             q_hat=args.q_hat, methods=args.methods, reward=args.reward, action=args.action,
                             propensity=args.propensity, clip=args.clip,
                             confidence_level=args.confidence_level, memory_limit=args.memory_limit,
                             output=args.output)
        elif args.command == "serve":
            from abkit.service.server import serve

            try:
                serve(args.config, host=args.host, port=args.port, workers=args.workers, store=args.store,
                      log_dir=args.log, durability=args.durability)
            except (ValueError, TypeError, OSError) as exc:
                raise UsageError(str(exc)) from None
            return 0
        else:
            report = run_analyze(
                args.path, variant=args.variant, control=args.control, metrics=args.metrics or [],
                alternative=args.alternative, confidence_level=args.confidence_level,
                adjust=args.adjust, output=args.output, weights=args.weights, caps=args.caps,
                engine=args.engine, by=args.by, family=args.family,
            )
    except (UsageError, DataError) as exc:
        message = _option_names(str(exc), commands.choices[args.command])
        print(f"abkit {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    print(report)
    return 0


def entry() -> None:
    """The console script: ``main()``, quiet when the reader closes the pipe (``abkit demo | head``)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # As Unix tools do: stop quietly; point stdout at /dev/null so the final flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status)


if __name__ == "__main__":
    entry()
