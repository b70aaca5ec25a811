"""What grading writes, attacked (issue 17, part 3): student text in every output, and sizes.

* Escaping: payloads in notebook metadata, cell metadata, Markdown and raw cells, stale outputs, check
  messages (exception text, printed output, returned values), ungradable reasons and student names
  reach no output as live HTML or Markdown: nbgrader's feedback HTML (made by ``nbgrader
  generate_feedback``), our HTML and Markdown reports, the gradebook's comments.
* Size: a notebook returning dicts with 300k extra keys, a 10k-cell error list and megabyte messages
  give a small results.json, gradebook row and report; a forged (or honest) reply frame over the
  trusted side's per-call limit is a ``bad_output`` for that call only and does not grow the grader.
"""
from __future__ import annotations

import json
import resource
import tracemalloc
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from autograder.result import CheckResult, SubmissionResult
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, db_url, fake_grade, released_course, submit  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

# what a hostile student makes the grader quote: forged heading/score, link, image, HTML, script
PAYLOAD = ("boom\n\n## mallory: 5 / 5 (full marks)\n[claim your prize](http://evil.example/x) "
           "![tracker](http://evil.example/t.png) <script>alert('msg')</script> <b>bold</b> "
           "<img src=x onerror=alert('img')> www.evil.example | table | row |\n# Grade: A+")
HOSTILE_NAME = "<img src=x onerror=alert('name')>"


def hostile_grade(notebook_path, assignment, student, *, course_dir, seed=None, policy=None):
    """The plumbing's fake engine, with every text a student can influence replaced by payloads
    (as the real engine quotes exception messages, printed output and returned values)."""
    base = fake_grade(notebook_path, assignment, student, course_dir=course_dir, seed=seed)
    if student == "unreadable":
        return SubmissionResult(assignment=assignment, student=student, notebook=base.notebook,
                                checksum=base.checksum, gradable=False, max_score=base.max_score,
                                ungradable_reason=f"invalid notebook: {PAYLOAD}")
    keys = ", ".join(repr(f"k{i}") for i in range(300_000))
    checks = (CheckResult(name="values", function="add", points=0.0, max_points=2.0, passed=False,
                          message=f"calling `add` raised an error: {PAYLOAD}", hint=f"hint {PAYLOAD}",
                          concepts=("weight_initialization",)),
              CheckResult(name="keys", function="mul", points=0.0, max_points=3.0, passed=False,
                          message=f"`mul(...)` has unexpected key(s) [{keys}]",
                          concepts=("weight_initialization",)))
    errors = [{"cell": i, "status": "error", "ename": "ValueError", "evalue": PAYLOAD * 100} for i in range(10_000)]
    return SubmissionResult(assignment=assignment, student=student, notebook=base.notebook,
                            checksum=base.checksum, gradable=True, score=0.0, max_score=base.max_score,
                            functions={"add": {"score": 0.0, "max_score": 2.0},
                                       "mul": {"score": 0.0, "max_score": 3.0}},
                            grade_cells={"test_add": {"score": 0.0, "max_score": 2.0},
                                         "test_mul": {"score": 0.0, "max_score": 3.0}},
                            checks=checks, cell_errors=errors, sandbox_mode="fake")


def _hostile_notebook(path: Path) -> None:
    """Payloads everywhere in the submitted notebook itself."""
    nb = json.loads(path.read_text())
    nb["metadata"].update({"title": "<script>alert('title')</script>",
                           "authors": [{"name": "<img src=x onerror=alert('author')>"}],
                           "kernelspec": {"name": "python3", "display_name": "<script>alert('ks')</script>",
                                          "language": "python"},
                           "widgets": {"application/vnd.jupyter.widget-state+json": {
                               "state": {}, "x": "</script><script>alert('widget')</script>"}}})
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "evil-md", "source":
                           "# Answer\n<script>alert('md')</script>\n[click](javascript:alert('link'))\n"
                           "[x](jav&#x61;script:alert('entity'))\n<img src=x onerror=alert('mdimg')>\n",
                           "metadata": {"tags": ["\"><script>alert('tag')</script>"],
                                        "nbgrader": {"grade_id": "<script>alert('gid')</script>",
                                                     "solution": True, "grade": False, "locked": False,
                                                     "schema_version": 3}},
                           "attachments": {"a.svg": {"image/svg+xml": "<svg onload=alert('att')/>"}}})
    nb["cells"].insert(1, {"cell_type": "raw", "id": "evil-raw", "source": "<script>alert('raw')</script>",
                           "metadata": {"raw_mimetype": "text/html"}})
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"text/html": "<script>alert('output')</script>",
                                         "application/javascript": "alert('js')"}}]
    path.write_text(json.dumps(nb))


class _Live(HTMLParser):
    """Collects what a browser would run or follow from an HTML page."""

    def __init__(self):
        super().__init__()
        self.live: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on") or value.startswith(("javascript:", "vbscript:")):
                self.live.append(f"<{tag} {name}={value}>")

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.live.append(f"<script>{data[:80]}")

    def handle_endtag(self, tag):
        self._in_script = False


