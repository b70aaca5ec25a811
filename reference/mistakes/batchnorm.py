"""Known mistakes of the batch norm / softmax / hyperparameter-search assignment."""
from __future__ import annotations

import numpy as np

from reference import batchnorm as ref
from reference.mistakes._base import Catalogue
from reference.mistakes import inputs
from reference.mistakes.inputs import Args, random_one_hot


BN, SOFTMAX, SEARCH = "batch_normalization", "softmax_regression", "hyperparameter_search"


def _bn_forward(Z, gamma, beta, epsilon, *, ddof=0, axis=1, epsilon_outside=False, divide_by="std", affine=True):
    mu = np.mean(Z, axis=axis, keepdims=True)
    var = np.var(Z, axis=axis, keepdims=True, ddof=ddof)
    if divide_by == "variance":
        scale = var + epsilon
    elif epsilon_outside:
        scale = np.sqrt(var) + epsilon
    else:
        scale = np.sqrt(var + epsilon)
    Z_norm = (Z - mu) / scale
    Z_tilde = gamma * Z_norm + beta if affine else Z_norm
    return Z_tilde, (Z, Z_norm, mu, var, gamma, beta, epsilon)


def _bn_backward(dZ_tilde, cache, *, through_stats="both", dgamma_from="Z_norm", use_gamma=True, reduce=np.sum):
    (Z, Z_norm, mu, var, gamma, beta, epsilon) = cache
    m = Z.shape[1]
    dbeta = reduce(dZ_tilde, axis=1, keepdims=True)
    dgamma = reduce(dZ_tilde * (Z_norm if dgamma_from == "Z_norm" else Z), axis=1, keepdims=True)
    dZ_norm = dZ_tilde * gamma if use_gamma else dZ_tilde
    sigma = np.sqrt(var + epsilon)
    if through_stats == "none":
        dZ = dZ_norm / sigma
    elif through_stats == "mean_only":
        dZ = (m * dZ_norm - np.sum(dZ_norm, axis=1, keepdims=True)) / (m * sigma)
    else:
        dZ = (m * dZ_norm - np.sum(dZ_norm, axis=1, keepdims=True)
              - Z_norm * np.sum(dZ_norm * Z_norm, axis=1, keepdims=True)) / (m * sigma)
    return dZ, dgamma, dbeta


def _running(running_mean, running_var, mu, var, momentum, *, kind):
    if kind == "swapped":
        return momentum * mu + (1 - momentum) * running_mean, momentum * var + (1 - momentum) * running_var
    if kind == "no_one_minus":
        return momentum * running_mean + mu, momentum * running_var + var
    return mu, var                                                        # replaces with the batch


def _inference(Z, gamma, beta, running_mean, running_var, epsilon, *, stats="running", epsilon_outside=False,
               divide_by="std", affine=True):
    if stats == "batch":
        mean, var = np.mean(Z, axis=1, keepdims=True), np.var(Z, axis=1, keepdims=True)
    else:
        mean, var = running_mean, running_var
    if divide_by == "variance":
        scale = var + epsilon
    elif epsilon_outside:
        scale = np.sqrt(var) + epsilon
    else:
        scale = np.sqrt(var + epsilon)
    Z_norm = (Z - mean) / scale
    return gamma * Z_norm + beta if affine else Z_norm


