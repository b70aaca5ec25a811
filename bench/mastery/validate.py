"""Validate mastery on simulated students whose latent knowledge is known (issue 13).

    .venv/bin/python bench/mastery/validate.py [--students 400] [--steps 16] [--seed 0] [--out bench/mastery]
    .venv/bin/python bench/mastery/validate.py --refresh      # rewrite results.md from results.json

Each regime simulates one concept: a student knows it (prior) or not, learns it after each piece of
work with probability ``learn``, forgets it with probability ``forget``; one piece of work (a graded
function, or a quiz question) is right with probability 1 - slip[type] if known and guess[type] if not.
Every piece of work becomes a real SubmissionResult (a code function with its hidden checks, or a quiz
check named after a real bank question) with its own submission time, and goes through the real
recording path -- ``quizzes.mastery.record_evidence`` inside a transaction on a SQLite database, the
submissions recorded in a *shuffled* order -- then ``quizzes.mastery.refit`` fits the concept.

Reported per regime, for the fitted model read back from the database ("fitted") and for a filter
that knows the true parameters and sees the same outcomes ("true"):
  auc, rmse     next-answer prediction of each observation from the ones before it
  brier         P(known) after each observation against the simulated state at the next one
  false_mastery share of "mastered" estimates (P >= 0.95) made while the student did not know
  flagged       share of estimates that are "mastered" (a filter never saying mastered has no false ones)
Regime ``bursts`` draws each function's checks together (structure passes 80 % of wrong functions, the
visible example 30 %); ``per_check`` beside it is the old evidence model (every check one observation,
learning between checks, default parameters) on the same data.

Writes ``results.json`` and ``results.md`` into ``--out``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.result import CheckResult, SubmissionResult  # noqa: E402
from quizzes import bkt, mastery  # noqa: E402
from reference import catalog  # noqa: E402

CONCEPT = "momentum"
T0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
#: a real bank question of each quiz type (the recording path looks the type up in the bank)
QUESTIONS = {"single": "w1_bv_diagnose_variance", "truefalse": "w1_gc_dropout_off",
             "numeric": "w1_l2_term_value", "multi": "w2_adam_defaults"}
THRESHOLD = mastery.THRESHOLD
CONTRASTS = ("forgetting_off",)               # shown beside the targets, not held to them


@dataclass(frozen=True)
class Regime:
    name: str
    prior: float = 0.3
    learn: float = 0.15
    forget: float = 0.0
    guess: dict = field(default_factory=lambda: {"code": 0.1})
    slip: dict = field(default_factory=lambda: {"code": 0.1})
    types: tuple[str, ...] = ("code",)        # item type of step t: types[t % len(types)]
    bursts: bool = False
    forgetting: str = "auto"                  # refit's forgetting option

    def truth(self) -> bkt.BKTParams:
        return bkt.BKTParams(self.prior, self.learn, self.forget, dict(self.guess), dict(self.slip))


REGIMES = [
    Regime("standard"),
    Regime("high_slip", slip={"code": 0.3}),
    Regime("high_guess", guess={"code": 0.4}),
    Regime("forgetting", learn=0.2, forget=0.04),
    Regime("forgetting_off", learn=0.2, forget=0.04, forgetting="off"),
    Regime("mixed_types", guess={"code": 0.1, "single": 0.3, "truefalse": 0.45, "numeric": 0.05},
           slip={"code": 0.1, "single": 0.15, "truefalse": 0.2, "numeric": 0.2},
           types=("code", "single", "code", "truefalse", "numeric")),
    Regime("bursts", bursts=True),
]


# ------------------------------------------------------------------------------------------------
# simulation
# ------------------------------------------------------------------------------------------------

@dataclass
class Student:
    id: str
    states: list[bool]          # (steps + 1,) latent state when doing step t; last: after the last step
    outcomes: list[bool]        # (steps,) piece of work right or not
    checks: list[list[bool]]    # (steps, n_checks) check outcomes of code steps (bursts), else [outcome]


def simulate(regime: Regime, n: int, steps: int, rng: np.random.Generator) -> list[Student]:
    out = []
    for i in range(n):
        known = bool(rng.random() < regime.prior)
        states, outcomes, checks = [], [], []
        for t in range(steps):
            kind = regime.types[t % len(regime.types)]
            states.append(known)
            ok = bool(rng.random() < ((1 - regime.slip[kind]) if known else regime.guess[kind]))
            outcomes.append(ok)
            if regime.bursts and kind == "code":     # structure, fixed (visible example), random, edge cases
                checks.append([ok or bool(rng.random() < 0.8), ok or bool(rng.random() < 0.3), ok,
                               ok or bool(rng.random() < 0.5)])
            else:
                checks.append([ok])
            known = bool(rng.random() >= regime.forget) if known else bool(rng.random() < regime.learn)
        states.append(known)
        out.append(Student(f"sim{i:04d}", states, outcomes, checks))
    return out


def submission(regime: Regime, s: Student, t: int) -> tuple[SubmissionResult, dt.datetime]:
    """Step ``t`` of student ``s`` as the grader would report it, and its submission time."""
    kind = regime.types[t % len(regime.types)]
    when = T0 + dt.timedelta(days=t, minutes=int(s.id[3:]))
    if kind == "code":
        f = f"sim_function_{t}"
        names = ["structure", "fixed", "random", "edge_cases"] if regime.bursts else ["random"]
        checks = tuple(CheckResult(name=f"{f}.{nm}", function=f, points=float(ok), max_points=1.0, passed=ok,
                                   concepts=(CONCEPT,)) for nm, ok in zip(names, s.checks[t]))
        assignment = f"sim_assignment_{t}"
    else:
        q = QUESTIONS[kind]
        checks = (CheckResult(name=f"q_{q}", function=q, points=float(s.outcomes[t]), max_points=1.0,
                              passed=s.outcomes[t], message="", concepts=(CONCEPT,)),)
        assignment = f"quiz_sim_{t}"
    return SubmissionResult(assignment=assignment, student=s.id, notebook="x.ipynb", checksum=f"{s.id}-{t}",
                            gradable=True, checks=checks, graded_at=T0.isoformat()), when


def record_all(regime: Regime, students: list[Student], db_url: str, rng: np.random.Generator,
               chunk: int = 300) -> float:
    """Record every step through ``record_evidence`` in a shuffled grading order; returns seconds."""
    work = [(s, t) for s in students for t in range(len(s.outcomes))]
    order = rng.permutation(len(work))
    eng = mastery.engine_for(db_url)
    t0 = time.perf_counter()
    for start in range(0, len(order), chunk):
        with eng.begin() as conn:
            for i in order[start:start + chunk]:
                s, t = work[i]
                res, when = submission(regime, s, t)
                mastery.record_evidence(conn, res, submitted_at=when)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------------

def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(sp):                      # average ranks over ties
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def filter_metrics(seqs: dict[str, list[tuple[bool, str]]], states: dict[str, list[bool]],
                   params: bkt.BKTParams) -> dict:
    """Next-answer and latent-state metrics of a BKT filter with ``params`` over every sequence."""
    y, pred, est, truth = [], [], [], []
    for sid, seq in seqs.items():
        p = params.prior
        for t, (ok, kind) in enumerate(seq):
            g, s = params.g(kind), params.s(kind)
            pred.append(p * (1 - s) + (1 - p) * g)
            y.append(ok)
            p = bkt.update(p, ok, params.learn, g, s, params.forget)
            est.append(p)
            truth.append(states[sid][t + 1])
    y, pred, est, truth = map(np.asarray, (y, pred, est, truth))
    flagged = est >= THRESHOLD
    return {"auc": auc(y.astype(int), pred), "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
            "brier": float(np.mean((est - truth) ** 2)),
            "false_mastery": float(np.mean(~truth[flagged])) if flagged.any() else 0.0,
            "flagged": float(flagged.mean()), "n_obs": int(len(y))}


def stored_sequences(db_url: str) -> tuple[dict[str, list[tuple[bool, str]]], dict[str, float]]:
    """Per student the stored observations in the order mastery replays them, and the stored P(L)."""
    from sqlalchemy import select
    with mastery.engine_for(db_url).connect() as conn:
        rows = conn.execute(select(*mastery._obs_columns()).where(mastery.observations.c.concept == CONCEPT)).all()
        stored = {r.student: r.p_mastery for r in conn.execute(select(mastery.mastery))}
    per: dict[str, list] = {}
    for r in rows:
        per.setdefault(r.student, []).append(r)
    return {s: [(bool(r.correct), r.kind) for r in mastery._ordered(v)] for s, v in per.items()}, stored


def run_regime(regime: Regime, n: int, steps: int, seed: int, workdir: Path) -> dict:
    rng = np.random.default_rng([seed, REGIMES.index(regime)])
    students = simulate(regime, n, steps, rng)
    db_url = f"sqlite:///{workdir / f'{regime.name}.db'}"
    record_s = record_all(regime, students, db_url, rng)
    t0 = time.perf_counter()
    (report,) = mastery.refit(db_url, concepts=[CONCEPT], forgetting=regime.forgetting, seed=seed)
    fit_s = time.perf_counter() - t0
    seqs, stored = stored_sequences(db_url)
    with mastery.engine_for(db_url).connect() as conn:
        fitted = mastery.params_for(conn, CONCEPT)
    states = {s.id: s.states for s in students}
    # the recording path must hand the filter exactly the simulated outcomes, in time order
    truth_seqs = {s.id: [(ok, regime.types[t % len(regime.types)]) for t, ok in enumerate(s.outcomes)]
                  for s in students}
    same_order = all([ok for ok, _ in seqs[sid]] == [ok for ok, _ in truth_seqs[sid]] for sid in truth_seqs)
    replay_ok = all(abs(stored[sid] - bkt.trace(seqs[sid], fitted)) < 1e-9 for sid in seqs)
    out = {"regime": regime.name, "students": n, "steps": steps, "status": report.status,
           "forgetting_chosen": report.forgetting, "record_s": round(record_s, 2), "fit_s": round(fit_s, 2),
           "observations_in_time_order": same_order, "stored_equals_replay": replay_ok,
           "fitted": filter_metrics(seqs, states, fitted), "true": filter_metrics(truth_seqs, states, regime.truth()),
           "fitted_params": {"prior": fitted.prior, "learn": fitted.learn, "forget": fitted.forget,
                             "guess": dict(fitted.guess), "slip": dict(fitted.slip)}}
    if regime.bursts:                         # the old model: each check an observation, default parameters
        per_check = {s.id: [(ok, "code") for t in range(steps) for ok in s.checks[t]] for s in students}
        per_states = {s.id: [s.states[0]] + [s.states[t + 1 if j == len(s.checks[t]) - 1 else t]
                                             for t in range(steps) for j in range(len(s.checks[t]))]
                      for s in students}
        out["per_check"] = filter_metrics(per_check, per_states, bkt.BKTParams())
    return out


def targets_met(r: dict, auc_tol: float = 0.01, fm_factor: float = 2.0, fm_floor: float = 0.0) -> bool:
    """Done-when of issue 13: false mastery <= 2x the true filter's and AUC within 0.01 of it."""
    f, t = r["fitted"], r["true"]
    return f["auc"] >= t["auc"] - auc_tol and f["false_mastery"] <= fm_factor * t["false_mastery"] + fm_floor


