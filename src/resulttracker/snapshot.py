"""Snapshots of a store, kept in the store itself, so that bulk reads read only
what changed.

A snapshot holds every document of a prefix with the version it was read at
(see :meth:`~resulttracker.store.Store.list_versions`). A scan then lists the
keys with their versions (one LIST request per 1,000 keys on S3, a ``stat`` per
file in a folder), takes each key whose listed version equals the snapshot's
from the snapshot, and reads only the others: keys written since, keys missing
from the snapshot (corrupt ones, or ones written too recently to be trusted),
and never the keys deleted since. The result is the plain scan's, record for
record, whoever wrote to the store meanwhile.

Layout, under the reserved folder ``.resulttracker/`` that no key can enter:

* ``.resulttracker/snapshots/<id>.json``: the manifest (format version, prefix,
  parts with their SHA-256, key counts and key ranges, its own checksum);
* ``.resulttracker/parts/<id>/<n>.jsonl.gz``: the parts, gzip-compressed JSON
  Lines ``[key, version, results]`` sorted by key, at most
  :data:`PART_RAW_BYTES` each before compression.

``<id>`` is ``<scope>-<UTC milliseconds>-<random>``, unique per compaction:
parts are written first and the manifest last, each in one atomic write, so a
reader sees a whole snapshot or none, and several compactors never collide.
Readers take the newest valid manifest of the prefix or of one above it. A
manifest or part that fails its checksum, its format version or its
consistency checks is ignored (its keys are read instead) and reported by
``check``; a compaction removes snapshots superseded for longer than
:data:`GRACE_SECONDS`, so that a reader that picked one just before has time to
finish. A removed part only means its keys are read.

The same snapshots can be kept outside the store, in a local folder of a reader
who cannot write into it (:mod:`resulttracker.snapshot_cache`): :func:`scan`
with a ``cache`` reads through the newer of the cache's and the store's, and
leaves a snapshot of what it found in the cache.
"""

from __future__ import annotations

import collections
import functools
import gzip
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import codec
from .errors import CorruptResultError, ResultTrackerError
from .model import CompactReport, Record, Results
from .store import BATCH_SIZE, Listed, Store
from .validation import RESERVED_PREFIX, key_has_prefix

__all__ = [
    "CACHE_GRACE_SECONDS",
    "FORMAT",
    "FORMAT_VERSION",
    "GRACE_SECONDS",
    "PART_RAW_BYTES",
    "Manifest",
    "SnapshotError",
    "compact",
    "find_snapshot",
    "scan",
    "snapshot_problems",
]

#: The ``format`` field of every manifest.
FORMAT = "resulttracker-snapshot"
#: The layout version this module writes and reads; other versions are ignored.
FORMAT_VERSION = 1
#: Largest part before compression (a part is read whole, in one request).
PART_RAW_BYTES = 1024 * 1024
#: Parts a scan fetches ahead of the one it works through.
_PREFETCH = 8
#: Entries longer than this are left out of snapshots (their keys are read).
_ENTRY_RAW_BYTES = 1024 * 1024
#: Scans of fewer keys read them all rather than look for a snapshot (which
#: costs a listing and a manifest read, then a whole part).
SNAPSHOT_MIN_KEYS = 32
#: Seconds a superseded snapshot is kept for readers that picked it just before.
GRACE_SECONDS = 600.0
#: The same in a local snapshot cache, which every scan with changes refreshes
#: (a reader whose part was removed meanwhile reads that part's keys instead).
CACHE_GRACE_SECONDS = 60.0

MANIFEST_FOLDER = f"{RESERVED_PREFIX}/snapshots"
PART_FOLDER = f"{RESERVED_PREFIX}/parts"

_ID = re.compile(r"(?P<scope>all|[0-9a-f]{16})-(?P<millis>[0-9]{13})-[0-9a-f]{16}")

_logger = logging.getLogger("resulttracker")

