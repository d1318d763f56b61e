"""The predictor bundle: a folder with ``meta.json`` and one PerfSAGE ``.tflite`` of every bucket.

Written by :mod:`converters.export`, read here with numpy and the standard library only.
``meta.json`` (format :data:`BUNDLE_FORMAT`, version :data:`BUNDLE_VERSION`)::

    format, bundle_version      "edge-perf-predictor-bundle", 3 (1 and 2 are read too)
    feature_schema_version      featurize.FEATURE_SCHEMA_VERSION at training time
    target                      target id, e.g. "ethos-u55-128"
    description, created, created_with, precision ("float32" | "float16")
    features                    [F] feature names (featurize.FEATURE_NAMES)
    categories, op_vocab        op_table.CATEGORIES, op_table.OP_VOCAB
    normalization               {"mean": [F], "std": [F], "baked_in": true, "formula"}
    inputs, output              documentation of the bucket files' tensors
    metrics                     [{"name", "unit", "transform" ("log" | "identity"), "mu",
                                  "sigma", "estimate" (bool)}] in output-column order
    training_data               {"spaces": {space: count}, "count", "host", "quantized", ...}
    ops_seen                    op names seen in training (null: unknown, no check)
    test_accuracy               {space or "all": {metric: {"mape": %, ...}}}
    model                       the PerfSAGE config
    file                        {"name", "sha256", "bytes"}: the one TFLite file, every
                                bucket a signature in it, the weights stored once
    buckets                     [{"signature", "nodes", "batch", "edges"}]: ``edges`` slots
                                per graph of the edge-list adjacency (version 3; version 2 a
                                dense ``a``; version 1: one file per bucket, [{"file",
                                "nodes", "batch", "sha256", "bytes"}])

:func:`load_bundle` verifies every checksum, the schema version and the op vocabulary against the
running code (one feature schema: a bundle of another is refused with a message naming both).
Bundled defaults live in ``edge_predictor/bundles/<target>/``; the environment
variable :data:`BUNDLE_PATH_ENV` adds folders (``os.pathsep``-separated) that hold bundles.
Python 3.7 compatible.
"""

from __future__ import annotations

import hashlib
import json
import os
from .errors import BundleError, UnknownTargetError
from .featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from .op_table import CATEGORIES, OP_VOCAB

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "READABLE_VERSIONS", "META_FILE", "BUNDLE_PATH_ENV",
           "INPUT_DOC", "Bucket", "Bundle", "load_bundle", "bundle_files", "list_bundles",
           "resolve", "bundle_dirs", "describe"]

BUNDLE_FORMAT = "edge-perf-predictor-bundle"
BUNDLE_VERSION = 3
#: Bundle versions this code reads (1: one file per bucket, before 2026-12-03; 2: a dense
#: adjacency input, before session 7 of 2026-12-03).
READABLE_VERSIONS = (1, 2, 3)
META_FILE = "meta.json"
BUNDLE_PATH_ENV = "EDGE_PERF_BUNDLE_PATH"

#: Input tensors of every bucket file, in order (names as given to the converter).
INPUT_DOC = [
    {"name": "x", "dtype": "float32", "shape": "[B, N, F]", "doc": "raw featurize() output"},
    {"name": "cat", "dtype": "int32", "shape": "[B, N]", "doc": "category index, 0 on padding"},
    {"name": "op", "dtype": "int32", "shape": "[B, N]", "doc": "op vocabulary index"},
    {"name": "src", "dtype": "int32", "shape": "[B, E]", "doc": "edge list: the neighbour "
     "summed, row b * N + j of the B * N node rows; unused slots B * N"},
    {"name": "dst", "dtype": "int32", "shape": "[B, E]", "doc": "the node it is summed into, "
     "row b * N + i; every entry a[b, i, j] = 1 of the symmetric 0/1 adjacency once"},
    {"name": "mask", "dtype": "float32", "shape": "[B, N]", "doc": "1 real node, 0 padding"},
]

