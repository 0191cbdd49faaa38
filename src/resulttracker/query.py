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
  without ``loss``.
* NaN: ``= nan`` selects NaN values and ``!= nan`` the others (NaN equals
  itself here, unlike IEEE 754, so that diverged runs can be found or left
  out); ``<``, ``<=``, ``>``, ``>=`` are false when either side is NaN.
  Infinities order as usual: ``loss < inf`` selects every finite loss.

Conditions are parsed by the small scanner below; nothing is ever evaluated
as code. A malformed condition raises :class:`InvalidQueryError` whose message
shows the condition with a caret under the problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQueryError, NoCandidatesError
from .model import Record
from .stats import numeric_metric
from .validation import ResultType

__all__ = [
    "MAX_CONDITION_LENGTH",
    "OPERATORS",
    "Condition",
    "Where",
    "WhereArgument",
    "best_record",
    "parse_condition",
    "parse_where",
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

    def matches(self, results: Mapping[str, ResultType]) -> bool:
        """Whether ``results`` satisfy this condition (see the module docstring)."""
        if self.name not in results:
            return False
        stored = results[self.name]
        if isinstance(stored, str):
            return _compare(stored, self.operator, self.text)
        if self.number is None:
            return False
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

    def matches(self, results: Mapping[str, ResultType]) -> bool:
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
        name_start = self.position
        name, _ = self.term("name")
        if not name:
            raise self.fail("the name is empty", name_start)
        self.skip_spaces()
        op = self.operator(name)
        self.skip_spaces()
        if self.at_end():
            raise self.fail(f"expected a value after {op!r}")
        value_start = self.position
        value, quoted = self.term("value")
        self.skip_spaces()
        if not self.at_end():
            raise self.fail(
                "unexpected text after the value; quote a value that holds spaces, "
                "and give several conditions as separate strings (they are AND-ed)"
            )
        number = None if quoted else _read_number(value, self, value_start)
        return Condition(
            name=name,
            operator="=" if op == "==" else op,
            text=value,
            number=number,
            source=self.text,
        )

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
) -> Record:
    """The record with the lowest (``mode="min"``) or highest (``"max"``) value
    of ``metric``, read as the plain result ``metric`` or else ``metric/mean``.

    Keys where the metric is missing, text or NaN are skipped, so NaN never
    wins; of equal values the first record wins. ``prefix`` and ``where`` are
    only used in the error message. ``metric`` and ``mode`` are checked before
    ``records`` is iterated.

    Raises
    ------
    InvalidQueryError
        ``mode`` is neither ``"min"`` nor ``"max"``, or ``metric`` is not a
        non-empty ``str``.
    NoCandidatesError
        No record has a usable value.
    """
    if mode not in ("min", "max"):
        raise InvalidQueryError(f"mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(metric, str) or not metric:
        raise InvalidQueryError(f"metric must be a non-empty str, got {metric!r}")
    best: Record | None = None
    best_value: int | float = 0
    seen = 0
    for record in records:
        seen += 1
        value = numeric_metric(record.results, metric)
        if value is None:
            continue
        if best is None or (value < best_value if mode == "min" else value > best_value):
            best, best_value = record, value
    if best is None:
        scope = f" under prefix {prefix!r}" if prefix else ""
        condition = f" matching {str(where)!r}" if where is not None and where.conditions else ""
        raise NoCandidatesError(
            f"no best {metric!r} (mode={mode!r}): none of the {seen} keys{scope}{condition} "
            f"has a numeric, non-NaN {metric!r} or {metric + '/mean'!r}"
        )
    return best
