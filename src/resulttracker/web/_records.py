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

The generation is bumped by anything an answer shows (the corrupt keys too),
so that it can key a cache of finished answers: a state is never described
by a generation that another state had. Each record is
encoded to its JSON once, when it changes (:attr:`Snapshot.encoded`), so a
full answer costs a join of bytes rather than an encoding of every record;
and the keys that changed are indexed by generation, so a poll looks only at
them.
"""

from __future__ import annotations

import bisect
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
    "json_bytes",
    "read_records",
    "snapshot_body",
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


def json_bytes(value: Any) -> bytes:
    """``value`` as the dashboard sends JSON: compact, UTF-8, no NaN."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # A lone surrogate (from a file name that is not UTF-8, say) can only sit inside
    # a JSON string, where backslashreplace writes it as the JSON escape \\udXXX.
    return text.encode("utf-8", "backslashreplace")


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
    #: The record's JSON as the page reads it (:func:`encode_record`), made once per change.
    encoded: bytes


#: Past this many keys changed in one refresh, the sorted view is built again
#: rather than edited key by key (an insertion or a deletion moves the lists' tails).
_RESORT_AFTER = 1024


@dataclass
class _SortedView:
    """Every entry's key, record and JSON, in three lists sorted by key: a full
    answer copies (or filters) them in order, touching no other object."""

    keys: list[str]
    records: list[Record]
    encoded: list[bytes]


@dataclass(frozen=True)
class Snapshot:
    """What one poll answers: the records that changed and the keys that left.

    ``encoded`` holds the JSON of each of ``records`` (:func:`encode_record`),
    in the same order; ``generation`` is the state it describes and ``after``
    the generation it counts changes from (``None`` for a full answer).
    """

    cursor: str
    records: list[Record]
    removed: list[str]
    count: int
    full: bool
    corrupt: list[CorruptEntry]
    generation: int = 0
    after: int | None = None
    encoded: list[bytes] | None = None


