"""The drivers behind :class:`~resulttracker.backends.fsspec.FsspecResultTracker`:
opening a base, and :class:`RemoteFiles`, the store of every fsspec file system
other than a local folder.

* :class:`~resulttracker.backends.local.LocalFiles` (in :mod:`.local`), for local
  paths (and NFS mounts), talks to the operating system directly so that a write
  can be atomic and durable (temporary file, ``fsync``, ``os.replace``, ``fsync``
  of the folder) and never goes through a symbolic link, which fsspec cannot do;
* :class:`RemoteFiles`, for every other fsspec file system (``s3://``,
  ``gs://``, ``az://``, ``memory://``...), where one write is one PUT and many
  reads run concurrently on async file systems.

A plain local path (or a ``file://`` URL) is opened without importing fsspec at
all (:func:`local_root` reads it as fsspec would): fsspec and its asyncio
machinery cost a job or the command line more time to import than reading a
key takes. They are imported when a URL first needs them.

This module knows nothing of the tracker API, so that export (which uploads
through :func:`open_destination`) and the tracker can both use it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .._urls import redact_url
from ..codec import MAX_DOCUMENT_BYTES
from ..errors import InvalidKeyError, KeyConflictError, ResultTrackerError, StoreError
from ..store import BATCH_SIZE, Listed, Store, Versioned, content_version
from ..validation import is_reserved_name, key_has_prefix, normalize_key
from . import _object_stores as object_stores

__all__ = ["RemoteFiles", "is_local", "local_root", "open_destination", "open_filesystem"]

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


#: What fsspec's local file system strips from the front of a path, in its order.
_LOCAL_PREFIXES = ("file://", "file:", "local://", "local:")


def local_root(base: str) -> str | None:
    """The folder a local ``base`` names, exactly as fsspec's ``url_to_fs`` would
    give it (``~`` expanded, relative paths made absolute against the current
    folder, ``file://`` stripped, no trailing slash; ``""`` for ``/``); ``None``
    when ``base`` is not a plain local path (a URL of another protocol, a chained
    ``a::b`` URL, or a system whose paths are not POSIX), which fsspec then opens.

    Examples
    --------
    >>> local_root("/data/results/")
    '/data/results'
    >>> local_root("file:///data/results")
    '/data/results'
    >>> local_root("s3://bucket/exp") is None
    True
    """
    if os.sep != "/" or "::" in base or base.startswith("data:"):
        return None
    head, separator, _ = base.partition("://")
    if separator and len(head) > 1 and head not in ("file", "local"):
        return None  # fsspec's split_protocol: a one-letter "scheme" is a drive
    path = base
    for prefix in _LOCAL_PREFIXES:  # LocalFileSystem._strip_protocol
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    # fsspec.implementations.local.make_path_posix, on POSIX
    if not path.startswith("/"):
        if path.startswith("~"):
            path = os.path.expanduser(path)
        else:
            if path.startswith("./"):
                path = path[2:]
            elif path == ".":
                path = ""
            path = f"{os.getcwd()}/{path}"
    return path.rstrip("/")


def is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def open_filesystem(base: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    import fsspec

    protocol = fsspec.core.split_protocol(base)[0] or "file"
    options = dict(storage_options)
    if protocol in ("s3", "s3a"):
        config = {**_S3_DEFAULT_CONFIG, **options.get("config_kwargs", {})}
        options["config_kwargs"] = config
    try:
        if protocol in ("gs", "gcs") and not _gcsfs_extended_asked_for():
            fs, root = _plain_gcs(base, options)
        else:
            fs, root = fsspec.core.url_to_fs(base, **options)
    except ImportError as error:
        extra = _EXTRA_FOR_PROTOCOL.get(protocol)
        hint = f"pip install 'resulttracker[{extra}]'" if extra else "install its fsspec package"
        raise ImportError(
            f"cannot open {redact_url(base)!r}: the file system for {protocol!r} is not "
            f"installed ({error}); {hint}"
        ) from error
    if protocol in ("s3", "s3a"):
        object_stores.fast_s3_timestamps(fs)
    return fs, str(root).rstrip("/")


#: gcsfs's default file system (``ExtendedGcsFileSystem``, for zonal and
#: hierarchical buckets) first asks a gRPC control plane for each bucket's type,
#: and where that endpoint is unreachable (an emulator, a network without gRPC
#: egress) waits out a 60 s retry per operation before falling back, without
#: caching the failure. The plain JSON-API file system serves every other bucket
#: at full speed; setting ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=true`` explicitly
#: opts back into gcsfs's default.
def _gcsfs_extended_asked_for() -> bool:
    return os.environ.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "").lower() in ("true", "1")


def _plain_gcs(base: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    from gcsfs.core import GCSFileSystem

    return GCSFileSystem(**options), GCSFileSystem._strip_protocol(base)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# -- any other fsspec file system --------------------------------------------------------

_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)

#: What each object store calls the top level of its paths.
_CONTAINER_WORD = {"az": "container", "abfs": "container", "abfss": "container"}

#: How long a bucket seen to exist is taken to still exist when a store cannot
#: say whether a "not found" is about the key or the bucket (GCS): a missing key
#: then costs one bucket check per this many seconds, not one per read.
_CONTAINER_RECHECK_SECONDS = 60.0

#: How the names of folder markers end: consoles' "exp/", Hadoop's "exp_$folder$".
_FOLDER_MARKER_ENDINGS = ("/", "_$folder$")

#: What ``_fetch`` returns for a "not found" that may be the bucket's.
_UNSURE: Any = object()


class _MissingContainerError(StoreError):
    """The bucket (container) of an object-store base does not exist."""


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


def _is_key(name: str) -> bool:
    try:
        normalize_key(name)
    except InvalidKeyError:
        return False
    return True


class RemoteFiles(Store):
    """The store of any other fsspec file system; one request per write.

    On async file systems (s3fs, gcsfs, adlfs, http) every call runs on the file
    system's event loop under one deadline, ``operation_timeout`` seconds: the
    storage libraries' own retries can otherwise stack up to minutes against an
    endpoint that accepts connections and never answers.

    Object stores (file systems with buckets) never get a bucket created: a
    missing one is a :class:`StoreError` naming it, from every operation.

    ``reopen`` builds the file system anew; it is called in a child process
    after ``os.fork()``, where the parent's event loop, its thread and its
    connections do not exist.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        shown_base: str,
        operation_timeout: float | None,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        self.root = root
        self.operation_timeout = operation_timeout
        self._prefix = root + "/" if root else ""
        self._shown_base = shown_base
        self._reopen = reopen
        self._container_seen = -math.inf
        self._fs = fs
        self._pid = os.getpid()
        self._async = bool(getattr(fs, "async_impl", False))
        self._split_path: Callable[[str], tuple[str, ...]] | None = getattr(fs, "split_path", None)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self._protocol = protocol
        # Locations in messages use the scheme the user wrote (az://, not abfs://).
        self._scheme = shown_base.partition("://")[0] if "://" in shown_base else protocol
        self._url_prefix = f"{self._scheme}://{self._prefix}"
        self.modification_times = True
        # Object stores have no folders: "a" and "a/b" can both be keys there.
        self.nested_keys = self._split_path is not None
        #: The bucket (container) holding the base; "" on file systems without buckets.
        self.container = str(self._split_path(root)[0]) if self._split_path and root else ""
        self._container_word = _CONTAINER_WORD.get(protocol, "bucket")

    @property
    def fs(self) -> Any:
        """The file system, rebuilt on first use in a forked child process."""
        if self._pid != os.getpid():
            # fsspec refuses to use an async file system in a forked child ("not
            # fork-safe"): its loop and sessions stayed with the parent. (The new
            # one is of the same class: ``_async`` and ``_split_path`` still hold.)
            if self._reopen is not None:
                self._fs = self._reopen()
            self._pid = os.getpid()
        return self._fs

    def path(self, key: str) -> str:
        path = self._prefix + key
        split_path = self._split_path
        if split_path is not None:
            # Some file systems read parts of a path as options (s3fs takes
            # "?versionId=..." as an object version): refuse a key that would not
            # be stored literally rather than write it somewhere else.
            bucket, name, *_ = split_path(path)
            if f"{bucket}/{name}" != path:
                raise InvalidKeyError(
                    f"key {key!r} cannot be stored literally on {self._scheme}:// "
                    f"(the file system reads it as {bucket}/{name} plus options)"
                )
        return path

    def location(self, key: str) -> str:
        return redact_url(self._url_prefix + key)

    def _missing_container(self, operation: str) -> _MissingContainerError:
        word = self._container_word
        return _MissingContainerError(
            f"{operation} on {self._shown_base!r} failed: the {word} {self.container!r} "
            f"does not exist (resulttracker never creates a {word}: create it, or check "
            "the URL and the endpoint)"
        )

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
        import fsspec.asyn

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
        except Exception as error:
            translated = self._translate(operation, error)
            if translated is error:
                raise
            raise translated from error

    def _translate(self, operation: str, error: Exception) -> Exception:
        """The error to raise for ``error``: missing keys and key conflicts as they
        are (the callers handle them), a missing bucket or any other failure of the
        store as a :class:`StoreError`."""
        if self.container and object_stores.names_missing_container(error):
            return self._missing_container(operation)
        if isinstance(error, _MISSING):
            if (
                self.container
                and not object_stores.names_missing_key(error)
                and not self._container_known(operation)
            ):
                return self._missing_container(operation)
            return error  # a missing key (see ``read``, ``entries``, ``delete``)
        if isinstance(error, (FileExistsError, ResultTrackerError)):
            return error  # a key conflict (see ``write``)
        import fsspec.exceptions

        if isinstance(error, fsspec.exceptions.FSTimeoutError):
            return StoreError(
                f"{operation} on {self._shown_base!r} did not finish within "
                f"{self.operation_timeout:g} s (operation_timeout)"
            )
        return self._failed(operation, error)

    def _container_known(self, operation: str, *, fresh: bool = False) -> bool:
        """Whether the bucket exists: asked of the store, unless it was seen to
        exist in the last ``_CONTAINER_RECHECK_SECONDS`` (and not ``fresh``)."""
        now = time.monotonic()
        if not fresh and now - self._container_seen < _CONTAINER_RECHECK_SECONDS:
            return True
        if self._protocol in object_stores.KNOWN_PROTOCOLS and self._async:
            exists = bool(
                self._run(
                    operation,
                    lambda: None,
                    object_stores.container_exists,
                    self.fs,
                    self._protocol,
                    self.container,
                )
            )
        else:
            exists = bool(self._run(operation, self.fs.exists, None, self.container))
        if exists:
            self._container_seen = now
        return exists

    def _failed(self, operation: str, error: BaseException) -> StoreError:
        return StoreError(
            f"{operation} on {self._shown_base!r} failed: {type(error).__name__}: {error}"
        )

    def _call(self, operation: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``fs.<method>(...)``, or its coroutine ``fs._<method>`` on async file systems."""
        fs = self.fs
        coroutine_function = getattr(fs, "_" + method, None) if self._async else None
        return self._run(operation, getattr(fs, method), coroutine_function, *args, **kwargs)

    def _read_path(self, operation: str, path: str) -> bytes | None:
        found = self._run(operation, self._fetch_sync, self._fetch if self._async else None, path)
        return self._settle(operation, [found])[0]

    def _settle(self, operation: str, found: list[Any]) -> list[bytes | None]:
        """Documents read, with each "not found" that the store did not say was the
        key's settled by (at most) one check of the bucket."""
        if any(document is _UNSURE for document in found):
            if not self._container_known(operation):
                raise self._missing_container(operation)
            found = [None if document is _UNSURE else document for document in found]
        return found

    def read(self, key: str) -> bytes | None:
        return self._read_path(f"reading key {key!r}", self.path(key))

    def exists(self) -> bool:
        """Whether the bucket (or, without buckets, the base folder) exists."""
        operation = "checking that the base exists"
        if not self.container:
            return bool(self._call(operation, "isdir", self.root))
        return self._container_known(operation, fresh=True)

    def read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        paths = [self.path(key) for key in keys]
        operation = f"reading {len(keys)} keys"
        documents = self._run(
            operation, self._fetch_many_sync, self._fetch_many if self._async else None, paths
        )
        return zip(keys, self._settle(operation, documents), strict=True)

    def _not_found(self, error: BaseException) -> Any:
        """What a read that found nothing returns: ``None`` for a missing key,
        ``_UNSURE`` if the bucket may be missing; a missing bucket raises."""
        if not self.container or object_stores.names_missing_key(error):
            return None
        if object_stores.names_missing_container(error):
            raise error  # _run names the bucket
        return _UNSURE

    def _fetch_sync(self, path: str) -> Any:
        try:
            data: bytes = self.fs.cat_file(path, start=0, end=MAX_DOCUMENT_BYTES + 1)
        except _MISSING as error:
            return self._not_found(error)
        return data

    async def _fetch(self, path: str) -> Any:
        # A bounded range read: a huge object is refused without being fetched
        # whole, and s3fs sends no HEAD before a ranged GET. An empty object
        # cannot satisfy any range (HTTP 416), so that one case is read again whole.
        fs = self.fs
        try:
            data: bytes = await fs._cat_file(path, start=0, end=MAX_DOCUMENT_BYTES + 1)
        except _MISSING as error:
            return self._not_found(error)
        except Exception as error:
            if not object_stores.is_unsatisfiable_range(error):
                raise
            data = await fs._cat_file(path)
        return bytes(data)

    def _fetch_many_sync(self, paths: list[str]) -> list[Any]:
        return [self._fetch_sync(path) for path in paths]

    async def _fetch_many(self, paths: list[str]) -> list[Any]:
        return await _bounded_gather(self._fetch, paths)

    def write(self, key: str, document: bytes) -> None:
        path = self.path(key)
        operation = f"writing key {key!r}"
        try:
            try:
                self._call(operation, "pipe_file", path, document)
                self._container_seen = time.monotonic()
            except FileNotFoundError as error:
                if self.container:
                    # Object stores have no folders to make (and s3fs's makedirs
                    # would create the bucket): a write stays one PUT.
                    raise self._failed(operation, error) from error
                # File systems with real folders (sftp, memory...) may need the parent.
                self._call(operation, "makedirs", self.fs._parent(path), exist_ok=True)
                self._call(operation, "pipe_file", path, document)
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as error:
            raise KeyConflictError(
                f"cannot store key {key!r} on {self._shown_base!r}: another key is a "
                f"prefix of it, or it is the prefix of other keys ({error}); this file "
                "system cannot hold a key that is also a folder"
            ) from error

    def upload(self, local_path: str, operation: str) -> None:
        """Copy the local file ``local_path`` to ``root`` itself, as one operation
        under the deadline (an object store shows the object only once complete)."""
        if not self.container:
            self._call(operation, "makedirs", self.fs._parent(self.root), exist_ok=True)
        self._call(operation, "put_file", local_path, self.root)

    def delete(self, key: str) -> bool:
        path = self.path(key)
        operation = f"deleting key {key!r}"
        if self.container and self._async:
            # Whether that exact object exists: a one-byte read. (``info`` may
            # answer for a "key/" folder marker, or for the keys below the key.)
            found = self._run(operation, lambda: None, self._probe, path)
            if self._settle(operation, [found])[0] is None:
                return False
        else:
            self.fs.invalidate_cache(path)
            try:
                info = self._call(operation, "info", path)
            except _MISSING:
                return False
            if info.get("type") != "file":
                return False
        try:
            self._call(operation, "rm_file", path)
        except _MISSING:
            return False  # deleted meanwhile by someone else
        return True

    async def _probe(self, path: str) -> Any:
        try:
            await self.fs._cat_file(path, start=0, end=1)
        except _MISSING as error:
            return self._not_found(error)
        except Exception as error:
            if not object_stores.is_unsatisfiable_range(error):
                raise
        return b""

    def entries(
        self, prefix: str, reserved: list[str] | None = None
    ) -> dict[str, Mapping[str, Any]]:
        """``{key: info}`` for every key under ``prefix``, freshly listed.

        Only names a key can have are keys: folder markers (``exp/`` objects that
        consoles create, empty or not), temporary files and names such as ``a//b``
        are left out, as ``get`` could never read them. The names of the store's
        own files (snapshots, under ``.resulttracker/``) met on the way are added
        to ``reserved``.
        """
        operation = "listing keys"
        start = self.path(prefix) if prefix else self.root
        if self._async and self._protocol in object_stores.KNOWN_PROTOCOLS:
            # The store's own listing: names exactly as stored, with their times.
            try:
                names = self._run(operation, lambda: None, self._list_objects, start)
            except _MISSING:
                names = []  # not the bucket (_run checked): nothing there
        else:
            names = self._find(operation, start)
        skip = len(self._prefix)
        entries = {}
        for path, info in names:
            if not path.startswith(self._prefix) or path.endswith(_FOLDER_MARKER_ENDINGS):
                continue  # a folder marker, the base's own included
            key = path[skip:]
            if reserved is not None and is_reserved_name(key[len(prefix) :]):
                reserved.append(key)
            elif key_has_prefix(key, prefix) and _is_key(key):
                entries[key] = info
        return entries

    async def _list_objects(self, start: str) -> list[tuple[str, Mapping[str, Any]]]:
        container = self.container
        # Everything below the base ("base/"), or every name starting with the
        # prefix's path ("base/exp": the key, the keys below it, and siblings such
        # as "base/exp10" that ``entries`` filters out): one listing either way.
        name_prefix = start[len(container) + 1 :]
        if start == self.root and name_prefix:
            name_prefix += "/"
        return [
            (f"{container}/{name}", info)
            async for name, info in object_stores.list_objects(
                self.fs, self._protocol, container, name_prefix
            )
        ]

    def _find(self, operation: str, start: str) -> list[tuple[str, Mapping[str, Any]]]:
        # Listings are cached by some file systems (s3fs): another process's
        # writes must show up on the next call.
        self.fs.invalidate_cache(start)
        try:
            found = self._call(operation, "find", start, detail=True)
        except _MISSING:
            return []
        strip_protocol = self.fs._strip_protocol
        return [
            (strip_protocol(name), info)
            for name, info in found.items()
            if info.get("type", "file") == "file" and not name.endswith("/")
        ]

    def list_keys(self, prefix: str) -> list[str]:
        return list(self.entries(prefix))

    def scan(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        entries = self.entries(prefix)
        keys = sorted(entries)
        for start in range(0, len(keys), BATCH_SIZE):
            for key, document in self.read_many(keys[start : start + BATCH_SIZE]):
                yield key, document, _modified(entries[key])

    # -- versions (snapshots and the change feed) -------------------------------------

    snapshots = True

    @property
    def versions(self) -> bool:  # type: ignore[override]
        """Object-store listings carry a version tag (S3 and Azure: the ETag; GCS:
        the generation), and a GET the tag of exactly what it returns."""
        return self._protocol in object_stores.KNOWN_PROTOCOLS and self._async

    def identity(self) -> str | None:
        # The protocol, the service (endpoint or account) and the bucket and path;
        # credentials are never read (see object_stores.endpoint).
        if not self.versions:
            return None  # every scan reads every document: a cache would not serve
        # fsspec keeps a URL's user-info ("s3://key:secret@bucket") in the path.
        container, _, rest = self.root.partition("/")
        root = f"{container.rpartition('@')[2]}/{rest}"
        return f"{self._protocol}|{object_stores.endpoint(self.fs, self._protocol)}|{root}"

    def list_versions(self, prefix: str) -> Iterator[Listed]:
        # A generator: nothing is listed until the caller iterates.
        if not self.versions:
            yield from super().list_versions(prefix)
            return
        for key, info in self.entries(prefix).items():
            yield Listed(key, info.get("version"), _modified(info))

    # Faster than the default: a listing of every key also lists the reserved
    # folder, so looking for a snapshot costs no request of its own.
    def list_versions_and_reserved(self, prefix: str) -> tuple[Iterable[Listed], list[str] | None]:
        if prefix or not self.versions:
            return super().list_versions_and_reserved(prefix)
        reserved: list[str] = []
        listing = [
            Listed(key, info.get("version"), _modified(info))
            for key, info in self.entries(prefix, reserved).items()
        ]
        return listing, reserved

    def read_versioned(self, key: str) -> Versioned:
        if not (self.versions and self._async):
            return super().read_versioned(key)
        return next(iter(self.read_many_versioned([key])))[1]

    def read_many_versioned(self, keys: Sequence[str]) -> Iterable[tuple[str, Versioned]]:
        if not (self.versions and self._async):
            # Content hashes as versions, the documents read in one batch.
            return [
                (key, Versioned(document, content_version(document), None))
                if document is not None
                else (key, Versioned(None, None, None))
                for key, document in self.read_many(keys)
            ]
        paths = [self.path(key) for key in keys]
        operation = f"reading {len(keys)} keys"
        found = self._run(operation, _unreachable, self._fetch_many_versioned, paths)
        if any(item is _UNSURE for item in found) and not self._container_known(operation):
            raise self._missing_container(operation)
        missing = Versioned(None, None, None)
        return zip(keys, [missing if item is _UNSURE else item for item in found], strict=True)

    async def _fetch_versioned(self, path: str) -> Any:
        # One GET that also gives the ETag of exactly the bytes returned (no HEAD),
        # bounded like _fetch. The modification time is left to the listing, which
        # plain scans use too (a GET's Last-Modified has only whole seconds).
        bucket, name, *_ = self.fs.split_path(path)
        if self._protocol != "s3":
            try:
                data, version = await object_stores.read_versioned(
                    self.fs, self._protocol, bucket, name, MAX_DOCUMENT_BYTES
                )
            except _MISSING as error:
                return self._versioned_not_found(error)
            return Versioned(data, version, None)
        try:
            response = await self.fs._call_s3(
                "get_object", Bucket=bucket, Key=name, Range=f"bytes=0-{MAX_DOCUMENT_BYTES}"
            )
        except _MISSING as error:
            return self._versioned_not_found(error)
        except Exception as error:
            if not object_stores.is_unsatisfiable_range(error):
                raise
            try:  # an empty object cannot satisfy any range
                response = await self.fs._call_s3("get_object", Bucket=bucket, Key=name)
            except _MISSING as missing:
                return self._versioned_not_found(missing)
        body = response["Body"]
        try:
            data = await body.read()
        finally:
            body.close()
        return Versioned(bytes(data), object_stores.etag_version(response.get("ETag")), None)

    # Faster than the default on S3: one LIST request, where a listing of a
    # missing folder costs s3fs three (LIST, then HEAD and LIST to tell a file).
    def list_reserved(self, folder: str) -> Iterable[str]:
        if not (self.versions and self._async):
            return self.list_keys(folder)
        parent, _, last = folder.rpartition("/")
        start = self.path(parent) if parent else self.root
        # s3fs: a prefix makes `find` one listing of "<start>/<prefix>", with no
        # HEAD when nothing is there.
        found = self._call("listing snapshots", "find", start, prefix=last + "/", detail=False)
        names = (self.fs._strip_protocol(path) for path in found)
        return [path[len(self._prefix) :] for path in names if path.startswith(self._prefix)]

    def _versioned_not_found(self, error: BaseException) -> Any:
        found = self._not_found(error)
        return Versioned(None, None, None) if found is None else found

    async def _fetch_many_versioned(self, paths: list[str]) -> list[Any]:
        return await _bounded_gather(self._fetch_versioned, paths)


async def _bounded_gather(fetch: Callable[[str], Awaitable[Any]], paths: list[str]) -> list[Any]:
    """``fetch`` of every path, in order, at most :data:`_READ_CONCURRENCY` at once."""
    import asyncio

    limit = asyncio.Semaphore(_READ_CONCURRENCY)

    async def read_one(path: str) -> Any:
        async with limit:
            return await fetch(path)

    return list(await asyncio.gather(*(read_one(path) for path in paths)))


def open_destination(
    url: str, storage_options: Mapping[str, Any] | None = None
) -> RemoteFiles | None:
    """A :class:`RemoteFiles` whose ``root`` is the file ``url`` names, to
    :meth:`~RemoteFiles.upload` to; ``None`` for a local path.

    ``storage_options`` are those of :class:`FsspecResultTracker`,
    ``operation_timeout`` (60 s by default) included.
    """
    options = dict(storage_options or {})
    operation_timeout = options.pop("operation_timeout", 60.0)
    if local_root(url) is not None:
        return None
    fs, path = open_filesystem(url, options)
    if is_local(fs):
        return None
    return RemoteFiles(fs, path, shown_base=redact_url(url), operation_timeout=operation_timeout)


def _unreachable(*_: Any) -> Any:
    raise AssertionError("an async file system's call ran synchronously")
