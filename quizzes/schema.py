"""Load and validate the concept map and the quiz banks.

Every problem is reported as ``<file>: question '<id>': field '<field>': <what is wrong>`` and all
problems of a load are collected before raising :class:`BankError`, so an author fixes a bank in
one pass.

Question types
  single         one correct option among ``choices`` (answer: a letter)
  multi          one or more correct options (answer: a list of letters); all-or-nothing
  truefalse      ``answer: true|false``
  numeric        fixed ``answer`` with ``tolerance``
  param_numeric  ``params`` drawn per student, ``recipe`` (quizzes.params) computes the answer
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from quizzes.params import RECIPES

HERE = Path(__file__).resolve().parent
CONCEPTS_FILE = HERE / "concepts.yaml"
BANKS_DIR = HERE / "banks"
WEEKS = (1, 2, 3)
TYPES = ("single", "multi", "truefalse", "numeric", "param_numeric")
USES = ("quiz", "practice")
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TOLERANCE = {"rel": 0.01, "abs": 1e-6}

COMMON_FIELDS = {"id", "type", "concepts", "points", "use", "text", "explanation"}
TYPE_FIELDS = {
    "single": {"choices", "shuffle"},
    "multi": {"choices", "shuffle"},
    "truefalse": {"answer"},
    "numeric": {"answer", "tolerance", "distractors"},
    "param_numeric": {"params", "recipe", "tolerance", "distractors"},
}


class BankError(ValueError):
    """One or more problems in concepts.yaml or a bank; ``problems`` lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Choice:
    text: str
    correct: bool
    feedback: str = ""


@dataclass(frozen=True)
class Distractor:
    """A common wrong numeric answer: a fixed ``value`` or a ``recipe`` of the variant's params."""
    feedback: str
    value: float | None = None
    recipe: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    week: int
    source: str
    concepts: tuple[str, ...]
    points: float
    use: str
    text: str
    explanation: str
    choices: tuple[Choice, ...] = ()
    shuffle: bool = True
    answer: Any = None
    tolerance: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCE))
    params: dict = field(default_factory=dict)
    recipe: str | None = None
    distractors: tuple[Distractor, ...] = ()

    @property
    def is_choice(self) -> bool:
        return self.type in ("single", "multi")

    @property
    def parameterized(self) -> bool:
        return self.type == "param_numeric"

    @property
    def correct_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.choices) if c.correct]

    def public(self) -> dict:
        """What a student may see: wording, options and parameter ranges — never answers."""
        d = {"id": self.id, "type": self.type, "points": self.points, "concepts": list(self.concepts),
             "text": self.text}
        if self.is_choice:
            d["choices"] = [c.text for c in self.choices]
            d["shuffle"] = self.shuffle
        if self.params:
            d["params"] = {k: dict(v) for k, v in self.params.items()}
        return d


@dataclass(frozen=True)
class Concept:
    id: str
    week: int
    name: str
    description: str
    practice: tuple[dict, ...]


# ------------------------------------------------------------------------------------------------
# concepts
# ------------------------------------------------------------------------------------------------

def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: file not found ({path})")
    except yaml.YAMLError as e:
        problems.append(f"{path.name}: not valid YAML: {e}")
    return None


def parse_concepts(data: Any, fname: str) -> dict[str, Concept]:
    problems: list[str] = []
    out: dict[str, Concept] = {}
    weeks = data.get("weeks") if isinstance(data, dict) else None
    if not isinstance(weeks, dict):
        raise BankError([f"{fname}: field 'weeks' must map week numbers to concept groups"])
    for week, group in weeks.items():
        concepts = group.get("concepts") if isinstance(group, dict) else None
        if not isinstance(concepts, dict):
            problems.append(f"{fname}: week {week}: field 'concepts' must be a mapping")
            continue
        for cid, c in concepts.items():
            where = f"{fname}: concept '{cid}'"
            if not isinstance(c, dict):
                problems.append(f"{where}: must be a mapping")
                continue
            for f in ("name", "description"):
                if not isinstance(c.get(f), str) or not c[f].strip():
                    problems.append(f"{where}: field '{f}' must be a non-empty string")
            practice = c.get("practice", [])
            if not isinstance(practice, list) or any(
                    not isinstance(p, dict) or not isinstance(p.get("assignment"), str)
                    or not isinstance(p.get("section"), str) for p in practice):
                problems.append(f"{where}: field 'practice' must be a list of "
                                "{assignment, section, functions} mappings")
                practice = []
            if cid in out:
                problems.append(f"{where}: duplicate concept id")
            out[cid] = Concept(cid, int(week), str(c.get("name", "")), str(c.get("description", "")),
                               tuple(dict(p) for p in practice))
    if problems:
        raise BankError(problems)
    return out


