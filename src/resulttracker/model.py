"""The data every layer passes around: keys, results, records, reports, changes.

This module is a leaf: it imports nothing of the package at run time, so every
other module (the API, the backends, statistics, queries, export, the command
line and the dashboard) can import it without creating an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only; errors is a leaf module too
    from .errors import CorruptResultError

__all__ = [
    "Change",
    "ChangeKind",
    "CheckReport",
    "CompactReport",
    "KeyType",
    "Record",
    "ResultType",
    "Results",
    "StoredValue",
]

#: What a key may be: an ``int`` is the same key as its ``str()``.
KeyType = int | str
#: What ``put`` accepts as a value (NumPy scalars and subclasses are converted).
ResultType = int | float | str
#: One key's results. The annotation is torchx's; what a read returns may also
#: hold any :data:`StoredValue` (documents written by torchx or other writers).
Results = dict[str, ResultType]
#: What a result read from a store may be: what ``put`` writes, plus what other
#: writers may have stored (torchx's ``put`` takes any JSON value): ``None``,
#: lists and objects (see :mod:`resulttracker.codec`).
StoredValue = int | float | str | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One key's results as returned by ``scan``, ``select`` and the change feed.

    Attributes
    ----------
    key : str
        The key, in its canonical ``str`` form.
    results : dict
        The results stored at the key.
    modified : datetime or None
        When the key was last written, timezone-aware, from the store's own
        metadata; ``None`` only for stores that keep no such time.
    """

    key: str
    results: Results
    modified: datetime | None = None


@dataclass
class CheckReport:
    """What ``ResultTracker.check`` found.

    Attributes
    ----------
    checked : int
        Keys read.
    corrupt : list of CorruptResultError
        One error per key whose stored document is corrupt.
    temporary_files : list of str
        Temporary files left by interrupted writers (all of them, removed or not).
    removed : list of str
        The temporary files, empty folders and damaged snapshots removed
        (``fix=True``).
    empty_folders : list of str
        Folders holding no key (only empty folders or temporary files), which
        writers killed mid-put leave on a file system, deepest first, ending in
        ``/`` (all of them, removed or not). One in a key's place makes ``put``
        of that key fail with ``KeyConflictError`` until it is removed.
    snapshot : str or None
        The snapshot scans use (see ``compact``), or ``None`` if there is none.
    snapshot_problems : list of str
        Damaged snapshots found (ignored by reads; ``fix=True`` removes them).
    """

    checked: int = 0
    corrupt: list[CorruptResultError] = field(default_factory=list)
    temporary_files: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)
    snapshot: str | None = None
    snapshot_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No corrupt key, and no temporary file, empty folder or damaged snapshot
        left in place."""
        left = len(self.temporary_files) + len(self.empty_folders) + len(self.snapshot_problems)
        return not self.corrupt and len(self.removed) == left


#: What happened to a key: it was written (or rewritten), or it was deleted.
ChangeKind = Literal["put", "delete"]


@dataclass(frozen=True)
class Change:
    """One change seen by a change feed.

    Attributes
    ----------
    kind : {"put", "delete"}
        Whether the key was written or removed.
    key : str
        The key.
    record : Record or None
        The key's new record for ``"put"``; ``None`` for ``"delete"``.
    """

    kind: ChangeKind
    key: str
    record: Record | None = None


@dataclass(frozen=True)
class CompactReport:
    """What ``StoreTracker.compact`` wrote.

    Attributes
    ----------
    name : str
        The snapshot's name in the store (under ``.resulttracker/``).
    prefix : str
        The prefix it covers (``""``: every key).
    keys : int
        Keys in the snapshot (corrupt keys and keys written too recently to be
        trusted are left out: scans read them).
    read : int
        Documents read to write it (the others came from the previous snapshot).
    bytes : int
        Compressed size of the snapshot.
    seconds : float
        Time taken.
    removed : int
        Old snapshots removed (superseded for longer than the grace period, or damaged).
    """

    name: str
    prefix: str
    keys: int
    read: int
    bytes: int
    seconds: float
    removed: int = 0
