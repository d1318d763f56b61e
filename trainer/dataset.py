"""The EdgeDLPerf store as training arrays: featurize once, split by hash, upsample, batch.

* :func:`load_table` featurizes every ``ok`` model record of the store once. Sealed shards are
  immutable, so the arrays of each one are cached in ``<cache_dir>/<schema version>-<hash of the
  shard name and size>.npz`` (numpy arrays only, no pickles); a growing store featurizes only its
  new shards, and in-flight ``.partial`` records are featurized on every load.
* :func:`select` picks a target and metrics and drops models missing a label.
* :func:`split_of` is the fixed split: a sha256 of ``(space, seed)`` puts every model in
  ``test`` (20%), ``val`` (10% of the other 80%) or ``train``, whatever else the store holds.
* :func:`upsample` repeats small spaces until each is >= 10% of the training set (paper §4.4).
* :func:`batches` pads each batch to its largest graph, batching graphs of similar size.
* :class:`Normalizer`: per-feature mean/std of the training nodes, as JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edge_predictor.featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, featurize
from edge_predictor.graph import graph_from_record

from .store import LABELS, MODELS, Store

__all__ = ["FeatureTable", "Dataset", "Normalizer", "load_table", "select", "split_of",
           "split", "take_fraction", "upsample", "batches", "default_cache_dir",
           "TEST_FRACTION", "VAL_FRACTION"]

TEST_FRACTION = 0.2
VAL_FRACTION = 0.1  # of the 80% that is not test
_ARRAYS = ("x", "cat", "op", "node_ptr", "edges", "edge_ptr", "seed", "space")


def default_cache_dir() -> str:
    """``.cache/features`` at the repository root (untracked)."""
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
        raise ValueError("{} spaces cannot each be {:.0%} of the data".format(len(names),
                                                                          min_share))
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


# --- loading -----------------------------------------------------------------------------------

def _featurize_records(recs: Sequence[Dict[str, Any]]) -> Dict[str, np.ndarray]:
    xs, cats, ops, edges, n_nodes, n_edges = [], [], [], [], [0], [0]
    for r in recs:
        f = featurize(graph_from_record(r["graph"]))
        xs.append(f.x)
        cats.append(f.categories)
        ops.append(f.op_ids)
        edges.append(f.edges.astype(np.int32).reshape(-1, 2))
        n_nodes.append(f.n_nodes)
        n_edges.append(len(f.edges))
    nf = len(FEATURE_NAMES)
    return {
        "x": np.concatenate(xs) if xs else np.zeros((0, nf), np.float32),
        "cat": np.concatenate(cats).astype(np.int32) if cats else np.zeros(0, np.int32),
        "op": np.concatenate(ops).astype(np.int32) if ops else np.zeros(0, np.int32),
        "node_ptr": np.cumsum(n_nodes).astype(np.int64),
        "edges": np.concatenate(edges) if edges else np.zeros((0, 2), np.int32),
        "edge_ptr": np.cumsum(n_edges).astype(np.int64),
        "seed": np.array([r["seed"] for r in recs], dtype=np.int64),
        "space": np.array([r["space"] for r in recs], dtype=str),
    }


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
        ident = "{}/{}:{}".format(os.path.basename(os.path.dirname(path)),
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
    ok = [r for r in recs if r.get("status") == "ok" and r.get("graph")]
    arrays = _featurize_records(ok)
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
    """
    store = Store(root)
    cache_dir = default_cache_dir() if cache_dir == "" else cache_dir
    groups = list(spaces) if spaces else [None]
    files = [f for g in groups for f in store._files(MODELS, g)]  # same order as Store.records
    parts: List[Dict[str, np.ndarray]] = []
    seen = set()
    labels: List[Dict[str, Any]] = []
    for i, (path, sealed) in enumerate(files):
        a = _shard_arrays(path, sealed, cache_dir)
        keys = [tuple(k) for k in json.loads(str(a["keys_json"]))]
        keep = np.array([(s, int(k)) not in seen for s, k in zip(a["space"], a["seed"])], bool)
        seen.update(keys)
        shard_labels = json.loads(str(a["labels_json"]))
        parts.append(_take(a, keep))
        labels.extend(lab for lab, k in zip(shard_labels, keep) if k)
        if progress:
            progress(i + 1, len(files))
    table = _concat(parts)
    _attach_labels(table, labels, store)
    return table


def _take(a: Dict[str, np.ndarray], keep: np.ndarray) -> Dict[str, np.ndarray]:
    ptr, eptr = a["node_ptr"], a["edge_ptr"]
    g = np.flatnonzero(keep)
    nodes = np.concatenate([np.arange(ptr[i], ptr[i + 1]) for i in g]) if len(g) else []
    edges = np.concatenate([np.arange(eptr[i], eptr[i + 1]) for i in g]) if len(g) else []
    nodes, edges = np.asarray(nodes, np.int64), np.asarray(edges, np.int64)
    return {"x": a["x"][nodes], "cat": a["cat"][nodes], "op": a["op"][nodes],
            "edges": a["edges"][edges].reshape(-1, 2), "n_nodes": np.diff(ptr)[g],
            "n_edges": np.diff(eptr)[g], "seed": a["seed"][g], "space": a["space"][g]}


