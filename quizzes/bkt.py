"""Bayesian Knowledge Tracing: the per-observation update and an EM (Baum-Welch) fit.

Model (per concept): a learner either knows the concept (L) or not. Before the first observation
P(L) = prior. An observation of item type ``k`` is correct with probability 1 - slip[k] if L and
guess[k] if not L. After each observation an unlearned learner learns with probability ``learn`` and
(optional) a learned one forgets with probability ``forget``.

Item types (one observation each): ``code`` (one graded function of one submission: all of its
checks passed or not), and the quiz types ``single``, ``multi``, ``truefalse``, ``numeric``
(``param_numeric`` included). Guess and slip are per concept *and* item type.

``update`` is the constant-time step; ``trace`` replays a sequence; ``fit`` estimates the parameters
from many learners' sequences by expectation-maximisation on this two-state hidden Markov model, from
several starting points, vectorised over learners (sequences padded to one (N, T) array).
``select_and_fit`` also decides whether to model forgetting, by held-out likelihood.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

DEFAULT_PRIOR = 0.3
DEFAULT_LEARN = 0.1
DEFAULT_SLIP = 0.1
CODE_GUESS = 0.1
NUMERIC_GUESS = 0.05
MAX_GUESS = 0.45
ITEM_TYPES = ("code", "single", "multi", "truefalse", "numeric")
#: default guess per item type (single: four options, multi: all-or-nothing over three or more options)
DEFAULT_GUESS = {"code": CODE_GUESS, "single": 0.25, "multi": 0.15, "truefalse": MAX_GUESS,
                 "numeric": NUMERIC_GUESS}
#: guess, slip < 0.5 is what identifies the model (knowing makes a correct answer more likely than not
#: knowing); anything tighter biases estimates whose true value lies near 0.5.
BOUNDS = {"prior": (0.001, 0.999), "learn": (0.001, 0.999), "forget": (0.0, 0.5),
          "guess": (0.001, 0.499), "slip": (0.001, 0.499)}
#: weak Beta pseudo-counts (observations) pulling guess/slip of a sparse item type toward its default;
#: negligible once a type has a few dozen observations.
PSEUDO = 2.0


def item_type(kind: str) -> str:
    """The item type of an observation kind: ``single:4`` -> ``single``, ``param_numeric`` -> ``numeric``."""
    name = kind.partition(":")[0]
    if name == "param_numeric":
        return "numeric"
    return name if name in ITEM_TYPES else "code"


def guess_for(kind: str) -> float:
    """Chance of a correct answer without knowing the concept, by observation kind (the defaults).

    ``single:k`` 1/k, ``multi:k`` 1/(2^k - 1) (any non-empty subset), ``truefalse`` 1/2 (capped at
    MAX_GUESS), ``numeric``/``param_numeric`` 0.05, ``code`` (one graded function) 0.1; a bare type name
    gives :data:`DEFAULT_GUESS`.
    """
    name, _, k = kind.partition(":")
    if name == "single" and k.isdigit() and int(k) > 0:
        return min(MAX_GUESS, 1.0 / int(k))
    if name == "multi" and k.isdigit() and int(k) > 0:
        return min(MAX_GUESS, 1.0 / (2 ** int(k) - 1))
    return DEFAULT_GUESS[item_type(kind)]


@dataclass(frozen=True)
class BKTParams:
    """Parameters of one concept. ``guess``/``slip`` map item type -> probability; a type not in the
    map uses :data:`DEFAULT_GUESS` / ``default_slip``."""
    prior: float = DEFAULT_PRIOR
    learn: float = DEFAULT_LEARN
    forget: float = 0.0
    guess: Mapping[str, float] = field(default_factory=dict)
    slip: Mapping[str, float] = field(default_factory=dict)
    default_slip: float = DEFAULT_SLIP

    def g(self, kind: str) -> float:
        t = item_type(kind)
        return float(self.guess[t]) if t in self.guess else guess_for(kind)

    def s(self, kind: str) -> float:
        t = item_type(kind)
        return float(self.slip[t]) if t in self.slip else self.default_slip


def update(p: float, correct: bool, learn: float, guess: float, slip: float, forget: float = 0.0) -> float:
    """P(L) after one observation: Bayes' rule on the answer, then the learn/forget transition."""
    if correct:
        num, den = p * (1 - slip), p * (1 - slip) + (1 - p) * guess
    else:
        num, den = p * slip, p * slip + (1 - p) * (1 - guess)
    posterior = num / den if den > 0 else p
    return posterior * (1 - forget) + (1 - posterior) * learn


def trace(obs: Sequence[tuple[bool, str]], params: BKTParams) -> float:
    """P(L) after a sequence of (correct, kind) observations."""
    p = params.prior
    for correct, kind in obs:
        p = update(p, correct, params.learn, params.g(kind), params.s(kind), params.forget)
    return p


