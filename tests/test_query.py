"""The where language, select and best: the parser table, hostile input, every backend."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resulttracker import (
    InvalidKeyError,
    InvalidQueryError,
    NoCandidatesError,
    ResultTrackerError,
)
from resulttracker.query import (
    MAX_CONDITION_LENGTH,
    Condition,
    Where,
    parse_condition,
    parse_where,
    parse_where_text,
)

from .conftest import StoreHarness

# -- parsing ------------------------------------------------------------------------------

VALID = [
    # (condition, name, operator, text, number)
    ("loss < 0.5", "loss", "<", "0.5", 0.5),
    ("loss<0.5", "loss", "<", "0.5", 0.5),
    ("  loss   <=   0.5  ", "loss", "<=", "0.5", 0.5),
    ("acc/mean >= -1e-3", "acc/mean", ">=", "-1e-3", -0.001),
    ("n = 3", "n", "=", "3", 3),
    ("n == 3", "n", "=", "3", 3),
    ("n != +3", "n", "!=", "+3", 3),
    (
        "big = 123456789012345678901234567890",
        "big",
        "=",
        "123456789012345678901234567890",
        10**29 + 23456789012345678901234567890,
    ),
    ("x > .5", "x", ">", ".5", 0.5),
    ("x > 5.", "x", ">", "5.", 5.0),
    ("x = nan", "x", "=", "nan", math.nan),
    ("x = NaN", "x", "=", "NaN", math.nan),
    ("x < inf", "x", "<", "inf", math.inf),
    ("x > -Infinity", "x", ">", "-Infinity", -math.inf),
    ("ok = true", "ok", "=", "true", True),
    ("ok = FALSE", "ok", "=", "FALSE", False),
    ("opt = adam", "opt", "=", "adam", None),
    ("opt = 1e", "opt", "=", "1e", None),
    ("opt = 0x10", "opt", "=", "0x10", None),
    ("opt = 1_000", "opt", "=", "1_000", None),
    ("opt = 'adam w'", "opt", "=", "adam w", None),
    ('opt = "adam w"', "opt", "=", "adam w", None),
    ("seed = '1'", "seed", "=", "1", None),
    ("s = ''", "s", "=", "", None),
    (r"s = 'it\'s'", "s", "=", "it's", None),
    (r's = "say \"hi\""', "s", "=", 'say "hi"', None),
    (r"s = 'back\\slash'", "s", "=", "back\\slash", None),
    ("s = 'a = b < c'", "s", "=", "a = b < c", None),
    ("'my metric' > 1", "my metric", ">", "1", 1),
    ("\"a<=b\" != 'x'", "a<=b", "!=", "x", None),
    ("name = ünïcödé✓", "name", "=", "ünïcödé✓", None),
    ("path = a/b/c", "path", "=", "a/b/c", None),
    ("x = (1)", "x", "=", "(1)", None),
    ("s = \"__import__('os').system('ls')\"", "s", "=", "__import__('os').system('ls')", None),
]


@pytest.mark.parametrize(("text", "name", "op", "value", "number"), VALID)
def test_valid_conditions(text: str, name: str, op: str, value: str, number: object) -> None:
    condition = parse_condition(text)
    assert condition.name == name
    assert condition.operator == op
    assert condition.text == value
    assert condition.source == text
    if isinstance(number, float) and math.isnan(number):
        assert isinstance(condition.number, float)
        assert math.isnan(condition.number)
    else:
        assert condition.number == number
        assert type(condition.number) is type(number)


INVALID = [
    # (condition, fragment of the message, position)
    ("", "the condition is empty", 0),
    ("   ", "the condition is empty", 3),
    ("loss", "expected an operator (one of = != < <= > >=) after the name 'loss'", 4),
    ("loss 0.5", "expected an operator", 5),
    ("loss ~ 0.5", "found '~'", 5),
    ("loss <", "expected a value after '<'", 6),
    ("loss <   ", "expected a value after '<'", 9),
    ("= 1", "expected a name before '='", 0),
    ("'' = 1", "the name is empty", 0),
    ("a =< 1", "a bare value cannot start with '<'", 3),
    ("a => 1", "a bare value cannot start with '>'", 3),
    ("a !! 1", "found '!'", 2),
    ("a = b=c", "unexpected '=' in a bare value", 5),
    ("a = 1 b = 2", "unexpected text after the value", 6),
    ("a = 1 AND b = 2", "unexpected text after the value", 6),
    ("a = 'x' 'y'", "unexpected text after the value", 8),
    ("a = adam w", "unexpected text after the value", 9),
    ("a = 'abc", "the quote ' opened here is never closed", 4),
    ('a = "abc', 'the quote " opened here is never closed', 4),
    ("a = 'abc\\'", "never closed", 4),
    ("a = 'abc\\", "never closed", 4),
    ("'abc = 1", "never closed", 0),
    ("a = b'c'", 'unexpected "\'" in a bare value', 5),
    ("__import__('os').system('ls')", "expected an operator", 11),
    ("eval('1') = 1", "expected an operator", 5),
    ("a = 1; import os", "unexpected text after the value", 7),
    ("a = 1 or 1 = 1", "unexpected text after the value", 6),
    ("x = '' or ''=''", "unexpected text after the value", 7),
    ("a\n= 1\nb = 2", "unexpected text after the value", 6),
    ("a = " + "9" * 5000, "the integer has too many digits", 4),
]


@pytest.mark.parametrize(("text", "fragment", "position"), INVALID)
def test_invalid_conditions(text: str, fragment: str, position: int) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        parse_condition(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, ResultTrackerError)
    assert fragment in str(error)
    assert error.position == position
    assert error.condition == text
    assert str(error).startswith("invalid where condition: ")
    # the last line is a caret under the character at `position`
    lines = str(error).splitlines()
    assert lines[-1].strip() == "^"
    assert f"(at position {position})" in lines[0]


def test_the_caret_points_at_the_problem() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        parse_condition("loss ~ 0.5")
    shown, caret = str(caught.value).splitlines()[-2:]
    assert shown[caret.index("^")] == "~"


def test_the_caret_stays_right_with_control_characters_and_long_input() -> None:
    text = "\t" * 3 + "x" * 100 + "\t\x00 ~ 1"
    with pytest.raises(InvalidQueryError, match="found '\\\\x00'") as caught:
        parse_condition(text)
    shown, caret = str(caught.value).splitlines()[-2:]
    column = caret.index("^")
    assert shown[column : column + 4] == "\\x00"  # shown escaped, on one line
    assert shown[column - 2 : column] == "\\t"
    assert shown.lstrip().startswith("...")  # a window, not 100 characters of context
    assert len(shown) < 100


def test_very_long_conditions_are_refused_without_echoing_them() -> None:
    text = "a = '" + "x" * 10_000 + "'"
    with pytest.raises(
        InvalidQueryError, match=f"over the limit of {MAX_CONDITION_LENGTH}"
    ) as caught:
        parse_condition(text)
    assert len(str(caught.value)) < 200


def test_the_longest_stored_values_still_fit() -> None:
    # a 1024-character name and a 1024-character value, every character escaped
    name, value = "n" * 1024, "'" * 1024
    text = f"'{name}' = '" + "\\'" * 1024 + "'"
    condition = parse_condition(text)
    assert (condition.name, condition.text) == (name, value)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_invalid_query_error(text: str) -> None:
    error: InvalidQueryError | None = None
    try:
        condition = parse_condition(text)
    except InvalidQueryError as raised:
        error = raised
    if error is None:
        assert isinstance(condition, Condition)
        assert condition.name
    else:
        assert error.condition == text


def test_parse_where_forms() -> None:
    assert parse_where(None) == Where()
    one = parse_where("a = 1")
    assert len(one.conditions) == 1
    two = parse_where(["a = 1", "b < 2"])
    assert [condition.name for condition in two.conditions] == ["a", "b"]
    assert parse_where(("a = 1",)).conditions == one.conditions
    assert parse_where(two) is two
    assert parse_where([]) == Where()
    assert str(two) == "a = 1 AND b < 2"


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        (b"a = 1", "got bytes"),
        (3, "got int"),
        (["a = 1", 3], "must be a str, got int"),
        (["a = 1", None], "must be a str, got NoneType"),
        (["a = 1", "b ="], "expected a value after '='"),
    ],
)
def test_parse_where_refuses(where: object, fragment: str) -> None:
    with pytest.raises(InvalidQueryError, match=fragment):
        parse_where(where)  # type: ignore[arg-type]


# -- matching -----------------------------------------------------------------------------

RESULTS = {
    "loss": 0.25,
    "n": 3,
    "big": 2**70,
    "ok": True,
    "opt": "adam",
    "seed": "1",
    "div": math.nan,
    "up": math.inf,
    "down": -math.inf,
    "empty": "",
    "my metric": 2.0,
    "name": "ünïcödé✓",
}

MATCHES = [
    # (condition, expected)
    ("loss < 0.5", True),
    ("loss <= 0.25", True),
    ("loss < 0.25", False),
    ("loss > 0.1", True),
    ("loss >= 0.3", False),
    ("loss = 0.25", True),
    ("loss != 0.25", False),
    ("n = 3", True),
    ("n = 3.0", True),
    ("n > 2.5", True),
    ("big = 1180591620717411303424", True),
    ("big > 1180591620717411303423", True),  # exact, not via float
    ("ok = true", True),
    ("ok = 1", True),
    ("ok != false", True),
    ("opt = adam", True),
    ("opt = 'adam'", True),
    ("opt != sgd", True),
    ("opt < b", True),
    ("opt > B", True),  # code point order: lower case after upper case
    ("opt = Adam", False),
    ("seed = '1'", True),
    ("seed = 1", True),  # a bare value is also compared as text with text
    ("n = '3'", False),  # a quoted value never matches a number
    ("n != '3'", False),
    ("opt > 1", True),  # text against text: "adam" > "1"
    ("div = nan", True),
    ("div != nan", False),
    ("loss != nan", True),
    ("loss = nan", False),
    ("div < 1", False),
    ("div > 1", False),
    ("div != 1", True),
    ("loss < nan", False),
    ("up = inf", True),
    ("up > 1e308", True),
    ("loss < inf", True),
    ("down < -1e308", True),
    ("down = -inf", True),
    ("empty = ''", True),
    ("'my metric' = 2", True),
    ("name = ünïcödé✓", True),
    ("missing = 1", False),
    ("missing != 1", False),
    ("missing != nan", False),
    ("missing < inf", False),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES)
def test_matching(text: str, expected: bool) -> None:
    assert parse_condition(text).matches(RESULTS) is expected


def test_conditions_are_anded() -> None:
    assert parse_where(["loss < 0.5", "opt = adam"]).matches(RESULTS)
    assert not parse_where(["loss < 0.5", "opt = sgd"]).matches(RESULTS)
    assert parse_where(None).matches({})


# -- select and best on every backend ---------------------------------------------------


def fill(store: StoreHarness) -> None:
    tracker = store.tracker
    tracker["exp/a/0"] = {"loss": 0.5, "opt": "adam", "acc/mean": 0.8, "acc/sem": 0.01}
    tracker["exp/a/1"] = {"loss": 0.3, "opt": "adam", "acc/mean": 0.9, "acc/sem": 0.02}
    tracker["exp/b/0"] = {"loss": math.nan, "opt": "sgd", "acc/mean": math.nan}
    tracker["exp/b/1"] = {"loss": 0.1, "opt": "sgd", "acc": 0.95}
    tracker["exp10/x"] = {"loss": 0.01, "opt": "adam"}
    tracker["other"] = {"note": "no loss here"}


def test_select_filters_and_sorts(store: StoreHarness) -> None:
    fill(store)
    tracker = store.tracker
    assert [r.key for r in tracker.select()] == [
        "exp/a/0",
        "exp/a/1",
        "exp/b/0",
        "exp/b/1",
        "exp10/x",
        "other",
    ]
    assert [r.key for r in tracker.select("exp")] == ["exp/a/0", "exp/a/1", "exp/b/0", "exp/b/1"]
    assert [r.key for r in tracker.select(where="opt = adam")] == [
        "exp/a/0",
        "exp/a/1",
        "exp10/x",
    ]
    assert [r.key for r in tracker.select("exp", ["opt = adam", "loss < 0.4"])] == ["exp/a/1"]
    assert [r.key for r in tracker.select(where="loss != nan")] == [
        "exp/a/0",
        "exp/a/1",
        "exp/b/1",
        "exp10/x",
    ]
    assert [r.key for r in tracker.select(where="loss = nan")] == ["exp/b/0"]
    record = next(tracker.select(where="acc = 0.95"))
    assert record.results == {"loss": 0.1, "opt": "sgd", "acc": 0.95}


def test_select_checks_arguments_at_the_call(store: StoreHarness) -> None:
    fill(store)
    before = store.raw_names()
    with pytest.raises(InvalidQueryError, match="expected a value"):
        store.tracker.select(where=["loss < 1", "opt ="])
    with pytest.raises(InvalidKeyError):
        store.tracker.select(prefix="a//b")
    assert store.raw_names() == before


def test_best_min_and_max(store: StoreHarness) -> None:
    fill(store)
    tracker = store.tracker
    assert tracker.best("loss").key == "exp10/x"
    assert tracker.best("loss", prefix="exp").key == "exp/b/1"
    assert tracker.best("loss", mode="max").key == "exp/a/0"  # NaN never wins
    assert tracker.best("loss", where="opt = adam", prefix="exp").key == "exp/a/1"
    # acc: plain `acc` or `acc/mean`; the NaN mean is skipped
    assert tracker.best("acc", mode="max").key == "exp/b/1"
    assert tracker.best("acc", mode="min").key == "exp/a/0"
    assert tracker.best("acc/sem", mode="max").key == "exp/a/1"
    best = tracker.best("loss", prefix="exp/a")
    assert best.results["loss"] == 0.3


def test_best_ties_go_to_the_first_key(store: StoreHarness) -> None:
    for key in ("c", "a", "b"):
        store.tracker[key] = {"loss": 1}
    assert store.tracker.best("loss").key == "a"
    assert store.tracker.best("loss", mode="max").key == "a"


def test_best_compares_huge_ints_exactly(store: StoreHarness) -> None:
    store.tracker["a"] = {"steps": 2**64 + 1}
    store.tracker["b"] = {"steps": 2**64}
    assert store.tracker.best("steps").key == "b"


def test_best_without_candidates_is_a_clear_error(store: StoreHarness) -> None:
    fill(store)
    before = store.raw_names()
    with pytest.raises(NoCandidatesError) as caught:
        store.tracker.best("loss", prefix="exp/b", where=["opt = sgd", "acc/mean = nan"])
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "'loss'" in message
    assert (
        "none of the 1 keys under prefix 'exp/b' matching 'opt = sgd AND acc/mean = nan'" in message
    )
    with pytest.raises(NoCandidatesError, match="none of the 6 keys has a numeric"):
        store.tracker.best("accuracy")
    with pytest.raises(NoCandidatesError, match="'note'"):
        store.tracker.best("note")  # text never competes
    with pytest.raises(NoCandidatesError, match="none of the 0 keys under prefix 'nothing'"):
        store.tracker.best("loss", prefix="nothing")
    assert store.raw_names() == before


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"metric": "loss", "mode": "minimum"}, "mode must be 'min' or 'max'"),
        ({"metric": "", "mode": "min"}, "metric must be a non-empty str"),
        ({"metric": "loss", "mode": "min", "where": "loss <"}, "expected a value"),
    ],
)
def test_best_refuses_bad_arguments(
    store: StoreHarness, kwargs: dict[str, str], fragment: str
) -> None:
    fill(store)
    with pytest.raises(InvalidQueryError, match=fragment):
        store.tracker.best(**kwargs)  # type: ignore[arg-type]


# -- the golden cases shared with the dashboard's port (tests/where_cases.json) -------------

WHERE_CASES_FILE = Path(__file__).with_name("where_cases.json")
WHERE_CASES: dict[str, list[dict[str, Any]]] = json.loads(
    WHERE_CASES_FILE.read_text(encoding="utf-8")
)


def _golden_number(number: int | float | None) -> dict[str, Any] | None:
    """A parsed number as the golden file writes it (kind and exact value)."""
    if number is None:
        return None
    if isinstance(number, bool):
        return {"bool": number}
    if isinstance(number, int):
        return {"int": str(number)}
    return {"float": repr(number)}


def _golden_outcome(parse: Any, text: str) -> dict[str, Any]:
    try:
        parsed = parse(text)
    except InvalidQueryError as error:
        return {
            "text": text,
            "error": {"reason": error.reason, "position": error.position, "message": str(error)},
        }
    conditions = parsed.conditions if isinstance(parsed, Where) else (parsed,)
    return {
        "text": text,
        "conditions": [
            {
                "name": condition.name,
                "operator": condition.operator,
                "text": condition.text,
                "number": _golden_number(condition.number),
                "source": condition.source,
            }
            for condition in conditions
        ],
    }


def test_the_golden_file_is_substantial() -> None:
    for function in ("parse_condition", "parse_where_text"):
        cases = WHERE_CASES[function]
        texts = [case["text"] for case in cases]
        assert len(texts) == len(set(texts)), f"a {function} case is written twice"
        refused = [case for case in cases if "error" in case]
        assert len(refused) >= 15, function
        assert len(cases) - len(refused) >= 15, function
    accepted = [c for case in WHERE_CASES["parse_condition"] for c in case.get("conditions", [])]
    assert {c["operator"] for c in accepted} == {"=", "!=", "<", "<=", ">", ">="}
    kinds = {next(iter(c["number"])) for c in accepted if c["number"] is not None}
    assert kinds == {"int", "float", "bool"}
    floats = {c["number"]["float"] for c in accepted if c["number"] and "float" in c["number"]}
    assert {"nan", "inf", "-inf", "-0.0"} <= floats
    reasons = {
        case["error"]["reason"].split(" (")[0][:20]
        for case in WHERE_CASES["parse_condition"]
        if "error" in case
    }
    assert len(reasons) >= 10  # every kind of refusal, not one kind many times


@pytest.mark.parametrize(
    ("function", "index"),
    [
        (function, index)
        for function in ("parse_condition", "parse_where_text")
        for index in range(len(WHERE_CASES[function]))
    ],
    ids=lambda value: str(value),
)
def test_the_library_gives_exactly_the_golden_outcome(function: str, index: int) -> None:
    case = WHERE_CASES[function][index]
    parse = parse_condition if function == "parse_condition" else parse_where_text
    assert _golden_outcome(parse, case["text"]) == case


def test_parse_where_text_sources_parse_back_alone() -> None:
    # the dashboard sends each condition's source to the server, which parses it alone
    for case in WHERE_CASES["parse_where_text"]:
        for expected in case.get("conditions", []):
            again = parse_condition(expected["source"])
            assert (again.name, again.operator, again.text) == (
                expected["name"],
                expected["operator"],
                expected["text"],
            )


# -- best_record(require_metric) and sort_records ----------------------------------------


def test_best_record_can_require_the_metric() -> None:
    from resulttracker import MetricNotFoundError, Record
    from resulttracker.query import best_record

    records = [
        Record("a", {"loss": math.nan, "acc/mean": 0.5, "acc/sem": 0.1}),
        Record("b", {"note": "text", "seed2": 1, "seed10": 2}),
    ]
    # Present but unusable (NaN, text): no candidates, with or without the requirement.
    for require in (False, True):
        with pytest.raises(NoCandidatesError, match="no best 'loss'"):
            best_record(records, "loss", mode="min", require_metric=require)
        with pytest.raises(NoCandidatesError, match="no best 'note'"):
            best_record(records, "note", mode="min", require_metric=require)
    # Absent from every record: a mistyped name, said as such when required.
    with pytest.raises(NoCandidatesError):
        best_record(records, "nope", mode="min")
    with pytest.raises(MetricNotFoundError, match="no metric 'nope'") as caught:
        best_record(records, "nope", mode="min", require_metric=True)
    assert caught.value.available == ["acc", "loss", "note", "seed2", "seed10"]
    # No records at all: nothing to say the name is wrong.
    with pytest.raises(NoCandidatesError, match="none of the 0 keys"):
        best_record([], "nope", mode="min", require_metric=True)
    assert best_record(records, "acc", mode="max", require_metric=True).key == "a"


def test_sort_records_numbers_then_text_then_the_rest() -> None:
    from resulttracker import MetricNotFoundError, Record
    from resulttracker.query import sort_records

    records = [
        Record("nan", {"v": math.nan}),
        Record("two", {"v": 2}),
        Record("text-b", {"v": "b"}),
        Record("missing", {"w": 1}),
        Record("mean", {"v/mean": 1.5, "v/sem": 0.1}),
        Record("null", {"v": None}),  # type: ignore[dict-item]
        Record("text-a", {"v": "a"}),
        Record("big", {"v": 10**30}),
        Record("also-two", {"v": 2.0}),
    ]
    ascending = [record.key for record in sort_records(records, "v")]
    assert ascending == [
        "mean",
        "two",
        "also-two",
        "big",
        "text-a",
        "text-b",
        "nan",
        "missing",
        "null",
    ]
    descending = [record.key for record in sort_records(iter(records), "v", descending=True)]
    assert descending == [
        "big",
        "two",
        "also-two",  # equal values keep their order, in either direction
        "mean",
        "text-b",
        "text-a",
        "nan",
        "missing",
        "null",
    ]
    assert sort_records([], "anything") == []
    with pytest.raises(MetricNotFoundError, match="no metric 'nope'") as caught:
        sort_records(records, "nope")
    assert caught.value.available == ["v", "w"]
