"""The EdgeDLPerf store as training arrays: featurize once, split by hash, upsample, batch.

:func:`load_table` featurizes every ``ok`` model once; sealed shards are immutable, so each one's
arrays are cached as ``<cache_dir>/<schema version>-<hash of shard name and size>.npz`` (plain
arrays, no pickles) and a growing store featurizes only its new shards (``.partial`` records on
every load). :func:`select` picks a target's metrics, dropping unlabelled models;
:func:`split_of` is the fixed sha256-of-``(space, seed)`` split (test 20%, val 10% of the rest);
:func:`upsample` is paper §4.4; :func:`batches` pads each batch of similar-size graphs to its
largest; :class:`Normalizer` holds per-feature mean/std as JSON.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge_predictor.errors import InputError
from edge_predictor.featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, featurize
from edge_predictor.graph import graph_from_record

from .store import LABELS, MODELS, Store

__all__ = ["FeatureTable", "Dataset", "Normalizer", "load_table", "select", "split_of",
           "split", "take_fraction", "upsample", "default_cache_dir", "TEST_FRACTION",
           "VAL_FRACTION"]

TEST_FRACTION = 0.2
VAL_FRACTION = 0.1  # of the 80% that is not test
_CACHE_FORMAT = 1  # bump when the cached arrays change


@functools.lru_cache(maxsize=None)
def _code_fingerprint() -> str:
    """Hash of the featurizer's source: a cache never outlives a change made without a bump."""
    here = pathlib.Path(graph_from_record.__code__.co_filename).parent
    names = ("featurize.py", "weight_stream.py", "npu_schedule.py", "npu_blocks.py",
             "npu_cost.py", "npu_cost_table.py", "npu_energy.py", "npu_energy_table.py",
             "npu_memory.py", "op_features.py", "op_table.py", "graph.py")
    return hashlib.sha256(b"".join((here / n).read_bytes() for n in names)).hexdigest()[:12]


def default_cache_dir() -> str:
    """``$EDGE_PERF_FEATURE_CACHE``, else ``.cache/features`` at the repository root
    (untracked)."""
    if os.environ.get("EDGE_PERF_FEATURE_CACHE"):
        return os.environ["EDGE_PERF_FEATURE_CACHE"]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(here, ".cache", "features")


@dataclass
class FeatureTable:
    """Every featurized ``ok`` model of a store, graphs concatenated (G graphs, T nodes).

    Attributes:
        x: float32 [T, F] node features (featurize's transforms, not normalised).
        cat: int32 [T] category index; op: int32 [T] op-vocabulary index.
        node_ptr: int64 [G+1] graph g owns nodes ``node_ptr[g]:node_ptr[g+1]``.
        edges: int32 [E, 2] directed (producer, consumer), local to their graph.
        edge_ptr: int64 [G+1] graph g owns edges ``edge_ptr[g]:edge_ptr[g+1]``.
        space: str [G]; seed: int64 [G].
        labels: target -> metric -> float64 [G] (NaN where the model has no such label).
    """

    x: np.ndarray
    cat: np.ndarray
    op: np.ndarray
    node_ptr: np.ndarray
    edges: np.ndarray
    edge_ptr: np.ndarray
    space: np.ndarray
    seed: np.ndarray
    labels: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def n_nodes(self) -> np.ndarray:
        """int64 [G] nodes per graph."""
        return np.diff(self.node_ptr)


@dataclass
class Dataset:
    """A selection of graphs of a :class:`FeatureTable` with their labels in units.

    Attributes:
        table: the featurized store.
        index: int64 [G'] graph ids into ``table`` (repeats allowed: upsampling).
        y: float64 [G', M] labels in units, one column per metric.
        target: the target name; metrics: the metric names, in column order.
    """

    table: FeatureTable
    index: np.ndarray
    y: np.ndarray
    target: str
    metrics: Tuple[str, ...]

    def __len__(self) -> int:
        return int(len(self.index))

    @property
    def spaces(self) -> np.ndarray:
        """str [G'] design space of every example."""
        return self.table.space[self.index]

    def subset(self, rows: np.ndarray) -> "Dataset":
        """The examples at positions ``rows`` (int [K] or bool [G'])."""
        return Dataset(self.table, self.index[rows], self.y[rows], self.target, self.metrics)

    def counts(self) -> Dict[str, int]:
        """Examples per space."""
        names, n = np.unique(self.spaces, return_counts=True)
        return {str(s): int(c) for s, c in zip(names, n)}


