"""The sandbox: student code runs, but cannot see the trusted side, the network or escape its limits."""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import SandboxPolicy, StudentError, StudentSession, sandbox_mode
from autograder.sandbox import launcher, layout

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(sandbox_mode() != "bwrap",
                                reason="bubblewrap sandbox unavailable on this machine")

HELPERS = '''
import numpy as np
def helper_sigmoid(z):
    return 1 / (1 + np.exp(-z))
'''

CELLS = [
    {"index": 0, "source": "%matplotlib inline\nimport numpy as np\nfrom asg_utils import *\n!ls -la\n"
                           "files = !ls\n%time x = 1"},
    {"index": 1, "source": "def double(x):\n    return 2 * x\n\ndef sig(z):\n    return helper_sigmoid(z)\n"},
    {"index": 2, "source": "raise ValueError('boom in cell 2')"},
    {"index": 3, "source": "def after_error():\n    return {'a': (1, np.ones((2, 2))), 'b': [np.float32(0.5)]}\n"
                           "get_ipython().run_line_magic('load_ext', 'autoreload')\nprint('cell 3 ran')"},
    {"index": 4, "source": "%%bash\nrm -rf /\necho pwned"},
    {"index": 5, "source": "%%time\ndef timed():\n    return 'timed ok'\n"},
    {"index": 6, "source": "answer_q1 = 'b'\nquiz = {'q2': [1, 2]}\nrandn = lambda n: np.random.randn(n)\n"},
    {"index": 7, "source": "def bad_obj():\n    return object()\n"
                           "def bad_key():\n    return {1: 2}\n"
                           "def bad_arr():\n    return np.array([None, 1], dtype=object)\n"
                           "def gen():\n    return (i for i in range(3))\n"
                           "def raises():\n    raise KeyError('nope')\n"
                           "def noisy():\n    print('x' * 10_000_000)\n    return 1\n"
                           "def binary_out():\n    import sys, os\n    sys.stdout.buffer.write(b'via buffer ')\n"
                           "    os.write(1, b'via fd')\n    return 0\n"},
    {"index": 8, "source": "%matplotlib inline\nvalue = (7\n         % 4)\ntext = \"\"\"\n%not a magic\n!nor this\n\"\"\"\n"
                           "def cont():\n    !echo indented\n    listing = !ls\n    return value, text, listing\n"
                           "len?\n"},
]


@pytest.fixture(scope="module")
def assignment_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("assignment")
    (d / "asg_utils.py").write_text(HELPERS)
    (d / "asg_data.h5").write_bytes(b"not really h5")
    (d / "asg.ipynb").write_text('{"solution": "secret"}')     # source notebook: must stay hidden
    return d


@pytest.fixture(scope="module")
def session(assignment_dir):
    policy = SandboxPolicy(call_timeout_s=5, max_output_bytes=4096)
    with StudentSession(assignment_dir, policy, zygote=False) as s:
        s.report = s.load(CELLS)
        yield s


def _uid_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _wait_gone(uid: int, timeout: float = 5.0) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = _uid_processes(uid)
        if not left:
            return []
        time.sleep(0.05)
    return _uid_processes(uid)