if TYPE_CHECKING:
    from concurrent.futures import Future


class SnapshotError(ResultTrackerError, ValueError):
    """A snapshot is damaged, foreign or of another format version; it is ignored."""


@dataclass(frozen=True)
class Part:
    """One part of a snapshot, as its manifest describes it."""

    name: str
    sha256: str
    size: int
    keys: int
    first: str
    last: str


@dataclass(frozen=True)
class Manifest:
    """A snapshot's manifest, checked."""

    id: str
    prefix: str
    created: datetime
    keys: int
    parts: tuple[Part, ...] = field(default=())

    @property
    def name(self) -> str:
        """Where the manifest is stored."""
        return manifest_name(self.id)

    @property
    def size(self) -> int:
        """Compressed size of the parts."""
        return sum(part.size for part in self.parts)


def _new_id(prefix: str, now: datetime) -> str:
    return f"{_scope(prefix)}-{int(now.timestamp() * 1000):013d}-{secrets.token_hex(8)}"


def manifest_name(snapshot_id: str) -> str:
    return f"{MANIFEST_FOLDER}/{snapshot_id}.json"


def _scope(prefix: str) -> str:
    if not prefix:
        return "all"
    return hashlib.blake2b(prefix.encode("utf-8"), digest_size=8).hexdigest()


def _scopes_covering(prefix: str) -> set[str]:
    """The scopes of ``prefix`` and of every prefix above it."""
    segments = prefix.split("/") if prefix else []
    return {_scope("/".join(segments[:depth])) for depth in range(len(segments) + 1)}


def _created(snapshot_id: str) -> float:
    match = _ID.fullmatch(snapshot_id)
    return int(match.group("millis")) / 1000 if match else 0.0


def _list_ids(store: Store, names: Iterable[str] | None = None) -> list[str]:
    """Snapshot ids of the manifests in the store (or among ``names``, reserved
    names a listing met), newest first; foreign names skipped."""
    ids = []
    if names is None:
        names = store.list_reserved(MANIFEST_FOLDER)
    for name in names:
        if not name.startswith(MANIFEST_FOLDER + "/"):
            continue
        stem = name.rpartition("/")[2]
        if stem.endswith(".json") and _ID.fullmatch(stem[:-5]):
            ids.append(stem[:-5])
    return sorted(ids, key=lambda snapshot_id: (_created(snapshot_id), snapshot_id), reverse=True)


# -- manifests ------------------------------------------------------------------------


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _encode_manifest(manifest: Manifest) -> bytes:
    body: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "id": manifest.id,
        "prefix": manifest.prefix,
        "created": manifest.created.isoformat(),
        "keys": manifest.keys,
        "parts": [
            {
                "name": part.name,
                "sha256": part.sha256,
                "bytes": part.size,
                "keys": part.keys,
                "first": part.first,
                "last": part.last,
            }
            for part in manifest.parts
        ],
    }
    body["checksum"] = _checksum(body)
    return json.dumps(body, indent=1, ensure_ascii=False).encode("utf-8")


def _fetch(store: Store, name: str) -> bytes | SnapshotError | None:
    """The snapshot file ``name``, ``None`` if it is gone, or the
    :class:`SnapshotError` of an entry the store refuses to read (a symbolic link
    or a special file in a folder: never followed, so never trusted)."""
    try:
        return store.read(name)
    except CorruptResultError as error:
        return SnapshotError(f"snapshot file {name} cannot be read: {error.reason}")


