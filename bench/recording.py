"""Recording cost: CPU seconds of the grading process per recorded result, SQLite vs PostgreSQL, the
per-result path before issue 11 vs the batched recording step (autograder/recording.py).

    .venv/bin/python bench/recording.py [--results 200] [--cells 8] [--checks 24] [--repeat 3]

The results are synthetic (an assignment with ``--cells`` graded functions and ``--checks`` checks,
each with one concept, like a real notebook), released with nbgrader into a throw-away course; the
PostgreSQL server is a throw-away one on 127.0.0.1 (tests/infra.py; needs Debian's postgresql).
"batched, evidence off" is the same without ``quizzes.mastery.record_evidence_batch`` (the gradebook
part alone; since issue 15 the evidence of a batch is written set-based too, about ten statements per
batch).
"Before" is ``ResultStore.record`` + ``quizzes.mastery.record_result`` of the commit before issue 11
(loaded from git), one result at a time, as the runner called them. CPU is this process only (the
database server's own CPU is not counted); wall time is printed too. The last column compares CPU with
the committed bench/recording.json (the previous run), which this run then replaces.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autograder.recording import Item, Recorder  # noqa: E402
from autograder.result import CheckResult, SubmissionResult  # noqa: E402
from infra import PgServer, use_database  # noqa: E402
from quizzes import mastery  # noqa: E402

BEFORE = "780458c"          # the last commit with the per-result recording path


def make_course(root: Path, n_cells: int) -> Path:
    """A released course with one assignment ``bench`` of ``n_cells`` graded functions."""
    import gradingcourse as gc
    gc.POINTS.clear()
    gc.POINTS.update({f"f{i}": 2.0 for i in range(n_cells)})
    gc.SOLUTIONS.clear()
    gc.SOLUTIONS.update({f"f{i}": "    return a + b" for i in range(n_cells)})
    return gc.make_course(root)


def results(n: int, n_cells: int, n_checks: int) -> list[SubmissionResult]:
    out = []
    concepts = ["weight_initialization", "l2_regularization", "dropout", "gradient_checking"]
    for s in range(n):
        checks = tuple(CheckResult(name=f"f{c % n_cells}.check{c}", function=f"f{c % n_cells}", points=1.0,
                                   max_points=1.0, passed=(s + c) % 3 != 0, message="ok",
                                   concepts=(concepts[c % len(concepts)],)) for c in range(n_checks))
        cells = {f"test_f{i}": {"score": 1.0, "max_score": 2.0} for i in range(n_cells)}
        out.append(SubmissionResult(assignment="tiny", student=f"st{s:04d}", notebook="tiny.ipynb",
                                    checksum=f"{s:064d}", gradable=True, score=float(n_cells),
                                    max_score=2.0 * n_cells, functions={k[5:]: v for k, v in cells.items()},
                                    grade_cells=cells, checks=checks))
    return out


def load_before():
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:autograder/gradebook.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "gradebook_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("gradebook_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # SQLAlchemy resolves the Mapped[...] annotations through it
    spec.loader.exec_module(module)
    return module


def run_before(module, url: str, rs) -> None:
    with module.ResultStore(url) as store:
        for r in rs:
            store.record(r, checksum=r.checksum)
            module.update_mastery(url, r)


def run_batched(url: str, course: Path, rs, evidence: bool = True) -> None:
    real = mastery.record_evidence_batch
    if not evidence:                      # the gradebook part alone: evidence is the mastery model's cost
        mastery.record_evidence_batch = lambda conn, entries: 0
    try:
        with Recorder(url, course) as rec:
            for r in rs:
                rec.add(Item(r, checksum=r.checksum))
    finally:
        mastery.record_evidence_batch = real


def measure(fn) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=200)
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--checks", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    committed_path = ROOT / "bench" / "recording.json"
    committed = {(r["backend"], r["path"]): r for r in json.loads(committed_path.read_text())} \
        if committed_path.exists() else {}
    before = load_before()
    server = PgServer()
    rows = []
    try:
        template = make_course(Path(tempfile.mkdtemp()) / "course", args.cells)
        rs = results(args.results, args.cells, args.checks)
        for backend in ("sqlite", "postgresql"):
            for path in ("before", "batched", "batched, evidence off"):
                best = None
                for _ in range(args.repeat):
                    course = Path(tempfile.mkdtemp()) / "course"
                    subprocess.run(["cp", "-r", str(template), str(course)], check=True)
                    url = f"sqlite:///{course / 'gradebook.db'}"
                    if backend == "postgresql":
                        url = server.new_database()
                        use_database(course, url)
                    fn = (lambda: run_before(before, url, rs)) if path == "before" else \
                        (lambda: run_batched(url, course, rs, evidence=path == "batched"))
                    cpu, wall = measure(fn)
                    best = (cpu, wall) if best is None or cpu < best[0] else best
                rows.append({"backend": backend, "path": path, "cpu_ms_per_result": 1000 * best[0] / args.results,
                             "wall_ms_per_result": 1000 * best[1] / args.results})
    finally:
        server.close()
    print(f"{args.results} results, {args.cells} grade cells, {args.checks} checks each; best of {args.repeat}\n")
    print("| backend | path | CPU ms / result | wall ms / result | CPU before / batched | CPU committed / now |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        base = next(x for x in rows if x["backend"] == r["backend"] and x["path"] == "before")
        ratio = base["cpu_ms_per_result"] / r["cpu_ms_per_result"]
        old = committed.get((r["backend"], r["path"]))
        vs = f"{old['cpu_ms_per_result'] / r['cpu_ms_per_result']:.1f}x" if old else "-"
        print(f"| {r['backend']} | {r['path']} | {r['cpu_ms_per_result']:.2f} | {r['wall_ms_per_result']:.2f} | "
              f"{ratio:.1f}x | {vs} |")
    committed_path.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
