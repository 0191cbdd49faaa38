"""The change log behind ``/api/records``: each record is encoded once, when it
changes, and a poll looks only at the keys that changed since its cursor.

Through the log itself (:class:`resulttracker.web._records.ChangeLog`) on a
local folder; the HTTP side and its response cache are in ``test_web_cache.py``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker
from resulttracker.query import parse_where
from resulttracker.web import _records
from resulttracker.web._records import ChangeLog, json_bytes, snapshot_body, snapshot_payload

EVERYTHING = parse_where(None)


@pytest.fixture
def encodings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the records encoded to JSON, in order."""
    encoded: list[str] = []
    original = _records.encode_record

    def counting(record: Any) -> Any:
        encoded.append(record.key)
        return original(record)

    monkeypatch.setattr(_records, "encode_record", counting)
    return encoded


def new_log(tmp_path: Path) -> tuple[FsspecResultTracker, ChangeLog]:
    tracker = FsspecResultTracker(tmp_path / "store")
    return tracker, ChangeLog(tracker, min_interval=0)


def test_the_body_is_the_payload_encoded_byte_for_byte(tmp_path: Path) -> None:
    tracker, log = new_log(tmp_path)
    tracker["a/1"] = {"loss": math.nan, "up": math.inf, "text": "é</script>\u2028"}
    # Lists, objects and null, as documents written by torchx may hold them.
    tracker.store.write("a/2", b'{"loss": 0.5, "nested": {"x": null}, "list": [1, [2]], "f": true}')
    tracker["b"] = {"loss": -math.inf}
    tracker.store.write("broken", b"{not json")
    full = log.snapshot(None, None, EVERYTHING)
    assert [entry.key for entry in full.corrupt] == ["broken"]
    assert full.full
    assert full.count == 3
    for snapshot in (
        full,
        log.snapshot(None, "a", parse_where("loss > 0")),
        log.snapshot(full.cursor, None, EVERYTHING),
    ):
        assert snapshot_body(snapshot) == json_bytes(snapshot_payload(snapshot))
    tracker["a/2"] = {"loss": 7.0}
    tracker.delete("b")
    changed = log.snapshot(full.cursor, None, EVERYTHING)
    assert [record.key for record in changed.records] == ["a/2"]
    assert changed.removed == ["b"]
    assert snapshot_body(changed) == json_bytes(snapshot_payload(changed))


def test_a_record_is_encoded_once_when_it_changes(tmp_path: Path, encodings: list[str]) -> None:
    tracker, log = new_log(tmp_path)
    for number in range(20):
        tracker[f"exp/{number:02d}"] = {"loss": number}
    first = log.snapshot(None, None, EVERYTHING)
    assert len(first.records) == 20
    assert sorted(encodings) == [f"exp/{number:02d}" for number in range(20)]
    encodings.clear()
    log.snapshot(None, None, EVERYTHING)  # another full answer: nothing encoded again
    log.snapshot(None, "exp", parse_where("loss < 5"))
    assert encodings == []
    tracker["exp/07"] = {"loss": 70}
    changed = log.snapshot(first.cursor, None, EVERYTHING)
    assert [record.key for record in changed.records] == ["exp/07"]
    assert encodings == ["exp/07"]


def test_a_poll_reports_what_changed_after_its_cursor_over_many_generations(
    tmp_path: Path,
) -> None:
    tracker, log = new_log(tmp_path)
    tracker["k/a"] = {"v": 1}
    tracker["k/b"] = {"v": 1}
    cursors = [log.snapshot(None, None, EVERYTHING).cursor]
    tracker["k/a"] = {"v": 2}
    cursors.append(log.snapshot(cursors[-1], None, EVERYTHING).cursor)
    tracker["k/c"] = {"v": 1}
    tracker.delete("k/b")
    cursors.append(log.snapshot(cursors[-1], None, EVERYTHING).cursor)
    tracker["k/a"] = {"v": 3}  # changed again: reported once, with its last value
    cursors.append(log.snapshot(cursors[-1], None, EVERYTHING).cursor)
    since_first = log.snapshot(cursors[0], None, EVERYTHING)
    assert [(r.key, r.results) for r in since_first.records] == [
        ("k/a", {"v": 3}),
        ("k/c", {"v": 1}),
    ]
    assert since_first.removed == ["k/b"]
    since_second = log.snapshot(cursors[1], None, EVERYTHING)
    assert [r.key for r in since_second.records] == ["k/a", "k/c"]
    assert since_second.removed == ["k/b"]
    assert log.snapshot(cursors[3], None, EVERYTHING).records == []
    # The index holds each key once, at the generation of its last change.
    indexed = [key for keys in log._changed.values() for key in keys]
    assert sorted(indexed) == ["k/a", "k/b", "k/c"]