def predictions(obs: Sequence[tuple[bool, str]], params: BKTParams) -> list[float]:
    """P(correct) of each observation given the ones before it (next-answer predictions)."""
    p, out = params.prior, []
    for correct, kind in obs:
        g, s = params.g(kind), params.s(kind)
        out.append(p * (1 - s) + (1 - p) * g)
        p = update(p, correct, params.learn, g, s, params.forget)
    return out


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
    starts: int = 1


@dataclass(frozen=True)
class Padded:
    """Sequences as arrays: ``x`` (N, T) 0/1 answers, ``k`` (N, T) item-type index into ``types``,
    ``m`` (N, T) bool, True where a sequence has an observation (left-aligned)."""
    x: np.ndarray
    k: np.ndarray
    m: np.ndarray
    types: tuple[str, ...]

    @property
    def n_obs(self) -> int:
        return int(self.m.sum())


def pad(sequences: Sequence[Sequence[tuple[bool, str]]]) -> Padded:
    """Padded arrays of non-empty (correct, kind) sequences."""
    seqs = [s for s in sequences if len(s)]
    if not seqs:
        raise ValueError("no observations to fit")
    types = tuple(sorted({item_type(k) for s in seqs for _, k in s}))
    index = {t: i for i, t in enumerate(types)}
    T = max(len(s) for s in seqs)
    x = np.zeros((len(seqs), T), dtype=float)
    k = np.zeros((len(seqs), T), dtype=int)
    m = np.zeros((len(seqs), T), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = [float(bool(c)) for c, _ in s]
        k[i, :len(s)] = [index[item_type(kind)] for _, kind in s]
        m[i, :len(s)] = True
    return Padded(x, k, m, types)


def _emissions(d: Padded, guess: np.ndarray, slip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e0, e1), each (N, T): P(answer | unknown), P(answer | known); 1 at padding."""
    g, s = guess[d.k], slip[d.k]
    e0 = np.where(d.x == 1, g, 1 - g)
    e1 = np.where(d.x == 1, 1 - s, s)
    return np.where(d.m, e0, 1.0), np.where(d.m, e1, 1.0)


def _forward(d: Padded, prior: float, learn: float, forget: float, e0, e1):
    """Scaled forward pass: alpha (N, T, 2) filtered state probabilities and scale (N, T)."""
    N, T = d.x.shape
    alpha = np.empty((N, T, 2))
    scale = np.empty((N, T))
    a0, a1 = (1 - prior) * e0[:, 0], prior * e1[:, 0]
    for t in range(T):
        if t:
            p0, p1 = alpha[:, t - 1, 0], alpha[:, t - 1, 1]
            a0 = (p0 * (1 - learn) + p1 * forget) * e0[:, t]
            a1 = (p0 * learn + p1 * (1 - forget)) * e1[:, t]
        c = a0 + a1
        scale[:, t] = c
        alpha[:, t, 0], alpha[:, t, 1] = a0 / c, a1 / c
    return alpha, scale


def loglik(d: Padded, params: BKTParams) -> float:
    """Log-likelihood of the data under ``params``."""
    guess = np.array([params.g(t) for t in d.types])
    slip = np.array([params.s(t) for t in d.types])
    e0, e1 = _emissions(d, guess, slip)
    _, scale = _forward(d, params.prior, params.learn, params.forget, e0, e1)
    return float(np.log(scale).sum())


def _em(d: Padded, start: BKTParams, forgetting: bool, max_iter: int, tol: float) -> FitResult:
    prior, learn = start.prior, start.learn
    forget = start.forget if forgetting else 0.0
    guess = np.array([start.g(t) for t in d.types])
    slip = np.array([start.s(t) for t in d.types])
    g_def = np.array([DEFAULT_GUESS[t] for t in d.types])
    N, T = d.x.shape
    onehot = np.stack([(d.k == i) & d.m for i in range(len(d.types))])         # (K, N, T)
    nxt = d.m[:, 1:]                                                           # transitions t -> t+1 that exist
    last, it = -math.inf, 0
    for it in range(1, max_iter + 1):
        e0, e1 = _emissions(d, guess, slip)
        alpha, scale = _forward(d, prior, learn, forget, e0, e1)
        ll = float(np.log(scale).sum())
        beta = np.ones((N, T, 2))
        for t in range(T - 2, -1, -1):
            b0, b1 = e0[:, t + 1] * beta[:, t + 1, 0], e1[:, t + 1] * beta[:, t + 1, 1]
            c = scale[:, t + 1]
            beta[:, t, 0] = ((1 - learn) * b0 + learn * b1) / c
            beta[:, t, 1] = (forget * b0 + (1 - forget) * b1) / c
        gamma = alpha * beta
        gamma /= gamma.sum(axis=2, keepdims=True)
        g0, g1 = gamma[..., 0], gamma[..., 1]
        # expected transitions between consecutive observations
        b0, b1 = e0[:, 1:] * beta[:, 1:, 0], e1[:, 1:] * beta[:, 1:, 1]
        xi01 = alpha[:, :-1, 0] * learn * b1 / scale[:, 1:]
        xi10 = alpha[:, :-1, 1] * forget * b0 / scale[:, 1:]
        prior = float(np.clip(g1[:, 0].mean(), *BOUNDS["prior"]))
        den = (g0[:, :-1] * nxt).sum()
        learn = float(np.clip((xi01 * nxt).sum() / den, *BOUNDS["learn"])) if den > 0 else learn
        if forgetting:
            den = (g1[:, :-1] * nxt).sum()
            forget = float(np.clip((xi10 * nxt).sum() / den, *BOUNDS["forget"])) if den > 0 else forget
        w0 = (onehot * g0).sum(axis=(1, 2))
        w1 = (onehot * g1).sum(axis=(1, 2))
        right0 = (onehot * g0 * d.x).sum(axis=(1, 2))
        wrong1 = (onehot * g1 * (1 - d.x)).sum(axis=(1, 2))
        guess = np.clip((right0 + PSEUDO * g_def) / (w0 + PSEUDO), *BOUNDS["guess"])
        slip = np.clip((wrong1 + PSEUDO * DEFAULT_SLIP) / (w1 + PSEUDO), *BOUNDS["slip"])
        if abs(ll - last) < tol * max(1.0, abs(ll)):
            last = ll
            break
        last = ll
    params = BKTParams(prior, learn, forget, dict(zip(d.types, map(float, guess))),
                       dict(zip(d.types, map(float, slip))))
    return FitResult(params, loglik(d, params), it, d.x.shape[0], d.n_obs)


def _starts(start: BKTParams | None, n: int, seed: int, forgetting: bool) -> list[BKTParams]:
    out = [start or BKTParams(), BKTParams()]
    rng = np.random.default_rng(seed)
    while len(out) < n:
        out.append(BKTParams(prior=float(rng.uniform(0.05, 0.7)), learn=float(rng.uniform(0.02, 0.4)),
                             forget=float(rng.uniform(0.0, 0.15)) if forgetting else 0.0,
                             guess={t: float(rng.uniform(0.02, 0.4)) for t in ITEM_TYPES},
                             slip={t: float(rng.uniform(0.02, 0.3)) for t in ITEM_TYPES}))
    return out[:n]


def fit(sequences, start: BKTParams | None = None, *, forgetting: bool = False, starts: int = 4,
        max_iter: int = 150, tol: float = 1e-6, seed: int = 0) -> FitResult:
    """EM estimate of the parameters from ``sequences`` (a :class:`Padded`, or one list of
    (correct, kind) per learner in time order), keeping the best of ``starts`` starting points
    (the given ``start``, the defaults, then random ones)."""
    d = sequences if isinstance(sequences, Padded) else pad(sequences)
    best = None
    for s in _starts(start, starts, seed, forgetting):
        s = replace(s, forget=max(s.forget, 0.05)) if forgetting else replace(s, forget=0.0)
        r = _em(d, s, forgetting, max_iter, tol)
        if best is None or r.loglik > best.loglik:
            best = r
    return replace(best, starts=starts)


@dataclass(frozen=True)
class Selection:
    """The chosen fit and the held-out log-likelihood of each model (None when not compared)."""
    result: FitResult
    forgetting: bool
    heldout_no_forget: float | None
    heldout_forget: float | None


def select_and_fit(sequences, start: BKTParams | None = None, *, folds: int = 2, min_sequences: int = 20,
                   starts: int = 4, seed: int = 0) -> Selection:
    """Fit with and without forgetting; keep forgetting only when it predicts held-out learners better.

    Learners are split into ``folds`` groups; each model is fitted on the others and scored on the
    held-out group. With fewer than ``min_sequences`` learners the no-forgetting model is used.
    """
    seqs = [s for s in sequences if len(s)]
    if len(seqs) < min_sequences:
        return Selection(fit(seqs, start, starts=starts, seed=seed), False, None, None)
    order = np.random.default_rng(seed).permutation(len(seqs))
    held = {False: 0.0, True: 0.0}
    for f in range(folds):
        test = [seqs[i] for i in order[f::folds]]
        train = [seqs[i] for j, i in enumerate(order) if j % folds != f]
        dt = pad(test)
        for forgetting in (False, True):
            r = fit(train, start, forgetting=forgetting, starts=max(2, starts // 2), seed=seed + f)
            held[forgetting] += loglik(dt, r.params)
    use = held[True] > held[False] + 1.0          # one nat: forgetting must earn its extra parameter
    return Selection(fit(seqs, start, forgetting=use, starts=starts, seed=seed), use, held[False], held[True])
