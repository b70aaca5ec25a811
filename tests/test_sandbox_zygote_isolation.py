"""Issue 15: a session forked from a zygote is isolated at least as well as a fresh sandbox.

Red-team style: every payload below is student code that tries to reach a sibling session, the zygote
or a later session, or to change what the next student sees. A fresh bubblewrap sandbox (one per
submission) stops all of them; each test asserts the forked child does too. The fairness test at the
end runs one probe of interpreter state in a fresh sandbox and in a forked child and asks for equal
answers (the pre-imported modules must not change what student code sees).
"""
from __future__ import annotations

import time

import pytest

from autograder.sandbox import SandboxPolicy, StudentError, StudentSession, sandbox_mode
from autograder.sandbox import zygote as zygote_module
from autograder.sandbox.layout import privileged
from autograder.sandbox.zygote import Zygote

POLICY = SandboxPolicy(call_timeout_s=5, max_processes=16, scratch_bytes=64 << 20,
                       max_total_memory_bytes=1 << 30)

ATTACKS = r'''
import ctypes, os, signal, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
_held = []
def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
def mine():
    return os.getpid()
def peek(pid):
    """What this session can read of another process: cmdline, environ, cwd, open fds."""
    seen = {}
    for what in ("cmdline", "environ", "status"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as fh:
                seen[what] = len(fh.read())
        except OSError:
            pass
    for what in ("cwd", "root"):
        try:
            seen[what] = os.listdir(f"/proc/{pid}/{what}")[:3]
        except OSError:
            pass
    return sorted(seen)
def signal_all():
    hit = []
    for pid in pids():
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGCONT)       # harmless if it lands; proves it could land
                hit.append(pid)
            except OSError:
                pass
    return hit
def ptrace_all():
    got = []
    for pid in pids():
        if pid != os.getpid() and libc.ptrace(16, pid, 0, 0) == 0:    # PTRACE_ATTACH
            got.append(pid)
    return got
def listen():
    """A TCP listener on loopback and an abstract unix socket, kept open for a sibling to find."""
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 47311)); tcp.listen(4)
    uni = socket.socket(socket.AF_UNIX)
    uni.bind("\0deepgrade-sibling"); uni.listen(4)
    _held.extend([tcp, uni])
    return "listening"
def reach_sibling():
    out = []
    for family, addr in ((socket.AF_INET, ("127.0.0.1", 47311)), (socket.AF_UNIX, "\0deepgrade-sibling")):
        s = socket.socket(family)
        s.settimeout(1)
        try:
            s.connect(addr)
            out.append(str(addr))
        except OSError:
            pass
        finally:
            s.close()
    return out
def internet():
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("1.1.1.1", 53))
        return "connected"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()
def interfaces():
    with open("/proc/net/dev") as fh:
        return sorted(line.split(":")[0].strip() for line in fh.readlines()[2:])
def tamper():
    """Change module state a later student could trip over."""
    import numpy, json
    numpy.dot = lambda *a, **k: 42
    numpy.random.seed(7)
    json.dumps = None
    sys.modules["numpy.linalg"].norm = lambda *a, **k: -1.0
    sys.modules["planted_by_a"] = sys
    os.environ["PLANTED"] = "1"
    sys.path.insert(0, "/tmp/planted")
    try:
        import matplotlib
        matplotlib.rcParams["lines.linewidth"] = 99.0
    except ImportError:
        pass
    return "tampered"
def pristine():
    import numpy, json
    bad = []
    if numpy.dot(numpy.ones(2), numpy.ones(2)) != 2.0:
        bad.append("numpy.dot")
    if numpy.linalg.norm(numpy.ones(4)) != 2.0:
        bad.append("norm")
    if json.dumps is None:
        bad.append("json")
    for name in ("planted_by_a",):
        if name in sys.modules:
            bad.append(name)
    if "PLANTED" in os.environ:
        bad.append("environ")
    if "/tmp/planted" in sys.path:
        bad.append("sys.path")
    if "matplotlib" in sys.modules and sys.modules["matplotlib"].rcParams["lines.linewidth"] == 99.0:
        bad.append("rcParams")
    return bad
def unseeded():
    import numpy, random
    return [float(numpy.random.rand()), random.random()]
def limits():
    import resource
    names = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE")
    return {n: list(resource.getrlimit(getattr(resource, n))) for n in names}
def cpu_used():
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def hog(mib):
    held = [bytearray(1 << 20) for _ in range(mib)]
    import time; time.sleep(2)
    return len(held)
'''


