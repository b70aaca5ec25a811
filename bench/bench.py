#!/usr/bin/env python
"""Benchmark: deepgrade vs stock ``nbgrader autograde`` on the same simulated class (issue 8).

    python bench/bench.py [--students 20] [--assignments initialization ...] [--out bench/out]
                          [--configs stock,plugin,runner1,runner2,dask2,floor] [--seed 0]

One simulated class (``autograder.classsim``: correct notebooks and known mistakes, no broken or hostile
notebooks) is written into two course folders and graded by every configuration:

  nbgrader-stock      STOCK ``nbgrader autograde`` (nbgrader's Execute: one kernel per notebook, every
                      cell incl. training and plots) on a course whose test cells additionally carry,
                      inside ``### BEGIN/END HIDDEN TESTS``, a call running OUR hidden checks in-kernel
                      (``autograder.checks.inkernel``); stock nbgrader_config, no deepgrade plugin.
  nbgrader-deepgrade  ``nbgrader autograde`` with the repository's config (deepgrade plugin).
  runner-1 / runner-2 ``autograder.runner.grade_class`` with 1 and 2 local workers.
  dask-local-2        the runner through a throw-away Dask LocalCluster with 2 workers.
  floor               graded functions + hidden checks alone: in-process reference adapter
                      (``InProcessStudent`` with the student's choices), no sandbox, no notebook.

Every configuration runs as its own child process (wall time includes interpreter start-up and imports,
like a user typing the command). Memory: the parent samples the child's process tree with psutil
(every 0.2 s) and reads ``ru_maxrss`` from ``os.wait4`` (largest single reaped process of the tree);
``peak_rss_mb`` is the larger of the two for the biggest single process, ``peak_tree_rss_mb`` the peak
sum over all processes of the tree (overcounts pages shared after fork).

Writes ``<out>/results.json``, ``<out>/results.md``, ``<out>/throughput.png`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from cpu_meter import CgroupMeter  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
NUMPY_ASSIGNMENTS = ["initialization", "regularization", "gradient_checking", "optimization", "batchnorm"]
CONFIGS = {   # short name -> (label, workers)
    "stock": ("nbgrader-stock", 1),
    "plugin": ("nbgrader-deepgrade", 1),
    "runner1": ("runner-1", 1),
    "runner2": ("runner-2", 2),
    "dask2": ("dask-local-2", 2),
    "floor": ("floor", 1),
    # optional speed knob: NumPy sandboxes forked from a pre-imported zygote (DEEPGRADE_ZYGOTE=all)
    "fast1": ("runner-1-zygote", 1),
    "fast2": ("runner-2-zygote", 2),
    # learner notebooks in the ORIGINAL course's format (tests/original_course.py), graded by runner-2
    "orig2": ("original-format", 2),
    # the `deepgrade grade -j 2` command handed to a warm grading service (README "A warm grading
    # service"), started before the bench and not timed; the CPU is the client's and the service's
    "service2": ("cli-service-2", 2),
}
DEFAULT_CONFIGS = "stock,plugin,runner1,runner2,dask2,floor,orig2,service2"
ORIGINAL = "original-format"
FLOOR = "floor"
SERVICE = "cli-service-2"
#: the "Done when" of issue 15, checked on every run (see bench/README.md, "Targets")
TARGETS = {"x_stock": 20.0, "cpu_vs_floor": 2.0, "two_workers": 1.8, "dask_vs_pool": 1.5, "original_vs_ours": 2.0}
STOCK = "nbgrader-stock"
TIMESTAMP = "2026-11-25 12:00:00.000000 UTC"
STOCK_CONFIG = '''"""Stock nbgrader configuration of the benchmark's comparison course (no deepgrade plugin)."""
import os

c = get_config()  # noqa: F821
_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "deepgrade-bench-stock"
c.CourseDirectory.root = _here
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")
c.Exchange.root = os.path.join(_here, "exchange")
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
'''


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(extra or {})
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("MPLBACKEND", "Agg")
    return env


# ------------------------------------------------------------------------------------------- preparation
def hidden_cell_source(assignment: str, function: str, points: float, visible: str) -> str:
    """A test cell of the stock course: the visible test code, wrapped (in hidden regions) in a call
    that runs it and then our hidden checks of ``function`` in the kernel (autograder.checks.inkernel)."""
    if "'''" in visible or visible.rstrip().endswith("\\"):
        raise ValueError(f"test_{function}: the visible test cannot be embedded in r''' '''")
    return ("### BEGIN HIDDEN TESTS\n"
            "import sys as _dg_sys\n"
            f"if {str(REPO)!r} not in _dg_sys.path: _dg_sys.path.insert(0, {str(REPO)!r})\n"
            "from autograder.checks.inkernel import grade_cell as _dg_grade_cell\n"
            f"_dg_grade_cell({assignment!r}, {function!r}, {float(points)!r}, globals(), r'''\n"
            "### END HIDDEN TESTS\n"
            f"{visible.rstrip()}\n"
            "### BEGIN HIDDEN TESTS\n"
            "''')\n"
            "### END HIDDEN TESTS")


def make_stock_variant(nb_path: Path, assignment: str) -> int:
    """Rewrite the source notebook's test cells (see :func:`hidden_cell_source`); returns how many."""
    from reference.registry import GRADED
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    n = 0
    for cell in nb["cells"]:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = meta.get("grade_id") or ""
        f = gid.removeprefix("test_")
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution") \
                and gid.startswith("test_") and f in GRADED[assignment]:
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = hidden_cell_source(assignment, f, meta["points"], src)
            n += 1
    nb_path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return n


