"""resulttracker.stats against NumPy/SciPy references."""

from __future__ import annotations

import doctest
import math
from collections.abc import Sequence

import numpy as np
import pytest
import scipy.stats

import resulttracker.stats
from resulttracker import (
    FsspecResultTracker,
    InvalidResultError,
    MetricNotFoundError,
    Record,
    ResultTrackerError,
    StatisticsError,
    StatisticsTypeError,
)
from resulttracker.stats import STATISTICS, aggregate, format_statistic, group, metric, summarize

RELATIVE = 1e-12


def close(got: float, expected: float, rel: float = RELATIVE) -> bool:
    """Equal within ``rel``, NaN equal to NaN, infinities exactly equal."""
    if math.isnan(expected):
        return math.isnan(got)
    if math.isinf(expected):
        return got == expected
    return math.isclose(got, expected, rel_tol=rel, abs_tol=0.0)


def reference(samples: Sequence[float]) -> dict[str, float]:
    """What NumPy/SciPy say, NaN samples omitted."""
    values = np.asarray(samples, dtype=float)
    kept = values[~np.isnan(values)]
    with np.errstate(all="ignore"):
        return {
            "mean": float(np.mean(kept)),
            "sem": float(scipy.stats.sem(kept)) if kept.size > 1 else math.nan,
            "std": float(np.std(kept, ddof=1)) if kept.size > 1 else math.nan,
            "min": float(np.min(kept)),
            "max": float(np.max(kept)),
        }


RNG_CASES = [
    # (seed, size, loc, scale, fraction of NaN)
    (0, 2, 0.0, 1.0, 0.0),
    (1, 3, 5.0, 0.1, 0.0),
    (2, 10, -3.0, 100.0, 0.0),
    (3, 1000, 1.0, 1.0, 0.0),
    (4, 50, 0.0, 1.0, 0.2),
    (5, 200, 1e12, 1e3, 0.1),  # large offset, small spread: cancellation
    (6, 100, 0.0, 1e150, 0.0),  # squares near 1e300, still finite in NumPy
    (7, 100, 1e-200, 1e-202, 0.0),  # tiny: squared deviations underflow in NumPy
]


@pytest.mark.parametrize(("seed", "size", "loc", "scale", "nan_fraction"), RNG_CASES)
def test_summarize_matches_numpy_and_scipy(
    seed: int, size: int, loc: float, scale: float, nan_fraction: float
) -> None:
    rng = np.random.default_rng(seed)
    samples = rng.normal(loc, scale, size)
    nan_count = int(size * nan_fraction)
    samples[rng.choice(size, nan_count, replace=False)] = np.nan
    got = summarize("m", samples.tolist())
    # NumPy squares the deviations unscaled: at 1e-210 they underflow to 0, so
    # the reference is taken on rescaled samples and scaled back.
    unit = 1e-200 if abs(loc) < 1e-100 and loc != 0 else 1.0
    expected = {stat: value * unit for stat, value in reference((samples / unit).tolist()).items()}
    assert list(got) == [f"m/{stat}" for stat in STATISTICS]
    for stat, value in expected.items():
        # loose only where NumPy's pairwise sum is the less exact of the two
        assert close(got[f"m/{stat}"], value, rel=1e-9), (stat, got[f"m/{stat}"], value)
    assert got["m/n"] == size - nan_count
    assert got["m/nan_count"] == nan_count
    assert type(got["m/n"]) is int
    assert type(got["m/nan_count"]) is int


def test_summarize_is_exact_where_numpy_is_not() -> None:
    # fsum-based: 0.1 ten times averages to exactly 0.1; no spread at all.
    got = summarize("m", [0.1] * 10)
    assert got["m/mean"] == 0.1
    assert got["m/std"] == 0.0
    assert got["m/sem"] == 0.0


def test_summarize_near_the_float_limit_does_not_overflow() -> None:
    samples = [1e308, -1e308, 1.5e308, 0.5e308]
    got = summarize("m", samples)
    # NumPy overflows here (squares of 1e308); scale the reference instead.
    expected = reference([value / 1e300 for value in samples])
    for stat in ("mean", "sem", "std", "min", "max"):
        assert math.isfinite(got[f"m/{stat}"])
        assert close(got[f"m/{stat}"], expected[stat] * 1e300, rel=1e-12)