_REQUIRED = ("format", "bundle_version", "feature_schema_version", "target", "features",
             "op_vocab", "categories", "metrics", "buckets")


class Bucket(object):
    """One bucket file: graphs of up to ``nodes`` operators, ``batch`` graphs per invoke.

    Attributes:
        file: file name inside the bundle.
        path: absolute path.
        nodes: N, padded node count.
        batch: B, graphs per invocation.
        sha256: hex digest of the file.
        content: the verified file bytes of a one-file bundle (kept so that interpreters need
            no further file I/O; the same object for every bucket); None for a version-1
            bundle's bucket until :meth:`read` (six such files held 40 MB, of which one
            prediction uses one).
        signature: the bucket's signature key in the file (None: the file's only graph).
        edges: E, edge slots per graph of its edge-list adjacency (0: a dense ``a``, before
            version 3).
    """

    def __init__(self, file, path, nodes, batch, sha256, content=None, signature=None,
                 edges=0):
        self.file = file
        self.path = path
        self.nodes = int(nodes)
        self.batch = int(batch)
        self.sha256 = sha256
        self.content = content
        self.signature = signature
        self.edges = int(edges)

    def takes(self, n_nodes, n_entries=0):
        """Whether a graph of ``n_nodes`` nodes and ``n_entries`` adjacency entries (both
        directions) fits."""
        return self.nodes >= n_nodes and (not self.edges or self.edges >= n_entries)

    def read(self):
        """The file's bytes, read and checked against ``sha256`` unless already held.

        Raises:
            BundleError: the file is unreadable or its checksum differs.
        """
        if self.content is None:
            self.content = _read_checked(self.path, self.sha256)
        return self.content

    def __repr__(self):
        return "Bucket({}{}, nodes={}, batch={})".format(
            self.file, ":" + self.signature if self.signature else "", self.nodes, self.batch)


class Bundle(object):
    """A loaded, verified bundle.

    Attributes:
        path: the bundle folder.
        meta: the parsed ``meta.json``.
        target: target id.
        metrics: metric names in output-column order.
        units: metric name -> unit.
        estimates: names of metrics that are estimates, not measurements.
        buckets: :class:`Bucket` list sorted by (nodes, batch).
        ops_seen: set of op vocabulary indices seen in training, or None when unknown.
    """

    def __init__(self, path, meta, buckets):
        self.path = path
        self.meta = meta
        self.target = str(meta["target"])
        self.metrics = [str(m["name"]) for m in meta["metrics"]]
        self.units = {str(m["name"]): str(m.get("unit", "")) for m in meta["metrics"]}
        self.estimates = [str(m["name"]) for m in meta["metrics"] if m.get("estimate")]
        self.buckets = sorted(buckets, key=lambda b: (b.nodes, b.batch))
        seen = meta.get("ops_seen")
        index = {op: i for i, op in enumerate(OP_VOCAB)}
        self.ops_seen = None if seen is None else set(index[o] for o in seen if o in index)
        self.quantized_only = bool(meta.get("training_data", {}).get("quantized", True))

    @property
    def max_nodes(self):
        """The largest bucket's node count."""
        return self.buckets[-1].nodes

    def bucket_for(self, n_nodes, batched=False, n_entries=0):
        """The bucket for a graph of ``n_nodes`` operators, or None if none fits.

        Args:
            n_nodes: the graph's node count.
            batched: prefer the largest batch among the smallest fitting node count
                (``predict_many``); otherwise the smallest batch.
            n_entries: its adjacency entries (twice its edges), which an edge-list bucket
                must have slots for.
        """
        fits = [b for b in self.buckets if b.takes(n_nodes, n_entries)]
        if not fits:
            return None
        same = [b for b in fits if b.nodes == fits[0].nodes]
        return same[-1] if batched else same[0]

    def buckets_of(self, nodes):
        """All buckets with exactly ``nodes`` padded nodes, smallest batch first."""
        return [b for b in self.buckets if b.nodes == nodes]


