"""The installed ``cadenza`` command in a real subprocess: exit codes, --json, and Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOWS = Path(__file__).parent / "flows"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CADENZA = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"


def cadenza(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CADENZA, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_run_json_from_the_entry_point() -> None:
    result = cadenza("run", str(EXAMPLES / "parallel_due_diligence.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded" and doc["workflow"] == "due-diligence"


def test_exit_codes_from_the_entry_point() -> None:
    assert cadenza("run", str(FLOWS / "failing.yaml"), "-i", "x").returncode == 1
    bad = cadenza("validate", str(FLOWS / "broken.yaml"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "broken.yaml:6:15" in bad.stderr
    usage = cadenza("run")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert cadenza("version").returncode == 0


def test_demo_runs_on_a_fresh_start() -> None:
    result = cadenza("demo", env={"CADENZA_CONFIG": "/nonexistent.toml"})
    assert result.returncode == 0, result.stderr
    assert "what you just saw" in result.stderr


def test_ctrl_c_cancels_the_run_cleanly(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    # A home of its own, so the stored run read back below is this test's run.
    home = {"CADENZA_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [CADENZA, "run", str(FLOWS / "slow.yaml"), "-i", "Wait for market data on coffee", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **home, "CADENZA_TEST_MARKERS": str(markers)},
    )
    try:
        deadline = time.monotonic() + 30
        while not (markers / "started").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the slow tool never started"
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - started < 10
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    doc = json.loads(stdout)  # one complete JSON document, not a half-written one
    assert doc["status"] == "cancelled"
    statuses = {s["name"]: s["status"] for s in doc["steps"]}
    assert statuses["watcher"] == "cancelled" and "writer" not in statuses
    assert (markers / "cancelled").exists(), "the in-flight tool call was not cancelled"
    assert not (markers / "finished").exists()
    # The stored run says so too: marked cancelled, not left "running" for recovery to pick up.
    shown = cadenza("runs", "show", doc["run_id"], "--json", env=home)
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    assert stored["status"] == "cancelled", stored


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_with_the_live_view(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    process = subprocess.Popen(
        [CADENZA, "run", str(FLOWS / "slow.yaml"), "-i", "Wait for market data on tea", "--no-store"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "CADENZA_TEST_MARKERS": str(markers)},
    )
    try:
        deadline = time.monotonic() + 30
        while not (markers / "started").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert stdout == ""  # no partial output
    assert "cancelled" in stderr and "Traceback" not in stderr