def live_html(text: str) -> list[str]:
    p = _Live()
    p.feed(text)
    return p.live + (["<b>bold</b>"] if "<b>bold</b>" in text else [])


def forged_markdown(text: str, own_headings: int) -> list[str]:
    """Links, images, raw HTML and extra headings a CommonMark renderer (+ linkify-style bare URLs)
    would make of ``text``."""
    found = []
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [t for t in tokens if t.type == "heading_open"]
    if len(headings) != own_headings:
        found.append(f"{len(headings)} headings")
    for t in tokens:
        if t.type in ("html_block", "html_inline"):
            found.append(t.content[:60])
        for child in t.children or ():
            if child.type in ("link_open", "image", "html_inline"):
                found.append(f"{child.type}: {child.content or child.attrs}")
    if "://" in text or "www.evil" in text:
        found.append("a bare URL a linkifying renderer turns into a link")
    return found


@pytest.fixture
def graded(course):
    submit(course, "mallory")
    submit(course, HOSTILE_NAME)
    submit(course, "unreadable")
    for s in ("mallory", HOSTILE_NAME):
        _hostile_notebook(course / "submitted" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    summary = grade_class(course, ASSIGNMENT, workers=1, engine=hostile_grade, progress=False)
    assert summary.graded == 3 and summary.record_errors == []
    return course


def test_results_json_and_gradebook_rows_stay_small(graded):
    from sqlalchemy import create_engine, text
    sizes = {p.parent.parent.name: p.stat().st_size for p in (graded / "autograded").rglob("results.json")}
    assert max(sizes.values()) < 64_000, sizes
    eng = create_engine(db_url(graded))
    with eng.connect() as con:
        rows = dict(con.execute(text("SELECT student, length(result_json) FROM dg_results")).all())
    eng.dispose()
    assert max(rows.values()) < 200_000, rows
    result = json.loads((graded / "autograded" / "mallory" / ASSIGNMENT / "results.json").read_text())
    assert "more characters cut" in result["tests"][1]["output"]


def test_reports_render_student_text_as_text(graded):
    from autograder.reports.load import load_report_data
    from autograder.reports.write import write_reports
    submit(graded, "$\\foo{$")               # mathtext in a student id must not abort the class heatmap
    grade_class(graded, ASSIGNMENT, workers=1, engine=hostile_grade, progress=False)
    out = graded / "reports"
    data = load_report_data(graded)
    assert "$\\foo{$" in data.mastery             # so the course report draws it in the heatmap
    files = write_reports(data, out, progress=False)
    for f in files:
        assert f.stat().st_size < 300_000, (f, f.stat().st_size)
        text = f.read_text()
        if f.suffix == ".html":
            assert live_html(text) == [], (f, live_html(text))
        else:
            # ours: "# Feedback for", one "## <assignment>", "## What to review next"
            assert forged_markdown(text, own_headings=3) == [], (f, forged_markdown(text, 3))
    md = (out / "students" / "mallory" / f"{ASSIGNMENT}.md").read_text()
    assert "mallory: 5 / 5" in md.replace("\\", "")          # shown, as text
    assert (out / "students" / HOSTILE_NAME / "index.html").is_file()


def test_class_csv_cells_never_start_a_formula(graded):
    import csv

    from autograder.exports import write_class_csv
    submit(graded, "=HYPERLINK(\"http:\\\\evil.example\",\"grades\")")
    submit(graded, "@SUM(1+1)")
    grade_class(graded, ASSIGNMENT, workers=1, engine=hostile_grade, progress=False)
    out = graded / "class.csv"
    assert write_class_csv(db_url(graded), out, ASSIGNMENT) == 5
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@"), row
    assert {r["student"] for r in rows} >= {"'@SUM(1+1)", "'=HYPERLINK(\"http:\\\\evil.example\",\"grades\")"}


def test_nbgrader_feedback_html_has_nothing_live(graded):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(graded)).load_config()
    cfg.merge(Config({"CourseDirectory": {"root": str(graded)}}))
    res = NbGraderAPI(config=cfg).generate_feedback(ASSIGNMENT)
    assert res["success"], res.get("log")
    pages = {p.parent.parent.name: p.read_text() for p in (graded / "feedback").rglob("*.html")}
    assert set(pages) == {"mallory", HOSTILE_NAME, "unreadable"}
    for student, page in pages.items():
        assert live_html(page) == [], (student, live_html(page))
        assert "alert('md')" in page or student == "unreadable"     # the student's text is still shown
        assert "SECRET-HIDDEN" not in page
    # the ungradable reason is the gradebook comment of every solution cell: Markdown-escaped
    from nbgrader.api import Gradebook
    with Gradebook(db_url(graded)) as gb:
        comments = [c.comment for c in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "unreadable").comments]
    assert comments and all(forged_markdown(c, own_headings=0) == [] for c in comments), comments


