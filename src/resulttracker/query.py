"""``where`` conditions: the one filter syntax of the library, the CLI and the dashboard.

Syntax
------
A condition is ``NAME OP VALUE``, with ``OP`` one of ``=`` (or ``==``), ``!=``,
``<``, ``<=``, ``>``, ``>=``; spaces around the operator are optional. A
``where`` argument is one condition or a sequence of them, all of which must
hold (AND); there is no OR.

* ``NAME`` is a result name, exactly as stored (``loss``, ``acc/mean``). A name
  holding spaces, quotes or one of ``= ! < >`` must be quoted.
* ``VALUE`` is bare (``0.5``, ``-1e-3``, ``nan``, ``adam``) or quoted. A bare
  value is one word: it holds no spaces, quotes or ``= ! < >``.
* Quotes are ``'...'`` or ``"..."``. Inside them a backslash makes the next
  character literal (``'it\\'s'``, ``"C:\\\\tmp"``); nothing else is special.

Comparison
----------
* A bare value that reads as a number (``3``, ``-0.5``, ``1e-3``, ``nan``,
  ``inf``, ``-inf``, case-insensitive; ``true``/``false`` as 1/0) is compared
  numerically with numeric results (``int``, ``float``, ``bool``); integers
  compare exactly. Against a ``str`` result, any bare value is compared as
  its text.
* A quoted value is always text: it matches ``str`` results only, so
  ``seed = '1'`` finds the string ``"1"`` but not the number 1.
* Text compares by Unicode code point, case-sensitively.
* A result that is missing, or of the other kind (text against a number),
  never matches, whatever the operator: ``loss != 1`` does not select keys
  without ``loss``. Nor does a ``null``, a list or an object (values that
  documents written by torchx or others may hold).
* NaN: ``= nan`` selects NaN values and ``!= nan`` the others (NaN equals
  itself here, unlike IEEE 754, so that diverged runs can be found or left
  out); ``<``, ``<=``, ``>``, ``>=`` are false when either side is NaN.
  Infinities order as usual: ``loss < inf`` selects every finite loss.

Several conditions in one text
------------------------------
Where one text box holds the whole filter (the dashboard's), conditions are
joined by the word ``and`` (any case) with whitespace on both sides:
``loss < 0.5 and optimizer = adam``; an empty text is no condition.
:func:`parse_where_text` reads that form; ``parse_where`` and
``parse_condition`` do not (they take one condition per string).

Conditions are parsed by the small scanner below; nothing is ever evaluated
as code. A malformed condition raises :class:`InvalidQueryError` whose message
shows the condition with a caret under the problem.

The dashboard's page carries a port of this scanner (``web/static/where.js``);
``tests/where_cases.json`` holds the golden cases (accepted text with its
parse, refused text with the exact message and position) that this module and
the page must both reproduce: change the grammar there first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQueryError, MetricNotFoundError, NoCandidatesError
from .model import Record
from .sorting import natural_key
from .stats import group, metric_names, numeric_metric

__all__ = [
    "MAX_CONDITION_LENGTH",
    "OPERATORS",
    "Condition",
    "Where",
    "WhereArgument",
    "best_record",
    "parse_condition",
    "parse_where",
    "parse_where_text",
    "sort_records",
]

#: Longest condition accepted, in characters: room for the longest result name
#: and string value (1024 bytes each) fully escaped, and a guard against input
#: that can only be a mistake or an attack.
MAX_CONDITION_LENGTH = 8192

#: The operators, longest first so that ``<=`` is not read as ``<``.
OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">")

_QUOTES = "'\""
_OPERATOR_CHARACTERS = "=!<>"
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_SPECIAL_NUMBERS: dict[str, int | float] = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
    "true": True,
    "false": False,
}


def _ordered(left: Any, op: str, right: Any) -> bool:
    """``left OP right`` for an ordering operator; both sides of one kind."""
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


@dataclass(frozen=True)
class Condition:
    """One parsed condition.

    Attributes
    ----------
    name : str
        The result name.
    operator : str
        One of ``= != < <= > >=`` (``==`` is stored as ``=``).
    text : str
        The value as text (quotes removed, escapes resolved).
    number : int, float or None
        The value as a number, or ``None`` when it was quoted or does not read
        as one.
    source : str
        The condition as written.
    """

    name: str
    operator: str
    text: str
    number: int | float | None
    source: str

    def matches(self, results: Mapping[str, object]) -> bool:
        """Whether ``results`` satisfy this condition (see the module docstring)."""
        stored = results.get(self.name)
        if isinstance(stored, str):
            return _compare(stored, self.operator, self.text)
        if self.number is None or not isinstance(stored, (int, float)):
            return False  # missing, or null, a list or an object written by another writer
        return _compare_numbers(stored, self.operator, self.number)

    def __str__(self) -> str:
        return self.source


def _compare(left: str, op: str, right: str) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    return _ordered(left, op, right)


def _compare_numbers(left: int | float, op: str, right: int | float) -> bool:
    left_nan = isinstance(left, float) and math.isnan(left)
    right_nan = isinstance(right, float) and math.isnan(right)
    if op in ("=", "!="):
        equal = left_nan and right_nan if left_nan or right_nan else left == right
        return equal if op == "=" else not equal
    if left_nan or right_nan:
        return False
    return _ordered(left, op, right)


@dataclass(frozen=True)
class Where:
    """Conditions that must all hold; no conditions match everything."""

    conditions: tuple[Condition, ...] = ()

    def matches(self, results: Mapping[str, object]) -> bool:
        """Whether ``results`` satisfy every condition."""
        return all(condition.matches(results) for condition in self.conditions)

    def __str__(self) -> str:
        return " AND ".join(condition.source for condition in self.conditions)


#: What a ``where`` argument may be.
WhereArgument = str | Iterable[str] | Where | None


def parse_where(where: WhereArgument) -> Where:
    """Parse a ``where`` argument: ``None``, one condition, or several (AND-ed).

    Raises
    ------
    InvalidQueryError
        A condition is malformed, or ``where`` is neither a ``str``, a sequence
        of ``str`` nor ``None``. Every condition is checked before any is used.
    """
    if where is None:
        return Where()
    if isinstance(where, Where):
        return where
    if isinstance(where, str):
        return Where((parse_condition(where),))
    if isinstance(where, (bytes, bytearray)) or not isinstance(where, Iterable):
        raise InvalidQueryError(
            f"where must be a condition string or a sequence of them, got {type(where).__name__}"
        )
    conditions = []
    for item in where:
        if not isinstance(item, str):
            raise InvalidQueryError(
                f"each where condition must be a str, got {type(item).__name__} {item!r:.80}"
            )
        conditions.append(parse_condition(item))
    return Where(tuple(conditions))


def parse_condition(text: str) -> Condition:
    """Parse one ``NAME OP VALUE`` condition.

    Raises
    ------
    InvalidQueryError
        The condition is malformed; ``position`` and the message's caret show
        where.
    """
    if not isinstance(text, str):
        raise InvalidQueryError(f"a where condition must be a str, got {type(text).__name__}")
    if len(text) > MAX_CONDITION_LENGTH:
        raise InvalidQueryError(
            f"a where condition of {len(text)} characters is over the limit of "
            f"{MAX_CONDITION_LENGTH}"
        )
    return _Scanner(text).condition()


def parse_where_text(text: str) -> Where:
    """Parse a whole filter written in one text: conditions joined by ``and``.

    ``"loss < 0.5 and optimizer = adam"`` gives two conditions, each with the
    text of that condition alone as its ``source``; an empty (or blank) text
    gives no condition. ``and`` is a joiner only between whitespace after a
    complete condition, so a name or value ``and`` needs no quotes.

    Raises
    ------
    InvalidQueryError
        The text is malformed; ``position`` and the message's caret show where
        in the whole text.
    """
    if not isinstance(text, str):
        raise InvalidQueryError(f"a where text must be a str, got {type(text).__name__}")
    if len(text) > MAX_CONDITION_LENGTH:
        raise InvalidQueryError(
            f"a where text of {len(text)} characters is over the limit of {MAX_CONDITION_LENGTH}"
        )
    return Where(tuple(_Scanner(text).conditions()))


class _Scanner:
    """A left-to-right scanner over one condition; every error names a position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def fail(self, reason: str, position: int | None = None) -> InvalidQueryError:
        where = self.position if position is None else position
        return InvalidQueryError(reason, condition=self.text, position=where)

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def condition(self) -> Condition:
        self.skip_spaces()
        if self.at_end():
            raise self.fail("the condition is empty; expected NAME OP VALUE, e.g. 'loss < 0.5'")
        finish = self.one_condition()
        self.skip_spaces()
        if not self.at_end():
            raise self.fail(
                "unexpected text after the value; quote a value that holds spaces, "
                "and give several conditions as separate strings (they are AND-ed)"
            )
        return finish(self.text)

    def conditions(self) -> list[Condition]:
        """Conditions joined by ``and`` up to the end of the text (none if blank)."""
        found: list[Condition] = []
        self.skip_spaces()
        while not self.at_end():
            start = self.position
            finish = self.one_condition()
            end = self.position
            self.skip_spaces()
            if not self.at_end():
                following = self.text[self.position + 3 : self.position + 4]
                if (
                    self.position == end
                    or self.text[self.position : self.position + 3].lower() != "and"
                    or not (following == "" or following.isspace())
                ):
                    raise self.fail(
                        "unexpected text after the value; quote a value that holds spaces, "
                        "and join conditions with 'and'"
                    )
                self.position += 3
                self.skip_spaces()
                if self.at_end():
                    raise self.fail("expected a condition after 'and'")
            found.append(finish(self.text[start:end]))
        return found

    def one_condition(self) -> Callable[[str], Condition]:
        """Read ``NAME OP VALUE`` from here, up to the end of the value.

        Returns the function that makes the :class:`Condition` (given its
        source): the value is read as a number only once the caller has
        checked what follows it, so that error comes first.
        """
        start = self.position
        name, _ = self.term("name")
        if not name:
            raise self.fail("the name is empty", start)
        self.skip_spaces()
        op = self.operator(name)
        self.skip_spaces()
        if self.at_end():
            raise self.fail(f"expected a value after {op!r}")
        value_start = self.position
        value, quoted = self.term("value")

        def finish(source: str) -> Condition:
            number = None if quoted else _read_number(value, self, value_start)
            operator = "=" if op == "==" else op
            return Condition(name=name, operator=operator, text=value, number=number, source=source)

        return finish

    def term(self, what: str) -> tuple[str, bool]:
        """Read a quoted or bare name or value; return it and whether it was quoted."""
        if self.text[self.position] in _QUOTES:
            return self.quoted(), True
        start = self.position
        while not self.at_end():
            char = self.text[self.position]
            if char.isspace() or char in _QUOTES or char in _OPERATOR_CHARACTERS:
                break
            self.position += 1
        if self.position == start:
            char = self.text[self.position]
            if what == "name":
                raise self.fail(f"expected a name before {char!r}")
            raise self.fail(
                f"a bare value cannot start with {char!r} (the operators are = != < <= > >=); "
                "quote a value that does"
            )
        if what == "value" and not self.at_end() and not self.text[self.position].isspace():
            raise self.fail(
                f"unexpected {self.text[self.position]!r} in a bare value; quote the value"
            )
        return self.text[start : self.position], False

    def quoted(self) -> str:
        opening = self.position
        quote = self.text[opening]
        self.position += 1
        pieces: list[str] = []
        while not self.at_end():
            char = self.text[self.position]
            if char == "\\":
                if self.position + 1 >= len(self.text):
                    break
                pieces.append(self.text[self.position + 1])
                self.position += 2
            elif char == quote:
                self.position += 1
                return "".join(pieces)
            else:
                pieces.append(char)
                self.position += 1
        raise self.fail(f"the quote {quote} opened here is never closed", opening)

    def operator(self, name: str) -> str:
        for op in OPERATORS:
            if self.text.startswith(op, self.position):
                self.position += len(op)
                return op
        expected = "expected an operator (one of = != < <= > >=)"
        if self.at_end():
            raise self.fail(f"{expected} after the name {name!r:.80}")
        raise self.fail(f"{expected}, found {self.text[self.position]!r}")


