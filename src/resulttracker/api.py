"""The tracker API: the torchx contract plus everything built on it.

:class:`ResultTracker` is the torchx ``ResultTracker`` (abstract ``put`` and
``get``, map syntax) with the rest of the user-facing API written once on top of
a few optional hooks. :class:`StoreTracker` is that API around a
:class:`~resulttracker.store.Store`, the backend contract: it validates and
encodes once and hands one document per key to the store's primitives (read,
write, delete, list), so a backend never validates or encodes anything itself.
"""

from __future__ import annotations

import abc
import functools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal

# query and export are imported where first used: a job that only puts and gets
# (and the command line's `get`) does not pay for them.
from . import codec
from .errors import CorruptResultError, InvalidKeyError, WaitTimeoutError
from .model import CheckReport, CompactReport, Record
from .store import BATCH_SIZE, Store
from .validation import (
    KeyType,
    Results,
    ResultType,
    check_result_names,
    normalize_key,
    normalize_keys,
    normalize_prefix,
    normalize_results,
)

if TYPE_CHECKING:
    import pandas

    from . import export, query
    from .feed import Feed
    from .snapshot_cache import SnapshotCache

__all__ = [
    "BATCH_SIZE",
    "CheckReport",
    "CorruptPolicy",
    "Record",
    "ResultTracker",
    "Store",
    "StoreTracker",
]


#: What ``scan`` does with a corrupt key: raise, skip (logging a warning), or
#: skip and hand the error to a callable.
CorruptPolicy = Literal["raise", "skip"] | Callable[[CorruptResultError], object]


