"""Answer recipes for parameterized numeric questions.

A recipe turns one variant's parameter values into a number by calling the trusted reference
package (``reference/``), so a quiz answer can never drift from what the notebooks grade.
Banks name a recipe for the answer (``recipe:``) and, optionally, recipes for common wrong
answers (``distractors: - recipe: ...``); wrong-answer recipes model a specific slip, so they may
compute directly.

Each recipe declares the parameter names it needs; the bank validator checks a question declares
exactly those (``quizzes.schema``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from reference import batchnorm, gradient_checking, initialization, optimization, regularization


@dataclass(frozen=True)
class Recipe:
    name: str
    params: tuple[str, ...]
    description: str
    fn: Callable[..., float]

    def __call__(self, values: dict) -> float:
        return float(self.fn(**{p: values[p] for p in self.params}))


RECIPES: dict[str, Recipe] = {}


def recipe(*params: str, name: str | None = None) -> Callable:
    """Register ``fn`` as a recipe taking keyword arguments ``params``."""
    def deco(fn: Callable) -> Callable:
        key = name or fn.__name__
        if key in RECIPES:
            raise ValueError(f"duplicate recipe {key!r}")
        RECIPES[key] = Recipe(key, tuple(params), (fn.__doc__ or "").strip().split("\n")[0], fn)
        return fn
    return deco


def compute(name: str, values: dict) -> float:
    """Value of recipe ``name`` on a variant's parameter values."""
    return RECIPES[name](values)


def _one(W: float) -> np.ndarray:
    return np.array([[float(W)]])


def _scalar_net(w: float) -> dict:
    return {"W1": _one(w), "b1": _one(0.0)}


# ------------------------------------------------------------------------------------------------
# week 1: regularization, initialization
# ------------------------------------------------------------------------------------------------

@recipe("m", "lambd", "s1", "s2", "s3")
def l2_term(m, lambd, s1, s2, s3):
    """L2 part of the regularized cost for weights with squared norms s1, s2, s3."""
    params = {"W1": _one(math.sqrt(s1)), "W2": _one(math.sqrt(s2)), "W3": _one(math.sqrt(s3))}
    A3 = np.full((1, int(m)), 0.5)
    Y = np.tile([1.0, 0.0], int(m))[: int(m)].reshape(1, -1)
    with_l2 = regularization.compute_cost_with_regularization(A3, Y, params, lambd)
    without = regularization.compute_cost_with_regularization(A3, Y, params, 0.0)
    return float(with_l2 - without)


@recipe("m", "lambd", "s1", "s2", "s3")
def l2_term_over_m(m, lambd, s1, s2, s3):
    """Wrong: lambda / m instead of lambda / (2 m)."""
    return lambd / m * (s1 + s2 + s3)


@recipe("m", "lambd", "s1", "s2", "s3")
def l2_term_no_m(m, lambd, s1, s2, s3):
    """Wrong: forgot to divide by the number of examples."""
    return lambd / 2 * (s1 + s2 + s3)


@recipe("m", "lambd", "w")
def l2_weight_decay_factor(m, lambd, w):
    """Gradient of the L2 term for one weight: lambda / m * w."""
    h = 1e-6
    A3 = np.full((1, int(m)), 0.5)
    Y = np.zeros((1, int(m)))
    def cost(x):
        params = {"W1": _one(x), "W2": _one(0.0), "W3": _one(0.0)}
        return regularization.compute_cost_with_regularization(A3, Y, params, lambd)
    return float((cost(w + h) - cost(w - h)) / (2 * h))


@recipe("m", "lambd", "w")
def l2_grad_half(m, lambd, w):
    """Wrong: lambda / (2 m) * w (forgot the 2 from differentiating w squared)."""
    return lambd / (2 * m) * w