def _bwrap_children() -> list[dict]:
    """Live processes whose command line mentions the sandbox worker, with their uid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                if b"/opt/deepgrade/worker.py" in cmd:
                    out.append({"pid": int(entry), "uid": os.stat(f"/proc/{entry}").st_uid})
            except OSError:
                pass
    return out


def fresh(tmp_path=None, **policy) -> StudentSession:
    return StudentSession(tmp_path, SandboxPolicy(**policy), zygote=False)   # per-process mode


# ------------------------------------------------------------------------------------ normal use
def test_load_report_and_cell_isolation(session):
    statuses = {c.index: c.status for c in session.report.cells}
    assert statuses == {0: "ok", 1: "ok", 2: "error", 3: "ok", 4: "ok", 5: "ok", 6: "ok", 7: "ok", 8: "ok"}
    err = session.report.cells[2]
    assert err.error_type == "ValueError" and "boom in cell 2" in err.message
    assert "line 1" in err.traceback
    assert session.report.cells[3].stdout == "cell 3 ran\n"
    assert {"double", "sig", "after_error", "timed", "helper_sigmoid", "randn"} <= session.report.defined
    assert "answer_q1" not in session.report.defined          # not callable
    assert session.defined() == session.report.defined
    assert session.report.alive


def test_call_returns_plain_data(session):
    out = session.call("double", np.arange(3.0))
    assert isinstance(out, np.ndarray) and out.tolist() == [0.0, 2.0, 4.0]
    np.testing.assert_allclose(session.call("sig", np.zeros(2)), [0.5, 0.5])
    res = session.call("after_error")
    assert isinstance(res["a"], tuple) and res["a"][1].shape == (2, 2) and res["b"] == [0.5]
    assert session.call("double", x=(1, 2)) == (1, 2, 1, 2)
    assert session.call("timed") == "timed ok"


def test_get_values(session):
    assert session.get("answer_q1") == "b"
    assert session.get("quiz") == {"q2": [1, 2]}
    with pytest.raises(StudentError) as info:
        session.get("nope")
    assert info.value.kind == "missing"


def test_seed_makes_calls_reproducible(session):
    a = session.call("randn", 3, _seed=7)
    b = session.call("randn", 3, _seed=7)
    np.random.seed(7)
    assert np.array_equal(a, b) and np.allclose(a, np.random.randn(3))


@pytest.mark.parametrize("fn, kind, text", [
    ("missing_fn", "missing", "not defined"),
    ("answer_q1", "missing", "not callable"),
    ("bad_obj", "bad_output", "builtins.object"),
    ("bad_key", "bad_output", "int"),
    ("bad_arr", "bad_output", "object"),
    ("gen", "bad_output", "generator"),
    ("raises", "exception", "nope"),
])
def test_errors_have_kinds(session, fn, kind, text):
    with pytest.raises(StudentError) as info:
        session.call(fn)
    assert info.value.kind == kind and text in info.value.message
    assert session.alive


def test_exception_carries_type_and_traceback(session):
    with pytest.raises(StudentError) as info:
        session.call("raises")
    assert info.value.error_type == "KeyError" and "<cell 7>" in info.value.traceback


def test_output_is_captured_and_capped(session):
    assert session.call("noisy") == 1
    assert len(session.last_output["stdout"]) < 4096 + 100
    assert "truncated" in session.last_output["stdout"]


def test_binary_and_fd_level_output_is_captured(session):
    assert session.call("binary_out") == 0
    assert session.last_output["stdout"] == "via buffer via fd"


def test_ipython_syntax_neutralized(session):
    out = session.call("double", "ok")
    assert out == "okok"            # the %%bash cell and !ls lines did not run or break anything
    assert session.report.cells[4].stdout == ""
    # only magics at the start of a logical line are rewritten: continuations and strings are kept
    assert session.call("cont") == (3, "\n%not a magic\n!nor this\n", None)


def test_arguments_must_be_plain_data(session):
    with pytest.raises(TypeError, match="boundary"):
        session.call("double", object())


# ------------------------------------------------------------------------------------ isolation
PROBES = '''
import os, socket, sys
def connect(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return "connected"
    except OSError as exc:
        return "blocked: " + type(exc).__name__
def read(path):
    try:
        with open(path, "rb") as fh:
            return "read %d bytes" % len(fh.read())
    except OSError as exc:
        return "denied: " + type(exc).__name__
def try_import(name):
    try:
        __import__(name)
        return "imported"
    except ImportError:
        return "no"
def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return "denied: " + type(exc).__name__
def whoami():
    return os.getuid(), os.getpid(), dict(os.environ)
def caps():
    return [l for l in open("/proc/self/status").read().splitlines() if l.startswith("Cap")]
def editable_finder():
    import glob, importlib
    for path in glob.glob("/opt/venv/lib/*/site-packages/__editable__*finder.py"):
        try:
            src = open(path).read()
            ns = {}
            exec(src, ns)
            ns["install"]()
        except Exception:
            pass
        sys.path.insert(0, "REPO")
    try:
        import reference
        return "imported reference"
    except ImportError:
        return "no reference"
def kernel_surface():
    import ctypes, threading, subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, call in [("unshare_user", lambda: libc.unshare(0x10000000)),
                       ("unshare_mount", lambda: libc.unshare(0x00020000)),
                       ("ptrace_attach_1", lambda: libc.ptrace(16, 1, 0, 0)),
                       ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                       ("setns", lambda: libc.setns(0, 0))]:
        ctypes.set_errno(0)
        out[name] = (call(), ctypes.get_errno())
    box = []
    t = threading.Thread(target=lambda: box.append(1))
    t.start(); t.join()
    out["thread"] = box == [1]
    out["subprocess"] = subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout.decode()
    return out
def write_repo(path):
    try:
        open(path, "w").write("x")
        return "written"
    except OSError as exc:
        return "denied: " + type(exc).__name__
'''


@pytest.fixture(scope="module")
def probe(assignment_dir):
    with StudentSession(assignment_dir, SandboxPolicy(call_timeout_s=5), zygote=False) as s:
        assert not s.load([{"index": 0, "source": PROBES.replace("REPO", str(REPO))}]).errors
        yield s


def test_network_is_blocked(probe):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)
    hits = []
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                hits.append(server.accept())
            except OSError:
                pass
    t = threading.Thread(target=serve)
    t.start()
    try:
        assert probe.call("connect", server.getsockname()[1]).startswith("blocked")
    finally:
        done.set()
        t.join()
        server.close()
    assert hits == []


def test_trusted_files_are_invisible(probe, tmp_path):
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_bytes(b"SQLite format 3\0")
    for path in [REPO / "reference" / "__init__.py", REPO / "autograder" / "checks" / "framework.py",
                 gradebook, REPO / "pyproject.toml", Path("/etc/shadow"), Path("/root/.bashrc")]:
        assert probe.call("read", str(path)).startswith("denied"), path
    assert probe.call("listdir", str(REPO)).startswith("denied")
    assert probe.call("listdir", "/work").startswith("denied")
    assert probe.call("write_repo", str(REPO / "PWNED")).startswith("denied")
    assert not (REPO / "PWNED").exists()


def test_trusted_packages_cannot_be_imported(probe):
    for name in ("reference", "autograder", "reference.registry", "autograder.checks", "worker", "wire"):
        assert probe.call("try_import", name) == "no", name
    assert probe.call("editable_finder") == "no reference"
    assert probe.call("try_import", "numpy") == "imported"


def test_student_files_visible_read_only_and_notebooks_hidden(probe):
    assert probe.call("listdir", ".") == ["asg_data.h5", "asg_utils.py"]
    assert probe.call("listdir", "/course") == ["asg_data.h5", "asg_utils.py"]
    assert probe.call("read", "asg_data.h5") == "read 13 bytes"
    assert probe.call("write_repo", "asg_utils.py").startswith("denied")
    assert probe.call("write_repo", "scratch.txt") == "written"     # the scratch dir is writable


def test_runs_unprivileged_with_clean_env(probe):
    uid, pid, env = probe.call("whoami")
    assert uid >= layout.UID_BASE and pid < 10                  # fresh uid, own pid namespace
    assert "JPY_PARENT_PID" not in env and env["MPLBACKEND"] == "Agg"
    assert env["OMP_NUM_THREADS"] == "1" and not any("deepgrade" in v.lower() for v in env.values())
    eff = [line for line in probe.call("caps") if line.startswith("CapEff")][0]
    assert eff.split()[1].strip("0") == ""


def test_seccomp_refuses_namespace_mount_and_ptrace_syscalls(probe):
    if not launcher.seccomp_active(SandboxPolicy()):
        pytest.skip("seccomp filter not supported here")
    out = probe.call("kernel_surface")
    for name in ("unshare_user", "unshare_mount", "ptrace_attach_1", "mount", "setns"):
        assert out[name] == (-1, 1), (name, out[name])          # -1, EPERM
    assert out["thread"] is True and out["subprocess"] == "hi\n"   # ordinary work still fine


# ------------------------------------------------------------------------------------ hostile code
def test_forged_protocol_frames_are_just_output():
    forge = '''
import json, os, struct, sys
def forge():
    body = json.dumps({"__dict__": {"ok": True, "value": "forged"}}).encode()
    frame = struct.pack(">I", len(body)) + body
    sys.stdout.write(frame.decode())
    sys.__stdout__.write(frame.decode())
    os.write(1, frame)
    os.write(2, frame)
    print(frame)
    return "real"
'''
    with fresh() as s:
        s.load([{"index": 0, "source": forge}])
        assert s.call("forge") == "real"
        assert "forged" in s.last_output["stdout"]
        assert s.call("forge") == "real"       # the stream stayed in sync


def test_monkeypatching_inside_does_not_break_the_worker():
    patch = '''
import json, numpy as np, builtins, base64
json.dumps = lambda *a, **k: '"pwned"'
base64.b64encode = lambda b: b"AAAA"
np.asarray = lambda *a, **k: None
np.frombuffer = None
builtins.isinstance = lambda *a: True
builtins.callable = lambda *a: True
def f():
    return np.arange(3.0)
'''
    with fresh() as s:
        assert not s.load([{"index": 0, "source": patch}]).errors
        assert s.call("f").tolist() == [0.0, 1.0, 2.0]


def test_infinite_loop_times_out_and_sandbox_is_gone():
    with fresh(call_timeout_s=1) as s:
        s.load([{"index": 0, "source": "import signal\n"
                 "def spin():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass\n"
                 "def ok():\n    return 1"}])
        uid = s.uid
        t0 = time.monotonic()
        with pytest.raises(StudentError) as info:
            s.call("spin")
        assert info.value.kind == "timeout" and time.monotonic() - t0 < 3
        assert not s.alive
        t0 = time.monotonic()
        with pytest.raises(StudentError) as info:
            s.call("ok")
        assert info.value.kind == "crashed" and time.monotonic() - t0 < 0.1
        assert _wait_gone(uid) == []
        s.restart()                   # the engine may restart: same cells, fresh sandbox
        assert s.call("ok") == 1


def test_memory_bomb_is_stopped():
    with fresh(address_space_bytes=1024 ** 3) as s:
        s.load([{"index": 0, "source": "import numpy as np\n"
                 "def bomb():\n    return bytearray(3 * 1024 ** 3)\n"
                 "def np_bomb():\n    return np.ones((20000, 20000))\n"
                 "def grow():\n    keep = []\n    while True:\n        keep.append(bytearray(50 * 1024 ** 2))\n"
                 "def ok():\n    return 2"}])
        for fn in ("bomb", "np_bomb", "grow"):
            with pytest.raises(StudentError) as info:
                s.call(fn)
            assert info.value.kind == "memory", (fn, info.value)
        assert s.call("ok") == 2


def test_fork_bomb_is_contained():
    bomb = '''
import os
def bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass
'''
    t0 = time.monotonic()
    with fresh(call_timeout_s=2, max_processes=20) as s:
        s.load([{"index": 0, "source": bomb}])
        uid = s.uid
        with pytest.raises(StudentError) as info:
            s.call("bomb")
        assert info.value.kind in ("timeout", "crashed")
        peak = len(_uid_processes(uid))
    assert time.monotonic() - t0 < 10
    assert peak <= 20
    assert _wait_gone(uid) == []        # every process of the sandbox (all share its uid) is gone
    assert not [p for p in _bwrap_children() if p.get("uid") == uid]


def test_huge_file_is_capped():
    writer = '''
import os
def write(n_mib):
    try:
        with open("big.bin", "wb") as fh:
            for _ in range(n_mib):
                fh.write(b"x" * 1024 * 1024)
    except OSError as exc:
        return "stopped: " + exc.strerror
    return os.path.getsize("big.bin")
def many(n):
    try:
        for i in range(n):
            with open("f%d.bin" % i, "wb") as fh:
                fh.write(b"x" * 1024 * 1024)
    except OSError as exc:
        return "stopped at %d: %s" % (i, exc.strerror)
    return "all written"
'''
    with fresh(max_file_bytes=2 * 1024 ** 2, scratch_bytes=8 * 1024 ** 2) as s:
        s.load([{"index": 0, "source": writer}])
        assert s.call("write", 1) == 1024 ** 2
        assert s.call("write", 5) == "stopped: File too large"
        assert s.call("many", 20).startswith("stopped at")        # the scratch tmpfs is bounded


def test_exit_and_kill_attempts_crash_only_the_sandbox():
    code = '''
import os, sys, signal
def sys_exit():
    sys.exit(0)
def os_exit():
    os._exit(0)
def kill_all():
    for pid in (os.getppid(), 1, -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return "survived"
'''
    with fresh() as s:
        s.load([{"index": 0, "source": code}])
        with pytest.raises(StudentError) as info:
            s.call("sys_exit")
        assert info.value.kind == "exception" and "SystemExit" in info.value.message
        with pytest.raises(StudentError) as info:
            s.call("os_exit")
        assert info.value.kind == "crashed"
        s.restart()
        assert s.call("kill_all") == "survived"    # nothing else it may signal; init is immune
        assert s.alive
    assert os.getpid() > 0            # the trusted process is alive, obviously


def test_load_timeout_soft_and_hard():
    cells = [
        {"index": 0, "source": "import time\nwhile True:\n    time.sleep(0.01)"},   # soft: SIGALRM
        {"index": 1, "source": "def a():\n    return 'a'"},
        {"index": 2, "source": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                               "while True:\n    pass"},                          # hard: killed
        {"index": 3, "source": "def b():\n    return 'b'"},
    ]
    with fresh(cell_timeout_s=0.5) as s:
        report = s.load(cells)
        assert [c.status for c in report.cells] == ["timeout", "ok", "timeout", "not_run"]
        assert not report.alive and not s.alive
        report = s.restart()                   # reloads the same cells, skipping the hung one
        assert [c.index for c in report.cells] == [0, 1, 3]
        assert report.alive and s.call("a") == "a" and s.call("b") == "b"


def test_submission_budget_is_enforced():
    with fresh(submission_timeout_s=3, call_timeout_s=10) as s:
        s.load([{"index": 0, "source": "import time\ndef nap(t):\n    time.sleep(t)\n    return t"}])
        assert s.call("nap", 0.1) == 0.1
        with pytest.raises(StudentError) as info:
            s.call("nap", 5)
        assert info.value.kind == "timeout" and "submission" in info.value.message
        with pytest.raises(StudentError) as info:      # a restart does not renew the budget
            s.restart()
        assert info.value.kind == "timeout"


def test_startup_and_call_overheads_are_small():
    t0 = time.monotonic()
    with fresh() as s:
        start = time.monotonic() - t0
        s.load([{"index": 0, "source": "def f(x):\n    return x"}])
        arr = np.zeros((100, 100))
        t1 = time.monotonic()
        for _ in range(50):
            s.call("f", arr)
        per_call = (time.monotonic() - t1) / 50
    assert start < 2.0 and per_call < 0.05, (start, per_call)


def test_cpu_limit_kills_busy_loop():
    with fresh(cpu_seconds=1, call_timeout_s=20) as s:
        s.load([{"index": 0, "source": "def spin():\n    while True:\n        pass"}])
        t0 = time.monotonic()
        with pytest.raises(StudentError) as info:
            s.call("spin")
        assert info.value.kind == "timeout" and "CPU" in info.value.message
        assert time.monotonic() - t0 < 15      # 1 CPU-second; wall time stretches on a busy box


def test_garbage_on_the_reply_fd_is_rejected_not_trusted():
    junk = '''
import os
def junk():
    for fd in range(3, 16):
        try:
            os.write(fd, b"\\x7f\\xff\\xff\\xff" + b"x" * 100)
        except OSError:
            pass
    return 1
'''
    with fresh() as s:
        s.load([{"index": 0, "source": junk}])
        with pytest.raises(StudentError) as info:
            s.call("junk")
        assert info.value.kind == "bad_output" and not s.alive


def test_memory_summed_over_forked_processes_is_bounded():
    hog = '''
import os, time
def hog(n, mib):
    for _ in range(n):
        if os.fork() == 0:
            block = bytearray(mib * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(60)
            os._exit(0)
    time.sleep(60)
'''
    with fresh(address_space_bytes=1024 ** 3, max_total_memory_bytes=700 * 1024 ** 2,
               call_timeout_s=20) as s:
        s.load([{"index": 0, "source": hog}])
        t0 = time.monotonic()
        with pytest.raises(StudentError) as info:
            s.call("hog", 4, 300)          # each child is far below RLIMIT_AS; the sum is not
        assert info.value.kind == "memory" and time.monotonic() - t0 < 15
        assert _wait_gone(s.uid) == []


def test_preamble_failure_is_reported_and_cells_follow_a_good_preamble(tmp_path):
    (tmp_path / "helpers.py").write_text("import time\nSLOW = time.sleep(0.3)\ndef h():\n    return 'h'\n")
    with fresh(tmp_path, cell_timeout_s=1) as s:
        with pytest.raises(StudentError) as info:
            s.load([{"index": 0, "source": "x = 1"}], preamble="from missing_helpers import *")
        assert info.value.kind == "exception" and "preamble" in info.value.message
        report = s.load([{"index": 0, "source": "import time\ntime.sleep(0.8)\ny = h()"},
                         {"index": 1, "source": "def g():\n    return y"}], preamble="from helpers import *")
        assert [c.status for c in report.cells] == ["ok", "ok"] and s.call("g") == "h"
