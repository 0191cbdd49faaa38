"""``FsspecResultTracker``: one JSON file per key on any fsspec file system.

The layout is torchx's: the results of key ``exp/trial7`` live in the file
``<tracker_base>/exp/trial7``. Two drivers do the I/O:

* :class:`LocalFiles`, for local paths (and NFS mounts), talks to the operating
  system directly so that a write can be atomic and durable (temporary file,
  ``fsync``, ``os.replace``, ``fsync`` of the folder), which fsspec cannot do;
* :class:`RemoteFiles`, for every other fsspec file system (``s3://``,
  ``gs://``, ``memory://``...), where one write is one PUT and many reads run
  concurrently on async file systems.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import fsspec
import fsspec.asyn
import fsspec.exceptions
from fsspec.implementations.local import LocalFileSystem

from .._urls import redact_url
from ..api import StoreTracker
from ..codec import MAX_DOCUMENT_BYTES
from ..errors import InvalidKeyError, KeyConflictError, ResultTrackerError, StoreError
from ..store import BATCH_SIZE, Store
from ..validation import TEMP_PREFIX, key_has_prefix

__all__ = ["FsspecResultTracker", "LocalFiles", "RemoteFiles"]

#: Extras that provide the file systems of these protocols.
_EXTRA_FOR_PROTOCOL = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "adl": "azure",
}

#: Options given to s3fs unless the caller sets them: fail fast on an unreachable
#: endpoint instead of retrying for minutes, and allow many concurrent reads.
_S3_DEFAULT_CONFIG = {
    "connect_timeout": 5,
    "read_timeout": 20,
    "retries": {"max_attempts": 3, "mode": "standard"},
    "max_pool_connections": 64,
}

#: Concurrent requests a batched read keeps in flight on an async file system.
_READ_CONCURRENCY = 64


class FsspecResultTracker(StoreTracker):
    """A tracker that keeps each key's results in one JSON file under a base path.

    Parameters
    ----------
    tracker_base : str or os.PathLike
        A local folder or any fsspec URL (``s3://bucket/exp``, ``gs://...``,
        ``memory://...``). It is created on the first write.
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
        /,
        *,
        operation_timeout: float | None = 60.0,
        **storage_options: Any,
    ) -> None:
        base = os.fspath(tracker_base)
        if not isinstance(base, str) or not base:
            raise ValueError(f"tracker_base must be a non-empty path or URL, got {tracker_base!r}")
        self._base = base
        self._shown_base = redact_url(base)
        fs, root = _open_filesystem(base, storage_options)
        files: LocalFiles | RemoteFiles
        if isinstance(fs, LocalFileSystem):
            files = LocalFiles(root)
        else:
            files = RemoteFiles(
                fs, root, shown_base=self._shown_base, operation_timeout=operation_timeout
            )
        super().__init__(files)

    @property
    def tracker_base(self) -> str:
        """The base path or URL given at construction."""
        return self._base

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown_base!r})"