def _dropout_layer1(a, keep_prob):
    params = {"W1": _one(a), "b1": _one(0.0), "W2": _one(1.0), "b2": _one(0.0),
              "W3": _one(1.0), "b3": _one(0.0)}
    _, cache = regularization.forward_propagation_with_dropout(np.ones((1, 1)), params, keep_prob)
    D1, A1 = cache[1], cache[2]
    if int(D1[0, 0]) != 1:
        raise ValueError("recipe assumes the unit is kept (keep_prob above the first seeded draw)")
    return float(A1[0, 0])


@recipe("a", "keep_prob")
def dropout_kept_activation(a, keep_prob):
    """Activation a of a kept unit after inverted dropout (a / keep_prob)."""
    return _dropout_layer1(a, keep_prob)


@recipe("a", "keep_prob")
def dropout_times_keep(a, keep_prob):
    """Wrong: multiplied by keep_prob instead of dividing."""
    return a * keep_prob


@recipe("a", "keep_prob")
def dropout_unscaled(a, keep_prob):
    """Wrong: no rescaling (plain dropout)."""
    return a


def _he_scale(n_prev: int) -> float:
    n_next = 3
    W = initialization.initialize_parameters_he([int(n_prev), n_next])["W1"]
    np.random.seed(3)
    raw = np.random.randn(n_next, int(n_prev))
    return float(W[0, 0] / raw[0, 0])


@recipe("n_prev")
def he_std(n_prev):
    """Standard deviation of He-initialized weights: sqrt(2 / n_prev) (read off the reference)."""
    return _he_scale(n_prev)


@recipe("n_prev")
def he_variance(n_prev):
    """Variance of He-initialized weights: 2 / n_prev."""
    return _he_scale(n_prev) ** 2


@recipe("n_prev")
def xavier_std(n_prev):
    """Wrong for ReLU: sqrt(1 / n_prev) (Xavier)."""
    return math.sqrt(1.0 / n_prev)


@recipe("n_prev")
def he_std_as_variance(n_prev):
    """Wrong: gave the variance 2 / n_prev where the standard deviation was asked."""
    return 2.0 / n_prev


@recipe("theta", "x", "eps")
def two_sided_estimate(theta, x, eps):
    """Two-sided difference of J = theta**2 * x at theta (approximates 2 theta x, error eps**2 x)."""
    def J(th):
        return float(gradient_checking.forward_propagation(x, th * th))
    return (J(theta + eps) - J(theta - eps)) / (2 * eps)


@recipe("theta", "x", "eps")
def one_sided_estimate(theta, x, eps):
    """Wrong: one-sided difference (J(theta + eps) - J(theta)) / eps."""
    return ((theta + eps) ** 2 * x - theta ** 2 * x) / eps


# ------------------------------------------------------------------------------------------------
# week 2: optimization
# ------------------------------------------------------------------------------------------------

@recipe("beta", "x1", "x2", "x3")
def ewa_corrected_t3(beta, x1, x2, x3):
    """Bias-corrected exponentially weighted average after three values."""
    return float(optimization.exponentially_weighted_average([x1, x2, x3], beta, bias_correction=True)[-1])


@recipe("beta", "x1", "x2", "x3")
def ewa_uncorrected_t3(beta, x1, x2, x3):
    """Wrong: no bias correction."""
    return float(optimization.exponentially_weighted_average([x1, x2, x3], beta, bias_correction=False)[-1])


@recipe("beta", "x1", "x2", "x3")
def ewa_plain_mean(beta, x1, x2, x3):
    """Wrong: the plain mean of the three values."""
    return (x1 + x2 + x3) / 3


@recipe("beta", "x1")
def ewa_corrected_t1(beta, x1):
    """Bias-corrected average after the first value (equals that value)."""
    return float(optimization.exponentially_weighted_average([x1], beta, bias_correction=True)[-1])


@recipe("beta", "x1")
def ewa_uncorrected_t1(beta, x1):
    """Wrong: the uncorrected first average (1 - beta) * x1."""
    return float(optimization.exponentially_weighted_average([x1], beta, bias_correction=False)[-1])