def _read_meta(path):
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isfile(meta_path):
        raise BundleError("{}: not a predictor bundle (no {})".format(path, META_FILE))
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise BundleError("{}: unreadable ({})".format(meta_path, err)) from None
    missing = [k for k in _REQUIRED if k not in meta] if isinstance(meta, dict) else _REQUIRED
    if missing:
        raise BundleError("{}: missing fields {}".format(meta_path, ", ".join(missing)))
    if meta["format"] != BUNDLE_FORMAT or meta["bundle_version"] not in READABLE_VERSIONS:
        raise BundleError("{}: bundle format {} v{} not supported (this code reads {} v{})".format(
            meta_path, meta["format"], meta["bundle_version"], BUNDLE_FORMAT,
            "/".join(map(str, READABLE_VERSIONS))))
    if meta["bundle_version"] >= 2 and not isinstance(meta.get("file"), dict):
        raise BundleError("{}: missing fields file".format(meta_path))
    return meta_path, meta


def load_bundle(path, verify=True):
    """Load a bundle folder and check it against the running code.

    Args:
        path: the bundle folder.
        verify: read every bucket file and check its sha256 (False: metadata only, no files read).

    Returns:
        A :class:`Bundle` (buckets carry their bytes when ``verify``).

    Raises:
        BundleError: missing/corrupt meta.json or bucket file, checksum, feature schema, feature
            names, categories or op vocabulary differ from this code; the message names the file.
    """
    path = os.path.abspath(os.fspath(path))
    meta_path, meta = _read_meta(path)
    version = meta["feature_schema_version"]
    if version != FEATURE_SCHEMA_VERSION:
        raise BundleError("{}: feature schema version {} but this edge-perf featurizes with "
                          "version {}; use a matching bundle or edge-perf version".format(
                              meta_path, version, FEATURE_SCHEMA_VERSION))
    for key, ours in (("features", FEATURE_NAMES), ("op_vocab", OP_VOCAB),
                      ("categories", CATEGORIES)):
        if list(meta[key]) != list(ours):
            raise BundleError("{}: its {} differ from this edge-perf's ({} vs {} entries)".format(
                meta_path, key, len(meta[key]), len(ours)))
    if not meta["buckets"] or not meta["metrics"]:
        raise BundleError("{}: no buckets or no metrics".format(meta_path))
    if "npu_cost_cycles" in meta["features"]:
        from .npu_cost import table_digest

        if meta.get("npu_cost_table_sha256") != table_digest():
            raise BundleError("{}: trained on another NPU cost table than this edge-perf's "
                              "(edge_predictor/npu_cost_table.py); use the edge-perf version "
                              "it was exported with".format(meta_path))
    if "npu_energy_pj" in meta["features"]:
        from .npu_energy import table_digest as energy_digest

        if meta.get("npu_energy_table_sha256") != energy_digest():
            raise BundleError("{}: trained on another NPU energy table than this edge-perf's "
                              "(edge_predictor/npu_energy_table.py); use the edge-perf version "
                              "it was exported with".format(meta_path))
    try:
        if meta["bundle_version"] >= 2:
            f = meta["file"]
            fpath = os.path.join(path, f["name"])
            content = _read_checked(fpath, f["sha256"]) if verify else None
            buckets = [Bucket(f["name"], fpath, b["nodes"], b["batch"], f["sha256"], content,
                              str(b["signature"]), b.get("edges", 0) if meta["bundle_version"]
                              >= 3 else 0) for b in meta["buckets"]]
        else:
            buckets = []
            for b in meta["buckets"]:
                fpath = os.path.join(path, b["file"])
                if verify:  # checked now, read again (and checked) when the bucket is used
                    _read_checked(fpath, b["sha256"])
                buckets.append(Bucket(b["file"], fpath, b["nodes"], b["batch"], b["sha256"]))
    except (KeyError, TypeError) as err:
        raise BundleError("{}: malformed file or buckets entry ({!r})".format(
            meta_path, err)) from None
    return Bundle(path, meta, buckets)


