"""The submission reader: what it extracts, and each ungradable reason names the file."""
import json

import pytest

from autograder.notebook import SKIP_TAG, UngradableNotebook, read_submission


def nb(cells, nbformat=4, metadata=None):
    return {"nbformat": nbformat, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells}


def code(source, tags=None, nbgrader=None):
    meta = {}
    if tags is not None:
        meta["tags"] = tags
    if nbgrader is not None:
        meta["nbgrader"] = nbgrader
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": [],
            "execution_count": None}


def write(tmp_path, obj, name="sub.ipynb"):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return p


def test_reads_code_cells_in_order_with_metadata(tmp_path):
    path = write(tmp_path, nb([
        {"cell_type": "markdown", "source": "# title", "metadata": {}},
        code(["import numpy as np\n", "x = 1"]),
        code("def f():\n    return 1", nbgrader={"grade_id": "ex_f", "solution": True, "grade": False}),
        {"cell_type": "raw", "source": "raw", "metadata": {}},
        code("assert f() == 1", tags=["x"], nbgrader={"grade_id": "test_f", "grade": True, "points": 2}),
        code("train()", tags=[SKIP_TAG]),
    ], metadata={"deepgrade": {"assignment": "regularization"}}))
    parsed = read_submission(path)
    assert [c.index for c in parsed.cells] == [1, 2, 4, 5]
    assert parsed.cells[0].source == "import numpy as np\nx = 1"
    f = parsed.cells[1]
    assert (f.grade_id, f.solution, f.grade, f.points) == ("ex_f", True, False, None)
    t = parsed.cells[2]
    assert (t.grade_id, t.grade, t.points, t.tags) == ("test_f", True, 2.0, ("x",))
    assert parsed.cells[3].skip and not parsed.cells[0].skip
    assert [c.index for c in parsed.gradable_cells()] == [1, 2, 4]
    assert parsed.assignment == "regularization"
    assert parsed.duplicate_grade_ids == []
    assert parsed.nbformat == 4 and parsed.size_bytes == path.stat().st_size


def test_duplicate_grade_ids_are_flagged_and_kept(tmp_path):
    cells = [code("a = 1", nbgrader={"grade_id": "ex_f", "solution": True}),
             code("a = 2", nbgrader={"grade_id": "ex_f", "solution": True})]
    parsed = read_submission(write(tmp_path, nb(cells)))
    assert parsed.duplicate_grade_ids == ["ex_f"]
    assert [c.source for c in parsed.by_grade_id("ex_f")] == ["a = 1", "a = 2"]


def test_missing_metadata_is_tolerated(tmp_path):
    path = write(tmp_path, nb([{"cell_type": "code", "source": "x=1"}]))
    parsed = read_submission(path)
    assert parsed.cells[0].grade_id is None and parsed.assignment is None


def reason(path, **kw):
    with pytest.raises(UngradableNotebook) as info:
        read_submission(path, **kw)
    assert path.name in info.value.reason and str(info.value) == info.value.reason
    return info.value.reason


def test_empty_file(tmp_path):
    p = tmp_path / "empty.ipynb"
    p.write_bytes(b"")
    assert "empty file" in reason(p)
    p.write_bytes(b"  \n ")
    assert "empty file" in reason(p)


def test_binary_and_non_utf8(tmp_path):
    p = tmp_path / "bin.ipynb"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert "binary" in reason(p)
    p.write_bytes(b'{"cells": ["\xff\xfe"]}')
    assert "UTF-8" in reason(p)


def test_invalid_json_reports_line_and_column(tmp_path):
    p = write(tmp_path, '{\n  "cells": [\n    1,,\n  ]\n}', name="broken.ipynb")
    r = reason(p)
    assert "invalid JSON" in r and "line 3" in r and "column" in r


def test_not_a_notebook(tmp_path):
    assert "no 'cells'" in reason(write(tmp_path, {"hello": 1}, name="a.ipynb"))
    assert "no 'cells'" in reason(write(tmp_path, [1, 2], name="b.ipynb"))
    assert "nbformat" in reason(write(tmp_path, {"cells": []}, name="c.ipynb"))
    assert "cell 0" in reason(write(tmp_path, {"nbformat": 4, "cells": ["x"]}, name="d.ipynb"))


def test_old_nbformat(tmp_path):
    assert "nbformat 3" in reason(write(tmp_path, nb([], nbformat=3), name="old.ipynb"))
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},        # the real v3 layout
          "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1"}]}]}
    assert "nbformat 3 is too old" in reason(write(tmp_path, v3, name="v3.ipynb"))


def test_too_large_checked_before_reading(tmp_path, monkeypatch):
    p = write(tmp_path, nb([code("x" * 5000)]), name="big.ipynb")
    import builtins
    real_open = builtins.open

    def no_open(file, *a, **k):
        if str(file) == str(p):
            raise AssertionError("file was opened although it is too large")
        return real_open(file, *a, **k)
    monkeypatch.setattr(builtins, "open", no_open)
    assert "too large" in reason(p, max_bytes=1000)


def test_missing_file(tmp_path):
    assert "not found" in reason(tmp_path / "nope.ipynb")


def test_bad_source_type(tmp_path):
    p = write(tmp_path, nb([{"cell_type": "code", "source": 5, "metadata": {}}]), name="s.ipynb")
    assert "cell 0" in reason(p)


def test_reader_does_not_import_nbformat():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import sys, autograder.notebook; "
                          "print('nbformat' in sys.modules)"], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