@recipe("beta", "t")
def bias_correction_divisor(beta, t):
    """The divisor 1 - beta**t (ratio uncorrected/corrected average of a constant sequence)."""
    seq = [1.0] * int(t)
    raw = optimization.exponentially_weighted_average(seq, beta, bias_correction=False)[-1]
    fixed = optimization.exponentially_weighted_average(seq, beta, bias_correction=True)[-1]
    return float(raw / fixed)


@recipe("beta", "t")
def bias_divisor_beta_t(beta, t):
    """Wrong: beta**t instead of 1 - beta**t."""
    return beta ** t


def _grad_dict(x: float) -> dict:
    return {"dW1": _one(x), "db1": _one(0.0)}


def _scalar_step(update: Callable, w: float, g: float, states: tuple, *hyper) -> list[float]:
    """One reference optimizer step on a single weight: ``update(parameters, grads, *states, *hyper)``.

    ``states`` are the scalar optimizer states (velocity, squared average, ...) before the step; the
    result lists the returned values in order (new weight first, then each returned state).
    """
    out = update(_scalar_net(w), _grad_dict(g), *[_grad_dict(x) for x in states], *hyper)
    return [float(o["W1"][0, 0]) if "W1" in o else float(o["dW1"][0, 0]) for o in out]


def _momentum(w, g, v, beta, lr):
    return _scalar_step(optimization.update_parameters_with_momentum, w, g, (v,), beta, lr)


@recipe("w", "g", "v", "beta", "lr")
def momentum_new_w(w, g, v, beta, lr):
    """Weight after one momentum step (reference update_parameters_with_momentum)."""
    return _momentum(w, g, v, beta, lr)[0]


@recipe("w", "g", "v", "beta", "lr")
def momentum_new_v(w, g, v, beta, lr):
    """Velocity after one momentum step."""
    return _momentum(w, g, v, beta, lr)[1]


@recipe("w", "g", "v", "beta", "lr")
def momentum_plain_gd(w, g, v, beta, lr):
    """Wrong: plain gradient descent step ignoring the velocity."""
    return w - lr * g


@recipe("w", "g", "v", "beta", "lr")
def momentum_old_v(w, g, v, beta, lr):
    """Wrong: stepped with the old velocity instead of the updated one."""
    return w - lr * v


@recipe("w", "g", "v", "beta", "lr")
def momentum_v_no_damping(w, g, v, beta, lr):
    """Wrong: v = beta v + g (forgot the 1 - beta factor)."""
    return beta * v + g


def _rmsprop(w, g, s, beta2, lr):
    return _scalar_step(optimization.update_parameters_with_rmsprop, w, g, (s,), beta2, lr)


@recipe("w", "g", "s", "beta2", "lr")
def rmsprop_new_w(w, g, s, beta2, lr):
    """Weight after one RMSprop step (reference update_parameters_with_rmsprop)."""
    return _rmsprop(w, g, s, beta2, lr)[0]


@recipe("w", "g", "s", "beta2", "lr")
def rmsprop_new_s(w, g, s, beta2, lr):
    """Running mean of squared gradients after one RMSprop step."""
    return _rmsprop(w, g, s, beta2, lr)[1]


@recipe("w", "g", "s", "beta2", "lr")
def rmsprop_no_sqrt(w, g, s, beta2, lr):
    """Wrong: divided by s instead of sqrt(s)."""
    s_new = beta2 * s + (1 - beta2) * g * g
    return w - lr * g / s_new


@recipe("w", "g", "s", "beta2", "lr")
def rmsprop_s_not_squared(w, g, s, beta2, lr):
    """Wrong: averaged the gradient instead of its square."""
    return beta2 * s + (1 - beta2) * g


def _adam(w, g, v, s, t, lr, beta1, beta2):
    """(new weight, v_corrected, s_corrected) after one reference Adam step."""
    new_w, _, _, v_corr, s_corr = _scalar_step(optimization.update_parameters_with_adam, w, g, (v, s), int(t), lr,
                                               beta1, beta2)
    return new_w, v_corr, s_corr


