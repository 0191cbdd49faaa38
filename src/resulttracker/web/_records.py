"""Records as the page sees them, and the change log behind live refresh.

The page receives records as JSON: ``{"key", "results", "modified"}`` with
``modified`` in seconds since the epoch (or ``null``). Numbers, booleans,
strings and ``null`` are sent as they are; every other value is an object whose
one field says what it is, so a stored value can never pass for one of them:

* a non-finite float (JSON has none) is ``{"float": "nan" | "inf" | "-inf"}``;
* a list or an object (documents written by torchx may hold them) is
  ``{"json": "<its JSON text>"}``, which the page shows as text and never
  plots.

Reading is tolerant of what it cannot decode: a key whose document is corrupt
is left out and reported (:class:`CorruptEntry`), whatever the error, so one bad
document never hides the others.

Live refresh must send only what changed, on any store, whether or not it
keeps modification times and whatever the clocks of its writers say. So the
server does not trust times for this: :class:`ChangeLog` rescans the store (at
most once per ``min_interval``, however many pages poll), compares each
record with what it saw before, and numbers the changes with a generation
counter. A page's cursor is the generation it last saw (with the log's random
``epoch``, so a cursor from before a restart forces a full load).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api import Record, ResultTracker, StoreTracker
from ..errors import CorruptResultError, InvalidKeyError, ResultTrackerError
from ..feed import Feed
from ..query import Where
from ..validation import normalize_prefix

__all__ = [
    "ChangeLog",
    "CorruptEntry",
    "InvalidCursorError",
    "Snapshot",
    "encode_record",
    "encode_value",
    "read_records",
]

#: At most this many corrupt keys are listed in one answer (all are counted).
MAX_CORRUPT_LISTED = 100

_CURSOR = re.compile(r"([0-9a-f]{8})\.([0-9]{1,20})", re.ASCII)


class InvalidCursorError(ValueError):
    """A ``since`` cursor that no snapshot ever handed out (not merely an old one)."""


def encode_value(value: object) -> Any:
    """One result value as JSON can carry it (see the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (list, tuple, dict)):
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=True, sort_keys=False)
        except (ValueError, TypeError, RecursionError):
            text = "(a value too deeply nested to show)"
        return {"json": text}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"json": json.dumps(repr(value))}


def encode_record(record: Record) -> dict[str, Any]:
    """One record as the page reads it."""
    modified = None if record.modified is None else round(record.modified.timestamp(), 3)
    return {
        "key": record.key,
        "results": {name: encode_value(value) for name, value in record.results.items()},
        "modified": modified,
    }


def _in_prefix(key: str, prefix: str) -> bool:
    return not prefix or key == prefix or key.startswith(prefix + "/")


@dataclass(frozen=True)
class CorruptEntry:
    """A key left out because its document could not be read, and why."""

    key: str
    reason: str


def _reason(error: BaseException) -> str:
    if isinstance(error, CorruptResultError):
        return error.reason  # without the location: paths and URLs stay on the server
    if isinstance(error, InvalidKeyError):
        return f"the key cannot be read by name ({error})"
    return f"cannot be decoded ({type(error).__name__}: {str(error)[:200]})"


def read_records(
    tracker: ResultTracker, prefix: str | None = None
) -> tuple[list[Record], list[CorruptEntry]]:
    """Every readable record under ``prefix`` and every key that is not, sorted by key.

    One scan normally. If the scan itself fails on a document (an error other
    than the library's own, such as a decoder's ``RecursionError``), the keys
    are read one at a time so that only the documents at fault are left out.
    Errors of the store itself (:class:`ResultTrackerError` other than a
    corrupt document) are raised.
    """
    corrupt: list[CorruptEntry] = []

    def collect(error: CorruptResultError) -> None:
        corrupt.append(CorruptEntry(error.key, _reason(error)))

    try:
        return list(tracker.scan(prefix, on_corrupt=collect)), corrupt
    except ResultTrackerError:
        raise
    except Exception:  # the decoder's own failures, e.g. RecursionError
        pass
    records: list[Record] = []
    corrupt = []
    for key in tracker.keys(prefix):
        try:
            results = tracker.get(key)
        except (CorruptResultError, InvalidKeyError) as error:
            corrupt.append(CorruptEntry(key, _reason(error)))
            continue
        except ResultTrackerError:
            raise
        except Exception as error:  # as above, for this key alone
            corrupt.append(CorruptEntry(key, _reason(error)))
            continue
        if results:  # (an empty document is no record, as in a scan)
            records.append(Record(key, results, _modified(tracker, key)))
    return records, corrupt


