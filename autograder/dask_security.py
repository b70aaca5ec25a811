"""Who may run code on the grading cluster: Dask's own TLS security (``distributed.security.Security``).

A Dask scheduler runs whatever any connected client submits, as the user who started its workers --
here the grader, with the reference solutions in reach. So:

* ``--scheduler local`` starts a throw-away cluster on 127.0.0.1 whose scheduler and workers only
  accept mutual TLS with a certificate made for this run (:meth:`Security.temporary`, held in memory,
  never written to disk): a plain ``tcp://`` client, or a TLS client without that certificate, is
  refused before it can submit anything;
* for a real cluster the client takes the CA, certificate and key given on the command line
  (``--tls-ca-file/--tls-cert/--tls-key``), or else Dask's own configuration
  (``distributed.comm.tls.*`` in ``~/.config/dask/*.yaml`` or ``DASK_DISTRIBUTED__COMM__TLS__*``),
  as any Dask client does. Securing that cluster's scheduler and workers is the cluster's set-up
  (README "Security").
"""
from __future__ import annotations

from pathlib import Path

from distributed import LocalCluster
from distributed.security import Security

LOCAL_HOST = "127.0.0.1"


def local_secure_cluster(n_workers: int, **kwargs) -> LocalCluster:
    """A LocalCluster on 127.0.0.1 that only speaks mutual TLS with a certificate made for it.

    ``Client(cluster)`` inherits the credentials; nobody else has them."""
    security = Security.temporary()
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host=LOCAL_HOST,
                        protocol="tls://", security=security, dashboard_address=None, **kwargs)


def client_security(ca_file: str | None = None, cert: str | None = None,
                    key: str | None = None) -> Security | None:
    """TLS credentials for connecting to a real cluster; None (= Dask's configuration) when no file is
    given. Given files must exist; a certificate without its CA (or the reverse) is refused, since
    one-sided TLS would either not authenticate the client or not verify the scheduler."""
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    for option, path in given.items():
        if path and not Path(path).is_file():
            raise ValueError(f"{option} {path}: no such file")
    if not (ca_file and cert):
        raise ValueError("TLS to a Dask cluster needs both --tls-ca-file (to verify the scheduler) and "
                         "--tls-cert (to prove who we are); --tls-key if the key is not in the certificate file")
    return Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key or None,
                    require_encryption=True)
