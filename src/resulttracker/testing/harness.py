"""The harness: the one object a backend's conformance tests need.

A :class:`StoreHarness` opens trackers on a store under test and reads and writes
that store *without* resulttracker (a plain file read, a database driver, the
cloud provider's client), so the suite can check what the tracker really stored
and plant documents it did not write: a bug cannot hide behind itself.
"""

from __future__ import annotations

import functools

from ..api import StoreTracker
from ..store import Store

__all__ = ["StoreHarness"]


class StoreHarness:
    """One empty store under test, and ground-truth access to it.

    Subclass it and implement :meth:`new_tracker`, :meth:`isolated_tracker`,
    :meth:`raw_write`, :meth:`raw_read` and :meth:`raw_names`; set the attributes
    below where your store differs from the defaults. The fixture that returns
    the harness gives every test a store of its own, empty.

    Attributes
    ----------
    text_only : bool
        The store keeps documents as text and itself refuses bytes that are not
        UTF-8 (a ``TEXT`` column): :meth:`raw_write` of such bytes raises.
    shown_base : str
        Text that ``repr(tracker)`` must contain: how the store is named to a
        user (a path, a URL with its credentials hidden). Empty: not checked.
    credentials : tuple of str
        Secrets (passwords, access keys) that must appear in no ``repr`` and no
        error message.
    """

    text_only: bool = False
    shown_base: str = ""
    credentials: tuple[str, ...] = ()

    # -- trackers -------------------------------------------------------------------------

    def new_tracker(self) -> StoreTracker:
        """A new tracker on this harness's store, as another process would open it."""
        raise NotImplementedError(f"{type(self).__name__} must implement new_tracker()")

    def isolated_tracker(self) -> StoreTracker:
        """A tracker on a second store of the same kind that shares nothing with this
        one (another folder, bucket prefix, table or database file)."""
        raise NotImplementedError(f"{type(self).__name__} must implement isolated_tracker()")

    @functools.cached_property
    def tracker(self) -> StoreTracker:
        """The tracker under test (the first :meth:`new_tracker`, kept)."""
        return self.new_tracker()

    @property
    def store(self) -> Store:
        """The store of :attr:`tracker`, whose capability flags the suite consults."""
        return self.tracker.store

    # -- ground truth ------------------------------------------------------------------------

    def raw_write(self, key: str, document: bytes) -> None:
        """Store ``document`` at ``key`` as another program would, bypassing resulttracker."""
        raise NotImplementedError(f"{type(self).__name__} must implement raw_write()")

    def raw_read(self, key: str) -> bytes | None:
        """The bytes stored at ``key`` (``None``: nothing), read bypassing resulttracker."""
        raise NotImplementedError(f"{type(self).__name__} must implement raw_read()")

    def raw_names(self) -> set[str]:
        """Everything the store holds, named as the store names it (paths, object
        names, row keys), temporary or stray items included: the suite only compares
        it with an earlier answer or with the empty set, to prove nothing was written."""
        raise NotImplementedError(f"{type(self).__name__} must implement raw_names()")

    def location_of(self, key: str) -> str:
        """How the location of ``key`` in error messages ends (by default, the key)."""
        return key
