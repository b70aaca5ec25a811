"""autograder.exports and `deepgrade export`: class CSV and Gradescope results.json from dg_results."""
from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from autograder.cli import main
from autograder.exports import write_class_csv, write_gradescope
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, db_url, released_course, standard_class  # noqa: F401


def test_class_csv_and_gradescope_json(course, tmp_path):
    standard_class(course)
    grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    out = tmp_path / "class.csv"
    assert write_class_csv(db_url(course), out, ASSIGNMENT) == 5
    with out.open() as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert list(rows["bob"]) == ["student", "assignment", "score", "max_score", "gradable", "reason", "add", "mul"]
    assert (rows["bob"]["score"], rows["bob"]["add"], rows["bob"]["mul"], rows["bob"]["gradable"]) == \
        ("4", "1", "3", "true")
    assert rows["dave"]["gradable"] == "false" and "not a valid notebook" in rows["dave"]["reason"]
    assert rows["dave"]["add"] == "" and rows["dave"]["max_score"] == "5"

    paths = write_gradescope(db_url(course), tmp_path / "gs", ASSIGNMENT)
    assert len(paths) == 5
    bob = json.loads((tmp_path / "gs" / ASSIGNMENT / "bob" / "results.json").read_text())
    assert bob["score"] == 4.0 and bob["max_score"] == 5.0
    assert {t["name"]: t["score"] for t in bob["tests"]} == {"add: values": 1.0, "mul: values": 3.0}
    assert "Hint: look at how add combines a and b" in bob["tests"][0]["output"]


def test_export_command(course):
    standard_class(course)
    grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    res = CliRunner().invoke(main, ["export", ASSIGNMENT, "--course", str(course), "--gradescope",
                                    str(course / "gs")])
    assert res.exit_code == 0, res.output
    assert "5 rows" in res.output
    lines = (course / "exports" / f"{ASSIGNMENT}.csv").read_text().splitlines()
    assert lines[0].startswith("student,assignment,score") and len(lines) == 6
    assert (course / "gs" / ASSIGNMENT / "alice" / "results.json").is_file()
