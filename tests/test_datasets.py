"""reference/datasets.py: determinism, documented layout, validating loaders, and the lessons the sets
must be able to teach (the positions set makes a plain net overfit; spirals need a non-linear model)."""
from __future__ import annotations

import ast
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from reference import datasets
from reference.datasets import DATASETS, DatasetError

# documented layout (DESIGN.md, "Datasets"): name -> {key: (shape, dtype)}
XY = {"train_X": "float64", "train_Y": "int64", "test_X": "float64", "test_Y": "int64"}
EXPECTED = {
    "circles": {"train_X": (2, 300), "train_Y": (1, 300), "test_X": (2, 100), "test_Y": (1, 100)},
    "positions": {"train_X": (2, 200), "train_Y": (1, 200), "test_X": (2, 200), "test_Y": (1, 200)},
    "moons": {"train_X": (2, 300), "train_Y": (1, 300), "test_X": (2, 100), "test_Y": (1, 100)},
    "spirals": {"train_X": (2, 300), "train_Y": (1, 300), "test_X": (2, 150), "test_Y": (1, 150),
                "list_classes": (3,)},
    "digits": {"train_set_x": (1438, 8, 8), "train_set_y": (1438,), "test_set_x": (359, 8, 8),
               "test_set_y": (359,), "list_classes": (10,)},
}
DTYPES = {**XY, "list_classes": "int64", "train_set_x": "uint8", "test_set_x": "uint8",
          "train_set_y": "int64", "test_set_y": "int64"}