def _read_number(text: str, scanner: _Scanner, start: int) -> int | float | None:
    special = _SPECIAL_NUMBERS.get(text.lower())
    if special is not None:
        return special
    if _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts by default
            raise scanner.fail("the integer has too many digits", start) from None
    if _NUMBER.fullmatch(text):
        return float(text)
    return None


def best_record(
    records: Iterable[Record],
    metric: str,
    *,
    mode: str,
    prefix: str | None = None,
    where: Where | None = None,
    require_metric: bool = False,
) -> Record:
    """The record with the lowest (``mode="min"``) or highest (``"max"``) value
    of ``metric``, read as the plain result ``metric`` or else ``metric/mean``.

    Keys where the metric is missing, text or NaN are skipped, so NaN never
    wins; of equal values the first record wins. ``prefix`` and ``where`` are
    only used in the error message. ``metric`` and ``mode`` are checked before
    ``records`` is iterated.

    With ``require_metric``, records none of which holds ``metric`` or
    ``metric/mean`` at all (a mistyped name, rather than values that cannot
    compete) raise :class:`MetricNotFoundError` listing the metrics they hold.

    Raises
    ------
    InvalidQueryError
        ``mode`` is neither ``"min"`` nor ``"max"``, or ``metric`` is not a
        non-empty ``str``.
    NoCandidatesError
        No record has a usable value.
    MetricNotFoundError
        With ``require_metric``: there are records, and none holds the metric.
    """
    if mode not in ("min", "max"):
        raise InvalidQueryError(f"mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(metric, str) or not metric:
        raise InvalidQueryError(f"metric must be a non-empty str, got {metric!r}")
    best: Record | None = None
    best_value: int | float = 0
    seen = 0
    names = (metric, f"{metric}/mean")
    found = not require_metric  # whether some record holds the metric at all
    others: set[str] = set()  # the metrics of the records read until then
    for record in records:
        seen += 1
        if not found:
            found = any(name in record.results for name in names)
            others.update(group(record.results))
        value = numeric_metric(record.results, metric)
        if value is None:
            continue
        if best is None or (value < best_value if mode == "min" else value > best_value):
            best, best_value = record, value
    if best is None:
        if seen and not found:
            raise MetricNotFoundError(metric, sorted(others, key=natural_key))
        scope = f" under prefix {prefix!r}" if prefix else ""
        condition = f" matching {str(where)!r}" if where is not None and where.conditions else ""
        raise NoCandidatesError(
            f"no best {metric!r} (mode={mode!r}): none of the {seen} keys{scope}{condition} "
            f"has a numeric, non-NaN {metric!r} or {metric + '/mean'!r}"
        )
    return best


def _sort_value(results: Mapping[str, object], name: str) -> int | float | str | None:
    """The number or text to sort on; ``None`` for NaN, missing, ``null``, a
    list or an object (sorted last)."""
    value = results.get(name, results.get(f"{name}/mean"))
    if isinstance(value, float) and math.isnan(value):
        return None
    return value if isinstance(value, (int, float, str)) else None


def sort_records(records: Iterable[Record], name: str, *, descending: bool = False) -> list[Record]:
    """``records`` ordered by the value of the result ``name`` (or else
    ``name/mean``): numbers, then text, each ascending (or ``descending``);
    records where it is missing, NaN, ``null``, a list or an object come last
    whichever the direction. The sort is stable: records of equal values keep
    their order.

    Raises
    ------
    MetricNotFoundError
        There are records and none of them holds ``name`` or ``name/mean``.

    Examples
    --------
    >>> records = [Record("a", {"loss": 2}), Record("b", {"loss": float("nan")}),
    ...            Record("c", {"loss": 1})]
    >>> [record.key for record in sort_records(records, "loss")]
    ['c', 'a', 'b']
    """
    listed = list(records)
    if listed and not any(
        name in record.results or f"{name}/mean" in record.results for record in listed
    ):
        raise MetricNotFoundError(name, metric_names(listed))
    numbers: list[tuple[int | float, Record]] = []
    texts: list[tuple[str, Record]] = []
    rest: list[Record] = []
    for record in listed:
        value = _sort_value(record.results, name)
        if isinstance(value, str):
            texts.append((value, record))
        elif value is None:
            rest.append(record)
        else:
            numbers.append((value, record))
    numbers.sort(key=lambda pair: pair[0], reverse=descending)
    texts.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in numbers] + [record for _, record in texts] + rest
