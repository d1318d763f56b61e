"""Dataset generation and live CPU labelling on a Ray cluster (``--ray ADDRESS``).

The same work as the local pool (:func:`trainer.generate.generate`) and the serial CPU pass
(:mod:`trainer.cpu_pass`), spread over the nodes of a Ray cluster. Imported only when ``--ray``
is given; without Ray installed, importing it raises a one-line :class:`UnavailableError`
naming the ``cluster`` extra.

The driver owns the store: tasks return records and the driver appends them to its shard
writers as they arrive, so killing the driver or losing a node loses at most the models in
flight, and a rerun skips what is stored. Placement is said with Ray resources:

- a model task (sample, convert, read, Vela) takes one CPU anywhere in the cluster;
- a measurement on live target ``T`` takes the custom resource ``target:T``, which a board
  declares with one unit (``ray start --address=... --resources='{"target:T": 1}'``), hence one
  measurement at a time per board, and every CPU its node offers, so that no other task of
  the cluster shares the board meanwhile. The label keeps the fingerprint of the node that
  measured it.

A task whose worker or node dies is retried by Ray (``max_retries``); one still lost after
that, or waiting for a board that left the cluster, is counted as lost and not stored: the
next run does it again.
"""

from __future__ import annotations

import logging
import socket
import warnings
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from edge_predictor.errors import InputError, UnavailableError

try:
    import ray
    from ray import exceptions as rex
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError:
    raise UnavailableError("--ray needs Ray; install it with pip install "
                           "'edge-perf[cluster]'") from None

__all__ = ["connected", "model_records", "cpu_pass_ray", "TARGET_PREFIX", "RETRIES"]

TARGET_PREFIX = "target:"
RETRIES = 3  # re-runs of a task whose worker or node died
LOST = object()  # the value of a task that system failures took


def _line(err: BaseException) -> str:
    if isinstance(err, rex.RayTaskError) and err.cause is not None:
        err = err.cause
    text = str(err).strip().splitlines()
    return "{}: {}".format(type(err).__name__, text[-1][:200] if text else "")


@contextmanager
def connected(address: str) -> Iterator[None]:
    """Connect this process to the cluster at ``address`` (as :func:`ray.init` takes it:
    ``auto``, ``host:port``, ``ray://host:port``) unless it already is; disconnect after."""
    if ray.is_initialized():
        yield
        return
    _check_port(address)
    try:
        with warnings.catch_warnings():  # the client's timeout warning: our line says it
            warnings.simplefilter("ignore")
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except Exception as err:  # ConnectionError, ValueError, client errors: one line for all
        raise UnavailableError("cannot reach a Ray cluster at '{}' ({})".format(
            address, _line(err))) from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_port(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on: Ray itself
    retries such an address for minutes."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not (host and port.isdigit()):
        return  # auto, or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise UnavailableError("cannot reach a Ray cluster at '{}' ({})".format(
            address, err.strerror or err)) from None


def _node() -> str:
    """``ip/node-id`` of the node a task runs on (shown in progress, counted in stats)."""
    return "{}/{}".format(ray.util.get_node_ip_address(),
                          ray.get_runtime_context().get_node_id()[:8])


_prepared = []


def _prepare_model_worker() -> None:
    """Once per worker process: TensorFlow on one thread, and a clear error for a node that
    lacks the train extra (rather than a 'failed' record for every model it touches)."""
    if _prepared:
        return
    from .generate import _init_worker
    try:
        import ethosu  # noqa: F401
        _init_worker()
    except ImportError as err:
        raise UnavailableError("node {} lacks {}: install edge-perf[train] there, or join it "
                               "with --num-cpus=0 if it only measures".format(
                                   _node(), err.name)) from None
    _prepared.append(True)


@ray.remote(num_cpus=1, max_retries=RETRIES)
def _model_task(factory: Callable[[str, int], Dict[str, Any]], space: str, seed: int):
    from .generate import make_record
    if factory is make_record:
        _prepare_model_worker()
    return factory(space, seed), _node()


@ray.remote(num_cpus=1, max_retries=RETRIES)
def _bytes_task(rec: Dict[str, Any]) -> bytes:
    from .cpu_pass import _model_bytes, cached_model_bytes
    content = cached_model_bytes(rec)  # this node generated it
    if content is None:
        _prepare_model_worker()
        content = _model_bytes(rec)
    return content


