"""``LocalFiles``: the one layer through which the folder backend touches files.

Keys of a local folder (or an NFS mount) are files under a base folder. Every
read, write, listing and removal here walks from the base one name at a time,
``openat``-style: the first name by the base's path, each next one relative to
the folder just opened (``dir_fd=``), all with ``O_NOFOLLOW`` (and
``O_DIRECTORY`` for folders), so that:

* a symbolic link inside the base is never followed, whatever its place in a
  key's path, and one swapped in between a check and a use is not either
  (there is no check-then-use: each step opens relative to the folder the
  previous step opened);
* only regular files are read: a FIFO, socket or device at a key's path is
  opened non-blocking (or not at all, in listings) and refused, never read;
* a write is atomic and durable: a temporary file created with ``O_EXCL`` in
  the key's folder, ``fsync``, ``rename`` over the key, ``fsync`` of the folder;
* concurrent writers and deleters of one folder never make each other fail: a
  folder that vanishes mid-walk (a delete pruned it) is created again.

The base itself is trusted: it may be (or lie below) a symbolic link, as given.
Nothing is cached between calls, so other processes' changes are always seen.

Entries that are not folders are keys: a symbolic link or a special file at a
key's path is listed, and reading it raises :class:`CorruptResultError`, so
``scan(on_corrupt=...)`` and ``check`` report it like a corrupt document.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import stat
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from ..codec import MAX_DOCUMENT_BYTES
from ..errors import CorruptResultError, KeyConflictError, StoreError
from ..store import Listed, Store, Versioned
from ..validation import RESERVED_PREFIX, TEMP_PREFIX
from .local_versions import on_network_file_system, stat_version, trusted

__all__ = ["LocalFiles", "ScannedDocument"]

#: ``(key, document, modified)`` from a scan; in place of the document, the
#: :class:`CorruptResultError` of an entry that is never read.
ScannedDocument = tuple[str, bytes | CorruptResultError | None, datetime | None]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# getattr: so that the package still imports where these do not exist (Windows);
# LocalFiles then refuses to start rather than run without its checks.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_SUPPORTED = (
    bool(_NOFOLLOW and _DIRECTORY)
    and {os.open, os.mkdir, os.stat, os.unlink, os.rmdir, os.rename} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
)
#: The base: followed if it is a symbolic link (the caller chose it).
_OPEN_BASE = os.O_RDONLY | _DIRECTORY | _CLOEXEC
#: A folder inside the base: never through a symbolic link.
_OPEN_FOLDER = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
#: A key's file: never through a symbolic link; a FIFO opens without waiting for
#: a writer and a terminal does not become the controlling one.
_OPEN_READ = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _NOCTTY | _CLOEXEC
_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC

#: Attempts at a walk or a write whose folders other processes keep removing.
_ATTEMPTS = 100

#: What a listing knows of an entry from its directory record alone.
_REGULAR, _OTHER = 0, 1

_NOT_FOLLOWED = (
    "resulttracker never follows symbolic links inside its base, so that no key "
    "reads or writes anything outside it"
)


class _InTheWayError(Exception):
    """Something other than a folder is at the folder ``segments[:depth + 1]`` of
    a key's path, or (``depth`` ``None``) other than a regular file at the key
    itself; ``mode`` says what."""

    def __init__(self, depth: int | None, mode: int) -> None:
        super().__init__(depth, mode)
        self.depth = depth
        self.mode = mode


def _describe(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "a file of unknown type"


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _temporary_name() -> str:
    # Unique per process (pid), per write (random bits); O_EXCL catches the rest.
    return f"{TEMP_PREFIX}{os.getpid()}-{random.getrandbits(64):016x}"


def _lstat_mode(dir_fd: int | None, name: str) -> int | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except (FileNotFoundError, NotADirectoryError):  # (the base is a file)
        return None
    except OSError as error:
        if error.errno == errno.ESTALE:
            return None  # NFS: the folder was removed by another client
        raise


def _open_folder(dir_fd: int | None, name: str, depth: int) -> int:
    """Open the folder ``name`` in ``dir_fd`` (``None``: ``name`` is a path whose
    last name is not followed) without following a symbolic link.

    Raises FileNotFoundError if there is nothing, :class:`_InTheWayError` if it is
    anything but a folder.
    """
    for _ in range(_ATTEMPTS):
        try:
            return os.open(name, _OPEN_FOLDER, dir_fd=dir_fd)
        except FileNotFoundError:
            raise
        except OSError as error:
            mode = _lstat_mode(dir_fd, name)
            if mode is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name) from None
            if stat.S_ISDIR(mode):
                if error.errno in (errno.ENOTDIR, errno.ELOOP, errno.EMLINK):
                    continue  # it was swapped for a folder in between: open that
                raise  # a folder we may not open (permissions): say so
            raise _InTheWayError(depth, mode) from None
    raise FileNotFoundError(errno.ENOENT, "a folder keeps changing", name)


def _read_open_file(fd: int) -> tuple[bytes, float] | int:
    """The content (at most one byte over the document limit) and modification
    time of the regular file open at ``fd``, else its mode."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return info.st_mode
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


