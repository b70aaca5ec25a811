"""Issue 17, class 7: instructors who are not root.

As an ordinary user, bubblewrap runs in a new user namespace; the separation a fresh uid gives a root
grader comes from the sandbox's private user, pid, mount and IPC namespaces instead. Run as root,
these tests start the probe as an unprivileged user (created if needed) with the system Python and
this checkout + venv on PYTHONPATH; run as an ordinary user (CI's non-root run), they probe directly.
If no file-hiding mode can run, grading is refused unless ``DEEPGRADE_SANDBOX`` names a weaker mode.
"""
from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import warnings
from pathlib import Path

import pytest

from autograder.sandbox import SandboxUnavailable, launcher, layout, sandbox_mode

REPO = Path(__file__).resolve().parents[1]
USER = "deepgrade-ci"

PROBE = textwrap.dedent('''
    import json, os, sys, time
    from autograder.sandbox import SandboxPolicy, StudentError, StudentSession, launcher, processes, sandbox_mode
    repo = sys.argv[1]
    out = {"euid": os.geteuid(), "mode": sandbox_mode(), "privileged": launcher.privileged()}
    SRC = """
    import importlib.util, os, sys, time
    def info():
        return {"uid": os.getuid(), "pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
                "trusted": [n for n in ("reference", "autograder", "quizzes") if importlib.util.find_spec(n)],
                "repo": os.path.exists(REPO + "/reference/initialization.py"),
                "writable": [d for d in ("/", "/etc", "/dev", "/opt", "/usr") if os.access(d, os.W_OK)]}
    def forkbomb():
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
        except OSError:
            return n
    def hog():
        x = bytearray(400 << 20)
        time.sleep(3)
        return len(x)
    def plant():
        open("/tmp/secret", "w").write("TOPSECRET")
        return os.listdir("/tmp")
    def look():
        return sorted(os.listdir("/tmp"))
    def spin():
        while True:
            pass
    """.replace("REPO", repr(repo))
    policy = SandboxPolicy(max_total_memory_bytes=256 << 20, call_timeout_s=5)
    cells = [{"index": 0, "source": SRC}]
    roomy = SandboxPolicy(call_timeout_s=5)     # forked children each count their shared pages
    with StudentSession(None, policy, zygote=False) as a, StudentSession(None, roomy) as b:
        out["zygote"] = bool(b.zygote)
        a.load(cells)
        b.load(cells)
        out["info"] = a.call("info")
        a.call("plant")
        out["other_tmp"] = b.call("look")
        out["forks"] = b.call("forkbomb")
        try:
            a.call("hog")
            out["hog"] = "survived"
        except StudentError as e:
            out["hog"] = e.kind
    with StudentSession(None, policy, zygote=False) as c:
        c.load(cells)
        before = c._pids()
        ns = os.readlink(f"/proc/{before[0]}/ns/pid")
        try:
            c.call("spin", _timeout=1)
        except StudentError as e:
            out["spin"] = e.kind
        out["c_alive_after_timeout"] = c.alive
        out["c_pids_before"] = len(before)
        for _ in range(50):        # the namespace's processes die with it (zombies aside)
            left = []
            for p in os.listdir("/proc"):
                try:
                    if p.isdigit() and os.readlink(f"/proc/{p}/ns/pid") == ns \
                            and not processes.is_zombie(p):
                        left.append(p)
                except OSError:
                    pass
            if not left:
                break
            time.sleep(0.1)
        out["c_pids_after_kill"] = len(left)
    print("RESULT " + json.dumps(out))
''')


def _readable_by_others(path: Path) -> bool:
    return layout.world_readable(path)