def test_summarize_with_one_sample_has_nan_spread() -> None:
    got = summarize("m", [2.5])
    assert got["m/mean"] == 2.5
    assert got["m/min"] == got["m/max"] == 2.5
    assert got["m/n"] == 1
    assert math.isnan(got["m/sem"])
    assert math.isnan(got["m/std"])
    with pytest.warns(RuntimeWarning, match="too small"):  # the reference agrees
        assert math.isnan(float(scipy.stats.sem([2.5])))


def test_summarize_with_one_sample_left_after_nans() -> None:
    got = summarize("m", [math.nan, 3.0, math.nan])
    assert got["m/mean"] == 3.0
    assert got["m/n"] == 1
    assert got["m/nan_count"] == 2
    assert math.isnan(got["m/sem"])


def test_summarize_all_nan_keeps_the_count() -> None:
    got = summarize("m", [math.nan, math.nan])
    assert got["m/n"] == 0
    assert got["m/nan_count"] == 2
    for stat in ("mean", "sem", "std", "min", "max"):
        assert math.isnan(got[f"m/{stat}"])


def test_summarize_empty_is_an_error_naming_the_metric() -> None:
    with pytest.raises(StatisticsError, match="'l2norm': no samples") as caught:
        summarize("l2norm", [])
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ResultTrackerError)
    with pytest.raises(StatisticsError):
        summarize("l2norm", iter(()))


@pytest.mark.parametrize("bad", ["1.0", None, b"1", [1.0], 1 + 2j])
def test_summarize_refuses_non_numbers(bad: object) -> None:
    with pytest.raises(StatisticsTypeError, match="samples must be real numbers") as caught:
        summarize("m", [1.0, bad])
    assert isinstance(caught.value, TypeError)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize("bad", ["123", 5, None])
