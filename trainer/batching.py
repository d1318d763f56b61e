"""Batches of a :class:`trainer.dataset.Dataset` for the two modes of :mod:`trainer.model`.

* :func:`batches`: padded batch mode (x [B, N, F], dense adjacency [B, N, N], node mask): what
  the converter exports and the Eagle baseline uses;
* :func:`disjoint_batches`: Spektral's disjoint mode (the nodes of B graphs stacked, a sparse
  block-diagonal adjacency, a graph index per node): what PerfSAGE trains and scores on.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .dataset import Dataset, Normalizer

__all__ = ["batches", "disjoint_batches"]


def _chunks(sizes: np.ndarray, batch_size: int, rng: Optional[np.random.Generator],
            pool: int) -> List[np.ndarray]:
    """Batches of positions: sorted by size without ``rng``; with it, shuffled, every ``pool``
    batches' worth sorted by size and cut, then the batch order shuffled."""
    if rng is None:
        order = np.argsort(sizes, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    perm = rng.permutation(len(sizes))
    chunks = []
    for p in range(0, len(perm), batch_size * pool):
        block = perm[p:p + batch_size * pool]
        block = block[np.argsort(sizes[block], kind="stable")]
        chunks += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def batches(ds: Dataset, batch_size: int, normalizer: Normalizer,
            rng: Optional[np.random.Generator] = None, pool: int = 32
            ) -> Iterator[Tuple[Dict[str, np.ndarray], np.ndarray]]:
    """Padded batches (batch mode) of graphs of similar size, for export and parity checks.

    With ``rng``, shuffled, then every ``pool`` batches' worth sorted by size, cut, and the batch
    order shuffled; without, sorted by size.

    Yields:
        ``(inputs, rows)``: inputs as :data:`trainer.model.INPUT_NAMES` -- x float32 [B, N, F],
        cat int32 [B, N], op int32 [B, N], a float32 [B, N, N] symmetric 0/1, mask float32
        [B, N] -- with N the largest graph of the batch; rows int64 [B] positions in ``ds``.
    """
    t = ds.table
    sizes = t.n_nodes[ds.index]
    mean, std = np.asarray(normalizer.mean), np.asarray(normalizer.std)
    for rows in _chunks(sizes, batch_size, rng, pool):
        g = ds.index[rows]
        n = int(sizes[rows].max())
        b, f = len(rows), t.x.shape[1]
        x, a = np.zeros((b, n, f), np.float32), np.zeros((b, n, n), np.float32)
        cat, op = np.zeros((b, n), np.int32), np.zeros((b, n), np.int32)
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


def disjoint_batches(ds: Dataset, batch_size: int, normalizer: Normalizer,
                     rng: Optional[np.random.Generator] = None
                     ) -> Iterator[Tuple[Dict[str, np.ndarray], np.ndarray]]:
    """Batches in Spektral's disjoint mode (no padding): the training and evaluation format.

    With ``rng`` the batches are random; without, graphs go in size order.

    Yields:
        ``(inputs, rows)``: inputs as :data:`trainer.model.DISJOINT_INPUT_NAMES` -- x float32
        [T, F] (T = nodes of the batch), cat int32 [T], op int32 [T], a_idx int64 [E2, 2] the
        nonzero (row, col) of the symmetric 0/1 block-diagonal adjacency [T, T] in row-major
        order, seg int32 [T] the batch position of every node's graph, n_nodes int64 [] = T --
        and rows int64 [B] positions in ``ds``.
    """
    t = ds.table
    sizes = t.n_nodes[ds.index]
    mean, std = np.asarray(normalizer.mean, np.float32), np.asarray(normalizer.std, np.float32)
    for rows in _chunks(sizes, batch_size, rng, 1):
        g = ds.index[rows]
        node_sl = [np.arange(t.node_ptr[gi], t.node_ptr[gi + 1]) for gi in g]
        nodes = np.concatenate(node_sl)
        offs = np.concatenate([[0], np.cumsum(sizes[rows])[:-1]])
        e = np.concatenate([t.edges[t.edge_ptr[gi]:t.edge_ptr[gi + 1]] + o
                            for gi, o in zip(g, offs)]).astype(np.int64)
        both = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0)  # row-major, no duplicates
        seg = np.repeat(np.arange(len(g), dtype=np.int32), sizes[rows])
        yield {"x": (t.x[nodes] - mean) / std, "cat": t.cat[nodes].astype(np.int32),
               "op": t.op[nodes].astype(np.int32), "a_idx": both.reshape(-1, 2), "seg": seg,
               "n_nodes": np.int64(len(nodes))}, rows.astype(np.int64)