def load_manifest(store: Store, snapshot_id: str) -> Manifest:
    """Read and check the manifest of ``snapshot_id``.

    Raises
    ------
    SnapshotError
        It is missing, damaged, foreign or of another format version.
    """
    name = manifest_name(snapshot_id)
    data = _fetch(store, name)
    if isinstance(data, SnapshotError):
        raise data
    if data is None:
        raise SnapshotError(f"snapshot {name} is gone")
    try:
        body = json.loads(data.decode("utf-8"))
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise SnapshotError(f"{name} is not a resulttracker snapshot")
        if body.get("version") != FORMAT_VERSION:
            raise SnapshotError(
                f"snapshot {name} has format version {body.get('version')!r}; "
                f"this resulttracker reads version {FORMAT_VERSION}"
            )
        claimed = body.pop("checksum", None)
        if claimed != _checksum(body):
            raise SnapshotError(f"snapshot {name} is damaged (its checksum does not match)")
        prefix = body["prefix"]
        if body["id"] != snapshot_id or _ID.fullmatch(snapshot_id) is None:
            raise SnapshotError(f"snapshot {name} names another snapshot ({body['id']!r})")
        if not isinstance(prefix, str) or _scope(prefix) != snapshot_id.partition("-")[0]:
            raise SnapshotError(f"snapshot {name} covers a prefix its name does not")
        parts = tuple(
            Part(
                str(item["name"]),
                str(item["sha256"]),
                int(item["bytes"]),
                int(item["keys"]),
                str(item["first"]),
                str(item["last"]),
            )
            for item in body["parts"]
        )
        created = datetime.fromisoformat(body["created"])
        keys = int(body["keys"])
    except SnapshotError:
        raise
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise SnapshotError(
            f"snapshot {name} is damaged ({type(error).__name__}: {error})"
        ) from None
    previous = None
    for part in parts:
        if not part.name.startswith(f"{PART_FOLDER}/{snapshot_id}/") or part.keys < 1:
            raise SnapshotError(f"snapshot {name} lists a foreign part {part.name!r}")
        if part.first > part.last or (previous is not None and part.first <= previous):
            raise SnapshotError(f"snapshot {name} lists parts out of order")
        previous = part.last
    if sum(part.keys for part in parts) != keys:
        raise SnapshotError(f"snapshot {name} counts {keys} keys but its parts hold others")
    return Manifest(snapshot_id, prefix, created, keys, parts)


def find_snapshot(
    store: Store,
    prefix: str,
    reserved: Iterable[str] | None = None,
    *,
    newer_than: float = 0.0,
) -> Manifest | None:
    """The newest valid snapshot covering ``prefix`` (taken of it or of a prefix
    above it), or ``None``; damaged ones are skipped with a warning.

    ``reserved``: the reserved names a listing of every key met, if it could
    tell (saves listing them again). ``newer_than``: only a snapshot taken after
    this time (seconds since the epoch, as its name says: older manifests are
    not read).
    """
    if not (store.versions and store.snapshots):
        return None
    scopes = _scopes_covering(prefix)
    for snapshot_id in _list_ids(store, reserved):
        if snapshot_id.partition("-")[0] not in scopes:
            continue
        if _created(snapshot_id) <= newer_than:
            return None  # newest first: every other one is older still
        try:
            manifest = load_manifest(store, snapshot_id)
        except SnapshotError as error:
            _logger.warning("ignoring snapshot: %s", error)
            continue
        if key_has_prefix(prefix, manifest.prefix):
            return manifest
    return None


# -- parts ----------------------------------------------------------------------------

Entry = tuple[str, str, Results]

_VALUE_TYPES = frozenset((int, float, str, bool))


def _load_part(store: Store, manifest: Manifest, part: Part) -> list[Entry]:
    return _parse_part(manifest, part, _fetch(store, part.name))


