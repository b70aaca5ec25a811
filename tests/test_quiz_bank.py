"""Quiz banks: size and coverage, and schema errors that name the file, question id and field."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from quizzes.schema import BankError, bank, load_banks, load_concepts

DESIGN = Path(__file__).resolve().parents[1] / "DESIGN.md"


def design_concepts() -> set[str]:
    text = DESIGN.read_text()
    section = text.split("## Concept ids", 1)[1].split("##", 1)[0]
    ids = set()
    for line in section.splitlines():
        line = line.split(":", 1)[1] if line.startswith("week") else line
        ids |= {p.strip() for p in line.split(",") if p.strip() and "`" not in p and " " not in p.strip()}
    return ids


def test_concept_map_matches_design_and_points_to_notebooks():
    concepts = load_concepts()
    assert set(concepts) == design_concepts()
    from reference.registry import GRADED
    for c in concepts.values():
        assert c.description and c.name and c.practice, c.id
        for p in c.practice:
            assert p["assignment"] in GRADED, (c.id, p)
            assert set(p["functions"]) <= set(GRADED[p["assignment"]]), (c.id, p["functions"])


def test_bank_size_and_coverage():
    qs = list(bank().values())
    assert len(qs) >= 150
    assert sum(q.parameterized for q in qs) >= 30
    per_concept = Counter(c for q in qs for c in q.concepts)
    assert set(per_concept) == set(load_concepts())
    assert min(per_concept.values()) >= 5, per_concept
    types = Counter(q.type for q in qs)
    assert set(types) == {"single", "multi", "truefalse", "numeric", "param_numeric"}
    assert all(q.explanation for q in qs)
    # every week's graded quiz covers every concept of that week
    for week in (1, 2, 3):
        week_concepts = {cid for cid, c in load_concepts().items() if c.week == week}
        quiz_concepts = {c for q in qs if q.week == week and q.use == "quiz" for c in q.concepts}
        assert week_concepts <= quiz_concepts, week_concepts - quiz_concepts


def test_parameterized_answers_call_the_reference(monkeypatch):
    """Every answer recipe reaches a function of the reference package (counted by a wrapper)."""
    import importlib
    import inspect

    from quizzes.grading import make_variant
    calls = []
    for mod_name in ("optimization", "regularization", "batchnorm", "initialization", "gradient_checking"):
        mod = importlib.import_module(f"reference.{mod_name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__:
                def wrapper(*a, _fn=fn, _name=f"{mod_name}.{name}", **k):
                    calls.append(_name)
                    return _fn(*a, **k)
                monkeypatch.setattr(mod, name, wrapper)
    for q in bank().values():
        if q.parameterized:
            calls.clear()
            make_variant(q, "someone").expected()
            assert calls, f"{q.id}: recipe {q.recipe} never called the reference package"


GOOD = {"id": "ok_q", "type": "single", "concepts": ["dropout"], "text": "Pick one.",
        "explanation": "Because.", "choices": [{"text": "yes", "correct": True}, {"text": "no"}]}


def _bank_dir(tmp_path, *questions, week=1, name="week1.yaml"):
    d = tmp_path / "banks"
    d.mkdir(exist_ok=True)
    (d / name).write_text(yaml.safe_dump({"week": week, "questions": list(questions)}))
    return d


def _problems(tmp_path, *questions, **kw) -> str:
    with pytest.raises(BankError) as e:
        load_banks(_bank_dir(tmp_path, *questions, **kw))
    return str(e.value)


@pytest.mark.parametrize("change, field, words", [
    ({"concepts": ["nonsense"]}, "concepts", "unknown concept id 'nonsense'"),
    ({"type": "essay"}, "type", "must be one of"),
    ({"explanation": ""}, "explanation", "non-empty"),
    ({"choices": [{"text": "yes", "correct": True}, {"text": "also", "correct": True}]}, "choices",
     "exactly one correct option (found 2)"),
    ({"choices": [{"text": "same", "correct": True}, {"text": "Same"}]}, "choices", "same text"),
    ({"points": -1}, "points", "positive"),
    ({"colour": "red"}, "colour", "not a field of a single question"),
    ({"use": "exam"}, "use", "must be one of"),
])
def test_schema_errors_name_file_question_and_field(tmp_path, change, field, words):
    msg = _problems(tmp_path, {**GOOD, **change})
    assert f"week1.yaml: question 'ok_q': field '{field}'" in msg
    assert words in msg


def test_parameterized_schema_errors(tmp_path):
    q = {"id": "p_q", "type": "param_numeric", "concepts": ["momentum"], "explanation": "x",
         "recipe": "momentum_new_v", "text": "w={w} g={g} v={v} beta={beta} lr={lr} and {ghost}",
         "params": {"w": {"min": 0, "max": 1, "step": 0.1}, "g": {"min": 0.1, "max": 1.0},
                    "v": {"choices": []}, "beta": {"min": 0.9, "max": 0.8, "step": 0.01}, "lr": {"min": 1, "max": 2}},
         "distractors": [{"recipe": "no_such_recipe", "feedback": "f"}]}
    msg = _problems(tmp_path, q)
    assert "question 'p_q': field 'text': placeholder(s) ['ghost']" in msg
    assert "question 'p_q': field 'params.g': non-integer ranges need a 'step'" in msg
    assert "question 'p_q': field 'params.v': 'choices' must be a non-empty list" in msg
    assert "question 'p_q': field 'params.beta': needs numbers min <= max" in msg
    assert "question 'p_q': field 'distractors[0].recipe': unknown recipe 'no_such_recipe'" in msg
    bad_recipe = {**q, "id": "p_r", "recipe": "softmax_p1", "text": "w={w} g={g} v={v} beta={beta} lr={lr}",
                  "distractors": []}
    msg = _problems(tmp_path, bad_recipe)
    assert "question 'p_r': field 'params': recipe 'softmax_p1' needs exactly ['z1', 'z2', 'z3']" in msg


def test_duplicate_ids_across_files_and_bad_week(tmp_path):
    _bank_dir(tmp_path, GOOD)
    d = _bank_dir(tmp_path, GOOD, week=7, name="week2.yaml")
    with pytest.raises(BankError) as e:
        load_banks(d)
    msg = str(e.value)
    assert "week2.yaml: field 'week' must be one of [1, 2, 3]" in msg
    assert "question 'ok_q': field 'id': duplicate (also in week1.yaml)" in msg


def test_all_problems_are_reported_together(tmp_path):
    msg = _problems(tmp_path, {**GOOD, "id": "a_q", "concepts": ["x"]}, {**GOOD, "id": "b_q", "text": ""})
    assert "question 'a_q': field 'concepts'" in msg and "question 'b_q': field 'text'" in msg


def test_invalid_yaml_names_the_file(tmp_path):
    d = tmp_path / "banks"
    d.mkdir()
    (d / "week1.yaml").write_text("week: 1\nquestions: [\n")
    with pytest.raises(BankError, match="week1.yaml: not valid YAML"):
        load_banks(d)