@ray.remote(max_retries=RETRIES)
def _measure_task(content: bytes, min_time_s: float):
    from benches.labelers.cpu import label_cpu
    try:
        res = label_cpu(content, threads=1, warmup=10, runs=30, min_time_s=min_time_s)
    except Exception as err:  # one bad model must not stop a long pass
        res = {"error": _line(err)}
    return res, _node()


@ray.remote(num_cpus=0)
def _probe() -> str:
    from benches.labelers.cpu import cpu_target
    return cpu_target(threads=1)


class _Lane:
    """Work of one kind: ``(key, submit)`` pairs, at most ``limit`` in flight, needing
    ``resource`` (or nothing) on some live node."""

    def __init__(self, work: Iterable[Tuple[Any, Callable[[], Any]]], limit: int,
                 resource: Optional[str] = None):
        self.work, self.limit, self.resource = iter(work), max(1, limit), resource
        self.running = 0
        self.gone = False  # no live node offers the resource any more


def _stream(lanes: List[_Lane], task_errors: str = "raise",
            wait_s: float = 5.0) -> Iterator[Tuple[Any, Any, Optional[str]]]:
    """Run the lanes' tasks with a bounded number in flight; yield ``(key, value, node)`` as
    they finish, ``value`` being :data:`LOST` for a task system failures took (node ``None``)
    and, with ``task_errors="yield"``, the exception of a task that raised."""
    flying: Dict[Any, Tuple[Any, _Lane]] = {}

    def fill() -> Iterator[Tuple[Any, Any, Optional[str]]]:
        for lane in lanes:
            while lane.running < lane.limit:
                item = next(lane.work, None)
                if item is None:
                    break
                key, submit = item
                if lane.gone:
                    yield key, LOST, None
                    continue
                flying[submit()] = (key, lane)
                lane.running += 1

    yield from fill()
    while flying:
        ready, _ = ray.wait(list(flying), num_returns=1, timeout=wait_s)
        if not ready:  # slow tasks, or tasks waiting for a board that left
            yield from _drop_unplaceable(flying)
            yield from fill()
            continue
        key, lane = flying.pop(ready[0])
        lane.running -= 1
        try:
            value, node = ray.get(ready[0])
        except rex.RayTaskError as err:
            if task_errors == "raise":
                raise UnavailableError(_line(err)) from None
            yield key, err, None
        except rex.RayError:  # worker, node or object lost beyond the retries
            yield key, LOST, None
        else:
            yield key, value, node
        yield from fill()


def _drop_unplaceable(flying: Dict[Any, Tuple[Any, _Lane]]):
    offered = ray.cluster_resources()
    for ref, (key, lane) in list(flying.items()):
        if lane.resource and offered.get(lane.resource, 0) < 1:
            lane.gone = True
            ray.cancel(ref, force=True)
            del flying[ref]
            lane.running -= 1
            yield key, LOST, None


def model_records(address: str, factory: Callable[[str, int], Dict[str, Any]], space: str,
                  seeds: List[int], stats: Dict[str, Any],
                  in_flight: Optional[int] = None) -> Iterator[Tuple[Dict[str, Any], str]]:
    """Build the model records of ``seeds`` on the cluster; yield ``(record, node)`` as they
    come, counting lost tasks in ``stats["lost"]``.

    Args:
        address: the cluster, as :func:`ray.init` takes it.
        factory: ``(space, seed) -> record``, importable on every node (or picklable).
        space: the design space.
        seeds: the seeds to build.
        stats: the run's counts; ``lost`` is added to it.
        in_flight: tasks submitted at once (default twice the cluster's CPUs).

    Raises:
        UnavailableError: the cluster is unreachable, or a node cannot run the factory.
    """
    stats.setdefault("lost", 0)
    with connected(address):
        limit = in_flight or 2 * int(ray.cluster_resources().get("CPU", 1))
        work = ((s, lambda s=s: _model_task.remote(factory, space, s)) for s in seeds)
        for _, value, node in _stream([_Lane(work, limit, "CPU")]):
            if value is LOST:
                stats["lost"] += 1
            else:
                yield value, node