def _need_root_bwrap() -> None:
    if sandbox_mode() != "bwrap" or not privileged():
        pytest.fail(f"zygote sessions need privileged bubblewrap; mode {sandbox_mode()!r}, "
                    f"root={privileged()}")


@pytest.fixture(scope="module")
def assignment_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("zyg_iso")
    (d / "helpers.py").write_text("def helper():\n    return 'helped'\n")
    (d / "data").mkdir()
    (d / "data" / "x.txt").write_text("42")
    return d


@pytest.fixture(scope="module")
def zygote(assignment_dir):
    _need_root_bwrap()
    with Zygote(assignment_dir, POLICY, use_tensorflow=False) as z:
        yield z


def _child(zygote, assignment_dir, policy=POLICY) -> StudentSession:
    s = StudentSession(assignment_dir, policy, zygote=zygote)
    s.start()
    report = s.load([{"index": 0, "source": ATTACKS}])
    assert not report.errors, report.errors
    return s


def test_a_child_sees_no_other_process(zygote, assignment_dir):
    """Siblings and the zygote are not even visible (a fresh sandbox has its own pid namespace)."""
    with _child(zygote, assignment_dir) as a, _child(zygote, assignment_dir) as b:
        own = a.call("mine")
        visible = a.call("pids")
        assert b.call("mine") not in visible or b.call("pids") == visible  # not the same namespace
        assert len(visible) <= 2 and own in visible, visible    # itself and its namespace's init
        for pid in visible:
            if pid != own:
                assert a.call("peek", pid) in ([], ["cmdline", "status"]), a.call("peek", pid)
        assert a.call("signal_all") == [] and b.call("signal_all") == []
        assert a.call("ptrace_all") == [] and b.call("ptrace_all") == []
        assert a.alive and b.alive


def test_siblings_cannot_talk_over_loopback_or_abstract_sockets(zygote, assignment_dir):
    with _child(zygote, assignment_dir) as a, _child(zygote, assignment_dir) as b:
        assert a.call("listen") == "listening"
        assert a.call("reach_sibling") == ["('127.0.0.1', 47311)", "\x00deepgrade-sibling"]  # own: yes
        assert b.call("reach_sibling") == []


def test_a_child_has_no_network(zygote, assignment_dir):
    with _child(zygote, assignment_dir) as s:
        assert s.call("internet") != "connected"
        assert s.call("interfaces") == ["lo"]


def test_module_state_never_reaches_the_next_child(zygote, assignment_dir):
    with _child(zygote, assignment_dir) as a:
        assert a.call("tamper") == "tampered"
        assert len(a.call("pristine")) >= 5           # the tampering took effect in a itself
    with _child(zygote, assignment_dir) as later:
        assert later.call("pristine") == []


def test_unseeded_random_state_differs_between_children(zygote, assignment_dir):
    """Fresh interpreters seed NumPy's and Python's global generators from the OS; so must forks."""
    draws = []
    for _ in range(2):
        with _child(zygote, assignment_dir) as s:
            draws.append(s.call("unseeded"))
    assert draws[0][0] != draws[1][0] and draws[0][1] != draws[1][1]