def markdown(results: list[dict]) -> str:
    lines = ["| regime | AUC fitted / true | RMSE fitted / true | Brier fitted / true | false mastery fitted / true "
             "| flagged fitted / true | forgetting | targets |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        f, t = r["fitted"], r["true"]
        lines.append(f"| {r['regime']} | {f['auc']:.3f} / {t['auc']:.3f} | {f['rmse']:.3f} / {t['rmse']:.3f} | "
                     f"{f['brier']:.3f} / {t['brier']:.3f} | {100 * f['false_mastery']:.2f} % / "
                     f"{100 * t['false_mastery']:.2f} % | {100 * f['flagged']:.1f} % / {100 * t['flagged']:.1f} % | "
                     f"{'on' if r['forgetting_chosen'] else 'off'} | "
                     f"{'contrast: forgetting not allowed' if r['regime'] in CONTRASTS else 'met' if targets_met(r) else 'NOT met'} |")
    for r in results:
        if "per_check" in r:
            pc = r["per_check"]
            lines.append(f"\n`{r['regime']}`, old evidence model (every check an observation, default "
                         f"parameters): AUC {pc['auc']:.3f}, false mastery {100 * pc['false_mastery']:.2f} %, "
                         f"flagged {100 * pc['flagged']:.1f} %.")
    return "\n".join(lines)


def declare_simulated_quizzes(course: Path, steps: int) -> None:
    """The simulated quizzes are assignments like any other: declared (runtime quiz) in a course folder
    of their own, so the mastery model reads their results as quiz answers (it branches on the declared
    runtime, never on a name)."""
    for t in range(steps):
        folder = course / catalog.COURSE_FOLDER / f"quiz_sim_{t}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / catalog.DECLARATION_NAME).write_text('runtime = "quiz"\n')
    catalog.course_declarations(course)


def run(n: int, steps: int, seed: int, regimes: list[Regime] | None = None) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="dg-mastery-bench-") as tmp:
        declare_simulated_quizzes(Path(tmp) / "course", steps)
        return [run_regime(r, n, steps, seed, Path(tmp)) for r in (regimes or REGIMES)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=400)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--regime", action="append", help="only this regime (repeatable)")
    ap.add_argument("--refresh", action="store_true", help="only rewrite results.md from results.json")
    args = ap.parse_args(argv)
    regimes = [r for r in REGIMES if not args.regime or r.name in args.regime]
    t0 = time.perf_counter()
    if args.refresh:
        saved = json.loads((args.out / "results.json").read_text())
        results = saved["regimes"]
        args.students, args.steps, args.seed = saved["students"], saved["steps"], saved["seed"]
    else:
        results = run(args.students, args.steps, args.seed, regimes)
    table = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.refresh:
        (args.out / "results.json").write_text(json.dumps(
            {"students": args.students, "steps": args.steps, "seed": args.seed,
             "seconds": round(time.perf_counter() - t0, 1), "regimes": results}, indent=1))
    (args.out / "results.md").write_text(
        f"# Mastery on simulated students ({args.students} students x {args.steps} steps per regime, "
        f"seed {args.seed})\n\nGenerated by `bench/mastery/validate.py`; see its docstring for the "
        f"definitions.\n\n{table}\n")
    print(table)
    return 0 if all(targets_met(r) for r in results if r["regime"] not in CONTRASTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