def bundle_files(meta):
    """The model files a bundle's ``meta.json`` names (one for version 2, one per bucket for 1).

    Args:
        meta: the parsed ``meta.json``.

    Returns:
        File names inside the bundle folder, without duplicates.
    """
    if meta.get("bundle_version", BUNDLE_VERSION) >= 2:
        return [meta["file"]["name"]]
    return sorted(set(b["file"] for b in meta["buckets"]))


def _read_checked(fpath, sha256):
    """The bytes of a bundle file whose sha256 must be ``sha256``."""
    try:
        with open(fpath, "rb") as f:
            content = f.read()
    except OSError as err:
        raise BundleError("{}: cannot read bundle file ({})".format(
            fpath, err.strerror or err)) from None
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise BundleError("{}: sha256 {} does not match meta.json ({}); the bundle is "
                          "corrupt or was modified".format(fpath, digest[:12], str(sha256)[:12]))
    return content


def bundle_dirs():
    """Folders searched for bundles: ``$EDGE_PERF_BUNDLE_PATH`` entries, then the packaged ones."""
    dirs = [d for d in os.environ.get(BUNDLE_PATH_ENV, "").split(os.pathsep) if d]
    dirs.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundles"))
    return dirs


def list_bundles():
    """Available bundles by target id (metadata only; nothing is verified).

    Returns:
        Ordered dict-like ``{target: bundle folder}``; the first folder found for a target wins.
    """
    found = {}
    for root in bundle_dirs():
        if not os.path.isdir(root):
            continue
        candidates = [root] + [os.path.join(root, d) for d in sorted(os.listdir(root))]
        for d in candidates:
            meta_path = os.path.join(d, META_FILE)
            if not os.path.isfile(meta_path):
                continue
            try:
                with open(meta_path) as f:
                    target = json.load(f).get("target")
            except (OSError, ValueError, AttributeError):
                continue
            if target and target not in found:
                found[str(target)] = d
    return found


def resolve(target_or_path):
    """The bundle folder for a target id or a path.

    Args:
        target_or_path: a bundled target id (``"ethos-u55-128"``) or a bundle folder.

    Returns:
        The folder path.

    Raises:
        BundleError: a path that is not a bundle folder.
        UnknownTargetError: neither a bundle folder nor a known target; lists the known ones.
    """
    s = os.fspath(target_or_path)
    if os.path.isfile(os.path.join(s, META_FILE)):
        return s
    known = list_bundles()
    if s in known:
        return known[s]
    if os.path.isdir(s):
        raise BundleError("{}: not a predictor bundle (no {})".format(s, META_FILE))
    if os.sep in s or (os.altsep and os.altsep in s):
        raise BundleError("{}: no such bundle folder".format(s))
    raise UnknownTargetError("unknown target {!r}: available targets: {}".format(
        s, ", ".join(sorted(known)) or "none installed (pass a bundle folder)"))


def describe(bundle):
    """JSON-ready provenance of a bundle (what ``edge-perf targets`` shows).

    Args:
        bundle: a :class:`Bundle`.

    Returns:
        A dict: target, path, description, precision, metrics (name, unit, estimate),
        buckets (nodes, batch), training_data, test_accuracy, created, interval_coverage
        (metric -> held-out coverage and width of its p10-p90), calibration (base, source, and
        the accelerator of one calibrated for another Ethos-U configuration).
    """
    m = bundle.meta
    return {
        "target": bundle.target,
        "path": bundle.path,
        "description": m.get("description", ""),
        "precision": m.get("precision", "float32"),
        "created": m.get("created"),
        "metrics": [{"name": x["name"], "unit": x.get("unit", ""),
                     "estimate": bool(x.get("estimate"))} for x in m["metrics"]],
        "buckets": [{"nodes": b.nodes, "batch": b.batch} for b in bundle.buckets],
        "training_data": m.get("training_data", {}),
        "test_accuracy": m.get("test_accuracy", {}),
        "interval_coverage": m.get("interval_coverage", {}),
        "calibration": {k: m["calibration"][k] for k in ("base", "source", "accelerator")
                        if k in m["calibration"]} if m.get("calibration") else None,
    }
