"""Version tags of files in a local folder (or NFS mount), from ``stat`` alone.

A file's version is its inode, size, modification time and change time, all
from ``stat``, as git's index keeps them. An atomic rewrite (a new file renamed
into place) gets a new inode and change time; a rewrite in place changes the
change time, which nothing but the kernel can set, even when the writer keeps
the size and puts the modification time back with ``os.utime``.

Timestamps are coarse, though (a kernel clock tick locally, up to 2 s on some
NFS servers), so a write in the same tick as a ``stat`` may leave every field
unchanged. Like git's "racily clean" entries, a read whose file changed less
than :data:`RACY_SECONDS` before it gets no version (``None``): whoever caches
it reads it again next time. A read whose ``fstat`` before and after differ (a
writer rewriting the file in place meanwhile) gets none either.

On a network file system a client may answer ``stat`` from its attribute cache
(NFS keeps attributes up to ``acregmax``, 60 s by default), describing a file as
it was before another host rewrote it; there the listing opens each file, which
makes the client revalidate (close-to-open consistency), and never reads it.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from ..codec import MAX_DOCUMENT_BYTES
from ..store import Listed, Versioned
from ..validation import RESERVED_PREFIX, TEMP_PREFIX

__all__ = [
    "NETWORK_FILE_SYSTEMS",
    "RACY_SECONDS",
    "list_versions",
    "mount_type",
    "on_network_file_system",
    "read_versioned",
    "stat_version",
]

#: A file changed less than this long before it was read (or whose times lie in
#: the future) gets no trusted version: the file system's timestamps may not
#: have ticked since (2 s is the coarsest granularity of common NFS servers).
RACY_SECONDS = 2.0

_RACY_NS = int(RACY_SECONDS * 1e9)
_OPEN_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_SKIPPED = (TEMP_PREFIX, RESERVED_PREFIX)


def stat_version(info: os.stat_result) -> str:
    """The version of a file: inode, size, modification and change time (ns)."""
    return f"s:{info.st_ino:x}.{info.st_size:x}.{info.st_mtime_ns:x}.{info.st_ctime_ns:x}"


def _same_file_state(first: os.stat_result, second: os.stat_result) -> bool:
    return (
        first.st_ino == second.st_ino
        and first.st_size == second.st_size
        and first.st_mtime_ns == second.st_mtime_ns
        and first.st_ctime_ns == second.st_ctime_ns
    )


def _racy(info: os.stat_result) -> bool:
    return max(info.st_mtime_ns, info.st_ctime_ns) >= time.time_ns() - _RACY_NS


def _modified(info: os.stat_result) -> datetime:
    # The same float conversion as the folder store's plain reads, so that a
    # record has the same time whichever way it was read.
    return datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)


#: Network file systems, whose clients cache file attributes (NFS: up to
#: ``acregmax``, 60 s by default): there a ``stat`` may describe a file as it was
#: before another host rewrote it, while an ``open`` revalidates them
#: (close-to-open consistency), so their listings open each file.
NETWORK_FILE_SYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.sshfs",
        "lustre",
        "gpfs",
        "afs",
    }
)


def mount_type(path: str, mounts: str) -> str | None:
    """The type of the file system holding ``path`` (absolute, resolved), given the
    text of ``/proc/self/mounts``; ``None`` if no mount point holds it."""
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # Mount points escape blanks and backslashes as octal (\040 is a space).
        point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), fields[1])
        inside = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


@functools.lru_cache(maxsize=64)
def on_network_file_system(root: str) -> bool:
    """Whether the folder ``root`` lies on a network file system (Linux; ``False``
    where the mount table cannot be read)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as file:
            mounts = file.read()
    except OSError:
        return False
    return mount_type(os.path.realpath(root), mounts) in NETWORK_FILE_SYSTEMS


def _stat_revalidated(path: str) -> os.stat_result:
    # Opening makes an NFS client ask the server for the file's attributes.
    fd = os.open(path, _OPEN_READ | getattr(os, "O_NONBLOCK", 0))
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def list_versions(root: str, prefix: str, *, revalidate: bool | None = None) -> Iterator[Listed]:
    """``(key, version, modified)`` for every file under ``prefix`` of the folder
    ``root``, sorted by key; the same files as the folder store's ``list_keys``.

    The walk visits each folder's entries in order, a folder's name counting as
    ``name + "/"``, which yields the keys in code-point order without holding
    more than one folder's names per level: a scan streams. With ``revalidate``
    (by default: on a network file system, see :data:`NETWORK_FILE_SYSTEMS`)
    each file is opened for its ``fstat`` rather than ``stat``-ed.
    """
    if revalidate is None:
        revalidate = on_network_file_system(root)
    stat_of = _stat_revalidated if revalidate else os.stat
    base = root.rstrip("/") + "/"
    start = root if not prefix else base + prefix
    if prefix and os.path.isfile(start):
        try:
            info = stat_of(start)
        except OSError:
            return
        yield Listed(prefix, stat_version(info), _modified(info))
        return
    # Per level: the folder's path, its keys' prefix and its sorted entries.
    stack = [(start, prefix + "/" if prefix else "", iter(_sorted_entries(start)))]
    while stack:
        folder, key_prefix, pending = stack[-1]
        item = next(pending, None)
        if item is None:
            stack.pop()
            continue
        name, is_folder = item
        path = f"{folder}/{name}"
        if is_folder:
            stack.append((path, f"{key_prefix}{name}/", iter(_sorted_entries(path))))
            continue
        try:
            info = stat_of(path)
        except (FileNotFoundError, NotADirectoryError):  # deleted since its folder was read
            continue
        if stat.S_ISREG(info.st_mode):
            yield Listed(key_prefix + name, stat_version(info), _modified(info))


def _sorted_entries(folder: str) -> list[tuple[str, bool]]:
    """``(name, is_folder)`` of a folder's entries, in key order (a folder's name
    sorts as ``name + "/"``); names only, so that a folder of a million files
    costs little memory."""
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: list[tuple[str, str, bool]] = []
    with entries:
        for entry in entries:
            name = entry.name
            if name.startswith(_SKIPPED):
                continue
            if entry.is_dir(follow_symlinks=False):
                found.append((name + "/", name, True))
            elif entry.is_file():
                found.append((name, name, False))
    found.sort()
    return [(name, is_folder) for _, name, is_folder in found]


def read_versioned(path: str) -> Versioned:
    """The content of the regular file ``path`` (at most one byte over the
    document limit), with its version when it can be trusted."""
    try:
        fd = os.open(path, _OPEN_READ)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return Versioned(None, None, None)
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return Versioned(None, None, None)
        want = min(before.st_size, MAX_DOCUMENT_BYTES) + 1
        chunks = [os.read(fd, want)]
        size = len(chunks[0])
        if size == want:  # still growing (a writer in place): read on, up to the limit
            while size <= MAX_DOCUMENT_BYTES:
                chunk = os.read(fd, MAX_DOCUMENT_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    trusted = _same_file_state(before, after) and not _racy(after)
    return Versioned(b"".join(chunks), stat_version(after) if trusted else None, _modified(before))
