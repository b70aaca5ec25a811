"""bench/scale.py at a tiny size: the leak counters stay flat on a clean run and catch each kind of leak
(a temporary file, a descriptor, a process per submission) injected into the engine."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gradingcourse import ASSIGNMENT, course, released_course, submit  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import scale  # noqa: E402

TESTS = str(Path(__file__).resolve().parent)


@pytest.mark.parametrize("leak", [None, "tmp"])
def test_scale_counters_are_flat_and_catch_a_leak(course, leak):
    """A temporary file left per submission is caught. (A leaked descriptor shows only while the workers
    live, i.e. with an engine slower than the fake; a leaked process is counted from the cgroup: neither
    is exercised here.)"""
    for i in range(24):
        submit(course, f"s{i:02d}")
    env = {scale.ENGINE_ENV: "gradingcourse:fake_grade", "PYTHONPATH": TESTS}
    if leak:
        env[scale.LEAK_ENV] = leak
    report = scale.run_scale(course, ASSIGNMENT, [4, 16, 24], workers=2, env=env, batch_size=1)
    assert report["returncode"] == 0, report["log_tail"]
    assert report["summary"] == {"graded": 24, "ungradable": 0, "ok": True}
    assert [r["submissions"] for r in report["checkpoints"]] == [4, 16, 24]
    if leak is None:
        assert report["leaks"] == [], report["leaks"]
        assert report["after"] == {"processes": 0, "temp_entries": 0}
    else:
        assert report["after"]["temp_entries"] == 24
        assert any("temporary entries left" in x for x in report["leaks"])
    assert "Leaks:" in scale.markdown(report, {"date": "d", "submissions": 24, "cpus": 2, "loadavg_1min": 0})