def _softmax(Z, *, shift="column_max", axis=0, kind="softmax"):
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if shift == "column_max":
        Z = Z - np.max(Z, axis=axis, keepdims=True)
    elif shift == "row_max":
        Z = Z - np.max(Z, axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        exps = np.exp(Z)
        return exps / np.sum(exps, axis=axis, keepdims=True)


def _softmax_cost(A, Y, *, kind):
    m = Y.shape[1]
    log_A = np.log(np.where(Y > 0, A, 1.0))
    if kind == "sum":
        return -np.sum(Y * log_A)
    if kind == "mean_all":
        return -np.mean(Y * log_A)
    if kind == "sign":
        return np.sum(Y * log_A) / m
    return -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m       # binary cross-entropy


def _softmax_backward(A, Y, *, kind):
    if kind == "divide_by_m":
        return (A - Y) / Y.shape[1]
    if kind == "sign":
        return Y - A
    return (A - Y) * A * (1 - A)                                          # diagonal Jacobian only


def _sample(low, high, size, rng, *, kind):
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    if kind == "linear":
        return rng.uniform(low, high, size)
    if kind == "bounds_as_exponents":
        return np.power(10.0, rng.uniform(low, high, size))
    if kind == "natural_exp":
        return np.exp(rng.uniform(np.log10(low), np.log10(high), size))
    return np.power(10.0, rng.integers(int(np.log10(low)), int(np.log10(high)), size))   # integer exponents


def _near_constant_unit(function):
    """Typical inputs where one unit (row) barely varies, so sqrt(var) is comparable to epsilon."""
    def make(seed):
        args, kwargs = inputs.typical_inputs("batchnorm", function, seed)
        args = list(args)
        if function == "batchnorm_forward":
            args[0] = args[0].copy()
            args[0][0] = 3.0 + 1e-5 * np.arange(args[0].shape[1])
        else:                                                             # batchnorm_inference: tiny running var
            args[4] = args[4].copy()
            args[4][0] = 1e-12
        return tuple(args), kwargs
    return make


def _large_scores(seed):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((4, 6)) * 3
    Z[:, 0] = [1000.0, 998.0, -1000.0, 0.0]
    return (Z,), {}


cat = Catalogue("batchnorm", {name: getattr(ref, name) for name in (
    "batchnorm_forward", "batchnorm_backward", "update_running_stats", "batchnorm_inference", "softmax",
    "softmax_cost", "softmax_backward", "sample_log_uniform")})

f = "batchnorm_forward"
cat.add(f, "ddof_1", concept=BN, core=_bn_forward, ddof=1,
        description="I computed the variance with ddof=1",
        hint="Batch norm uses the batch's own variance, dividing by m (np.var's default ddof=0); the "
             "sample variance with m - 1 makes your normalized values slightly too small.")
cat.add(f, "epsilon_outside_root", concept=BN, core=_bn_forward, epsilon_outside=True,
        example_inputs=_near_constant_unit(f), trigger="a unit whose values barely vary (variance ~ 1e-10)",
        description="I divided by np.sqrt(var) + epsilon",
        hint="epsilon belongs inside the root, sqrt(var + epsilon): for a unit that hardly varies your "
             "version divides by almost 0 and blows its values up.")
cat.add(f, "normalizes_over_units", concept=BN, core=_bn_forward, axis=0,
        description="I took the mean and variance over axis 0",
        hint="Examples are columns, so each unit's statistics are taken across the batch with axis=1 "
             "(keepdims=True); axis=0 mixes different units of one example.")
cat.add(f, "divides_by_variance", concept=BN, core=_bn_forward, divide_by="variance",
        description="I divided by var + epsilon instead of its square root",
        hint="Normalize by the standard deviation, sqrt(var + epsilon), so Z_norm has unit variance; "
             "dividing by the variance does not.")
cat.add(f, "forgets_scale_shift", concept=BN, core=_bn_forward, affine=False,
        description="I returned Z_norm without applying gamma and beta",
        hint="After normalizing, scale and shift: Z_tilde = gamma * Z_norm + beta; these learnable "
             "parameters let the layer choose its own mean and spread.")

f = "batchnorm_backward"
cat.add(f, "treats_stats_as_constants", concept=BN, core=_bn_backward, through_stats="none",
        description="I used dZ = gamma * dZ_tilde / sqrt(var + epsilon)",
        hint="mu and var depend on every example of the batch, so dZ has two more terms: subtract the "
             "batch mean of dZ_norm and Z_norm times the mean of dZ_norm * Z_norm.")
cat.add(f, "drops_variance_path", concept=BN, core=_bn_backward, through_stats="mean_only",
        description="I handled the gradient through the mean but not through the variance",
        hint="The variance also depends on every example: include the - Z_norm * sum(dZ_norm * Z_norm) "
             "term in dZ.")
cat.add(f, "dgamma_uses_raw_z", concept=BN, core=_bn_backward, dgamma_from="Z",
        description="I computed dgamma as sum(dZ_tilde * Z)",
        hint="gamma multiplies Z_norm, so dgamma = sum over examples of dZ_tilde * Z_norm (not the raw Z).")
cat.add(f, "forgets_gamma", concept=BN, core=_bn_backward, use_gamma=False,
        description="I backpropagated dZ_tilde into Z_norm without multiplying by gamma",
        hint="Z_tilde = gamma * Z_norm + beta, so dZ_norm = gamma * dZ_tilde before going through the "
             "normalization.")
cat.add(f, "averages_parameter_grads", concept=BN, core=_bn_backward, reduce=np.mean,
        description="I averaged dgamma and dbeta over the examples",
        hint="dgamma and dbeta are sums over the examples (the 1/m is already inside dZ_tilde); taking the "
             "mean divides them by m again.")

f = "update_running_stats"
cat.add(f, "swapped_weights", concept=BN, core=_running, kind="swapped",
        description="I wrote momentum * mu + (1 - momentum) * running_mean",
        hint="momentum weights the past: running = momentum * running + (1 - momentum) * batch value.")
cat.add(f, "missing_one_minus", concept=BN, core=_running, kind="no_one_minus",
        description="I wrote running_mean = momentum * running_mean + mu",
        hint="Weight the new batch statistic by (1 - momentum); without it the running values grow "
             "without bound instead of averaging.")
cat.add(f, "replaces_with_batch", concept=BN, core=_running, kind="replace",
        description="I just stored the latest batch mean and variance",
        hint="Keep an exponentially weighted average over batches; the last batch alone is a noisy "
             "estimate of the statistics used at test time.")

f = "batchnorm_inference"
cat.add(f, "uses_batch_statistics", concept=BN, core=_inference, stats="batch",
        description="at test time I normalized with the test batch's own mean and variance",
        hint="At inference use the running mean and variance from training; a test batch (possibly one "
             "example) has unreliable statistics and makes predictions depend on the batch.")
cat.add(f, "epsilon_outside_root", concept=BN, core=_inference, epsilon_outside=True,
        example_inputs=_near_constant_unit(f), trigger="a unit with a tiny running variance (1e-12)",
        description="I divided by np.sqrt(running_var) + epsilon",
        hint="epsilon goes inside the root, sqrt(running_var + epsilon), as in training.")
cat.add(f, "divides_by_variance", concept=BN, core=_inference, divide_by="variance",
        description="I divided by running_var + epsilon without the square root",
        hint="Normalize by the standard deviation, sqrt(running_var + epsilon).")
cat.add(f, "forgets_scale_shift", concept=BN, core=_inference, affine=False,
        description="I returned the normalized values without gamma and beta",
        hint="Apply the learned scale and shift at test time too: gamma * Z_norm + beta.")

f = "softmax"
cat.add(f, "no_max_shift", concept=SOFTMAX, core=_softmax, shift="none",
        example_inputs=_large_scores, trigger="scores of size 1000 (exp overflows)",
        description="I exponentiated Z directly without subtracting the maximum",
        hint="Subtract each column's maximum before np.exp: the result is mathematically the same, but "
             "without it exp(1000) overflows to inf and the probabilities become nan.")
cat.add(f, "normalizes_over_rows", concept=SOFTMAX, core=_softmax, axis=1,
        description="I summed over axis 1",
        hint="Each column is one example, so normalize over the classes with axis=0; your rows sum to 1 "
             "instead of your columns.")
cat.add(f, "shift_by_row_max", concept=SOFTMAX, core=_softmax, shift="row_max",
        description="I subtracted the maximum over axis 1 before exponentiating",
        hint="The shift must be one constant per example (column max, axis=0); subtracting a different "
             "value from each class changes the probabilities.")
cat.add(f, "elementwise_sigmoid", concept=SOFTMAX, core=_softmax, kind="sigmoid",
        description="I applied a sigmoid to every score",
        hint="Softmax couples the classes: exp of each score divided by the column's sum of exps; "
             "independent sigmoids do not give columns that sum to 1.")

f = "softmax_cost"
cat.add(f, "not_averaged", concept=SOFTMAX, core=_softmax_cost, kind="sum",
        description="I returned the sum of the losses over the examples",
        hint="The cost is the mean over the m examples: divide the summed loss by m.")
cat.add(f, "averages_over_all_entries", concept=SOFTMAX, core=_softmax_cost, kind="mean_all",
        description="I used np.mean over the whole matrix of Y * log(A)",
        hint="Sum over the classes, then average over the examples: np.mean over all C * m entries "
             "divides by C too many.")
cat.add(f, "wrong_sign", concept=SOFTMAX, core=_softmax_cost, kind="sign",
        description="I forgot the minus sign",
        hint="log A is negative, so the cross-entropy is -sum(Y * log A) / m; without the minus your cost "
             "is negative and gradient descent would maximize it.")
cat.add(f, "binary_formula", concept=SOFTMAX, core=_softmax_cost, kind="binary",
        description="I used the binary cross-entropy Y log A + (1 - Y) log(1 - A)",
        hint="With softmax the loss is -sum over classes of Y * log A only; the (1 - Y) log(1 - A) term "
             "belongs to a sigmoid output.")

f = "softmax_backward"
cat.add(f, "divides_by_m", concept=SOFTMAX, core=_softmax_backward, kind="divide_by_m",
        description="I returned (A - Y) / m",
        hint="In this assignment softmax_backward returns dZ = A - Y; the 1/m is applied where the "
             "gradients of W and b are averaged.")
cat.add(f, "wrong_sign", concept=SOFTMAX, core=_softmax_backward, kind="sign",
        description="I returned Y - A",
        hint="dZ = A - Y (prediction minus label); the opposite sign would make gradient descent climb "
             "the cost.")
cat.add(f, "diagonal_jacobian", concept=SOFTMAX, core=_softmax_backward, kind="diagonal",
        description="I multiplied A - Y by A * (1 - A)",
        hint="For softmax with cross-entropy the chain rule collapses to dZ = A - Y; the extra A * (1 - A) "
             "factor treats each output as an independent sigmoid.")

f = "sample_log_uniform"
cat.add(f, "linear_scale", concept=SEARCH, core=_sample, kind="linear",
        description="I sampled uniformly between low and high",
        hint="Sample the exponent uniformly: r ~ U(log10 low, log10 high), value 10**r; uniform on the "
             "linear scale puts about 90% of the samples in the top decade.")
cat.add(f, "bounds_as_exponents", concept=SEARCH, core=_sample, kind="bounds_as_exponents",
        description="I drew r between low and high and returned 10**r",
        hint="low and high are values, not exponents: draw r between np.log10(low) and np.log10(high).")
cat.add(f, "natural_exp", concept=SEARCH, core=_sample, kind="natural_exp",
        description="I drew r in base-10 exponents but returned np.exp(r)",
        hint="Use the same base both ways: r from np.log10 bounds must be turned back with 10**r.")
cat.add(f, "integer_exponents", concept=SEARCH, core=_sample, kind="integer",
        description="I drew integer exponents with rng.integers",
        hint="The exponent must be a real number drawn uniformly; integer exponents only ever give "
             "powers of ten.")

MISTAKES = cat.mistakes


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    Z = rng.standard_normal((4, 6)) * 2 + 1
    gamma = rng.uniform(0.5, 2.0, (4, 1))
    beta = rng.standard_normal((4, 1))
    if function == "batchnorm_forward":
        return (Z, gamma, beta), {}
    if function == "batchnorm_backward":
        _, cache = ref.batchnorm_forward(Z, gamma, beta)
        return (rng.standard_normal(Z.shape), cache), {}
    if function == "update_running_stats":
        return (rng.standard_normal((4, 1)), rng.uniform(0.5, 2, (4, 1)), rng.standard_normal((4, 1)),
                rng.uniform(0.5, 2, (4, 1))), {}
    if function == "batchnorm_inference":
        return (Z, gamma, beta, rng.standard_normal((4, 1)), rng.uniform(0.5, 2, (4, 1))), {}
    if function == "softmax":
        return (rng.standard_normal((4, 6)) * 3,), {}
    if function in ("softmax_cost", "softmax_backward"):
        return (ref.softmax(rng.standard_normal((4, 6)) * 2), random_one_hot(rng, 4, 6)), {}
    if function == "sample_log_uniform":
        return (1e-4, 1.0, 20, int(rng.integers(0, 1000))), {}
    raise KeyError(f"no typical inputs for ('batchnorm', {function!r})")
