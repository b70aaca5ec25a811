"""Practice mode (fresh variants, immediate feedback, never the graded variant) and the CLI commands."""
from __future__ import annotations

from click.testing import CliRunner

from autograder.cli import main
from quizzes.grading import make_variant
from quizzes.practice import practice_pool, practice_variant, run_practice
from quizzes.schema import bank


def test_pool_has_practice_and_parameterized_questions_only():
    for week in (1, 2, 3):
        pool = practice_pool(week)
        assert pool and all(q.use == "practice" or q.parameterized for q in pool)
        assert not any(q.use == "quiz" and not q.parameterized for q in pool)
    assert all("dropout" in q.concepts for q in practice_pool(1, "dropout"))


def test_practice_variants_never_repeat_the_graded_variant():
    for q in bank().values():
        if q.parameterized and q.use == "quiz":
            graded = make_variant(q, "ada").params
            for nonce in range(30):
                assert practice_variant(q, str(nonce), "ada").params != graded


def test_practice_takes_the_learner_id_from_the_environment(monkeypatch):
    from quizzes import practice
    monkeypatch.setenv("DEEPGRADE_STUDENT_ID", "zoe")
    assert practice.default_student() == "zoe"
    seen = []
    monkeypatch.setattr(practice, "practice_variant",
                        lambda q, nonce, student=None: seen.append(student) or make_variant(q, "x", "practice:t"))
    run_practice(2, 2, seed=1, ask=lambda prompt: "s", say=lambda text: None)
    assert seen and set(seen) == {"zoe"}


def test_run_practice_gives_immediate_feedback():
    shown: list[str] = []
    answers = iter(["s"] + ["A", "True", "0.5"] * 10)      # whichever form the question takes
    summary = run_practice(1, 4, concept="dropout", seed=5, ask=lambda prompt: next(answers), say=shown.append)
    out = "\n".join(shown)
    assert summary.skipped == 1 and summary.asked == 3
    assert out.count("Correct.") + out.count("Not correct") + out.count("Not graded") == 3
    assert "Practice done:" in out


def test_cli_quiz_bank_items_and_mastery(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["quiz", "bank"])
    assert r.exit_code == 0 and "parameterized" in r.output and "by concept:" in r.output
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    r = runner.invoke(main, ["quiz", "items", "--db-url", db])
    assert r.exit_code == 0 and "no quiz responses" in r.output
    r = runner.invoke(main, ["mastery", "show", "nobody", "--db-url", db])
    assert r.exit_code == 0 and "Review next:" in r.output and "deepgrade quiz practice --week" in r.output
    r = runner.invoke(main, ["mastery", "refit", "--db-url", db])
    assert r.exit_code == 0
    r = runner.invoke(main, ["quiz", "practice", "--week", "2", "-n", "2", "--seed", "1"], input="q\n")
    assert r.exit_code == 0 and "Question 1" in r.output
    r = runner.invoke(main, ["quiz", "release", "--course", str(tmp_path), "--week", "1", "--no-nbgrader"])
    assert r.exit_code == 0 and (tmp_path / "source" / "quiz_week1" / "quiz_week1_utils.py").exists()


def _first_of_type(qtype):
    for week in (1, 2, 3):
        for q in practice_pool(week):
            if q.type == qtype:
                return week, q
    raise AssertionError(f"no practice question of type {qtype}")


def test_a_mistyped_answer_is_asked_again_not_scored(monkeypatch):
    from quizzes import practice
    week, q = _first_of_type("truefalse")
    monkeypatch.setattr(practice, "practice_pool", lambda w, c=None: [q])
    shown: list[str] = []
    answers = iter(["yes", "t", "True"])
    summary = run_practice(week, 1, seed=3, ask=lambda prompt: next(answers), say=shown.append)
    out = "\n".join(shown)
    assert summary.asked == 1 and summary.skipped == 0
    assert out.count("I cannot read") == 2 and "'yes'" in out and "'t'" in out and "Try again" in out
    assert next(answers, None) is None                       # all three were asked for


def test_unknown_concept_lists_the_valid_ids():
    from quizzes.schema import load_concepts
    r = CliRunner().invoke(main, ["quiz", "practice", "--week", "1", "--concept", "dropuot"], input="q\n")
    assert r.exit_code != 0 and "unknown concept 'dropuot'" in r.output
    assert all(c in r.output for c in load_concepts())
