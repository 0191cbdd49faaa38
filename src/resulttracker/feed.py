"""The change feed: what changed in a store since the last look.

``feed = tracker.watch(prefix)``; each :meth:`Feed.poll` lists the keys with
their versions (see :meth:`~resulttracker.store.Store.list_versions`) and
reads only the keys whose version differs from the one it saw last: an idle
poll on S3 costs one LIST request per 1,000 keys and no GET; on a folder, one
``stat`` per file. The first poll reports every key present (through the
newest snapshot, if there is one, so that it too reads only what changed
since). A key rewritten with the same content is not a change.

Stores without version tags (``versions`` unset) give the same changes, at the
cost of reading every document on every poll.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Literal

from .errors import CorruptResultError
from .model import Change, Results
from .snapshot import (
    CacheRefresh,
    Entry,
    MergeCounts,
    entries,
    find_snapshot,
    resolve,
    through_cache,
)
from .store import Store

__all__ = ["Feed"]

#: As ``resulttracker.api.CorruptPolicy`` (this module is imported by the API).
CorruptPolicy = Literal["raise", "skip"] | Callable[[CorruptResultError], object]

_logger = logging.getLogger("resulttracker")

#: What the feed remembers of a key: the version it saw (``None``: read it
#: again next time) and a digest of its results (``None``: corrupt).
_Seen = tuple[str | None, bytes | None]


def _digest(results: Results) -> bytes:
    text = json.dumps(results, ensure_ascii=False, allow_nan=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class Feed:
    """Changes to the keys under a prefix, poll by poll.

    Made by :meth:`~resulttracker.api.StoreTracker.watch`; not safe to poll
    from several threads at once.

    Parameters
    ----------
    store : Store
        The store to watch.
    prefix : str
        Only keys equal to it or below it (already normalized).
    on_corrupt : {"raise", "skip"} or callable
        What to do with a key whose document is corrupt, as in ``scan``; a
        corrupt key is handed to it once per change of its document, and
        reported as a change again once it holds valid results.
    cache : Store, optional
        A store keeping snapshots of ``store`` (the tracker's snapshot cache,
        see :mod:`resulttracker.snapshot_cache`): the first poll goes through
        its snapshot too, and leaves a fresh one there.
    """

    def __init__(
        self,
        store: Store,
        prefix: str,
        on_corrupt: CorruptPolicy = "raise",
        cache: Store | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        self.prefix = prefix
        self._on_corrupt = on_corrupt
        self._seen: dict[str, _Seen] | None = None
        #: Documents read by the last poll (the rest came from the listing or a snapshot).
        self.last_read = 0

    def poll(self) -> list[Change]:
        """The changes since the previous poll (the first: every key, as puts),
        sorted by key.

        Raises
        ------
        CorruptResultError
            With ``on_corrupt="raise"``, a changed key is corrupt; the feed's
            state is left as it was, so the next poll sees the same changes.
        """
        started = datetime.now(timezone.utc)
        found, reserved = self._store.list_versions_and_reserved(self.prefix)
        listing = sorted(found)
        previous = self._seen
        seen: dict[str, _Seen] = {} if previous is None else dict(previous)
        changes: list[Change] = []
        errors: list[CorruptResultError] = []
        counts = MergeCounts()
        refresh: CacheRefresh | None = None
        if previous is None:
            known: Iterable[Entry] = iter(())
            if self._cache is not None:
                low, high = (listing[0].key, listing[-1].key) if listing else (None, None)
                known, refresh = through_cache(
                    self._store,
                    self.prefix,
                    reserved,
                    self._cache,
                    started,
                    low,
                    len(listing),
                    high,
                )
            elif listing:
                manifest = find_snapshot(self._store, self.prefix, reserved)
                if manifest is not None:
                    known = entries(self._store, manifest, listing[0].key, listing[-1].key)
            wanted = listing
        else:
            wanted = [
                listed
                for listed in listing
                if (old := previous.get(listed.key)) is None
                or old[0] is None
                or old[0] != listed.version
            ]
            known = iter(())
            listed_keys = {listed.key for listed in listing}
            for key in previous:
                if key not in listed_keys:
                    del seen[key]
                    changes.append(Change("delete", key, None))
        for key, outcome, version in resolve(self._store, wanted, known, counts):
            if refresh is not None:
                refresh.add(key, outcome, version)
            old = seen.get(key)
            if outcome is None:  # deleted since it was listed
                if old is not None:
                    del seen[key]
                    changes.append(Change("delete", key, None))
            elif isinstance(outcome, CorruptResultError):
                if old is None or old[1] is not None or old[0] != version:
                    errors.append(outcome)
                seen[key] = (version, None)
            else:
                digest = _digest(outcome.results)
                if old is None or old[1] != digest:
                    changes.append(Change("put", key, outcome))
                seen[key] = (version, digest)
        # Corrupt keys go through the policy before the state is kept, so that a
        # raise leaves the feed where it was.
        for error in errors:
            if self._on_corrupt == "raise":
                raise error
            if self._on_corrupt == "skip":
                _logger.warning("skipping corrupt key %r: %s", error.key, error)
            else:
                self._on_corrupt(error)
        if refresh is not None:
            refresh.finish(counts)
        self._seen = seen
        self.last_read = counts.read
        changes.sort(key=lambda change: change.key)
        return changes
