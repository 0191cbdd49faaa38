"""Statistics in the slash convention: ``name/mean``, ``name/sem`` and friends.

The torchx contract reports a metric either as a plain value (``"loss": 0.1``)
or as a mean with its standard error (``"loss/mean": 0.1, "loss/sem": 0.01``),
the form HPO orchestrators such as Ax read. This module produces and consumes
that form; it is pure Python (:mod:`math`), with no NumPy needed.

Formulas
--------
For samples :math:`x_1 \\dots x_n` (NaN samples removed first):

* ``mean`` :math:`\\bar x = \\frac1n \\sum x_i`
* ``std`` the sample standard deviation
  :math:`s = \\sqrt{\\frac{1}{n-1} \\sum (x_i - \\bar x)^2}` (``ddof=1``; NaN when n = 1)
* ``sem`` the standard error of the mean :math:`s / \\sqrt n` (NaN when n = 1);
  equal to ``scipy.stats.sem`` and to ``numpy.std(x, ddof=1) / sqrt(n)``

When replicas already carry ``m/mean`` and ``m/sem`` (each replica averaged
several measurements itself), :func:`aggregate` combines them as a mean of
means with the standard error propagated for independent replicas:

* ``m/mean`` :math:`\\frac1n \\sum \\mu_i`
* ``m/sem`` :math:`\\frac1n \\sqrt{\\sum \\mathrm{sem}_i^2}` (since
  :math:`\\mathrm{Var}(\\frac1n \\sum \\mu_i) = \\frac{1}{n^2} \\sum \\mathrm{Var}(\\mu_i)`)

Sums are computed with :func:`math.fsum` after scaling by a power of two, so
they are correctly rounded and do not overflow even for values near the float
limit (where a naive sum of squares would return ``inf``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from .errors import InvalidResultError, MetricNotFoundError, StatisticsError, StatisticsTypeError
from .model import Record
from .sorting import natural_key
from .validation import Results, ResultType

__all__ = [
    "IDENTIFIERS",
    "STATISTICS",
    "aggregate",
    "format_statistic",
    "group",
    "metric",
    "metric_names",
    "result_names",
    "summarize",
    "summary_rows",
]

#: The statistics :func:`summarize` writes, in the order it writes them.
STATISTICS = ("mean", "sem", "std", "n", "min", "max", "nan_count")

#: Result names :func:`aggregate` treats as the replica's identity rather than a
#: measurement: kept when every replica has the same value, dropped when they differ
#: (averaging seeds or ranks means nothing).
IDENTIFIERS = frozenset({"seed", "rank", "local_rank", "replica", "worker"})

#: The key of a plain (non-statistics) value in :func:`group`'s output.
_PLAIN = "value"


# -- summarize ---------------------------------------------------------------------


def summarize(name: str, samples: Iterable[object]) -> dict[str, float | int]:
    """Put-ready statistics of ``samples`` under slash names.

    Parameters
    ----------
    name : str
        The metric name; the statistics are named ``name/mean`` etc.
    samples : iterable of numbers
        ``int``, ``float`` or ``bool`` values (NumPy scalars and other
        :class:`numbers.Real` included). NaN samples are left out of every
        statistic and counted in ``name/nan_count``.

    Returns
    -------
    dict
        ``name/mean``, ``name/sem``, ``name/std`` (floats), ``name/n`` (int, the
        number of non-NaN samples), ``name/min``, ``name/max`` (floats) and
        ``name/nan_count`` (int), in that order. With n = 1, ``sem`` and
        ``std`` are NaN; when every sample is NaN, n is 0 and every float
        statistic is NaN. An infinite sample makes ``mean`` infinite (NaN if
        both signs occur) and ``std``/``sem`` NaN, as NumPy does.

    Raises
    ------
    StatisticsError
        ``samples`` is empty (a ``ValueError``).
    StatisticsTypeError
        A sample is not a real number, e.g. a ``str`` (a ``TypeError``).
    InvalidResultError
        ``name`` is not a non-empty ``str``.

    Examples
    --------
    >>> summarize("l2norm", [2.0, 4.0])["l2norm/sem"]
    1.0

    Store it with ``tracker.put(key, **summarize("l2norm", values))``.
    """
    _check_metric_name(name)
    values = _to_floats(name, samples)
    if not values:
        raise StatisticsError(f"cannot summarize {name!r}: no samples given")
    finite_or_infinite = [value for value in values if not math.isnan(value)]
    statistics = _describe(finite_or_infinite)
    statistics["nan_count"] = len(values) - len(finite_or_infinite)
    return {f"{name}/{stat}": statistics[stat] for stat in STATISTICS}


def _check_metric_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidResultError(f"a metric name must be a non-empty str, got {name!r}")


def _to_float(name: str, value: object) -> float:
    if isinstance(value, str) or not isinstance(value, numbers.Real):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:80] + "..."
        raise StatisticsTypeError(
            f"{name!r}: {shown} has type {type(value).__name__}; samples must be real numbers"
        )
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def _to_floats(name: str, samples: Iterable[object]) -> list[float]:
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Iterable):
        raise StatisticsTypeError(
            f"cannot summarize {name!r}: samples must be an iterable of numbers, "
            f"got {type(samples).__name__}"
        )
    return [_to_float(name, value) for value in samples]


def _scale(values: Sequence[float]) -> float:
    """A power of two near the largest magnitude, so that dividing by it is exact
    and keeps every sum far from overflow."""
    largest = max((abs(value) for value in values), default=0.0)
    if largest == 0.0:
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


def _mean(values: Sequence[float]) -> float:
    """The correctly rounded mean of finite ``values`` (at least one)."""
    scale = _scale(values)
    return math.fsum(value / scale for value in values) / len(values) * scale


def _describe(values: Sequence[float]) -> dict[str, float | int]:
    """mean, sem, std, n, min and max of non-NaN ``values`` (possibly none)."""
    n = len(values)
    nan = math.nan
    if n == 0:
        return {"mean": nan, "sem": nan, "std": nan, "n": 0, "min": nan, "max": nan}
    infinite = [value for value in values if math.isinf(value)]
    if infinite:
        mean = infinite[0] if all(value == infinite[0] for value in infinite) else nan
        std = nan
    else:
        mean = _mean(values)
        std = _std(values, mean)
    sem = std / math.sqrt(n) if n > 1 else nan
    return {"mean": mean, "sem": sem, "std": std, "n": n, "min": min(values), "max": max(values)}


def _std(values: Sequence[float], mean: float) -> float:
    """Sample standard deviation (ddof=1) of finite ``values``, two-pass and scaled."""
    if len(values) < 2:
        return math.nan
    deviations = [value - mean for value in values]
    scale = _scale(deviations)
    sum_of_squares = math.fsum((deviation / scale) ** 2 for deviation in deviations)
    return math.sqrt(sum_of_squares / (len(values) - 1)) * scale


# -- reading metrics ---------------------------------------------------------------


def group(results: Mapping[str, ResultType]) -> dict[str, dict[str, ResultType]]:
    """Group results by metric, splitting statistics names at their last slash.

    A name ``m/s`` belongs to metric ``m`` as statistic ``s`` when ``m/mean`` is
    among the results (the mean anchors the group) and ``s`` contains no slash
    and is not ``"value"``. Every other name is a plain metric whose value is
    under ``"value"``. So ``train/loss`` alone stays the plain metric
    ``train/loss``, while ``acc/mean`` + ``acc/sem`` + ``acc/median`` form
    ``acc``. A plain ``acc`` next to ``acc/mean`` lands in the same group as
    its ``"value"``.

    Parameters
    ----------
    results : mapping
        One key's results.

    Returns
    -------
    dict
        ``{metric: {statistic: value}}``, metrics sorted by name, and within a
        metric ``value`` first, then the statistics in stored order.

    Examples
    --------
    >>> group({"l2norm/mean": 1.2, "l2norm/sem": 0.1, "acc": 0.9})
    {'acc': {'value': 0.9}, 'l2norm': {'mean': 1.2, 'sem': 0.1}}
    """
    grouped: dict[str, dict[str, ResultType]] = {}
    for name, value in results.items():
        metric_name, statistic = _split(name, results)
        if statistic == _PLAIN:
            grouped.setdefault(metric_name, {})
            grouped[metric_name] = {_PLAIN: value, **grouped[metric_name]}
        else:
            grouped.setdefault(metric_name, {})[statistic] = value
    return {metric_name: grouped[metric_name] for metric_name in sorted(grouped)}


def _split(name: str, results: Mapping[str, object]) -> tuple[str, str]:
    """``(metric, statistic)`` for one result name, as :func:`group` defines it."""
    head, slash, tail = name.rpartition("/")
    if slash and head and tail != _PLAIN and f"{head}/mean" in results:
        return head, tail
    return name, _PLAIN


def metric(results: Mapping[str, ResultType], name: str) -> tuple[float, float | None]:
    """Read a metric the way HPO orchestrators do: ``(value, sem or None)``.

    A plain result ``name`` gives ``(value, None)`` (it wins if ``name/mean``
    is also present); otherwise ``name/mean`` gives ``(mean, sem)`` with the
    sem from ``name/sem``, or ``None`` when that is absent. Values are
    returned as ``float`` (``bool`` as 0.0 or 1.0); NaN is returned as is.

    Parameters
    ----------
    results : mapping
        One key's results.
    name : str
        The metric, e.g. ``"loss"``.

    Raises
    ------
    MetricNotFoundError
        (a ``KeyError``) neither ``name`` nor ``name/mean`` is present; the
        message lists the metrics that are (as :func:`group` names them).
    StatisticsTypeError
        (a ``TypeError``) the value or its sem is not a number.
    """
    _check_metric_name(name)
    if name in results:
        return _to_float(name, results[name]), None
    mean_name, sem_name = f"{name}/mean", f"{name}/sem"
    if mean_name in results:
        sem = results.get(sem_name)
        return (
            _to_float(mean_name, results[mean_name]),
            None if sem is None else _to_float(sem_name, sem),
        )
    raise MetricNotFoundError(name, list(group(results)))


def numeric_metric(results: Mapping[str, object], name: str) -> int | float | None:
    """The plain ``name`` or else ``name/mean`` when it is a number (not NaN);
    ``None`` otherwise (text, ``null``, a list or an object). Used by ``best``;
    ints stay exact."""
    value = results.get(name, results.get(f"{name}/mean"))
    if not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def metric_names(records: Iterable[Record]) -> list[str]:
    """The metrics the records hold, as :func:`group` names them, in natural order.

    Examples
    --------
    >>> from resulttracker.model import Record
    >>> metric_names([Record("a", {"acc/mean": 0.9, "acc/sem": 0.1, "loss10": 1.0, "loss2": 2.0})])
    ['acc', 'loss2', 'loss10']
    """
    names: set[str] = set()
    for record in records:
        names.update(group(record.results))
    return sorted(names, key=natural_key)


def result_names(records: Sequence[Record], wanted: Sequence[str] = ()) -> list[str]:
    """The result names of ``records``: every name they hold, in natural order, or
    the names ``wanted``, in that order, a metric name standing for its
    ``name/mean`` and ``name/sem`` (the columns of a table of records).

    Raises
    ------
    MetricNotFoundError
        A wanted name is neither a result nor a metric with ``name/mean`` in any
        record (the message lists the metrics there are).
    """
    present: set[str] = set()
    for record in records:
        present.update(record.results)
    if not wanted:
        return sorted(present, key=natural_key)
    names: list[str] = []
    for name in wanted:
        if name in present:
            chosen = [name]
        else:
            chosen = [f"{name}/{part}" for part in ("mean", "sem") if f"{name}/{part}" in present]
            if f"{name}/mean" not in present:
                raise MetricNotFoundError(name, metric_names(records))
        names.extend(chosen_name for chosen_name in chosen if chosen_name not in names)
    return names


# -- aggregate ---------------------------------------------------------------------

GroupBy = int | Callable[[str], str]
Replicas = (
    "Iterable[Record] | Iterable[tuple[str, Mapping[str, ResultType]]] | Mapping[str, Results]"
)


def aggregate(
    records: Iterable[Record]
    | Iterable[tuple[str, Mapping[str, ResultType]]]
    | Mapping[str, Results],
    *,
    by: GroupBy = -1,
    identifiers: Iterable[str] = IDENTIFIERS,
) -> dict[str, Results]:
    """Combine the results of replicas (seeds, ranks...) into one dict per group.

    Parameters
    ----------
    records : iterable of Record, iterable of (key, results), or mapping
        What :meth:`ResultTracker.scan`, :meth:`~ResultTracker.items` or
        :meth:`~ResultTracker.get_many` return.
    by : int or callable, default -1
        How keys are grouped. An int keeps that many leading path segments,
        like a slice: ``2`` maps ``exp/trial/seed`` to ``exp/trial``, and the
        default ``-1`` drops the last segment (the replica). A callable maps a
        key to its group name.
    identifiers : iterable of str, default :data:`IDENTIFIERS`
        Names of plain results that identify a replica (``seed``, ``rank``...):
        never averaged, dropped when the replicas disagree.

    Returns
    -------
    dict
        ``{group: results}``, groups sorted by name; each ``results`` is
        put-ready. For each metric ``m`` of a group:

        * a parameter — a plain value that, in every group, all the group's
          replicas hold with one value (``lr = 0.1``, ``opt = "adam"``, NaN
          included) — is kept exactly as it is, never turned into statistics;
          a name that varies within any group is a measurement in every group
          (a group of one replica then gets ``m/sem`` NaN), so all groups have
          the same columns;
        * an identifier (see ``identifiers``) whose replicas differ is dropped;
        * if every replica reporting ``m`` has ``m/mean`` and ``m/sem``, the
          group gets ``m/mean`` (mean of means), ``m/sem``
          (``sqrt(sum(sem_i**2)) / n``) and ``m/n`` (n replicas); replicas
          whose mean is NaN are left out and counted in ``m/nan_count``;
        * otherwise each replica contributes one sample (its plain ``m``, or
          its ``m/mean``) and the group gets what :func:`summarize` gives;
        * other statistics of the replicas (``m/std``, ``m/n``...) are not
          carried over;
        * a ``str`` result whose replicas differ is dropped;
        * a ``null``, list or object value, or a result with an empty name
          (documents written by torchx or others may hold them), counts as not
          reported by that replica.

    Raises
    ------
    StatisticsError
        ``by`` gives an empty group for a key (e.g. ``-1`` on a one-segment
        key), or ``by`` is 0 or neither an int nor a callable.
    StatisticsTypeError
        A callable ``by`` returned something other than a non-empty ``str``.

    Examples
    --------
    >>> combined = aggregate({"exp/a/0": {"loss": 1.0}, "exp/a/1": {"loss": 3.0}})
    >>> combined["exp/a"]["loss/mean"], combined["exp/a"]["loss/sem"]
    (2.0, 1.0)
    """
    group_of = _grouper(by)
    if isinstance(identifiers, str):
        raise StatisticsTypeError(
            f"identifiers must be a collection of result names, got the str {identifiers!r}"
        )
    identity = frozenset(identifiers)
    replicas: dict[str, list[Mapping[str, ResultType]]] = {}
    for key, results in _pairs(records):
        replicas.setdefault(group_of(key), []).append(_scalars(results))
    grouped = {name: _per_metric(replicas[name]) for name in sorted(replicas)}
    # A name is a parameter when, in every group that has it, all the group's
    # replicas hold it with one value; one varying group makes it a measurement
    # everywhere, so that every group's results have the same shape.
    varying = {
        metric_name
        for name, per_metric in grouped.items()
        for metric_name, reports in per_metric.items()
        if len(reports) != len(replicas[name]) or not _all_same_plain_value(reports)
    }
    return {name: _combine(per_metric, varying, identity) for name, per_metric in grouped.items()}


def _scalars(results: Mapping[str, object]) -> Mapping[str, ResultType]:
    """``results`` without what documents written by others may hold but no
    put could store (``null``, lists and objects, an empty name): the replica
    is taken not to report them."""
    if "" not in results and all(
        isinstance(value, (int, float, str)) for value in results.values()
    ):
        return results  # type: ignore[return-value]
    return {
        name: value
        for name, value in results.items()
        if name and isinstance(value, (int, float, str))
    }


def _pairs(
    records: Iterable[Record]
    | Iterable[tuple[str, Mapping[str, ResultType]]]
    | Mapping[str, Results],
) -> Iterable[tuple[str, Mapping[str, ResultType]]]:
    if isinstance(records, Mapping):
        yield from records.items()
        return
    for item in records:
        if isinstance(item, tuple):
            yield item
        else:
            yield item.key, item.results


def _grouper(by: object) -> Callable[[str], str]:
    if isinstance(by, int) and not isinstance(by, bool):
        if by == 0:
            raise StatisticsError("by=0 would put every key in an empty group; use by=1 or more")
        count = by

        def by_segments(key: str) -> str:
            kept = key.split("/")[:count]
            if not kept:
                raise StatisticsError(
                    f"by={count} leaves no path segment of key {key!r} to name its group"
                )
            return "/".join(kept)

        return by_segments
    if callable(by):
        function = by

        def by_function(key: str) -> str:
            name = function(key)
            if not isinstance(name, str) or not name:
                raise StatisticsTypeError(
                    f"by({key!r}) returned {name!r}; a group name must be a non-empty str"
                )
            return name

        return by_function
    raise StatisticsError(
        f"by must be an int (leading key segments to keep) or a callable, got {by!r}"
    )


def _per_metric(
    replicas: Sequence[Mapping[str, ResultType]],
) -> dict[str, list[dict[str, ResultType]]]:
    """``{metric: [each replica's statistics of it]}``, as :func:`group` splits them."""
    per_metric: dict[str, list[dict[str, ResultType]]] = {}
    for results in replicas:
        for metric_name, statistics in group(results).items():
            per_metric.setdefault(metric_name, []).append(statistics)
    return per_metric


def _combine(
    per_metric: Mapping[str, Sequence[Mapping[str, ResultType]]],
    varying: set[str],
    identifiers: frozenset[str],
) -> Results:
    combined: Results = {}
    for metric_name in sorted(per_metric):
        reports = per_metric[metric_name]
        if metric_name not in varying:
            combined[metric_name] = reports[0][_PLAIN]
            continue
        used = [report.get(field) for report in reports for field in (_PLAIN, "mean", "sem")]
        if metric_name in identifiers or any(isinstance(value, str) for value in used):
            continue
        if all("value" not in report and "sem" in report for report in reports):
            combined.update(_propagate(metric_name, reports))
        else:
            samples = [report.get("value", report.get("mean")) for report in reports]
            combined.update(summarize(metric_name, samples))
    return combined


def _all_same_plain_value(reports: Sequence[Mapping[str, ResultType]]) -> bool:
    """Whether every report is the same plain value: equal numbers (``1`` and ``1.0``
    alike, NaN equal to NaN; ``True`` only equals ``True``), or equal text."""
    if any(set(report) != {_PLAIN} for report in reports):
        return False
    first = reports[0][_PLAIN]
    return all(_same(report[_PLAIN], first) for report in reports)


def _same(value: object, other: object) -> bool:
    if isinstance(value, bool) or isinstance(other, bool) or isinstance(value, str):
        return type(value) is type(other) and value == other
    if isinstance(value, (int, float)) and isinstance(other, (int, float)):
        return value == other or (value != value and other != other)  # NaN equals NaN
    return False


def summary_rows(groups: Mapping[str, Mapping[str, ResultType]]) -> Iterator[dict[str, object]]:
    """One row per group and metric of :func:`aggregate`'s output that has a mean:
    ``{"group", "metric", "mean", "sem", "n", "nan_count"}`` (``sem`` and ``n``
    ``None`` where the group lacks them), groups and metrics in the given order.

    Parameters kept by :func:`aggregate` as they are (``lr = 0.1``, text) are
    not statistics and get no row.

    Examples
    --------
    >>> rows = summary_rows(aggregate({"exp/a/0": {"loss": 1.0}, "exp/a/1": {"loss": 3.0}}))
    >>> [(row["group"], row["metric"], row["mean"], row["n"]) for row in rows]
    [('exp/a', 'loss', 2.0, 2)]
    """
    for group_name, results in groups.items():
        for metric_name, statistics in group(results).items():
            if "mean" not in statistics:
                continue  # a parameter, or text kept by aggregate
            yield {
                "group": group_name,
                "metric": metric_name,
                "mean": statistics["mean"],
                "sem": statistics.get("sem"),
                "n": statistics.get("n"),
                "nan_count": statistics.get("nan_count", 0),
            }


# -- display -------------------------------------------------------------------------

#: A standard error this small relative to its mean is float noise, not uncertainty.
_NOISE = 1e-12


def format_statistic(mean: float | int, sem: float | int | None = None) -> str:
    """``mean ± sem`` rounded to what the uncertainty justifies.

    The standard error keeps two significant digits and the mean is rounded to
    the same decimal place (``1.23456 ± 0.0123`` → ``1.235 ± 0.012``). A
    standard error of zero, or one that is float noise next to the mean
    (``1.57e-16`` beside ``1.799``), shows as zeros at the mean's precision
    (``1.799 ± 0.000``). Without a usable ``sem`` (``None``, NaN) the mean alone
    is shown with six significant digits; NaN and infinities show as ``nan``,
    ``inf`` and ``-inf``.

    Examples
    --------
    >>> format_statistic(1.799, 1.57e-16)
    '1.799 ± 0.000'
    >>> format_statistic(0.91234, 0.0123)
    '0.912 ± 0.012'
    """
    if sem is None or not math.isfinite(sem) or not math.isfinite(mean):
        shown = format(mean, ".6g")
        return shown if sem is None else f"{shown} ± {format(sem, '.2g')}"
    sem = abs(sem)
    if sem <= abs(mean) * _NOISE:
        # As many decimals as four significant digits of the mean need.
        digits = 3 - _exponent(mean) if mean else 3
        sem = 0.0
    else:
        digits = 1 - _exponent(sem)
    if not -6 <= digits <= 8 or abs(mean) >= 1e15:
        return f"{format(mean, '.6g')} ± {format(sem, '.2g')}"
    decimals = max(digits, 0)
    if digits < 0:  # round to tens, hundreds...: 12345 ± 678 -> 12300 ± 680
        factor = 10.0**-digits
        mean, sem = round(mean / factor) * factor, round(sem / factor) * factor
    return f"{mean:.{decimals}f} ± {sem:.{decimals}f}"


def _exponent(value: float | int) -> int:
    """The power of ten of ``value``'s leading digit (``0.0123`` -> -2)."""
    return math.floor(math.log10(abs(value)))


def _propagate(name: str, reports: Sequence[Mapping[str, ResultType]]) -> Results:
    pairs = [
        (_to_float(f"{name}/mean", report["mean"]), _to_float(f"{name}/sem", report["sem"]))
        for report in reports
    ]
    kept = [(mean, sem) for mean, sem in pairs if not math.isnan(mean)]
    n = len(kept)
    if n == 0:
        mean = sem = math.nan
    else:
        means = [mean for mean, _ in kept]
        mean = _describe(means)["mean"]
        # hypot sums squares without overflow or needless rounding.
        sem = math.hypot(*(sem for _, sem in kept)) / n
    return {
        f"{name}/mean": mean,
        f"{name}/sem": sem,
        f"{name}/n": n,
        f"{name}/nan_count": len(pairs) - n,
    }
