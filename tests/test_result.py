"""SubmissionResult v2: JSON round trip, schema validation, Gradescope export."""
from __future__ import annotations

import json

import pytest

from autograder.result import SCHEMA_VERSION, CheckResult, ResultSchemaError, SubmissionResult


def _result(**over) -> SubmissionResult:
    checks = (
        CheckResult("f.structure", "f", 1.0, 1.0, True, "passed", concepts=("adam",), duration_s=0.01),
        CheckResult("f.random", "f", 0.0, 3.0, False, "`f(...)` is 2; expected 3", hint="divide by m",
                    mistake_id="f.no_divide", concepts=("adam",)),
        CheckResult("g.fixed", "g", 2.0, 2.0, True, "passed"),
    )
    base = dict(assignment="optimization", student="ada", notebook="ada/optimization.ipynb", checksum="ab" * 32,
                gradable=True, seed=12345, score=3.0, max_score=6.0,
                functions={"f": {"score": 1.0, "max_score": 4.0}, "g": {"score": 2.0, "max_score": 2.0}},
                grade_cells={"test_f": {"score": 1.0, "max_score": 4.0}, "test_g": {"score": 2.0, "max_score": 2.0}},
                checks=checks, cell_errors=[{"cell": 3, "status": "error", "ename": "NameError", "evalue": "x"}],
                timing={"total_s": 1.5, "sandbox_s": 1.0, "checks_s": 0.4}, sandbox_mode="bwrap",
                graded_at="2026-11-25T12:00:00+00:00")
    base.update(over)
    return SubmissionResult(**base)


def test_json_round_trip_is_lossless():
    r = _result()
    back = SubmissionResult.from_json(r.to_json())
    assert back == r
    assert back.checks[1].concepts == ("adam",) and back.checks[1].mistake_id == "f.no_divide"
    assert json.loads(r.to_json())["schema_version"] == SCHEMA_VERSION == 2


def test_schema_1_documents_still_load_with_response_and_gated_unknown():
    d = _result().to_dict()
    d["schema_version"] = 1
    for c in d["checks"]:
        del c["response"], c["gated"]
    back = SubmissionResult.from_dict(d)
    assert back.schema_version == 2 and all(c.response is None and c.gated is None for c in back.checks)
    assert back.checks[1].mistake_id == "f.no_divide"


def test_quiz_response_and_gated_round_trip_as_plain_data():
    checks = (CheckResult("q_a", "q_a", 1.0, 1.0, True, "passed", response=[0, 2], gated=False),
              CheckResult("q_b", "q_b", 0.0, 1.0, False, "Your answer: 0.5", response=0.5, gated=False),
              CheckResult("q_c", "q_c", 0.0, 1.0, False, "", response=None, gated=True))
    back = SubmissionResult.from_json(_result(checks=checks).to_json())
    assert [c.response for c in back.checks] == [(0, 2), 0.5, None]
    assert json.loads(back.to_json())["checks"][0]["response"] == [0, 2]
    assert [c.gated for c in back.checks] == [False, False, True]


@pytest.mark.parametrize("response", [{"a": 1}, "B", [0, "1"], float("nan"), [True]])
def test_a_response_is_never_arbitrary_data(response):
    with pytest.raises(ResultSchemaError, match="response"):
        CheckResult("q_a", "q_a", 0.0, 1.0, False, response=response)


def test_derived_views():
    r = _result()
    assert [c.name for c in r.failed_checks] == ["f.random"]
    assert r.mistakes == ["f.no_divide"]
    assert [c.name for c in r.checks_for("g")] == ["g.fixed"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema_version=3), "schema_version"),
    (lambda d: d.pop("schema_version"), "schema_version"),
    (lambda d: d.pop("score"), "score"),
    (lambda d: d.update(gradable="yes"), "gradable"),
    (lambda d: d["functions"].update(h={"score": 1}), "functions"),
    (lambda d: d["checks"][0].pop("passed"), "passed"),
])
def test_from_json_rejects_invalid_documents(mutate, message):
    d = _result().to_dict()
    mutate(d)
    with pytest.raises(ResultSchemaError, match=message):
        SubmissionResult.from_dict(d)


def test_from_json_rejects_non_json():
    with pytest.raises(ResultSchemaError):
        SubmissionResult.from_json("{not json")


def test_gradescope_export_shape():
    gs = _result().to_gradescope()
    assert set(gs) == {"score", "max_score", "execution_time", "output", "visibility", "tests"}
    assert gs["score"] == 3.0 and gs["max_score"] == 6.0 and gs["execution_time"] == 1.5
    assert len(gs["tests"]) == 3
    t = gs["tests"][1]
    assert set(t) >= {"name", "score", "max_score", "output", "visibility"}
    assert t["name"] == "f.random" and t["score"] == 0.0 and t["max_score"] == 3.0
    assert "Hint: divide by m" in t["output"]
    assert sum(x["max_score"] for x in gs["tests"]) == gs["max_score"]
    json.dumps(gs)  # serializable


def test_gradescope_export_of_ungradable_says_why():
    r = _result(gradable=False, ungradable_reason="nb.ipynb: invalid JSON", checks=(), score=0.0)
    gs = r.to_gradescope()
    assert gs["tests"] == [] and "invalid JSON" in gs["output"] and gs["score"] == 0.0
