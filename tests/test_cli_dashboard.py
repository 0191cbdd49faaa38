"""``resulttracker serve`` and ``resulttracker report``, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from resulttracker import FsspecResultTracker

EXECUTABLE = shutil.which("resulttracker", path=str(Path(sys.executable).parent))


def test_report_writes_a_self_contained_page(tmp_path: Path) -> None:
    base = tmp_path / "results"
    tracker = FsspecResultTracker(base)
    tracker["exp/1"] = {"loss": 0.5}
    tracker["exp/2"] = {"loss": 0.25}
    tracker["elsewhere/3"] = {"loss": 1.0}
    page = tmp_path / "report.html"
    done = subprocess.run(
        [str(EXECUTABLE), "--base", str(base), "report", str(page), "exp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "exp/1" in html
    assert "exp/2" in html
    assert "elsewhere/3" not in html  # outside the prefix
    assert "<script src=" not in html  # scripts are inlined


def test_serve_answers_on_loopback_with_the_records(tmp_path: Path) -> None:
    base = tmp_path / "results"
    FsspecResultTracker(base)["exp/1"] = {"loss": 0.5}
    server = subprocess.Popen(
        [str(EXECUTABLE), "--base", str(base), "serve", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        address = line[line.index("http://") :].split()[0].rstrip("/")
        assert address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{address}/api/records", timeout=30) as response:
            body = json.loads(response.read())
        assert [record["key"] for record in body["records"]] == ["exp/1"]
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_serve_takes_its_limits_from_the_command_line(tmp_path: Path) -> None:
    base = tmp_path / "results"
    FsspecResultTracker(base)["exp/1"] = {"loss": 0.5}
    server = subprocess.Popen(
        [
            *(str(EXECUTABLE), "--base", str(base), "serve", "--port", "0", "--no-browser"),
            *("--request-timeout", "1", "--workers", "2", "--max-connections", "20"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        address = line[line.index("http://") :].split()[0].rstrip("/")
        port = int(address.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            idle.sendall(b"GET / HTTP/1.1\r\n")
            started = time.monotonic()
            answer = idle.recv(1024)
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert 0.5 < time.monotonic() - started < 5
        with urllib.request.urlopen(f"{address}/api/records", timeout=30) as response:
            assert [r["key"] for r in json.loads(response.read())["records"]] == ["exp/1"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
    refused = subprocess.run(
        [str(EXECUTABLE), "--base", str(base), "serve", "--workers", "0", "--no-browser"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "--workers" in refused.stderr
