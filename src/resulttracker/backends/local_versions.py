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
import time

__all__ = [
    "NETWORK_FILE_SYSTEMS",
    "RACY_SECONDS",
    "mount_type",
    "on_network_file_system",
    "stat_version",
    "trusted",
]

#: A file changed less than this long before it was read (or whose times lie in
#: the future) gets no trusted version: the file system's timestamps may not
#: have ticked since (2 s is the coarsest granularity of common NFS servers).
RACY_SECONDS = 2.0

_RACY_NS = int(RACY_SECONDS * 1e9)


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


def trusted(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether a read whose file was ``before`` when opened and ``after`` when read
    can be given the version ``after`` has: unchanged meanwhile and not racy."""
    return _same_file_state(before, after) and not _racy(after)
