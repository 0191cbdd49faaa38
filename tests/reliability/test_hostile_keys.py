"""Hostile keys never reach outside the base: each is refused or stored literally."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from resulttracker import InvalidKeyError, KeyConflictError

from ..conftest import StoreHarness

HOSTILE_KEYS: list[str] = [
    "..",
    ".",
    "../x",
    "../../etc/passwd",
    "a/../../b",
    "a/..",
    "./a",
    "a/./b",
    "/etc/passwd",
    "/",
    "//server/share",
    "~",
    "~/x",
    "~root/.ssh/authorized_keys",
    "$HOME/x",
    "${HOME}",
    "a\\..\\..\\b",
    "..\\x",
    "C:\\Windows",
    "C:/Windows",
    "\x00",
    "a\x00b",
    "a\nb",
    "a\rb",
    "\t",
    "\x1b[31mred",
    "a\x7f",
    "a\x85b",
    "%2e%2e",
    "%2e%2e/x",
    "%2e%2e%2fx",
    "..%2fx",
    "%2F",
    "%00",
    "．．",  # fullwidth dots
    "．．/x",
    "‥",  # two-dot leader
    "a／b",  # fullwidth solidus
    "a∕b",  # division slash
    "a⁄b",  # fraction slash
    "..\u200b",  # zero-width space
    "\u202e..",  # right-to-left override
    "x" * 10_000,
    "a/" * 3000 + "b",
    "é" * 300,
    "*",
    "**/*",
    "?",
    "[a-z]",
    "{a,b}",
    "a/.rttmp-1-deadbeef",
    ".rttmp-99-0",
    ".rttmp-",
    "..rttmp-1",
    ".hidden",
    "a/.",
    "a/",
    "",
    " ",
    "s3://bucket/x",
    "file:///etc/passwd",
    "memory://x",
    "simplecache::s3://b/x",
    "a::b",
    "q?versionId=1",
    "x#fragment",
    "con",
    "nul",
    "\udc80",
]


def snapshot(folder: Path, skip: Path) -> dict[str, str]:
    """Path -> content digest of every file under ``folder`` outside ``skip``."""
    found = {}
    for path in folder.rglob("*"):
        if path == skip or skip in path.parents:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        found[str(path.relative_to(folder))] = digest
    return found


def test_the_corpus_is_large_enough() -> None:
    assert len(set(HOSTILE_KEYS)) >= 50


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=[repr(key)[:24] for key in HOSTILE_KEYS])
def test_hostile_key_is_refused_or_stored_literally(
    store: StoreHarness, tmp_path: Path, key: str
) -> None:
    # Sentinels around the base: a key that escaped would read or change them.
    sentinel = b'{"escaped": 1}'
    if store.name == "local":
        for name in ("x", "b", "etc/passwd", "secret", "base-sibling/x"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(sentinel)
        before = snapshot(tmp_path, tmp_path / "base")
    tracker = store.tracker
    try:
        tracker[key] = {"value": key}
    except InvalidKeyError as error:
        assert "key" in str(error)
        assert store.raw_names() <= {"x", "b", "etc/passwd", "secret", "base-sibling/x"}
        with pytest.raises(InvalidKeyError):
            tracker.get(key)
        with pytest.raises(InvalidKeyError):
            tracker.delete(key)
    except KeyConflictError:  # pragma: no cover - no corpus key nests under another
        pytest.fail(f"unexpected conflict for {key!r}")
    else:
        assert tracker[key] == {"value": key}
        assert list(tracker.keys()) == [key]
        assert store.raw_read(key) is not None  # stored under base/<key>, literally
        assert tracker.delete(key)
    assert tracker.get("x") == {}  # a sentinel is never read through a key
    if store.name == "local":
        assert snapshot(tmp_path, tmp_path / "base") == before
    else:
        assert all(name.startswith("base/") for name in store.raw_names())
