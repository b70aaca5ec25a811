"""Reports: numbers match the results they are built from; HTML renders cleanly in headless Chromium."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.reports.data import ReportData, assignment_stats
from autograder.reports.render import (render_instructor_html, render_student_html,
                                       render_student_markdown)
from autograder.reports.write import write_reports
from autograder.result import CheckResult, SubmissionResult

ARTIFACTS = Path(__file__).with_name("artifacts")


def _result(student: str, passed: list[bool], mistake: str | None = None, gradable: bool = True):
    checks = tuple(
        CheckResult(name=f"case {i}", function="update_parameters_with_adam", points=2.0 if ok else 0.0,
                    max_points=2.0, passed=ok, message="values differ from the expected update" if not ok else "",
                    hint="you did not apply bias correction" if (not ok and mistake) else None,
                    mistake_id=mistake if not ok else None, concepts=("adam",))
        for i, ok in enumerate(passed))
    score = sum(c.points for c in checks) if gradable else 0.0
    return SubmissionResult(
        assignment="optimization", student=student, notebook=f"{student}.ipynb", checksum="x",
        gradable=gradable, ungradable_reason=None if gradable else "invalid JSON at line 1",
        score=score, max_score=6.0, checks=checks if gradable else (),
        functions={"update_parameters_with_adam": {"score": score, "max_score": 6.0}},
        timing={"total_s": 0.5, "sandbox_s": 0.3, "checks_s": 0.2}, sandbox_mode="bwrap")


@pytest.fixture
def data() -> ReportData:
    results = [
        _result("alice", [True, True, True]),
        _result("bob", [True, False, False], mistake="update_parameters_with_adam.no_bias_correction"),
        _result("carol", [True, True, False], mistake="update_parameters_with_adam.no_bias_correction"),
        _result("dave", [], gradable=False),
    ]
    return ReportData(
        results=results,
        mastery={"alice": {"adam": 0.97, "momentum": 0.6}, "bob": {"adam": 0.2}, "carol": {"adam": 0.5}},
        concept_labels={"adam": "Adam", "momentum": "Momentum"},
        item_stats={"quiz_week2": [{"question": "w2_q1", "difficulty": 0.9, "point_biserial": 0.1,
                                    "discrimination": 0.05, "flags": ["too easy", "poor discrimination"]}]},
        mistake_descriptions={"update_parameters_with_adam.no_bias_correction": "I forgot bias correction"},
    )


def test_assignment_stats_match_results(data):
    s = assignment_stats("optimization", data.results, data.mistake_descriptions)
    assert s.n_submissions == 4
    assert s.ungradable == [("dave", "invalid JSON at line 1")]
    assert s.scores == [6.0, 2.0, 4.0, 0.0]
    assert s.mean_pct == pytest.approx(100 * 12 / 24)
    rates = {name: (rate, n) for name, rate, n in s.check_failure_rates}
    # failure rates are over the 3 gradable submissions, worst first
    assert rates["update_parameters_with_adam: case 2"] == (pytest.approx(2 / 3), 2)
    assert rates["update_parameters_with_adam: case 0"] == (0.0, 0)
    assert s.check_failure_rates[0][0] == "update_parameters_with_adam: case 2"
    assert s.misconceptions == [("update_parameters_with_adam.no_bias_correction", "I forgot bias correction", 2)]


def test_student_report_shows_messages_hints_and_review(data):
    page = render_student_html(data, "bob")
    assert "you did not apply bias correction" in page
    assert "values differ from the expected update" in page
    assert "data:image/png;base64," in page            # mastery chart embedded
    assert "What to review next" in page and "Adam" in page
    md = render_student_markdown(data, "bob")
    assert "Likely mistake: you did not apply bias correction" in md
    assert "| optimization | 2.0 | 6 |" in md
    # a student whose notebook was ungradable sees the reason
    assert "invalid JSON at line 1" in render_student_html(data, "dave")


def test_instructor_report_numbers(data):
    page = render_instructor_html(data)
    assert "update_parameters_with_adam.no_bias_correction" in page and "I forgot bias correction" in page
    assert "67 %" in page                                # worst check's failure rate
    assert "too easy" in page and "w2_q1" in page
    assert page.count("data:image/png;base64,") >= 3     # histogram, failure bars, heatmap


def test_write_reports_layout(tmp_path, data):
    files = write_reports(data, tmp_path, progress=False)
    rel = {str(p.relative_to(tmp_path)) for p in files}
    assert {"index.html", "instructor/course.html", "instructor/optimization.html",
            "students/bob/index.html", "students/bob/index.md", "students/bob/optimization.html"} <= rel
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ValueError, match="zoe"):
        write_reports(data, tmp_path, students=["zoe"], progress=False)


@pytest.mark.browser
def test_reports_render_in_headless_chromium(tmp_path, data):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed (./run installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    files = write_reports(data, tmp_path, progress=False)
    pages = [p for p in files if p.suffix == ".html" and p.name != "index.html"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            for path in pages:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(path.as_uri())
                widths = page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
                assert errors == [], f"{path}: console errors {errors}"
                assert all(w > 0 for w in widths), f"{path}: an image did not load {widths}"
                if path.parent.name == "instructor" or path.name == "index.html":
                    assert widths, f"{path}: expected embedded figures"
                page.close()
            shot = browser.new_page(viewport={"width": 1280, "height": 900})
            shot.goto((tmp_path / "students" / "bob" / "index.html").as_uri())
            shot.screenshot(path=str(ARTIFACTS / "student_report.png"), full_page=True)
            shot.goto((tmp_path / "instructor" / "course.html").as_uri())
            shot.screenshot(path=str(ARTIFACTS / "instructor_report.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "student_report.png").stat().st_size > 10_000


def test_assignment_where_every_check_passes(data):
    perfect = ReportData(results=[r for r in data.results if r.student == "alice"],
                         concept_labels=data.concept_labels)
    page = render_instructor_html(perfect)
    assert "Every gradable submission passed every check." in page
    assert "Checks failed most often" not in page
