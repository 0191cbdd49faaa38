"""URL helpers, ``open_tracker`` and the key rules that need no store."""

from __future__ import annotations

import enum
import re
import sys

import pytest

from resulttracker import FsspecResultTracker, InvalidKeyError, open_tracker
from resulttracker._urls import redact_url, url_scheme
from resulttracker.registry import BACKENDS
from resulttracker.validation import normalize_key, normalize_prefix


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:s3cret@db:5432/x", "postgresql://alice:***@db:5432/x"),
        ("https://token@host/path", "https://***@host/path"),
        ("s3://bucket/exp", "s3://bucket/exp"),
        ("/local/path@x", "/local/path@x"),
        ("s3://bucket/a@b", "s3://bucket/a@b"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("postgresql+psycopg://h/db", "postgresql"),
        ("SQLite:///x.db", "sqlite"),
        ("s3://b/x", "s3"),
        ("./results", ""),
        ("C:/x", ""),
        ("results://", "results"),
    ],
)
def test_url_scheme(url: str, scheme: str) -> None:
    assert url_scheme(url) == scheme


def test_open_tracker_defaults_to_fsspec(tmp_path: object) -> None:
    tracker = open_tracker(f"memory://open-{id(tmp_path)}")
    assert isinstance(tracker, FsspecResultTracker)
    tracker["k"] = {"x": 1}
    assert open_tracker(f"memory://open-{id(tmp_path)}")["k"] == {"x": 1}


def test_open_tracker_names_the_extra_for_a_missing_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(BACKENDS, "fancydb", ("resulttracker.no_such_module:X", "fancy"))
    with pytest.raises(ImportError, match=re.escape("pip install 'resulttracker[fancy]'")):
        open_tracker("fancydb://host/x")


@pytest.mark.parametrize(
    ("url", "package", "extra"),
    [
        ("gs://bucket/x", "gcsfs", "gcs"),
        ("az://container/x", "adlfs", "azure"),
        ("s3://bucket/x", "s3fs", "s3"),
    ],
)
def test_missing_filesystem_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, package: str, extra: str
) -> None:
    # The test set-up installs every extra: hide the package as an absent one is.
    imported = sys.modules["fsspec.registry"]._registry  # fsspec.registry is a mapping
    for name in [package, *(name for name in sys.modules if name.startswith(package + "."))]:
        monkeypatch.setitem(sys.modules, name, None)
    for protocol in list(imported):
        monkeypatch.delitem(imported, protocol)
    with pytest.raises(ImportError, match=re.escape(f"pip install 'resulttracker[{extra}]'")):
        FsspecResultTracker(url, skip_instance_cache=True)


def test_empty_base_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty path or URL"):
        FsspecResultTracker("")


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def test_key_subclasses_become_plain_strings() -> None:
    assert normalize_key(Color.RED) == "1"
    assert type(normalize_key(Name("a/b"))) is str
    assert normalize_key(-12) == "-12"


@pytest.mark.parametrize(
    ("prefix", "normalized"),
    [(None, ""), ("", ""), ("/", ""), ("a/", "a"), ("a/b", "a/b"), (3, "3")],
)
def test_prefixes(prefix: object, normalized: str) -> None:
    assert normalize_prefix(prefix) == normalized


@pytest.mark.parametrize("prefix", ["a//", "//", "../a", "a\\b", True])
def test_bad_prefixes(prefix: object) -> None:
    with pytest.raises(InvalidKeyError, match="prefix"):
        normalize_prefix(prefix)