ASSIGNMENT = {"circles": "initialization", "positions": "regularization", "moons": "optimization",
              "spirals": "batchnorm", "digits": "tensorflow"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return datasets.build_all(tmp_path_factory.mktemp("source"))


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {key: f[key][()] for key in f}


def test_registry_and_file_names(built):
    assert {name: spec.assignment for name, spec in DATASETS.items()} == ASSIGNMENT
    root = next(iter(built.values())).parents[1]
    for name, path in built.items():
        assert path == root / ASSIGNMENT[name] / f"{ASSIGNMENT[name]}_data.h5"
    assert datasets.spec_for_assignment("gradient_checking") is None
    assert datasets.spec_for_assignment("batchnorm").name == "spirals"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_layout_attributes_and_loader_match_documentation(built, name):
    with h5py.File(built[name], "r") as f:
        assert list(f.keys()) == list(EXPECTED[name])
        assert f.attrs["dataset"] == name
        assert f.attrs["assignment"] == ASSIGNMENT[name]
        assert f.attrs["seed"] == datasets.DEFAULT_SEED
        assert f.attrs["builder_version"] == datasets.BUILDER_VERSION
    loaded = getattr(datasets, f"load_{name}")(built[name])
    assert [(a.shape, str(a.dtype)) for a in loaded] == [
        (shape, DTYPES[key]) for key, shape in EXPECTED[name].items()]


@pytest.mark.parametrize("name", ["circles", "positions", "moons", "spirals"])
def test_labels_cover_every_class_in_both_splits(built, name):
    train_X, train_Y, test_X, test_Y = datasets.load(name, built[name])[:4]
    n_classes = 3 if name == "spirals" else 2
    for Y in (train_Y, test_Y):
        counts = np.bincount(Y.ravel(), minlength=n_classes)
        assert counts.size == n_classes and counts.min() >= 0.25 * Y.size / n_classes
    assert np.all(np.isfinite(train_X)) and np.all(np.isfinite(test_X))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_same_seed_gives_identical_arrays_and_other_seed_differs(tmp_path, name):
    first = _arrays(datasets.build(name, tmp_path / "a.h5", seed=7))
    again = _arrays(datasets.build(name, tmp_path / "b.h5", seed=7))
    other = _arrays(datasets.build(name, tmp_path / "c.h5", seed=8))
    assert first.keys() == again.keys() == other.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert any(not np.array_equal(first[k], other[k]) for k in first if k != "list_classes")


def test_building_leaves_numpy_global_state_alone(tmp_path):
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    datasets.build_moons(tmp_path / "m.h5", seed=5)
    assert np.array_equal(np.random.rand(3), expected)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_build_rejects_bad_seed(tmp_path, seed):
    with pytest.raises(ValueError, match="seed"):
        datasets.build_circles(tmp_path / "c.h5", seed=seed)


# --- loaders reject bad files, naming the file and the key ------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "initialization_data.h5"
    with pytest.raises(DatasetError, match="file not found") as err:
        datasets.load_circles(path)
    assert str(path) in str(err.value)


def test_not_hdf5(tmp_path):
    path = tmp_path / "regularization_data.h5"
    path.write_text("train_X,train_Y\n0.1,1\n")
    with pytest.raises(DatasetError, match="not an HDF5 file") as err:
        datasets.load_positions(path)
    assert str(path) in str(err.value)


def _rewrite(src: Path, dst: Path, drop: str | None = None, replace: dict | None = None) -> Path:
    arrays = _arrays(src)
    with h5py.File(src, "r") as f:
        attrs = dict(f.attrs)
    with h5py.File(dst, "w") as f:
        for key, value in {**arrays, **(replace or {})}.items():
            if key != drop:
                f.create_dataset(key, data=value)
        f.attrs.update(attrs)
    return dst


def test_missing_key(built, tmp_path):
    path = _rewrite(built["moons"], tmp_path / "optimization_data.h5", drop="test_Y")
    with pytest.raises(DatasetError, match="missing key 'test_Y'") as err:
        datasets.load_moons(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("key, value, message", [
    ("train_X", np.zeros((300, 2)), "key 'train_X' has shape (300, 2), expected (2, m_train)"),
    ("test_Y", np.zeros((1, 99), dtype=np.int64), "key 'test_Y' has shape (1, 99), expected (1, 100)"),
    ("train_Y", np.zeros((1, 300), dtype=np.float64), "key 'train_Y' has dtype float64, expected int64"),
    ("train_Y", np.full((1, 300), 2, dtype=np.int64), "key 'train_Y' holds label 2"),
])
def test_wrong_shape_dtype_or_labels(built, tmp_path, key, value, message):
    path = _rewrite(built["circles"], tmp_path / "initialization_data.h5", replace={key: value})
    with pytest.raises(DatasetError) as err:
        datasets.load_circles(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_named_sizes_must_agree_across_keys(built, tmp_path):
    images = _arrays(built["digits"])["train_set_x"]
    path = _rewrite(built["digits"], tmp_path / "tensorflow_data.h5", replace={"train_set_x": images[:-1]})
    with pytest.raises(DatasetError, match=r"key 'train_set_y' has shape \(1438,\), expected \(1437,\)"):
        datasets.load_digits(path)


def test_loader_refuses_another_dataset(built):
    with pytest.raises(DatasetError, match="holds dataset 'moons', expected 'circles'"):
        datasets.load_circles(built["moons"])


# --- what the sets must teach ------------------------------------------------------------------------

def _train_three_layer_net(X, Y, iterations, learning_rate=0.3, seed=3):
    """Plain [2, 20, 3, 1] ReLU/sigmoid net, full-batch gradient descent; returns a predict function."""
    rng = np.random.default_rng(seed)
    dims = [X.shape[0], 20, 3, 1]
    params = [(rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2 / dims[l - 1]), np.zeros((dims[l], 1)))
              for l in range(1, len(dims))]

    def forward(X):
        activations, pre = [X], []
        for l, (W, b) in enumerate(params):
            Z = W @ activations[-1] + b
            pre.append(Z)
            activations.append(np.maximum(Z, 0) if l < len(params) - 1 else 1 / (1 + np.exp(-Z)))
        return activations, pre

    m = X.shape[1]
    for _ in range(iterations):
        activations, pre = forward(X)
        dZ = activations[-1] - Y
        for l in range(len(params) - 1, -1, -1):
            W, b = params[l]
            dW, db = dZ @ activations[l].T / m, dZ.sum(axis=1, keepdims=True) / m
            if l > 0:
                dZ = (W.T @ dZ) * (pre[l - 1] > 0)
            params[l] = (W - learning_rate * dW, b - learning_rate * db)
    return lambda X: (forward(X)[0][-1] > 0.5).astype(np.int64)


@pytest.mark.parametrize("seed", [datasets.DEFAULT_SEED, 11])
def test_positions_make_a_plain_three_layer_net_overfit(tmp_path, seed):
    train_X, train_Y, test_X, test_Y = datasets.load_positions(
        datasets.build_positions(tmp_path / "p.h5", seed=seed))
    predict = _train_three_layer_net(train_X, train_Y, iterations=4000)
    train_acc = np.mean(predict(train_X) == train_Y)
    test_acc = np.mean(predict(test_X) == test_Y)
    assert train_acc >= 0.93, train_acc
    assert train_acc - test_acc >= 0.05, (train_acc, test_acc)


def test_positions_overfit_with_the_reference_model_and_l2_helps(built):
    from reference.nets import predict_dec
    from reference.regularization import model
    train_X, train_Y, test_X, test_Y = datasets.load_positions(built["positions"])
    plain, _ = model(train_X, train_Y, num_iterations=3000, print_cost=False)
    l2, _ = model(train_X, train_Y, num_iterations=3000, print_cost=False, lambd=0.7)
    acc = {name: (np.mean(predict_dec(p, train_X) == train_Y), np.mean(predict_dec(p, test_X) == test_Y))
           for name, p in (("plain", plain), ("l2", l2))}
    assert acc["plain"][0] - acc["plain"][1] >= 0.05, acc
    assert acc["l2"][1] > acc["plain"][1], acc


def test_circles_are_two_rings_of_different_radius(built):
    train_X, train_Y, _, _ = datasets.load_circles(built["circles"])
    radius = np.linalg.norm(train_X, axis=0)
    inner, outer = radius[train_Y[0] == 1], radius[train_Y[0] == 0]
    assert abs(np.median(outer) - 1.0) < 0.05 and abs(np.median(inner) - 0.7) < 0.05
    assert np.mean(inner < 0.85) > 0.95 and np.mean(outer > 0.85) > 0.95


def test_circles_reward_he_over_large_random_initialization(built):
    from reference.initialization import model
    from reference.nets import predict_dec
    train_X, train_Y, test_X, test_Y = datasets.load_circles(built["circles"])
    test_acc = {}
    for init in ("random", "he"):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            parameters, _ = model(train_X, train_Y, num_iterations=5000, print_cost=False, initialization=init)
        test_acc[init] = np.mean(predict_dec(parameters, test_X) == test_Y)
    assert test_acc["he"] >= 0.93 and test_acc["he"] - test_acc["random"] >= 0.05, test_acc


def test_spirals_defeat_a_linear_softmax_classifier(built):
    train_X, train_Y, _, _, classes = datasets.load_spirals(built["spirals"])
    targets = datasets.one_hot(train_Y, classes.size)                      # (3, m)
    W, b = np.zeros((classes.size, 2)), np.zeros((classes.size, 1))
    for _ in range(500):
        Z = W @ train_X + b
        A = np.exp(Z - Z.max(axis=0))
        A /= A.sum(axis=0)
        W -= 1.0 * (A - targets) @ train_X.T / train_X.shape[1]
        b -= 1.0 * (A - targets).mean(axis=1, keepdims=True)
    accuracy = np.mean(np.argmax(W @ train_X + b, axis=0) == train_Y[0])
    assert accuracy < 0.65, accuracy


def test_spirals_need_batch_norm_when_a_deep_net_starts_with_small_weights(built):
    from reference.batchnorm import predict_deep, train_deep_net
    train_X, train_Y, test_X, test_Y, classes = datasets.load_spirals(built["spirals"])
    accuracy = {}
    for use_batchnorm in (False, True):
        run = train_deep_net(train_X, datasets.one_hot(train_Y, classes.size), [2, 32, 32, 32, 32, 3],
                             use_batchnorm=use_batchnorm, learning_rate=0.1, num_epochs=25, weight_scale=0.05)
        predicted = predict_deep(test_X, run["parameters"], run["running_stats"])
        accuracy[use_batchnorm] = np.mean(predicted == test_Y[0])
    assert accuracy[False] < 0.5 and accuracy[True] > 0.85, accuracy


def test_one_hot():
    assert np.array_equal(datasets.one_hot(np.array([[2, 0, 1]]), 3),
                          np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float))


def test_stratified_split_is_disjoint_and_keeps_class_shares():
    labels = np.repeat(np.arange(4), [10, 20, 31, 7])
    train_idx, test_idx = datasets.stratified_split(labels, 0.2, np.random.default_rng(0))
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(labels.size))
    assert np.array_equal(np.bincount(labels[test_idx], minlength=4), [2, 4, 6, 1])


