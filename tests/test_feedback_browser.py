"""The feedback page a learner opens, in headless Chromium with the network blocked (issue 14, part 3).

Messages wrap (a ~2,000-character check message and a 2,000-character printed line do not widen a
1,000 px page), formulas render from MathML without MathJax or any CDN, the summary names each
exercise, and the learner's own outputs are kept and marked as submitted.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, released_course, submit  # noqa: F401

TESTS_DIR = str(Path(__file__).parent)
BIN = Path(sys.executable).parent
ARTIFACTS = Path(__file__).parent / "artifacts"
FORMULA = r"$$J = -\frac{1}{m}\sum_{i=1}^{m} y^{(i)}\log a^{(i)}$$ and inline $\sqrt{v_{dW}} + \varepsilon$."


def _learner_submission(root: Path) -> None:
    path = submit(root, "bob", {"add": "    return a - b  # half # long-message"})
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = "# Tiny assignment\n\n" + FORMULA
    setup = nb["cells"][1]
    setup["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "printed:" + "9" * 2000 + "\n"},
                        {"output_type": "display_data", "metadata": {},
                         "data": {"text/html": "<script>window.pwned = 1</script><b>html</b>",
                                  "text/plain": "a plot"}}]
    path.write_text(json.dumps(nb))


@pytest.mark.browser
def test_feedback_page_wraps_renders_math_offline_and_names_exercises(course):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed (./run installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    _learner_submission(course)
    grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    env = {**os.environ, "PYTHONPATH": TESTS_DIR, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "nbgrader"), "generate_feedback", ASSIGNMENT], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "display_data_priority" not in proc.stderr          # the warning every run printed is gone
    page_file = course / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    html = page_file.read_text()
    assert "mathjax" not in html.lower() and "cdnjs" not in html
    assert "Test cell" not in html and "Exercise: <code>add</code>" in html
    assert "window.pwned" not in html                          # submitted HTML outputs are not kept

    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})

            def block(route):                                   # the network is blocked: only file:// loads
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    requests.append(route.request.url)
                    route.abort()
            page.route("**/*", block)
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
            wide = page.evaluate("""[...document.querySelectorAll('pre')]
                .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.slice(0, 60))""")
            assert wide == [], wide
            maths = page.evaluate("""[...document.querySelectorAll('math')]
                .map(m => [m.getAttribute('display'), m.getBoundingClientRect().width,
                           m.getBoundingClientRect().height])""")
            assert len(maths) == 2 and maths[0][0] == "block", maths
            assert all(w > 20 and h > 8 for _, w, h in maths), maths
            text = page.inner_text("body")
            assert "\\frac" not in text and "$$" not in text
            assert "value[99]=0.0099" in text                     # the long message is all there, wrapped
            assert "submitted output" in text.lower() and "printed:999" in text
            assert page.evaluate("window.pwned === undefined")
            page.screenshot(path=str(ARTIFACTS / "feedback_page.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [], f"the feedback page tried to reach the network: {requests}"
