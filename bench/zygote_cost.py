"""Cost of a fresh sandbox per submission vs a session forked from the zygote (issue 15).

    python bench/zygote_cost.py [--n 10] [--sessions 20] [--assignments optimization,gradient_checking]

For each ``DEEPGRADE_ZYGOTE`` setting (``off``: a fresh bubblewrap sandbox per session; ``all``: every
session forked from the shared zygote) and each kind of work -- an empty NumPy session, our own
solution notebook of each assignment, and (optimization) the same solutions in the original course's
format (tests/original_course.py) -- clean child processes run one warm-up item (imports; it starts
the zygote when forking) and then ``k`` more, once with k = 0 and once with k = ``--n``:
  * CPU seconds per item = (CPU of the k = n run - CPU of the k = 0 run) / n, where a run's CPU is the
    child's user + system time including every process it started (the child is a subreaper and
    reaps every orphaned sandbox process before it exits, after closing its zygote);
  * wall seconds per item (steady state, after the warm-up) and, for sessions, the median start.
  The k = 0 run's CPU is the fixed cost (interpreter, imports, zygote start-up). Prints JSON.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def child(kind: str, k: int) -> dict:
    """One warm-up item of ``kind`` then ``k`` timed ones; returns wall per item (and start times)."""
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER: orphans of killed sandboxes
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from autograder.engine import grade_submission
    from autograder.sandbox import SandboxPolicy, StudentSession
    from autograder.sandbox.zygote import close_shared_zygotes
    from original_course import write_original

    out: dict = {"starts": [], "scores": []}
    if kind == "session":
        def run() -> None:
            with StudentSession(None, SandboxPolicy()) as s:
                out["starts"].append(s.start_s)
                out["forked"] = s.zygote is not False
    else:
        style, assignment = kind.split(":")
        nb = REPO / "source" / assignment / f"{assignment}.ipynb"
        if style == "original":
            nb = write_original(Path(tempfile.mkdtemp(prefix="zygote-cost-")) / f"{assignment}.ipynb")

        def run() -> None:
            out["scores"].append(grade_submission(nb, assignment, style, course_dir=REPO).score)
    run()
    t0 = time.perf_counter()
    for _ in range(k):
        run()
    out["wall_s"] = (time.perf_counter() - t0) / k if k else None
    close_shared_zygotes()
    _reap_all()
    return out


def _run_child(setting: str, kind: str, k: int) -> tuple[float, dict]:
    """(CPU seconds of the whole child tree, its report)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "DEEPGRADE_ZYGOTE": setting}
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(k)], env=env,
                          capture_output=True, text=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--assignments", default="optimization,gradient_checking")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.n)))
        return 0
    kinds = [("session", args.sessions)]
    for a in (x for x in args.assignments.split(",") if x):
        kinds.append((f"ours:{a}", args.n))
        if a == "optimization":
            kinds.append((f"original:{a}", args.n))
    results = []
    for kind, n in kinds:
        for setting in ("off", "all"):
            fixed, _ = _run_child(setting, kind, 0)
            total, rep = _run_child(setting, kind, n)
            row = {"kind": kind, "setting": setting, "n": n, "cpu_s": round((total - fixed) / n, 4),
                   "fixed_cpu_s": round(fixed, 2), "wall_s": round(rep["wall_s"], 4)}
            if rep["starts"]:
                row["start_s_median"] = round(sorted(rep["starts"][1:])[n // 2], 4)
                row["forked"] = rep.get("forked")
            if rep["scores"]:
                row["score"] = rep["scores"][-1]
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "load_avg": [round(x, 1) for x in os.getloadavg()], "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
