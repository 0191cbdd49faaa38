"""Records as the page sees them, and the change log behind live refresh.

The page receives records as JSON: ``{"key", "results", "modified"}`` with
``modified`` in seconds since the epoch (or ``null``). JSON has no NaN or
infinity, so a non-finite float is sent as ``{"float": "nan" | "inf" | "-inf"}``
and the page turns it back into a number; every other value is sent as is.

Live refresh must send only what changed, on any store, whether or not it
keeps modification times and whatever the clocks of its writers say. So the
server does not trust times for this: :class:`ChangeLog` rescans the store (at
most once per ``min_interval``, however many pages poll), compares each
record with what it saw before, and numbers the changes with a generation
counter. A page's cursor is the generation it last saw (with the log's random
``epoch``, so a cursor from before a restart forces a full load).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..api import Record, ResultTracker, StoreTracker
from ..errors import CorruptResultError
from ..feed import Feed
from ..query import Where
from ..validation import Results, ResultType, normalize_prefix

__all__ = ["ChangeLog", "Snapshot", "encode_record", "encode_value"]


def encode_value(value: ResultType) -> Any:
    """One result value as JSON can carry it (non-finite floats as objects)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    return value


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
    corrupt: int


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
        self._corrupt = 0
        self._scanned_at = -math.inf
        self._lock = threading.Lock()
        # Stores with the backend contract are followed through their change feed.
        self._feed: Feed | None = None
        self._corrupt_keys: set[str] = set()
        self._newly_corrupt: list[str] = []

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the store unless the last scan is younger than ``min_interval``."""
        with self._lock:
            if not force and time.monotonic() - self._scanned_at < self.min_interval:
                return
            generation = self._generation + 1
            if isinstance(self.tracker, StoreTracker):
                if self._follow_feed(self.tracker, generation):
                    self._generation = generation
                self._scanned_at = time.monotonic()
                return
            corrupt: list[CorruptResultError] = []
            fresh = {record.key: record for record in self.tracker.scan(on_corrupt=corrupt.append)}
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
            self._corrupt = len(corrupt)
            self._scanned_at = time.monotonic()

    def _follow_feed(self, tracker: StoreTracker, generation: int) -> bool:
        """Apply the store's change feed (see :meth:`StoreTracker.watch
        <resulttracker.api.StoreTracker.watch>`): an idle refresh lists the keys
        and reads none. Return whether anything changed."""
        if self._feed is None:
            self._feed = tracker.watch(
                on_corrupt=lambda error: self._newly_corrupt.append(error.key)
            )
        self._newly_corrupt.clear()
        changed = False
        for change in self._feed.poll():
            self._corrupt_keys.discard(change.key)
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
        for key in self._newly_corrupt:
            self._corrupt_keys.add(key)
            if self._entries.pop(key, None) is not None:
                self._tombstones[key] = generation
                changed = True
        self._corrupt = len(self._corrupt_keys)
        return changed

    def snapshot(self, since: str | None, prefix: str | None, where: Where) -> Snapshot:
        """The records under ``prefix`` matching ``where`` that changed after ``since``.

        ``since`` is a cursor from an earlier snapshot, or ``None`` for all
        records. A record that changed and no longer matches, or was deleted,
        is listed in ``removed``; ``count`` is the number of matching records,
        so the page can check that it holds exactly them.
        """
        chosen_prefix = normalize_prefix(prefix)
        self.refresh()
        with self._lock:
            after = self._generation_after(since)
            full = after is None
            start = 0 if after is None else after
            records: list[Record] = []
            removed: list[str] = []
            count = 0
            for key in sorted(self._entries):
                entry = self._entries[key]
                matches = _in_prefix(key, chosen_prefix) and where.matches(entry.record.results)
                count += matches
                if entry.generation > start:
                    if matches:
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
                corrupt=self._corrupt,
            )

    def _generation_after(self, since: str | None) -> int | None:
        if not since:
            return None
        epoch, _, number = since.partition(".")
        if epoch != self.epoch or not number.isdigit() or int(number) > self._generation:
            return None
        return int(number)


def _same(old: Record, new: Record) -> bool:
    return old.modified == new.modified and _same_results(old.results, new.results)


def _same_results(old: Results, new: Results) -> bool:
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
        "corrupt": snapshot.corrupt,
        "records": records_payload(snapshot.records),
        "removed": snapshot.removed,
    }