def _unit_hash(salt: str, space: str, seed: int) -> float:
    h = hashlib.sha256("{}:{}:{}".format(salt, space, int(seed)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


def split_of(space: str, seed: int) -> str:
    """The fixed split of a model: ``"test"``, ``"val"`` or ``"train"``, from its identity only."""
    u = _unit_hash("edge-perf-split", space, seed)
    if u < TEST_FRACTION:
        return "test"
    return "val" if u < TEST_FRACTION + (1.0 - TEST_FRACTION) * VAL_FRACTION else "train"


def split(ds: Dataset) -> Dict[str, Dataset]:
    """``{"train", "val", "test"}`` subsets of ``ds`` by :func:`split_of`."""
    names = np.array([split_of(s, k) for s, k in zip(ds.spaces, ds.table.seed[ds.index])])
    return {n: ds.subset(names == n) for n in ("train", "val", "test")}


def take_fraction(ds: Dataset, fraction: float) -> Dataset:
    """A hash-chosen ``fraction`` of ``ds`` (nested: a smaller fraction is a subset of a larger)."""
    if fraction >= 1.0:
        return ds
    u = np.array([_unit_hash("edge-perf-fraction", s, k)
                  for s, k in zip(ds.spaces, ds.table.seed[ds.index])])
    return ds.subset(u < fraction)


def upsample(ds: Dataset, min_share: float = 0.1) -> Dataset:
    """Repeat the examples of small spaces until each space is >= ``min_share`` of the total.

    Every space appears at least once; a space's repeat factor is the smallest integer that gives
    it ``min_share`` of the upsampled set (paper §4.4). Returns ``ds`` when nothing is needed.
    """
    names, n = np.unique(ds.spaces, return_counts=True)
    if len(names) < 2:
        return ds
    if min_share * len(names) > 1.0:
        raise ValueError("{} spaces cannot each be {:.0%}".format(len(names), min_share))
    reps = np.ones(len(names), dtype=np.int64)
    for _ in range(100):
        total = float((reps * n).sum())
        need = np.maximum(reps, np.ceil(min_share * total / n - 1e-9).astype(np.int64))
        if (need == reps).all():
            break
        reps = need
    if (reps == 1).all():
        return ds
    factor = dict(zip(names, reps))
    rows = np.repeat(np.arange(len(ds)), [factor[s] for s in ds.spaces])
    return ds.subset(rows)

def _featurize_records(recs: Sequence[Dict[str, Any]]) -> Dict[str, np.ndarray]:
    fs = [featurize(graph_from_record(r["graph"])) for r in recs]
    i32 = np.zeros(0, np.int32)
    return {"x": np.concatenate([np.zeros((0, len(FEATURE_NAMES)), np.float32)] +
                                [f.x for f in fs]),
            "cat": np.concatenate([i32] + [f.categories for f in fs]).astype(np.int32),
            "op": np.concatenate([i32] + [f.op_ids for f in fs]).astype(np.int32),
            "edges": np.concatenate([np.zeros((0, 2), np.int32)] +
                                    [f.edges.reshape(-1, 2) for f in fs]).astype(np.int32),
            "node_ptr": np.cumsum([0] + [f.n_nodes for f in fs]).astype(np.int64),
            "edge_ptr": np.cumsum([0] + [len(f.edges) for f in fs]).astype(np.int64),
            "seed": np.array([r["seed"] for r in recs], dtype=np.int64),
            "space": np.array([r["space"] for r in recs], dtype=str)}


def _read_shard(path: str, sealed: bool) -> List[Dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        raw = gzip.decompress(raw) if sealed else raw
    except (OSError, EOFError):
        return []  # a partial sealed (and removed) while we listed it
    out = []
    for line in raw.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn last line
    return out


def _shard_arrays(path: str, sealed: bool, cache_dir: Optional[str]) -> Dict[str, np.ndarray]:
    """Featurized ok records + ``keys_json`` (every record's key) + ``labels_json`` of a shard."""
    cache = None
    if sealed and cache_dir:
        ident = "v{}-{}:{}/{}:{}".format(_CACHE_FORMAT, _code_fingerprint(),
                                         os.path.basename(os.path.dirname(path)),
                                         os.path.basename(path), os.path.getsize(path))
        cache = os.path.join(cache_dir, "{}-{}.npz".format(
            FEATURE_SCHEMA_VERSION, hashlib.sha256(ident.encode()).hexdigest()[:24]))
        if os.path.exists(cache):
            try:
                with np.load(cache, allow_pickle=False) as z:
                    if str(z["ident"]) == ident:
                        return {k: z[k] for k in z.files}
            except (OSError, ValueError, KeyError):
                pass  # unreadable cache: rebuild it
    recs = _read_shard(path, sealed)
    pos = [i for i, r in enumerate(recs) if r.get("status") == "ok" and r.get("graph")]
    ok = [recs[i] for i in pos]
    arrays = _featurize_records(ok)
    arrays["pos"] = np.array(pos, dtype=np.int64)  # position of each ok record in the shard
    arrays["keys_json"] = np.array(json.dumps([[r.get("space"), r.get("seed")] for r in recs]))
    arrays["labels_json"] = np.array(json.dumps([r.get("labels", {}) for r in ok]))
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = "{}.{}.tmp.npz".format(cache[:-4], os.getpid())
        np.savez(tmp, ident=np.array(ident), **arrays)
        os.replace(tmp, cache)
    return arrays


def load_table(root: Optional[str] = None, spaces: Optional[Sequence[str]] = None,
               cache_dir: Optional[str] = "", progress: Optional[Callable[[int, int], None]]
               = None) -> FeatureTable:
    """Featurize the ok model records of a store (cached per sealed shard) and attach labels.

    Args:
        root: the store root (default :func:`trainer.store.default_root`).
        spaces: only these design spaces (default all).
        cache_dir: feature cache folder; ``""`` = :func:`default_cache_dir`, None = no cache.
        progress: called with (shards done, shards total).

    Returns:
        The :class:`FeatureTable`: first record of a duplicate ``(space, seed)`` wins, as in
        :meth:`Store.records`; CPU labels come from the label shards (pass 1 only).

    Raises:
        InputError: ``root`` is not a folder (a mistyped ``--data`` must not read as an empty
            store).
    """
    store = Store(root)
    if not os.path.isdir(store.root):
        raise InputError("{}: no dataset store here (not a folder)".format(store.root))
    cache_dir = default_cache_dir() if cache_dir == "" else cache_dir
    groups = list(spaces) if spaces else [None]
    files = [f for g in groups for f in store._files(MODELS, g)]  # same order as Store.records
    parts: List[Dict[str, np.ndarray]] = []
    seen = set()
    labels: List[Dict[str, Any]] = []
    for i, (path, sealed) in enumerate(files):
        a = _shard_arrays(path, sealed, cache_dir)
        keys = [tuple(k) for k in json.loads(str(a["keys_json"]))]
        first = [k not in seen and not seen.add(k) for k in keys]  # first occurrences only
        keep = np.array(first + [False], bool)[a["pos"]]
        parts.append(_take(a, keep))
        labels.extend(lab for lab, k in zip(json.loads(str(a["labels_json"])), keep) if k)
        if progress:
            progress(i + 1, len(files))
    table = _concat(parts)
    _attach_labels(table, labels, store)
    return table


def _take(a: Dict[str, np.ndarray], keep: np.ndarray) -> Dict[str, np.ndarray]:
    n_nodes, n_edges = np.diff(a["node_ptr"]), np.diff(a["edge_ptr"])
    nodes, edges = np.repeat(keep, n_nodes), np.repeat(keep, n_edges)
    return {"x": a["x"][nodes], "cat": a["cat"][nodes], "op": a["op"][nodes],
            "edges": a["edges"][edges].reshape(-1, 2), "n_nodes": n_nodes[keep],
            "n_edges": n_edges[keep], "seed": a["seed"][keep], "space": a["space"][keep]}


def _concat(parts: List[Dict[str, np.ndarray]]) -> FeatureTable:
    parts = parts + [_take(_featurize_records([]), np.zeros(0, bool))]
    c = {k: np.concatenate([p[k] for p in parts]) for k in parts[-1]}
    return FeatureTable(
        x=c["x"].astype(np.float32), cat=c["cat"].astype(np.int32), op=c["op"].astype(np.int32),
        node_ptr=np.concatenate([[0], np.cumsum(c["n_nodes"])]).astype(np.int64),
        edges=c["edges"].astype(np.int32),
        edge_ptr=np.concatenate([[0], np.cumsum(c["n_edges"])]).astype(np.int64),
        space=c["space"].astype(str), seed=c["seed"].astype(np.int64))


def _attach_labels(table: FeatureTable, labels: List[Dict[str, Any]], store: Store) -> None:
    row = {(s, int(k)): i for i, (s, k) in enumerate(zip(table.space, table.seed))}
    cpu = [(row.get((r.get("space"), int(r.get("seed", -1)))), {r.get("target"): r["labels"]})
           for r in store.records(LABELS) if r.get("pass", 1) == 1 and r.get("labels")]
    for i, per_target in list(enumerate(labels)) + cpu:  # pass 2 re-measures, not a label
        for target, metrics in per_target.items():
            for metric, v in metrics.items() if i is not None else ():
                col = table.labels.setdefault(target, {}).setdefault(
                    metric, np.full(len(table.seed), np.nan))
                col[i] = float(v) if v is not None else np.nan


def select(table: FeatureTable, target: str, metrics: Sequence[str],
           spaces: Optional[Sequence[str]] = None) -> Dataset:
    """The models of ``spaces`` that have every one of ``metrics`` for ``target``.

    Raises:
        KeyError: the table has no such target or metric (message names what exists).
    """
    have = table.labels.get(target, {})
    missing = [m for m in metrics if m not in have]
    if missing:
        raise KeyError("no {} labels for target {!r}; the store has: {}".format(
            ", ".join(missing), target, ", ".join("{}/{}".format(t, m) for t in sorted(
                table.labels) for m in sorted(table.labels[t])) or "none"))
    y = np.stack([table.labels[target][m] for m in metrics], axis=1)
    ok = np.isfinite(y).all(axis=1)
    if spaces:
        ok &= np.isin(table.space, list(spaces))
    idx = np.flatnonzero(ok)
    return Dataset(table, idx.astype(np.int64), y[idx], target, tuple(metrics))

@dataclass
class Normalizer:
    """Per-feature standardisation ``(x - mean) / std`` (JSON-serialisable numbers only).

    Attributes:
        mean: float [F]; std: float [F] (columns with std < ``STD_FLOOR`` get std 1, so a value
            never seen in training is not blown up).
    """

    mean: List[float]
    std: List[float]
    STD_FLOOR = 1e-3

    @classmethod
    def fit(cls, ds: Dataset) -> "Normalizer":
        """Statistics over the nodes of the distinct graphs of ``ds`` (repeats count once)."""
        used = np.zeros(len(ds.table.seed), bool)
        used[ds.index] = True
        x = ds.table.x[np.repeat(used, ds.table.n_nodes)].astype(np.float64)
        std = np.where(x.std(axis=0) < cls.STD_FLOOR, 1.0, x.std(axis=0))
        return cls([float(v) for v in x.mean(axis=0)], [float(v) for v in std])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """float32 [..., F] normalised features."""
        return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_json(self) -> Dict[str, Any]:
        """The JSON form (schema version, feature names, mean, std)."""
        return {"schema_version": FEATURE_SCHEMA_VERSION, "features": list(FEATURE_NAMES),
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Normalizer":
        """Inverse of :meth:`to_json`; refuses another feature schema."""
        if data.get("schema_version") != FEATURE_SCHEMA_VERSION or \
                list(data.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("normalizer of feature schema {} does not match schema {}".format(
                data.get("schema_version"), FEATURE_SCHEMA_VERSION))
        return cls(list(data["mean"]), list(data["std"]))
