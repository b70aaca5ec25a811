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
