#!/usr/bin/env python
"""Scale: 1,000 simulated submissions of one NumPy assignment through ``grade_class`` (issue 15).

    python bench/scale.py [--submissions 1000] [--assignment initialization] [--workers 2]
                          [--checkpoints 125,250,500,1000] [--out bench]

One class of ``--submissions`` students (``autograder.classsim``: correct notebooks and known mistakes)
is graded in ONE run of ``grade_class`` (local pool, ``--workers`` workers) in a child process. At each
checkpoint (the k-th recorded result) the parent notes:

* ``elapsed_s`` since the child started, and ``s_per_nb_since_last`` (time is linear in class size
  when this stays flat);
* ``worker_peak_rss_mb``: the peak resident memory of each grading worker so far (psutil, every 0.2 s;
  memory is flat when the largest worker does not grow with k);
* leak counters: ``processes`` (the grading tree: main, workers and whatever sandboxes are running
  at that moment; in the cgroup when there is one, so orphans count too), ``open_fds`` (all of the
  tree's descriptors), ``temp_entries`` (entries in the run's private TMPDIR, where every temporary
  file and folder of the grader and its sandboxes' host side goes).

After the child exits, the same counters again (``after``: processes left behind, temporary entries
left behind). The verdict (``leaks``) flags a counter that grows between the first checkpoint and the
last one before the final result (while the workers still run) by more than :data:`SLACK` per worker
(what one grading in flight holds), or anything left after the run. Results reach the parent as the
recorder commits them (``--batch-size``, 25 like ``deepgrade grade``), so checkpoints are that coarse. Writes ``<out>/scale.json`` and ``<out>/scale.md`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for p in (str(REPO), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

from cpu_meter import CgroupMeter  # noqa: E402

PY = sys.executable
LEAK_ENV = "DEEPGRADE_SCALE_LEAK"            # fault injection for the test: tmp,fd,proc (any of)
ENGINE_ENV = "DEEPGRADE_SCALE_ENGINE"        # the engine leaky_engine wraps (default: the real one)
SLACK = {"processes": 3, "open_fds": 8, "temp_entries": 2}    # per worker: what one in-flight grading may hold
_LEAKED: list = []


def leaky_engine(notebook_path, assignment, student, *, course_dir, seed=None, policy=None):
    """The engine (``$DEEPGRADE_SCALE_ENGINE``, default ``autograder.engine:grade_submission``), leaking
    one temporary file, descriptor or process per submission when ``$DEEPGRADE_SCALE_LEAK`` says so
    (to show the counters catch a leak)."""
    from autograder.tasks import load_callable
    engine = load_callable(os.environ.get(ENGINE_ENV) or "autograder.engine:grade_submission")
    result = engine(notebook_path, assignment, student, course_dir=course_dir, seed=seed)
    leaks = set(os.environ.get(LEAK_ENV, "").split(","))
    if "tmp" in leaks:
        fd, _ = tempfile.mkstemp(prefix="leak-")
        os.close(fd)
    if "fd" in leaks:
        _LEAKED.append(os.open(os.devnull, os.O_RDONLY))
    if "proc" in leaks:
        _LEAKED.append(subprocess.Popen(["sleep", "300"], start_new_session=True))
    return result


# ------------------------------------------------------------------------------------------- preparation
def prepare(course: Path, assignment: str, submissions: int, seed: int) -> None:
    """Build and release our course with ``assignment`` and write ``submissions`` simulated students."""
    from autograder import classsim
    from autograder.course.build import build_course
    from autograder.course.release import release_course

    if course.exists():
        shutil.rmtree(course)
    build_course(course, [assignment])
    release_course(course, [assignment], force=True)
    classsim.write_simulated_class(course, assignment, submissions, seed, "2026-11-25 12:00:00.000000 UTC")


# ------------------------------------------------------------------------------------------- measuring
class Tree:
    """The grading child's processes (its cgroup's when there is one, else its psutil descendants)."""

    def __init__(self, pid: int, meter: CgroupMeter | None):
        import psutil
        self.psutil, self.root, self.meter = psutil, psutil.Process(pid), meter

    def processes(self) -> list:
        ps = self.psutil
        if self.meter is not None:
            out = []
            for pid in self.meter.pids():
                try:
                    out.append(ps.Process(pid))
                except ps.Error:
                    pass
            return out
        try:
            return [self.root] + self.root.children(recursive=True)
        except ps.Error:
            return []


class WorkerPeaks(threading.Thread):
    """Peak RSS of each direct child of the grading process (its pool workers), every ``interval`` s."""

    def __init__(self, tree: Tree, interval: float = 0.2):
        super().__init__(daemon=True)
        self.tree, self.interval = tree, interval
        self.peaks: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        ps = self.tree.psutil
        while not self.stop.is_set():
            try:
                children = self.tree.root.children()
            except ps.Error:
                return
            for c in children:
                try:
                    rss = c.memory_info().rss
                except ps.Error:
                    continue
                self.peaks[c.pid] = max(self.peaks.get(c.pid, 0), rss)
            self.stop.wait(self.interval)


def counters(tree: Tree, tmpdir: Path) -> dict:
    procs = tree.processes()
    fds = 0
    for p in procs:
        try:
            fds += p.num_fds()
        except tree.psutil.Error:
            pass
    return {"processes": len(procs), "open_fds": fds,
            "temp_entries": sum(1 for _ in tmpdir.iterdir()) if tmpdir.is_dir() else 0}


def child(course: str, assignment: str, workers: int, engine: str, batch_size: int) -> None:
    """In the child: grade the class, printing ``RESULT <k>`` after each recorded result."""
    from autograder.runner import grade_class
    done = [0]

    def on_result(_r):
        done[0] += 1
        print(f"RESULT {done[0]}", flush=True)

    s = grade_class(course, assignment, workers=workers, force=True, progress=False, on_result=on_result,
                    engine=engine, batch_size=batch_size)
    print(f"SUMMARY {json.dumps({'graded': s.graded, 'ungradable': s.ungradable, 'ok': s.ok})}", flush=True)


def run_scale(course: Path, assignment: str, checkpoints: list[int], workers: int = 2,
              engine: str = "scale:leaky_engine", env: dict | None = None, batch_size: int = 25) -> dict:
    """Grade ``course`` in a child process and sample the counters at each checkpoint (see the module
    docstring). Returns the report (also what scale.json holds)."""
    tmpdir = Path(tempfile.mkdtemp(prefix="deepgrade-scale-"))
    meter = CgroupMeter.create("deepgrade-scale")
    child_env = {**os.environ, **(env or {})}
    child_env.update(TMPDIR=str(tmpdir), MPLBACKEND="Agg",
                     PYTHONPATH=os.pathsep.join([str(REPO), str(BENCH)] +
                                                [p for p in [child_env.get("PYTHONPATH")] if p]))
    cmd = [PY, __file__, "_child", str(course), assignment, str(workers), engine, str(batch_size)]
    rows, summary, log = [], None, []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=course, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, preexec_fn=meter.join_self if meter else None)
    tree = Tree(proc.pid, meter)
    peaks = WorkerPeaks(tree)
    peaks.start()
    wanted = set(checkpoints)
    try:
        for line in proc.stdout:
            if line.startswith("RESULT "):
                k = int(line.split()[1])
                if k in wanted:
                    now = time.perf_counter() - t0
                    row = {"submissions": k, "elapsed_s": round(now, 2),
                           "worker_peak_rss_mb": sorted(round(v / 2**20, 1) for v in peaks.peaks.values()),
                           "cpu_s": round(meter.cpu_s(), 2) if meter else None, **counters(tree, tmpdir)}
                    if rows:
                        prev = rows[-1]
                        row["s_per_nb_since_last"] = round((now - prev["elapsed_s"]) / (k - prev["submissions"]), 4)
                    rows.append(row)
            elif line.startswith("SUMMARY "):
                summary = json.loads(line.split(" ", 1)[1])
            else:
                log.append(line.rstrip())
        proc.wait()
    finally:
        peaks.stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wall = time.perf_counter() - t0
    time.sleep(0.5)                                   # let killed sandboxes finish dying
    after = {"processes": len(meter.pids()) if meter else None,
             "temp_entries": sum(1 for _ in tmpdir.iterdir())}
    leftovers = sorted(p.name for p in tmpdir.iterdir())[:10]
    if meter is not None:
        for pid in meter.pids():                       # never leave a leak running on the machine
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.2)
        meter.close()
    shutil.rmtree(tmpdir, ignore_errors=True)
    report = {"assignment": assignment, "workers": workers, "returncode": proc.returncode, "wall_s": round(wall, 1),
              "summary": summary, "checkpoints": rows, "after": after, "temp_leftovers": leftovers,
              "counted_in": "cgroup" if meter else "psutil tree", "log_tail": log[-20:]}
    report["leaks"] = leaks(report)
    return report


def leaks(report: dict) -> list[str]:
    """What grew with the class or stayed behind (empty: no per-submission leak)."""
    workers, out = report["workers"], []
    total = max((r["submissions"] for r in report["checkpoints"]), default=0)
    rows = [r for r in report["checkpoints"] if r["submissions"] < total]    # while the workers run
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        for key, slack in SLACK.items():
            if last[key] - first[key] > slack * workers:
                out.append(f"{key} grew from {first[key]} at {first['submissions']} to {last[key]} at "
                           f"{last['submissions']} submissions")
    if report["after"]["processes"]:
        out.append(f"{report['after']['processes']} process(es) left after the run")
    if report["after"]["temp_entries"]:
        out.append(f"{report['after']['temp_entries']} temporary entries left after the run")
    return out


def markdown(report: dict, meta: dict) -> str:
    lines = [f"Scale run {meta['date']}: {meta['submissions']} submissions of `{report['assignment']}`, "
             f"{report['workers']} workers (local pool), {meta['cpus']} CPUs, load {meta['loadavg_1min']}, "
             f"counters from the {report['counted_in']}.", "",
             "| submissions | elapsed s | s/nb since last | CPU s | worker peak RSS MB | processes | open fds | "
             "temp entries |", "|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in report["checkpoints"]:
        lines.append(f"| {r['submissions']} | {r['elapsed_s']:.1f} | {r.get('s_per_nb_since_last', '–')} | "
                     f"{r['cpu_s'] if r['cpu_s'] is not None else '–'} | "
                     f"{', '.join(f'{x:.0f}' for x in r['worker_peak_rss_mb'])} | {r['processes']} | "
                     f"{r['open_fds']} | {r['temp_entries']} |")
    a = report["after"]
    lines += ["", f"After the run: {a['processes']} process(es) and {a['temp_entries']} temporary entries left.",
              f"Leaks: {'none' if not report['leaks'] else '; '.join(report['leaks'])}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_child":
        _, course, assignment, workers, engine, batch_size = argv
        child(course, assignment, int(workers), engine, int(batch_size))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--submissions", type=int, default=1000)
    ap.add_argument("--assignment", default="initialization")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--checkpoints", default="125,250,500,750,1000")
    ap.add_argument("--batch-size", type=int, default=25, help="results per gradebook transaction")
    ap.add_argument("--out", type=Path, default=BENCH)
    ap.add_argument("--work", type=Path, default=None, help="course folder (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    checkpoints = sorted({int(x) for x in a.checkpoints.split(",") if int(x) <= a.submissions} | {a.submissions})
    work = a.work or Path(tempfile.mkdtemp(prefix="deepgrade-scale-course-"))
    course = work / "course"
    t0 = time.perf_counter()
    print(f"preparing {a.submissions} submissions of {a.assignment} in {course} ...", flush=True)
    prepare(course, a.assignment, a.submissions, a.seed)
    prepare_s = time.perf_counter() - t0
    load = os.getloadavg()[0]
    report = run_scale(course, a.assignment, checkpoints, a.workers, batch_size=a.batch_size)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "submissions": a.submissions,
            "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "loadavg_1min": round((load + os.getloadavg()[0]) / 2, 2), "prepare_s": round(prepare_s, 1)}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "scale.json").write_text(json.dumps({"meta": meta, **report}, indent=1))
    table = markdown(report, meta)
    (a.out / "scale.md").write_text(table)
    print(table)
    if a.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["returncode"] == 0 and not report["leaks"] else 1


if __name__ == "__main__":
    sys.exit(main())