def prepare(work: Path, assignments: list[str], students: int, seed: int) -> dict:
    """Build + release both courses and write the same simulated class into each."""
    import numpy as np

    from autograder import classsim
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    if work.exists():
        shutil.rmtree(work)
    ours, stock = work / "deepgrade", work / "stock"
    build_course(ours, assignments)
    release_course(ours, assignments, force=True)
    stock.mkdir(parents=True)
    (stock / "nbgrader_config.py").write_text(STOCK_CONFIG)
    build_course(stock, assignments)
    for a in assignments:
        make_stock_variant(stock / "source" / a / f"{a}.ipynb", a)
    release_course(stock, assignments, force=True)

    class_ = classsim.make_students(students, seed)
    plans: dict[str, dict[str, dict]] = {}
    for i, a in enumerate(assignments):
        functions = list(GRADED[a])
        mistakes = {f: [m.id for m in mistakes_for(a, f)] for f in functions}
        rng = np.random.default_rng([seed, i])
        plans[a] = {}
        for s in class_:
            sub = classsim.plan_submission(s, a, functions, mistakes, rng, broken_rate=0.0, hostile_rate=0.0)
            plans[a][s.id] = sub.choices
            for course in (ours, stock):
                base = course / "release" / a / f"{a}.ipynb"
                classsim.write_submission(course, s.id, a, classsim.render_submission(sub, base), TIMESTAMP)
    write_original_class(work, plans)
    (work / "plans.json").write_text(json.dumps(plans, indent=1))
    return plans


def _tests_on_path() -> None:
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def original_assignments() -> set[str]:
    """Assignments the original-format corpus covers (tests/original_course.py)."""
    _tests_on_path()
    from original_course import FIRST_CELL
    return set(FIRST_CELL)


def write_original_class(work: Path, plans: dict[str, dict[str, dict]]) -> None:
    """``work/original``: our built course whose learners hand in notebooks in the ORIGINAL course's
    format (heavy first cell importing matplotlib/scipy/sklearn and helper modules we do not ship,
    ``cell-<hex>`` ids, the original's graded functions), each function as the same plan chose."""
    from autograder import classsim
    from autograder.simulate import function_source
    _tests_on_path()
    from original_course import original_notebook
    dest = work / "original"
    shutil.copytree(work / "deepgrade", dest, ignore=shutil.ignore_patterns("submitted", "autograded"))
    for a in sorted(original_assignments() & set(plans)):
        for student, choices in plans[a].items():
            overrides = {f: "missing" if c == "missing" else function_source(a, f, c)
                         for f, c in choices.items() if c is not None}
            nb = original_notebook(a, overrides)
            classsim.write_submission(dest, student, a, json.dumps(nb, indent=1).encode(), TIMESTAMP)


# ------------------------------------------------------------------------------------------- measuring
class TreeSampler:
    """Peak RSS per process and of the whole tree under ``pid`` (psutil, every ``interval`` s)."""

    def __init__(self, pid: int, interval: float = 0.2, also: list[int] = ()):
        self.pid, self.interval, self.also = pid, interval, list(also)   # also: other trees (the service)
        self.per_pid: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.tree_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        import psutil
        try:
            roots = [psutil.Process(self.pid)] + [psutil.Process(p) for p in self.also]
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                procs = [p for root in roots for p in [root] + root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    if p.pid not in self.names:
                        self.names[p.pid] = " ".join(p.cmdline()[:3])[:80]
                except psutil.Error:
                    continue
                total += rss
                self.per_pid[p.pid] = max(self.per_pid.get(p.pid, 0), rss)
            self.tree_peak = max(self.tree_peak, total)
            self._stop.wait(self.interval)


def run_child(cmd: list[str], cwd: Path, log_path: Path, on_line=None, env: dict | None = None,
              also_sample: list[int] = ()) -> dict:
    """Run ``cmd``; stream its stderr+stdout (each line timestamped to ``on_line(now, line)``); measure
    memory and CPU.

    CPU comes from a cgroup made for the child (:mod:`cpu_meter`: every process of the tree, sandboxes
    included, however it ended) when this machine allows one, else from ``os.wait4``'s rusage (misses
    processes that are killed rather than reaped, such as sandboxes); ``cpu_source`` says which."""
    meter = CgroupMeter.create("deepgrade-bench")
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=cwd, env=_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, bufsize=1, preexec_fn=meter.join_self if meter else None)
            with TreeSampler(proc.pid, also=also_sample) as sampler:
                for line in proc.stdout:
                    now = time.perf_counter() - t0
                    log.write(f"{now:9.3f} {line}")
                    if on_line:
                        on_line(now, line)
                _, status, ru = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        cpu_s = meter.cpu_s() if meter is not None else ru.ru_utime + ru.ru_stime
    finally:
        if meter is not None:
            meter.close()
    biggest = max(sampler.per_pid.items(), key=lambda kv: kv[1], default=(0, 0))
    return {"wall_s": wall, "returncode": proc.returncode,
            "peak_rss_mb": max(ru.ru_maxrss / 1024, biggest[1] / 2**20),
            "peak_rss_process": sampler.names.get(biggest[0], ""),
            "peak_tree_rss_mb": sampler.tree_peak / 2**20,
            "processes_seen": len(sampler.per_pid),
            # CPU seconds of the whole tree (less sensitive to a noisy machine than wall time)
            "cpu_s": cpu_s, "cpu_source": "cgroup" if meter is not None else "rusage",
            "loadavg_1min": round((load_before + os.getloadavg()[0]) / 2, 2)}


NB_START = re.compile(r"submitted[/\\]([^/\\\s]+)[/\\]")


def run_nbgrader(course: Path, assignment: str, log_path: Path) -> tuple[dict, list[float]]:
    """``nbgrader autograde`` in ``course``; per-notebook times from the timestamped log lines."""
    starts: list[tuple[float, str]] = []

    def on_line(now, line):
        m = NB_START.search(line)
        if m and (not starts or starts[-1][1] != m.group(1)):
            starts.append((now, m.group(1)))

    info = run_child([str(BIN / "nbgrader"), "autograde", assignment, "--force",
                      f"--CourseDirectory.root={course}"], course, log_path, on_line)
    if info["returncode"] != 0:
        raise RuntimeError(f"nbgrader autograde failed in {course}; see {log_path}")
    info["startup_s"] = starts[0][0] if starts else None
    bounds = [t for t, _ in starts] + [info["wall_s"]]
    per_nb = [b - a for a, b in zip(bounds, bounds[1:])]
    return info, per_nb


