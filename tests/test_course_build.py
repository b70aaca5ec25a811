"""The course builder: determinism, no drift from the reference, no leaks into helpers, CLI."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import h5py
import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main as cli
from autograder.course import build as B
from autograder.course.nbbuild import SKIP_TAG, solution_source, sync_solution
from course_fixtures import ASSIGNMENTS, built_course, committed_source  # noqa: F401
from reference.registry import GRADED

# every assignment whose source folder is committed must rebuild to exactly what is committed
COMMITTED = [a for a in B.ASSIGNMENTS if (committed_source(a) / f"{a}.ipynb").exists()]


def _defined(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


# ------------------------------------------------------------------ determinism and drift
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_build_is_deterministic(assignment):
    first = B.notebook_json(B.build_notebook(assignment))
    second = B.notebook_json(B.build_notebook(assignment))
    assert first == second
    assert B.helpers_source(assignment) == B.helpers_source(assignment)
    ids = [c["id"] for c in json.loads(first)["cells"]]
    assert len(ids) == len(set(ids)), "cell ids must be unique"


def test_my_assignments_are_committed():
    assert set(ASSIGNMENTS) <= set(COMMITTED)


@pytest.mark.parametrize("assignment", COMMITTED)
def test_committed_source_matches_reference(assignment):
    """`deepgrade build --check` on the repository's own course: every solution region, example region,
    the points metadata and the helper file agree with the reference (the CI check; after changing the
    reference run `deepgrade build -a <assignment>`)."""
    out = CliRunner().invoke(cli, ["build", "--course", str(B.REPO_ROOT), "--check", "-a", assignment])
    assert out.exit_code == 0, out.output
    assert f"{assignment}: " in out.output and "stale" not in out.output
    folder = committed_source(assignment)
    assert (folder / f"{assignment}.ipynb").read_text(encoding="utf-8") == \
        B.notebook_json(B.build_notebook(assignment)), "a build of the committed notebook changes nothing"
    graded = set(GRADED[assignment])
    for fname, module in B.COPIED_MODULES.items():      # build products (gitignored), current when present
        if (folder / fname).exists():
            assert (folder / fname).read_text(encoding="utf-8") == B.copied_module_source(module, graded), \
                f"source/{assignment}/{fname} is stale"


@pytest.mark.parametrize("assignment", COMMITTED)
def test_solution_cells_are_the_reference_functions(assignment):
    nb = B.read_notebook(committed_source(assignment) / f"{assignment}.ipynb")
    cells = {_nbgrader_meta(c).get("grade_id"): c for c in nb.cells}
    for fname, func in B.solution_functions(assignment).items():
        src = cells[f"ex_{fname}"]["source"]
        assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src
        assert src == solution_source(func, fname)


# ------------------------------------------------------------------ the notebook is the instructor's
def _one_assignment_course(tmp_path, assignment="gradient_checking"):
    course = tmp_path / "course"
    B.build_course(course, [assignment], data=False)
    return course, course / "source" / assignment / f"{assignment}.ipynb"


def _cell(nb, grade_id):
    return next(c for c in nb.cells if _nbgrader_meta(c).get("grade_id") == grade_id)


def _replace_in_cell(path, grade_id, old, new):
    """Edit one cell of the notebook at ``path`` as an instructor would (and save it)."""
    nb = nbformat.read(path, as_version=4)
    cell = _cell(nb, grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, str(path))


def test_instructor_edits_survive_build(tmp_path):
    """Prose, a visible test, points: edited in the source notebook (as Jupyter would save it), kept by
    `deepgrade build` byte for byte; only a solution region that left the reference is put back."""
    course, path = _one_assignment_course(tmp_path)
    nb = nbformat.read(path, as_version=4)
    md = next(c for c in nb.cells if c.cell_type == "markdown")
    md.source += "\n\n*Edited by the instructor: read section 2 first.*"
    test = _cell(nb, "test_gradient_check")
    test.source += "\nassert difference < 1e-6, 'an extra visible check'"
    test.metadata["nbgrader"]["points"] = 7
    sol = _cell(nb, "ex_gradient_check")
    sol.source = sol.source.replace("### BEGIN SOLUTION\n", "### BEGIN SOLUTION\n    pass  # stale\n")
    nbformat.write(nb, str(path))
    edited = path.read_text(encoding="utf-8")

    out = CliRunner().invoke(cli, ["build", "--course", str(course), "-a", "gradient_checking"])
    assert out.exit_code == 0, out.output
    assert "gradient_checking.ipynb: solution of gradient_check" in out.output
    assert "21 points" in out.output            # the edited points count
    after = nbformat.read(path, as_version=4)
    assert after.cells[[c.get("id") for c in after.cells].index(md.id)].source == md.source
    assert _cell(after, "test_gradient_check").source == test.source
    assert _cell(after, "test_gradient_check").metadata["nbgrader"]["points"] == 7
    assert after.metadata["deepgrade"]["points"]["gradient_check"] == 7
    assert "# stale" not in _cell(after, "ex_gradient_check").source
    from reference.gradient_checking import gradient_check
    assert _cell(after, "ex_gradient_check").source == solution_source(gradient_check)
    # every other cell is unchanged, and a second build touches nothing
    before_cells = {c.id: c for c in nbformat.reads(edited, as_version=4).cells}
    changed = [c.id for c in after.cells if c != before_cells[c.id]]
    assert changed == [sol.id]
    text = path.read_text(encoding="utf-8")
    again = CliRunner().invoke(cli, ["build", "--course", str(course), "-a", "gradient_checking"])
    assert "nothing changed" in again.output and path.read_text(encoding="utf-8") == text


def test_check_reports_stale_regions_and_helpers_and_writes_nothing(tmp_path):
    course, path = _one_assignment_course(tmp_path)
    _replace_in_cell(path, "ex_forward_propagation", "    ### END SOLUTION", "    J = 0\n    ### END SOLUTION")
    utils = path.parent / "gradient_checking_utils.py"
    utils.write_text(utils.read_text() + "\nx = 1\n")
    stale_nb, stale_utils = path.read_bytes(), utils.read_bytes()
    out = CliRunner().invoke(cli, ["build", "--course", str(course), "--check", "-a", "gradient_checking"])
    assert out.exit_code != 0
    assert "stale: gradient_checking.ipynb, gradient_checking_utils.py" in out.output
    assert "solution of forward_propagation" in out.output and "not up to date" in out.output
    assert path.read_bytes() == stale_nb and utils.read_bytes() == stale_utils
    assert CliRunner().invoke(cli, ["build", "--course", str(course), "-a", "gradient_checking"]).exit_code == 0
    assert CliRunner().invoke(cli, ["build", "--course", str(course), "--check", "-a", "gradient_checking"]).exit_code == 0


def test_pinned_function_set_is_applied_once(tmp_path):
    """A config pinning fewer graded functions edits the course's own notebook once; rebuilding adds no
    second "optional" note and changes nothing."""
    course = tmp_path / "course"
    B.ensure_config(course)
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write('\nc.DeepgradeGrade.function_sets = {"gradient_checking": ["forward_propagation", "gradient_check"]}\n')
    first = B.build_course(course, ["gradient_checking"], data=False)[0]
    assert first.points == {"forward_propagation": 2, "gradient_check": 6}
    assert any("only forward_propagation, gradient_check graded" in c for c in first.changes)
    again = B.build_course(course, ["gradient_checking"], data=False)[0]
    assert again.changes == [] and again.points == first.points
    nb = nbformat.read(first.notebook, as_version=4)
    assert [c.id for c in nb.cells].count("optional-gradient_check_n") == 1


def test_changed_signature_is_left_to_the_instructor(tmp_path):
    course, path = _one_assignment_course(tmp_path)
    _replace_in_cell(path, "ex_forward_propagation", "def forward_propagation(x, theta)",
                     "def forward_propagation(x, theta, k)")
    with pytest.raises(B.BuildError, match="change the def line in the notebook"):
        B.build_course(course, ["gradient_checking"], data=False)


# ------------------------------------------------------------------ notebook structure
@pytest.mark.parametrize("assignment", COMMITTED)
def test_notebook_structure(assignment):
    nb = nbformat.read(committed_source(assignment) / f"{assignment}.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.startswith(f"import numpy as np\nfrom {assignment}_utils import *")
    graded = list(GRADED[assignment])
    exercises = [_nbgrader_meta(c)["grade_id"][3:] for c in nb.cells if _nbgrader_meta(c).get("solution")]
    assert exercises == graded, "one exercise per graded function, in the registry's order"
    points = {}
    for i, cell in enumerate(nb.cells):
        meta = _nbgrader_meta(cell)
        if meta.get("solution"):
            assert meta == {"solution": True, "grade": False, "locked": False,
                            "grade_id": meta["grade_id"], "schema_version": 3}
            test = nb.cells[i + 1]
            tmeta = _nbgrader_meta(test)
            assert tmeta["grade"] and tmeta["locked"] and not tmeta["solution"]
            assert tmeta["grade_id"] == "test_" + meta["grade_id"][3:]
            assert tmeta["points"] > 0
            points[meta["grade_id"][3:]] = tmeta["points"]
    total = sum(points.values())
    assert total in (20, 50, 100), f"points add up to a round total, got {total}"
    assert nb.metadata["deepgrade"] == {"assignment": assignment, "points": points}


@pytest.mark.parametrize("assignment", COMMITTED)
def test_skip_cells_never_define_graded_functions(assignment):
    nb = nbformat.read(committed_source(assignment) / f"{assignment}.ipynb", as_version=4)
    skipped = [c for c in nb.cells if SKIP_TAG in c.metadata.get("tags", [])]
    assert skipped, "the experiments are tagged deepgrade-skip"
    for cell in skipped:
        assert not _nbgrader_meta(cell), "a graded or solution cell can't be skipped"
        assert not (_defined(cell.source) & set(GRADED[assignment])), cell.source[:80]


@pytest.mark.parametrize("assignment", COMMITTED)
def test_helpers_hold_no_graded_function(assignment):
    folder = committed_source(assignment)
    graded = set(GRADED[assignment])
    for path in [folder / f"{assignment}_utils.py", *(folder / f for f in B.COPIED_MODULES)]:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(B.GENERATED_HEADER)
        assert not (_defined(text) & graded), f"{path.name} defines a graded function"


def test_helpers_include_what_given_cells_call():
    names = dict(B.helper_functions("initialization"))
    # registry helpers, plus the training loop the given `model` cell calls
    assert {"relu", "sigmoid", "forward_propagation", "backward_propagation", "compute_cost",
            "train_three_layer_net", "update_parameters", "predict_dec"} <= set(names)
    reg = dict(B.helper_functions("regularization"))
    assert reg["initialize_parameters"].__name__ == "initialize_parameters_xavier"
    src = B.helpers_source("regularization")
    assert "\ndef initialize_parameters(layer_dims):" in src
    gc = dict(B.helper_functions("gradient_checking"))
    assert "forward_propagation" not in gc and "backward_propagation_n" in gc


# ------------------------------------------------------------------ guards
def _committed(assignment):
    return B.read_notebook(committed_source(assignment) / f"{assignment}.ipynb")


def test_unknown_assignment_is_refused():
    with pytest.raises(B.BuildError, match="unknown assignment"):
        B.build_notebook("nope")


def test_helper_leaking_a_graded_function_is_refused(monkeypatch):
    real = B.declaration("initialization")
    leaky = dataclasses.replace(real, helpers={"relu": "reference.nets:relu",
                                               "start": "reference.initialization:initialize_parameters_he"})
    monkeypatch.setattr(B, "declaration", lambda a, course=None: leaky if a == "initialization" else real)
    with pytest.raises(B.BuildError, match="give away graded"):
        B.helpers_source("initialization")


def test_skip_tag_on_a_graded_definition_is_refused():
    nb = _committed("initialization")
    nb.cells.append(nbformat.v4.new_code_cell("def initialize_parameters_he(layers_dims):\n    return {}",
                                              metadata={"tags": [SKIP_TAG]}))
    with pytest.raises(B.BuildError, match="tagged deepgrade-skip"):
        B.build_notebook("initialization", nb)


def test_missing_exercise_is_refused():
    nb = _committed("initialization")
    nb.cells = [c for c in nb.cells if _nbgrader_meta(c).get("grade_id") != "ex_initialize_parameters_random"]
    with pytest.raises(B.BuildError, match="without an exercise: initialize_parameters_random"):
        B.build_notebook("initialization", nb)


def test_exercise_without_solution_markers_is_refused():
    nb = _committed("initialization")
    sol = _cell(nb, "ex_initialize_parameters_zeros")
    sol.source = sol.source.replace("    ### BEGIN SOLUTION\n", "")
    with pytest.raises(B.BuildError, match="BEGIN SOLUTION"):
        B.build_notebook("initialization", nb)


# ------------------------------------------------------------------ building a course folder
def test_built_course_layout(built_course):
    root = built_course.root
    assert (root / "nbgrader_config.py").read_text() == (B.REPO_ROOT / "nbgrader_config.py").read_text()
    for a in ASSIGNMENTS:
        folder = root / "source" / a
        assert (folder / f"{a}.ipynb").read_text() == (committed_source(a) / f"{a}.ipynb").read_text()
        for name in (f"{a}_utils.py", "dg_datasets.py", "dg_plotting.py"):
            assert (folder / name).exists()
    for a in ("initialization", "regularization"):
        with h5py.File(root / "source" / a / f"{a}_data.h5", "r") as f:
            assert f.attrs["assignment"] == a
            assert f["train_X"].shape[0] == 2 and f["train_Y"].shape[0] == 1
    assert not (root / "source" / "gradient_checking" / "gradient_checking_data.h5").exists()


def test_rebuild_changes_nothing(built_course):
    reports = B.build_course(built_course.root, ["initialization"])
    assert reports[0].written == []
    assert {p.name for p in reports[0].unchanged} >= {"initialization.ipynb", "initialization_data.h5"}


def test_cli_build_fresh_dir_and_release_force_semantics(tmp_path):
    runner = CliRunner()
    course = tmp_path / "demo"
    out = runner.invoke(cli, ["build", "--course", str(course), "-a", "gradient_checking"])
    assert out.exit_code == 0, out.output
    assert "gradient_checking: 4 graded functions, 20 points" in out.output
    assert (course / "nbgrader_config.py").exists()
    assert (course / "source/gradient_checking/gradient_checking.ipynb").exists()
    again = runner.invoke(cli, ["build", "--course", str(course), "-a", "gradient_checking"])
    assert "nothing changed" in again.output

    rel = runner.invoke(cli, ["release", "--course", str(course)])
    assert rel.exit_code == 0, rel.output
    assert "gradient_checking: released 4 files" in rel.output and "(4 exercises, 20 points)" in rel.output
    released = course / "release/gradient_checking/gradient_checking.ipynb"
    released.write_text("stale")
    skip = runner.invoke(cli, ["release", "--course", str(course), "gradient_checking"])
    assert "skipped" in skip.output and released.read_text() == "stale"
    force = runner.invoke(cli, ["release", "--course", str(course), "--force", "gradient_checking"])
    assert force.exit_code == 0, force.output
    assert "released" in force.output and released.read_text() != "stale"


def test_cli_errors_are_clean(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(cli, ["build", "--course", str(tmp_path), "-a", "nope"])
    assert bad.exit_code != 0 and "unknown assignment 'nope'" in bad.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nbgrader_config.py").write_text("c = get_config()\n")
    nothing = runner.invoke(cli, ["release", "--course", str(empty)])
    assert nothing.exit_code != 0 and "run `deepgrade build` first" in nothing.output


def _tf_style_solution(z):
    """A solution that lives outside reference/ (like reference/tf_solutions.py)."""
    # the comment above the first statement belongs to the solution
    result = z * 2
    return result


def test_solution_from_another_module_with_a_new_name():
    src = solution_source(_tf_style_solution, "sigmoid")
    assert src.startswith("def sigmoid(z):\n")
    assert "### BEGIN SOLUTION\n    # the comment above" in src
    assert src.rstrip().endswith("### END SOLUTION")
    stale = src.replace("result = z * 2", "result = z")
    assert sync_solution(stale, _tf_style_solution, "sigmoid") == src
    ns: dict = {}
    exec(src + "\nassert sigmoid(1) == 2", ns)           # the region is the working solution


def test_declared_points_are_the_committed_notebooks():
    """The notebook is the truth for points; the declaration's [graded] states the committed notebook's."""
    for a in B.available_assignments():
        assert {f: float(p) for f, p in B.notebook_points(_committed(a)).items()} == B.declaration(a).graded, a
