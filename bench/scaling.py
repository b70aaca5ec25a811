"""Scaling of the local pool: steady-state throughput of ``grade_class(workers=1)`` vs ``workers=2``
on one simulated class of one NumPy assignment (issue 15's target: 2 workers >= 1.8x one).

    .venv/bin/python bench/scaling.py [--assignment optimization] [--students 60] [--workers 1,2]

Each configuration grades a fresh copy of the same class in a child process (``force=True``). The
child notes the time at which each result is committed (``on_result``); **steady** throughput is
measured from the commit of the first batch to the last commit (start-up, pool start and the first
notebooks' warm-up excluded). CPU per notebook is the child's whole process tree (workers and
sandboxes included, from ``RUSAGE_CHILDREN``); "main CPU" is the grading process alone (the course-
lock holder: recording), per notebook. Output: a table and ``bench/scaling.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMESTAMP = "2026-11-25 12:00:00.000000 UTC"


def prepare(work: Path, assignment: str, students: int, seed: int) -> Path:
    """A built, released course holding one simulated class of ``assignment`` (correct notebooks and
    known mistakes, nothing broken or hostile)."""
    from autograder import classsim
    from autograder.course.build import build_course
    from autograder.course.release import release_course

    course = work / "course"
    build_course(course, [assignment])
    release_course(course, [assignment], force=True)
    classsim.write_simulated_class(course, assignment, students, seed, TIMESTAMP)
    return course


def child(course: str, assignment: str, workers: int, out: str) -> None:
    """Grade in this process and write the commit times (relative to the call) to ``out``."""
    from autograder.runner import grade_class
    commits: list[float] = []
    t0 = time.perf_counter()
    c0 = time.process_time()
    s = grade_class(course, assignment, workers=workers, force=True, progress=False,
                    on_result=lambda r: commits.append(time.perf_counter() - t0))
    Path(out).write_text(json.dumps({"commits": commits, "wall_s": time.perf_counter() - t0,
                                     "main_cpu_s": time.process_time() - c0, "graded": s.graded,
                                     "ok": s.ok}))


def run(course: Path, assignment: str, workers: int, work: Path) -> dict:
    copy = work / f"course-{workers}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(course, copy)
    out = work / f"run-{workers}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, __file__, "_child", str(copy), assignment, str(workers), str(out)],
                   check=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = json.loads(out.read_text())
    commits, n = data["commits"], data["graded"]
    first = commits[0]
    n_first = sum(1 for t in commits if t <= first)       # the first batch
    steady = 60.0 * (n - n_first) / (commits[-1] - first) if commits[-1] > first else None
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"workers": workers, "notebooks": n, "ok": data["ok"], "wall_s": round(data["wall_s"], 2),
            "first_commit_s": round(first, 2), "steady_notebooks_per_min": round(steady, 2) if steady else None,
            "cpu_s_per_nb": round(cpu / n, 3), "main_cpu_s_per_nb": round(data["main_cpu_s"] / n, 4),
            "loadavg_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", default="optimization")
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deepgrade-scaling-"))
    try:
        course = prepare(work, args.assignment, args.students, args.seed)
        rows = [run(course, args.assignment, int(w), work) for w in args.workers.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    one = next((r for r in rows if r["workers"] == 1), None)
    print(f"{args.students} students of {args.assignment}, {os.cpu_count()} cores\n")
    print("| workers | notebooks | wall s | first commit s | steady nb/min | steady × 1 worker | "
          "CPU s/nb (tree) | main CPU s/nb | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = (r["steady_notebooks_per_min"] / one["steady_notebooks_per_min"]
                 if one and one["steady_notebooks_per_min"] and r["steady_notebooks_per_min"] else None)
        r["steady_ratio_vs_1"] = round(ratio, 2) if ratio else None
        print(f"| {r['workers']} | {r['notebooks']} | {r['wall_s']} | {r['first_commit_s']} | "
              f"{r['steady_notebooks_per_min']} | {r['steady_ratio_vs_1']} | {r['cpu_s_per_nb']} | "
              f"{r['main_cpu_s_per_nb']} | {r['loadavg_1min']} |")
    (REPO / "bench" / "scaling.json").write_text(json.dumps({"assignment": args.assignment,
                                                             "students": args.students, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