def _open_filesystem(base: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    protocol = fsspec.core.split_protocol(base)[0] or "file"
    options = dict(storage_options)
    if protocol in ("s3", "s3a"):
        config = {**_S3_DEFAULT_CONFIG, **options.get("config_kwargs", {})}
        options["config_kwargs"] = config
    try:
        fs, root = fsspec.core.url_to_fs(base, **options)
    except ImportError as error:
        extra = _EXTRA_FOR_PROTOCOL.get(protocol)
        hint = f"pip install 'resulttracker[{extra}]'" if extra else "install its fsspec package"
        raise ImportError(
            f"cannot open {redact_url(base)!r}: the file system for {protocol!r} is not "
            f"installed ({error}); {hint}"
        ) from error
    return fs, str(root).rstrip("/")


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# -- local files -------------------------------------------------------------------------

_OPEN_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_OPEN_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_file(path: str) -> tuple[bytes, float] | None:
    """Return the content (at most one byte over the document limit) and the
    modification time of a regular file, or ``None`` if there is none."""
    try:
        fd = os.open(path, _OPEN_READ)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        # Ask for one byte more than the size so that one read normally suffices;
        # a file still growing (a non-atomic writer) is read on, up to the limit.
        want = min(info.st_size, MAX_DOCUMENT_BYTES) + 1
        data = os.read(fd, want)
        if len(data) == want:
            chunks = [data]
            size = len(data)
            while size <= MAX_DOCUMENT_BYTES:
                chunk = os.read(fd, MAX_DOCUMENT_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        return data, info.st_mtime
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, _OPEN_FOLDER)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_name() -> str:
    # Unique per process (pid), per write (random bits); O_EXCL catches the rest.
    return f"{TEMP_PREFIX}{os.getpid()}-{random.getrandbits(64):016x}"


class LocalFiles(Store):
    """The store of a local folder (or NFS mount): atomic, durable file I/O under
    ``root``."""

    modification_times = True
    nested_keys = False  # a file cannot also be a folder

    def __init__(self, root: str) -> None:
        self.root = root or "/"
        self._prefix = self.root.rstrip("/") + "/"

    def path(self, key: str) -> str:
        # Keys are validated: no empty, '.' or '..' segments, no leading '/'.
        return self._prefix + key

    def location(self, key: str) -> str:
        return self.path(key)

    def read(self, key: str) -> bytes | None:
        found = _read_file(self._prefix + key)
        return None if found is None else found[0]

    def read_many(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        prefix = self._prefix
        for key in keys:
            found = _read_file(prefix + key)
            yield key, None if found is None else found[0]

    def scan(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        root = self._prefix
        for key in sorted(self.list_keys(prefix)):
            found = _read_file(root + key)
            if found is not None:
                yield key, found[0], _utc(found[1])

    def write(self, key: str, document: bytes) -> None:
        path = self.path(key)
        folder = path.rpartition("/")[0]
        temporary, fd = self._create_temporary(folder, key)
        try:
            view = memoryview(document)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temporary)
            raise
        os.close(fd)
        try:
            os.replace(temporary, path)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, IsADirectoryError):
                raise KeyConflictError(
                    f"cannot store key {key!r}: {path} is a folder holding other keys "
                    "(on a file system a key cannot also be the prefix of other keys)"
                ) from None
            raise
        _fsync_folder(folder)

    def _create_temporary(self, folder: str, key: str) -> tuple[str, int]:
        # Retry: the folder may be missing (first write, or removed by a concurrent
        # delete of its last key) or, very rarely, the random name may be taken.
        for _ in range(100):
            temporary = f"{folder}/{_temporary_name()}"
            try:
                return temporary, os.open(temporary, _OPEN_NEW, 0o666)
            except FileExistsError:
                continue
            except FileNotFoundError:
                self._make_folders(folder, key)
            except NotADirectoryError:
                raise self._conflict(key) from None
        raise OSError(f"could not create a temporary file in {folder} for key {key!r}")

    def _make_folders(self, folder: str, key: str) -> None:
        missing: list[str] = []
        while not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise self._conflict(key) from None
                continue
            except NotADirectoryError:
                raise self._conflict(key) from None
            # Make the new folder's own entry durable too.
            _fsync_folder(os.path.dirname(path))

    def _conflict(self, key: str) -> KeyConflictError:
        segments = key.split("/")
        for depth in range(1, len(segments)):
            holder = "/".join(segments[:depth])
            if os.path.isfile(self.path(holder)):
                return KeyConflictError(
                    f"cannot store key {key!r}: the key {holder!r} holds results at "
                    f"{self.path(holder)} (on a file system a key cannot also be the "
                    "prefix of other keys)"
                )
        return KeyConflictError(f"cannot store key {key!r}: a file is in the way of {key!r}")

    def delete(self, key: str) -> bool:
        path = self.path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        folder = path.rpartition("/")[0]
        _fsync_folder(folder)
        # Leave no empty folders behind, as an object store would not. A
        # concurrent writer whose folder vanishes recreates it (_create_temporary).
        while len(folder) > len(self._prefix):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = folder.rpartition("/")[0]
        return True

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        start = self.root if not prefix else self.path(prefix)
        if prefix and os.path.isfile(start):
            return [prefix]
        pending = [(start, prefix + "/" if prefix else "")]
        while pending:
            folder, key_prefix = pending.pop()
            try:
                entries = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(TEMP_PREFIX):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, key_prefix + name + "/"))
                    elif entry.is_file():
                        keys.append(key_prefix + name)
        return keys

    def temporary_files(self, prefix: str) -> list[tuple[str, float]]:
        """``(path, age in seconds)`` of the temporary files under ``prefix``, which
        only interrupted writers leave behind."""
        found = []
        start = self.root if not prefix else self.path(prefix)
        now = time.time()
        for folder, _, names in os.walk(start):
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    path = f"{folder}/{name}"
                    with contextlib.suppress(FileNotFoundError):  # its put just finished
                        found.append((path, now - os.stat(path).st_mtime))
        return found

    def remove_temporary_file(self, path: str) -> bool:
        if not os.path.basename(path).startswith(TEMP_PREFIX) or not path.startswith(self._prefix):
            raise ValueError(f"{path} is not a temporary file under {self.root}")
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True