ADAM = ("w", "g", "v", "s", "t", "lr", "beta1", "beta2")


@recipe(*ADAM)
def adam_new_w(w, g, v, s, t, lr, beta1, beta2):
    """Weight after one Adam step (reference update_parameters_with_adam)."""
    return _adam(w, g, v, s, t, lr, beta1, beta2)[0]


@recipe(*ADAM)
def adam_v_corrected(w, g, v, s, t, lr, beta1, beta2):
    """Bias-corrected first moment after one Adam step."""
    return _adam(w, g, v, s, t, lr, beta1, beta2)[1]


@recipe(*ADAM)
def adam_s_corrected(w, g, v, s, t, lr, beta1, beta2):
    """Bias-corrected second moment after one Adam step."""
    return _adam(w, g, v, s, t, lr, beta1, beta2)[2]


@recipe(*ADAM)
def adam_no_correction(w, g, v, s, t, lr, beta1, beta2):
    """Wrong: Adam step without bias correction."""
    v_new = beta1 * v + (1 - beta1) * g
    s_new = beta2 * s + (1 - beta2) * g * g
    return w - lr * v_new / (math.sqrt(s_new) + 1e-8)


@recipe(*ADAM)
def adam_v_uncorrected(w, g, v, s, t, lr, beta1, beta2):
    """Wrong: first moment without the 1 - beta1**t divisor."""
    return beta1 * v + (1 - beta1) * g


@recipe(*ADAM)
def adam_s_uncorrected(w, g, v, s, t, lr, beta1, beta2):
    """Wrong: second moment without the 1 - beta2**t divisor."""
    return beta2 * s + (1 - beta2) * g * g


@recipe(*ADAM)
def adam_plain_gd(w, g, v, s, t, lr, beta1, beta2):
    """Wrong: plain gradient step."""
    return w - lr * g


@recipe("lr0", "decay_rate", "epoch")
def lr_inverse_decay(lr0, decay_rate, epoch):
    """learning_rate0 / (1 + decay_rate * epoch) (reference update_lr)."""
    return optimization.update_lr(lr0, int(epoch), decay_rate)


@recipe("lr0", "decay_rate", "epoch")
def lr_inverse_decay_no_one(lr0, decay_rate, epoch):
    """Wrong: lr0 / (decay_rate * epoch)."""
    return lr0 / (decay_rate * epoch)


@recipe("lr0", "decay_rate", "epoch")
def lr_multiplied(lr0, decay_rate, epoch):
    """Wrong: lr0 * (1 + decay_rate * epoch)."""
    return lr0 * (1 + decay_rate * epoch)


@recipe("lr0", "decay_rate", "epoch", "interval")
def lr_scheduled_decay(lr0, decay_rate, epoch, interval):
    """learning_rate0 / (1 + decay_rate * floor(epoch / interval)) (reference schedule_lr_decay)."""
    return optimization.schedule_lr_decay(lr0, int(epoch), decay_rate, int(interval))


@recipe("lr0", "decay_rate", "epoch", "interval")
def lr_scheduled_no_floor(lr0, decay_rate, epoch, interval):
    """Wrong: forgot the floor (decays continuously)."""
    return lr0 / (1 + decay_rate * epoch / interval)


@recipe("lr0", "decay_rate", "epoch", "interval")
def lr_scheduled_ignores_interval(lr0, decay_rate, epoch, interval):
    """Wrong: decayed every epoch."""
    return lr0 / (1 + decay_rate * epoch)


@recipe("lr0", "k", "epoch")
def lr_exponential_decay(lr0, k, epoch):
    """Exponential decay lr0 * k**epoch (a constant-sequence EWA with beta = k, rescaled)."""
    # 0.95**t style schedule: no reference function, so compute it from the EWA recurrence
    # v_t = k v_{t-1} with v_0 = lr0, which is the uncorrected EWA of a zero sequence shifted by lr0.
    ones = optimization.exponentially_weighted_average([1.0] * int(epoch), k, bias_correction=False)
    return float(lr0 * (1.0 - ones[-1])) if int(epoch) > 0 else float(lr0)


