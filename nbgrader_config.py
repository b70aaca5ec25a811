"""nbgrader configuration of the deepgrade demo course.

Every path is relative to the folder holding this file, so the same file works for the repository and
for any course folder ``deepgrade build --course DIR`` creates (it copies this file there).
"""
import os

from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# traitlets sets __file__ to this file's path while loading it
_here = os.path.dirname(os.path.abspath(__file__))

# --- course ---
c.CourseDirectory.course_id = "deepgrade-demo"
c.CourseDirectory.root = _here
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")

# --- exchange (nbgrader's release/collect commands need a writable root) ---
c.Exchange.root = os.path.join(_here, "exchange")

# --- release: solution regions become this stub ---
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- feedback: never show hidden test regions or their tracebacks to learners ---
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# --- autograde (deepgrade engine) ---
# BEGIN deepgrade-autograde (owned by autograder/nbgrader_plugin.py; edit there)
# `nbgrader autograde` and the formgrader grade with the deepgrade engine: Execute -> DeepgradeGrade
# (sandboxed hidden checks, messages/hints into the test cells), SaveAutoGrades -> DeepgradeSaveGrades
# (typed scores into the gradebook + dg_results). Feedback adds MinimalTracebacks after ClearHiddenTests.
from autograder.nbgrader_plugin import configure_autograde  # noqa: E402

configure_autograde(c, engine="autograder.engine:grade_submission")
# END deepgrade-autograde
