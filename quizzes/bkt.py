"""Bayesian Knowledge Tracing: the per-observation update and an EM (Baum-Welch) refit.

Model (per concept): a learner either knows the concept (L) or not. Before the first observation
P(L) = prior; an observation is correct with probability 1 - slip if L, and guess if not L; after
each observation an unlearned learner learns with probability ``learn`` (no forgetting).

``update`` is the constant-time step; ``fit`` estimates (prior, learn, guess, slip) from many
learners' 0/1 sequences by expectation-maximisation on this two-state hidden Markov model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_PRIOR = 0.3
DEFAULT_LEARN = 0.1
DEFAULT_SLIP = 0.1
CODE_GUESS = 0.1
NUMERIC_GUESS = 0.05
MAX_GUESS = 0.5
BOUNDS = {"prior": (0.001, 0.999), "learn": (0.001, 0.999), "guess": (0.001, 0.4), "slip": (0.001, 0.4)}


@dataclass(frozen=True)
class BKTParams:
    prior: float = DEFAULT_PRIOR
    learn: float = DEFAULT_LEARN
    guess: float | None = None      # None: use each observation's type-based guess
    slip: float = DEFAULT_SLIP


def guess_for(kind: str) -> float:
    """Chance of a correct answer without knowing the concept, by observation kind.

    ``single:k`` 1/k, ``multi:k`` 1/(2^k - 1) (any non-empty subset), ``truefalse`` 1/2,
    ``numeric``/``param_numeric`` 0.05, ``code`` (a hidden code check) 0.1.
    """
    name, _, k = kind.partition(":")
    if name == "single" and k.isdigit() and int(k) > 0:
        return min(MAX_GUESS, 1.0 / int(k))
    if name == "multi" and k.isdigit() and int(k) > 0:
        return min(MAX_GUESS, 1.0 / (2 ** int(k) - 1))
    if name == "truefalse":
        return 0.5
    if name in ("numeric", "param_numeric"):
        return NUMERIC_GUESS
    return CODE_GUESS


def update(p: float, correct: bool, learn: float, guess: float, slip: float) -> float:
    """P(L) after one observation: Bayes' rule on the answer, then the learning transition."""
    if correct:
        num, den = p * (1 - slip), p * (1 - slip) + (1 - p) * guess
    else:
        num, den = p * slip, p * slip + (1 - p) * (1 - guess)
    posterior = num / den if den > 0 else p
    return posterior + (1 - posterior) * learn


def trace(obs: list[tuple[bool, float]], params: BKTParams) -> float:
    """P(L) after a sequence of (correct, type guess) observations."""
    p = params.prior
    for correct, g in obs:
        p = update(p, correct, params.learn, params.guess if params.guess is not None else g, params.slip)
    return p


# ------------------------------------------------------------------------------------------------
# EM
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitResult:
    params: BKTParams
    loglik: float
    iterations: int
    n_sequences: int
    n_obs: int


def _clip(name: str, x: float) -> float:
    lo, hi = BOUNDS[name]
    return float(min(hi, max(lo, x)))


def _forward_backward(seq: np.ndarray, prior: float, learn: float, guess: float, slip: float):
    """Scaled forward-backward for one 0/1 sequence; returns (gamma, xi01 per step, loglik)."""
    T = len(seq)
    A = np.array([[1 - learn, learn], [0.0, 1.0]])           # state 0 = unknown, 1 = known
    emit = np.where(seq[:, None] == 1, [guess, 1 - slip], [1 - guess, slip])   # (T, 2)
    alpha = np.zeros((T, 2))
    scale = np.zeros(T)
    a = np.array([1 - prior, prior]) * emit[0]
    scale[0] = a.sum()
    alpha[0] = a / scale[0]
    for t in range(1, T):
        a = (alpha[t - 1] @ A) * emit[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    beta = np.ones((T, 2))
    for t in range(T - 2, -1, -1):
        beta[t] = (A @ (emit[t + 1] * beta[t + 1])) / scale[t + 1]
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi01 = np.zeros(max(T - 1, 0))
    for t in range(T - 1):
        x = alpha[t][:, None] * A * (emit[t + 1] * beta[t + 1])[None, :] / scale[t + 1]
        xi01[t] = x[0, 1]
    return gamma, xi01, float(np.log(scale).sum())


def fit(sequences: list[list[int]], start: BKTParams | None = None, max_iter: int = 200,
        tol: float = 1e-6) -> FitResult:
    """EM estimate of (prior, learn, guess, slip) from 0/1 sequences (one per learner, in order)."""
    seqs = [np.asarray(s, dtype=int) for s in sequences if len(s)]
    if not seqs:
        raise ValueError("no observations to fit")
    s0 = start or BKTParams()
    prior, learn, slip = s0.prior, s0.learn, s0.slip
    guess = s0.guess if s0.guess is not None else 0.2
    last = -math.inf
    it = 0
    for it in range(1, max_iter + 1):
        g0 = n_prior = 0.0
        learn_num = learn_den = 0.0
        guess_num = guess_den = slip_num = slip_den = 0.0
        ll = 0.0
        for seq in seqs:
            gamma, xi01, l = _forward_backward(seq, prior, learn, guess, slip)
            ll += l
            g0 += gamma[0, 1]
            n_prior += 1
            learn_num += xi01.sum()
            learn_den += gamma[:-1, 0].sum()
            guess_num += (gamma[:, 0] * seq).sum()
            guess_den += gamma[:, 0].sum()
            slip_num += (gamma[:, 1] * (1 - seq)).sum()
            slip_den += gamma[:, 1].sum()
        prior = _clip("prior", g0 / n_prior)
        learn = _clip("learn", learn_num / learn_den if learn_den > 0 else learn)
        guess = _clip("guess", guess_num / guess_den if guess_den > 0 else guess)
        slip = _clip("slip", slip_num / slip_den if slip_den > 0 else slip)
        if abs(ll - last) < tol:
            last = ll
            break
        last = ll
    return FitResult(BKTParams(prior, learn, guess, slip), last, it, len(seqs), int(sum(len(s) for s in seqs)))