@recipe("lr0", "k", "epoch")
def lr_exponential_off_by_one(lr0, k, epoch):
    """Wrong: one epoch too many (k**(epoch + 1))."""
    return lr0 * k ** (epoch + 1)


@recipe("m", "batch")
def n_minibatches(m, batch):
    """Number of mini-batches random_mini_batches makes (ceil(m / batch))."""
    X = np.zeros((1, int(m)))
    Y = np.zeros((1, int(m)))
    return len(optimization.random_mini_batches(X, Y, int(batch), seed=0))


@recipe("m", "batch")
def n_minibatches_floor(m, batch):
    """Wrong: floor(m / batch) (dropped the last, smaller batch)."""
    return m // batch


@recipe("m", "batch")
def last_minibatch_size(m, batch):
    """Number of examples in the last mini-batch random_mini_batches makes."""
    X = np.zeros((1, int(m)))
    Y = np.zeros((1, int(m)))
    return optimization.random_mini_batches(X, Y, int(batch), seed=0)[-1][0].shape[1]


@recipe("m", "batch")
def last_minibatch_full(m, batch):
    """Wrong: assumed every mini-batch is full."""
    return batch


@recipe("m", "batch", "epochs")
def updates_per_run(m, batch, epochs):
    """Parameter updates in a run: epochs * number of mini-batches."""
    return epochs * n_minibatches(m, batch)


@recipe("m", "batch", "epochs")
def updates_per_run_epochs_only(m, batch, epochs):
    """Wrong: one update per epoch (batch gradient descent)."""
    return epochs


# ------------------------------------------------------------------------------------------------
# week 3: batch norm, softmax, hyperparameter search
# ------------------------------------------------------------------------------------------------

Z4 = ("z1", "z2", "z3", "z4", "gamma", "beta")


def _bn(z1, z2, z3, z4, gamma, beta):
    Z = np.array([[z1, z2, z3, z4]], dtype=float)
    Z_tilde, cache = batchnorm.batchnorm_forward(Z, np.array([[gamma]]), np.array([[beta]]))
    return Z_tilde, cache


@recipe(*Z4)
def bn_first_output(z1, z2, z3, z4, gamma, beta):
    """Z_tilde of the first example after batch norm with gamma, beta (reference batchnorm_forward)."""
    return float(_bn(z1, z2, z3, z4, gamma, beta)[0][0, 0])


@recipe(*Z4)
def bn_first_no_scale(z1, z2, z3, z4, gamma, beta):
    """Wrong: stopped at Z_norm (forgot gamma and beta)."""
    return float(_bn(z1, z2, z3, z4, gamma, beta)[1][1][0, 0])


@recipe(*Z4)
def bn_first_sample_var(z1, z2, z3, z4, gamma, beta):
    """Wrong: used the sample variance (divide by m - 1)."""
    z = np.array([z1, z2, z3, z4], dtype=float)
    return float(gamma * (z1 - z.mean()) / math.sqrt(z.var(ddof=1) + 1e-8) + beta)


@recipe(*Z4)
def bn_batch_variance(z1, z2, z3, z4, gamma, beta):
    """The mini-batch variance (ddof = 0) batch norm uses."""
    return float(_bn(z1, z2, z3, z4, gamma, beta)[1][3][0, 0])


@recipe(*Z4)
def bn_sample_variance(z1, z2, z3, z4, gamma, beta):
    """Wrong: sample variance with m - 1."""
    return float(np.var([z1, z2, z3, z4], ddof=1))


@recipe(*Z4)
def bn_std_not_var(z1, z2, z3, z4, gamma, beta):
    """Wrong: the standard deviation instead of the variance."""
    return float(np.std([z1, z2, z3, z4]))