def _open_entry(dir_fd: int | None, name: str) -> int | None:
    """A descriptor of the entry ``name`` in ``dir_fd``, opened without following
    a symbolic link and without blocking; ``None`` if there is none or it is a
    folder.

    Raises :class:`_InTheWayError` for a symbolic link or a special file that
    cannot be opened (a socket, a device without its driver).
    """
    try:
        return os.open(name, _OPEN_READ, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError:
        # ELOOP (EMLINK on BSDs): a symbolic link; ENXIO: a socket or a device
        # without its driver. Anything else on a regular file is a real error.
        mode = _lstat_mode(dir_fd, name)
        if mode is None or stat.S_ISDIR(mode):
            return None
        if stat.S_ISREG(mode):
            raise
        raise _InTheWayError(None, mode) from None


def _read_at(dir_fd: int | None, name: str) -> tuple[bytes, float] | None:
    """The document of the regular file ``name`` in ``dir_fd`` and its
    modification time; ``None`` if there is none or it is a folder.

    Raises :class:`_InTheWayError` for a symbolic link or a special file, which is
    never read (a FIFO or a device is opened non-blocking, then refused).
    """
    fd = _open_entry(dir_fd, name)
    if fd is None:
        return None
    try:
        found = _read_open_file(fd)
    finally:
        os.close(fd)
    if isinstance(found, int):
        if stat.S_ISDIR(found):
            return None
        raise _InTheWayError(None, found)
    return found


def _read_versioned_at(dir_fd: int | None, name: str) -> Versioned:
    """As :func:`_read_at`, with the version of exactly the content read: ``None``
    when the file changed while it was read or too recently to tell (see
    :mod:`.local_versions`)."""
    fd = _open_entry(dir_fd, name)
    if fd is None:
        return Versioned(None, None, None)
    try:
        before = os.fstat(fd)
        found = _read_open_file(fd)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if isinstance(found, int):
        if stat.S_ISDIR(found):
            return Versioned(None, None, None)
        raise _InTheWayError(None, found)
    version = stat_version(after) if trusted(before, after) else None
    return Versioned(found[0], version, _utc(found[1]))


def _stat_entry(dir_fd: int, name: str, revalidate: bool) -> os.stat_result | None:
    """The ``stat`` of the entry ``name`` in ``dir_fd``, never following a link;
    with ``revalidate`` (a network file system) a regular file is opened for it,
    which makes the client ask the server. ``None`` if it is gone."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not (revalidate and stat.S_ISREG(info.st_mode)):
            return info
        fd = os.open(name, _OPEN_READ, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        if error.errno == errno.ESTALE:
            return None
        raise
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def _holder(segments: Sequence[str], problem: _InTheWayError) -> str:
    """The part of a key's path where ``problem`` lies."""
    return "/".join(segments if problem.depth is None else segments[: problem.depth + 1])


#: A folder handle: a descriptor, or ``None`` for the base, reached by its path
#: (which saves opening the base on every call; the base is trusted anyway).
_Folder = int | None


def _close(folder: _Folder) -> None:
    if folder is not None:
        os.close(folder)


class LocalFiles(Store):
    """Atomic, durable, symlink-proof file I/O under one local folder (``root``).

    With ``private``, the files and folders it makes are readable by their owner
    only (modes 0600 and 0700, before the umask): for copies of results kept
    outside the store (the snapshot cache, :mod:`resulttracker.snapshot_cache`).
    """

    modification_times = True
    nested_keys = False  # a file cannot also be a folder

    def __init__(self, root: str, *, private: bool = False) -> None:
        if not _SUPPORTED:
            raise NotImplementedError(
                "local folders need openat-style system calls (dir_fd, O_NOFOLLOW), "
                "which this system lacks; use an object store or a SQL database"
            )
        self.root = root or "/"
        self._prefix = self.root.rstrip("/") + "/"
        self._file_mode = 0o600 if private else 0o666
        self._folder_mode = 0o700 if private else 0o777

    # -- names -------------------------------------------------------------------------

    def path(self, key: str) -> str:
        # Keys are validated: no empty, '.' or '..' segments, no leading '/'.
        return self._prefix + key

    def location(self, key: str) -> str:
        return self.path(key)

    def _at(self, folder: _Folder, name: str) -> tuple[int | None, str]:
        """``(dir_fd, name)`` arguments naming ``name`` in ``folder``."""
        return (None, self._prefix + name) if folder is None else (folder, name)

    def _corrupt(
        self, key: str, segments: Sequence[str], problem: _InTheWayError
    ) -> CorruptResultError:
        where = self.path(_holder(segments, problem))
        what = _describe(problem.mode)
        if problem.depth is None:
            reason = f"{what}, not a regular file: it is never read"
            if stat.S_ISLNK(problem.mode):
                reason += f" ({_NOT_FOLLOWED})"
        else:
            reason = (
                f"its path goes through {where}, {what}, which is never followed ({_NOT_FOLLOWED})"
            )
        return CorruptResultError(key, self.path(key), reason)

    # -- folders -----------------------------------------------------------------------

    def _open_base(self) -> int | None:
        try:
            return os.open(self.root, _OPEN_BASE)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _fsync_folder(self, folder: _Folder) -> None:
        if folder is not None:
            os.fsync(folder)
            return
        fd = os.open(self.root, _OPEN_BASE)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open_folders(self, segments: Sequence[str], start: _Folder = None) -> _Folder:
        """The folder ``segments...`` below ``start`` (the base by default),
        closing each folder on the way as soon as its child is open."""
        folder = start
        try:
            for depth, name in enumerate(segments):
                child = _open_folder(*self._at(folder, name), depth)
                if folder != start:
                    _close(folder)
                folder = child
        except BaseException:
            if folder != start:
                _close(folder)
            raise
        return folder

    def _folder_chain(self, segments: Sequence[str], *, create: bool) -> list[int]:
        """Descriptors of the base's folders ``segments[:1]``, ``segments[:2]``...,
        made (durably) where missing when ``create``. The caller closes them."""
        chain: list[int] = []
        folder: _Folder = None
        try:
            for depth, name in enumerate(segments):
                if create:
                    folder = self._open_or_make_folder(folder, name, depth)
                else:
                    folder = _open_folder(*self._at(folder, name), depth)
                chain.append(folder)
        except BaseException:
            for opened in chain:
                os.close(opened)
            raise
        return chain

    def _open_or_make_folder(self, parent: _Folder, name: str, depth: int) -> int:
        dir_fd, path = self._at(parent, name)
        for _ in range(_ATTEMPTS):
            try:
                return _open_folder(dir_fd, path, depth)
            except FileNotFoundError:
                pass
            try:
                # FileNotFoundError here: the parent folder was removed (a delete
                # pruned it, or the base is missing); the caller starts again.
                os.mkdir(path, self._folder_mode, dir_fd=dir_fd)
            except FileExistsError:
                continue  # made by someone else meanwhile (or not a folder: the open says)
            # Make the new folder's own entry durable too.
            self._fsync_folder(parent)
        raise FileNotFoundError(errno.ENOENT, "a folder keeps vanishing", path)

    # -- reads -----------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        parent, _, name = key.rpartition("/")
        if "/" in parent:
            return self._read_deep(key)
        # The common shapes ('key', 'folder/key') in as few calls as the checks
        # allow: the folder's own name is opened with O_NOFOLLOW by its path.
        try:
            if not parent:
                found = _read_at(None, self._prefix + name)
            else:
                folder = os.open(self._prefix + parent, _OPEN_FOLDER)
                try:
                    found = _read_at(folder, name)
                finally:
                    os.close(folder)
        except FileNotFoundError:
            return None
        except _InTheWayError as problem:
            raise self._corrupt(key, key.split("/"), problem) from None
        except OSError:
            return self._read_deep(key)  # the folder is not one: find out what it is
        return None if found is None else found[0]

    def _read_deep(self, key: str) -> bytes | None:
        segments = key.split("/")
        try:
            try:
                folder = self._open_folders(segments[:-1])
            except (FileNotFoundError, NotADirectoryError):
                return None
            try:
                found = _read_at(*self._at(folder, segments[-1]))
            finally:
                _close(folder)
        except _InTheWayError as problem:
            if problem.depth is not None and not stat.S_ISLNK(problem.mode):
                return None  # a file in the way: nothing is stored below it
            raise self._corrupt(key, segments, problem) from None
        return None if found is None else found[0]

    def read_many(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        # One batch reuses the folder of the previous key while it is the same.
        current: str | None = None  # the folder open as ``folder``, if any
        folder: _Folder = None
        try:
            for key in keys:
                parent, _, name = key.rpartition("/")
                try:
                    if parent != current:
                        _close(folder)
                        current, folder = None, None
                        try:
                            folder = self._open_folders(parent.split("/") if parent else ())
                        except (FileNotFoundError, NotADirectoryError):
                            yield key, None
                            continue
                        current = parent
                    if folder is None:
                        found = _read_at(None, self._prefix + name)
                    else:
                        found = _read_at(folder, name)
                except _InTheWayError as problem:
                    if problem.depth is not None and not stat.S_ISLNK(problem.mode):
                        yield key, None
                        continue
                    raise self._corrupt(key, key.split("/"), problem) from None
                yield key, None if found is None else found[0]
        finally:
            _close(folder)

    def _walk(self, prefix: str, *, ordered: bool) -> Iterator[tuple[int, str, str, int]]:
        """Yield ``(folder descriptor, name, key, kind)`` for every entry under
        ``prefix`` that is not a folder or a temporary file, sorted by key when
        ``ordered``. The descriptor is valid until the next item is asked for.

        Folders are opened with ``O_NOFOLLOW``: a symbolic link is an entry
        (a key that cannot be read), never a way into another folder.
        """
        base_fd = self._open_base()
        if base_fd is None:
            return
        opened: list[int] = []
        try:
            start, key_prefix = base_fd, ""
            if prefix:
                segments = prefix.split("/")
                try:
                    parent = self._open_folders(segments[:-1], base_fd)
                except (FileNotFoundError, NotADirectoryError, _InTheWayError):
                    return  # nothing under a missing folder, a file or a link
                assert parent is not None
                if parent != base_fd:
                    opened.append(parent)
                try:
                    start = _open_folder(parent, segments[-1], len(segments) - 1)
                except FileNotFoundError:
                    return
                except _InTheWayError as problem:
                    kind = _REGULAR if stat.S_ISREG(problem.mode) else _OTHER
                    yield parent, segments[-1], prefix, kind
                    return
                opened.append(start)
                key_prefix = prefix + "/"
            yield from _walk_folder(start, key_prefix, ordered, opened)
        finally:
            for fd in opened:
                os.close(fd)
            os.close(base_fd)

    def list_keys(self, prefix: str) -> list[str]:
        if prefix:
            return [key for _, _, key, _ in self._walk(prefix, ordered=False)]
        # The whole store, unordered (the caller sorts): a leaner walk.
        keys: list[str] = []
        base_fd = self._open_base()
        if base_fd is not None:
            try:
                _collect_keys(base_fd, "", keys)
            finally:
                os.close(base_fd)
        return keys

    def scan(self, prefix: str) -> Iterator[ScannedDocument]:
        """``(key, document, modified)`` for every key under ``prefix``, sorted by
        key; the document of an entry that is not a regular file is its
        :class:`CorruptResultError` (the scan goes on)."""
        for folder_fd, name, key, kind in self._walk(prefix, ordered=True):
            try:
                if kind != _REGULAR:
                    # Known from the listing alone: a special file is never opened.
                    mode = _lstat_mode(folder_fd, name)
                    if mode is None:
                        continue
                    if not stat.S_ISREG(mode):
                        raise _InTheWayError(None, mode)
                found = _read_at(folder_fd, name)
            except _InTheWayError as problem:
                yield key, self._corrupt(key, key.split("/"), problem), None
                continue
            if found is not None:
                yield key, found[0], _utc(found[1])

    # -- writes ----------------------------------------------------------------------

    def write(self, key: str, document: bytes) -> None:
        segments = key.split("/")
        for _ in range(_ATTEMPTS):
            try:
                if self._write_once(key, segments, document):
                    return
            except NotADirectoryError:
                if os.path.isdir(self.root):
                    raise
                raise StoreError(
                    f"cannot store key {key!r}: the base {self.root} is not a folder"
                ) from None
            except OSError as error:
                if error.errno != errno.ESTALE:
                    raise
                # NFS: a folder on the way was removed by another client; again.
            if not os.path.isdir(self.root):
                self._make_base()
        raise StoreError(
            f"cannot store key {key!r}: its folder under {self.root} kept vanishing "
            f"({_ATTEMPTS} attempts; other processes are deleting keys there)"
        )

    def _write_once(self, key: str, segments: list[str], document: bytes) -> bool:
        """One attempt at the write; ``False`` if a folder vanished on the way
        (a concurrent delete pruned it, or the base is missing), so that the
        caller tries again."""
        try:
            chain = self._folder_chain(segments[:-1], create=True)
        except FileNotFoundError:
            return False
        except _InTheWayError as problem:
            raise self._in_the_way(key, segments, problem) from None
        folder: _Folder = chain[-1] if chain else None
        try:
            try:
                temporary, fd = self._create_temporary(folder, key)
            except FileNotFoundError:
                return False  # the folder was removed after it was opened
            try:
                view = memoryview(document)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                dir_fd, path = self._at(folder, temporary)
                os.unlink(path, dir_fd=dir_fd)
                raise
            os.close(fd)
            try:
                self._replace(folder, temporary, key, segments)
            except FileNotFoundError:
                return False  # the temporary file or its folder was removed meanwhile
            self._fsync_folder(folder)
        finally:
            for opened in chain:
                os.close(opened)
        return True

    def _replace(self, folder: _Folder, temporary: str, key: str, segments: list[str]) -> None:
        dir_fd, source = self._at(folder, temporary)
        _, target = self._at(folder, segments[-1])
        try:
            # Replace only a regular file: a link or a special file in its place
            # is refused rather than replaced; a folder is a conflict.
            mode = _lstat_mode(dir_fd, target)
            if mode is not None and not stat.S_ISREG(mode):
                raise _InTheWayError(None, mode)
            os.replace(source, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(source, dir_fd=dir_fd)
            if isinstance(error, _InTheWayError):
                raise self._in_the_way(key, segments, error) from None
            if isinstance(error, IsADirectoryError):  # a folder arrived meanwhile
                problem = _InTheWayError(None, stat.S_IFDIR)
                raise self._in_the_way(key, segments, problem) from None
            raise

    def _create_temporary(self, folder: _Folder, key: str) -> tuple[str, int]:
        for _ in range(_ATTEMPTS):
            temporary = _temporary_name()
            dir_fd, path = self._at(folder, temporary)
            try:
                return temporary, os.open(path, _OPEN_NEW, self._file_mode, dir_fd=dir_fd)
            except FileExistsError:
                continue  # the random name is taken (very rare)
        raise StoreError(f"could not create a temporary file for key {key!r}")

    def _make_base(self) -> None:
        """Make the base and its missing parents, each entry durably."""
        missing: list[str] = []
        folder = self.root
        while not os.path.isdir(folder):
            missing.append(folder)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        for path in reversed(missing):
            try:
                os.mkdir(path, self._folder_mode)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise StoreError(
                        f"cannot make the base {self.root}: {path} is not a folder"
                    ) from None
                continue
            parent_fd = os.open(os.path.dirname(path) or ".", _OPEN_BASE)
            try:
                os.fsync(parent_fd)
            finally:
                os.close(parent_fd)

    def _in_the_way(
        self, key: str, segments: Sequence[str], problem: _InTheWayError
    ) -> KeyConflictError:
        holder = _holder(segments, problem)
        where = self.path(holder)
        rule = "on a file system a key cannot also be the prefix of other keys"
        if stat.S_ISREG(problem.mode):
            return KeyConflictError(
                f"cannot store key {key!r}: the key {holder!r} holds results at {where} ({rule})"
            )
        if stat.S_ISDIR(problem.mode):
            if self._holds_no_key(holder):
                return KeyConflictError(
                    f"cannot store key {key!r}: {where} is a folder holding no key, probably "
                    "left by a writer killed mid-put; `resulttracker check --fix` "
                    "(tracker.check(fix=True)) removes such leftover folders"
                )
            return KeyConflictError(
                f"cannot store key {key!r}: {where} is a folder holding other keys ({rule})"
            )
        what = _describe(problem.mode)
        if stat.S_ISLNK(problem.mode):
            return KeyConflictError(
                f"cannot store key {key!r}: {where} is {what}, which is never written "
                f"through or replaced ({_NOT_FOLLOWED}); remove it first (delete({holder!r}))"
            )
        return KeyConflictError(
            f"cannot store key {key!r}: {where} is {what}, not a regular file or folder; "
            f"it is never written over: remove it first (delete({holder!r}))"
        )

    def _holds_no_key(self, folder: str) -> bool:
        return not any(True for _ in self._walk(folder, ordered=False))

    # -- deletes ---------------------------------------------------------------------

    def delete(self, key: str) -> bool:
        segments = key.split("/")
        try:
            chain = self._folder_chain(segments[:-1], create=False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except _InTheWayError as problem:
            if not stat.S_ISLNK(problem.mode):
                return False  # a file in the way: nothing is stored below it
            where = self.path(_holder(segments, problem))
            raise StoreError(
                f"cannot delete key {key!r}: its path goes through {where}, a symbolic "
                f"link, which is never followed ({_NOT_FOLLOWED})"
            ) from None
        try:
            return self._delete_in(chain, segments)
        finally:
            for opened in chain:
                os.close(opened)

    def _delete_in(self, chain: list[int], segments: list[str]) -> bool:
        folder: _Folder = chain[-1] if chain else None
        dir_fd, name = self._at(folder, segments[-1])
        try:
            # unlink never follows a link: a link at the key is removed itself.
            os.unlink(name, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        except PermissionError:
            # POSIX allows EPERM (not EISDIR) for unlinking a folder.
            if stat.S_ISDIR(_lstat_mode(dir_fd, name) or 0):
                return False
            raise
        # The key is gone: nothing after this may raise (other processes may be
        # removing these folders too, which is fine).
        with contextlib.suppress(OSError):
            self._fsync_folder(folder)
        # Leave no empty folders behind, as an object store would not. A
        # concurrent writer whose folder vanishes makes it again (see write).
        parents: list[_Folder] = [None, *chain[:-1]]
        for depth in range(len(chain) - 1, -1, -1):
            dir_fd, name = self._at(parents[depth], segments[depth])
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except OSError:
                break
            with contextlib.suppress(OSError):
                self._fsync_folder(parents[depth])
        return True

    # -- what interrupted writers leave --------------------------------------------------

    def leftovers(
        self, prefix: str = ""
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """``(temporary files, folders holding no key)`` under ``prefix``, each a
        list of ``(location, age in seconds)``; folders deepest first.

        Only interrupted writers leave these behind. A folder's age is that of
        the youngest thing in it, itself included, measured before anything is
        removed, so that removing a stale file does not make its folder look new.
        """
        temporary: list[tuple[str, float]] = []
        empty: list[tuple[str, float]] = []
        base_fd = self._open_base()
        if base_fd is None:
            return temporary, empty
        now = time.time()
        try:
            start: _Folder = base_fd
            if prefix:
                try:
                    start = self._open_folders(prefix.split("/"), base_fd)
                except (FileNotFoundError, NotADirectoryError, _InTheWayError):
                    return temporary, empty
            assert start is not None
            try:
                holds_key, age = self._leftovers_in(start, prefix, now, temporary, empty)
            finally:
                if start != base_fd:
                    os.close(start)
            if prefix and not holds_key:
                empty.append((self.path(prefix) + "/", age))
        finally:
            os.close(base_fd)
        return temporary, empty

    def _leftovers_in(
        self,
        folder_fd: int,
        folder: str,
        now: float,
        temporary: list[tuple[str, float]],
        empty: list[tuple[str, float]],
    ) -> tuple[bool, float]:
        """Collect the leftovers below the folder open at ``folder_fd``; return
        whether it holds anything else and the age of its youngest content."""
        youngest = now - os.fstat(folder_fd).st_mtime
        holds_key = False
        with os.scandir(folder_fd) as listing:
            entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
        location = self._prefix + (folder + "/" if folder else "")
        for name, is_folder in entries:
            if name.startswith(RESERVED_PREFIX):
                # The store's own files (snapshots): their code keeps them tidy.
                holds_key = True
                continue
            if is_folder:
                try:
                    child = _open_folder(folder_fd, name, 0)
                except (FileNotFoundError, _InTheWayError):
                    holds_key = True  # swapped for a file or a link: keep the folder
                    continue
                sub = f"{folder}/{name}" if folder else name
                try:
                    child_holds, age = self._leftovers_in(child, sub, now, temporary, empty)
                finally:
                    os.close(child)
                youngest = min(youngest, age)
                if child_holds:
                    holds_key = True
                else:
                    empty.append((self._prefix + sub + "/", age))
            elif name.startswith(TEMP_PREFIX):
                mode_time = _lstat_time(folder_fd, name)
                if mode_time is None:
                    continue  # its put just finished
                temporary.append((location + name, now - mode_time))
                youngest = min(youngest, now - mode_time)
            else:
                holds_key = True
        return holds_key, youngest

    def _remove(self, location: str, *, folder: bool) -> bool:
        """Remove a temporary file or an empty folder listed by :meth:`leftovers`,
        reached without following links; whether it was removed."""
        suffix = "/" if folder else ""
        relative = location[len(self._prefix) : len(location) - len(suffix)]
        segments = relative.split("/")
        if (
            not location.startswith(self._prefix)
            or not location.endswith(suffix)
            or any(part in ("", ".", "..") for part in segments)
            or not (folder or segments[-1].startswith(TEMP_PREFIX))
        ):
            kind = "folder" if folder else "temporary file"
            raise ValueError(f"{location} is not a {kind} under {self.root}")
        try:
            parent = self._open_folders(segments[:-1])
        except (FileNotFoundError, NotADirectoryError, _InTheWayError):
            return False
        dir_fd, name = self._at(parent, segments[-1])
        try:
            if folder:
                os.rmdir(name, dir_fd=dir_fd)
            else:
                os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                return False  # something arrived in the folder meanwhile: keep it
            raise
        finally:
            _close(parent)
        return True

    def exists(self) -> bool:
        # The base itself may be a link (it is followed), but must be a folder.
        return os.path.isdir(self.root)

    # -- versions (snapshots and the change feed) ----------------------------------------
    # Through the same walk and the same openat-style opens as every other access:
    # a link or a special file is listed without a version (so it is read, and
    # refused, each time) and never followed.

    versions = True  # stat: inode, size, mtime, ctime (see local_versions)
    sorted_versions = True  # a sorted walk: scans through a snapshot stream
    snapshots = True

    def identity(self) -> str | None:
        # The base as the system resolves it: two spellings of one folder share
        # a cache entry.
        return "file|" + os.path.realpath(self.root)

    def list_versions(self, prefix: str) -> Iterator[Listed]:
        return self.list_versions_checked(prefix)

    def list_versions_checked(
        self, prefix: str, revalidate: bool | None = None
    ) -> Iterator[Listed]:
        """``list_versions``; with ``revalidate`` (by default: on a network
        file system) each file is opened for its ``fstat`` rather than ``stat``-ed."""
        if revalidate is None:
            revalidate = on_network_file_system(self.root)
        for folder_fd, name, key, kind in self._walk(prefix, ordered=True):
            if kind != _REGULAR:
                yield Listed(key, None, None)
                continue
            info = _stat_entry(folder_fd, name, revalidate)
            if info is None:
                continue  # deleted since its folder was read
            if not stat.S_ISREG(info.st_mode):
                yield Listed(key, None, None)
                continue
            yield Listed(key, stat_version(info), _utc(info.st_mtime))

    def read_versioned(self, key: str) -> Versioned:
        segments = key.split("/")
        try:
            try:
                folder = self._open_folders(segments[:-1])
            except (FileNotFoundError, NotADirectoryError):
                return Versioned(None, None, None)
            try:
                return _read_versioned_at(*self._at(folder, segments[-1]))
            finally:
                _close(folder)
        except _InTheWayError as problem:
            if problem.depth is not None and not stat.S_ISLNK(problem.mode):
                return Versioned(None, None, None)  # a file in the way: nothing below it
            return Versioned(self._corrupt(key, segments, problem), None, None)

    def read_many_versioned(self, keys: Sequence[str]) -> Iterator[tuple[str, Versioned]]:
        for key in keys:
            yield key, self.read_versioned(key)

    def temporary_files(self, prefix: str) -> list[tuple[str, float]]:
        return self.leftovers(prefix)[0]

    def empty_folders(self, prefix: str) -> list[tuple[str, float]]:
        return self.leftovers(prefix)[1]

    def remove_temporary_file(self, location: str) -> bool:
        return self._remove(location, folder=False)

    def remove_empty_folder(self, location: str) -> bool:
        return self._remove(location, folder=True)


def _lstat_time(dir_fd: int, name: str) -> float | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return None


def _walk_folder(
    start: int, key_prefix: str, ordered: bool, opened: list[int]
) -> Iterator[tuple[int, str, str, int]]:
    # Sorting each folder's names with a '/' after folder names gives the keys in
    # sorted order in one depth-first pass: every key below folder 'a' starts
    # with 'a/' and compares with its siblings' names as 'a/' does.
    stack = [(start, iter(_entries(start, ordered)), key_prefix)]
    while stack:
        folder_fd, entries, key_prefix = stack[-1]
        for _, name, kind in entries:
            if kind is None:
                try:
                    child = _open_folder(folder_fd, name, 0)
                except FileNotFoundError:
                    continue  # removed since the listing
                except _InTheWayError as problem:  # swapped for a file or a link meanwhile
                    kind = _REGULAR if stat.S_ISREG(problem.mode) else _OTHER
                    yield folder_fd, name, key_prefix + name, kind
                    continue
                opened.append(child)
                stack.append((child, iter(_entries(child, ordered)), key_prefix + name + "/"))
                break
            yield folder_fd, name, key_prefix + name, kind
        else:
            stack.pop()
            if stack:
                os.close(opened.pop())


#: Names that are never keys: temporary files, and the store's own files (snapshots).
_NOT_KEYS = (TEMP_PREFIX, RESERVED_PREFIX)


def _collect_keys(folder_fd: int, key_prefix: str, keys: list[str]) -> None:
    """Append the keys below the folder open at ``folder_fd``, as ``LocalFiles._walk``
    finds them, in no particular order."""
    with os.scandir(folder_fd) as listing:
        entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
    for name, is_folder in entries:
        if name.startswith(_NOT_KEYS):
            continue
        if is_folder:
            try:
                child = _open_folder(folder_fd, name, 0)
            except FileNotFoundError:
                continue  # removed since the listing
            except _InTheWayError:
                keys.append(key_prefix + name)  # swapped for a file or a link meanwhile
                continue
            try:
                _collect_keys(child, key_prefix + name + "/", keys)
            finally:
                os.close(child)
        else:
            keys.append(key_prefix + name)


def _entries(folder_fd: int, ordered: bool) -> list[tuple[str, str, int | None]]:
    """``(sort name, name, kind)`` of a folder's entries, temporary files left
    out; kind is ``None`` for a folder, else ``_REGULAR`` or ``_OTHER``,
    from the directory record (no ``stat`` on file systems that give types)."""
    found: list[tuple[str, str, int | None]] = []
    with os.scandir(folder_fd) as listing:
        for entry in listing:
            name = entry.name
            if name.startswith(_NOT_KEYS):
                continue
            if entry.is_dir(follow_symlinks=False):
                found.append((name + "/", name, None))
            elif entry.is_file(follow_symlinks=False):
                found.append((name, name, _REGULAR))
            else:
                found.append((name, name, _OTHER))
    if ordered:
        found.sort()
    return found
