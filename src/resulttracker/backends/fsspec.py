"""``FsspecResultTracker``: one JSON file per key on any fsspec file system.

The layout is torchx's: the results of key ``exp/trial7`` live in the file
``<tracker_base>/exp/trial7``. The store behind the tracker is
:class:`~resulttracker.backends.local.LocalFiles` for a local folder (or NFS
mount) and :class:`~resulttracker.backends.remote.RemoteFiles` for every other
fsspec file system (``s3://``, ``gs://``, ``az://``, ``memory://``...).
"""

from __future__ import annotations

import os
from typing import Any

from .._urls import redact_url
from ..api import StoreTracker
from .local import LocalFiles
from .remote import RemoteFiles, is_local, local_root, open_filesystem

__all__ = ["FsspecResultTracker", "LocalFiles", "RemoteFiles", "local_root"]


class FsspecResultTracker(StoreTracker):
    """A tracker that keeps each key's results in one JSON file under a base path.

    Parameters
    ----------
    tracker_base : str or os.PathLike
        A local folder or any fsspec URL (``s3://bucket/exp``, ``gs://...``,
        ``memory://...``). It is created on the first write.
    snapshot_cache : str or os.PathLike, optional
        A local folder keeping snapshots of the store (see
        :mod:`resulttracker.snapshot_cache`), so that repeated scans read only
        what changed, without writing into the store. Ignored where the store
        has no version tags (``memory://``).
    operation_timeout : float or None, default 60
        On async file systems (S3, GCS, Azure, HTTP): the most one operation
        (a get, a put, a listing, one batch of a scan) may take, retries
        included, before :class:`StoreError` is raised. ``None``: no limit.
        Local folders use plain system calls and have no such limit.
    **storage_options
        Passed to the file system (for s3fs: ``endpoint_url``, ``key``,
        ``secret``, ``anon``, ``config_kwargs``...). On S3 the defaults are a
        5 s connect timeout, a 20 s read timeout and 3 attempts per request.

    Raises
    ------
    ImportError
        The file system's package is not installed; the message says which
        extra to install.

    Examples
    --------
    >>> tracker = FsspecResultTracker("memory://doc/example")
    >>> tracker["exp1/trial7"] = {"loss": 0.12, "acc/mean": 0.91, "acc/sem": 0.01}
    >>> tracker["exp1/trial7"]["loss"]
    0.12
    """

    def __init__(
        self,
        tracker_base: str | os.PathLike[str],
        *,
        snapshot_cache: str | os.PathLike[str] | None = None,
        operation_timeout: float | None = 60.0,
        **storage_options: Any,
    ) -> None:
        base = os.fspath(tracker_base)
        if not isinstance(base, str) or not base:
            raise ValueError(f"tracker_base must be a non-empty path or URL, got {tracker_base!r}")
        self._base = base
        self._shown_base = redact_url(base)
        files: LocalFiles | RemoteFiles
        root = local_root(base) if "protocol" not in storage_options else None
        if root is not None:
            files = LocalFiles(root)
            super().__init__(files, snapshot_cache=snapshot_cache)
            return
        fs, root = open_filesystem(base, storage_options)
        if is_local(fs):
            files = LocalFiles(root)
        else:
            files = RemoteFiles(
                fs,
                root,
                shown_base=self._shown_base,
                operation_timeout=operation_timeout,
                reopen=lambda: open_filesystem(base, storage_options)[0],
            )
        super().__init__(files, snapshot_cache=snapshot_cache)

    @property
    def tracker_base(self) -> str:
        """The base path or URL given at construction."""
        return self._base

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown_base!r})"