class UnknownConcept(ValueError):
    """A concept id used by a check, a mistake or a question that concepts.yaml does not define."""


def require_concepts(ids: Iterable[str], where: str) -> None:
    """Raise :class:`UnknownConcept` naming ``where`` (the file and thing that uses the ids), the first
    unknown id and concepts.yaml, unless every id is a concept of the concept map."""
    known = load_concepts()
    for cid in ids:
        if cid not in known:
            raise UnknownConcept(f"{where}: unknown concept id {cid!r} (the concept ids are the keys of "
                                 f"{CONCEPTS_FILE})")


@lru_cache(maxsize=4)
def load_concepts(path: str | None = None) -> dict[str, Concept]:
    p = Path(path) if path else CONCEPTS_FILE
    problems: list[str] = []
    data = _read_yaml(p, problems)
    if problems:
        raise BankError(problems)
    return parse_concepts(data, p.name)


# ------------------------------------------------------------------------------------------------
# banks
# ------------------------------------------------------------------------------------------------

class _Q:
    """Validation helper bound to one question: collects problems with file/id/field context."""

    def __init__(self, fname: str, qid: str, problems: list[str]):
        self.fname, self.qid, self.problems = fname, qid, problems

    def err(self, fld: str, msg: str) -> None:
        self.problems.append(f"{self.fname}: question '{self.qid}': field '{fld}': {msg}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_param_spec(q: _Q, name: str, spec: Any) -> None:
    fld = f"params.{name}"
    if not isinstance(spec, dict):
        q.err(fld, "must be a mapping like {min: 0.8, max: 0.99, step: 0.01}")
        return
    unknown = set(spec) - {"min", "max", "step", "log10", "digits", "choices"}
    if unknown:
        q.err(fld, f"unknown key(s) {sorted(unknown)}")
    if "choices" in spec:
        if not isinstance(spec["choices"], list) or not spec["choices"] or \
                not all(_is_number(v) for v in spec["choices"]):
            q.err(fld, "'choices' must be a non-empty list of numbers")
        return
    lo, hi = spec.get("min"), spec.get("max")
    if not (_is_number(lo) and _is_number(hi)) or lo > hi:
        q.err(fld, "needs numbers min <= max (or a 'choices' list)")
        return
    if "step" in spec and (not _is_number(spec["step"]) or spec["step"] <= 0):
        q.err(fld, "'step' must be a positive number")
    if not spec.get("log10") and "step" not in spec and not (float(lo).is_integer() and float(hi).is_integer()):
        q.err(fld, "non-integer ranges need a 'step'")


def _parse_choices(q: _Q, raw: Any, qtype: str) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        q.err("choices", "must be a list of at least 2 options")
        return ()
    out = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict):
            q.err(f"choices[{i}]", "must be a mapping with 'text' (and 'correct', 'feedback')")
            continue
        unknown = set(c) - {"text", "correct", "feedback"}
        if unknown:
            q.err(f"choices[{i}]", f"unknown key(s) {sorted(unknown)}")
        if not isinstance(c.get("text"), (str, int, float)) or not str(c.get("text")).strip():
            q.err(f"choices[{i}].text", "must be a non-empty string")
        if not isinstance(c.get("correct", False), bool):
            q.err(f"choices[{i}].correct", "must be true or false")
        if "feedback" in c and not isinstance(c["feedback"], str):
            q.err(f"choices[{i}].feedback", "must be a string")
        out.append(Choice(str(c.get("text", "")), bool(c.get("correct", False)), str(c.get("feedback", ""))))
    texts = [c.text.strip().lower() for c in out]
    if len(set(texts)) != len(texts):
        q.err("choices", "two options have the same text")
    n_correct = sum(c.correct for c in out)
    if qtype == "single" and n_correct != 1:
        q.err("choices", f"a single-choice question needs exactly one correct option (found {n_correct})")
    if qtype == "multi":
        if len(out) < 3:
            q.err("choices", "a multiple-select question needs at least 3 options")
        if n_correct < 1:
            q.err("choices", "a multiple-select question needs at least one correct option")
    if len(out) > 8:
        q.err("choices", "at most 8 options")
    return tuple(out)


