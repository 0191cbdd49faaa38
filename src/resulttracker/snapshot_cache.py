"""A local folder keeping snapshots of stores, for readers who cannot write one
into the store (read-only credentials).

``open_tracker(base, snapshot_cache="~/.cache/resulttracker")`` (the command
line's ``--cache DIR``, ``$RESULTTRACKER_CACHE``) makes every scan, and what is
built on it (``select``, ``best``, export, the CLI's ``show``, ``summary``...),
go through a snapshot kept in that folder, in the format of
:mod:`resulttracker.snapshot`: the first scan reads every document and leaves a
snapshot there; later scans list the keys with their versions and read only
those whose version differs, then leave a fresh snapshot if anything changed.

Rules, the same as for a snapshot in the store (nothing in the cache is trusted):

* an entry is used only where its version equals the one the store lists now;
  keys written too recently to be trusted, corrupt keys and keys of a damaged,
  foreign or unreadable file (a symbolic link is never followed) are read, and
  the damaged snapshot is superseded by the next one written;
* a snapshot in the store itself is still used when it was taken after the
  cache's newest (by the times their names carry); the cache is then refreshed
  from that scan, so the store's parts are read once per compaction;
* files are written whole and renamed into place
  (:class:`~resulttracker.backends.local.LocalFiles`), under a
  new name per snapshot, so concurrent scans never see each other's halves;
  superseded snapshots are removed after :data:`~resulttracker.snapshot.CACHE_GRACE_SECONDS`.

Layout: ``<folder>/<hash>/.resulttracker/{snapshots,parts}/...``, where
``<hash>`` is a BLAKE2b digest of the store's identity
(:meth:`~resulttracker.store.Store.identity`: its scheme, endpoint, bucket and
path, never a credential), so that nothing in a name says which store it
caches. The folder must belong to the user and not be writable by others (a
forged snapshot there would be believed); it is made with mode 0700 and its
files with 0600.

Stores without version tags (``versions`` unset: ``memory://``, plain fsspec
file systems) and SQL databases (whose scan is one query per batch already)
give no identity: the option is ignored for them, without error, so that one
``$RESULTTRACKER_CACHE`` can serve every base.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat

from .errors import StoreError
from .store import Store

__all__ = ["SnapshotCache"]

_logger = logging.getLogger("resulttracker")

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class SnapshotCache:
    """A cache folder; :meth:`store_for` gives the store keeping one store's snapshots.

    Parameters
    ----------
    folder : str or os.PathLike
        The cache folder (``~`` is expanded); made, with mode 0700, on first use.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        text = os.fspath(folder)
        if not isinstance(text, str) or not text:
            raise ValueError(f"snapshot_cache must be a non-empty folder path, got {folder!r}")
        self.folder = os.path.abspath(os.path.expanduser(text))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.folder!r})"

    @staticmethod
    def entry_name(identity: str) -> str:
        """The name of the cache entry of the store whose identity is ``identity``."""
        return hashlib.blake2b(identity.encode("utf-8"), digest_size=16).hexdigest()

    def store_for(self, store: Store) -> Store | None:
        """The store (a private :class:`~resulttracker.backends.local.LocalFiles`)
        keeping the snapshots of ``store`` in this folder, made if missing;
        ``None`` if ``store`` has no version tags or no identity.

        Raises
        ------
        StoreError
            The folder is not a folder, belongs to another user or is writable by
            others; or it cannot be made.
        """
        if not store.versions:
            return None
        identity = store.identity()
        if identity is None:
            return None
        from .backends.local import LocalFiles

        name = self.entry_name(identity)
        self._prepare(name)
        return LocalFiles(os.path.join(self.folder, name), private=True)

    def _prepare(self, name: str) -> None:
        folder = self.folder
        try:
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
            # The folder itself may be a symbolic link: the user named it.
            fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        except OSError as error:
            raise StoreError(
                f"cannot use the snapshot cache {folder}: {type(error).__name__}: {error}"
            ) from None
        try:
            info = os.fstat(fd)
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                raise StoreError(
                    f"the snapshot cache {folder} belongs to another user: a snapshot "
                    "planted there would be believed; choose a folder of your own"
                )
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise StoreError(
                    f"the snapshot cache {folder} is writable by others "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}): a snapshot planted there "
                    f"would be believed; chmod 700 {folder}"
                )
            self._prepare_entry(fd, name)
        except OSError as error:
            if isinstance(error, StoreError):
                raise
            raise StoreError(
                f"cannot use the snapshot cache {folder}: {type(error).__name__}: {error}"
            ) from None
        finally:
            os.close(fd)

    def _prepare_entry(self, folder_fd: int, name: str) -> None:
        """Make the entry ``name`` a private folder: made if missing, replaced if
        something else (a symbolic link, a file) is there, its mode narrowed."""
        for _ in range(10):
            try:
                fd = os.open(
                    name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=folder_fd
                )
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=folder_fd)
                continue
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise
                _logger.warning(
                    "replacing %s in the snapshot cache %s: not a folder (never followed)",
                    name,
                    self.folder,
                )
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=folder_fd)
                continue
            try:
                info = os.fstat(fd)
                if stat.S_IMODE(info.st_mode) & 0o077:
                    os.fchmod(fd, 0o700)
            finally:
                os.close(fd)
            return
        raise StoreError(f"the snapshot cache entry {name} in {self.folder} keeps changing")