def test_a_prefix_selects_whole_segments(tmp_path: Path) -> None:
    tracker, log = new_log(tmp_path)
    # 'p.x' and 'p-y' sort between 'p' and 'p/a' (a folder cannot also be a key).
    for key in ["p.x", "p-y", "p/a", "p/b/c", "pa", "o", "q"]:
        tracker[key] = {"v": 1}
    snapshot = log.snapshot(None, "p", EVERYTHING)
    assert [record.key for record in snapshot.records] == ["p/a", "p/b/c"]
    assert snapshot.count == 2
    tracker["p.x"] = {"v": 2}
    tracker["p/a"] = {"v": 2}
    later = log.snapshot(snapshot.cursor, "p", EVERYTHING)
    assert [record.key for record in later.records] == ["p/a"]
    assert later.removed == []  # p.x changed, but was never under p
    assert later.count == 2
    assert log.snapshot(None, "p/b/c", EVERYTHING).count == 1
    # The key equal to the prefix is in the range too (on stores where it can exist).
    assert _records._prefix_range(["o", "p", "p.x", "p/a", "pa"], "p") == (1, 4)


def test_many_keys_added_and_removed_at_once_stay_sorted(tmp_path: Path) -> None:
    tracker, log = new_log(tmp_path)
    keys = [f"run/{number:04d}" for number in range(600)]
    for key in reversed(keys):
        tracker[key] = {"v": 1}
    first = log.snapshot(None, None, EVERYTHING)
    assert [record.key for record in first.records] == keys
    for key in keys[::2]:
        tracker.delete(key)
    tracker["run/0001x"] = {"v": 2}
    later = log.snapshot(first.cursor, None, EVERYTHING)
    assert later.removed == keys[::2]
    assert later.count == 301
    full = log.snapshot(None, None, EVERYTHING)
    assert [record.key for record in full.records] == sorted([*keys[1::2], "run/0001x"])


def test_a_key_turning_corrupt_or_a_new_corrupt_key_is_a_new_generation(tmp_path: Path) -> None:
    tracker, log = new_log(tmp_path)
    tracker["good"] = {"v": 1}
    first = log.snapshot(None, None, EVERYTHING)
    tracker.store.write("bad", b"{not json")  # never a record: only the corrupt list changes
    second = log.snapshot(first.cursor, None, EVERYTHING)
    assert second.cursor != first.cursor
    assert [entry.key for entry in second.corrupt] == ["bad"]
    assert log.snapshot(second.cursor, None, EVERYTHING).cursor == second.cursor


@pytest.mark.parametrize("resort_after", [1024, 3], ids=["edited", "rebuilt"])
def test_full_answers_and_polls_agree_with_a_model_over_random_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resort_after: int
) -> None:
    """Puts, rewrites and deletes in random rounds: the full answer holds exactly
    the model's records in key order, and replaying the polls on the first full
    answer gives the same, whether the sorted view is edited or built again."""
    monkeypatch.setattr(_records, "_RESORT_AFTER", resort_after)
    tracker, log = new_log(tmp_path)
    chooser = random.Random(13)
    model: dict[str, dict[str, Any]] = {}
    page: dict[str, Any] = {}
    cursor = None
    for round_number in range(12):
        for _ in range(chooser.randint(0, 8)):
            key = f"g{chooser.randint(0, 3)}/k{chooser.randint(0, 15):02d}"
            if key in model and chooser.random() < 0.3:
                tracker.delete(key)
                del model[key]
            else:
                model[key] = {"v": round_number, "w": chooser.random()}
                tracker[key] = model[key]
        full = log.snapshot(None, None, EVERYTHING)
        assert [(r.key, r.results) for r in full.records] == sorted(model.items())
        assert snapshot_body(full) == json_bytes(snapshot_payload(full))
        poll = log.snapshot(cursor, None, EVERYTHING)
        if poll.full:
            page = {}
        for record in poll.records:
            page[record.key] = record.results
        for key in poll.removed:
            page.pop(key, None)
        assert page == model
        assert poll.count == len(model)
        under = log.snapshot(None, "g1", parse_where("w < 0.5"))
        assert [r.key for r in under.records] == sorted(
            key for key, results in model.items() if key.startswith("g1/") and results["w"] < 0.5
        )
        cursor = poll.cursor