def test_limits_hold_per_child(zygote, assignment_dir):
    policy = POLICY.resolved(False)
    with _child(zygote, assignment_dir) as s:
        got = s.call("limits")
        assert got["RLIMIT_CPU"][0] == policy.cpu_seconds
        assert got["RLIMIT_NPROC"][0] == policy.max_processes
        assert got["RLIMIT_FSIZE"][0] == policy.max_file_bytes
        assert got["RLIMIT_NOFILE"][0] == policy.max_open_files
        assert got["RLIMIT_AS"][0] >= policy.address_space_bytes
        assert s.call("cpu_used") < 2.0           # the zygote's import time is not charged to it
    small = SandboxPolicy(call_timeout_s=10, max_processes=16, max_total_memory_bytes=600 << 20)
    with _child(zygote, assignment_dir, small) as s:
        with pytest.raises(StudentError) as info:
            s.call("hog", 900)
        assert info.value.kind in ("memory", "crashed")
    with _child(zygote, assignment_dir) as after:    # the next child has its full budget
        assert after.call("hog", 300) == 300


PROBE = r'''
import os, sys, warnings
def state():
    import numpy as np
    return {
        "cwd": os.getcwd(), "listing": sorted(os.listdir(".")), "course": sorted(os.listdir("/course")),
        "home": os.environ.get("HOME"), "tmpdir": os.environ.get("TMPDIR"),
        "mplconfig": os.environ.get("MPLCONFIGDIR"), "mplbackend": os.environ.get("MPLBACKEND"),
        "env_keys": sorted(os.environ), "path": [p for p in sys.path],
        "warnings": [repr(f[:3]) for f in warnings.filters],
        "np_err": sorted(np.geterr().items()), "np_print": sorted(map(str, np.get_printoptions().items())),
        "recursion": sys.getrecursionlimit(), "writable_cwd": os.access(".", os.W_OK),
        "helper_is_link": os.path.islink("helpers.py"), "umask": os.umask(0o077),
        "pid": os.getpid(), "uid_is_root": os.getuid() == 0, "argv": sys.argv,
        "main": sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("_")),
    }
def plot():
    import matplotlib
    import matplotlib.pyplot as plt
    fig = plt.figure()
    plt.plot([1, 2], [3, 4])
    fig.savefig("p.png")
    return [matplotlib.get_backend(), os.path.getsize("p.png") > 0]
'''


def test_forked_child_sees_what_a_fresh_sandbox_shows(zygote, assignment_dir):
    answers = []
    slow = SandboxPolicy(call_timeout_s=90, max_processes=16, scratch_bytes=64 << 20)
    for zyg in (False, zygote):
        with StudentSession(assignment_dir, slow, zygote=zyg) as s:
            assert not s.load([{"index": 0, "source": PROBE}]).errors
            answers.append((s.call("state"), s.call("plot", _timeout=90)))   # fresh: font cache
    fresh, forked = answers
    assert forked == fresh


def test_default_forks_numpy_sessions_as_root(assignment_dir, monkeypatch):
    from autograder.sandbox.zygote import close_shared_zygotes
    _need_root_bwrap()
    monkeypatch.delenv("DEEPGRADE_ZYGOTE", raising=False)
    try:
        with StudentSession(assignment_dir, POLICY) as s:
            assert s.zygote is not False
        t0 = time.monotonic()
        with StudentSession(assignment_dir, POLICY) as s:
            assert s.start_s < 0.5
        assert time.monotonic() - t0 < 2.0
        monkeypatch.setenv("DEEPGRADE_ZYGOTE", "off")
        with StudentSession(assignment_dir, POLICY) as s:
            assert s.zygote is False
        # a kernel without the new mount API: the session falls back to a fresh sandbox (no zero)
        monkeypatch.setenv("DEEPGRADE_ZYGOTE", "all")
        monkeypatch.setattr(zygote_module, "detached_readonly_tree", _no_mount_api)
        with StudentSession(assignment_dir, POLICY) as s:
            assert not s.load([{"index": 0, "source": "from helpers import helper"}]).errors
            assert s.call("helper") == "helped" and s.zygote is False
    finally:
        close_shared_zygotes()


def _no_mount_api(path):
    raise OSError(38, f"open_tree({path}): Function not implemented")
