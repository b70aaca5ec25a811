"""Known mistakes of the optimization assignment.

The mistaken update functions work on shallow copies of the dicts they are given (the values are
replaced, never modified in place), so running one never changes the caller's inputs.
"""
from __future__ import annotations

import numpy as np

from reference import optimization as ref
from reference.mistakes._base import Catalogue
from reference.mistakes import inputs
from reference.mistakes.inputs import Args, random_grads, random_moments, random_params


GD, MOMENTUM, RMSPROP, ADAM = "mini_batch_gd", "momentum", "rmsprop", "adam"
EWA, DECAY = "ewa_bias_correction", "learning_rate_decay"


def _num_layers(parameters):
    return len(parameters) // 2


def _gd(parameters, grads, learning_rate, *, sign=-1, last_layer=True, bias=True):
    parameters = dict(parameters)
    L = _num_layers(parameters)
    for l in range(1, L + 1 if last_layer else L):
        for p in ("W", "b") if bias else ("W",):
            parameters[p + str(l)] = parameters[p + str(l)] + sign * learning_rate * grads["d" + p + str(l)]
    return parameters


def _mini_batches(X, Y, mini_batch_size, seed, *, shuffle=True, keep_last=True, separate=False,
                  last_from_end=False):
    np.random.seed(seed)
    m = X.shape[1]
    perm_X = list(np.random.permutation(m)) if shuffle else list(range(m))
    perm_Y = list(np.random.permutation(m)) if separate else perm_X
    X, Y = X[:, perm_X], Y[:, perm_Y]
    full = m // mini_batch_size
    batches = [(X[:, k * mini_batch_size:(k + 1) * mini_batch_size], Y[:, k * mini_batch_size:(k + 1) * mini_batch_size])
               for k in range(full)]
    if keep_last and m % mini_batch_size:
        start = m - mini_batch_size if last_from_end else full * mini_batch_size
        batches.append((X[:, start:], Y[:, start:]))
    return batches


def _zeros(parameters, *, keys="grads", last_layer=True, scalar=False):
    out = {}
    L = _num_layers(parameters)
    for l in range(1, L + 1 if last_layer else L):
        for p in ("W", "b"):
            key = ("d" + p if keys == "grads" else p) + str(l)
            out[key] = 0.0 if scalar else np.zeros(parameters[p + str(l)].shape)
    return out


def _zeros_pair(parameters, **knobs):
    return _zeros(parameters, **knobs), _zeros(parameters, **knobs)


