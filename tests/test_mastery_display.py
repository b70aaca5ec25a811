"""Honest display of mastery: evidence counts, "not enough evidence yet", JSON for tools, class CSV."""
from __future__ import annotations

import csv
import datetime as dt
import json

from click.testing import CliRunner

from autograder.cli import main
from autograder.result import CheckResult, SubmissionResult
from quizzes.mastery import MIN_EVIDENCE, record_result

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)


def record(db, student, function, outcomes, concepts=("momentum",)):
    """One submission per outcome (alternating outcomes make each one evidence)."""
    for k, ok in enumerate(outcomes):
        c = CheckResult(name=f"{function}.random", function=function, points=float(ok), max_points=1.0,
                        passed=ok, concepts=tuple(concepts))
        r = SubmissionResult(assignment="optimization", student=student, notebook="o.ipynb",
                             checksum=f"{function}{k}", gradable=True, checks=(c,))
        record_result(db, r, submitted_at=T0 + dt.timedelta(days=k))


def test_mastery_show_json_lists_every_concept_with_its_evidence(tmp_path):
    db = f"sqlite:///{tmp_path / 'g.db'}"
    record(db, "ann", "update_parameters_with_momentum", [False, True, False, True])
    record(db, "ann", "initialize_adam", [True], ("adam",))
    out = CliRunner().invoke(main, ["mastery", "show", "ann", "--db-url", db, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["concept"]: r for r in json.loads(out.output)}
    assert {"concept", "p_mastery", "mastered", "n_obs"} <= set(rows["momentum"])
    assert rows["momentum"]["n_obs"] == 4 and rows["momentum"]["enough_evidence"]
    assert rows["adam"]["n_obs"] == 1 < MIN_EVIDENCE and rows["adam"]["mastered"] is False
    assert rows["adam"]["status"] == "not enough evidence yet"
    assert rows["dropout"]["n_obs"] == 0 and rows["dropout"]["status"] == "not assessed yet"
    text = CliRunner().invoke(main, ["mastery", "show", "ann", "--db-url", db]).output
    adam_line = next(line for line in text.splitlines() if line.startswith("adam "))
    assert "not enough evidence yet" in adam_line and "0." not in adam_line     # no confident number


def test_export_writes_a_class_mastery_csv(tmp_path):
    db = f"sqlite:///{tmp_path / 'g.db'}"
    record(db, "bo", "update_parameters_with_momentum", [True, False, True])
    record(db, "cy", "update_parameters_with_momentum", [False])
    out = CliRunner().invoke(main, ["export", "--course", str(tmp_path), "--db-url", db,
                                    "--csv", str(tmp_path / "x" / "all.csv")])
    assert out.exit_code == 0, out.output
    with (tmp_path / "x" / "mastery.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["student"] for r in rows} == {"bo", "cy"}
    momentum = {r["student"]: r for r in rows if r["concept"] == "momentum"}
    assert momentum["bo"]["n_obs"] == "3" and momentum["bo"]["enough_evidence"] == "true"
    assert momentum["cy"]["mastered"] == "false" and momentum["cy"]["latest_failed"] == "true"
    assert 0 < float(momentum["bo"]["p_mastery"]) < 1


def test_reports_show_evidence_and_never_a_confident_number_on_too_little(tmp_path):
    from autograder.reports.load import load_report_data
    from autograder.reports.render import render_student_html, render_student_markdown
    db = f"sqlite:///{tmp_path / 'g.db'}"
    record(db, "dee", "update_parameters_with_momentum", [True, False, True, False])     # latest failed
    record(db, "dee", "initialize_adam", [True], ("adam",))                              # one observation
    data = load_report_data(tmp_path, db)
    review = data.review["dee"]
    assert [r.concept for r in review][:2] == ["momentum", "adam"]          # latest failure first
    assert review[0].latest_failed and review[0].n_obs == 4
    assert not review[1].enough_evidence and not data.is_mastered("dee", "adam")
    md = render_student_markdown(data, "dee")
    assert "(a graded function on it failed in your latest submission; mastery" in md
    assert "from 4 observations" in md
    assert "not enough evidence yet: 1 observation)" in md
    html = render_student_html(data, "dee")
    assert "not enough evidence yet (1 observation)" in html
    mat, students, concepts = data.mastery_matrix()
    assert mat[0, concepts.index("adam")] != mat[0, concepts.index("adam")]    # NaN: grey, not a number


def test_deepgrade_grade_refits_mastery_after_grading(tmp_path, monkeypatch):
    from autograder import cli, runner
    calls = []
    monkeypatch.setattr(runner, "grade_class", lambda *a, **k: runner.GradeSummary("optimization", "local", 1,
                                                                       submissions=1, graded=1))
    monkeypatch.setattr(cli, "refit_if_ready", lambda db_url: calls.append(db_url))
    db = f"sqlite:///{tmp_path / 'g.db'}"
    out = CliRunner().invoke(main, ["grade", "optimization", "--course", str(tmp_path), "--db-url", db])
    assert out.exit_code == 0, out.output
    assert calls == [db]
