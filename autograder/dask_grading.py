"""Grading on a Dask cluster without the Dask tax: batches per task, state per worker, plain-data answers.

What a Dask run used to cost beyond the local pool (measured, 2 workers, 2 shared cores), and what
this module does about each:

* **Per-worker start-up.** Workers were *spawned*: each started Python, imported distributed, the
  engine and — through the course's ``nbgrader_config.py``, which the engine reads for the function
  sets — nbgrader (≈ 3–6 CPU s per worker). The throw-away local cluster now *forks* its workers
  from the grading process, which has imported all of that already (:data:`LOCAL_SETTINGS`; the
  course lock and database connections are dropped in the child by :mod:`autograder.forksafe`).
* **Background work.** Every worker sampled its own stack every 10 ms (Dask's statistical
  profiler) and every server checked its event loop every 20 ms and its memory every 100 ms. None of
  that grades anything; the local cluster turns the profiler off and slows the rest down.
* **Per-task overhead.** A task now grades a *batch* of submissions (:func:`make_batches`: a few
  tasks per worker, at most :data:`BATCH_MAX` submissions each) with
  :func:`autograder.tasks.grade_batch`; sandboxes and the zygote the engine starts are per worker
  process (``autograder.sandbox.zygote.shared_zygote``) and :class:`GradingWorkerPlugin` resolves the
  engine when a worker joins and stops its zygotes when it leaves.
* **Answers.** A task answers with JSON text (:func:`autograder.tasks.decode_batch` checks it); no
  object of ours is unpickled from a worker.

Fault semantics are the runner's (module docstring of :mod:`autograder.runner`): any exception of the
cluster (lost scheduler, lost or cancelled task) is an :class:`~autograder.tasks.InfrastructureFailure`
for every submission of the batch (unrecorded; the next run grades them). ``KilledWorker`` — the task
took down ``allowed-failures`` workers in a row — is a notebook's doing, but a batch holds several:
its submissions are then retried one per task, and a single that is killed again is retried once more
after everything else, with the cluster idle (a worker dying under two tasks counts against both): only
a submission that kills its workers ALONE is recorded as ungradable.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import dask
from distributed import Client, as_completed
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from autograder.dask_security import local_secure_cluster
from autograder.tasks import InfrastructureFailure, decode_batch, grade_batch, resolve_engine, ungradable

BATCH_MAX = 8                   # submissions per task at most (a lost worker loses at most this much work)
TASKS_PER_WORKER = 4            # batches per worker (so that a slow batch does not leave a worker idle)
PLUGIN_NAME = "deepgrade-grading"

#: Dask settings of the throw-away local cluster (held while it runs, inherited by its workers)
LOCAL_SETTINGS = {
    "distributed.worker.multiprocessing-method": "fork",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class GradingWorkerPlugin(WorkerPlugin):
    """Per-worker grading state: the engine is resolved once when a worker joins; the shared zygotes the
    engine started in that worker process are stopped when it leaves (no sandbox outlives its worker)."""

    name = PLUGIN_NAME

    def __init__(self, engine: str | None):
        self.engine = engine

    def setup(self, worker) -> None:
        if self.engine:
            try:
                resolve_engine(self.engine)
            except Exception:  # noqa: BLE001 - the first task reports a bad engine per submission
                pass

    def teardown(self, worker) -> None:
        from autograder.sandbox.zygote import close_shared_zygotes
        close_shared_zygotes()


def make_batches(todo: list, workers: int) -> list[list]:
    """``todo`` in order, cut into batches of equal size: about :data:`TASKS_PER_WORKER` per worker,
    at most :data:`BATCH_MAX` submissions each (1 when there are few)."""
    if not todo:
        return []
    size = max(1, min(BATCH_MAX, math.ceil(len(todo) / (max(1, workers) * TASKS_PER_WORKER))))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def connect(scheduler: str | None, workers: int, security=None) -> tuple[Client, object, contextlib.ExitStack]:
    """A client of ``scheduler`` (None: of a new secured LocalCluster of ``workers`` workers), the cluster
    to close (None for a remote one) and the settings to release with it. Raises what Dask raised
    (OSError, TimeoutError, ValueError for a bad address ...) after cleaning up."""
    settings = contextlib.ExitStack()
    cluster = None
    try:
        if scheduler is None:                  # mutual TLS with a certificate made for this run
            settings.enter_context(dask.config.set(LOCAL_SETTINGS))
            cluster = local_secure_cluster(workers, silence_logs=40)
            client = Client(cluster)
        else:                                    # security None: Dask's configuration (dask_security)
            client = Client(scheduler, timeout="20s", security=security)
    except BaseException:
        if cluster is not None:
            cluster.close()
        settings.close()
        raise
    return client, cluster, settings


def run(connection: tuple, todo: list, engine: str | Callable, course_dir, seed: int | None,
        workers: int) -> Iterator[tuple[object, object]]:
    """Submit every batch NOW on ``connection`` (what :func:`connect` returned, closed when the iterator
    ends), then return an iterator of (submission, result | InfrastructureFailure) in completion order.

    ``todo``: the runner's ``Submission`` objects. Remote workers must see ``course_dir`` at the same
    path (shared file system) and have deepgrade installed."""
    client, cluster, settings = connection
    try:
        client.register_plugin(GradingWorkerPlugin(engine if isinstance(engine, str) else None))
        n_workers = len(client.scheduler_info().get("workers", {})) or workers
        futures = {_submit(client, batch, engine, course_dir, seed): batch
                   for batch in make_batches(list(todo), n_workers)}
    except Exception:
        _close(client, cluster, settings)
        raise
    return _drain(client, cluster, settings, futures, engine, course_dir, seed)


def _submit(client: Client, batch: list, engine, course_dir, seed, attempt: str = ""):
    items = [{"path": str(s.path), "assignment": s.assignment, "student": s.student} for s in batch]
    first = batch[0]
    return client.submit(grade_batch, engine, items, str(course_dir), seed, pure=False,
                         key=f"deepgrade-{first.assignment}-{first.student}-{len(batch)}-{first.checksum[:12]}{attempt}")


def _drain(client, cluster, settings, futures: dict, engine, course_dir, seed):
    """Yield (submission, result) as batches finish (see the module docstring for failures)."""
    def lost(batch, exc):
        return [(s, InfrastructureFailure(s.student, s.assignment, f"Dask: {type(exc).__name__}: {str(exc)[:300]}"))
                for s in batch]

    suspects: list = []        # killed while graded alone, but maybe beside another killer on the same worker
    try:
        done = as_completed(list(futures))
        for fut in done:
            batch = futures.pop(fut)
            try:
                answer = fut.result()
            except KilledWorker as exc:
                if len(batch) > 1:                     # which one was it? each alone tells
                    for s in batch:
                        single = _submit(client, [s], engine, course_dir, seed)
                        futures[single] = [s]
                        done.add(single)
                else:
                    suspects.append(batch[0])
                continue
            except Exception as exc:  # noqa: BLE001 - the cluster failed, not the notebook
                yield from lost(batch, exc)
                continue
            finally:
                fut.release()
            yield from zip(batch, decode_batch(answer, [(s.student, s.assignment) for s in batch]))
        # the cluster is idle now: each suspect runs with nothing beside it, so a worker that dies
        # again died of this notebook alone (never an innocent notebook's zero)
        while suspects:
            s = suspects[0]
            fut = _submit(client, [s], engine, course_dir, seed, attempt="-alone")
            try:
                answer = fut.result()
            except KilledWorker as exc:
                suspects.pop(0)
                yield s, ungradable(s.path, s.assignment, s.student,
                                    f"grader error: Dask workers died while grading this notebook ({exc})",
                                    seed=seed)
                continue
            except Exception as exc:  # noqa: BLE001 - the cluster failed, not the notebook
                suspects.pop(0)
                yield from lost([s], exc)
                continue
            finally:
                fut.release()
            suspects.pop(0)
            yield from zip([s], decode_batch(answer, [(s.student, s.assignment)]))
    except Exception as exc:  # noqa: BLE001 - the scheduler connection broke the iteration itself
        for batch in [*futures.values(), *([s] for s in suspects)]:
            yield from lost(batch, exc)
        futures.clear()
    finally:
        _close(client, cluster, settings)


def _close(client, cluster, settings: contextlib.ExitStack) -> None:
    try:
        client.close(timeout=10)
    except Exception:  # noqa: BLE001 - a lost scheduler: nothing left to close cleanly
        pass
    try:
        if cluster is not None:
            cluster.close()
    finally:
        settings.close()