def test_summarize_refuses_a_non_iterable(bad: object) -> None:
    with pytest.raises(StatisticsTypeError, match="iterable of numbers"):
        summarize("m", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", None, 3])
def test_summarize_refuses_a_bad_name(name: object) -> None:
    with pytest.raises(InvalidResultError, match="non-empty str"):
        summarize(name, [1.0])  # type: ignore[arg-type]


def test_summarize_infinities_follow_numpy() -> None:
    for samples in ([1.0, math.inf], [math.inf, -math.inf, 2.0], [-math.inf, -math.inf]):
        got = summarize("m", samples)
        with np.errstate(all="ignore"):
            assert close(got["m/mean"], float(np.mean(samples)))
            assert close(got["m/std"], float(np.std(samples, ddof=1)))
        assert got["m/min"] == min(samples)
        assert got["m/max"] == max(samples)


def test_summarize_accepts_ints_bools_numpy_scalars_and_huge_ints() -> None:
    got = summarize("m", [np.float32(1.5), np.int64(2), True, 2.5])
    assert close(got["m/mean"], (1.5 + 2 + 1 + 2.5) / 4)
    huge = summarize("m", [10**400, 1])
    assert huge["m/max"] == math.inf
    assert summarize("m", [2**70, 2**70])["m/mean"] == float(2**70)


def test_summarize_output_is_put_ready() -> None:
    tracker = FsspecResultTracker("memory://test-stats/put-ready")
    tracker.put("k", **summarize("l2norm", [1.0, 2.0, math.nan]))
    stored = tracker["k"]
    assert stored["l2norm/mean"] == 1.5
    assert stored["l2norm/nan_count"] == 1


# -- metric ----------------------------------------------------------------------------


def test_metric_plain_value() -> None:
    assert metric({"loss": 0.25, "acc/mean": 0.9}, "loss") == (0.25, None)


def test_metric_mean_and_sem() -> None:
    assert metric({"acc/mean": 0.9, "acc/sem": 0.01}, "acc") == (0.9, 0.01)


def test_metric_mean_without_sem() -> None:
    assert metric({"acc/mean": 0.9, "acc/std": 0.2}, "acc") == (0.9, None)


def test_metric_plain_wins_over_mean() -> None:
    assert metric({"acc": 1, "acc/mean": 0.9, "acc/sem": 0.01}, "acc") == (1.0, None)


def test_metric_full_statistics_name() -> None:
    assert metric({"acc/mean": 0.9, "acc/sem": 0.01}, "acc/sem") == (0.01, None)


def test_metric_nan_is_returned() -> None:
    value, sem = metric({"acc/mean": math.nan, "acc/sem": math.nan}, "acc")
    assert math.isnan(value)
    assert sem is not None
    assert math.isnan(sem)


def test_metric_missing_is_a_key_error_listing_what_exists() -> None:
    results = {"loss/mean": 0.2, "loss/sem": 0.1, "acc": 0.9, "train/step": 7}
    with pytest.raises(KeyError) as caught:
        metric(results, "accuracy")
    error = caught.value
    assert isinstance(error, MetricNotFoundError)
    assert isinstance(error, ResultTrackerError)
    message = str(error)
    assert message.startswith("no metric 'accuracy' (neither 'accuracy' nor 'accuracy/mean')")
    assert "'acc', 'loss', 'train/step'" in message
    assert error.available == ["acc", "loss", "train/step"]


def test_metric_missing_from_empty_results() -> None:
    with pytest.raises(MetricNotFoundError, match="the results are empty"):
        metric({}, "loss")


def test_metric_text_value_is_a_type_error() -> None:
    with pytest.raises(StatisticsTypeError, match="'status'"):
        metric({"status": "ok"}, "status")


# -- group -------------------------------------------------------------------------------


def test_group_issue_example() -> None:
    got = group({"l2norm/mean": 1.2, "l2norm/sem": 0.1, "acc": 0.9})
    assert got == {"acc": {"value": 0.9}, "l2norm": {"mean": 1.2, "sem": 0.1}}
    assert list(got) == ["acc", "l2norm"]


def test_group_slash_names_without_a_mean_stay_plain() -> None:
    got = group({"train/loss": 0.3, "eval/loss": 0.4, "acc/sem": 0.1})
    assert got == {
        "acc/sem": {"value": 0.1},
        "eval/loss": {"value": 0.4},
        "train/loss": {"value": 0.3},
    }


def test_group_splits_at_the_last_slash_only() -> None:
    got = group({"a/b/mean": 1.0, "a/b/sem": 0.5, "a/b/median": 0.9, "a/mean": 2.0})
    assert got == {"a": {"mean": 2.0}, "a/b": {"mean": 1.0, "sem": 0.5, "median": 0.9}}


def test_group_plain_and_mean_share_a_group_value_first() -> None:
    got = group({"acc/mean": 0.9, "acc": 1.0, "acc/value": 3})
    assert got == {"acc": {"value": 1.0, "mean": 0.9}, "acc/value": {"value": 3}}
    assert list(got["acc"]) == ["value", "mean"]


# -- aggregate ---------------------------------------------------------------------------


def test_aggregate_plain_values_match_the_references() -> None:
    rng = np.random.default_rng(11)
    losses = {trial: rng.normal(trial, 0.5, 5) for trial in range(3)}
    records = {
        f"exp/t{trial}/seed{seed}": {"loss": float(value), "step": seed}
        for trial, values in losses.items()
        for seed, value in enumerate(values)
    }
    got = aggregate(records, by=2)
    assert list(got) == ["exp/t0", "exp/t1", "exp/t2"]
    for trial, values in losses.items():
        combined = got[f"exp/t{trial}"]
        assert close(combined["loss/mean"], float(np.mean(values)))  # type: ignore[arg-type]
        assert close(combined["loss/sem"], float(scipy.stats.sem(values)))  # type: ignore[arg-type]
        assert close(combined["loss/std"], float(np.std(values, ddof=1)))  # type: ignore[arg-type]
        assert combined["loss/n"] == 5
        assert combined["step/mean"] == 2.0


def test_aggregate_propagates_sem_of_replicas_that_carry_it() -> None:
    rng = np.random.default_rng(12)
    means = rng.normal(1.0, 0.1, 4)
    sems = rng.uniform(0.01, 0.2, 4)
    records = [
        (f"sweep/a/{index}", {"acc/mean": float(mean), "acc/sem": float(sem), "acc/n": 10})
        for index, (mean, sem) in enumerate(zip(means, sems, strict=True))
    ]
    combined = aggregate(records)["sweep/a"]
    assert close(combined["acc/mean"], float(np.mean(means)))  # type: ignore[arg-type]
    expected_sem = float(np.sqrt(np.sum(sems**2)) / len(sems))
    assert close(combined["acc/sem"], expected_sem)  # type: ignore[arg-type]
    assert combined["acc/n"] == 4
    assert combined["acc/nan_count"] == 0
    assert "acc/std" not in combined


def test_aggregate_propagation_skips_nan_means() -> None:
    records = {
        "a/0": {"acc/mean": 1.0, "acc/sem": 0.3},
        "a/1": {"acc/mean": math.nan, "acc/sem": math.nan},
        "a/2": {"acc/mean": 2.0, "acc/sem": 0.4},
    }
    combined = aggregate(records)["a"]
    assert combined["acc/mean"] == 1.5
    assert close(combined["acc/sem"], 0.25)  # type: ignore[arg-type]
    assert combined["acc/n"] == 2
    assert combined["acc/nan_count"] == 1


def test_aggregate_propagation_of_large_sems_does_not_overflow() -> None:
    records = {f"a/{i}": {"x/mean": 1e308, "x/sem": 1e308} for i in range(4)}
    combined = aggregate(records)["a"]
    assert combined["x/mean"] == 1e308
    assert close(combined["x/sem"], 1e308 * 2 / 4)  # type: ignore[arg-type]


def test_aggregate_mixed_forms_become_samples() -> None:
    # One replica has a plain value, another a mean without sem: one sample each.
    records = {"g/0": {"m": 1.0}, "g/1": {"m/mean": 3.0}, "g/2": {"m/mean": 5.0, "m/sem": 1.0}}
    combined = aggregate(records)["g"]
    assert combined["m/mean"] == 3.0
    assert close(combined["m/sem"], float(scipy.stats.sem([1.0, 3.0, 5.0])))  # type: ignore[arg-type]
    assert combined["m/n"] == 3


def test_aggregate_nan_replicas_are_counted() -> None:
    combined = aggregate({"g/0": {"m": 1.0}, "g/1": {"m": math.nan}, "g/2": {"m": 3.0}})["g"]
    assert combined["m/mean"] == 2.0
    assert combined["m/n"] == 2
    assert combined["m/nan_count"] == 1


def test_aggregate_single_replica_has_nan_sem_when_the_metric_varies_elsewhere() -> None:
    combined = aggregate({"g/0": {"m": 1.0}, "h/0": {"m": 1.0}, "h/1": {"m": 2.0}})
    assert combined["g"]["m/mean"] == 1.0
    assert math.isnan(combined["g"]["m/sem"])  # type: ignore[arg-type]
    assert combined["h"]["m/n"] == 2


def test_aggregate_keeps_parameters_shared_by_every_replica_exactly() -> None:
    records = {
        f"sweep/lr=0.1/seed={seed}": {
            "lr": 0.1,
            "opt": "adam",
            "x": 1.799,
            "epochs": 3,
            "nan_param": math.nan,
            "loss": 1.0 + seed,
        }
        for seed in range(3)
    }
    combined = aggregate(records)["sweep/lr=0.1"]
    assert combined["lr"] == 0.1  # not 0.10000000000000002 with a sem of 1e-17
    assert type(combined["epochs"]) is int
    assert combined["opt"] == "adam"
    assert combined["x"] == 1.799
    assert math.isnan(combined["nan_param"])  # type: ignore[arg-type]
    assert not any(name.startswith(("lr/", "x/", "epochs/", "opt/")) for name in combined)
    assert combined["loss/mean"] == 2.0


def test_aggregate_treats_a_value_as_a_measurement_when_it_varies_anywhere() -> None:
    records = {
        "a/0": {"lr": 0.1, "steps": 1, "flag": True, "acc": 0.5},
        "a/1": {"lr": 0.1, "steps": 1.0, "flag": 1, "acc": 0.5},
        "b/0": {"lr": 0.2, "steps": 1, "flag": True, "acc": 0.5},
        "b/1": {"lr": 0.2, "steps": 1, "flag": True, "acc": 0.7},
    }
    combined = aggregate(records)
    assert combined["a"]["lr"] == 0.1
    assert combined["b"]["lr"] == 0.2
    # 1 and 1.0 are the same number (JSON and the dashboard cannot tell them apart)
    assert combined["a"]["steps"] == 1
    # True and 1 are not the same value: a varying name, summarized in every group
    assert combined["a"]["flag/mean"] == 1.0
    assert combined["b"]["flag/mean"] == 1.0
    # acc varies in b, so it is a measurement in a too: every group has the same shape
    assert combined["a"]["acc/mean"] == 0.5
    assert combined["a"]["acc/sem"] == 0.0
    assert "acc" not in combined["a"]


def test_aggregate_never_averages_identifiers() -> None:
    records = {f"g/{seed}": {"seed": seed, "rank": 0, "loss": float(seed)} for seed in range(3)}
    combined = aggregate(records)["g"]
    assert not any(name.startswith("seed") for name in combined)
    assert combined["rank"] == 0  # shared: kept as it is
    assert combined["loss/n"] == 3
    custom = aggregate(records, identifiers=["loss"])["g"]
    assert "seed/mean" in custom
    assert not any(name.startswith("loss") for name in custom)
    with pytest.raises(StatisticsTypeError, match="collection of result names"):
        aggregate(records, identifiers="seed")


@pytest.mark.parametrize(
    ("mean", "sem", "shown"),
    [
        (1.799, 1.57e-16, "1.799 ± 0.000"),
        (1.7990000000000002, 0.0, "1.799 ± 0.000"),
        (0.91234, 0.0123, "0.912 ± 0.012"),
        (2.0, 0.57735, "2.00 ± 0.58"),
        (12345.6, 678.9, "12350 ± 680"),
        (3, 1, "3.0 ± 1.0"),
        (0.0, 0.0, "0.000 ± 0.000"),
        (1e-9, 3e-11, "1e-09 ± 3e-11"),
        (2.0, math.nan, "2 ± nan"),
        (math.inf, 1.0, "inf ± 1"),
        (math.nan, 0.1, "nan ± 0.1"),
        (5.0, None, "5"),
    ],
)
def test_format_statistic_rounds_to_the_uncertainty(
    mean: float, sem: float | None, shown: str
) -> None:
    assert format_statistic(mean, sem) == shown


def test_aggregate_text_kept_only_when_identical_everywhere() -> None:
    records = {
        "g/0": {"opt": "adam", "note": "a", "only_here": "x", "m": 1},
        "g/1": {"opt": "adam", "note": "b", "m": 2},
    }
    combined = aggregate(records)["g"]
    assert combined["opt"] == "adam"
    assert "note" not in combined
    assert "only_here" not in combined


def test_aggregate_text_mixed_with_numbers_is_dropped() -> None:
    combined = aggregate({"g/0": {"m": 1}, "g/1": {"m": "n/a"}})["g"]
    assert not any(name.startswith("m") for name in combined)


def test_aggregate_by_callable_and_other_inputs() -> None:
    records = [
        Record("r/lr=0.1/seed=1", {"loss": 1.0}),
        Record("r/lr=0.1/seed=2", {"loss": 3.0}),
        Record("r/lr=0.2/seed=1", {"loss": 5.0}),
    ]
    got = aggregate(records, by=lambda key: key.split("/")[1])
    assert list(got) == ["lr=0.1", "lr=0.2"]
    assert got["lr=0.1"]["loss/mean"] == 2.0
    assert got["lr=0.2"]["loss/n"] == 1
    assert aggregate(records, by=1) == {"r": aggregate(records, by=lambda key: "r")["r"]}
    # more segments than a key has: the whole key is its group
    assert list(aggregate(records, by=5)) == [record.key for record in records]


def test_aggregate_output_round_trips_through_a_tracker() -> None:
    tracker = FsspecResultTracker("memory://test-stats/aggregate")
    for seed in range(3):
        tracker[f"exp/t1/{seed}"] = {"loss": seed + 1.0, "opt": "sgd"}
    for group_name, results in aggregate(tracker.scan("exp")).items():
        tracker.put(f"summary/{group_name}", **results)
    assert tracker["summary/exp/t1"]["loss/mean"] == 2.0
    assert tracker["summary/exp/t1"]["opt"] == "sgd"


def test_aggregate_empty_gives_nothing() -> None:
    assert aggregate([]) == {}


@pytest.mark.parametrize(
    ("by", "error", "message"),
    [
        (0, StatisticsError, "by=0"),
        (-1, StatisticsError, "by=-1 leaves no path segment of key 'solo'"),
        (-3, StatisticsError, "leaves no path segment"),
        ("2", StatisticsError, "by must be an int"),
        (True, StatisticsError, "by must be an int"),
        (lambda key: "", StatisticsTypeError, "returned ''"),
        (lambda key: 3, StatisticsTypeError, "returned 3"),
    ],
)
def test_aggregate_bad_by(by: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        aggregate({"solo": {"m": 1.0}, "a/b": {"m": 2.0}}, by=by)  # type: ignore[arg-type]


def test_docstring_examples() -> None:
    assert doctest.testmod(resulttracker.stats).failed == 0


# -- tables of records: metric names, result columns, summary rows ------------------------


def test_metric_names_are_group_names_in_natural_order() -> None:
    records = [
        Record("a", {"loss10": 1.0, "acc/mean": 0.9, "acc/sem": 0.1}),
        Record("b", {"loss2": 2.0, "train/loss": 0.5}),
    ]
    assert resulttracker.stats.metric_names(records) == ["acc", "loss2", "loss10", "train/loss"]
    assert resulttracker.stats.metric_names([]) == []


def test_result_names_every_name_or_the_wanted_ones() -> None:
    result_names = resulttracker.stats.result_names
    records = [
        Record("a", {"x10": 1, "x2": 2, "acc/mean": 0.9, "acc/sem": 0.1}),
        Record("b", {"only/mean": 1.0, "seed": 3}),
    ]
    assert result_names(records) == ["acc/mean", "acc/sem", "only/mean", "seed", "x2", "x10"]
    # A metric stands for its mean and sem (those present), asked-for order kept, once each.
    assert result_names(records, ["seed", "acc", "only", "acc/sem"]) == [
        "seed",
        "acc/mean",
        "acc/sem",
        "only/mean",
    ]
    with pytest.raises(MetricNotFoundError, match="no metric 'nope'") as caught:
        result_names(records, ["seed", "nope"])
    assert caught.value.available == ["acc", "only", "seed", "x2", "x10"]
    # A sem alone is no metric: its mean anchors it.
    with pytest.raises(MetricNotFoundError):
        result_names([Record("a", {"v/sem": 1.0})], ["v"])


def test_summary_rows_are_the_statistics_of_each_group() -> None:
    groups = aggregate(
        {
            "exp/a/0": {"loss": 1.0, "lr": 0.1, "opt": "adam", "acc/mean": 0.5, "acc/sem": 0.1},
            "exp/a/1": {"loss": 3.0, "lr": 0.1, "opt": "adam", "acc/mean": 0.7, "acc/sem": 0.1},
            "exp/b/0": {"loss": math.nan, "lr": 0.1, "opt": "adam", "acc/mean": 0.6, "acc/sem": 0},
        }
    )
    rows = list(resulttracker.stats.summary_rows(groups))
    # Parameters (lr, opt: one value everywhere) get no row; groups and metrics in order.
    assert [(row["group"], row["metric"]) for row in rows] == [
        ("exp/a", "acc"),
        ("exp/a", "loss"),
        ("exp/b", "acc"),
        ("exp/b", "loss"),
    ]
    assert rows[1] == {
        "group": "exp/a",
        "metric": "loss",
        "mean": 2.0,
        "sem": 1.0,
        "n": 2,
        "nan_count": 0,
    }
    assert close(rows[0]["mean"], 0.6)  # type: ignore[arg-type]
    assert close(rows[0]["sem"], math.hypot(0.1, 0.1) / 2)  # type: ignore[arg-type]
    assert rows[3]["n"] == 0
    assert rows[3]["nan_count"] == 1
    # A plain mean without sem or n (written by hand) still makes a row.
    (plain,) = resulttracker.stats.summary_rows({"g": {"m/mean": 1.5}})
    assert plain == {
        "group": "g",
        "metric": "m",
        "mean": 1.5,
        "sem": None,
        "n": None,
        "nan_count": 0,
    }
