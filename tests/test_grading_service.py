"""The warm grading service (``deepgrade service``; autograder/grading_service.py, service_client.py).

Each test starts a real service (the venv's ``deepgrade`` console script, as a user would) in a private
folder under tmp_path and stops it in the finaliser; clients are the console script too. The course is
the tiny nbgrader course of gradingcourse.py with its deterministic fake engine (``# slow`` sleeps 1 s).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from autograder import service_client
from autograder.grading_service import _loggable, peer_allowed, stop
from gradingcourse import ASSIGNMENT, course, gradebook_scores, released_course, submit  # noqa: F401
from infra import BIN, TESTS_DIR, alive, wait_until

DEEPGRADE = str(BIN / "deepgrade")


class Service:
    """A grading service in ``folder`` and the environment its clients run with."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env = {**os.environ, "PYTHONPATH": TESTS_DIR, service_client.DIR_ENV: str(folder)}
        self.env.pop(service_client.SERVICE_ENV, None)
        self.pids: set[int] = set()

    def start(self, *args: str) -> dict:
        proc = self.run("service", "start", *args, timeout=120)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        status = self.status()
        assert status is not None, proc.stdout
        self.pids.add(status["pid"])
        return status

    def status(self) -> dict | None:
        return self._here(service_client.request, "status")

    def _here(self, function, *args):
        """``function(*args)`` in this process, as a client of this service."""
        old = os.environ.get(service_client.DIR_ENV)
        os.environ[service_client.DIR_ENV] = str(self.folder)
        try:
            return function(*args)
        finally:
            if old is None:
                del os.environ[service_client.DIR_ENV]
            else:
                os.environ[service_client.DIR_ENV] = old

    def run(self, *args: str, timeout: float = 120, env: dict | None = None, **kw):
        return subprocess.run([DEEPGRADE, *args], env=env or self.env, capture_output=True, text=True,
                              timeout=timeout, **kw)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([DEEPGRADE, *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def close(self) -> None:
        self._here(stop)                   # what `deepgrade service stop` does, without its start-up
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def _module_service(tmp_path_factory):
    svc = Service(tmp_path_factory.mktemp("grading-service") / "service")
    yield svc
    svc.close()


@pytest.fixture
def service(_module_service):
    """The module's service, (re)started if a previous test stopped or killed it (a start costs ~3 s)."""
    if _module_service.status() is None:
        _module_service.start()
    return _module_service


def _results(root: Path) -> dict:
    """{student: results.json content} of autograded/."""
    return {p.parts[-3]: json.loads(p.read_text()) for p in sorted((root / "autograded").glob("*/*/results.json"))}


def _small_class(root: Path) -> None:
    submit(root, "alice")
    submit(root, "bob", {"add": "    return a - b  # half"})
    submit(root, "carol", {"mul": "    raise NotImplementedError()"})


def _slow_class(root: Path, n: int = 4) -> None:
    for i in range(n):
        submit(root, f"s{i}", {"add": "    return a + b  # slow"})


def _grade(root: Path) -> list[str]:
    return ["grade", ASSIGNMENT, "--course", str(root), "--no-progress"]


# --------------------------------------------------------------------------------------------- same result


def test_forwarded_grade_equals_cold_grade_and_is_served(service, course, tmp_path):
    _small_class(course)
    cold_root = tmp_path / "cold"
    shutil.copytree(course, cold_root)
    cold = service.run(*_grade(cold_root), "-j", "2", "--no-service")
    before = service.status()["requests"]
    warm = service.run(*_grade(course), "-j", "2")
    assert service.status()["requests"] == before + 1          # the service ran it
    assert cold.returncode == warm.returncode == 0, cold.stderr + warm.stderr
    assert gradebook_scores(course) == gradebook_scores(cold_root)
    assert gradebook_scores(course)["bob"] == {"test_add": 1.0, "test_mul": 3.0}
    assert _results(course) == _results(cold_root) and set(_results(course)) == {"alice", "bob", "carol"}
    assert re.sub(r"\d", "#", warm.stdout) == re.sub(r"\d", "#", cold.stdout)   # the summary, times aside
    assert "graded" in warm.stdout
    # DEEPGRADE_SERVICE=off: in this process again, the service is not asked
    off = service.run(*_grade(course), "--force", env={**service.env, service_client.SERVICE_ENV: "off"})
    assert off.returncode == 0 and service.status()["requests"] == before + 1


@pytest.mark.parametrize("args", [["grade", "no_such_assignment"], ["grade", ASSIGNMENT, "--course", "{missing}"]],
                         ids=["unknown-assignment", "missing-course"])
def test_errors_and_exit_codes_cross_the_service(service, course, tmp_path, args):
    args = [a.replace("{missing}", str(tmp_path / "nowhere")) for a in args]
    if "--course" not in args:
        args += ["--course", str(course)]
    before = service.status()["requests"]
    cold = service.run(*args, "--no-service", cwd=tmp_path)
    warm = service.run(*args, cwd=tmp_path)
    assert service.status()["requests"] == before + 1
    assert cold.returncode == warm.returncode != 0
    error = [line for line in cold.stderr.splitlines() if line.startswith("Error")]
    assert error and error == [line for line in warm.stderr.splitlines() if line.startswith("Error")]


def test_the_child_works_in_the_clients_folder(service, course):
    """No --course: the child finds the course from the client's cwd (a folder inside it)."""
    _small_class(course)
    before = service.status()["requests"]
    proc = service.run("grade", ASSIGNMENT, "--no-progress", cwd=course / "submitted")
    assert proc.returncode == 0, proc.stderr
    assert service.status()["requests"] == before + 1
    assert gradebook_scores(course)["alice"] == {"test_add": 2.0, "test_mul": 3.0}


CLIENT_IMPORTS = """
import sys
sys.argv = ["deepgrade", "grade", "x"]
import autograder.entry
from autograder.service_client import fingerprint, forward
fingerprint()
assert forward(sys.argv[1:]) is None
heavy = ("click", "nbgrader", "nbformat", "sqlalchemy", "numpy", "autograder.cli", "autograder.runner")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy))
"""


def test_the_client_decides_with_the_standard_library_only(tmp_path):
    env = {**os.environ, service_client.DIR_ENV: str(tmp_path / "none")}
    env.pop(service_client.SERVICE_ENV, None)
    proc = subprocess.run([str(BIN / "python"), "-c", CLIENT_IMPORTS], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------- security


def test_peer_check_refuses_another_uid():
    me = os.getuid()
    assert peer_allowed(struct.pack("3i", 123, me, os.getgid()), me)
    assert not peer_allowed(struct.pack("3i", 123, me + 1, os.getgid()), me)
    assert not peer_allowed(struct.pack("3i", 123, 65534, 65534), me)


def test_the_service_log_hides_database_urls():
    argv = ["grade", "a", "--db-url", "postgresql://u:secret@h/db", "--db-url=postgresql://u:secret@h/db", "-j", "2"]
    logged = " ".join(_loggable(argv))
    assert "secret" not in logged and logged.endswith("-j 2") and logged.startswith("grade a --db-url")


def test_service_folder_and_socket_are_private_and_another_uid_is_refused(service):
    folder, sock = service.folder, service.folder / service_client.SOCKET_NAME
    assert folder.stat().st_mode & 0o777 == 0o700 and sock.stat().st_mode & 0o777 == 0o600
    if os.getuid() != 0:
        pytest.fail("this test needs root (CI runs as root) to connect as another uid")
    folder.chmod(0o711)                    # open the doors the folder and socket modes normally close:
    sock.chmod(0o666)                      # the service's own uid check must still refuse the stranger
    try:
        r, w = os.pipe()
        folder_fd = os.open(folder, os.O_PATH)    # tmp_path's parents are 0700: reach the folder through /proc
        pid = os.fork()
        if pid == 0:                                          # child: become nobody, connect, ask
            verdict = "error"
            try:
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(f"/proc/self/fd/{folder_fd}/{sock.name}")
                s.sendall(b'{"op": "status"}\n')
                verdict = "answered" if s.recv(4096) else "refused"
            except (BrokenPipeError, ConnectionResetError):    # closed by the service on accept
                verdict = "refused"
            except OSError as exc:
                verdict = f"oserror {exc}"
            finally:
                os.write(w, verdict.encode())
                os._exit(0)
        os.close(w)
        os.close(folder_fd)
        os.waitpid(pid, 0)
        verdict = os.read(r, 4096).decode()
        os.close(r)
    finally:
        folder.chmod(0o700)
        sock.chmod(0o600)
    assert verdict == "refused"
    assert "refused a connection from uid 65534" in (folder / service_client.LOG_NAME).read_text()
    assert service.status() is not None                         # still serving its own user


# --------------------------------------------------------------------------------------------- failures


def _running_child(service: Service) -> int:
    wait_until(lambda: service.status()["children"], 30, "the service's child")
    return service.status()["children"][0]


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_client_reaches_the_child_and_leaves_nothing_behind(service, course, sig):
    _slow_class(course)
    before = service.status()["requests"]
    client = service.popen(*_grade(course), "-j", "2")
    child = _running_child(service)
    wait_until(lambda: len(_group_members(child)) >= 3, 30, "the child's pool workers")
    client.send_signal(sig)
    _, err = client.communicate(timeout=15)
    if sig == signal.SIGINT:           # as without the service: click's "Aborted!", exit 1
        assert client.returncode == 1 and "Aborted" in err
    else:                              # as without the service: killed by the signal
        assert client.returncode == -sig
    wait_until(lambda: not _group_members(child), 10, "the child and its workers to exit")
    assert service.status()["children"] == [] and service.status()["requests"] == before + 1


# --------------------------------------------------------------------------------------------- freshness


def test_stale_environment_runs_cold_and_stops_the_service(service, course):
    _small_class(course)
    pid = service.status()["pid"]
    proc = service.run(*_grade(course), env={**service.env, "DEEPGRADE_ZYGOTE_IDLE_S": "7"})
    assert proc.returncode == 0, proc.stderr
    assert set(gradebook_scores(course)) == {"alice", "bob", "carol"}
    wait_until(lambda: not alive(pid), 10, "the stale service to exit")
    assert not (service.folder / service_client.SOCKET_NAME).exists()
    assert not (service.folder / service_client.PIDFILE_NAME).exists()
    # the next client finds no service and grades in its own process
    again = service.run(*_grade(course), "--force")
    assert again.returncode == 0, again.stderr


def test_fingerprint_follows_package_files_and_environment(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text("x = 1\n")
    monkeypatch.setattr(service_client, "package_dirs", lambda: [str(pkg)])
    env = {"DEEPGRADE_X": "1", "PATH": "/bin", "UNRELATED": "a"}
    base = service_client.fingerprint_inputs(environ=env)
    assert service_client.fingerprint(inputs=base) == service_client.fingerprint(environ=env)
    assert service_client.fingerprint(environ={**env, "UNRELATED": "b"}) == service_client.fingerprint(inputs=base)
    os.utime(pkg / "mod.py", ns=(1, 1))
    touched = service_client.fingerprint_inputs(environ=env)
    assert service_client.changed_inputs(base, touched) == [f"file {pkg / 'mod.py'}"]
    (pkg / "new.py").write_text("")
    (pkg / "catalog.toml").write_text("read at import")
    changed_env = service_client.fingerprint_inputs(environ={**env, "DEEPGRADE_X": "2", "OMP_NUM_THREADS": "1"})
    assert service_client.changed_inputs(touched, changed_env) == ["$DEEPGRADE_X", "$OMP_NUM_THREADS",
                                                                   f"file {pkg / 'catalog.toml'}",
                                                                   f"file {pkg / 'new.py'}"]
    assert len({service_client.fingerprint(inputs=i) for i in (base, touched, changed_env)}) == 3


def test_child_or_service_killed_mid_request_fails_clearly_and_the_next_run_grades_all(service, course):
    _slow_class(course)
    client = service.popen(*_grade(course), "-j", "1")
    child = _running_child(service)
    time.sleep(1.5)
    os.kill(child, signal.SIGKILL)
    _, err = client.communicate(timeout=10)
    assert client.returncode == 128 + signal.SIGKILL and "killed by SIGKILL" in err
    assert service.status()["children"] == []                  # the service survives its child

    client = service.popen(*_grade(course), "-j", "1")
    child = _running_child(service)
    time.sleep(1.5)
    os.kill(service.status()["pid"], signal.SIGKILL)
    _, err = client.communicate(timeout=10)
    assert client.returncode not in (0, None) and "grading service stopped" in err
    wait_until(lambda: not alive(child), 10, "the child to die with the service")
    assert (service.folder / service_client.SOCKET_NAME).exists()      # what the dead service left
    proc = service.run(*_grade(course), "-j", "2")              # runs cold, cleans up the leftovers
    assert proc.returncode == 0, proc.stderr
    assert not (service.folder / service_client.SOCKET_NAME).exists()
    assert not (service.folder / service_client.PIDFILE_NAME).exists()
    assert len(gradebook_scores(course)) == 4
    assert all(s == {"test_add": 2.0, "test_mul": 3.0} for s in gradebook_scores(course).values())


def test_idle_timeout_stops_the_service_and_removes_its_socket(tmp_path):
    svc = Service(tmp_path / "idle")
    try:
        pid = svc.start("--idle-timeout", "2")["pid"]
        wait_until(lambda: not alive(pid), 15, "the idle service to exit")
        assert not (svc.folder / service_client.SOCKET_NAME).exists()
        assert not (svc.folder / service_client.PIDFILE_NAME).exists()
    finally:
        svc.close()


def test_start_twice_is_harmless_and_stop_stops(service):
    pid = service.status()["pid"]
    status = service.run("service", "status")
    assert status.returncode == 0 and f"pid {pid}" in status.stdout and "(fresh)" in status.stdout
    stale = service.run("service", "status", env={**service.env, "DEEPGRADE_SOMETHING": "1"})
    assert "stale ($DEEPGRADE_SOMETHING changed)" in stale.stdout
    again = service.run("service", "start")
    assert again.returncode == 0 and "already runs" in again.stdout and f"pid {pid}" in again.stdout
    stopped = service.run("service", "stop")
    assert stopped.returncode == 0 and not alive(pid)
    assert service.run("service", "status").returncode == 1


WARM_SANDBOX = """
import json, os, sys
from autograder.grading_service import warm_sandbox_checks
from autograder.sandbox import launcher
warm_sandbox_checks()
print(json.dumps({"mode": launcher._MODE, "seccomp": launcher._SECCOMP_OK}))
"""


@pytest.mark.parametrize("chosen", ["", "rlimit"])
def test_the_service_runs_the_sandbox_self_tests_once_for_the_default_mode_only(chosen):
    """The forked commands inherit the bubblewrap self-tests' results (0.3 s each); a weaker mode an
    instructor chose is left for each command, whose own terminal gets its warning."""
    env = {**os.environ, "DEEPGRADE_SANDBOX": chosen}
    out = json.loads(subprocess.run([str(BIN / "python"), "-c", WARM_SANDBOX], env=env, capture_output=True,
                                    text=True, check=True).stdout)
    if chosen:
        assert out == {"mode": None, "seccomp": None}
    else:
        assert out["mode"] == "bwrap" and out["seccomp"] is True
