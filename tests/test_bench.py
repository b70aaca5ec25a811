"""The benchmark keeps working (bench/bench.py): a tiny class on one NumPy assignment, our configurations
agree on every score; the stock-nbgrader wiring (autograder.checks.inkernel) scores like the engine.

Speed is never asserted here; the benchmark script measures it."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bench  # noqa: E402

ROW_KEYS = {"config", "assignment", "workers", "notebooks", "wall_s", "notebooks_per_min", "median_s", "p95_s",
            "peak_rss_mb", "peak_tree_rss_mb", "cpu_s_per_nb", "ratio_vs_nbgrader", "scores_agree",
            "scores_compared_with", "scores", "cpu_source", "steady_cpu_s_per_nb", "marginal_notebooks_per_min",
            "cpu_vs_floor", "window_notebooks_per_min", "window_cpu_s_per_nb"}


def test_hidden_cell_releases_to_the_visible_test_and_parses():
    visible = 'x = f(2)\nassert x == 4, "f(2) should be 4"\nprint("ok")'
    src = bench.hidden_cell_source("initialization", "initialize_parameters_he", 8, visible)
    ast.parse(src)                                          # what stock autograde executes is valid Python
    from nbgrader.preprocessors import ClearHiddenTests
    from nbformat.v4 import new_code_cell, new_notebook
    cell = new_code_cell(src, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                     "grade_id": "test_initialize_parameters_he", "points": 8,
                                                     "schema_version": 3}})
    nb, _ = ClearHiddenTests().preprocess(new_notebook(cells=[cell]), {})
    assert nb.cells[0].source.strip() == visible             # learners see exactly the visible test


@pytest.mark.parametrize("assignment", ["initialization", "gradient_checking"])
def test_inkernel_scores_equal_engine_scores(assignment, monkeypatch, capsys):
    from autograder.checks.adapters import InProcessStudent, implementations
    from autograder.checks.inkernel import grade_cell
    from autograder.engine import function_points, grade_with_student
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    monkeypatch.setenv("DEEPGRADE_STUDENT", "student007")
    points = function_points(REPO, assignment)
    functions = list(GRADED[assignment])
    # one mistake per function where there is one, the first function left missing
    choices = {f: (mistakes_for(assignment, f)[0].id if mistakes_for(assignment, f) else None) for f in functions}
    choices[functions[0]] = "missing"
    engine = grade_with_student(assignment, InProcessStudent(assignment, choices), "student007", course_dir=REPO)
    namespace = {"np": np, **implementations(assignment, choices)}
    for f in functions:
        got = grade_cell(assignment, f, points[f], namespace, visible="assert False, 'visible test fails'\n")
        assert got == pytest.approx(engine.functions[f]["score"], abs=1e-6), f
    out = capsys.readouterr()
    assert "visible test failed" in out.out and out.err == ""


def test_bench_small_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--students", "2",
                           "--assignments", "gradient_checking", "--configs", "plugin,runner1,runner2,floor,service2",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in rows] == ["nbgrader-deepgrade", "runner-1", "runner-2", "floor", "cli-service-2"]
    for r in rows:
        assert ROW_KEYS <= set(r), ROW_KEYS - set(r)
        assert r["assignment"] == "gradient_checking" and r["notebooks"] == 2
        assert r["notebooks_per_min"] > 0 and r["peak_rss_mb"] > 0
        assert r["scores_agree"], r["score_mismatches"]
    first = rows[0]["scores"]
    for r in rows[1:]:                                                # the same per-student totals
        assert r["scores"].keys() == first.keys()
        for s, (score, max_score) in r["scores"].items():
            assert score == pytest.approx(first[s][0], abs=1e-6) and max_score == pytest.approx(first[s][1])
    by = {r["config"]: r for r in rows}
    assert by["floor"]["cpu_source"] == "process_time" and by["floor"]["cpu_vs_floor"] == 1.0
    for label in ("runner-1", "runner-2", "cli-service-2"):           # marginal over the half-class run
        assert by[label]["cpu_source"] == "cgroup" and by[label]["half_run"]["notebooks"] == 1
    meta = json.loads((out / "results.meta.json").read_text())
    assert len(meta["targets"]) == 5 and "| target (issue 15) |" in (out / "results.md").read_text()
    assert (out / "results.md").read_text().count("| gradient_checking |") == 5
    assert "warm service" in meta["targets"][0]["target"] and "cold_per_assignment" in meta["targets"][0]
    assert (out / "throughput.png").stat().st_size > 0
    assert not (out / "work").exists()


def test_cgroup_meter_counts_a_process_nobody_reaps():
    """What rusage misses (a sandbox killed with its bwrap, never reaped by us) the cgroup counts."""
    meter = bench.CgroupMeter.create("deepgrade-test")
    assert meter is not None, "no writable cgroup (cpuacct v1 or cgroup2) on this machine: run as root"
    try:
        burn = "import os,time\nif os.fork()==0:\n t=time.process_time()\n while time.process_time()-t<0.4: pass\n os._exit(0)\nos._exit(0)"
        proc = subprocess.Popen([sys.executable, "-c", burn], preexec_fn=meter.join_self)
        _, _, ru = os.wait4(proc.pid, 0)
        deadline = time.monotonic() + 20
        while meter.pids() and time.monotonic() < deadline:          # the orphan finishes on its own
            time.sleep(0.05)
        assert ru.ru_utime + ru.ru_stime < 0.3                       # rusage never sees the orphan
        assert meter.cpu_s() >= 0.4
    finally:
        meter.close()


def test_marginal_cost_and_targets():
    info = {"cpu_s": 30.0, "wall_s": 40.0, "cpu_source": "cgroup", "half": {"notebooks": 10, "cpu_s": 20.0, "wall_s": 30.0}}
    assert bench.marginal(20, info) == (1.0, 60.0)                   # 10 more notebooks: 10 CPU s, 10 s
    assert bench.marginal(20, {**info, "cpu_s": 19.0}) == (None, 60.0)   # noise larger than the difference
    rows = [{"config": c, "assignment": "optimization", "ratio_vs_nbgrader": x, "cpu_vs_floor": f,
             "steady_cpu_s_per_nb": cpu, "marginal_notebooks_per_min": rate, "window_notebooks_per_min": win,
             "window_cpu_s_per_nb": wcpu}
            for c, x, f, cpu, rate, win, wcpu in [("runner-1", 12.0, 3.0, 0.3, 100.0, 110.0, 0.33),
                                                  ("runner-2", 21.0, 2.1, 0.3, 150.0, 209.0, 0.285),
                                                  ("dask-local-2", 15.0, 2.2, 0.44, 150.0, 150.0, 0.2),
                                                  ("floor", 300.0, 1.0, 0.15, 900.0, None, None),
                                                  ("original-format", 20.0, 4.0, 0.7, 80.0, 80.0, 0.6)]]
    targets = bench.targets(rows)
    got = {t["target"].split(" ")[0]: (t["measured"], t["met"]) for t in targets}
    assert got == {"deepgrade": (21.0, True), "CPU": (1.9, True), "2": (1.9, True), "Dask": (1.47, True),
                   "original-format": (2.11, False)}
    # the two-run estimates are kept beside the steady window's
    assert [t.get("marginal_estimate") for t in targets] == [None, 2.1, 1.5, None, 2.33]


def test_the_steady_window_leaves_out_start_up_and_each_workers_first_notebook():
    # 2 workers: results at 3.0 and 3.2 s (each worker's first), then one every 0.5 s; CPU 1 s each
    arrivals = [(3.0, 10.0), (3.2, 10.5)] + [(3.2 + 0.5 * i, 10.5 + 1.0 * i) for i in range(1, 9)]
    w = bench.steady_window(arrivals, 2)
    assert w == {"notebooks": 8, "notebooks_per_min": 120.0, "cpu_s_per_nb": 1.0}
    assert bench.steady_window(arrivals[:3], 2)["notebooks_per_min"] is None     # too few to tell
    assert bench.steady_window([(1.0, None)] * 2 + [(2.0, None), (3.0, None)], 1) == {
        "notebooks": 3, "notebooks_per_min": 90.0, "cpu_s_per_nb": None}


def test_a_bench_child_reads_its_own_cgroups_cpu():
    """child_runner times the steady window with the CPU of its own tree, read from its cgroup."""
    meter = bench.CgroupMeter.create("deepgrade-bench-test")
    assert meter is not None, "no writable cgroup (cpuacct v1 or cgroup2) on this machine: run as root"
    try:
        code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from cpu_meter import CgroupMeter\n"
                "m = CgroupMeter.of_self(); a = m.cpu_s(); t = time.process_time()\n"
                "while time.process_time() - t < 0.3: pass\n"
                "print(m.cpu_s() - a)")
        out = subprocess.run([sys.executable, "-c", code, str(REPO / "bench")], preexec_fn=meter.join_self,
                             capture_output=True, text=True, check=True).stdout
        assert 0.25 <= float(out) < 2.0
        assert bench.CgroupMeter.of_self() is None          # the test process is in no bench cgroup
    finally:
        meter.close()