@dataclass
class _Gathered:
    """What one look at the store found, before it is applied."""

    puts: list[Record]
    removals: list[str]
    newly_corrupt: list[CorruptResultError]
    #: Every corrupt key (a full scan), or None: from the feed (newly_corrupt).
    corrupt: list[CorruptEntry] | None
    #: The JSON of each record that differs from its entry.
    encoded: dict[str, bytes]


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
        # The entries sorted by key (None: to be built again when next needed).
        self._view: _SortedView | None = _SortedView([], [], [])
        # generation -> the keys (of _entries or _tombstones) whose last change it
        # was; in increasing order of generation, and as large as those two together.
        self._changed: dict[int, set[str]] = {}
        # Keys put or removed in the refresh under way (to keep _view up to date).
        self._touched: set[str] = set()
        self._scanned_at = -math.inf
        self._checked_from: float | None = None
        self._failure: BaseException | None = None
        # _lock guards the state answers read; _check_lock lets one look at a time
        # run (it is held for the whole listing, _lock only to apply its outcome).
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        # A tracker of the backend contract is followed through its change feed:
        # an idle refresh lists the keys and reads no document.
        self._feed: Feed | None = None
        self._corrupt_by_key: dict[str, CorruptEntry] = {}
        self._newly_corrupt: list[CorruptResultError] = []

    @property
    def generation(self) -> int:
        """The number of the current state; it changes whenever an answer would."""
        return self._generation

    @property
    def checked_at(self) -> float | None:
        """When (``time.monotonic()``) the last successful look at the store
        began; ``None`` before the first."""
        return self._checked_from

    @property
    def failure(self) -> BaseException | None:
        """The error of the last look at the store if it failed (cleared by the
        next look that succeeds)."""
        return self._failure

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the store unless the last scan is younger than ``min_interval``.

        One look at a time (a second caller waits for the first, then usually
        finds it young enough). The listing and the reading of documents are
        done without the lock that answers take; only their outcome is applied
        under it, so answers from the previous state are never held up by a
        look at the store.

        Raises
        ------
        ResultTrackerError
            The store failed; kept as :attr:`failure` until a look succeeds.
        """
        with self._check_lock:
            if not force and time.monotonic() - self._scanned_at < self.min_interval:
                return
            started = time.monotonic()
            try:
                gathered = self._gather()
            except BaseException as error:
                self._failure = error
                raise
            with self._lock:
                self._apply(gathered)
                self._failure = None
                self._checked_from = started
                self._scanned_at = time.monotonic()

    def _gather(self) -> _Gathered:
        """Look at the store (list, read) without the answers' lock: only looks
        change the entries and they run one at a time, so reading the entries
        here is safe. Each changed record is encoded here too."""
        newly_corrupt: list[CorruptResultError] = []
        corrupt: list[CorruptEntry] | None = None
        if isinstance(self.tracker, StoreTracker):
            if self._feed is None:
                self._feed = self.tracker.watch(on_corrupt=self._newly_corrupt.append)
            self._newly_corrupt.clear()
            changes = self._feed.poll()
            puts = [change.record for change in changes if change.record is not None]
            removals = [change.key for change in changes if change.record is None]
            newly_corrupt = list(self._newly_corrupt)
        else:
            puts, corrupt = read_records(self.tracker)
            fresh = {record.key for record in puts}
            removals = [key for key in self._entries if key not in fresh]
        encoded: dict[str, bytes] = {}
        for record in puts:
            entry = self._entries.get(record.key)
            if entry is None or not _same(entry.record, record):
                encoded[record.key] = json_bytes(encode_record(record))
        return _Gathered(puts, removals, newly_corrupt, corrupt, encoded)

    def _apply(self, gathered: _Gathered) -> None:
        """Apply a look's outcome (under the lock): a new generation if anything
        an answer shows changed."""
        generation = self._generation + 1
        corrupt_before = self._corrupt
        self._touched.clear()
        changed = False
        try:
            for record in gathered.puts:
                self._corrupt_by_key.pop(record.key, None)
                encoded = gathered.encoded.get(record.key)
                changed = self._put(record, generation, encoded) or changed
            for key in gathered.removals:
                self._corrupt_by_key.pop(key, None)
                changed = self._remove(key, generation) or changed
            if gathered.corrupt is not None:  # a full scan lists every corrupt key
                self._corrupt = gathered.corrupt
            else:
                # A key whose document turned corrupt leaves the table, as a scan skips it.
                for error in gathered.newly_corrupt:
                    self._corrupt_by_key[error.key] = CorruptEntry(error.key, _reason(error))
                    changed = self._remove(error.key, generation) or changed
                self._corrupt = [self._corrupt_by_key[key] for key in sorted(self._corrupt_by_key)]
        except BaseException:
            if generation in self._changed:  # applied in part: a new state all the same
                self._generation = generation
            raise
        finally:
            self._update_view()
        if changed or self._corrupt != corrupt_before:
            self._generation = generation

    def _put(self, record: Record, generation: int, encoded: bytes | None = None) -> bool:
        """Keep ``record`` as changed in ``generation``, unless it is the same as
        before (``encoded``: its JSON, if already made)."""
        key = record.key
        entry = self._entries.get(key)
        if entry is not None and _same(entry.record, record):
            return False
        if entry is None:
            self._forget_change(key, self._tombstones.pop(key, None))
        else:
            self._forget_change(key, entry.generation)
        self._touched.add(key)
        if encoded is None:
            encoded = json_bytes(encode_record(record))
        self._entries[key] = _Entry(record, generation, encoded)
        self._changed.setdefault(generation, set()).add(key)
        return True

    def _remove(self, key: str, generation: int) -> bool:
        """Leave a tombstone for ``key`` in ``generation``, if it was there."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._forget_change(key, entry.generation)
        self._touched.add(key)
        self._tombstones[key] = generation
        self._changed.setdefault(generation, set()).add(key)
        return True

    def _forget_change(self, key: str, generation: int | None) -> None:
        """Take ``key`` out of the index of the generation it last changed in."""
        if generation is None:
            return
        keys = self._changed.get(generation)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._changed[generation]

    def _update_view(self) -> None:
        """Bring the sorted view in line with the entries after a refresh."""
        view = self._view
        if view is None or not self._touched:
            return
        if len(self._touched) > _RESORT_AFTER:
            self._view = None
            return
        keys, records, encoded = view.keys, view.records, view.encoded
        for key in sorted(self._touched):
            index = bisect.bisect_left(keys, key)
            present = index < len(keys) and keys[index] == key
            entry = self._entries.get(key)
            if entry is None:
                if present:
                    del keys[index], records[index], encoded[index]
            elif present:
                records[index], encoded[index] = entry.record, entry.encoded
            else:
                keys.insert(index, key)
                records.insert(index, entry.record)
                encoded.insert(index, entry.encoded)

    def _sorted_view(self) -> _SortedView:
        if self._view is None:
            keys = sorted(self._entries)
            entries = [self._entries[key] for key in keys]
            self._view = _SortedView(
                keys, [entry.record for entry in entries], [entry.encoded for entry in entries]
            )
        return self._view

    def position(self, since: str | None, *, refresh: bool = True) -> tuple[int, int | None]:
        """The current generation and the one ``since`` counts changes from
        (``None``: a full answer), after a :meth:`refresh` (unless ``refresh``
        is false: then from the state as it is).

        Raises
        ------
        InvalidCursorError
            As :meth:`snapshot`.
        """
        cursor = _parse_cursor(since)
        if refresh:
            self.refresh()
        with self._lock:
            return self._generation, self._generation_after(cursor)

    def snapshot(
        self, since: str | None, prefix: str | None, where: Where, *, refresh: bool = True
    ) -> Snapshot:
        """The records under ``prefix`` matching ``where`` that changed after ``since``.

        ``since`` is a cursor from an earlier snapshot, or ``None`` for all
        records. A record under ``prefix`` that changed and no longer matches,
        or was deleted, is listed in ``removed``; ``count`` is the number of
        matching records, so the page can check that it holds exactly them.
        With ``refresh`` false the store is not looked at (a :meth:`position`
        just did).

        Raises
        ------
        InvalidCursorError
            ``since`` is not of the form of a cursor. A well-formed cursor this
            log did not hand out (from before a restart, another server or
            the future) is answered with every record (``full``).
        """
        chosen_prefix = normalize_prefix(prefix)
        cursor = _parse_cursor(since)
        if refresh:
            self.refresh()
        with self._lock:
            after = self._generation_after(cursor)
            selected = self._selected(chosen_prefix, where)
            removed: list[str] = []
            if after is None:
                records, encoded = self._full(selected)
                count = len(records)
            else:
                count = len(selected)
                changed, removed = self._changes_after(after, chosen_prefix, where)
                records = [entry.record for entry in changed]
                encoded = [entry.encoded for entry in changed]
            return Snapshot(
                cursor=f"{self.epoch}.{self._generation}",
                records=records,
                removed=removed,
                count=count,
                full=after is None,
                corrupt=[entry for entry in self._corrupt if _in_prefix(entry.key, chosen_prefix)],
                generation=self._generation,
                after=after,
                encoded=encoded,
            )

    def _selected(self, prefix: str, where: Where) -> list[int] | range:
        """The positions in the sorted view of the entries under ``prefix`` that
        match ``where``: a range when that is all of them (no filter)."""
        view = self._sorted_view()
        if not prefix and not where.conditions:
            return range(len(view.keys))
        keys, records = view.keys, view.records
        lower, upper = _prefix_range(keys, prefix)
        # Keys between 'p' and 'p/' (such as 'p.x') are in the range but not under 'p'.
        return [
            index
            for index in range(lower, upper)
            if _in_prefix(keys[index], prefix) and matches(where, records[index].results)
        ]

    def _full(self, selected: list[int] | range) -> tuple[list[Record], list[bytes]]:
        """The records and their JSON at the positions ``selected``, in order."""
        view = self._sorted_view()
        if isinstance(selected, range):  # all of them: copies of the lists, no lookups
            return view.records[:], view.encoded[:]
        return [view.records[index] for index in selected], [
            view.encoded[index] for index in selected
        ]

    def _changes_after(
        self, after: int, prefix: str, where: Where
    ) -> tuple[list[_Entry], list[str]]:
        """The entries under ``prefix`` that changed after generation ``after`` and
        match ``where``, and the keys that changed and do not (or left), sorted."""
        changed: set[str] = set()
        for generation in reversed(self._changed):  # newest first; only those after
            if generation <= after:
                break
            changed |= self._changed[generation]
        chosen: list[_Entry] = []
        removed: list[str] = []
        for key in sorted(changed):
            if not _in_prefix(key, prefix):
                continue
            entry = self._entries.get(key)
            if entry is not None and matches(where, entry.record.results):
                chosen.append(entry)
            else:
                removed.append(key)
        return chosen, removed

    def _generation_after(self, cursor: tuple[str, int] | None) -> int | None:
        if cursor is None:
            return None
        epoch, number = cursor
        if epoch != self.epoch or number > self._generation:
            return None
        return number


