"""Cost of a fresh sandbox per submission vs a session forked from the zygote (issue 15).

    python bench/zygote_cost.py [--n 10] [--sessions 20] [--assignments optimization,gradient_checking]

For each ``DEEPGRADE_ZYGOTE`` setting (``off``: a fresh bubblewrap sandbox per session; ``all``: every
session forked from the shared zygote) a clean child process
  * starts and closes ``--sessions`` empty NumPy sessions: wall seconds per start, CPU seconds per
    session (trusted side + sandbox processes);
  * grades ``--n`` copies of our own solution notebook of each assignment and, for optimization, of
    the same solutions in the original course's format (tests/original_course.py): wall and CPU
    seconds per notebook in steady state (after one warm-up notebook that also starts the zygote).
CPU = this process (user + system) + reaped children + every live descendant (the zygote's tree,
including the children it reaped). The zygote's own start-up is reported separately. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(k) for t in os.listdir(f"/proc/{p}/task")
                    for k in Path(f"/proc/{p}/task/{t}/children").read_text().split()]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


def _reap_orphans() -> None:
    """Wait for zombie children (sandbox processes re-parented to us, the subreaper): their CPU
    then counts in RUSAGE_CHILDREN."""
    for pid in _descendants(os.getpid()):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                os.waitpid(pid, os.WNOHANG)
        except (OSError, ChildProcessError):
            pass


def cpu_seconds() -> float:
    """CPU of this process, its reaped children and every live descendant (with their reaped ones)."""
    _reap_orphans()
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / _TICK     # utime stime cutime cstime
    return total


def _measure(run, n: int) -> dict:
    run()                                   # warm-up (imports; starts the zygote if forking)
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(n):
        run()
    return {"wall_s": round((time.perf_counter() - t0) / n, 4),
            "cpu_s": round((cpu_seconds() - c0) / n, 4)}


def child(n: int, sessions: int, assignments: list[str]) -> dict:
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER: killed sandboxes' orphans
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from autograder.engine import grade_submission
    from autograder.sandbox import SandboxPolicy, StudentSession
    from autograder.sandbox.zygote import close_shared_zygotes
    from original_course import write_original

    out: dict = {"setting": os.environ["DEEPGRADE_ZYGOTE"]}
    c0, t0 = cpu_seconds(), time.perf_counter()
    with StudentSession(None, SandboxPolicy()) as s:        # the first session starts the zygote
        out["first_session"] = {"wall_s": round(time.perf_counter() - t0, 3),
                                "cpu_s": round(cpu_seconds() - c0, 3), "forked": s.zygote is not False}
    starts: list[float] = []

    def one_session() -> None:
        with StudentSession(None, SandboxPolicy()) as s:
            starts.append(s.start_s)
    out["session"] = _measure(one_session, sessions)
    out["session"]["start_s_median"] = round(sorted(starts)[len(starts) // 2], 4)
    work = Path(tempfile.mkdtemp(prefix="zygote-cost-"))
    for a in assignments:
        src = REPO / "source" / a / f"{a}.ipynb"
        scores = []

        def ours(a=a, src=src) -> None:
            scores.append(grade_submission(src, a, "ref", course_dir=REPO).score)
        out[f"{a}/ours"] = {**_measure(ours, n), "score": scores[-1]}
        if a == "optimization":
            nb = write_original(work / "orig" / f"{a}.ipynb")
            orig_scores = []

            def original(a=a, nb=nb) -> None:
                orig_scores.append(grade_submission(nb, a, "orig", course_dir=REPO).score)
            out[f"{a}/original"] = {**_measure(original, n), "score": orig_scores[-1]}
    close_shared_zygotes()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--assignments", default="optimization,gradient_checking")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    assignments = [a for a in args.assignments.split(",") if a]
    if args.child:
        print(json.dumps(child(args.n, args.sessions, assignments)))
        return 0
    results = []
    for setting in ("off", "all"):
        env = {**os.environ, "DEEPGRADE_ZYGOTE": setting}
        proc = subprocess.run([sys.executable, __file__, "--child", "--n", str(args.n), "--sessions",
                               str(args.sessions), "--assignments", args.assignments],
                              env=env, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            return 1
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(json.dumps({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "load_avg": os.getloadavg(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
