"""Corpus shard tasks on Dask: a ``LocalCluster`` by default, a running scheduler, or a batch system.

The corpus is a list of independent shard tasks (:func:`smeftfm.data.replicas.plan_shards`): each one draws the
replicas of a group of whole universes from per-universe seeds and writes one Parquet file per split through a
temporary file and a rename (:func:`smeftfm.data.replicas.write_shard`). That makes the output independent of
who runs a task and in which order: serial and Dask runs, with any number of workers, write the same bytes, and a
worker killed mid-shard leaves no partial file; the scheduler re-runs its task on another worker (Dask's
``allowed-failures``, default 3 deaths per task).

Where the tasks run comes from :class:`smeftfm.config.DaskParams` (``params.yaml`` ``dask``) or the
``--dask-workers/--dask-address`` options of ``smeftfm corpus``:

* ``enabled: false`` (default): serially inside the stage process, no Dask started;
* ``address: tcp://host:8786``: a running scheduler (e.g. ``dask scheduler`` + ``dask worker`` on a cluster);
* ``jobqueue: {kind: slurm, ...}``: ``dask-jobqueue`` submits ``jobs`` batch jobs (Slurm, PBS or HTCondor);
* otherwise a ``LocalCluster`` of ``workers`` processes with one thread each.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from ..config import DaskParams, JobqueueParams
from ..errors import SmeftfmError
from .replicas import Executor, serial_executor

__all__ = ["corpus_executor", "dask_client", "dask_executor", "jobqueue_cluster"]


def jobqueue_cluster(jq: JobqueueParams):
    """A ``dask-jobqueue`` cluster scaled to ``jq.jobs`` batch jobs."""
    try:
        import dask_jobqueue
    except ImportError:
        raise SmeftfmError("dask.jobqueue needs the dask-jobqueue package: pip install -e '.[cluster]'") from None
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster,
           "htcondor": dask_jobqueue.HTCondorCluster}[jq.kind]
    kw: dict[str, Any] = {"cores": jq.cores, "processes": jq.processes, "memory": jq.memory,
                          "walltime": jq.walltime, "job_extra_directives": list(jq.job_extra_directives)}
    if jq.kind != "htcondor":
        kw["queue"] = jq.queue
        kw["account"] = jq.account
    cluster = cls(**kw)
    cluster.scale(jobs=jq.jobs)
    return cluster


@contextlib.contextmanager
def dask_client(cfg: DaskParams) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cfg``: a scheduler address, a batch cluster or a LocalCluster (closed after)."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if cfg.address:
            try:
                client = stack.enter_context(Client(cfg.address, timeout="30s"))
            except OSError as err:
                raise SmeftfmError(f"cannot reach the Dask scheduler at {cfg.address} ({err}); start it with "
                                   "`dask scheduler` or fix dask.address / --dask-address") from None
        else:
            if cfg.jobqueue is not None:
                cluster = stack.enter_context(jobqueue_cluster(cfg.jobqueue))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=cfg.workers, threads_per_worker=1,
                                                           processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        yield client


def dask_executor(client: Any) -> Executor:
    """An executor submitting each shard task to ``client``; shared inputs are scattered once to every worker."""
    from distributed import as_completed

    def run(fn: Callable[..., dict], shared: dict[str, Any], tasks: list[dict[str, Any]]) -> Iterator[dict]:
        big = {k: v for k, v in shared.items() if not isinstance(v, str | int | float | tuple | list)}
        scattered = {k: client.scatter(v, broadcast=True) for k, v in big.items()}
        common = shared | scattered
        token = uuid.uuid4().hex[:8]
        futures = [client.submit(fn, **common, **task, key=f"corpus-shard-{task['index']:05d}-{token}", pure=False)
                   for task in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            client.cancel(futures)

    return run


@contextlib.contextmanager
def corpus_executor(cfg: DaskParams | None) -> Iterator[Executor]:
    """The executor of the corpus shard tasks: serial unless ``cfg.enabled`` (then Dask, closed on exit)."""
    if cfg is None or not cfg.enabled:
        yield serial_executor
        return
    with dask_client(cfg) as client:
        yield dask_executor(client)
