"""Real infrastructure for fault tests: a throw-away PostgreSQL server and a multi-process Dask cluster,
both on 127.0.0.1, started by the tests themselves. If one cannot start, the test FAILS with the reason
(never skips): CI installs PostgreSQL (scripts/bootstrap.sh) and Dask comes with the project.

* :class:`PgServer`: ``initdb`` + ``pg_ctl`` as the ``postgres`` user (we run as root; PostgreSQL
  refuses root) on a random port, password authentication over TCP. ``stop()``/``start()`` simulate
  an outage. ``new_database()`` returns the URL of a fresh empty database.
* :class:`DaskCluster`: ``dask scheduler`` + N ``dask worker --nthreads 1 --no-nanny`` processes, with
  this tests folder on the workers' PYTHONPATH (the fake engine lives in gradingcourse.py).
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parent)
BIN = Path(sys.executable).parent
PG_PASSWORD = "pw-s3cret-Xq7"


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.05 s; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (apt-get install -y postgresql; "
                    "scripts/bootstrap.sh does this)")
    return found[-1]


def _as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


class PgServer:
    """A PostgreSQL cluster in a temp folder, listening on 127.0.0.1:<random port>."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="deepgrade-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        pwfile = self.dir / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        proc = _as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile),
                             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"])
        if proc.returncode != 0:
            pytest.fail(f"initdb failed: {proc.stderr[-2000:]}")
        self.start()

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}"

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        proc = _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                             "-w", "-t", "60", "start"])
        if proc.returncode != 0:
            log = (self.dir / "log").read_text()[-2000:] if (self.dir / "log").exists() else ""
            pytest.fail(f"PostgreSQL did not start: {proc.stdout[-1000:]} {proc.stderr[-1000:]} {log}")

    def stop(self, mode: str = "fast") -> None:
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def new_database(self, template: str | None = None) -> str:
        """A fresh database (a copy of database ``template`` when given); returns its URL."""
        import psycopg
        name = "dg_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=PG_PASSWORD,
                             dbname="postgres", autocommit=True) as conn:
            if template:               # a template must have no other sessions
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                             (template,))
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            else:
                conn.execute(f"CREATE DATABASE {name}")
        return f"{self.base_url}/{name}"

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh empty PostgreSQL database on the session's server."""
    return pg_server.new_database()


def use_database(root: Path, url: str, *, release: bool = True) -> None:
    """Make ``url`` the course's configured gradebook (and release the tiny assignment into it)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from gradingcourse import ASSIGNMENT
    with (root / "nbgrader_config.py").open("a") as fh:     # PostgreSQL enforces the course foreign key
        fh.write(f"c.CourseDirectory.db_url = {url!r}\nc.CourseDirectory.course_id = 'tiny_course'\n")
    if release:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        result = NbGraderAPI(config=cfg).generate_assignment(ASSIGNMENT, force=True)
        assert result["success"], result.get("log")


@pytest.fixture(scope="session")
def pg_template(pg_server, released_course, tmp_path_factory) -> str:
    """A database holding the released tiny assignment, copied (CREATE DATABASE ... TEMPLATE) per test."""
    folder = tmp_path_factory.mktemp("pg-template") / "course"
    shutil.copytree(released_course, folder)
    url = pg_server.new_database()
    use_database(folder, url)
    return url.rsplit("/", 1)[1]


def new_pg_course(root: Path, server, template: str) -> str:
    url = server.new_database(template=template)
    use_database(root, url, release=False)
    return url


# ------------------------------------------------------------------------------------------------ Dask


class DaskCluster:
    """``dask scheduler`` + ``workers`` single-thread worker processes on 127.0.0.1."""

    def __init__(self, workers: int = 2) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS_DIR, os.environ.get("PYTHONPATH", "")])}
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.start_scheduler()
        for _ in range(workers):
            self.add_worker()
        self.wait_for_workers(workers)

    def _spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dask"), *args], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                     "--no-dashboard")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"dask scheduler did not listen on {self.address} within 60 s")

    def add_worker(self) -> subprocess.Popen:
        w = self._spawn("worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                        "--host", "127.0.0.1")
        self.workers.append(w)
        return w

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client
        with Client(self.address, timeout="30s") as client:
            try:
                client.wait_for_workers(n, timeout=60)
            except TimeoutError:
                pytest.fail(f"{n} dask workers did not join {self.address} within 60 s")

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p is not None:
                self.kill(p)


@pytest.fixture
def dask_cluster():
    cluster = DaskCluster(workers=2)
    yield cluster
    cluster.close()
