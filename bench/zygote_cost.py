"""Cost of a fresh sandbox per submission vs a session forked from the zygote (issue 15).

    python bench/zygote_cost.py [--n 10] [--sessions 20] [--assignments optimization,gradient_checking]

For each ``DEEPGRADE_ZYGOTE`` setting (``off``: a fresh bubblewrap sandbox per session; ``all``: every
session forked from the shared zygote) and each kind of work -- an empty NumPy session, our own
solution notebook of each assignment, and (optimization) the same solutions in the original course's
format (tests/original_course.py) -- a clean child process runs one warm-up item (imports; it starts
the zygote when forking), then ``--n`` more, and reports per item in steady state: wall seconds, CPU
seconds and (sessions) the median start. CPU counts this process, its reaped children, every fresh
sandbox's process tree (read from /proc just before the sandbox is killed: the kernel does not pass
the CPU of processes killed with their pid namespace up to us) and the live zygote's tree (its own
time plus the children it reaped). The warm-up's CPU (interpreter, imports, zygote start-up) is
reported as ``warmup_cpu_s``. Prints JSON.
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


def _tree_cpu(pids: list[int]) -> float:
    """utime + stime + cutime + cstime of ``pids`` (seconds)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / _TICK


_KILLED = [0.0]     # CPU of fresh sandboxes, read just before each was killed


def cpu_seconds() -> float:
    """CPU of this process, reaped children, killed fresh sandboxes and live descendants."""
    total = _KILLED[0] + _tree_cpu(_descendants(os.getpid()))
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def child(kind: str, n: int) -> dict:
    """One warm-up item of ``kind`` then ``n`` measured ones."""
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from autograder.engine import grade_submission
    from autograder.sandbox import SandboxPolicy, StudentSession
    from original_course import write_original

    real_close = StudentSession.close

    def close(self) -> None:          # a fresh sandbox's CPU dies with its pid namespace: read it first
        proc = getattr(self._h, "proc", None)
        if proc is not None and proc.poll() is None:
            _KILLED[0] += _tree_cpu([proc.pid, *_descendants(proc.pid)])
        real_close(self)
    StudentSession.close = close
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
    c0 = cpu_seconds()
    run()
    c1, t1 = cpu_seconds(), time.perf_counter()
    for _ in range(n):
        run()
    out.update(wall_s=(time.perf_counter() - t1) / n, cpu_s=(cpu_seconds() - c1) / n,
               warmup_cpu_s=c1 - c0)
    return out


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
            env = {**os.environ, "DEEPGRADE_ZYGOTE": setting}
            proc = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(n)], env=env,
                                  capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                return 1
            rep = json.loads(proc.stdout.strip().splitlines()[-1])
            row = {"kind": kind, "setting": setting, "n": n, "cpu_s": round(rep["cpu_s"], 4),
                   "wall_s": round(rep["wall_s"], 4), "warmup_cpu_s": round(rep["warmup_cpu_s"], 2)}
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