def _run_probe_unprivileged() -> dict:
    site = sysconfig.get_paths()["purelib"]
    if os.geteuid() != 0:
        cmd, env = [sys.executable, "-c", PROBE, str(REPO)], dict(os.environ)
        preexec = None
    else:
        python = shutil.which("python3", path="/usr/bin:/bin")
        for need in (REPO / "autograder" / "sandbox" / "worker.py", Path(site) / "numpy"):
            assert _readable_by_others(need), f"{need} must be world-readable for the non-root probe"
        assert python, "the non-root probe needs a system python3 in /usr/bin"
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                           check=True)
        pw = pwd.getpwnam(USER)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": f"{REPO}:{site}",
               "LANG": "C.UTF-8"}
        cmd = [python, "-c", PROBE, str(REPO)]

        def preexec():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
    r = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, timeout=300,
                       preexec_fn=preexec)
    assert r.returncode == 0 and "RESULT " in r.stdout, r.stderr[-3000:]
    return json.loads(r.stdout.split("RESULT ", 1)[1])


@pytest.fixture(scope="module")
def probe() -> dict:
    return _run_probe_unprivileged()


def test_unprivileged_grader_gets_the_file_hiding_sandbox(probe):
    assert probe["euid"] != 0 and probe["privileged"] is False
    assert probe["mode"] == "bwrap"
    info = probe["info"]
    assert info["trusted"] == [] and info["repo"] is False
    assert info["writable"] == []                 # only /tmp and /dev/shm (size-capped) are
    assert info["pids"] <= 3                       # its own pid namespace: no host process


def test_unprivileged_sandboxes_are_separated_and_bounded(probe):
    assert probe["zygote"] is False               # zygotes need root: one sandbox per session
    assert "secret" not in probe["other_tmp"]
    assert 0 < probe["forks"] < 40                 # RLIMIT_NPROC counts per user namespace
    assert probe["hog"] == "memory"               # the watchdog finds the sandbox by pid namespace
    assert probe["spin"] == "timeout"
    assert probe["c_alive_after_timeout"] is False
    assert probe["c_pids_before"] >= 1 and probe["c_pids_after_kill"] == 0


# ---------------------------------------------------------------- refusing to grade without hiding
@pytest.fixture
def fresh_mode(monkeypatch):
    launcher._reset_mode_cache()
    yield monkeypatch
    monkeypatch.undo()
    launcher._reset_mode_cache()


def test_no_file_hiding_mode_refuses_to_grade(fresh_mode, tmp_path):
    fresh_mode.setenv("PATH", str(tmp_path))          # no bwrap on PATH
    fresh_mode.delenv("DEEPGRADE_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable, match="DEEPGRADE_SANDBOX=unshare"):
        sandbox_mode()
    fresh_mode.setenv("DEEPGRADE_SANDBOX", "bwrap")     # asking for bwrap never falls back
    with pytest.raises(SandboxUnavailable):
        sandbox_mode()


def test_weaker_mode_only_when_named(fresh_mode, tmp_path):
    fresh_mode.setenv("PATH", str(tmp_path))
    fresh_mode.setenv("DEEPGRADE_SANDBOX", "rlimit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sandbox_mode() == "rlimit"
    assert any("NO filesystem isolation" in str(w.message) for w in caught)


@pytest.mark.slow
def test_refusal_is_an_infrastructure_failure_not_a_zero(fresh_mode, tmp_path):
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    from autograder.engine import grade_submission
    from autograder.runner import grade_class
    from autograder.simulate import synthesize_submission

    course = tmp_path / "course"
    build_course(course, ["initialization"])
    release_course(course, ["initialization"])
    nb = synthesize_submission("initialization", {},
                               base_notebook=course / "release" / "initialization" /
                               "initialization.ipynb")
    d = course / "submitted" / "s1" / "initialization"
    d.mkdir(parents=True)
    (d / "initialization.ipynb").write_text(json.dumps(nb))
    (d / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
    fresh_mode.setenv("PATH", str(tmp_path))
    fresh_mode.delenv("DEEPGRADE_SANDBOX", raising=False)
    summary = grade_class(course, "initialization", workers=1, progress=False,
                          engine=functools.partial(grade_submission))
    assert summary.graded == 0 and summary.ungradable == 0
    assert summary.not_graded and "DEEPGRADE_SANDBOX" in " ".join(summary.not_graded)