def _boards(targets: Optional[List[str]]) -> Dict[str, Tuple[str, int, int]]:
    """``{resource: (target id measured there, CPUs a measurement takes, nodes)}``."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    declared = sorted({r for n in alive for r in n["Resources"]
                       if r.startswith(TARGET_PREFIX + "cpu-")})
    wanted = [TARGET_PREFIX + t for t in targets] if targets else declared
    if not wanted:
        raise InputError("no node of the cluster declares a live CPU target; join a board with "
                         "ray start --address=HEAD --resources='{\"target:cpu-NAME\": 1}'")
    out = {}
    for res in wanted:
        nodes = [n for n in alive if n["Resources"].get(res, 0) >= 1]
        if not nodes:
            raise InputError("no node of the cluster declares '{}'; declared: {}".format(
                res, ", ".join(declared) or "none"))
        probes = [_probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote() for n in nodes]
        try:
            ids = set(ray.get(probes))
        except rex.RayError as err:
            raise UnavailableError("a node declaring '{}' cannot measure: {}".format(
                res, _line(err))) from None
        if len(ids) > 1:
            raise InputError("the nodes declaring '{}' measure as different CPU targets ({}); "
                             "give each kind of board its own name".format(
                                 res, ", ".join(sorted(ids))))
        out[res] = (ids.pop(), min(int(n["Resources"].get("CPU", 0)) for n in nodes),
                    len(nodes))
    return out


def cpu_pass_ray(address: str, store=None, targets: Optional[List[str]] = None,
                 space: Optional[str] = None, pass_no: int = 1, fraction: float = 0.05,
                 limit: Optional[int] = None, min_time_s: float = 0.5,
                 progress: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, Any]:
    """:func:`trainer.cpu_pass.cpu_pass` on the boards of a cluster, each board measuring
    every model (one at a time, alone on its node) for its own target.

    The model file comes from the driver's cache when it is there, else from a rebuild task on
    any CPU of the cluster.

    Args:
        address: the cluster, as :func:`ray.init` takes it.
        store: the dataset store (the driver's).
        targets: resource names without ``target:`` (default: every ``target:cpu-...``
            declared in the cluster).
        space, pass_no, fraction, limit, min_time_s, progress: as for ``cpu_pass``.

    Returns:
        ``{"targets": {target id: {"resource", "todo", "measured", "failed", "lost"}},
        "nodes": {node: measured}}``.

    Raises:
        UnavailableError: the cluster is unreachable or a board cannot measure.
        InputError: no node declares a wanted target.
    """
    from .cpu_pass import cached_model_bytes, label_record, todo_models
    from .store import LABELS, Store

    store = store or Store()
    with connected(address), ExitStack() as stack:
        lanes, writers, out = [], {}, {"targets": {}, "nodes": {}}
        for res, (target, cpus, n_nodes) in _boards(targets).items():
            todo = todo_models(store, target, space, pass_no, fraction, limit)
            out["targets"][target] = {"resource": res, "todo": len(todo), "measured": 0,
                                      "failed": 0, "lost": 0}
            writers[target] = stack.enter_context(store.writer(LABELS, target, shard_size=100))
            measure = _measure_task.options(num_cpus=cpus, resources={res: 1})

            def submit(rec, measure=measure):
                content = cached_model_bytes(rec)
                arg = content if content is not None else _bytes_task.remote(rec)
                return measure.remote(arg, min_time_s)

            work = (((target, rec), lambda rec=rec, f=submit: f(rec)) for rec in todo)
            lanes.append(_Lane(work, 2 * n_nodes, res))
        total = sum(t["todo"] for t in out["targets"].values())
        for i, ((target, rec), value, node) in enumerate(_stream(lanes, task_errors="yield")):
            counts = out["targets"][target]
            name = "{}-{} on {}".format(rec["space"], rec["seed"], target)
            if value is LOST:
                counts["lost"] += 1
                note = name + " lost"
            elif isinstance(value, Exception) or "error" in value:
                counts["failed"] += 1
                note = "{} failed: {}".format(name, _line(value) if isinstance(
                    value, Exception) else value["error"])
            elif value["target"] != target:
                counts["failed"] += 1
                note = "{} measured as {}".format(name, value["target"])
            else:
                writers[target].append(label_record(rec, target, pass_no, value))
                counts["measured"] += 1
                out["nodes"][node] = out["nodes"].get(node, 0) + 1
                note = "{} {:.3f} ms [{}]".format(name, value["labels"]["latency_ms"], node)
            if progress:
                progress(i + 1, total, note)
    return out