def _momentum(parameters, grads, v, beta, learning_rate, *, past=lambda beta: beta, new=lambda beta: 1 - beta,
              source="grads", step="velocity"):
    parameters, v = dict(parameters), dict(v)
    for l in range(1, _num_layers(parameters) + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            signal = grads[key] if source == "grads" else parameters[p + str(l)]
            v[key] = past(beta) * v[key] + new(beta) * signal
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * (v[key] if step == "velocity" else grads[key])
    return parameters, v


def _rmsprop(parameters, grads, s, beta2, learning_rate, epsilon, *, new=lambda b: 1 - b, power=2,
             root=True, epsilon_inside=False):
    parameters, s = dict(parameters), dict(s)
    for l in range(1, _num_layers(parameters) + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            s[key] = beta2 * s[key] + new(beta2) * grads[key] ** power
            if epsilon_inside:
                denominator = np.sqrt(s[key] + epsilon)
            else:
                denominator = (np.sqrt(s[key]) if root else s[key]) + epsilon
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * grads[key] / denominator
    return parameters, s


def _adam(parameters, grads, v, s, t, learning_rate, beta1, beta2, epsilon, *, correction="power",
          epsilon_inside=False, update_with="corrected"):
    parameters, v, s = dict(parameters), dict(v), dict(s)
    v_corrected, s_corrected = {}, {}

    def correct(beta):
        if correction == "none":
            return 1.0
        if correction == "no_power":
            return 1 - beta
        if correction == "t_from_zero":
            return 1 - beta ** (t - 1)
        return 1 - beta ** t

    for l in range(1, _num_layers(parameters) + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            v[key] = beta1 * v[key] + (1 - beta1) * grads[key]
            s[key] = beta2 * s[key] + (1 - beta2) * np.square(grads[key])
            with np.errstate(divide="ignore", invalid="ignore"):
                v_corrected[key] = v[key] / correct(beta1)
                s_corrected[key] = s[key] / correct(beta2)
            first, second = (v_corrected[key], s_corrected[key]) if update_with == "corrected" else (v[key], s[key])
            denominator = np.sqrt(second + epsilon) if epsilon_inside else np.sqrt(second) + epsilon
            with np.errstate(invalid="ignore"):
                parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * first / denominator
    return parameters, v, s, v_corrected, s_corrected


def _update_lr(learning_rate0, epoch_num, decay_rate, *, kind):
    if kind == "precedence":
        return learning_rate0 / 1 + decay_rate * epoch_num
    if kind == "exponential":
        return learning_rate0 * decay_rate ** epoch_num
    return learning_rate0 / (1 + decay_rate * (epoch_num + 1))          # off by one


def _schedule(learning_rate0, epoch_num, decay_rate, time_interval, *, kind):
    if kind == "no_floor":
        return learning_rate0 / (1 + decay_rate * epoch_num / time_interval)
    if kind == "every_epoch":
        return learning_rate0 / (1 + decay_rate * epoch_num)
    if kind == "round":
        return learning_rate0 / (1 + decay_rate * np.round(epoch_num / time_interval))
    return learning_rate0 / 1 + decay_rate * np.floor(epoch_num / time_interval)     # precedence


def _ewa(values, beta, bias_correction, *, honour_flag=True, swapped=False, t_offset=0, start="zero"):
    values = np.asarray(values, dtype=float).reshape(-1)
    out = np.zeros(values.shape[0])
    v = values[0] if start == "first" else 0.0
    for i in range(values.shape[0]):
        v = (1 - beta) * v + beta * values[i] if swapped else beta * v + (1 - beta) * values[i]
        out[i] = v
    if bias_correction and honour_flag:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = out / (1 - np.power(beta, np.arange(1, values.shape[0] + 1) - t_offset))
    return out


def _small_gradient_inputs(function):
    """Typical inputs with gradients scaled to 1e-5 (and zero second moments), so sqrt(s) is ~ epsilon."""
    def make(seed):
        args, kwargs = inputs.typical_inputs("optimization", function, seed)
        args = list(args)
        args[1] = {k: g * 1e-5 for k, g in args[1].items()}
        s_index = 2 if function == "update_parameters_with_rmsprop" else 3
        args[s_index] = {k: np.zeros_like(x) for k, x in args[s_index].items()}
        return tuple(args), kwargs
    return make


cat = Catalogue("optimization", {name: getattr(ref, name) for name in (
    "update_parameters_with_gd", "random_mini_batches", "initialize_velocity", "update_parameters_with_momentum",
    "initialize_rmsprop", "update_parameters_with_rmsprop", "initialize_adam", "update_parameters_with_adam",
    "update_lr", "schedule_lr_decay", "exponentially_weighted_average")})

f = "update_parameters_with_gd"
cat.add(f, "ascends", concept=GD, core=_gd, sign=+1,
        description="I added learning_rate * dW to W",
        hint="Gradient descent moves against the gradient: W = W - learning_rate * dW; adding it climbs "
             "the cost instead.")
cat.add(f, "skips_last_layer", concept=GD, core=_gd, last_layer=False,
        description="my loop runs over range(1, L) and skips the last layer",
        hint="Update every layer l = 1..L (range(1, L + 1)); your output layer's parameters never change.")
cat.add(f, "forgets_bias", concept=GD, core=_gd, bias=False,
        description="I only updated the weights, not the biases",
        hint="The biases are parameters too: update b with learning_rate * db as well as W.")

f = "random_mini_batches"
cat.add(f, "no_shuffle", concept=GD, core=_mini_batches, shuffle=False,
        description="I cut the mini-batches without shuffling first",
        hint="Shuffle the columns with the permutation before partitioning; otherwise every epoch sees the "
             "same batches in the same order (and any ordering in the data biases them).")
cat.add(f, "drops_last_partial", concept=GD, core=_mini_batches, keep_last=False,
        description="I only kept the full-size mini-batches",
        hint="When m is not a multiple of mini_batch_size the m % mini_batch_size left-over examples form "
             "one last, smaller batch; dropping it means those examples are never trained on.")
cat.add(f, "separate_permutations", concept=GD, core=_mini_batches, separate=True,
        description="I shuffled X and Y with two different calls to np.random.permutation",
        hint="X and Y must be shuffled with the same permutation; two permutations separate examples from "
             "their labels.")
cat.add(f, "last_batch_overlaps", concept=GD, core=_mini_batches, last_from_end=True,
        description="my last mini-batch is the final mini_batch_size columns",
        hint="The last batch should hold only the examples not used yet (from "
             "num_complete_minibatches * mini_batch_size to m); taking the final mini_batch_size columns "
             "repeats examples from the previous batch.")

for f, concept in (("initialize_velocity", MOMENTUM), ("initialize_rmsprop", RMSPROP)):
    what = "velocity" if concept == MOMENTUM else "squared-gradient average"
    cat.add(f, "parameter_keys", concept=concept, core=_zeros, keys="params",
            description="I used the keys W1, b1, ... for the dict",
            hint=f"The {what} dict is keyed like the gradients: 'dW1', 'db1', ...; the update reads "
                 f"it with those keys.")
    cat.add(f, "skips_last_layer", concept=concept, core=_zeros, last_layer=False,
            description="my loop misses the last layer",
            hint="Create an entry for every layer l = 1..L (range(1, L + 1)); the last layer is missing.")
    cat.add(f, "scalar_zeros", concept=concept, core=_zeros, scalar=True,
            description="I set every entry to the number 0 instead of an array",
            hint=f"Each entry must be an array of zeros shaped like its parameter (np.zeros(W.shape)) so "
                 f"the {what} of every weight is tracked separately.")

f = "initialize_adam"
cat.add(f, "parameter_keys", concept=ADAM, core=_zeros_pair, keys="params",
        description="I used the keys W1, b1, ... for v and s",
        hint="v and s are keyed like the gradients: 'dW1', 'db1', ...")
cat.add(f, "skips_last_layer", concept=ADAM, core=_zeros_pair, last_layer=False,
        description="my loop misses the last layer",
        hint="Create entries for every layer l = 1..L (range(1, L + 1)); the last layer is missing.")
cat.add(f, "scalar_zeros", concept=ADAM, core=_zeros_pair, scalar=True,
        description="I set every entry of v and s to the number 0",
        hint="Each entry of v and s must be an array of zeros shaped like its parameter.")

f = "update_parameters_with_momentum"
cat.add(f, "no_one_minus_beta", concept=MOMENTUM, core=_momentum, new=lambda beta: 1,
        description="I wrote v = beta * v + dW",
        hint="The new gradient is weighted by (1 - beta): v = beta * v + (1 - beta) * dW; without it the "
             "velocity grows to about 1 / (1 - beta) times the gradient and the steps are far too large.")
cat.add(f, "velocity_of_parameters", concept=MOMENTUM, core=_momentum, source="params",
        description="I averaged the parameters W into v instead of the gradients",
        hint="Momentum averages the gradients: v = beta * v + (1 - beta) * grads['dW1'], not the "
             "parameters themselves.")
cat.add(f, "steps_with_gradient", concept=MOMENTUM, core=_momentum, step="gradient",
        description="I updated v but then stepped with the raw gradient",
        hint="The parameter step uses the velocity: W = W - learning_rate * v; stepping with dW ignores "
             "the average you just computed.")
cat.add(f, "swapped_weights", concept=MOMENTUM, core=_momentum, past=lambda beta: 1 - beta, new=lambda beta: beta,
        description="I wrote v = (1 - beta) * v + beta * dW",
        hint="beta weights the past: v = beta * v + (1 - beta) * dW; swapping the weights makes v follow "
             "the newest gradient almost entirely.")

f = "update_parameters_with_rmsprop"
cat.add(f, "epsilon_inside_sqrt", concept=RMSPROP, core=_rmsprop, epsilon_inside=True,
        example_inputs=_small_gradient_inputs(f), trigger="gradients of size ~1e-5 so sqrt(s) is comparable to epsilon",
        description="I divided by np.sqrt(s + epsilon)",
        hint="epsilon goes outside the root: grad / (sqrt(s) + epsilon); inside it changes the step "
             "whenever the squared gradients are small.")
cat.add(f, "no_square", concept=RMSPROP, core=_rmsprop, power=1,
        description="I accumulated the gradients instead of their squares",
        hint="RMSprop averages the squared gradients, (1 - beta2) * dW**2; averaging dW itself can be "
             "negative, and its square root is then undefined.")
cat.add(f, "no_sqrt", concept=RMSPROP, core=_rmsprop, root=False,
        description="I divided by s + epsilon without the square root",
        hint="Divide by sqrt(s) + epsilon: s is an average of squared gradients, so its root has the "
             "gradient's scale; without the root the step size is badly scaled.")
cat.add(f, "no_one_minus_beta2", concept=RMSPROP, core=_rmsprop, new=lambda b: 1,
        description="I wrote s = beta2 * s + dW**2",
        hint="Weight the new squared gradient by (1 - beta2): s = beta2 * s + (1 - beta2) * dW**2.")

f = "update_parameters_with_adam"
cat.add(f, "no_bias_correction", concept=EWA, core=_adam, correction="none",
        description="I used v and s directly as v_corrected and s_corrected",
        hint="Divide by (1 - beta1**t) and (1 - beta2**t): v and s start at 0, so early on they "
             "underestimate the averages and the corrections undo that bias.")
cat.add(f, "epsilon_inside_sqrt", concept=ADAM, core=_adam, epsilon_inside=True,
        example_inputs=_small_gradient_inputs(f), trigger="gradients of size ~1e-5 so sqrt(s) is comparable to epsilon",
        description="I divided by np.sqrt(s_corrected + epsilon)",
        hint="epsilon goes outside the root: v_corrected / (sqrt(s_corrected) + epsilon).")
cat.add(f, "correction_without_power", concept=EWA, core=_adam, correction="no_power",
        description="my bias correction divides by 1 - beta1 instead of 1 - beta1**t",
        hint="The correction depends on the step count t: 1 - beta1**t (and 1 - beta2**t); 1 - beta is "
             "only right at t = 1.")
cat.add(f, "t_starts_at_zero", concept=EWA, core=_adam, correction="t_from_zero",
        description="I used beta**(t - 1) in the correction as if t started at 0",
        hint="t counts the steps taken including this one (1 on the first call): use 1 - beta1**t; with "
             "t - 1 the first step divides by zero.")
cat.add(f, "update_with_uncorrected", concept=ADAM, core=_adam, update_with="raw",
        description="I computed v_corrected and s_corrected but updated W with v and s",
        hint="The parameter step uses the bias-corrected estimates: "
             "W -= learning_rate * v_corrected / (sqrt(s_corrected) + epsilon).")

f = "update_lr"
cat.add(f, "precedence", concept=DECAY, core=_update_lr, kind="precedence",
        description="I wrote learning_rate0 / 1 + decay_rate * epoch_num",
        hint="Missing parentheses: the whole 1 + decay_rate * epoch_num is the denominator; as written "
             "the rate grows with the epoch instead of decaying.")
cat.add(f, "exponential", concept=DECAY, core=_update_lr, kind="exponential",
        description="I used learning_rate0 * decay_rate ** epoch_num",
        hint="This exercise asks for inverse-time decay, learning_rate0 / (1 + decay_rate * epoch_num), "
             "not exponential decay.")
cat.add(f, "epoch_off_by_one", concept=DECAY, core=_update_lr, kind="off_by_one",
        description="I used epoch_num + 1 in the formula",
        hint="Use epoch_num as given: at epoch 0 the learning rate must still be learning_rate0.")

f = "schedule_lr_decay"
cat.add(f, "no_floor", concept=DECAY, core=_schedule, kind="no_floor",
        description="I used epoch_num / time_interval without np.floor",
        hint="Round the quotient down, np.floor(epoch_num / time_interval): the rate must stay constant "
             "within each interval and drop in steps, not decay smoothly.")
cat.add(f, "every_epoch", concept=DECAY, core=_schedule, kind="every_epoch",
        description="I decayed by epoch_num and ignored time_interval",
        hint="The scheduled version decays once every time_interval epochs: use "
             "floor(epoch_num / time_interval) in place of epoch_num.")
cat.add(f, "rounds", concept=DECAY, core=_schedule, kind="round",
        description="I used np.round(epoch_num / time_interval)",
        hint="Round down with np.floor: np.round drops the rate half an interval too early.")
cat.add(f, "precedence", concept=DECAY, core=_schedule, kind="precedence",
        description="I wrote learning_rate0 / 1 + decay_rate * np.floor(...)",
        hint="Missing parentheses: learning_rate0 is divided by the whole (1 + decay_rate * floor(...)).")

f = "exponentially_weighted_average"
cat.add(f, "ignores_bias_correction", concept=EWA, core=_ewa, honour_flag=False,
        description="I never divide by 1 - beta**t",
        hint="With bias_correction=True divide each v_t by (1 - beta**t); without it the first averages "
             "are pulled toward the starting value 0.")
cat.add(f, "swapped_weights", concept=EWA, core=_ewa, swapped=True,
        description="I wrote v = (1 - beta) * v + beta * theta",
        hint="beta weights the past: v = beta * v + (1 - beta) * theta_t; swapped, the average barely "
             "smooths anything.")
cat.add(f, "t_starts_at_zero", concept=EWA, core=_ewa, t_offset=1,
        description="my bias correction uses beta**(t-1) because I count t from 0",
        hint="The first value is step t = 1, corrected by 1 - beta**1; counting from 0 divides the first "
             "average by zero.")
cat.add(f, "starts_from_first_value", concept=EWA, core=_ewa, start="first",
        description="I started v at the first value instead of 0",
        hint="v starts at 0 (v_0 = 0), which is exactly the bias that the correction 1 - beta**t removes; "
             "starting at the first value and then correcting over-corrects the early averages.")

MISTAKES = cat.mistakes


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    params = random_params(rng, [3, 4, 2, 1])
    grads = random_grads(rng, params)
    if function == "update_parameters_with_gd":
        return (params, grads, 0.1), {}
    if function == "random_mini_batches":
        X = rng.standard_normal((2, 148))
        Y = rng.integers(0, 2, size=(1, 148)).astype(float)
        return (X, Y), {"mini_batch_size": 64, "seed": int(rng.integers(0, 100))}
    if function in ("initialize_velocity", "initialize_rmsprop", "initialize_adam"):
        return (params,), {}
    if function == "update_parameters_with_momentum":
        return (params, grads, random_grads(rng, params, 0.5), 0.9, 0.1), {}
    if function == "update_parameters_with_rmsprop":
        return (params, grads, random_moments(rng, params), 0.999, 0.01), {}
    if function == "update_parameters_with_adam":
        v = random_grads(rng, params, 0.5)
        return (params, grads, v, random_moments(rng, params), 3), {}
    if function == "update_lr":
        return (0.5, int(rng.integers(1, 50)), 0.3), {}
    if function == "schedule_lr_decay":
        return (0.5, 2700, 0.3), {"time_interval": 1000}
    if function == "exponentially_weighted_average":
        return (rng.standard_normal(12) + 3.0, 0.9), {}
    raise KeyError(f"no typical inputs for ('optimization', {function!r})")
