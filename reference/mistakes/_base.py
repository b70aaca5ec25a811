"""The Mistake record and the helpers the per-assignment catalogues use to declare mistakes."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

#: concept ids of DESIGN.md (quizzes/concepts.yaml); a mistake's concept must be one of them
CONCEPT_IDS = frozenset({
    "train_dev_test", "bias_variance", "l2_regularization", "dropout", "data_augmentation", "early_stopping",
    "input_normalization", "vanishing_exploding_gradients", "weight_initialization", "gradient_checking",
    "mini_batch_gd", "ewa_bias_correction", "momentum", "rmsprop", "adam", "learning_rate_decay",
    "local_optima_saddle_points",
    "hyperparameter_search", "batch_normalization", "softmax_regression", "dl_frameworks",
})

#: example_inputs(seed) -> (args, kwargs) on which a mistake's output differs from the reference
ExampleInputs = Callable[[int], "tuple[tuple, dict[str, Any]]"]


@dataclass(frozen=True)
class Mistake:
    """A known, plausible wrong implementation of a graded function.

    id            "<function>.<slug>"
    assignment    assignment name (DESIGN.md)
    function      graded function name
    description   one line in a learner's words
    hint          the feedback sentence: names the mistake and its effect
    concept       concept id (CONCEPT_IDS)
    impl          same signature and return structure as the reference function
    example_inputs  None when the function's typical inputs (reference.mistakes.inputs) already expose
                  the mistake; otherwise a callable seed -> (args, kwargs) giving inputs that do (e.g.
                  scores of size 1000 for a softmax without the max shift)
    trigger       short human-readable statement of the input condition, when example_inputs is set
    """
    id: str
    assignment: str
    function: str
    description: str
    hint: str
    concept: str
    impl: Callable
    example_inputs: ExampleInputs | None = None
    trigger: str | None = None


def variant(reference: Callable, core: Callable, **knobs: Any) -> Callable:
    """A function with ``reference``'s exact signature that calls ``core(*bound_args, **knobs)``.

    Arguments are bound against the reference signature (defaults applied), so a mistaken
    implementation accepts exactly what the graded function accepts.
    """
    signature = inspect.signature(reference)

    def impl(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return core(*bound.args, **knobs)

    impl.__signature__ = signature
    impl.core, impl.knobs = core, dict(knobs)   # for tools that rebuild the variant's source
    impl.__name__ = reference.__name__
    described = ", ".join(f"{k}={getattr(v, '__name__', None) if callable(v) else repr(v)}" for k, v in knobs.items())
    impl.__qualname__ = f"{reference.__name__}[{described}]"
    impl.__doc__ = f"Known-mistake variant of {reference.__name__}: {core.__name__}({described})."
    return impl


class Catalogue:
    """Collects the mistakes of one assignment: ``cat.add(function, slug, ...)``."""

    def __init__(self, assignment: str, references: dict[str, Callable]):
        self.assignment = assignment
        self.references = references
        self.mistakes: list[Mistake] = []

    def add(self, function: str, slug: str, *, concept: str, description: str, hint: str,
            core: Callable | None = None, impl: Callable | None = None,
            example_inputs: ExampleInputs | None = None, trigger: str | None = None, **knobs: Any) -> None:
        """Register a mistake built either from ``core`` + ``knobs`` (via :func:`variant`) or a ready ``impl``."""
        if function not in self.references:
            raise KeyError(f"{self.assignment}: {function!r} is not a graded function")
        if concept not in CONCEPT_IDS:
            raise ValueError(f"{function}.{slug}: unknown concept id {concept!r}")
        if (core is None) == (impl is None):
            raise ValueError(f"{function}.{slug}: give exactly one of core or impl")
        if impl is None:
            impl = variant(self.references[function], core, **knobs)
        self.mistakes.append(Mistake(id=f"{function}.{slug}", assignment=self.assignment, function=function,
                                     description=description, hint=hint, concept=concept, impl=impl,
                                     example_inputs=example_inputs, trigger=trigger))