# -- any other fsspec file system --------------------------------------------------------

_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _modified(info: Mapping[str, Any]) -> datetime | None:
    """The modification time in an fsspec ``info`` dict, whatever the store calls it."""
    for field in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = info.get(field)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, (int, float)):
            return _utc(float(value))
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


class RemoteFiles(Store):
    """The store of any other fsspec file system; one request per write.

    On async file systems (s3fs, gcsfs, adlfs, http) every call runs on the file
    system's event loop under one deadline, ``operation_timeout`` seconds: the
    storage libraries' own retries can otherwise stack up to minutes against an
    endpoint that accepts connections and never answers.
    """

    def __init__(
        self, fs: Any, root: str, *, shown_base: str, operation_timeout: float | None
    ) -> None:
        self.fs = fs
        self.root = root
        self.operation_timeout = operation_timeout
        self._async = bool(getattr(fs, "async_impl", False))
        self._prefix = root + "/" if root else ""
        self._shown_base = shown_base
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self._protocol = protocol
        self._url_prefix = f"{protocol}://{self._prefix}"
        self._split_path: Callable[[str], tuple[str, ...]] | None = getattr(fs, "split_path", None)
        self.modification_times = True
        # Object stores have no folders: "a" and "a/b" can both be keys there.
        self.nested_keys = self._split_path is not None

    def path(self, key: str) -> str:
        path = self._prefix + key
        if self._split_path is not None:
            # Some file systems read parts of a path as options (s3fs takes
            # "?versionId=..." as an object version): refuse a key that would not
            # be stored literally rather than write it somewhere else.
            bucket, name, *_ = self._split_path(path)
            if f"{bucket}/{name}" != path:
                raise InvalidKeyError(
                    f"key {key!r} cannot be stored literally on {self._protocol}:// "
                    f"(the file system reads it as {bucket}/{name} plus options)"
                )
        return path

    def location(self, key: str) -> str:
        return redact_url(self._url_prefix + key)

    def _run(
        self,
        operation: str,
        function: Callable[..., Any],
        coroutine_function: Callable[..., Any] | None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run one storage call (the coroutine, under the deadline, on async file
        systems), turning storage-library errors into :class:`StoreError`."""
        try:
            if coroutine_function is not None:
                return fsspec.asyn.sync(
                    self.fs.loop,
                    coroutine_function,
                    *args,
                    timeout=self.operation_timeout,
                    **kwargs,
                )
            return function(*args, **kwargs)
        except (*_MISSING, FileExistsError, ResultTrackerError):
            raise  # a missing key, or a key conflict (see ``write``)
        except fsspec.exceptions.FSTimeoutError as error:
            raise StoreError(
                f"{operation} on {self._shown_base!r} did not finish within "
                f"{self.operation_timeout:g} s (operation_timeout)"
            ) from error
        except Exception as error:
            raise StoreError(
                f"{operation} on {self._shown_base!r} failed: {type(error).__name__}: {error}"
            ) from error

    def _call(self, operation: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``fs.<method>(...)``, or its coroutine ``fs._<method>`` on async file systems."""
        coroutine_function = getattr(self.fs, "_" + method, None) if self._async else None
        return self._run(operation, getattr(self.fs, method), coroutine_function, *args, **kwargs)

    def read(self, key: str) -> bytes | None:
        found: bytes | None = self._run(
            f"reading key {key!r}",
            self._fetch_sync,
            self._fetch if self._async else None,
            self.path(key),
        )
        return found

    def read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        paths = [self.path(key) for key in keys]
        documents = self._run(
            f"reading {len(keys)} keys",
            self._fetch_many_sync,
            self._fetch_many if self._async else None,
            paths,
        )
        return zip(keys, documents, strict=True)

    def _fetch_sync(self, path: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(path, start=0, end=MAX_DOCUMENT_BYTES + 1)
        except _MISSING:
            return None
        return data

    async def _fetch(self, path: str) -> bytes | None:
        # A bounded range read: a huge object is refused without being fetched
        # whole, and s3fs sends no HEAD before a ranged GET. An empty object
        # cannot satisfy any range (HTTP 416), so that one case is read again whole.
        try:
            data: bytes = await self.fs._cat_file(path, start=0, end=MAX_DOCUMENT_BYTES + 1)
        except _MISSING:
            return None
        except OSError as error:
            if error.errno != errno.EINVAL or "range" not in str(error).lower():
                raise
            data = await self.fs._cat_file(path)
        return bytes(data)

    def _fetch_many_sync(self, paths: list[str]) -> list[bytes | None]:
        return [self._fetch_sync(path) for path in paths]

    async def _fetch_many(self, paths: list[str]) -> list[bytes | None]:
        limit = asyncio.Semaphore(_READ_CONCURRENCY)

        async def read_one(path: str) -> bytes | None:
            async with limit:
                return await self._fetch(path)

        return list(await asyncio.gather(*(read_one(path) for path in paths)))

    def write(self, key: str, document: bytes) -> None:
        path = self.path(key)
        operation = f"writing key {key!r}"
        try:
            try:
                self._call(operation, "pipe_file", path, document)
            except FileNotFoundError:
                # File systems with real folders (sftp, memory...) may need the
                # parent first; object stores never get here: a write stays one PUT.
                self._call(operation, "makedirs", self.fs._parent(path), exist_ok=True)
                self._call(operation, "pipe_file", path, document)
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as error:
            raise KeyConflictError(
                f"cannot store key {key!r} on {self._shown_base!r}: another key is a "
                f"prefix of it, or it is the prefix of other keys ({error}); this file "
                "system cannot hold a key that is also a folder"
            ) from error

    def delete(self, key: str) -> bool:
        path = self.path(key)
        operation = f"deleting key {key!r}"
        self.fs.invalidate_cache(path)
        try:
            info = self._call(operation, "info", path)
        except _MISSING:
            return False
        if info.get("type") != "file":
            return False
        self._call(operation, "rm_file", path)
        return True

    def entries(self, prefix: str) -> dict[str, Mapping[str, Any]]:
        """``{key: info}`` for every file under ``prefix``, freshly listed."""
        start = self.path(prefix) if prefix else self.root
        # Listings are cached by some file systems (s3fs): another process's
        # writes must show up on the next call.
        self.fs.invalidate_cache(start)
        try:
            found = self._call("listing keys", "find", start, detail=True)
        except _MISSING:
            return {}
        skip = len(self._prefix)
        entries = {}
        for path, info in found.items():
            path = self.fs._strip_protocol(path)
            if not path.startswith(self._prefix) or info.get("type", "file") != "file":
                continue
            key = path[skip:]
            if key.rpartition("/")[2].startswith(TEMP_PREFIX):
                continue
            if key_has_prefix(key, prefix):
                entries[key] = info
        return entries

    def list_keys(self, prefix: str) -> list[str]:
        return list(self.entries(prefix))

    def scan(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        entries = self.entries(prefix)
        keys = sorted(entries)
        for start in range(0, len(keys), BATCH_SIZE):
            for key, document in self.read_many(keys[start : start + BATCH_SIZE]):
                yield key, document, _modified(entries[key])