def _ignore(error: CorruptResultError) -> None:
    pass


def _modified(tracker: ResultTracker, key: str) -> datetime | None:
    """The modified time of ``key``, from a scan of it alone; ``None`` if that fails."""
    try:
        for record in tracker.scan(key, on_corrupt=_ignore):
            # Sorted: the key itself comes first; stop before any key below it.
            return record.modified if record.key == key else None
    except Exception:  # a key below it that cannot be read: no time, but the record
        return None
    return None


def matches(where: Where, results: Mapping[str, Any]) -> bool:
    """Whether ``results`` satisfy ``where``; a value that cannot be compared
    (such as ``null`` against a number) does not match."""
    try:
        return where.matches(results)
    except (TypeError, ValueError):
        return False


@dataclass
class _Entry:
    record: Record
    generation: int


@dataclass(frozen=True)
class Snapshot:
    """What one poll answers: the records that changed and the keys that left."""

    cursor: str
    records: list[Record]
    removed: list[str]
    count: int
    full: bool
    corrupt: list[CorruptEntry]


class ChangeLog:
    """The store's records, each tagged with the generation in which it last changed.

    Parameters
    ----------
    tracker : ResultTracker
        The store, only ever read.
    min_interval : float
        Seconds during which a scan's result is reused rather than rescanning
        (pages polling together cost one scan).
    """

    def __init__(self, tracker: ResultTracker, *, min_interval: float = 1.0) -> None:
        self.tracker = tracker
        self.min_interval = min_interval
        self.epoch = secrets.token_hex(4)
        self._generation = 0
        self._entries: dict[str, _Entry] = {}
        self._tombstones: dict[str, int] = {}
        self._corrupt: list[CorruptEntry] = []
        self._scanned_at = -math.inf
        self._lock = threading.Lock()
        # A tracker of the backend contract is followed through its change feed:
        # an idle refresh lists the keys and reads no document.
        self._feed: Feed | None = None
        self._corrupt_by_key: dict[str, CorruptEntry] = {}
        self._newly_corrupt: list[CorruptResultError] = []

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the store unless the last scan is younger than ``min_interval``."""
        with self._lock:
            if not force and time.monotonic() - self._scanned_at < self.min_interval:
                return
            if isinstance(self.tracker, StoreTracker):
                generation = self._generation + 1
                if self._follow_feed(self.tracker, generation):
                    self._generation = generation
                self._scanned_at = time.monotonic()
                return
            records, corrupt = read_records(self.tracker)
            fresh = {record.key: record for record in records}
            generation = self._generation + 1
            changed = False
            for key, record in fresh.items():
                entry = self._entries.get(key)
                if entry is None or not _same(entry.record, record):
                    self._entries[key] = _Entry(record, generation)
                    self._tombstones.pop(key, None)
                    changed = True
            for key in [key for key in self._entries if key not in fresh]:
                del self._entries[key]
                self._tombstones[key] = generation
                changed = True
            if changed:
                self._generation = generation
            self._corrupt = corrupt
            self._scanned_at = time.monotonic()

    def _follow_feed(self, tracker: StoreTracker, generation: int) -> bool:
        """Apply the store's change feed (:meth:`~resulttracker.api.StoreTracker.watch`);
        return whether anything changed."""
        if self._feed is None:
            self._feed = tracker.watch(on_corrupt=self._newly_corrupt.append)
        self._newly_corrupt.clear()
        changed = False
        for change in self._feed.poll():
            self._corrupt_by_key.pop(change.key, None)
            entry = self._entries.get(change.key)
            if change.record is not None:
                if entry is None or not _same(entry.record, change.record):
                    self._entries[change.key] = _Entry(change.record, generation)
                    self._tombstones.pop(change.key, None)
                    changed = True
            elif entry is not None:
                del self._entries[change.key]
                self._tombstones[change.key] = generation
                changed = True
        # A key whose document turned corrupt leaves the table, as a scan skips it.
        for error in self._newly_corrupt:
            self._corrupt_by_key[error.key] = CorruptEntry(error.key, _reason(error))
            if self._entries.pop(error.key, None) is not None:
                self._tombstones[error.key] = generation
                changed = True
        self._corrupt = [self._corrupt_by_key[key] for key in sorted(self._corrupt_by_key)]
        return changed

    def snapshot(self, since: str | None, prefix: str | None, where: Where) -> Snapshot:
        """The records under ``prefix`` matching ``where`` that changed after ``since``.

        ``since`` is a cursor from an earlier snapshot, or ``None`` for all
        records. A record that changed and no longer matches, or was deleted,
        is listed in ``removed``; ``count`` is the number of matching records,
        so the page can check that it holds exactly them.

        Raises
        ------
        InvalidCursorError
            ``since`` is not of the form of a cursor. A well-formed cursor this
            log did not hand out (from before a restart, another server or
            the future) is answered with every record (``full``).
        """
        chosen_prefix = normalize_prefix(prefix)
        cursor = _parse_cursor(since)
        self.refresh()
        with self._lock:
            after = self._generation_after(cursor)
            full = after is None
            start = 0 if after is None else after
            records: list[Record] = []
            removed: list[str] = []
            count = 0
            for key in sorted(self._entries):
                entry = self._entries[key]
                selected = _in_prefix(key, chosen_prefix) and matches(where, entry.record.results)
                count += selected
                if entry.generation > start:
                    if selected:
                        records.append(entry.record)
                    elif not full:
                        removed.append(key)
            if not full:
                removed.extend(
                    key
                    for key, generation in sorted(self._tombstones.items())
                    if generation > start and _in_prefix(key, chosen_prefix)
                )
            return Snapshot(
                cursor=f"{self.epoch}.{self._generation}",
                records=records,
                removed=removed,
                count=count,
                full=full,
                corrupt=[entry for entry in self._corrupt if _in_prefix(entry.key, chosen_prefix)],
            )

    def _generation_after(self, cursor: tuple[str, int] | None) -> int | None:
        if cursor is None:
            return None
        epoch, number = cursor
        if epoch != self.epoch or number > self._generation:
            return None
        return number


def _parse_cursor(since: str | None) -> tuple[str, int] | None:
    if not since:
        return None
    found = _CURSOR.fullmatch(since)
    if found is None:
        raise InvalidCursorError(
            f"malformed since cursor {since[:40]!r}: use the cursor of an earlier answer, "
            "or no since to load every record"
        )
    return found.group(1), int(found.group(2))


def _same(old: Record, new: Record) -> bool:
    return old.modified == new.modified and _same_results(old.results, new.results)


def _same_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    # NaN != NaN, so compare encoded values rather than the floats themselves.
    return old.keys() == new.keys() and all(
        encode_value(old[name]) == encode_value(new[name]) and type(old[name]) is type(new[name])
        for name in old
    )


def records_payload(records: Iterable[Record]) -> list[dict[str, Any]]:
    """The JSON list of ``records``."""
    return [encode_record(record) for record in records]


def snapshot_payload(snapshot: Snapshot) -> Mapping[str, Any]:
    """A snapshot as the ``/api/records`` JSON body."""
    return {
        "cursor": snapshot.cursor,
        "full": snapshot.full,
        "count": snapshot.count,
        "records": records_payload(snapshot.records),
        "removed": snapshot.removed,
        **corrupt_payload(snapshot.corrupt),
    }


def corrupt_payload(corrupt: list[CorruptEntry]) -> dict[str, Any]:
    """``corrupt`` (how many keys were left out) and ``corrupt_keys`` (the first
    :data:`MAX_CORRUPT_LISTED` of them, each ``{"key", "reason"}``)."""
    return {
        "corrupt": len(corrupt),
        "corrupt_keys": [
            {"key": entry.key, "reason": entry.reason} for entry in corrupt[:MAX_CORRUPT_LISTED]
        ],
    }
