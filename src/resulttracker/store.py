"""The backend contract: :class:`Store`, where a tracker keeps one document per key.

A backend is a :class:`Store`. It implements four primitives — :meth:`~Store.read`,
:meth:`~Store.write`, :meth:`~Store.delete` and :meth:`~Store.list_keys` — on
keys that are already valid (see :mod:`resulttracker.validation`) and on
documents that are already encoded (see :mod:`resulttracker.codec`): a store
never validates or encodes anything. :class:`~resulttracker.api.StoreTracker`
turns any store into a full tracker (the torchx map API, bulk reads, waiting,
statistics, queries, export, the command line and the dashboard)::

    tracker = StoreTracker(MyStore(...))

A store overrides the optional methods only to be faster (:meth:`~Store.read_many`,
:meth:`~Store.scan`, :meth:`~Store.count`) or to say more (:meth:`~Store.location`,
temporary files left by interrupted writers). What differs
between stores is said by the capability flags, which the tracker and the
conformance suite (``resulttracker.testing``) consult.

This module imports nothing of the package but the leaf modules, so a third-party
backend depends on the contract alone.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # annotations only; errors is a leaf module
    from .errors import CorruptResultError

__all__ = ["BATCH_SIZE", "Listed", "Store", "Versioned", "content_version"]

#: How many keys derived methods hand to :meth:`Store.read_many` at once.
BATCH_SIZE = 1000


class Listed(NamedTuple):
    """One key as a versioned listing gives it (see :meth:`Store.list_versions`)."""

    key: str
    #: The version of the key's current content, or ``None`` if the listing
    #: cannot tell (the key is then always read).
    version: str | None
    #: The modification time the listing gives, or ``None``.
    modified: datetime | None


class Versioned(NamedTuple):
    """One document as a versioned read gives it (see :meth:`Store.read_versioned`)."""

    #: The document, or ``None`` if the key has none; in its place a store may give
    #: the :class:`~resulttracker.errors.CorruptResultError` of an entry it refuses
    #: to read (a symbolic link on a folder).
    document: bytes | CorruptResultError | None
    #: The version of exactly this document, or ``None`` if it cannot be trusted
    #: (the file was being rewritten during the read, or too recently to tell).
    version: str | None
    #: The modification time of this document, or ``None`` if the read does not say.
    modified: datetime | None


def content_version(document: bytes) -> str:
    """A version made from the content itself: what stores without version tags use."""
    return "h:" + hashlib.blake2b(document, digest_size=16).hexdigest()


class Store(abc.ABC):
    """Where a tracker keeps one encoded document (bytes) per key.

    Keys reach a store validated and in canonical form: non-empty ``/``-separated
    paths of at most 1,024 bytes, with no empty, ``.`` or ``..`` segment and no
    control character. A prefix is ``""`` (every key) or a valid key; it selects
    that key and every key below ``prefix + "/"``.

    Capability flags (class attributes):

    Attributes
    ----------
    atomic_overwrite : bool
        A reader of a key being rewritten sees the old or the new document,
        never a mix or a partial one. The conformance suite tests it where set.
    modification_times : bool
        :meth:`scan` yields each document's modification time (otherwise
        ``None``, and records carry no ``modified`` time).
    sorted_listing : bool
        :meth:`list_keys` yields keys sorted by code point, so the tracker need
        not sort them (a database's ``ORDER BY``).
    nested_keys : bool
        A key may also be the prefix of other keys (``a`` and ``a/b``), as on
        object stores and databases; file systems cannot (their writes raise
        :class:`~resulttracker.errors.KeyConflictError`).
    versions : bool
        :meth:`list_versions` gives each key's version from listing metadata
        alone (an ETag, a file's ``stat``, a revision column), without reading
        any document; snapshots and the change feed then read only what changed.
    sorted_versions : bool
        :meth:`list_versions` yields keys sorted by code point, so that bulk
        reads through a snapshot stream rather than sort the whole listing.
    snapshots : bool
        The store can keep snapshots of itself under reserved names (see
        :mod:`resulttracker.snapshot`): :meth:`write`, :meth:`read`,
        :meth:`delete` and :meth:`list_keys` accept names under
        ``.resulttracker/``, and :meth:`list_keys` hides them from every other
        listing. Used only where ``versions`` is set too.
    """

    atomic_overwrite: bool = True
    modification_times: bool = False
    sorted_listing: bool = False
    nested_keys: bool = True
    versions: bool = False
    sorted_versions: bool = False
    snapshots: bool = False

    # -- the four primitives ------------------------------------------------------------

    @abc.abstractmethod
    def read(self, key: str) -> bytes | None:
        """The document stored at ``key``, or ``None`` if there is none.

        Raises
        ------
        StoreError
            The store cannot be reached or refused the read (not for a missing key).
        """

    @abc.abstractmethod
    def write(self, key: str, document: bytes) -> None:
        """Store ``document`` at ``key``, replacing what was there.

        Raises
        ------
        StoreError
            The store cannot be reached or refused the write.
        KeyConflictError
            The store cannot hold ``key`` beside another key (``nested_keys`` unset).
        """

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; whether it existed. Never raises for a missing key."""

    @abc.abstractmethod
    def list_keys(self, prefix: str) -> Iterable[str]:
        """Every stored key under ``prefix`` (``""``: all), in any order unless
        ``sorted_listing`` is set."""

    # -- optional: faster or more telling ----------------------------------------------------

    def location(self, key: str) -> str:
        """Where ``key`` is stored, for error messages; never shows a credential."""
        return f"{self!r}: {key}"

    def read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        """``(key, document or None)`` for each of ``keys``, in any order.

        Note for implementers: this default reads one key at a time; override it
        where the store can fetch many keys per round trip or concurrently.
        """
        for key in keys:
            yield key, self.read(key)

    def scan(
        self, prefix: str
    ) -> Iterable[tuple[str, bytes | CorruptResultError | None, datetime | None]]:
        """``(key, document or None, modified)`` for every key under ``prefix``,
        sorted by key; ``None`` for a key deleted since it was listed. In place of
        the document, a store may give the
        :class:`~resulttracker.errors.CorruptResultError` of an entry it refuses
        to read (a symbolic link on a folder): the scan reports it and goes on.

        Note for implementers: this default lists, then reads in batches of
        :data:`BATCH_SIZE` through :meth:`read_many`, and yields no modification
        times; override it where the store returns documents with their times in
        one pass.
        """
        keys = self.list_keys(prefix)
        ordered = list(keys) if self.sorted_listing else sorted(keys)
        for start in range(0, len(ordered), BATCH_SIZE):
            found = dict(self.read_many(ordered[start : start + BATCH_SIZE]))
            for key in ordered[start : start + BATCH_SIZE]:
                yield key, found.get(key), None

    def exists(self) -> bool:
        """Whether the store's base exists (a missing base is not an empty one).

        Note for implementers: this default says ``True``; a store whose base can
        be missing (a folder, a bucket, a container) answers with one cheap check.
        """
        return True

    def count(self, prefix: str) -> int:
        """How many keys are under ``prefix``.

        Note for implementers: this default lists every key; a database can count.
        """
        return sum(1 for _ in self.list_keys(prefix))

    def temporary_files(self, prefix: str) -> list[tuple[str, float]]:
        """``(location, age in seconds)`` of what interrupted writers left under
        ``prefix``; stores whose writes are one request leave nothing."""
        return []

    def remove_temporary_file(self, location: str) -> bool:
        """Remove one item listed by :meth:`temporary_files`; whether it was there."""
        raise NotImplementedError(f"{type(self).__name__} leaves no temporary files")

    def empty_folders(self, prefix: str) -> list[tuple[str, float]]:
        """``(location, age in seconds)`` of folders under ``prefix`` holding no key
        (only such folders and temporary files), deepest first, a folder's age
        being that of the youngest thing in it; stores without folders have none."""
        return []

    def remove_empty_folder(self, location: str) -> bool:
        """Remove one folder listed by :meth:`empty_folders` if it is still empty;
        whether it was removed."""
        raise NotImplementedError(f"{type(self).__name__} has no folders")

    # -- optional: versions (snapshots and the change feed) ---------------------------------

    def list_versions(self, prefix: str) -> Iterable[Listed]:
        """A :class:`Listed` ``(key, version, modified)`` for every key under ``prefix``,
        in any order.

        Two equal versions of one key mean equal content: a store whose
        listing cannot promise that leaves ``versions`` unset.

        Note for implementers: this default reads every document and takes a
        hash of its content as its version, at the cost of a full :meth:`scan`;
        override it where the listing carries a version (set ``versions``).
        """
        for key, document, modified in self.scan(prefix):
            if isinstance(document, bytes):
                yield Listed(key, content_version(document), modified)
            elif document is not None:  # an entry the store refuses: read (and refused) each time
                yield Listed(key, None, modified)

    def read_versioned(self, key: str) -> Versioned:
        """The document at ``key`` with the version of exactly that content.

        Note for implementers: this default reads the document and takes a hash
        of it as its version, and gives no modification time.
        """
        document = self.read(key)
        return Versioned(document, None if document is None else content_version(document), None)

    def read_many_versioned(self, keys: Sequence[str]) -> Iterable[tuple[str, Versioned]]:
        """``(key, Versioned)`` for each of ``keys``, in any order.

        Note for implementers: this default reads one key at a time through
        :meth:`read_versioned`; override it where the store can read many at once.
        """
        for key in keys:
            yield key, self.read_versioned(key)

    def identity(self) -> str | None:
        """A text naming where this store's documents live: the same in every
        process that opens the store, different for any other store. It keys
        copies kept outside the store (the local snapshot cache, see
        :mod:`resulttracker.snapshot_cache`), which only hash it; it never holds
        a credential. ``None``: the store cannot say, or such copies would not
        serve it (nothing is kept for it then).

        Note for implementers: this default says ``None``; a store with
        ``versions`` whose scans cost a request per document names its base
        (scheme, endpoint, bucket and path), leaving credentials out.
        """
        return None

    def list_reserved(self, folder: str) -> Iterable[str]:
        """The names stored under ``folder``, a folder of the reserved area
        (``.resulttracker/...``, see ``snapshots``), as :meth:`list_keys` gives them.

        Note for implementers: this default calls :meth:`list_keys`; override it
        where a listing of a folder that may not exist can be made cheaper.
        """
        return self.list_keys(folder)

    def list_versions_and_reserved(self, prefix: str) -> tuple[Iterable[Listed], list[str] | None]:
        """:meth:`list_versions`, and the names under ``.resulttracker/``
        that the same listing met, or ``None`` if it cannot tell (then the caller
        lists them with :meth:`list_reserved` if it needs them).

        Note for implementers: this default lists the keys only; override it
        where one listing of every key shows the reserved folder too (an object
        store's flat listing), saving a request.
        """
        return self.list_versions(prefix), None