def test_digits_file_is_a_stratified_partition_of_sklearns_digits(built):
    from sklearn.datasets import load_digits
    digits = load_digits()
    train_x, train_y, test_x, test_y, classes = datasets.load_digits(built["digits"])
    assert np.array_equal(classes, np.arange(10))
    total = np.bincount(digits.target, minlength=10)
    assert np.array_equal(np.bincount(test_y, minlength=10), np.rint(0.2 * total).astype(int))
    assert np.array_equal(np.bincount(train_y, minlength=10) + np.bincount(test_y, minlength=10), total)
    # every (image, label) pair of scikit-learn's set is used exactly once across the two splits
    rows = lambda x, y: sorted(img.tobytes() + bytes([lab]) for img, lab in zip(x.astype(np.uint8), y))
    assert rows(np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y])) == \
        rows(digits.images, digits.target)
    assert train_x.max() == 16 and train_x.min() == 0
    with h5py.File(built["digits"], "r") as f:
        assert f.attrs["pixel_max"] == 16


# --- build-data --------------------------------------------------------------------------------------

def test_build_data_main_writes_into_the_course_source_folder(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    inside = tmp_path / "submitted" / "alice"
    inside.mkdir(parents=True)
    lines: list[str] = []
    written = datasets.build_data_main(seed=2, cwd=inside, echo=lines.append)
    assert written["positions"] == tmp_path / "source" / "regularization" / "regularization_data.h5"
    assert all(p.is_file() for p in written.values()) and len(lines) == len(DATASETS)
    assert any("train_set_x (1438, 8, 8) uint8" in line for line in lines)
    with h5py.File(written["moons"], "r") as f:
        assert f.attrs["seed"] == 2


def test_build_data_main_outside_a_course_needs_out(tmp_path):
    with pytest.raises(FileNotFoundError, match="nbgrader_config.py"):
        datasets.build_data_main(cwd=tmp_path, echo=lambda line: None)


def test_cli_build_data(tmp_path):
    from autograder.cli import main
    result = CliRunner().invoke(main, ["build-data", "--out", str(tmp_path / "src"), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "initialization_data.h5" in result.output and "train_X (2, 300) float64" in result.output
    train_X, *_ = datasets.load_circles(tmp_path / "src" / "initialization" / "initialization_data.h5")
    assert np.array_equal(train_X, _arrays(datasets.build_circles(tmp_path / "c.h5", seed=4))["train_X"])


# --- shipped to students: self-contained ------------------------------------------------------------

ALLOWED_IMPORTS = {"__future__", "os", "sys", "tempfile", "dataclasses", "pathlib", "typing",
                   "numpy", "h5py", "matplotlib", "sklearn"}


@pytest.mark.parametrize("module", ["datasets", "plotting"])
def test_student_side_modules_import_only_numpy_h5py_matplotlib_sklearn(module):
    tree = ast.parse((Path(datasets.__file__).parent / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in a student-side module"
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    # scikit-learn only lazily (inside a function), so loading data never needs it
    top_level = {a.name.split(".")[0] for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 for a in ([ast.alias(node.module)] if isinstance(node, ast.ImportFrom) else node.names)}
    assert "sklearn" not in top_level