def _concat(parts: List[Dict[str, np.ndarray]]) -> FeatureTable:
    def cat(k, empty):
        arrs = [p[k] for p in parts if len(p[k])]
        return np.concatenate(arrs) if arrs else empty

    nf = len(FEATURE_NAMES)
    n_nodes = cat("n_nodes", np.zeros(0, np.int64))
    n_edges = cat("n_edges", np.zeros(0, np.int64))
    return FeatureTable(
        x=cat("x", np.zeros((0, nf), np.float32)), cat=cat("cat", np.zeros(0, np.int32)),
        op=cat("op", np.zeros(0, np.int32)),
        node_ptr=np.concatenate([[0], np.cumsum(n_nodes)]).astype(np.int64),
        edges=cat("edges", np.zeros((0, 2), np.int32)).astype(np.int32),
        edge_ptr=np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64),
        space=cat("space", np.zeros(0, str)).astype(str), seed=cat("seed", np.zeros(0, np.int64)))


def _attach_labels(table: FeatureTable, labels: List[Dict[str, Any]], store: Store) -> None:
    g = len(table.seed)
    row = {(s, int(k)): i for i, (s, k) in enumerate(zip(table.space, table.seed))}
    for i, per_target in enumerate(labels):
        for target, metrics in per_target.items():
            for metric, v in metrics.items():
                col = table.labels.setdefault(target, {}).setdefault(
                    metric, np.full(g, np.nan))
                col[i] = float(v) if v is not None else np.nan
    for rec in store.records(LABELS):
        i = row.get((rec.get("space"), int(rec.get("seed", -1))))
        if i is None or rec.get("pass", 1) != 1:
            continue  # pass 2 is the noise-floor re-measure, not a label
        for metric, v in rec.get("labels", {}).items():
            col = table.labels.setdefault(rec["target"], {}).setdefault(
                metric, np.full(g, np.nan))
            col[i] = float(v) if v is not None else np.nan


def select(table: FeatureTable, target: str, metrics: Sequence[str],
           spaces: Optional[Sequence[str]] = None) -> Dataset:
    """The models of ``spaces`` that have every one of ``metrics`` for ``target``.

    Raises:
        KeyError: the table has no such target or metric (message names what exists).
    """
    if target not in table.labels:
        raise KeyError("no labels for target {!r}; the store has: {}".format(
            target, ", ".join(sorted(table.labels)) or "none"))
    missing = [m for m in metrics if m not in table.labels[target]]
    if missing:
        raise KeyError("target {!r} has no {}; it has: {}".format(
            target, ", ".join(missing), ", ".join(sorted(table.labels[target]))))
    y = np.stack([table.labels[target][m] for m in metrics], axis=1)
    ok = np.isfinite(y).all(axis=1)
    if spaces:
        ok &= np.isin(table.space, list(spaces))
    idx = np.flatnonzero(ok)
    return Dataset(table, idx.astype(np.int64), y[idx], target, tuple(metrics))


# --- normalisation and batching ----------------------------------------------------------------

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
        t = ds.table
        g = np.unique(ds.index)
        nodes = np.concatenate([np.arange(t.node_ptr[i], t.node_ptr[i + 1]) for i in g])
        x = t.x[nodes].astype(np.float64)
        std = x.std(axis=0)
        std = np.where(std < cls.STD_FLOOR, 1.0, std)
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


def batches(ds: Dataset, batch_size: int, normalizer: Normalizer,
            rng: Optional[np.random.Generator] = None, pool: int = 32
            ) -> Iterator[Tuple[Dict[str, np.ndarray], np.ndarray]]:
    """Padded batches of graphs of similar size.

    With ``rng`` the examples are shuffled, then every ``pool`` batches' worth is sorted by size
    and cut into batches whose order is shuffled again; without it, all examples are sorted by
    size (deterministic, for evaluation).

    Yields:
        ``(inputs, rows)``: inputs as :data:`trainer.model.INPUT_NAMES` -- x float32 [B, N, F],
        cat int32 [B, N], op int32 [B, N], a float32 [B, N, N] symmetric 0/1, mask float32
        [B, N] -- with N the largest graph of the batch; rows int64 [B] positions in ``ds``.
    """
    t = ds.table
    sizes = t.n_nodes[ds.index]
    if rng is None:
        order = np.argsort(sizes, kind="stable")
        chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        perm = rng.permutation(len(ds))
        chunks = []
        for p in range(0, len(perm), batch_size * pool):
            block = perm[p:p + batch_size * pool]
            block = block[np.argsort(sizes[block], kind="stable")]
            chunks += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    mean, std = np.asarray(normalizer.mean), np.asarray(normalizer.std)
    for rows in chunks:
        g = ds.index[rows]
        n = int(sizes[rows].max())
        b, f = len(rows), t.x.shape[1]
        x = np.zeros((b, n, f), np.float32)
        cat = np.zeros((b, n), np.int32)
        op = np.zeros((b, n), np.int32)
        a = np.zeros((b, n, n), np.float32)
        mask = np.zeros((b, n), np.float32)
        for j, gi in enumerate(g):
            lo, hi = t.node_ptr[gi], t.node_ptr[gi + 1]
            k = hi - lo
            x[j, :k] = (t.x[lo:hi] - mean) / std
            cat[j, :k], op[j, :k], mask[j, :k] = t.cat[lo:hi], t.op[lo:hi], 1.0
            e = t.edges[t.edge_ptr[gi]:t.edge_ptr[gi + 1]]
            a[j, e[:, 0], e[:, 1]] = 1.0
            a[j, e[:, 1], e[:, 0]] = 1.0
        yield {"x": x, "cat": cat, "op": op, "a": a, "mask": mask}, rows.astype(np.int64)
