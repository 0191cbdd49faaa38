"""The dashboard follows the store through its change feed: an idle refresh on S3
costs the LIST requests of the keys and no GET, and a change shows up alone."""

from __future__ import annotations

import time

from .counting_s3 import CountingS3
from .scale_harness import Model, counting_s3_fixture, fill, s3_scene  # noqa: F401 (fixture)
from .test_web import start


def test_an_idle_dashboard_refresh_reads_no_document(counting_s3: CountingS3) -> None:
    scene = s3_scene(counting_s3)
    model: Model = {}
    fill(scene, model, 1050)
    client, server = start(scene.tracker(), refresh=10)
    server.get_app().changes.min_interval = 0
    server.get_app().checker.max_age = 0  # every request looks at the store itself
    try:
        first = client.json("/api/records")
        assert first["count"] == 1050
        assert {record["key"] for record in first["records"]} == set(model)
        counting_s3.reset()
        idle = client.json(f"/api/records?since={first['cursor']}")
        assert (idle["records"], idle["removed"]) == ([], [])
        assert scene.counts() == {"LIST": 2}
        scene.put_raw(model, "exp/00007", {"loss": -7.0, "seed": 7})
        scene.raw_delete("exp/00008")
        counting_s3.reset()
        changed = client.json(f"/api/records?since={idle['cursor']}")
        assert [record["key"] for record in changed["records"]] == ["exp/00007"]
        assert changed["records"][0]["results"] == {"loss": -7.0, "seed": 7}
        assert changed["removed"] == ["exp/00008"]
        assert changed["count"] == 1049
        assert scene.counts() == {"LIST": 2, "GET": 1}
        scene.raw_write("exp/00009", b"{broken")
        broken = client.json(f"/api/records?since={changed['cursor']}")
        assert broken["removed"] == ["exp/00009"]
        assert broken["corrupt"] == 1
    finally:
        server.shutdown()
        server.server_close()


def test_an_unwatched_dashboard_stops_listing_s3(counting_s3: CountingS3) -> None:
    """The checker thread lists the bucket while pages poll, and stops a while
    after the last request: no LIST request from a dashboard nobody looks at."""
    scene = s3_scene(counting_s3)
    model: Model = {}
    fill(scene, model, 30)
    client, server = start(scene.tracker(), refresh=0.2)
    checker = server.get_app().checker
    checker.idle_after = 0.5
    try:
        cursor = client.json("/api/records")["cursor"]
        assert checker.running
        for _ in range(400):
            if not checker.running:
                break
            time.sleep(0.05)
        assert not checker.running
        counting_s3.reset()
        time.sleep(0.5)  # several of the checker's intervals
        assert scene.counts() == {}
        # A request starts it again; a write by someone else then shows up.
        scene.put_raw(model, "exp/00003", {"loss": -3.0})
        for _ in range(400):
            changed = client.json(f"/api/records?since={cursor}")
            if changed["records"]:
                break
            time.sleep(0.05)
        assert [record["key"] for record in changed["records"]] == ["exp/00003"]
        assert scene.counts().get("LIST", 0) >= 1
    finally:
        server.shutdown()
        server.server_close()
