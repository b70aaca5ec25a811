"""Experiment: per-notebook engine time with the course's dg_plotting.py vs a lazy shim that imports
matplotlib on first use (the grader skips plot cells, so it never does).

    python bench/lazy_plotting.py <assignment> [<kept bench work dir>]
"""
import ast
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.engine import grade_submission

a = sys.argv[1]
src = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "bench" / "out" / "work" / "deepgrade"
dst = Path(tempfile.mkdtemp()) / "course"
if dst.exists(): shutil.rmtree(dst)
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("autograded", "runs"))
subs = sorted((dst / "submitted").glob(f"*/{a}/{a}.ipynb"))[:4]

def run(label):
    ts, scores = [], []
    for p in subs:
        t = time.perf_counter()
        r = grade_submission(p, a, p.parent.parent.name, course_dir=dst)
        ts.append(time.perf_counter() - t); scores.append(r.score)
    print(f"{a} {label}: median {statistics.median(ts):.3f} s  {['%.2f' % x for x in ts]} scores {scores}", flush=True)
    return scores

s1 = run("as built")
rel = dst / "release" / a
real = (rel / "dg_plotting.py").read_text()
(rel / "dg_plotting_real.py").write_text(real)
names = [n.name for n in ast.parse(real).body if isinstance(n, ast.FunctionDef) and n.name.startswith("plot_")]
shim = ["import importlib as _il", "_m = None", "def _load():", "    global _m", "    if _m is None:",
        "        _m = _il.import_module('dg_plotting_real')", "    return _m", f"__all__ = {names!r}"]
for n in names:
    shim += [f"def {n}(*a, **k):", f"    return _load().{n}(*a, **k)"]
(rel / "dg_plotting.py").write_text("\n".join(shim) + "\n")
s2 = run("lazy matplotlib")
print("same scores:", s1 == s2)
shutil.rmtree(dst.parent, ignore_errors=True)
