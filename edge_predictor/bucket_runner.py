"""One bundle bucket in an interpreter: its padded input buffers and the call (numpy only).

A bucket takes B graphs of at most N nodes. Its inputs (:mod:`edge_predictor.bundle`)::

    x [B, N, F] float32, cat [B, N] int32, op [B, N] int32, mask [B, N] float32
    src, dst [B, E] int32     the adjacency as an edge list (bundle version 3)
    a [B, N, N] float32       the dense adjacency (versions 1 and 2)

An edge-list bucket lists every entry ``a[b, i, j] = 1`` of the symmetric 0/1 adjacency once, as
``src = b * N + j`` (the neighbour summed) and ``dst = b * N + i`` (the node it is summed into);
unused slots hold ``B * N`` (``trainer/edge_gcs.py``). Padding a 1,024-node graph that way
writes ~2,900 indices (2.8 per node) where the dense form zeroes and fills 4 MB.

Python 3.7 compatible.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelFormatError

__all__ = ["INPUT_NAMES", "EDGE_INPUT_NAMES", "input_order", "adjacency_entries",
           "BucketRunner"]

#: Inputs of a dense-adjacency bucket, in the order :meth:`BucketRunner.invoke` takes them.
INPUT_NAMES = ("x", "cat", "op", "a", "mask")
#: Inputs of an edge-list bucket, likewise.
EDGE_INPUT_NAMES = ("x", "cat", "op", "src", "dst", "mask")


def _base_name(name):
    """``serving_default_x:0`` -> ``x``."""
    name = name.split(":")[0]
    for prefix in ("serving_default_", "serve_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def input_order(interpreter, names=INPUT_NAMES):
    """Tensor indices of an exported bucket's inputs in ``names`` order.

    Raises:
        ModelFormatError: the interpreter's inputs are not the named ones.
    """
    by_name = {_base_name(d["name"]): d["index"] for d in interpreter.get_input_details()}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ModelFormatError("<bundle>", "bucket file lacks inputs {} (has {})".format(
            ", ".join(missing), ", ".join(sorted(by_name))))
    return [by_name[n] for n in names]


def adjacency_entries(feats):
    """A featurized graph's symmetric adjacency entries (twice its unique edges): the edge
    slots it takes in an edge-list bucket."""
    return 2 * len(feats.edges)


class BucketRunner(object):
    """One bucket's signature (or file) in an interpreter, and reusable padded input buffers.

    Args:
        bucket: the :class:`~edge_predictor.bundle.Bucket`.
        n_features: F of the bundle.
        interpreter: the interpreter of the bucket's file (shared by a one-file bundle's
            buckets).
    """

    def __init__(self, bucket, n_features, interpreter):
        self.bucket = bucket
        self.it = interpreter
        self.sig = None
        self.names = EDGE_INPUT_NAMES if bucket.edges else INPUT_NAMES
        if bucket.signature is not None:
            try:
                self.sig = interpreter.get_signature_runner(bucket.signature)
            except (AttributeError, ValueError) as err:
                raise ModelFormatError(bucket.path, "no signature {!r} in the predictor file "
                                       "({})".format(bucket.signature, err)) from None
        else:
            self.inputs = input_order(self.it, self.names)
            self.output = self.it.get_output_details()[0]["index"]
        b, n = bucket.batch, bucket.nodes
        self.x = np.zeros((b, n, n_features), np.float32)
        self.cat = np.zeros((b, n), np.int32)
        self.op = np.zeros((b, n), np.int32)
        self.mask = np.zeros((b, n), np.float32)
        if bucket.edges:
            self.src = np.full((b, bucket.edges), b * n, np.int32)
            self.dst = np.full((b, bucket.edges), b * n, np.int32)
        else:
            self.a = np.zeros((b, n, n), np.float32)
        self.used = [0] * b  # node count written into each slot by the last call
        self.used_edges = [0] * b  # edge slots written likewise

    def padded(self):
        """The input buffers as :meth:`invoke` takes them (after :meth:`run`: its graphs)."""
        adjacency = (self.src, self.dst) if self.bucket.edges else (self.a,)
        return (self.x, self.cat, self.op) + adjacency + (self.mask,)

    def _clear(self, i):
        old = self.used[i]
        if old:
            self.x[i, :old] = 0.0
            self.cat[i, :old] = 0
            self.op[i, :old] = 0
            self.mask[i, :old] = 0.0
            if not self.bucket.edges:
                self.a[i, :old, :old] = 0.0
            self.used[i] = 0
        if self.used_edges[i]:
            pad = self.bucket.batch * self.bucket.nodes
            self.src[i, :self.used_edges[i]] = pad
            self.dst[i, :self.used_edges[i]] = pad
            self.used_edges[i] = 0

    def run(self, feats):
        """Invoke on up to ``batch`` GraphFeatures; returns float64 [len(feats), M].

        Raises:
            ValueError: a graph with more nodes or adjacency entries than the bucket holds
                (:meth:`~edge_predictor.bundle.Bucket.takes` says which fit).
        """
        for i in range(self.bucket.batch):
            self._clear(i)
        for i, g in enumerate(feats):
            n = g.n_nodes
            if not self.bucket.takes(n, adjacency_entries(g)):
                raise ValueError("a graph of {} nodes and {} adjacency entries does not fit "
                                 "{!r}".format(n, adjacency_entries(g), self.bucket))
            self.x[i, :n] = g.x
            self.cat[i, :n] = g.categories
            self.op[i, :n] = g.op_ids
            self.mask[i, :n] = 1.0
            self.used[i] = n
            if not len(g.edges):
                continue
            p, c = g.edges[:, 0], g.edges[:, 1]
            if self.bucket.edges:
                k, base = 2 * len(p), i * self.bucket.nodes
                self.src[i, :k] = np.concatenate([c, p]) + base  # a[p, c] and a[c, p]
                self.dst[i, :k] = np.concatenate([p, c]) + base
                self.used_edges[i] = k
            else:
                self.a[i, p, c] = 1.0
                self.a[i, c, p] = 1.0
        return self.invoke(self.padded())[:len(feats)]

    def invoke(self, inputs):
        """One interpreter call on padded inputs (no padding, no answer).

        Args:
            inputs: the bucket's shapes in :attr:`names` order (:meth:`padded`).

        Returns:
            float64 [B, M] the metric values of every slot.
        """
        if self.sig is not None:
            out = self.sig(**dict(zip(self.names, inputs)))["metrics"]
        else:
            for idx, arr in zip(self.inputs, inputs):
                self.it.set_tensor(idx, arr)
            self.it.invoke()
            out = self.it.get_tensor(self.output)
        return np.array(out, dtype=np.float64)