def _parse_tolerance(q: _Q, raw: Any) -> dict:
    if raw is None:
        return dict(DEFAULT_TOLERANCE)
    if not isinstance(raw, dict) or not raw or set(raw) - {"rel", "abs"} or \
            not all(_is_number(v) and v >= 0 for v in raw.values()):
        q.err("tolerance", "must be a mapping with 'rel' and/or 'abs' (non-negative numbers)")
        return dict(DEFAULT_TOLERANCE)
    return {"rel": float(raw.get("rel", 0.0)), "abs": float(raw.get("abs", 0.0))}


def _parse_distractors(q: _Q, raw: Any, allow_recipe: bool) -> tuple[Distractor, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        q.err("distractors", "must be a list")
        return ()
    out = []
    for i, d in enumerate(raw):
        fld = f"distractors[{i}]"
        if not isinstance(d, dict) or not isinstance(d.get("feedback"), str) or not d["feedback"].strip():
            q.err(fld, "needs a non-empty 'feedback' and a 'value' or 'recipe'")
            continue
        if "recipe" in d:
            if not allow_recipe:
                q.err(f"{fld}.recipe", "only parameterized questions can use recipes")
            elif d["recipe"] not in RECIPES:
                q.err(f"{fld}.recipe", f"unknown recipe {d['recipe']!r}")
            out.append(Distractor(d["feedback"], recipe=d.get("recipe")))
        elif _is_number(d.get("value")):
            out.append(Distractor(d["feedback"], value=float(d["value"])))
        else:
            q.err(fld, "needs a numeric 'value' or a 'recipe'")
    return tuple(out)


def parse_question(raw: Any, fname: str, week: int, index: int, concepts: dict[str, Concept],
                   problems: list[str]) -> Question | None:
    qid = raw.get("id") if isinstance(raw, dict) else None
    q = _Q(fname, qid if isinstance(qid, str) else f"#{index + 1}", problems)
    if not isinstance(raw, dict):
        q.err("-", "each question must be a mapping")
        return None
    if not isinstance(qid, str) or not ID_RE.match(qid):
        q.err("id", "must be lower_snake_case (letters, digits, underscores; starts with a letter)")
    qtype = raw.get("type")
    if qtype not in TYPES:
        q.err("type", f"must be one of {list(TYPES)}, got {qtype!r}")
        return None
    unknown = set(raw) - COMMON_FIELDS - TYPE_FIELDS[qtype]
    if unknown:
        q.err(sorted(unknown)[0], f"not a field of a {qtype} question (unknown: {sorted(unknown)})")
    for fld in ("text", "explanation"):
        if not isinstance(raw.get(fld), str) or not raw[fld].strip():
            q.err(fld, "must be a non-empty string")
    cs = raw.get("concepts")
    if not isinstance(cs, list) or not cs:
        q.err("concepts", "must be a non-empty list of concept ids")
        cs = []
    for c in cs:
        if c not in concepts:
            q.err("concepts", f"unknown concept id {c!r} (see concepts.yaml)")
    points = raw.get("points", 1)
    if not _is_number(points) or points <= 0:
        q.err("points", "must be a positive number")
        points = 1
    use = raw.get("use", "quiz")
    if use not in USES:
        q.err("use", f"must be one of {list(USES)}")
    kw: dict[str, Any] = {}
    if qtype in ("single", "multi"):
        kw["choices"] = _parse_choices(q, raw.get("choices"), qtype)
        if not isinstance(raw.get("shuffle", True), bool):
            q.err("shuffle", "must be true or false")
        kw["shuffle"] = bool(raw.get("shuffle", True))
    elif qtype == "truefalse":
        if not isinstance(raw.get("answer"), bool):
            q.err("answer", "must be true or false")
        kw["answer"] = raw.get("answer")
    elif qtype == "numeric":
        if not _is_number(raw.get("answer")):
            q.err("answer", "must be a finite number")
        kw["answer"] = raw.get("answer")
        kw["tolerance"] = _parse_tolerance(q, raw.get("tolerance"))
        kw["distractors"] = _parse_distractors(q, raw.get("distractors"), allow_recipe=False)
    else:
        params = raw.get("params")
        if not isinstance(params, dict) or not params:
            q.err("params", "must map parameter names to ranges")
            params = {}
        for name, spec in params.items():
            _check_param_spec(q, name, spec)
        rname = raw.get("recipe")
        if rname not in RECIPES:
            q.err("recipe", f"unknown recipe {rname!r} (see quizzes/params.py)")
        else:
            need = set(RECIPES[rname].params)
            if need != set(params):
                q.err("params", f"recipe {rname!r} needs exactly {sorted(need)}, declared {sorted(params)}")
        used = set(PLACEHOLDER_RE.findall(str(raw.get("text", ""))))
        if used - set(params):
            q.err("text", f"placeholder(s) {sorted(used - set(params))} are not declared in params")
        if set(params) - used:
            q.err("text", f"parameter(s) {sorted(set(params) - used)} never appear in the text")
        kw.update(params=params, recipe=rname, tolerance=_parse_tolerance(q, raw.get("tolerance")),
                  distractors=_parse_distractors(q, raw.get("distractors"), allow_recipe=True))
    return Question(id=str(qid), type=qtype, week=week, source=fname, concepts=tuple(cs),
                    points=float(points), use=str(use), text=str(raw.get("text", "")).strip(),
                    explanation=str(raw.get("explanation", "")).strip(), **kw)


def parse_bank(data: Any, fname: str, concepts: dict[str, Concept], problems: list[str]) -> list[Question]:
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        problems.append(f"{fname}: field 'questions' must be a list of questions")
        return []
    week = data.get("week")
    if week not in WEEKS:
        problems.append(f"{fname}: field 'week' must be one of {list(WEEKS)}")
        week = 0
    out = []
    for i, raw in enumerate(data["questions"]):
        q = parse_question(raw, fname, week, i, concepts, problems)
        if q is not None:
            out.append(q)
    return out


def load_banks(banks_dir: str | Path | None = None, concepts_path: str | None = None) -> list[Question]:
    """All questions of banks/week*.yaml, validated; raises BankError listing every problem."""
    concepts = load_concepts(concepts_path)
    d = Path(banks_dir) if banks_dir else BANKS_DIR
    problems: list[str] = []
    questions: list[Question] = []
    files = sorted(d.glob("week*.yaml"))
    if not files:
        problems.append(f"no banks/week*.yaml found in {d}")
    for f in files:
        data = _read_yaml(f, problems)
        if data is not None:
            questions += parse_bank(data, f.name, concepts, problems)
    seen: dict[str, str] = {}
    for q in questions:
        if q.id in seen:
            problems.append(f"{q.source}: question '{q.id}': field 'id': duplicate (also in {seen[q.id]})")
        seen[q.id] = q.source
    if problems:
        raise BankError(problems)
    return questions


@lru_cache(maxsize=2)
def _bank_cache(banks_dir: str) -> tuple[Question, ...]:
    return tuple(load_banks(banks_dir))


def bank(banks_dir: str | Path | None = None) -> dict[str, Question]:
    """``{question id: Question}`` for the installed banks (cached)."""
    return {q.id: q for q in _bank_cache(str(Path(banks_dir) if banks_dir else BANKS_DIR))}


def questions_for(week: int, use: str | None = "quiz", banks_dir: str | Path | None = None) -> list[Question]:
    """Questions of a week in bank order; ``use=None`` for all of them."""
    return [q for q in bank(banks_dir).values() if q.week == week and (use is None or q.use == use)]
