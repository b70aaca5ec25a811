"""Start-up cost of a grading command (issue 15): what ``import autograder.runner`` drags in."""
import json
import subprocess
import sys

SAMPLES = ["http://example.com/ä", "not an iri ::", "#frag", "urn:isbn:0451450523", "http://[::1", ""]

CHECK = """
import importlib.util, json, sys
installed = [importlib.util.find_spec(m) is not None for m in ("rfc3987_syntax", "rfc3986_validator")]
if sys.argv[1] == "ours":
    import autograder.runner  # noqa: F401  (installs the deferred IRI grammar)
import jsonschema
checker = jsonschema.FormatChecker()
built_at_import = ["rfc3987_syntax.syntax_helpers" in sys.modules,
                   getattr(sys.modules.get("rfc3986_validator"), "__file__", None) is not None]
verdicts = [[checker.conforms(s, fmt) for fmt in ("iri", "iri-reference", "uri", "uri-reference")]
            for s in json.loads(sys.argv[2])]
print(json.dumps({"built_at_import": built_at_import, "verdicts": verdicts, "installed": installed}))
"""


def _run(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK, mode, json.dumps(SAMPLES)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_grading_imports_defer_the_iri_and_uri_checkers_which_still_work():
    ours, plain = _run("ours"), _run("plain")
    installed = plain["installed"]
    assert ours["built_at_import"] == [False, False]    # 2.4 s of start-up when built at import
    assert plain["built_at_import"] == installed        # the libraries' own behaviour: the test can fail
    assert ours["verdicts"] == plain["verdicts"]  # same answers: the real grammar is used on first call
    assert [False] * 4 in ours["verdicts"] and [True] * 4 in ours["verdicts"]


LAZY = """
import importlib, json, sys
if sys.argv[1] == "ours":
    import autograder.runner  # noqa: F401  (installs the lazy packages, then imports what grading needs)
from autograder.deferred_imports import LAZY_PACKAGES
loaded_at_import = sorted(m for m in sys.modules if m.startswith(("nbgrader.server_extensions", "jupyter_server",
                                                                  "nbconvert.exporters.html", "jinja2", "mistune"))
                          and sys.argv[1] == "ours")
names = {}
for package in LAZY_PACKAGES:
    module = importlib.import_module(package)
    for name in module.__all__ if hasattr(module, "__all__") else []:
        value = getattr(module, name)
        names[f"{package}.{name}"] = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value)}"
import nbgrader
print(json.dumps({"loaded_at_import": loaded_at_import, "names": names, "version": nbgrader.__version__,
                  "extension": nbgrader._jupyter_server_extension_points(),
                  "formgrader": nbgrader.load_formgrader.__module__}))
"""


def test_the_lazy_packages_give_the_same_names_and_do_not_load_the_server_extensions_at_import():
    """nbgrader's and nbconvert's package ``__init__``s run only when a name they define is used
    (issue 15: 0.5-1 s of every grading command). Every exported name must still be the very object a
    plain import gives, and nbgrader must still work as a Jupyter server extension."""
    run = lambda mode: json.loads(subprocess.run([sys.executable, "-c", LAZY, mode], capture_output=True,
                                                 text=True, check=True).stdout)
    ours, plain = run("ours"), run("plain")
    assert ours["loaded_at_import"] == []
    assert len(plain["names"]) > 60 and ours["names"] == plain["names"]
    assert ours["version"] == plain["version"] and ours["extension"] == plain["extension"] == [{"module": "nbgrader"}]
    assert ours["formgrader"] == plain["formgrader"]
