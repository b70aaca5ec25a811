"""Zygote sessions: one sandbox imports once and forks a fresh, separately-jailed worker per session."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from autograder.sandbox import SandboxPolicy, StudentError, StudentSession, sandbox_mode
from autograder.sandbox.processes import uid_processes as _uid_processes
from autograder.sandbox.zygote import Zygote

pytestmark = pytest.mark.skipif(sandbox_mode() != "bwrap",
                                reason="bubblewrap sandbox unavailable on this machine")

CODE = '''
import os, signal
def who():
    return os.getuid(), os.getcwd(), sorted(os.listdir("."))
def plant(secret):
    with open("secret.txt", "w") as fh:
        fh.write(secret)
    return os.path.abspath("secret.txt")
def steal(path):
    try:
        return open(path).read()
    except OSError as exc:
        return "denied: " + type(exc).__name__
def kill_others():
    hit = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
                hit += 1
            except OSError:
                pass
    return hit
def spin():
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass
def forkbomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass
'''


def gone(uid: int, timeout: float = 5.0) -> bool:
    """True once no process of ``uid`` is left (the zygote's scratch cleaner may run briefly)."""
    end = time.monotonic() + timeout
    while _uid_processes(uid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def assignment_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("zyg_assignment")
    (d / "helpers.py").write_text("def helper():\n    return 'helped'\n")
    (d / "solution.ipynb").write_text("{}")
    return d


@pytest.fixture(scope="module")
def zygote(assignment_dir):
    with Zygote(assignment_dir, SandboxPolicy(call_timeout_s=2, max_processes=16),
                use_tensorflow=False) as z:
        yield z


def session(zygote, assignment_dir, **policy):
    pol = SandboxPolicy(**{"call_timeout_s": 2, "max_processes": 16, **policy})
    s = StudentSession(assignment_dir, pol, zygote=zygote)
    s.start()
    assert not s.load([{"index": 0, "source": CODE + "from helpers import *\n"}]).errors
    return s


def test_children_are_fast_fresh_and_separate(zygote, assignment_dir):
    t0 = time.monotonic()
    a = session(zygote, assignment_dir)
    b = session(zygote, assignment_dir)
    try:
        assert time.monotonic() - t0 < 2.0
        uid_a, cwd_a, files_a = a.call("who")
        uid_b, cwd_b, _ = b.call("who")
        assert uid_a != uid_b and cwd_a == cwd_b == "/tmp/work" and files_a == ["helpers.py"]  # private /tmp each
        assert a.call("helper") == "helped"
        path = a.call("plant", "answer-of-a")
        assert a.call("steal", path) == "answer-of-a"
        assert b.call("steal", path).startswith("denied")           # other child's scratch: 0700
        assert b.call("kill_others") == 0                            # nobody else is signalable
        assert a.alive and a.call("who")[0] == uid_a
    finally:
        a.close()
        b.close()


def test_timeout_kills_only_that_child(zygote, assignment_dir):
    bystander = session(zygote, assignment_dir)
    victim = session(zygote, assignment_dir)
    try:
        with pytest.raises(StudentError) as info:
            victim.call("spin")
        assert info.value.kind == "timeout" and not victim.alive
        assert gone(victim.uid)
        assert bystander.call("helper") == "helped" and zygote.alive
    finally:
        victim.close()
        bystander.close()


def test_fork_bomb_in_a_child_is_contained(zygote, assignment_dir):
    s = session(zygote, assignment_dir)
    try:
        with pytest.raises(StudentError):
            s.call("forkbomb")
        assert gone(s.uid)
    finally:
        s.close()
    after = session(zygote, assignment_dir)
    try:
        assert after.call("helper") == "helped"
    finally:
        after.close()


def test_closing_the_zygote_kills_its_children(assignment_dir):
    z = Zygote(assignment_dir, SandboxPolicy(), use_tensorflow=False)
    s = StudentSession(assignment_dir, SandboxPolicy(), zygote=z)
    s.start()
    uid = s.uid
    z.close()
    assert gone(uid)
    with pytest.raises(StudentError) as info:
        s.call("anything")
    assert info.value.kind == "crashed"
    s.close()


@pytest.mark.tensorflow
def test_tensorflow_zygote_markers_and_tensors(tmp_path):
    pytest.importorskip("tensorflow")
    code = ("import tensorflow as tf\n"
            "def f(x, v):\n    v.assign_add(tf.ones_like(v))\n    return tf.reduce_sum(x * v), v\n"
            "def dense(x):\n    return tf.keras.layers.Dense(2, kernel_initializer='ones')(x)\n")
    with Zygote(tmp_path, SandboxPolicy(), use_tensorflow=True) as z:
        for _ in range(2):      # two children from one import: the parent never ran a TF op
            t0 = time.monotonic()
            with StudentSession(tmp_path, use_tensorflow=True, zygote=z) as s:
                assert not s.load([{"index": 0, "source": code}]).errors
                total, v = s.call("f", {"__tf_constant__": np.ones(3)},
                                  {"__tf_variable__": np.arange(3.0)})
                assert total.dtype == np.float32 and float(total) == 6.0
                assert v.tolist() == [1.0, 2.0, 3.0]
                out = s.call("dense", {"__tf_tensor__": np.ones((1, 3))})
                assert out.shape == (1, 2) and out.tolist() == [[3.0, 3.0]]
            assert time.monotonic() - t0 < 5


def test_shared_zygote_via_flag(tmp_path):
    from autograder.sandbox.zygote import close_shared_zygotes
    try:
        uids = set()
        for _ in range(2):
            with StudentSession(tmp_path, SandboxPolicy(), zygote=True) as s:
                s.load([{"index": 0, "source": "import os\ndef me():\n    return os.getuid()"}])
                uids.add(s.call("me"))
        assert len(uids) == 2
    finally:
        close_shared_zygotes()
    assert os.getpid() > 0


def test_shared_zygote_survives_the_thread_that_started_it(tmp_path):
    import threading
    from autograder.sandbox.zygote import close_shared_zygotes, shared_zygote
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("z", shared_zygote(SandboxPolicy(), False)))
    t.start()
    t.join()
    time.sleep(0.3)               # PR_SET_PDEATHSIG would have fired by now if tied to that thread
    try:
        assert got["z"].alive
        with StudentSession(tmp_path, SandboxPolicy(), zygote=True) as s:
            s.load([{"index": 0, "source": "def f():\n    return 5"}])
            assert s.call("f") == 5
    finally:
        close_shared_zygotes()


def test_idle_shared_zygote_is_retired_and_replaced(tmp_path, monkeypatch):
    from autograder.sandbox import zygote as zmod
    monkeypatch.setenv("DEEPGRADE_ZYGOTE_IDLE_S", "0.4")
    try:
        first = zmod.shared_zygote(SandboxPolicy(), False)
        with StudentSession(tmp_path, SandboxPolicy(), zygote=True) as s:
            time.sleep(1.0)                    # in use: never retired while a child is out
            assert first.alive
            s.load([{"index": 0, "source": "def f():\n    return 1"}])
            assert s.call("f") == 1
        end = time.monotonic() + 5
        while first.alive and time.monotonic() < end:
            time.sleep(0.1)
        assert not first.alive                 # idle -> closed, memory given back
        with StudentSession(tmp_path, SandboxPolicy(), zygote=True) as s:   # a fresh one starts
            s.load([{"index": 0, "source": "def f():\n    return 2"}])
            assert s.call("f") == 2
    finally:
        zmod.close_shared_zygotes()


def test_preload_is_numpy_only_by_default_and_an_instructor_can_add_modules(monkeypatch):
    """Issue 15: pre-importing matplotlib/scipy/scikit-learn cost every worker 2-4 CPU s and the
    grader never needs them (heavy imports are lazy); a course that does can list them."""
    from autograder.sandbox.zygote import PRELOAD_ENV, ZygoteError, preload_modules
    monkeypatch.delenv(PRELOAD_ENV, raising=False)
    assert preload_modules() == ()
    with Zygote(policy=SandboxPolicy(), use_tensorflow=False) as lean:
        assert lean.preloaded == []
    monkeypatch.setenv(PRELOAD_ENV, " h5py, not_installed_anywhere ,")
    assert preload_modules() == ("h5py", "not_installed_anywhere")
    with Zygote(policy=SandboxPolicy(), use_tensorflow=False) as warm:
        assert warm.preloaded == ["h5py"]          # a missing module is skipped, not fatal
        assert warm.preload_rss > 0
    monkeypatch.setenv(PRELOAD_ENV, "os; import this")
    with pytest.raises(ZygoteError, match=PRELOAD_ENV):
        preload_modules()


def test_helper_files_compiled_once_by_the_zygote_never_serve_stale_code(tmp_path):
    """Issue 15: the zygote compiles the assignment's helper files once and children reuse the code
    objects (~20 ms per child saved); the cache is keyed by the bytes read, so a helper rewritten with
    the same size and modification time is still imported as written."""
    d = tmp_path / "assignment"
    d.mkdir()
    helper = d / "helpers.py"
    helper.write_text("def helper():\n    return 'first'\n")
    stamp = helper.stat()
    pol = SandboxPolicy(call_timeout_s=5)
    with Zygote(d, pol, use_tensorflow=False) as z:
        for expected, text in (("first", None), ("other", "def helper():\n    return 'other'\n")):
            if text is not None:
                helper.write_text(text)
                os.utime(helper, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
                assert helper.stat().st_size == stamp.st_size
            s = StudentSession(d, pol, zygote=z)
            s.start()
            try:
                assert not s.load([{"index": 0, "source": "from helpers import helper\n"}]).errors
                assert s.call("helper") == expected
            finally:
                s.close()
        assert (str(helper), stamp.st_mtime_ns, stamp.st_size) in z._compiled
        reply = z._request({"op": "precompile", "sources": {"/tmp/work/x.py": "bm90IHB5dGhvbiA6Og=="}})
        assert reply == {"compiled": 0}                     # a source that does not compile is skipped


GENERATED = "# generated by deepgrade build — do not edit\n"
PROBE = '''
import sys, importlib, inspect
def probe(name):
    mod = sys.modules.get(name)
    if mod is None:
        return None
    value = getattr(mod, "value", None)
    return [mod.__file__, type(mod.__loader__).__name__, mod.__spec__.origin, value and value(),
            value and len(inspect.getsource(value))]
def reload_value(name):
    return importlib.reload(sys.modules[name]).value()
def spoil(name):
    sys.modules[name].value = lambda: "spoiled"
    sys.modules[name].STATE.append(1)
    return sys.modules[name].value()
'''


def _child(z, folder, code=""):
    s = StudentSession(folder, SandboxPolicy(call_timeout_s=5), zygote=z)
    s.start()
    report = s.load([{"index": 0, "source": PROBE + code}])
    return s, report


def test_generated_helpers_are_imported_once_by_the_zygote_and_fresh_in_every_child(tmp_path):
    """Issue 15: the helper modules ``deepgrade build`` wrote are imported once by the zygote (~7 ms per
    child saved), and each child gets them as a fresh import would: its own copy (what one child
    changes, the next never sees), a real path and loader, importable and reloadable; another
    assignment's child never sees them; a helper the build did not write is imported by the child."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "a_utils.py").write_text(GENERATED + "from dg_shared import *\nSTATE = []\ndef value():\n    return 'a'\n")
    (a / "dg_shared.py").write_text(GENERATED + "SHARED = 1\n")
    (a / "mine.py").write_text("STATE = []\ndef value():\n    return 'mine'\n")          # not generated
    (b / "b_utils.py").write_text(GENERATED + "STATE = []\ndef value():\n    return 'b'\n")
    with Zygote(None, SandboxPolicy(call_timeout_s=5), use_tensorflow=False) as z:
        first, report = _child(z, a, "from a_utils import *\n")
        try:
            assert not report.errors
            assert first.call("probe", "a_utils") == ["/tmp/work/a_utils.py", "SourceFileLoader",
                                                      "/tmp/work/a_utils.py", "a", len("def value():\n    return 'a'\n")]
            assert first.call("probe", "dg_shared") is not None        # imported by a_utils, warm too
            assert first.call("probe", "mine") is None                  # not generated: not preloaded
            assert first.call("probe", "b_utils") is None
            assert first.call("spoil", "a_utils") == "spoiled"
            assert first.call("reload_value", "a_utils") == "a"         # reads the file bound into it
        finally:
            first.close()
        assert len(z._warm) == 1 and all(z._warm.values())
        second, _ = _child(z, a, "import mine\nfrom a_utils import *\nassert STATE == []\n")
        try:
            assert not second.load([]).errors
            assert second.call("probe", "a_utils")[3] == "a"           # not the first child's change
            assert second.call("probe", "mine")[3] == "mine"
        finally:
            second.close()
        other, _ = _child(z, b)
        try:
            assert other.call("probe", "a_utils") is None and other.call("probe", "dg_shared") is None
            assert other.call("probe", "b_utils")[3] == "b"
        finally:
            other.close()


def test_a_rewritten_or_failing_generated_helper_is_never_served_stale(tmp_path):
    """The zygote's set is named by the bytes bound into the child: a helper rewritten between two
    children (same size, same modification time) is served as written; a helper that fails to import
    in the zygote (it needs its folder) is imported by each child itself, as before."""
    d = tmp_path / "a"
    d.mkdir()
    helper = d / "a_utils.py"
    helper.write_text(GENERATED + "STATE = []\ndef value():\n    return 'one'\n")
    stamp = helper.stat()
    (d / "needs_folder.py").write_text(GENERATED + "import os\nSTATE = []\nDATA = open(os.path.join("
                                       "os.path.dirname(__file__), 'data.txt')).read()\n"
                                       "def value():\n    return DATA\n")
    (d / "data.txt").write_text("from the folder")
    with Zygote(None, SandboxPolicy(call_timeout_s=5), use_tensorflow=False) as z:
        for expected in ("one", "two"):
            if expected == "two":
                helper.write_text(GENERATED + "STATE = []\ndef value():\n    return 'two'\n")
                os.utime(helper, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
                assert helper.stat().st_size == stamp.st_size
            s, report = _child(z, d, "import a_utils, needs_folder\n")
            try:
                assert not report.errors
                assert s.call("reload_value", "a_utils") == expected
                assert s.call("probe", "a_utils")[3] == expected
                assert s.call("probe", "needs_folder")[3] == "from the folder"
            finally:
                s.close()
        assert list(z._warm.values()) == [False, False]     # the set fails as a whole: nothing warm


def test_the_zygote_recognises_what_the_course_build_writes():
    """The mark the zygote looks for is the header ``deepgrade build`` writes on every helper it copies."""
    from autograder.course.build import GENERATED_HEADER
    from autograder.sandbox.zygote import GENERATED_MARK
    assert GENERATED_HEADER.encode().startswith(GENERATED_MARK)
    assert GENERATED.startswith(GENERATED_HEADER)


def test_a_zygote_request_that_times_out_is_never_answered_out_of_step(tmp_path):
    """Fault injection: the zygote takes longer than the trusted side waits (here a generated helper
    that sleeps at import). Its late reply must never answer a later request (a spawn would read
    ``{"warm": [...]}`` and the real child would be lost): the zygote is not used again -- no spawn, no
    status claimed -- and a new zygote serves the next session."""
    d = tmp_path / "slow"
    d.mkdir()
    (d / "slow_utils.py").write_text(GENERATED + "import time\ntime.sleep(2)\ndef value():\n    return 1\n")
    pol = SandboxPolicy(call_timeout_s=5)
    with Zygote(None, pol, use_tensorflow=False) as z:
        z._sock.settimeout(0.5)
        s = StudentSession(d, pol, zygote=z)
        with pytest.raises(StudentError, match="zygote"):
            s.start()
        assert not z.alive and z._proc.poll() is None          # still running, but never asked again
        assert z.status(12345) is None
        time.sleep(2)                                          # its late reply is now on the socket
        with pytest.raises(OSError, match="not used again"):
            z._request({"op": "ping"})
    with Zygote(None, pol, use_tensorflow=False) as fresh_zygote:
        s = StudentSession(d, pol, zygote=fresh_zygote)
        s.start()
        try:
            assert not s.load([{"index": 0, "source": "import slow_utils\nf = slow_utils.value\n"}]).errors
            assert s.call("f") == 1
        finally:
            s.close()