class ResultTracker(abc.ABC):
    """Base result tracker: a job ``put``\\s results under a key, others ``get`` them.

    Subclasses must implement :meth:`put` and :meth:`get` (the torchx contract).
    ``tracker[key] = {...}`` calls ``put`` and ``tracker[key]`` calls ``get``.
    Listing, deletion and scanning need the optional primitives
    :meth:`_list_keys` and :meth:`_delete`; a subclass without them still gets
    ``get_many``, ``wait`` and ``wait_many``.

    Keys are ``int`` or ``str`` (``tracker[1]`` and ``tracker["1"]`` are one
    entry). ``put`` accepts result values of type ``int``, ``float``, ``bool``
    or ``str`` (:data:`~resulttracker.model.ResultType`). Reads are tolerant:
    a document written by torchx or another writer reads back as torchx reads
    it, so its values may also be ``None``, lists and dicts
    (:data:`~resulttracker.model.StoredValue`, see :mod:`resulttracker.codec`);
    statistics, queries, export, the command line and the dashboard skip or
    show such values. Names with slashes such as ``"loss/mean"`` and
    ``"loss/sem"`` are the convention for statistics and are stored untouched.
    """

    # -- the torchx contract ---------------------------------------------------------

    @abc.abstractmethod
    def put(self, key: KeyType, /, **results: ResultType) -> None:
        """Store ``results`` under ``key``, replacing what was there.

        Raises
        ------
        InvalidKeyError
            The key breaks a rule (see :mod:`resulttracker.validation`).
        InvalidResultError
            A result name or value breaks a rule. Nothing is written.
        """

    @abc.abstractmethod
    def get(self, key: KeyType) -> Results:
        """Return the results stored under ``key``, or ``{}`` if there are none.

        Never blocks and never raises for a missing key. An empty document
        also reads as ``{}`` (``key in tracker`` tells the two apart). Values
        written by others may be any :data:`~resulttracker.model.StoredValue`.

        Raises
        ------
        InvalidKeyError
            The key breaks a rule.
        CorruptResultError
            What is stored at the key cannot be decoded safely (see
            :mod:`resulttracker.codec`).
        """

    def __getitem__(self, key: KeyType) -> Results:
        return self.get(key)

    def __setitem__(self, key: KeyType, results: Mapping[str, ResultType]) -> None:
        check_result_names(results)
        self.put(key, **results)

    # -- optional primitives ---------------------------------------------------------

    def _list_keys(self, prefix: str) -> Iterable[str]:
        """Yield every stored key under ``prefix`` (``""``: all), in any order."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its keys")

    def _delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete keys")

    def _sorted_keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix``, sorted."""
        return sorted(self._list_keys(prefix))

    def _count(self, prefix: str) -> int:
        """How many keys are under ``prefix``."""
        return sum(1 for _ in self._list_keys(prefix))

    def _get_many(self, keys: Sequence[str]) -> Iterable[tuple[str, Results]]:
        """Yield ``(key, results)`` for each of ``keys`` (validated, distinct) that
        is stored, an empty document (``{}``) included; leave out the others.

        Note for implementers: this default sends one ``get`` per key, and since
        ``get`` returns ``{}`` both for a missing key and for an empty document,
        it leaves out both; override it where the store can fetch many keys at
        once or tell the two apart.
        """
        for key in keys:
            results = self.get(key)
            if results:
                yield key, results

    def _scan(self, prefix: str) -> Iterator[Record | CorruptResultError]:
        """Yield a :class:`Record` for every key under ``prefix``, sorted by key, or
        the :class:`CorruptResultError` of a key whose stored document is corrupt
        (``scan`` applies the caller's policy to it).

        Note for implementers: this default lists, then reads in batches through
        :meth:`_get_many`, and knows no modification times; override it where
        the store returns documents with their times in one pass.
        """
        keys = self._sorted_keys(prefix)
        for start in range(0, len(keys), BATCH_SIZE):
            batch = keys[start : start + BATCH_SIZE]
            try:
                found = list(self._get_many(batch))
            except CorruptResultError:
                found = []
                for key in batch:  # find which keys are corrupt, one at a time
                    try:
                        found.append((key, self.get(key)))
                    except CorruptResultError as error:
                        yield error
            for key, results in found:
                if results:
                    yield Record(key=key, results=results, modified=None)

    def _put_exactly(self, key: str, results: Mapping[str, Any]) -> None:
        """Store ``results`` exactly as another tracker's read returned them, for
        :func:`resulttracker.copy`: values ``put`` refuses but documents written
        by torchx or others may hold (``None``, lists, objects, text over the
        length limit, an empty document) are kept.

        Note for implementers: this default calls ``put``, which may refuse them.
        """
        self.put(key, **results)

    def _temporary_files(self, prefix: str) -> list[tuple[str, float]]:
        """``(location, age in seconds)`` of temporary files that interrupted
        writers left under ``prefix``; stores without temporary files have none."""
        return []

    def _remove_temporary_file(self, location: str) -> bool:
        """Remove one file listed by :meth:`_temporary_files`; whether it was there."""
        raise NotImplementedError(f"{type(self).__name__} has no temporary files")

    def _empty_folders(self, prefix: str) -> list[tuple[str, float]]:
        """``(location, age in seconds)`` of folders under ``prefix`` holding no key
        (only such folders and temporary files), deepest first; a folder's age is
        that of the youngest thing in it. Stores without folders have none."""
        return []

    def _remove_empty_folder(self, location: str) -> bool:
        """Remove one folder listed by :meth:`_empty_folders` if it is (still)
        empty; whether it was removed."""
        raise NotImplementedError(f"{type(self).__name__} has no folders")

    def exists(self) -> bool:
        """Whether the store this tracker points at exists (a missing base is not
        the same as an empty one: reading commands use this to say so).

        Note for implementers: this default says ``True``; stores whose base can be
        missing (a folder, a bucket) override it with one cheap check.
        """
        return True

    # -- the derived API -------------------------------------------------------------

    def keys(self, prefix: str | None = None) -> Iterator[str]:
        """Iterate over the stored keys, sorted, optionally only those under ``prefix``.

        A prefix selects whole path segments: ``"exp1"`` selects ``exp1`` and
        ``exp1/...`` but not ``exp10``.
        """
        return iter(self._sorted_keys(normalize_prefix(prefix)))

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __len__(self) -> int:
        return self._count("")

    def __contains__(self, key: object) -> bool:
        """Whether a document is stored at ``key``, as :meth:`keys` would list it
        (an empty document ``{}`` counts; an invalid key is never stored).

        Note for implementers: this default reads the key through
        :meth:`_get_many`, which cannot tell an empty document from a missing
        key unless overridden.
        """
        try:
            name = normalize_key(key)
        except InvalidKeyError:
            return False
        return any(True for _ in self._get_many([name]))

    def delete(self, key: KeyType) -> bool:
        """Remove ``key`` and its results; return whether it existed."""
        return self._delete(normalize_key(key))

    def __delitem__(self, key: KeyType) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def get_many(self, keys: Iterable[KeyType]) -> dict[str, Results]:
        """Return ``{key: results}`` for each of ``keys``, in the order given.

        Keys without results map to ``{}``. Every key is validated before any is
        read; stores that support it fetch many keys per round trip.
        """
        wanted = normalize_keys(keys)
        found: dict[str, Results] = {key: {} for key in wanted}
        for start in range(0, len(wanted), BATCH_SIZE):
            found.update(self._get_many(wanted[start : start + BATCH_SIZE]))
        return found

    def scan(
        self, prefix: str | None = None, *, on_corrupt: CorruptPolicy = "raise"
    ) -> Iterator[Record]:
        """Iterate over every key's :class:`Record` (key, results, modified time),
        sorted by key, optionally only under ``prefix``.

        Results are fetched in batches, so memory stays bounded however large the
        store is; keys deleted while the scan runs are left out.

        Parameters
        ----------
        prefix : str, optional
            Only keys equal to it or below it (whole path segments).
        on_corrupt : {"raise", "skip"} or callable, default "raise"
            What to do with a key whose stored document is corrupt: raise its
            :class:`CorruptResultError` (the default), skip it with a warning
            logged on the ``resulttracker`` logger, or skip it and pass the error
            to the given callable (to report it).
        """
        if not (callable(on_corrupt) or on_corrupt in ("raise", "skip")):
            raise ValueError(
                f"on_corrupt must be 'raise', 'skip' or a callable, got {on_corrupt!r}"
            )
        return self._apply_corrupt_policy(self._scan(normalize_prefix(prefix)), on_corrupt)

    @staticmethod
    def _apply_corrupt_policy(
        items: Iterator[Record | CorruptResultError], on_corrupt: CorruptPolicy
    ) -> Iterator[Record]:
        for item in items:
            if isinstance(item, Record):
                yield item
            elif on_corrupt == "raise":
                raise item
            elif on_corrupt == "skip":
                import logging  # only when there is something to log

                logging.getLogger("resulttracker").warning(
                    "skipping corrupt key %r: %s", item.key, item
                )
            else:
                on_corrupt(item)

    def check(
        self, prefix: str | None = None, *, fix: bool = False, min_age: float = 60.0
    ) -> CheckReport:
        """Read every key under ``prefix`` and report what is wrong with the store.

        Reports keys whose stored document is corrupt (their
        :class:`CorruptResultError`; on a folder this includes a symbolic link
        or a special file at a key's path), temporary files left by writers that
        crashed mid-put and, on a file system, the folders such writers leave
        holding no key. With ``fix=True``, temporary files and then empty
        folders older than ``min_age`` seconds are removed (younger ones may
        belong to a put in progress, which removing them would make fail).
        Corrupt documents are never removed: a person should look at them.
        """
        _check_duration("min_age", min_age, allow_zero=True)
        normalized = normalize_prefix(prefix)
        report = CheckReport()
        for item in self._scan(normalized):
            report.checked += 1
            if isinstance(item, CorruptResultError):
                report.corrupt.append(item)
        # Both listed before anything is removed: removing a file from a folder
        # makes the folder look new.
        temporary = self._temporary_files(normalized)
        folders = self._empty_folders(normalized)
        for location, age in temporary:
            report.temporary_files.append(location)
            if fix and age >= min_age and self._remove_temporary_file(location):
                report.removed.append(location)
        for location, age in folders:
            report.empty_folders.append(location)
            if fix and age >= min_age and self._remove_empty_folder(location):
                report.removed.append(location)
        self._check_snapshots(normalized, report, fix=fix)
        return report

    def _check_snapshots(self, prefix: str, report: CheckReport, *, fix: bool) -> None:
        """Add the health of the snapshots covering ``prefix`` to ``report``; stores
        without snapshots have none."""
        return

    def items(self, prefix: str | None = None) -> Iterator[tuple[str, Results]]:
        """Iterate over ``(key, results)`` pairs, like :meth:`scan` without times."""
        return ((record.key, record.results) for record in self.scan(prefix))

    def wait(self, key: KeyType, *, timeout: float, poll_interval: float = 0.5) -> Results:
        """Block until a document is stored at ``key`` and return its results
        (``{}`` for an empty document; see :meth:`wait_many`).

        Raises
        ------
        WaitTimeoutError
            (a ``TimeoutError``) ``timeout`` seconds passed first; names the key.
        """
        (results,) = self.wait_many([key], timeout=timeout, poll_interval=poll_interval).values()
        return results

    def wait_many(
        self, keys: Iterable[KeyType], *, timeout: float, poll_interval: float = 0.5
    ) -> dict[str, Results]:
        """Block until a document is stored at every one of ``keys``; return
        ``{key: results}`` in the order given.

        A key is there once :meth:`keys` would list it: an empty document
        (``{}``, which torchx's ``put(key)`` writes) counts, and its results are
        ``{}``. Every ``poll_interval`` seconds the keys still missing are
        fetched together, as :meth:`get_many` does.

        Raises
        ------
        WaitTimeoutError
            (a ``TimeoutError``) ``timeout`` seconds passed first; its ``missing``
            attribute and message list the keys that had no results.
        """
        _check_duration("timeout", timeout, allow_zero=True)
        _check_duration("poll_interval", poll_interval, allow_zero=False)
        wanted = normalize_keys(keys)
        deadline = time.monotonic() + timeout
        done: dict[str, Results] = {}
        missing = wanted
        while True:
            for start in range(0, len(missing), BATCH_SIZE):
                done.update(self._get_many(missing[start : start + BATCH_SIZE]))
            missing = [key for key in wanted if key not in done]
            remaining = deadline - time.monotonic()
            if not missing:
                return {key: done[key] for key in wanted}
            if remaining <= 0:
                raise WaitTimeoutError(missing, timeout)
            time.sleep(min(poll_interval, remaining))

    # -- queries and export: thin wrappers over resulttracker.query / .export ---------------

    def select(
        self, prefix: str | None = None, where: query.WhereArgument = None
    ) -> Iterator[Record]:
        """Iterate over the :class:`Record` of every key under ``prefix`` whose
        results satisfy every ``where`` condition, sorted by key.

        ``where`` is one condition such as ``"loss < 0.5"`` or a sequence of them
        (all must hold); see :mod:`resulttracker.query` for the syntax. Conditions
        and prefix are checked at the call, before anything is read.

        Raises
        ------
        InvalidQueryError
            A condition is malformed; its message points at the problem.
        InvalidKeyError
            The prefix is invalid.
        """
        from . import query

        condition = query.parse_where(where)
        records = self.scan(prefix)
        if not condition.conditions:
            return records
        return (record for record in records if condition.matches(record.results))

    def best(
        self,
        metric: str,
        *,
        mode: str = "min",
        prefix: str | None = None,
        where: query.WhereArgument = None,
    ) -> Record:
        """The record with the lowest (``mode="min"``) or highest (``"max"``) ``metric``.

        ``metric`` is a plain result name or a statistic's base name: ``"loss"``
        reads ``loss``, or ``loss/mean`` where there is no plain ``loss``. Keys
        where it is missing, text or NaN are skipped (NaN never wins); of equal
        values the first key in sorted order wins.

        Raises
        ------
        NoCandidatesError
            (a ``ValueError``) no selected key has a usable value.
        InvalidQueryError
            ``mode`` or a ``where`` condition is invalid.
        """
        from . import query

        condition = query.parse_where(where)
        return query.best_record(
            self.select(prefix, condition), metric, mode=mode, prefix=prefix, where=condition
        )

    def to_dataframe(
        self, prefix: str | None = None, where: query.WhereArgument = None
    ) -> pandas.DataFrame:
        """A pandas DataFrame of the selected keys: one row per key; columns
        ``key``, ``modified``, then the result names sorted.

        Missing values are NaN (or None in text columns); NaN stays NaN.

        Raises
        ------
        ImportError
            pandas is not installed (``pip install 'resulttracker[pandas]'``).
        ExportError
            A result is named ``key`` or ``modified``.
        """
        from . import export, query

        condition = query.parse_where(where)
        return export.to_dataframe(self.select(prefix, condition))

    def export(
        self,
        destination: str | os.PathLike[str] | IO[bytes],
        *,
        format: str | None = None,
        prefix: str | None = None,
        where: query.WhereArgument = None,
        progress: export.ExportProgress | None = None,
        batch_size: int = BATCH_SIZE,
        storage_options: Mapping[str, Any] | None = None,
    ) -> int:
        """Write the selected keys as a CSV, JSON Lines, JSON or Parquet table to a
        local path, an fsspec URL or a binary file object; return the row count.

        Columns are as in :meth:`to_dataframe`. The store is read once, in
        batches, through a local temporary file, so memory stays bounded;
        ``format=None`` guesses from the suffix. :mod:`resulttracker.export`
        gives each format's NaN policy and column types.

        Raises
        ------
        ExportError, InvalidQueryError, ImportError
            Bad arguments, or pyarrow missing for Parquet; nothing is written.
        StoreError
            The destination could not be written.
        """
        from . import export, query

        condition = query.parse_where(where)
        chosen = export.format_for(destination, format)
        return export.export_records(
            self.select(prefix, condition),
            destination,
            format=chosen,
            batch_size=batch_size,
            progress=progress,
            storage_options=storage_options,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_duration(name: str, value: object, *, allow_zero: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, got {value!r}")


class StoreTracker(ResultTracker):
    """The tracker of a :class:`~resulttracker.store.Store`: the whole API on top of
    the store's four primitives.

    ``put`` validates (:mod:`resulttracker.validation`) and encodes
    (:mod:`resulttracker.codec`) once, then hands the document to
    :meth:`~resulttracker.store.Store.write`; ``get`` reads and
    decodes; everything else comes from :class:`ResultTracker`. Backends are
    stores; the bundled trackers (:class:`~resulttracker.FsspecResultTracker`,
    :class:`~resulttracker.SQLResultTracker`) are this class around their store.

    Parameters
    ----------
    store : Store
        Where the documents live.
    snapshot_cache : str or os.PathLike, optional
        A local folder keeping snapshots of the store, for readers who cannot
        write one into it: scans then read only the documents changed since
        the previous scan (see :mod:`resulttracker.snapshot_cache`). Ignored
        for stores without version tags.

    Examples
    --------
    A backend written against the contract (see "Writing a backend" in the
    documentation) becomes a tracker in one line::

        tracker = StoreTracker(SQLiteStore("results.db"))
        tracker["exp1/trial7"] = {"loss": 0.12}
    """

    def __init__(
        self, store: Store, *, snapshot_cache: str | os.PathLike[str] | None = None
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a resulttracker.store.Store, got {store!r}")
        self._store = store
        self._snapshot_cache: SnapshotCache | None = None
        if snapshot_cache is not None:
            from .snapshot_cache import SnapshotCache

            self._snapshot_cache = SnapshotCache(snapshot_cache)
        #: The store keeping this store's snapshots in the cache, once looked up.
        self._cache_store: Store | None = None

    @property
    def store(self) -> Store:
        """The store this tracker reads and writes."""
        return self._store

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"

    # -- the contract, on top of the store ------------------------------------------------

    def put(self, key: KeyType, /, **results: ResultType) -> None:
        name = normalize_key(key)
        self._store.write(name, codec.encode(normalize_results(results, key=name), key=name))

    def _put_exactly(self, key: str, results: Mapping[str, Any]) -> None:
        name = normalize_key(key)
        self._store.write(name, codec.encode_stored(results, key=name))

    def __contains__(self, key: object) -> bool:
        # One read, nothing decoded: a stored document counts, as keys() lists it,
        # even an empty or a corrupt one.
        try:
            name = normalize_key(key)
        except InvalidKeyError:
            return False
        return self._store.read(name) is not None

    def get(self, key: KeyType) -> Results:
        name = normalize_key(key)
        document = self._store.read(name)
        if document is None:
            return {}
        return codec.decode(document, key=name, location=self._store.location(name))

    # -- the ResultTracker hooks, answered by the store --------------------------------------

    def _list_keys(self, prefix: str) -> Iterable[str]:
        return self._store.list_keys(prefix)

    def _sorted_keys(self, prefix: str) -> list[str]:
        keys = self._store.list_keys(prefix)
        return list(keys) if self._store.sorted_listing else sorted(keys)

    def _count(self, prefix: str) -> int:
        return self._store.count(prefix)

    def _delete(self, key: str) -> bool:
        return self._store.delete(key)

    def _get_many(self, keys: Sequence[str]) -> Iterable[tuple[str, Results]]:
        location = self._store.location
        for key, document in self._store.read_many(keys):
            if document is not None:
                yield (
                    key,
                    codec.decode(document, key=key, location=functools.partial(location, key)),
                )

    @property
    def snapshot_cache(self) -> str | None:
        """The snapshot cache folder given at construction, or ``None``."""
        return None if self._snapshot_cache is None else self._snapshot_cache.folder

    def _snapshot_cache_store(self) -> Store | None:
        """The store keeping this store's snapshots in the cache folder, made on
        first use; ``None`` without a cache or where it does not serve."""
        if self._snapshot_cache is None:
            return None
        if self._cache_store is None:
            self._cache_store = self._snapshot_cache.store_for(self._store)
            if self._cache_store is None:
                self._snapshot_cache = None  # no version tags: the option does nothing
        return self._cache_store

    def _scan(self, prefix: str) -> Iterator[Record | CorruptResultError]:
        cache = self._snapshot_cache_store()
        if self._store.versions and (self._store.snapshots or cache is not None):
            # Through the newest snapshot, if any: the listing with versions, then
            # reads of only the keys changed since (see resulttracker.snapshot).
            from . import snapshot

            through = snapshot.scan(self._store, prefix, cache)
            if through is not None:
                yield from through
                return
        decode, location, partial = codec.decode, self._store.location, functools.partial
        for key, document, modified in self._store.scan(prefix):
            if isinstance(document, CorruptResultError):
                yield document
            elif document is not None:
                try:
                    results = decode(document, key=key, location=partial(location, key))
                except CorruptResultError as error:
                    yield error
                else:
                    yield Record(key=key, results=results, modified=modified)

    def _temporary_files(self, prefix: str) -> list[tuple[str, float]]:
        return self._store.temporary_files(prefix)

    def _remove_temporary_file(self, location: str) -> bool:
        return self._store.remove_temporary_file(location)

    def exists(self) -> bool:
        """Whether the store's base exists: its folder, bucket or container (one
        cheap check). An existing base with no keys is empty, not missing.

        Raises
        ------
        StoreError
            The store could not be asked (unreachable, refused, timed out).
        """
        return self._store.exists()

    def _empty_folders(self, prefix: str) -> list[tuple[str, float]]:
        return self._store.empty_folders(prefix)

    def _remove_empty_folder(self, location: str) -> bool:
        return self._store.remove_empty_folder(location)

    # -- snapshots and the change feed (see resulttracker.snapshot, .feed) -----------------

    def watch(self, prefix: str | None = None, *, on_corrupt: CorruptPolicy = "raise") -> Feed:
        r"""A change feed of the keys under ``prefix``: each
        :meth:`~resulttracker.feed.Feed.poll` returns the
        :class:`~resulttracker.model.Change`\s since the previous one (the first:
        every key present, as puts).

        Only changed keys are read: an idle poll costs a listing (on S3, one
        LIST request per 1,000 keys and no GET); the first goes through the
        newest snapshot (in the store or the snapshot cache). ``on_corrupt`` is
        as in :meth:`scan`.
        """
        from .feed import Feed

        if not (callable(on_corrupt) or on_corrupt in ("raise", "skip")):
            raise ValueError(
                f"on_corrupt must be 'raise', 'skip' or a callable, got {on_corrupt!r}"
            )
        return Feed(self._store, normalize_prefix(prefix), on_corrupt, self._snapshot_cache_store())

    def compact(self, prefix: str | None = None, *, grace: float = 600.0) -> CompactReport:
        """Write a snapshot of the keys under ``prefix`` into the store, so that
        later scans (and everything built on them) read only the keys changed since.

        Safe with writers running and with other compactors; snapshots superseded
        for more than ``grace`` seconds are removed. See :mod:`resulttracker.snapshot`.

        Raises
        ------
        NotImplementedError
            The store has no version tags (only a folder and S3 do).
        """
        from . import snapshot

        _check_duration("grace", grace, allow_zero=True)
        return snapshot.compact(self._store, normalize_prefix(prefix), grace=grace)

    def _check_snapshots(self, prefix: str, report: CheckReport, *, fix: bool) -> None:
        store = self._store
        if not (store.versions and store.snapshots):
            return
        from . import snapshot

        manifest = snapshot.find_snapshot(store, prefix)
        if manifest is not None:
            scope = f"under {manifest.prefix!r}" if manifest.prefix else "of the whole store"
            report.snapshot = (
                f"{manifest.name}: {manifest.keys} keys {scope}, "
                f"taken {manifest.created:%Y-%m-%d %H:%M:%S} UTC"
            )
        for snapshot_id, problem in snapshot.snapshot_problems(store, prefix):
            report.snapshot_problems.append(problem)
            if fix and snapshot.remove_snapshot(store, snapshot_id):
                report.removed.append(store.location(snapshot.manifest_name(snapshot_id)))
