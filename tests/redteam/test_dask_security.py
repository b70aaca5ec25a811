"""Dask clusters that grade must not run a stranger's code (issue 17, part 5).

``--scheduler local`` starts a cluster that speaks only mutual TLS with a certificate made for the run:
a plain ``tcp://`` client, a TLS client with its own certificate, one that trusts the cluster's CA but
has no client certificate, and a raw TLS socket are all refused and run nothing, while grading works
end to end over it. For a real cluster, the client's CA/certificate/key come from ``--tls-*`` (or Dask's
configuration), and a client without them cannot grade there.
"""
from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from distributed.security import Security

from autograder import dask_grading, dask_security
from autograder.dask_security import client_security, local_secure_cluster
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, gradebook_scores, released_course, submit  # noqa: F401

ENGINE = "gradingcourse:fake_grade"


def _touch(path: str) -> str:
    Path(path).write_text("a stranger ran code on the grading cluster")
    return "ran"


def _refused(address: str, security: Security | None, marker: Path) -> str:
    """Try to connect and run ``_touch``; return why it failed (the test fails if it ran)."""
    try:
        client = Client(address, security=security, timeout="3s")
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, TypeError(ssl context) ...
        return f"{type(exc).__name__}: {exc}"
    try:
        client.submit(_touch, str(marker), pure=False).result(timeout=5)
    except Exception as exc:  # noqa: BLE001
        return f"connected but could not run: {type(exc).__name__}"
    finally:
        client.close()
    pytest.fail(f"a client without the cluster's certificate ran code at {address}")


def test_the_local_cluster_refuses_every_client_without_its_certificate(tmp_path):
    marker = tmp_path / "pwned"
    with local_secure_cluster(1) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        with Client(cluster) as own:                          # the grader's client inherits the credentials
            assert own.submit(sum, [40, 2], pure=False).result(timeout=30) == 42
        port = int(address.rsplit(":", 1)[1])
        reasons = [
            _refused(f"tcp://127.0.0.1:{port}", None, marker),                           # plain TCP
            _refused(address, Security.temporary(), marker),                             # its own certificate
            _refused(address, Security(tls_ca_file=cluster.security.tls_ca_file,       # trusts the CA, no cert
                                       require_encryption=True), marker),
        ]
        assert all(reasons), reasons
        # a raw TLS handshake without a client certificate gets nowhere either
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
                with ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"\x00" * 64)
                    assert tls.recv(1) != b""                 # the server closes on us
                    raise ssl.SSLError("server answered a client without a certificate")
        # the workers listen with the same credentials
        for worker in cluster.scheduler_info["workers"]:
            assert worker.startswith("tls://")
            assert _refused(worker.replace("tls://", "tcp://"), None, marker)
    assert not marker.exists()


def test_grading_works_end_to_end_over_the_secured_local_cluster(course, monkeypatch):
    submit(course, "alice")
    submit(course, "bob", {"add": "    return a - b  # half"})
    seen = []
    real = dask_security.local_secure_cluster

    def spy(n_workers, **kwargs):
        cluster = real(n_workers, **kwargs)
        seen.append(cluster.scheduler_address)
        return cluster
    monkeypatch.setattr(dask_grading, "local_secure_cluster", spy)      # where the runner's Dask path calls it
    summary = grade_class(course, ASSIGNMENT, workers=1, scheduler="local", engine=ENGINE, progress=False)
    assert summary.mode == "dask-local" and summary.graded == 2 and summary.record_errors == []
    assert len(seen) == 1 and seen[0].startswith("tls://127.0.0.1:")
    assert gradebook_scores(course) == {"alice": {"test_add": 2.0, "test_mul": 3.0},
                                        "bob": {"test_add": 1.0, "test_mul": 3.0}}


@pytest.fixture
def tls_files(tmp_path):
    """CA, certificate and key files of a 'real' cluster (one self-signed certificate, as Dask's
    temporary() makes), written as an administrator would distribute them."""
    sec = Security.temporary()
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    files["ca"].write_text(sec.tls_ca_file)
    files["cert"].write_text(sec.tls_client_cert)
    files["key"].write_text(sec.tls_client_key)
    for f in files.values():
        f.chmod(0o600)
    return {k: str(v) for k, v in files.items()}


def test_a_real_tls_cluster_grades_only_for_clients_with_the_credentials(course, tls_files, tmp_path):
    submit(course, "alice")
    server = Security(tls_ca_file=tls_files["ca"], tls_scheduler_cert=tls_files["cert"],
                      tls_scheduler_key=tls_files["key"], tls_worker_cert=tls_files["cert"],
                      tls_worker_key=tls_files["key"], tls_client_cert=tls_files["cert"],
                      tls_client_key=tls_files["key"], require_encryption=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tls://",
                      security=server, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert _refused(address, None, tmp_path / "pwned")        # Dask's (empty) configuration: refused
        assert _refused(address, Security.temporary(), tmp_path / "pwned")
        summary = grade_class(course, ASSIGNMENT, scheduler=address, engine=ENGINE, progress=False,
                              dask_security=client_security(tls_files["ca"], tls_files["cert"], tls_files["key"]))
        assert summary.graded == 1 and gradebook_scores(course)["alice"] == {"test_add": 2.0, "test_mul": 3.0}
    assert not (tmp_path / "pwned").exists()


def test_tls_options_are_checked(tmp_path, tls_files):
    assert client_security() is None                               # Dask's configuration applies
    sec = client_security(tls_files["ca"], tls_files["cert"], tls_files["key"])
    assert sec.require_encryption and sec.tls_client_cert == tls_files["cert"]
    with pytest.raises(ValueError, match="no such file"):
        client_security(str(tmp_path / "nope.pem"), tls_files["cert"])
    with pytest.raises(ValueError, match="needs both"):
        client_security(None, tls_files["cert"], tls_files["key"])
    from autograder.cli import main
    res = CliRunner().invoke(main, ["grade", ASSIGNMENT, "--course", str(tmp_path), "--scheduler", "tls://x:1",
                                    "--tls-cert", tls_files["cert"]])
    assert res.exit_code != 0 and "needs both" in res.output
    res = CliRunner().invoke(main, ["grade", ASSIGNMENT, "--course", str(tmp_path / "no-course"),
                                    "--scheduler", "tcp://127.0.0.1:1"])
    assert res.exit_code != 0 and "plain TCP: anyone who can reach it can run code" in res.output