def _parse_part(manifest: Manifest, part: Part, data: bytes | SnapshotError | None) -> list[Entry]:
    if isinstance(data, SnapshotError):
        raise data
    if data is None:
        raise SnapshotError(f"snapshot part {part.name} is gone")
    if len(data) != part.size or hashlib.sha256(data).hexdigest() != part.sha256:
        raise SnapshotError(f"snapshot part {part.name} is damaged (size or checksum differ)")
    prefix = manifest.prefix
    under = prefix + "/"
    try:
        # One JSON document for the whole part: much faster than one per line.
        # (A newline never occurs inside a JSON string: it is written as \n.)
        text = gzip.decompress(data).decode("utf-8").rstrip("\n")
        entries: list[Entry] = json.loads("[" + text.replace("\n", ",") + "]")
        previous = ""
        for entry in entries:
            key, version, results = entry
            if (
                type(key) is not str
                or type(version) is not str
                or type(results) is not dict
                or key <= previous
                or (prefix and key != prefix and not key.startswith(under))
            ):
                raise ValueError(f"bad entry for {key!r}")
            for value in results.values():
                if type(value) not in _VALUE_TYPES:
                    raise ValueError(f"bad value for {key!r}")
            previous = key
    except (OSError, EOFError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise SnapshotError(f"snapshot part {part.name} is damaged ({error})") from None
    if len(entries) != part.keys or entries[0][0] != part.first or entries[-1][0] != part.last:
        raise SnapshotError(f"snapshot part {part.name} does not hold what its manifest says")
    return entries


def entries(
    store: Store, manifest: Manifest | None, low: str = "", high: str | None = None
) -> Iterator[Entry]:
    """The snapshot's ``(key, version, results)`` with keys from ``low`` to ``high``,
    sorted; a damaged or missing part is skipped with a warning (its keys are read)."""
    if manifest is None:
        return
    wanted = [
        part
        for part in manifest.parts
        if not (part.last < low or (high is not None and part.first > high))
    ]
    if len(wanted) == 1:
        fetched: Iterator[tuple[Part, bytes | SnapshotError | None]] = iter(
            [(wanted[0], _fetch(store, wanted[0].name))]
        )
        yield from _checked(manifest, fetched)
        return
    # Fetch a few parts ahead (each is one request on an object store) while the
    # caller works through the current one.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(_PREFETCH, thread_name_prefix="resulttracker-snapshot") as pool:
        pending: collections.deque[tuple[Part, Future[bytes | SnapshotError | None]]] = (
            collections.deque()
        )
        remaining = iter(wanted)

        def fetch_more() -> None:
            while len(pending) < _PREFETCH:
                part = next(remaining, None)
                if part is None:
                    return
                pending.append((part, pool.submit(_fetch, store, part.name)))

        def fetched_in_order() -> Iterator[tuple[Part, bytes | SnapshotError | None]]:
            fetch_more()
            while pending:
                part, future = pending.popleft()
                data = future.result()
                fetch_more()
                yield part, data

        yield from _checked(manifest, fetched_in_order())


def _checked(
    manifest: Manifest, parts: Iterator[tuple[Part, bytes | SnapshotError | None]]
) -> Iterator[Entry]:
    for part, data in parts:
        try:
            loaded = _parse_part(manifest, part, data)
        except SnapshotError as error:
            _logger.warning("ignoring part of snapshot: %s", error)
            continue
        yield from loaded


# -- the read-through merge ---------------------------------------------------------------

Outcome = Record | CorruptResultError | None


@dataclass
class MergeCounts:
    """What a merge took from the snapshot and what it read."""

    from_snapshot: int = 0
    read: int = 0


def resolve(
    store: Store,
    listing: Iterable[Listed],
    known: Iterable[Entry],
    counts: MergeCounts | None = None,
) -> Iterator[tuple[str, Outcome, str | None]]:
    """``(key, outcome, version)`` for each of ``listing`` (sorted by key), in order.

    A key whose listed version equals its version in ``known`` (sorted by key)
    comes from there; the others are read in batches of :data:`BATCH_SIZE`.
    The outcome is the key's :class:`Record`, its :class:`CorruptResultError`,
    or ``None`` if it was deleted since it was listed. The version is the one
    the outcome has (``None``: not to be trusted later).
    """
    counts = counts if counts is not None else MergeCounts()
    location = store.location
    snapshot = iter(known)
    current = next(snapshot, None)
    pending = iter(listing)
    while window := list(itertools.islice(pending, BATCH_SIZE)):
        fresh: dict[str, Results] = {}
        stale: list[str] = []
        for listed in window:
            while current is not None and current[0] < listed.key:
                current = next(snapshot, None)
            if (
                current is not None
                and current[0] == listed.key
                and listed.version is not None
                and current[1] == listed.version
            ):
                fresh[listed.key] = current[2]
            else:
                stale.append(listed.key)
        counts.from_snapshot += len(fresh)
        counts.read += len(stale)
        read = dict(store.read_many_versioned(stale)) if stale else {}
        for listed in window:
            key = listed.key
            results = fresh.get(key)
            if results is not None:
                yield key, Record(key, results, listed.modified), listed.version
                continue
            found = read[key]
            if found.document is None:
                yield key, None, None
                continue
            if isinstance(found.document, CorruptResultError):
                yield key, found.document, None
                continue
            try:
                decoded = codec.decode(
                    found.document, key=key, location=functools.partial(location, key)
                )
            except CorruptResultError as error:
                yield key, error, found.version
            else:
                modified = found.modified if found.modified is not None else listed.modified
                yield key, Record(key, decoded, modified), found.version


def _sorted_listing(store: Store, prefix: str) -> tuple[Iterator[Listed], int, list[str] | None]:
    """The listing sorted by key (streamed where the store lists in order), a
    lower bound of its size (exact unless streamed) and the reserved names the
    listing met, if it could tell."""
    listing, reserved = store.list_versions_and_reserved(prefix)
    return (*_in_order(store, listing), reserved)


def _in_order(store: Store, listing: Iterable[Listed]) -> tuple[Iterator[Listed], int]:
    """``listing`` sorted by key (streamed where the store lists in order) and a
    lower bound of its size (exact unless streamed)."""
    if store.sorted_versions:
        return iter(listing), SNAPSHOT_MIN_KEYS
    ordered = sorted(listing)
    return iter(ordered), len(ordered)


def _upper_bound(prefix: str) -> str | None:
    # Every key under "p/" sorts before "p0" ('0' follows '/').
    return prefix + "0" if prefix else None


def scan(
    store: Store, prefix: str, cache: Store | None = None
) -> Iterator[Record | CorruptResultError] | None:
    """What a plain scan of ``prefix`` yields, through the newest snapshot covering
    it (for scans of ``SNAPSHOT_MIN_KEYS`` keys or more); ``None`` if there is
    no snapshot and the caller's plain scan costs no more (the store could tell
    before listing its keys: nothing has been read).

    With a ``cache`` (a store keeping snapshots of ``store``, see
    :mod:`resulttracker.snapshot_cache`), the scan goes through the newest
    snapshot in the cache, or through the store's own if that one is newer, and
    once it has run to its end leaves a snapshot of what it found in the cache
    (unless the cache's already says exactly that).
    """
    started = datetime.now(timezone.utc)
    listing, reserved = store.list_versions_and_reserved(prefix)
    if cache is not None:
        return _scan_refreshing(store, prefix, listing, reserved, cache, started)
    if reserved is None:
        # The listing is lazy or has not met the reserved folder: look first.
        manifest = find_snapshot(store, prefix)
        if manifest is None:
            return None
        return _scan_through(store, prefix, listing, lambda: manifest)
    # The listing of every key has shown whether there is a snapshot: use what it
    # met (no request when there is none; the reads then cost a plain scan's).
    return _scan_through(store, prefix, listing, lambda: find_snapshot(store, prefix, reserved))


def _scan_through(
    store: Store,
    prefix: str,
    found: Iterable[Listed],
    manifest_of: Callable[[], Manifest | None],
) -> Iterator[Record | CorruptResultError]:
    listing, size = _in_order(store, found)
    first = next(listing, None)
    if first is None:
        return
    known: Iterable[Entry] = ()
    if size >= SNAPSHOT_MIN_KEYS:
        known = entries(store, manifest_of(), first.key, _upper_bound(prefix))
    for _, outcome, _ in resolve(store, itertools.chain([first], listing), known):
        if outcome is not None:
            yield outcome


def _scan_refreshing(
    store: Store,
    prefix: str,
    found: Iterable[Listed],
    reserved: list[str] | None,
    cache: Store,
    started: datetime,
) -> Iterator[Record | CorruptResultError]:
    listing, size = _in_order(store, found)
    first = next(listing, None)
    low = None if first is None else first.key
    known, refresh = through_cache(store, prefix, reserved, cache, started, low, size)
    pending = itertools.chain([first], listing) if first is not None else iter(())
    counts = MergeCounts()
    for key, outcome, version in resolve(store, pending, known, counts):
        refresh.add(key, outcome, version)
        if outcome is not None:
            yield outcome
    refresh.finish(counts)


def through_cache(
    store: Store,
    prefix: str,
    reserved: list[str] | None,
    cache: Store,
    started: datetime,
    low: str | None,
    size: int,
    high: str | None = None,
) -> tuple[Iterable[Entry], CacheRefresh]:
    """The entries a pass over every key of ``prefix`` (from ``low``, ``None`` if
    there is none, to ``high``; ``size`` keys or more) takes from the newest
    snapshot in ``cache`` or, if one was taken after it, in ``store``; and the
    :class:`CacheRefresh` that leaves what the pass finds in ``cache``."""
    cached = find_snapshot(cache, prefix)
    source, manifest = cache, cached
    if low is not None and size >= SNAPSHOT_MIN_KEYS:
        # The store's own snapshot, if one was taken after the cache's (only its
        # name is read otherwise): it then holds more of the current versions.
        floor = _created(cached.id) if cached is not None else 0.0
        newer = find_snapshot(store, prefix, reserved, newer_than=floor)
        if newer is not None:
            source, manifest = store, newer
    known: Iterable[Entry] = ()
    if low is not None and manifest is not None:
        known = entries(source, manifest, low, _upper_bound(prefix) if high is None else high)
    refresh = CacheRefresh(cache, prefix, started, cached if source is cache else None)
    return known, refresh


class CacheRefresh:
    """The snapshot a pass over every key of ``prefix`` leaves in a cache.

    :meth:`add` takes each ``(key, outcome, version)`` of :func:`resolve`;
    :meth:`finish`, once the pass has run to its end, writes the snapshot.
    Parts wait in memory, compressed, until then: an abandoned pass writes
    nothing. Nothing is written either when the pass read nothing worth
    keeping through ``used`` (the cache's snapshot it went through, if it did)
    and that snapshot is of this very prefix and holds no deleted key, or of a
    prefix above it (its deleted keys go at its own next refresh); nor for a
    prefix holding fewer than :data:`SNAPSHOT_MIN_KEYS` keys, so that one-key
    reads (a dashboard's record view) do not leave a snapshot per key.
    """

    def __init__(self, cache: Store, prefix: str, started: datetime, used: Manifest | None) -> None:
        self._cache = cache
        self._prefix = prefix
        self._started = started
        self._used = used
        self._id = _new_id(prefix, started)
        self._held: list[tuple[str, bytes]] = []
        self._writer = _PartWriter(lambda name, data: self._held.append((name, data)), self._id)
        self._kept = 0

    def add(self, key: str, outcome: Outcome, version: str | None) -> None:
        if isinstance(outcome, Record) and version is not None:
            self._kept += self._writer.add(key, version, outcome.results)

    def finish(self, counts: MergeCounts) -> None:
        """Write the snapshot (``counts``: the pass's); a cache that cannot be
        written is a warning: the pass's results are all out already, and the
        next one only reads more."""
        self._writer.flush()
        used = self._used
        if (
            used is not None
            and self._kept == counts.from_snapshot
            and (used.prefix != self._prefix or counts.from_snapshot == used.keys)
        ):
            return  # the cache's snapshot already says everything this one would
        if self._prefix and counts.from_snapshot + counts.read < SNAPSHOT_MIN_KEYS:
            return
        cache = self._cache
        try:
            for name, data in self._held:
                cache.write(name, data)
            new = Manifest(
                self._id, self._prefix, self._started, self._kept, tuple(self._writer.parts)
            )
            cache.write(new.name, _encode_manifest(new))
            remove_superseded(cache, grace=CACHE_GRACE_SECONDS, keep=self._id)
            _remove_covered(cache, grace=CACHE_GRACE_SECONDS, keep=self._id)
        except (OSError, ResultTrackerError) as error:
            _logger.warning(
                "could not refresh the snapshot cache at %s: %s", cache.location(""), error
            )
        self._held.clear()


# -- writing ------------------------------------------------------------------------------


class _PartWriter:
    """Encodes entries into parts and hands each part to ``write(name, data)``."""

    def __init__(self, write: Callable[[str, bytes], None], snapshot_id: str) -> None:
        self._write = write
        self._id = snapshot_id
        self._lines: list[bytes] = []
        self._size = 0
        self._first = ""
        self._last = ""
        self.parts: list[Part] = []

    def add(self, key: str, version: str, results: Results) -> bool:
        line = json.dumps(
            [key, version, results], ensure_ascii=False, allow_nan=True, separators=(",", ":")
        ).encode("utf-8")
        if len(line) > _ENTRY_RAW_BYTES:
            return False
        if self._lines and self._size + len(line) + 1 > PART_RAW_BYTES:
            self.flush()
        if not self._lines:
            self._first = key
        self._lines.append(line)
        self._size += len(line) + 1
        self._last = key
        return True

    def flush(self) -> None:
        if not self._lines:
            return
        data = gzip.compress(b"\n".join(self._lines) + b"\n", compresslevel=5, mtime=0)
        name = f"{PART_FOLDER}/{self._id}/{len(self.parts):05d}.jsonl.gz"
        self._write(name, data)
        self.parts.append(
            Part(
                name,
                hashlib.sha256(data).hexdigest(),
                len(data),
                len(self._lines),
                self._first,
                self._last,
            )
        )
        self._lines, self._size = [], 0


def compact(store: Store, prefix: str, *, grace: float = GRACE_SECONDS) -> CompactReport:
    """Write a snapshot of ``prefix`` into ``store`` and remove superseded ones.

    Documents whose version is unchanged since the newest snapshot covering
    ``prefix`` are taken from it; the others are read. Corrupt keys, and keys
    whose version cannot be trusted (a file written in the last
    :data:`~resulttracker.backends.local_versions.RACY_SECONDS`), are left out:
    scans read them.

    Raises
    ------
    NotImplementedError
        The store has no version tags or cannot keep snapshots.
    """
    if not (store.versions and store.snapshots):
        raise NotImplementedError(
            f"{store!r} cannot keep snapshots: its listings carry no version tags"
        )
    started = time.monotonic()
    now = datetime.now(timezone.utc)
    snapshot_id = _new_id(prefix, now)
    listing, _, reserved = _sorted_listing(store, prefix)
    previous = find_snapshot(store, prefix, reserved)
    writer = _PartWriter(store.write, snapshot_id)
    counts = MergeCounts()
    keys = 0
    known = entries(store, previous, prefix, _upper_bound(prefix))
    for key, outcome, version in resolve(store, listing, known, counts):
        if isinstance(outcome, Record) and version is not None:
            keys += writer.add(key, version, outcome.results)
    writer.flush()
    manifest = Manifest(snapshot_id, prefix, now, keys, tuple(writer.parts))
    store.write(manifest.name, _encode_manifest(manifest))
    removed = remove_superseded(store, grace=grace, keep=snapshot_id)
    return CompactReport(
        name=manifest.name,
        prefix=prefix,
        keys=keys,
        read=counts.read,
        bytes=manifest.size,
        seconds=time.monotonic() - started,
        removed=removed,
    )


def remove_superseded(store: Store, *, grace: float = GRACE_SECONDS, keep: str = "") -> int:
    """Remove every snapshot superseded (by a newer one of its prefix) for longer
    than ``grace`` seconds, and parts that no manifest names and that nobody has
    written to for that long (left by a compactor that died); return how many
    snapshots were removed."""
    ids = _list_ids(store)
    now = time.time()
    # A snapshot is doomed once a newer one of its prefix has been there for
    # `grace` seconds: a reader that picked it before then has had time to finish.
    doomed = [
        snapshot_id
        for snapshot_id in ids
        if snapshot_id != keep
        and any(
            other.partition("-")[0] == snapshot_id.partition("-")[0]
            and _created(snapshot_id) < _created(other) <= now - grace
            for other in ids
        )
    ]
    for snapshot_id in doomed:
        store.delete(manifest_name(snapshot_id))
    living = set(ids) - set(doomed)
    latest_write: dict[str, float] = {}
    part_names: dict[str, list[str]] = {}
    for listed in store.list_versions(PART_FOLDER):
        snapshot_id = listed.key[len(PART_FOLDER) + 1 :].partition("/")[0]
        part_names.setdefault(snapshot_id, []).append(listed.key)
        written = listed.modified.timestamp() if listed.modified is not None else now
        latest_write[snapshot_id] = max(latest_write.get(snapshot_id, 0.0), written)
    for snapshot_id, names in part_names.items():
        if snapshot_id in living:
            continue
        if snapshot_id in doomed or latest_write[snapshot_id] <= now - grace:
            for name in names:
                store.delete(name)
    return len(doomed)


def _remove_covered(cache: Store, *, grace: float, keep: str) -> None:
    """Remove from a cache the snapshots that a newer one of their prefix or of a
    prefix above it has covered for longer than ``grace`` seconds (reading every
    manifest: the cache is a local folder), so that the scopes of prefixes
    scanned once do not stay forever."""
    now = time.time()
    found = []
    for snapshot_id in _list_ids(cache):
        try:
            found.append(load_manifest(cache, snapshot_id))
        except SnapshotError:
            continue  # superseded in its scope, removed by remove_superseded
    for manifest in found:
        if manifest.id != keep and any(
            key_has_prefix(manifest.prefix, other.prefix)
            and _created(manifest.id) < _created(other.id) <= now - grace
            for other in found
        ):
            remove_snapshot(cache, manifest.id)


# -- health ---------------------------------------------------------------------------------


def snapshot_problems(store: Store, prefix: str) -> list[tuple[str, str]]:
    """``(snapshot id, problem)`` for every damaged or unreadable snapshot covering
    ``prefix`` or below it, each part checked; empty when all are sound (or
    there are none)."""
    if not (store.versions and store.snapshots):
        return []
    problems = []
    scopes = _scopes_covering(prefix)
    for snapshot_id in _list_ids(store):
        try:
            manifest = load_manifest(store, snapshot_id)
        except SnapshotError as error:
            if snapshot_id.partition("-")[0] in scopes or prefix == "":
                problems.append((snapshot_id, str(error)))
            continue
        if not (key_has_prefix(prefix, manifest.prefix) or key_has_prefix(manifest.prefix, prefix)):
            continue
        for part in manifest.parts:
            try:
                _load_part(store, manifest, part)
            except SnapshotError as error:
                problems.append((snapshot_id, str(error)))
                break
    return problems


def remove_snapshot(store: Store, snapshot_id: str) -> bool:
    """Remove a snapshot's manifest and parts; whether its manifest was there."""
    existed = store.delete(manifest_name(snapshot_id))
    for name in store.list_reserved(f"{PART_FOLDER}/{snapshot_id}"):
        store.delete(name)
    return existed