def _prefix_range(keys: list[str], prefix: str) -> tuple[int, int]:
    """The slice of the sorted ``keys`` that holds every key under ``prefix``
    (and perhaps a few others, such as ``prefix.x``)."""
    if not prefix:
        return 0, len(keys)
    # Under 'p': 'p' itself and 'p/...'; '0' is the character after '/'.
    return bisect.bisect_left(keys, prefix), bisect.bisect_left(keys, prefix + "0")


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
    """A snapshot as the ``/api/records`` JSON object (:func:`snapshot_body`
    gives its encoded bytes)."""
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


def snapshot_body(snapshot: Snapshot) -> bytes:
    """:func:`snapshot_payload` encoded by :func:`json_bytes`, byte for byte, from the
    records' JSON made when they changed: a join of bytes, not an encoding of each."""
    encoded = snapshot.encoded
    if encoded is None:
        encoded = [json_bytes(encode_record(record)) for record in snapshot.records]
    return b"".join(
        (
            b'{"cursor":',
            json_bytes(snapshot.cursor),
            b',"full":',
            json_bytes(snapshot.full),
            b',"count":',
            json_bytes(snapshot.count),
            b',"records":[',
            b",".join(encoded),
            b'],"removed":',
            json_bytes(snapshot.removed),
            b",",
            json_bytes(corrupt_payload(snapshot.corrupt))[1:],
        )
    )
