"""Dask grading in batches (autograder.dask_grading): plain-data answers, one bad notebook in a batch
does not zero the others, a worker's shared zygotes stop with it."""
from __future__ import annotations

import json

import pytest

from autograder import dask_grading
from autograder.result import SubmissionResult
from autograder.runner import grade_class
from autograder.tasks import InfrastructureFailure, decode_batch, grade_batch
from gradingcourse import ASSIGNMENT, course, released_course, submit  # noqa: F401
from test_runner import ENGINE, _scores

EXPECTED = [("ann", ASSIGNMENT), ("ben", ASSIGNMENT)]


def test_a_batch_answers_in_json_and_decodes_to_results(course):
    paths = {s: submit(course, s, {"add": "    return a - b  # half"} if s == "ben" else None) for s in ("ann", "ben")}
    items = [{"path": str(paths[s]), "assignment": ASSIGNMENT, "student": s} for s, _ in EXPECTED]
    answer = grade_batch(ENGINE, items, str(course), 7)
    assert isinstance(answer, str)                           # plain text crosses the wire, nothing pickled
    assert [e["result"]["score"] for e in json.loads(answer)] == [5.0, 4.0]
    results = decode_batch(answer, EXPECTED)
    assert all(isinstance(r, SubmissionResult) for r in results)
    assert [(r.student, r.score, r.seed) for r in results] == [("ann", 5.0, 7), ("ben", 4.0, 7)]


@pytest.mark.parametrize("answer", [
    "not json", json.dumps([]), json.dumps([{"student": "ann", "assignment": ASSIGNMENT, "result": {}}] * 2),
    json.dumps([{"student": "ben", "assignment": ASSIGNMENT, "infrastructure": "x"},
                {"student": "ann", "assignment": ASSIGNMENT, "infrastructure": "x"}]),
])
def test_a_malformed_answer_is_the_infrastructure_never_a_zero(answer):
    out = decode_batch(answer, EXPECTED)
    assert [type(r) for r in out] == [InfrastructureFailure] * 2
    assert [(r.student, r.assignment) for r in out] == EXPECTED
    assert all("malformed answer" in r.reason for r in out)


def test_batches_are_even_and_bounded():
    assert dask_grading.make_batches([], 2) == []
    assert [len(b) for b in dask_grading.make_batches(list(range(5)), 2)] == [1] * 5
    sizes = [len(b) for b in dask_grading.make_batches(list(range(1000)), 2)]
    assert max(sizes) == dask_grading.BATCH_MAX and sum(sizes) == 1000
    assert [x for b in dask_grading.make_batches(list(range(40)), 2) for x in b] == list(range(40))


def test_a_killer_in_a_batch_is_graded_alone_and_the_others_keep_their_scores(course, monkeypatch):
    monkeypatch.setattr(dask_grading, "TASKS_PER_WORKER", 1)       # 7 submissions, 2 workers: batches of 3-4
    submit(course, "a-killer", {"add": "    return a + b  # die-always"})
    submit(course, "c-killer", {"add": "    return a + b  # die-always"})   # two: singles may share a worker
    for name in ("b1", "b2", "b3", "b4", "b5"):
        submit(course, name, {"add": "    return a - b  # half"} if name == "b2" else None)
    summary = grade_class(course, ASSIGNMENT, workers=2, scheduler="local", engine=ENGINE, progress=False)
    assert summary.ok and summary.mode == "dask-local"
    assert _scores(course) == {"a-killer": 0.0, "c-killer": 0.0, "b1": 5.0, "b2": 4.0, "b3": 5.0, "b4": 5.0,
                               "b5": 5.0}
    assert summary.ungradable == 2


def test_the_worker_plugin_stops_the_workers_zygotes(monkeypatch):
    closed = []
    import autograder.sandbox.zygote as zygote
    monkeypatch.setattr(zygote, "close_shared_zygotes", lambda: closed.append(True))
    plugin = dask_grading.GradingWorkerPlugin(ENGINE)
    plugin.setup(worker=None)
    plugin.teardown(worker=None)
    assert closed == [True]