@recipe("z", "mu", "var", "gamma", "beta")
def bn_inference_value(z, mu, var, gamma, beta):
    """Batch norm at test time with running statistics (reference batchnorm_inference)."""
    out = batchnorm.batchnorm_inference(np.array([[z]]), np.array([[gamma]]), np.array([[beta]]),
                              np.array([[mu]]), np.array([[var]]))
    return float(out[0, 0])


@recipe("z", "mu", "var", "gamma", "beta")
def bn_inference_var_not_sqrt(z, mu, var, gamma, beta):
    """Wrong: divided by the variance instead of its square root."""
    return gamma * (z - mu) / var + beta


@recipe("z", "mu", "var", "gamma", "beta")
def bn_inference_no_affine(z, mu, var, gamma, beta):
    """Wrong: forgot gamma and beta."""
    return (z - mu) / math.sqrt(var)


@recipe("running", "mu", "momentum")
def bn_running_mean(running, mu, momentum):
    """Running mean after one batch (reference update_running_stats)."""
    rm, _ = batchnorm.update_running_stats(np.array([[running]]), np.array([[1.0]]), np.array([[mu]]),
                                 np.array([[1.0]]), momentum)
    return float(rm[0, 0])


@recipe("running", "mu", "momentum")
def bn_running_mean_swapped(running, mu, momentum):
    """Wrong: weights swapped (momentum on the new batch)."""
    return (1 - momentum) * running + momentum * mu


Z3 = ("z1", "z2", "z3")


def _softmax3(z1, z2, z3):
    return batchnorm.softmax(np.array([[z1], [z2], [z3]], dtype=float))[:, 0]


@recipe(*Z3)
def softmax_p1(z1, z2, z3):
    """Softmax probability of class 1 for scores z1, z2, z3 (reference softmax)."""
    return float(_softmax3(z1, z2, z3)[0])


@recipe(*Z3)
def softmax_linear_normalize(z1, z2, z3):
    """Wrong: z1 / (z1 + z2 + z3) without exponentials."""
    return z1 / (z1 + z2 + z3)


@recipe(*Z3)
def softmax_exp_only(z1, z2, z3):
    """Wrong: exp(z1) without normalizing."""
    return math.exp(z1)


@recipe(*Z3)
def softmax_loss_class1(z1, z2, z3):
    """Cross-entropy loss when the true class is 1 (reference softmax + softmax_cost)."""
    A = batchnorm.softmax(np.array([[z1], [z2], [z3]], dtype=float))
    Y = np.array([[1.0], [0.0], [0.0]])
    return float(batchnorm.softmax_cost(A, Y))


@recipe(*Z3)
def softmax_loss_raw_score(z1, z2, z3):
    """Wrong: -z1 (treated the raw score as a log-probability)."""
    return -z1


@recipe(*Z3)
def softmax_loss_log10(z1, z2, z3):
    """Wrong: base-10 logarithm."""
    return -math.log10(float(_softmax3(z1, z2, z3)[0]))


@recipe(*Z3)
def softmax_grad_class1(z1, z2, z3):
    """dZ for class 1 when the true class is 1 (reference softmax_backward)."""
    A = batchnorm.softmax(np.array([[z1], [z2], [z3]], dtype=float))
    Y = np.array([[1.0], [0.0], [0.0]])
    return float(batchnorm.softmax_backward(A, Y)[0, 0])


@recipe(*Z3)
def softmax_grad_sign_flipped(z1, z2, z3):
    """Wrong: Y - A instead of A - Y."""
    return -softmax_grad_class1(z1, z2, z3)


class _FixedUniform(np.random.Generator):
    """A Generator whose uniform draw is a chosen fraction of the way from low to high."""

    def __init__(self, fraction: float):
        super().__init__(np.random.PCG64(0))
        self.fraction = fraction

    def uniform(self, low, high, size=None):
        value = low + self.fraction * (high - low)
        return np.full(size, value) if size is not None else value


def _log_sample(low, high, fraction):
    return float(batchnorm.sample_log_uniform(low, high, 1, _FixedUniform(fraction))[0])