def test_annotated_notebook_keeps_only_safe_metadata(graded):
    nb = json.loads((graded / "autograded" / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    assert set(nb["metadata"]) == {"kernelspec", "language_info"}
    assert nb["metadata"]["kernelspec"]["display_name"] == "Python 3"
    for cell in nb["cells"]:
        assert set(cell["metadata"]) <= {"nbgrader"} and "attachments" not in cell
        assert "<script>" not in "".join(cell["source"]) or cell["cell_type"] == "code"
        for out in cell.get("outputs", []):
            assert out["output_type"] == "stream"


# ---------------------------------------------------------------------------------------------- frames

FLOOD = r'''
import json, os, stat, struct

def flood():
    """Forge a valid 60 MB reply frame (20M empty lists: >1 GB once decoded) on every pipe we hold."""
    body = b'{"__dict__": {"ok": true, "value": [' + b"[]," * 20_000_000 + b'[]]}}'
    frame = struct.pack(">I", len(body)) + body
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, frame)
        except OSError:
            pass
    return "after"

def big():
    import numpy as np
    return np.zeros(1_000_000)           # 8 MB of float64: an honest but oversized reply

def small():
    return 1
'''


def test_a_reply_over_the_limit_is_bad_output_for_that_call_only_and_small_in_memory():
    from autograder.sandbox import SandboxPolicy, StudentError, StudentSession
    with StudentSession(None, SandboxPolicy(call_timeout_s=20), zygote=False) as s:
        report = s.load([{"index": 0, "source": FLOOD}])
        assert report.alive and {"flood", "big", "small"} <= report.defined
        assert s.call("small") == 1
        # the honest oversized return: refused, the session goes on in sync
        with pytest.raises(StudentError) as err:
            s.call("big")
        assert err.value.kind == "bad_output" and "limit" in str(err.value)
        assert s.call("small") == 1
        # the forged 60 MB frame: never decoded, never held
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        try:
            with pytest.raises(StudentError) as err:
                s.call("flood")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        assert err.value.kind == "bad_output", err.value
        assert peak < 12 * 2**20, f"the grader held {peak / 2**20:.1f} MiB for one forged reply"
        assert grown_mb < 64, f"the grader's peak RSS grew by {grown_mb:.0f} MiB"
        assert s.alive


def test_reply_limit_is_configurable(monkeypatch):
    from autograder.sandbox import wire
    assert wire.reply_limit() == wire.MAX_REPLY_BYTES < wire.MAX_FRAME_BYTES // 8
    monkeypatch.setenv("DEEPGRADE_MAX_REPLY_BYTES", str(16 * 2**20))
    assert wire.reply_limit() == 16 * 2**20
    monkeypatch.setenv("DEEPGRADE_MAX_REPLY_BYTES", str(2**40))
    assert wire.reply_limit() == wire.MAX_FRAME_BYTES


# ---------------------------------------------------------------------------------------------- real engine

HUGE_DICTS = r'''
_calls = []

def initialize_parameters_he(layers_dims):
    _calls.append(1)
    if len(_calls) > 2:                                   # two huge replies are enough (and fast)
        return {}
    out = {f"k{i}": 0 for i in range(300_000)}           # ~3.3 MB on the wire: under the reply limit
    out.update({f"{k}{l}": 0 for l in range(1, len(layers_dims)) for k in "Wb"})
    return out

def initialize_parameters_random(layers_dims):
    import numpy as np
    return {"W1": np.zeros(700_000), "b1": 0}             # ~7.5 MB on the wire: over the reply limit

def initialize_parameters_zeros(layers_dims):
    raise ValueError(PAYLOAD)
'''


def test_real_engine_results_stay_small_and_escaped(tmp_path):
    from autograder.engine import grade_submission
    from autograder.reports.data import ReportData
    from autograder.reports.render import render_student_html, render_student_markdown
    from autograder.simulate import synthesize_submission
    nb = synthesize_submission("initialization", {},
                               base_notebook=REPO / "source" / "initialization" / "initialization.ipynb")
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "id": "attack", "source": f"PAYLOAD = {PAYLOAD!r}\n{HUGE_DICTS}"})
    path = tmp_path / "initialization.ipynb"
    path.write_text(json.dumps(nb))
    result = grade_submission(path, "initialization", "mallory", course_dir=REPO)
    assert result.gradable and result.score == 0.0, result.score
    messages = " ".join(c.message for c in result.checks)
    assert "more characters cut" in messages and "over the grader's limit" in messages
    assert "alert('msg')" in messages                      # quoted, then escaped on output
    assert len(result.to_json()) < 100_000 and len(json.dumps(result.to_gradescope())) < 100_000
    data = ReportData(results=[result])
    md = render_student_markdown(data, "mallory", "initialization")
    assert forged_markdown(md, own_headings=3) == [] and len(md) < 100_000
    page = render_student_html(data, "mallory", "initialization", mastery_img="")
    assert live_html(page) == [] and len(page) < 200_000