def gradebook_scores(course: Path, assignment: str) -> dict[str, tuple[float, float]]:
    """{student: (score, max_score)} from nbgrader's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        a = gb.find_assignment(assignment)
        for st in gb.students:
            try:
                sub = gb.find_submission(assignment, st.id)
            except MissingEntry:
                continue
            out[st.id] = (float(sub.score or 0.0), float(a.max_score or 0.0))
    return out


# ------------------------------------------------------------------------------------------- children
def child_runner(course: str, assignment: str, workers: int, scheduler: str | None, out: str,
                 students: int | None = None) -> None:
    """``grade_class`` on the course (its first ``students`` students only when given)."""
    t_start = time.perf_counter()
    from autograder.runner import grade_class
    names = sorted(p.name for p in (Path(course) / "submitted").iterdir())[:students] if students else None
    times, scores = [], {}

    def on_result(r):
        times.append(float((r.timing or {}).get("total_s") or 0.0))
        scores[r.student] = (r.score, r.max_score, r.gradable)

    # when each graded notebook reaches the process that records it (and the tree's CPU then): the
    # steady window between the first results of the workers and the last result is timed from these
    import autograder.runner as runner
    meter, arrivals, record = CgroupMeter.of_self(), [], runner._record

    def timed_record(*args, **kwargs):
        arrivals.append((time.perf_counter() - t0, meter.cpu_s() if meter else None))
        return record(*args, **kwargs)
    runner._record = timed_record
    t0 = time.perf_counter()
    s = grade_class(course, assignment, workers=workers, scheduler=scheduler, force=True, progress=False,
                    on_result=on_result, students=names)
    Path(out).write_text(json.dumps({"per_nb": times, "scores": scores, "wall_s": time.perf_counter() - t0,
                                     "arrivals": arrivals,
                                     "grade_s": s.grade_s, "setup_s": time.perf_counter() - t_start - s.grade_s,
                                     "ungradable": s.ungradable, "record_errors": s.record_errors,
                                     "mode": s.mode}))


FLOOR_PASSES = 3      # the floor grades the class this many times; each notebook's median pass counts


def child_floor(course: str, assignment: str, plans: str, out: str) -> None:
    """The floor: every student's graded functions and the hidden checks, in this process, no sandbox,
    no notebook, no gradebook. The class is graded :data:`FLOOR_PASSES` times (after one warm-up) and
    each notebook counts with its median pass: one pass's process time moved by ±15 % between runs on
    this shared machine (0.049-0.067 CPU s per notebook for the same work), and the ratio to the floor
    is a target."""
    from autograder.checks.adapters import InProcessStudent
    from autograder.engine import grade_with_student
    choices_by_student = json.loads(Path(plans).read_text())[assignment]
    first = next(iter(choices_by_student))
    grade_with_student(assignment, InProcessStudent(assignment, {}), first, course_dir=course)  # warm-up
    times = {s: [] for s in choices_by_student}
    cpu = {s: [] for s in choices_by_student}
    scores = {}
    for _ in range(FLOOR_PASSES):
        for student, choices in choices_by_student.items():
            t0, c0 = time.perf_counter(), time.process_time()
            r = grade_with_student(assignment, InProcessStudent(assignment, choices), student, course_dir=course)
            times[student].append(time.perf_counter() - t0)
            cpu[student].append(time.process_time() - c0)
            if scores.setdefault(student, (r.score, r.max_score, r.gradable)) != (r.score, r.max_score, r.gradable):
                raise RuntimeError(f"floor: {student} scored differently in two passes")
    Path(out).write_text(json.dumps({"per_nb": [statistics.median(times[s]) for s in choices_by_student],
                                     "cpu_per_nb": [statistics.median(cpu[s]) for s in choices_by_student],
                                     "passes": FLOOR_PASSES, "scores": scores}))


# ------------------------------------------------------------------------------------------- one config
def run_config(key: str, assignment: str, work: Path, logs: Path) -> dict:
    label, workers = CONFIGS[key]
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{label}-{assignment}.log"
    if key == "stock":
        course = work / "stock"
        info, per_nb = run_nbgrader(course, assignment, log)
        scores = gradebook_scores(course, assignment)
    elif key == "service2":
        info, per_nb, course = run_service_command(work, label, assignment, workers, logs)
        scores = gradebook_scores(course, assignment)
    elif key == "plugin":
        course = _fresh_copy(work, label)
        info, per_nb = run_nbgrader(course, assignment, log)
        scores = gradebook_scores(course, assignment)
    else:
        course = work / "deepgrade" if key == "floor" else \
            _fresh_copy(work, label, "original" if key == "orig2" else "deepgrade")
        out = logs / f"{label}-{assignment}.json"
        if key == "floor":
            cmd = [PY, __file__, "_floor", str(course), assignment, str(work / "plans.json"), str(out)]
        else:
            sched = "local" if key == "dask2" else "-"
            cmd = [PY, __file__, "_runner", str(course), assignment, str(workers), sched, str(out)]
        extra_env = None
        if key.startswith("fast"):
            extra_env = {"DEEPGRADE_ZYGOTE": "all"}
        if key != "floor":          # the same command on the first half of the class, in its own copy
            half_course = _fresh_copy(work, f"{label}-half", "original" if key == "orig2" else "deepgrade")
            n_half = len(list((half_course / "submitted").iterdir())) // 2
            half_cmd = [PY, __file__, "_runner", str(half_course), assignment, str(workers), sched,
                        str(logs / f"{label}-half-{assignment}.json"), str(n_half)]
            half = run_child(half_cmd, half_course, logs / f"{label}-half-{assignment}.log", env=extra_env)
            if half["returncode"] != 0 or n_half < 1:
                raise RuntimeError(f"{label} (half class) failed on {assignment}; see its log in {logs}")
        info = run_child(cmd, course, log, env=extra_env)
        if info["returncode"] != 0:
            raise RuntimeError(f"{label} failed on {assignment}; see {log}")
        if key != "floor":
            info["half"] = {"notebooks": n_half, "wall_s": half["wall_s"], "cpu_s": half["cpu_s"]}
        data = json.loads(out.read_text())
        per_nb = data["per_nb"]
        if "setup_s" in data:      # interpreter start-up, imports, pool/cluster start, gradebook open
            info["startup_s"] = info["wall_s"] - data["grade_s"]
        if key == "floor":
            scores = {s: (v[0], v[1]) for s, v in data["scores"].items()}
            info["wall_s"] = sum(per_nb)     # the floor is the time inside functions + checks only
            info["startup_s"] = 0.0
            # in process, nothing else runs: its CPU per notebook is the process time of each call
            info["cpu_s"], info["cpu_source"] = sum(data["cpu_per_nb"]), "process_time"
        else:
            scores = gradebook_scores(course, assignment)
    n = len(scores)
    steady_cpu, marginal_rate = marginal(n, info)
    window = steady_window(data.get("arrivals") if key not in ("stock", "plugin", "service2") else None, workers)
    return {"config": label, "assignment": assignment, "workers": workers, "notebooks": n,
            "wall_s": round(info["wall_s"], 3),
            "notebooks_per_min": round(60.0 * n / info["wall_s"], 2) if info["wall_s"] else None,
            "startup_s": round(info["startup_s"], 2) if info.get("startup_s") is not None else None,
            # throughput once the command runs: notebooks / (wall - fixed start-up) -- what a big class sees
            "steady_notebooks_per_min": round(60.0 * n / (info["wall_s"] - info["startup_s"]), 2)
            if info.get("startup_s") is not None and info["wall_s"] > info["startup_s"] else None,
            "median_s": round(statistics.median(per_nb), 4) if per_nb else None,
            "p95_s": round(_p95(per_nb), 4) if per_nb else None,
            "peak_rss_mb": round(info["peak_rss_mb"], 1),
            "peak_rss_process": info["peak_rss_process"],
            "peak_tree_rss_mb": round(info["peak_tree_rss_mb"], 1),
            "cpu_s_per_nb": round(info["cpu_s"] / n, 3) if n else None,
            "cpu_source": info.get("cpu_source"),
            # marginal cost of a notebook (run of n minus run of n/2, over n/2): no fixed start-up in it
            "steady_cpu_s_per_nb": round(steady_cpu, 4) if steady_cpu is not None else None,
            "marginal_notebooks_per_min": round(marginal_rate, 2) if marginal_rate is not None else None,
            "half_run": info.get("half"),
            # the steady window: from the moment every worker has delivered its first notebook to the
            # last notebook (no start-up, no first notebook, no pool stop); see steady_window
            "window_notebooks": window["notebooks"],
            "window_notebooks_per_min": window["notebooks_per_min"],
            "window_cpu_s_per_nb": window["cpu_s_per_nb"],
            "loadavg_1min": info["loadavg_1min"],
            "scores": {s: list(v) for s, v in sorted(scores.items())}}


class WarmService:
    """A grading service for the bench (``deepgrade service start`` with its own folder), started once,
    untimed, inside a cgroup of its own so the CPU of the processes it forks per command is counted."""
    _running: "WarmService | None" = None

    def __init__(self, work: Path) -> None:
        self.env = {"DEEPGRADE_SERVICE_DIR": str(work / "service"), "DEEPGRADE_SERVICE": "on"}
        self.meter = CgroupMeter.create("deepgrade-bench-service")
        proc = subprocess.run([str(BIN / "deepgrade"), "service", "start"], env=_env(self.env), capture_output=True,
                              text=True, timeout=120, preexec_fn=self.meter.join_self if self.meter else None)
        if proc.returncode != 0:
            raise RuntimeError(f"the grading service did not start: {proc.stdout}{proc.stderr}")

    @classmethod
    def get(cls, work: Path) -> "WarmService":
        if cls._running is None:
            cls._running = cls(work)
        return cls._running

    def _status(self) -> re.Match:
        out = subprocess.run([str(BIN / "deepgrade"), "service", "status"], env=_env(self.env), capture_output=True,
                             text=True, timeout=60).stdout
        m = re.search(r"pid (\d+),.* (\d+) requests served", out)
        if m is None:
            raise RuntimeError(f"the grading service's status says no pid or request count: {out}")
        return m

    @property
    def pid(self) -> int:
        return int(self._status().group(1))

    def requests(self) -> int:
        """How many commands the service has served (from ``deepgrade service status``)."""
        return int(self._status().group(2))

    @classmethod
    def stop(cls) -> None:
        if cls._running is not None:
            subprocess.run([str(BIN / "deepgrade"), "service", "stop"], env=_env(cls._running.env),
                           capture_output=True, timeout=120)
            if cls._running.meter is not None:
                cls._running.meter.close()
            cls._running = None


def run_service_command(work: Path, label: str, assignment: str, workers: int, logs: Path):
    """``deepgrade grade`` on the class (and first on half of it, in its own copy) through the warm
    service: (info as run_child gives, per-notebook times (none), the course graded)."""
    service = WarmService.get(work)

    def command(course: Path, log: Path, students: list[str] | None) -> dict:
        cmd = [str(BIN / "deepgrade"), "grade", assignment, "--course", str(course), "-j", str(workers), "--force",
               "--no-progress"] + [x for st in (students or []) for x in ("--student", st)]
        before, served = (service.meter.cpu_s() if service.meter else 0.0), service.requests()
        info = run_child(cmd, course, log, env=service.env, also_sample=[service.pid])
        if info["returncode"] != 0:
            raise RuntimeError(f"{label} failed on {assignment}; see {log}")
        if service.requests() != served + 1:
            raise RuntimeError(f"{label}: the command was not served by the grading service; see {log}")
        info["cpu_s"] += (service.meter.cpu_s() - before) if service.meter else 0.0
        return info

    half_course = _fresh_copy(work, f"{label}-half")
    names = sorted(p.name for p in (half_course / "submitted").iterdir())
    half = command(half_course, logs / f"{label}-half-{assignment}.log", names[: len(names) // 2])
    course = _fresh_copy(work, label)
    info = command(course, logs / f"{label}-{assignment}.log", None)
    info["half"] = {"notebooks": len(names) // 2, "wall_s": half["wall_s"], "cpu_s": half["cpu_s"]}
    return info, [], course


def steady_window(arrivals: list | None, workers: int) -> dict:
    """Throughput and CPU per notebook inside one run, between the arrival of the ``workers``-th result
    (every worker has graded one notebook: pool start, imports and first-notebook costs are behind) and
    the last one: ``arrivals`` = [(seconds since grading began, the tree's CPU seconds or None)] in
    arrival order. Unlike :func:`marginal` it needs no second run, so the noise of two runs' fixed costs
    does not enter it. All None with fewer than ``workers + 2`` results."""
    none = {"notebooks": None, "notebooks_per_min": None, "cpu_s_per_nb": None}
    if not arrivals or len(arrivals) < workers + 2:
        return none
    (t_first, c_first), (t_last, c_last) = arrivals[workers - 1], arrivals[-1]
    k = len(arrivals) - workers
    if t_last <= t_first:
        return none
    return {"notebooks": k, "notebooks_per_min": round(60.0 * k / (t_last - t_first), 2),
            "cpu_s_per_nb": round((c_last - c_first) / k, 4) if c_first is not None and c_last is not None else None}


def marginal(n: int, info: dict) -> tuple[float | None, float | None]:
    """(CPU s per notebook, notebooks per minute) of the notebooks a run of ``n`` grades beyond the run
    of the first half of the class (``info["half"]``): every fixed cost (interpreter, imports, pool or
    cluster start and stop, gradebook open) is in both runs and cancels. The floor has no fixed cost
    in its timed calls: its process time per call. (None, None) when it cannot be told (n < 2, or
    the longer run was not slower: noise larger than the difference)."""
    half = info.get("half")
    if info.get("cpu_source") == "process_time":
        return (info["cpu_s"] / n if n else None), (60.0 * n / info["wall_s"] if info["wall_s"] else None)
    if not half or n - half["notebooks"] < 1:
        return None, None
    extra = n - half["notebooks"]
    d_cpu, d_wall = info["cpu_s"] - half["cpu_s"], info["wall_s"] - half["wall_s"]
    return (d_cpu / extra if d_cpu > 0 else None), (60.0 * extra / d_wall if d_wall > 0 else None)


def _fresh_copy(work: Path, label: str, source: str = "deepgrade") -> Path:
    """A private copy of the ``source`` course (its gradebook and autograded/ untouched by others)."""
    dest = work / "runs" / label
    if not dest.exists():
        shutil.copytree(work / source, dest, ignore=shutil.ignore_patterns("autograded", ".deepgrade*"))
    return dest


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = 0.95 * (len(xs) - 1)
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# ------------------------------------------------------------------------------------------- comparing
def scores_agree(a: dict, b: dict, tol: float = 1e-6) -> tuple[bool, list[str]]:
    """Per-student totals equal within ``tol`` after scaling b's max to a's max."""
    bad = []
    for s in sorted(set(a) | set(b)):
        if s not in a or s not in b:
            bad.append(f"{s}: missing in one run")
            continue
        (sa, ma), (sb, mb) = a[s][:2], b[s][:2]
        scaled = sb * (ma / mb) if mb else sb
        if abs(sa - scaled) > tol:
            bad.append(f"{s}: {sa:g} vs {scaled:g}")
    return not bad, bad


def finish(rows: list[dict]) -> list[dict]:
    """Add ratio_vs_nbgrader and scores_agree (vs stock; else vs the first of our configurations)."""
    by_a: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_a.setdefault(r["assignment"], {})[r["config"]] = r
    for a, cfgs in by_a.items():
        stock = cfgs.get(STOCK)
        ours = [c for c in cfgs if c != STOCK]
        ref = stock or (cfgs[ours[0]] if ours else None)
        for r in cfgs.values():
            r["ratio_vs_nbgrader"] = (round(r["notebooks_per_min"] / stock["notebooks_per_min"], 2)
                                      if stock and stock["notebooks_per_min"] else None)
            r["steady_ratio_vs_nbgrader"] = (round(r["steady_notebooks_per_min"] / stock["steady_notebooks_per_min"], 2)
                                             if stock and stock.get("steady_notebooks_per_min")
                                             and r.get("steady_notebooks_per_min") else None)
            floor = cfgs.get(FLOOR)
            r["cpu_vs_floor"] = _ratio(r.get("steady_cpu_s_per_nb"), floor and floor.get("steady_cpu_s_per_nb"))
            if r["config"] == ORIGINAL:      # other notebooks, graded on the original's functions: no peer
                r["scores_agree"], r["scores_compared_with"], r["score_mismatches"] = None, None, []
            else:
                ok, bad = scores_agree(ref["scores"], r["scores"])
                r["scores_agree"] = ok
                r["scores_compared_with"] = ref["config"]
                r["score_mismatches"] = bad[:20]
            r["mean_score_pct"] = round(100 * statistics.fmean(v[0] / v[1] for v in r["scores"].values() if v[1]), 2) \
                if r["scores"] else None
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """One 'ALL' row per configuration over the assignments it ran (not the original-format one, which
    runs on one assignment only)."""
    out = []
    rows = [r for r in rows if r["config"] != ORIGINAL]
    labels = list(dict.fromkeys(r["config"] for r in rows))
    stock_all = None
    for label in labels:
        rs = [r for r in rows if r["config"] == label]
        n = sum(r["notebooks"] for r in rs)
        wall = sum(r["wall_s"] for r in rs)
        agg = {"config": label, "assignment": "ALL", "workers": rs[0]["workers"], "notebooks": n,
               "wall_s": round(wall, 3), "notebooks_per_min": round(60 * n / wall, 2) if wall else None,
               "median_s": None, "p95_s": None,
               "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
               "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in rs),
               "cpu_s_per_nb": round(sum(r["cpu_s_per_nb"] * r["notebooks"] for r in rs) / n, 3) if n else None,
               "loadavg_1min": round(statistics.fmean(r["loadavg_1min"] for r in rs), 2),
               "scores_agree": all(r["scores_agree"] for r in rs),
               "scores_compared_with": rs[0]["scores_compared_with"],
               "cpu_source": rs[0].get("cpu_source")}
        steady = [(r["steady_cpu_s_per_nb"], r["marginal_notebooks_per_min"], r["notebooks"]) for r in rs]
        if all(c is not None for c, _, _ in steady):
            agg["steady_cpu_s_per_nb"] = round(sum(c * k for c, _, k in steady) / n, 4)
        if all(w for _, w, _ in steady):       # the time the windows' notebooks took, added up
            agg["marginal_notebooks_per_min"] = round(n / sum(k / w for _, w, k in steady), 2)
        win = [(r.get("window_notebooks"), r.get("window_notebooks_per_min"), r.get("window_cpu_s_per_nb"))
               for r in rs]
        if all(k and rate for k, rate, _ in win):       # the windows' notebooks over the windows' time
            k_all = sum(k for k, _, _ in win)
            agg["window_notebooks"] = k_all
            agg["window_notebooks_per_min"] = round(k_all / sum(k / rate for k, rate, _ in win), 2)
            if all(c is not None for _, _, c in win):
                agg["window_cpu_s_per_nb"] = round(sum(k * c for k, _, c in win) / k_all, 4)
        starts = [r.get("startup_s") for r in rs]
        if all(x is not None for x in starts) and wall > sum(starts):
            agg["startup_s"] = round(sum(starts), 2)
            agg["steady_notebooks_per_min"] = round(60 * n / (wall - sum(starts)), 2)
        if label == STOCK:
            stock_all = agg
        out.append(agg)
    for agg in out:
        agg["steady_ratio_vs_nbgrader"] = (round(agg["steady_notebooks_per_min"] / stock_all["steady_notebooks_per_min"], 2)
                                           if stock_all and stock_all.get("steady_notebooks_per_min")
                                           and agg.get("steady_notebooks_per_min") else None)
        agg["ratio_vs_nbgrader"] = (round(agg["notebooks_per_min"] / stock_all["notebooks_per_min"], 2)
                                    if stock_all and stock_all["notebooks_per_min"] else None)
    floor_all = next((a for a in out if a["config"] == FLOOR), None)
    for agg in out:
        agg["cpu_vs_floor"] = _ratio(agg.get("steady_cpu_s_per_nb"), floor_all and floor_all.get("steady_cpu_s_per_nb"))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def targets(rows: list[dict]) -> list[dict]:
    """The "Done when" of issue 15, each as {target, measured, limit, met} (met None: not measured in
    this run). ``rows``: per-assignment rows plus the ALL rows."""
    def row(config, assignment):
        return next((r for r in rows if r["config"] == config and r["assignment"] == assignment), None)

    def field(config, assignment, key):
        r = row(config, assignment)
        return r.get(key) if r else None

    assignments = [a for a in dict.fromkeys(r["assignment"] for r in rows) if a != "ALL"]
    out = []
    # the command as instructors run it: handed to the warm grading service when the run measured it,
    # else in its own process (cold: interpreter and imports in every command); both are kept
    warm = any(r["config"] == SERVICE for r in rows)
    x_stock = {a: field(SERVICE if warm else "runner-2", a, "ratio_vs_nbgrader") for a in assignments}
    cold = {a: field("runner-2", a, "ratio_vs_nbgrader") for a in assignments}
    worst = min((v for v in x_stock.values() if v is not None), default=None)
    out.append({"target": f"deepgrade grade -j 2 ({'warm service' if warm else 'runner-2, cold'}) ≥ 20× stock "
                          "nbgrader end to end, every assignment",
                "measured": worst, "limit": TARGETS["x_stock"], "per_assignment": x_stock,
                "cold_per_assignment": cold,
                "cold": min((v for v in cold.values() if v is not None), default=None),
                "met": None if worst is None or None in x_stock.values() else worst >= TARGETS["x_stock"]})
    whole = "ALL" if row("runner-2", "ALL") else (assignments[0] if assignments else None)
    # CPU: the steady window where the notebooks arrive one by one (a pool), the two-run estimate beside it;
    # Dask answers in batches (arrivals come in clumps), so its comparison stays on the two-run estimate
    for name, key, value in (
            ("CPU per notebook (runner-2, steady window) ≤ 2× the floor's", "cpu_vs_floor",
             _ratio(field("runner-2", whole, "window_cpu_s_per_nb"), field(FLOOR, whole, "steady_cpu_s_per_nb"))),
            ("2 workers ≥ 1.8× one worker (notebooks/min, steady window)", "two_workers",
             _ratio(field("runner-2", whole, "window_notebooks_per_min"),
                    field("runner-1", whole, "window_notebooks_per_min"))),
            ("Dask CPU per notebook ≤ 1.5× the pool's (marginal)", "dask_vs_pool",
             _ratio(field("dask-local-2", whole, "steady_cpu_s_per_nb"), field("runner-2", whole, "steady_cpu_s_per_nb")))):
        upper = key != "two_workers"
        out.append({"target": name, "measured": value, "limit": TARGETS[key], "over": whole,
                    "met": None if value is None else (value <= TARGETS[key] if upper else value >= TARGETS[key])})
        if key == "two_workers":     # the older estimate, from two runs (20 vs 10 notebooks), for comparison
            out[-1]["marginal_estimate"] = _ratio(field("runner-2", whole, "marginal_notebooks_per_min"),
                                                  field("runner-1", whole, "marginal_notebooks_per_min"))
        if key == "cpu_vs_floor":
            out[-1]["marginal_estimate"] = field("runner-2", whole, "cpu_vs_floor")
    orig = [(a, _ratio(field(ORIGINAL, a, "window_cpu_s_per_nb"), field("runner-2", a, "window_cpu_s_per_nb")),
             _ratio(field(ORIGINAL, a, "steady_cpu_s_per_nb"), field("runner-2", a, "steady_cpu_s_per_nb")))
            for a in assignments if row(ORIGINAL, a)]
    value = max((v for _, v, _ in orig if v is not None), default=None)
    out.append({"target": "original-format notebook CPU ≤ 2× ours (runner-2, steady window)", "measured": value,
                "limit": TARGETS["original_vs_ours"], "over": ",".join(a for a, _, _ in orig) or None,
                "marginal_estimate": max((m for _, _, m in orig if m is not None), default=None),
                "met": None if value is None else value <= TARGETS["original_vs_ours"]})
    return out


# ------------------------------------------------------------------------------------------- reporting
def markdown(rows: list[dict], meta: dict) -> str:
    def f(x, fmt):
        return "–" if x is None else format(x, fmt)
    lines = [f"Benchmark {meta['date']}: {meta['students']} students per assignment, {meta['cpus']} CPUs, "
             f"sandbox `{meta['sandbox_mode']}`, Python {meta['python']}.", "",
             "| assignment | configuration | workers | notebooks | wall s | notebooks/min | median s/nb | "
             "p95 s/nb | CPU s/nb | peak RSS MB (largest process) | peak tree RSS MB | × stock nbgrader | "
             "start-up s | steady nb/min | steady × stock | marginal CPU s/nb | × floor CPU | marginal nb/min | "
             "window nb/min | window CPU s/nb | scores agree | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        agree = "yes" if r["scores_agree"] else "**no**"
        if r["config"] == r.get("scores_compared_with"):
            agree = "(reference)"
        elif r["scores_agree"] is None:
            agree = "n/a"
        lines.append(f"| {r['assignment']} | {r['config']} | {r['workers']} | {r['notebooks']} | "
                     f"{r['wall_s']:.1f} | {f(r['notebooks_per_min'], '.1f')} | {f(r['median_s'], '.3f')} | "
                     f"{f(r['p95_s'], '.3f')} | {f(r.get('cpu_s_per_nb'), '.2f')} | {r['peak_rss_mb']:.0f} | "
                     f"{r['peak_tree_rss_mb']:.0f} | {f(r['ratio_vs_nbgrader'], '.1f')} | "
                     f"{f(r.get('startup_s'), '.1f')} | {f(r.get('steady_notebooks_per_min'), '.1f')} | "
                     f"{f(r.get('steady_ratio_vs_nbgrader'), '.1f')} | {f(r.get('steady_cpu_s_per_nb'), '.3f')} | "
                     f"{f(r.get('cpu_vs_floor'), '.1f')} | {f(r.get('marginal_notebooks_per_min'), '.1f')} | "
                     f"{f(r.get('window_notebooks_per_min'), '.1f')} | {f(r.get('window_cpu_s_per_nb'), '.3f')} | {agree} | "
                     f"{f(r.get('loadavg_1min'), '.1f')} |")
    cpu = {r.get("cpu_source") for r in rows if r["config"] != FLOOR} - {None}
    lines += ["", f"CPU counted by: {', '.join(sorted(cpu)) or '–'} (floor: process time of each call).", "",
              "| target (issue 15) | measured | limit | met |", "|---|---:|---:|---|"]
    for t in meta.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        also = f" (two-run estimate {t['marginal_estimate']:.2f})" if t.get("marginal_estimate") else ""
        also += f" (cold command {t['cold']:.2f})" if t.get("cold") and "warm" in t["target"] else ""
        lines.append(f"| {t['target']} | {f(t['measured'], '.2f')}{also} | {t['limit']:g} | {met} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    assignments = list(dict.fromkeys(r["assignment"] for r in rows))
    configs = [c for c in dict.fromkeys(r["config"] for r in rows)]
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(assignments) + 5), 4.5))
    w = 0.8 / max(1, len(configs))
    x = np.arange(len(assignments))
    for i, c in enumerate(configs):
        vals = [next((r["notebooks_per_min"] or 0 for r in rows if r["config"] == c and r["assignment"] == a), 0)
                for a in assignments]
        ax.bar(x + (i - (len(configs) - 1) / 2) * w, vals, w, label=c)
    ax.set_xticks(x, assignments, rotation=15)
    ax.set_yscale("log")
    ax.set_ylabel("notebooks per minute (log)")
    ax.set_title("Grading throughput: deepgrade vs stock nbgrader")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- re-analysis
def startup_from_logs(row: dict, logs: Path) -> float | None:
    """Fixed start-up of a finished run from its kept log (nbgrader: first notebook line) or child JSON
    (runner: parent-measured wall minus the grading phase / grade_class wall)."""
    label, a = row["config"], row["assignment"]
    if label == "floor":
        return 0.0
    log = logs / f"{label}-{a}.log"
    if label.startswith("nbgrader"):
        if not log.is_file():
            return None
        for line in log.read_text().splitlines():
            if NB_START.search(line):
                return float(line.split()[0])
        return None
    js = logs / f"{label}-{a}.json"
    if not js.is_file():
        return None
    data = json.loads(js.read_text())
    inner = data.get("grade_s", data.get("wall_s"))
    return max(0.0, row["wall_s"] - inner) if inner is not None else None


def refresh(out: Path) -> list[dict]:
    """Recompute derived columns (start-up, steady throughput, ratios) of ``out/results.json`` from the
    kept logs, then rewrite results.json/.md and the plot."""
    rows = [r for r in json.loads((out / "results.json").read_text()) if r["assignment"] != "ALL"]
    meta = json.loads((out / "results.meta.json").read_text())
    for r in rows:
        st = startup_from_logs(r, out / "logs")
        r["startup_s"] = round(st, 2) if st is not None else None
        r["steady_notebooks_per_min"] = (round(60.0 * r["notebooks"] / (r["wall_s"] - st), 2)
                                         if st is not None and r["wall_s"] > st else None)
    order = {a: i for i, a in enumerate(meta.get("assignments", []))}
    labels = {label: i for i, (label, _) in enumerate(CONFIGS.values())}
    rows.sort(key=lambda r: (order.get(r["assignment"], 99), labels.get(r["config"], 99)))
    rows = finish(rows)
    summary = aggregate(rows) if len({r["assignment"] for r in rows}) > 1 else []
    write_outputs(out, rows, summary, meta)
    return rows + summary


def write_outputs(out: Path, rows: list[dict], summary: list[dict], meta: dict) -> str:
    meta["targets"] = targets(rows + summary)
    table = markdown(rows + summary, meta)
    (out / "results.md").write_text(table)
    (out / "results.json").write_text(json.dumps(rows + summary, indent=1))
    (out / "results.meta.json").write_text(json.dumps(meta, indent=1))
    plot(rows, out / "throughput.png")
    return table


# ------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_runner":
        _, course, a, workers, sched, out, *students = argv
        child_runner(course, a, int(workers), None if sched == "-" else sched, out,
                     int(students[0]) if students else None)
        return 0
    if argv and argv[0] == "_floor":
        _, course, a, plans, out = argv
        child_floor(course, a, plans, out)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=20)
    p.add_argument("--assignments", nargs="+", default=NUMPY_ASSIGNMENTS)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    p.add_argument("--configs", default=DEFAULT_CONFIGS,
                   help=f"comma-separated subset of {','.join(CONFIGS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep the work folder (courses, logs)")
    p.add_argument("--reuse", action="store_true",
                   help="reuse <out>/work (kept with --keep) and merge these configurations into <out>/results.json")
    p.add_argument("--refresh", action="store_true",
                   help="only recompute the derived columns of an existing <out>/results.json from its logs")
    args = p.parse_args(argv)
    if args.refresh:
        refresh(args.out.resolve())
        print((args.out.resolve() / "results.md").read_text())
        return 0
    keys = [k.strip() for k in args.configs.split(",") if k.strip()]
    unknown = [k for k in keys if k not in CONFIGS]
    if unknown:
        p.error(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"

    from autograder.sandbox import sandbox_mode
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "students": args.students,
            "assignments": args.assignments, "configs": [CONFIGS[k][0] for k in keys],
            "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "sandbox_mode": sandbox_mode(), "seed": args.seed}
    t0 = time.perf_counter()
    rows = []
    if args.reuse and (work / "plans.json").is_file():
        plans = json.loads((work / "plans.json").read_text())
        args.assignments = [a for a in args.assignments if a in plans]
        old_meta = json.loads((out / "results.meta.json").read_text()) if (out / "results.meta.json").is_file() else {}
        meta = {**old_meta, "configs": list(dict.fromkeys(old_meta.get("configs", []) + meta["configs"]))}
        if (out / "results.json").is_file():
            rows = [r for r in json.loads((out / "results.json").read_text()) if r["assignment"] != "ALL"
                    and r["config"] not in {CONFIGS[k][0] for k in keys}]
        print(f"reusing {work} ({len(rows)} earlier rows)", flush=True)
    else:
        print(f"preparing {args.students} students x {len(args.assignments)} assignments in {work} ...", flush=True)
        prepare(work, args.assignments, args.students, args.seed)
        meta["prepare_s"] = round(time.perf_counter() - t0, 1)
    covered = original_assignments()
    try:
        for a in args.assignments:
            for k in keys:
                if k == "orig2" and a not in covered:
                    continue
                t1 = time.perf_counter()
                row = run_config(k, a, work, out / "logs")
                rows.append(row)
                print(f"  {a:18s} {row['config']:20s} {row['notebooks']:3d} nb  {row['wall_s']:8.1f} s  "
                      f"{row['notebooks_per_min']:8.1f} nb/min  peak {row['peak_rss_mb']:.0f} MB  "
                      f"({time.perf_counter() - t1:.0f} s)", flush=True)
    finally:
        WarmService.stop()
    order = {a: i for i, a in enumerate(list(dict.fromkeys(meta.get("assignments", []) + args.assignments)))}
    labels = {label: i for i, (label, _) in enumerate(CONFIGS.values())}
    rows.sort(key=lambda r: (order.get(r["assignment"], 99), labels.get(r["config"], 99)))
    rows = finish(rows)
    summary = aggregate(rows) if len({r["assignment"] for r in rows}) > 1 else []
    meta["total_s"] = round(time.perf_counter() - t0, 1) + (meta.get("total_s", 0) if args.reuse else 0)
    table = write_outputs(out, rows, summary, meta)
    print(table)
    for r in rows:
        if r["scores_agree"] is False:
            print(f"scores differ: {r['assignment']} {r['config']} vs {r['scores_compared_with']}: "
                  f"{r['score_mismatches'][:5]}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