@recipe("low_exp", "high_exp", "fraction")
def log_scale_sample(low_exp, high_exp, fraction):
    """Value sample_log_uniform gives when r lies the fraction of the way from log10(low) to log10(high)."""
    return _log_sample(10.0 ** low_exp, 10.0 ** high_exp, fraction)


@recipe("low_exp", "high_exp", "fraction")
def linear_scale_sample(low_exp, high_exp, fraction):
    """Wrong: sampled on a linear scale."""
    lo, hi = 10.0 ** low_exp, 10.0 ** high_exp
    return lo + fraction * (hi - lo)


@recipe("low_exp", "high_exp", "fraction")
def log_scale_exponent_only(low_exp, high_exp, fraction):
    """Wrong: reported r (the exponent) instead of 10**r."""
    return low_exp + fraction * (high_exp - low_exp)


@recipe("low_exp", "high_exp", "split_exp")
def log_scale_share(low_exp, high_exp, split_exp):
    """Share of log-uniform samples below 10**split_exp (fraction of log10 range, via sample_log_uniform)."""
    # sample_log_uniform is 10**U(log10 low, log10 high); its CDF at x is the position of log10 x.
    lo, hi, x = 10.0 ** low_exp, 10.0 ** high_exp, 10.0 ** split_exp
    grid = (batchnorm.sample_log_uniform(lo, hi, 1, _FixedUniform(0.0))[0],
            batchnorm.sample_log_uniform(lo, hi, 1, _FixedUniform(1.0))[0])
    return float((math.log10(x) - math.log10(grid[0])) / (math.log10(grid[1]) - math.log10(grid[0])))


@recipe("low_exp", "high_exp", "split_exp")
def linear_scale_share(low_exp, high_exp, split_exp):
    """Wrong: the share a uniform (linear) sampler would give."""
    lo, hi, x = 10.0 ** low_exp, 10.0 ** high_exp, 10.0 ** split_exp
    return (x - lo) / (hi - lo)


@recipe("low_exp", "high_exp", "fraction")
def beta_from_log_sample(low_exp, high_exp, fraction):
    """beta = 1 - 10**r, sampling 1 - beta on a log scale between 10**low_exp and 10**high_exp."""
    return 1.0 - _log_sample(10.0 ** low_exp, 10.0 ** high_exp, fraction)


@recipe("low_exp", "high_exp", "fraction")
def beta_direct_log(low_exp, high_exp, fraction):
    """Wrong: forgot the 1 - (reported 1 - beta instead of beta)."""
    return _log_sample(10.0 ** low_exp, 10.0 ** high_exp, fraction)


@recipe("beta", "t", "a", "d")
def ewa_corrected_linear(beta, t, a, d):
    """Bias-corrected EWA at step t of the readings a, a + d, ..., a + (t - 1) d."""
    values = [a + d * k for k in range(int(t))]
    return float(optimization.exponentially_weighted_average(values, beta, bias_correction=True)[-1])


@recipe("beta", "t", "a", "d")
def ewa_uncorrected_linear(beta, t, a, d):
    """Wrong: the same average without bias correction."""
    values = [a + d * k for k in range(int(t))]
    return float(optimization.exponentially_weighted_average(values, beta, bias_correction=False)[-1])


@recipe("beta", "t", "a", "d")
def ewa_last_reading(beta, t, a, d):
    """Wrong: just the latest reading."""
    return a + d * (int(t) - 1)


@recipe("low", "high")
def log_scale_exponent_low(low, high):
    """Lower end of the exponent range r is drawn from (log10 of the smallest value sample_log_uniform returns)."""
    return math.log10(_log_sample(low, high, 0.0))


@recipe("low", "high")
def log_scale_exponent_natural(low, high):
    """Wrong: natural logarithm instead of base 10."""
    return math.log(low)


@recipe("low", "high")
def log_scale_exponent_is_value(low, high):
    """Wrong: the bound itself instead of its exponent."""
    return low
