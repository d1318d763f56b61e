"""Predict a TFLite model's cost with a bundled PerfSAGE: reader -> featurize -> pad -> interpreter.

::

    p = Predictor.load("ethos-u55-128")        # or a bundle folder
    p.predict("candidate.tflite")              # {"target", "latency_ms", ..., "warnings": [...]}
    p.predict_many([path_or_bytes, ...])       # batched per bucket

Loading verifies the bundle (checksums, schema) once and keeps the bucket files in memory; each
bucket's interpreter is created on first use and reused, so a call does no file I/O beyond
reading the candidate. No TensorFlow import (numpy + one TFLite interpreter).

Thread safety: TFLite interpreters are not thread-safe. A :class:`Predictor` guards its
interpreters and input buffers with one lock, so concurrent calls are safe but run one at a
time; for parallel throughput use one ``Predictor`` per thread (or process).

Python 3.7 compatible.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .accelerator import AcceleratorView
from .bucket_runner import INPUT_NAMES, BucketRunner, adjacency_entries, input_order
from .bundle import load_bundle, resolve
from .calibration import apply, groups_of, shares_of
from .interval import analytical_of, bounds, departure, widen
from .errors import BundleError, GraphTooLargeError, ModelFormatError
from .featurize import FEATURE_NAMES
from .interpreters import make_interpreter
from .op_table import CATEGORIES, OP_VOCAB
from .tflite_reader import read_model

__all__ = ["Predictor", "input_order", "INPUT_NAMES"]

_FLOAT_COL = FEATURE_NAMES.index("dtype_float")
_QUANTIZE_CAT = CATEGORIES.index("QUANTIZE")


class Predictor(object):
    """A loaded predictor bundle for one target.

    Attributes:
        bundle: the verified :class:`~edge_predictor.bundle.Bundle`.
        target: target id.
        metrics: metric names, in answer order.
        units: metric name -> unit.
        estimates: metrics that are estimates (e.g. NPU energy), not measurements.
    """

    def __init__(self, bundle, threads=1, delegates=True):
        self.bundle = bundle
        self.threads = int(threads)
        self.delegates = bool(delegates)
        self.target = bundle.target
        self.metrics = list(bundle.metrics)
        self.units = dict(bundle.units)
        self.estimates = list(bundle.estimates)
        self._runners = {}
        self._interpreters = {}  # bucket file -> interpreter
        self._lock = threading.Lock()
        #: the bundle's calibration (``edge-perf calibrate``): metric -> kernel-group factors
        self.calibration = bundle.meta.get("calibration")
        #: metric -> p10-p90 spec (:mod:`edge_predictor.interval`), fitted on held-out models
        self.intervals = bundle.meta.get("interval") or {}
        self._physics_target = (self.calibration["base"]["target"] if self.calibration
                                else self.target)
        #: the Ethos-U configuration the network was trained on and the one this bundle
        #: answers for (:mod:`edge_predictor.accelerator`)
        self.view = AcceleratorView.of_bundle(bundle.path, self.target, self.calibration)
        #: metric -> the host per-operator model of an ``ops`` calibration
        self._host_ops = {}
        for name, fit in ((self.calibration or {}).get("metrics") or {}).items():
            if fit.get("method") == "ops":
                from .host_ops import HostOps

                try:
                    self._host_ops[name] = HostOps.from_json(fit["ops"])
                except (KeyError, TypeError, ValueError) as err:
                    raise BundleError("{}: the calibration's timed operators of {} are "
                                      "unreadable ({})".format(bundle.path, name, err)) from None

    @classmethod
    def load(cls, target_or_path, threads=1, delegates=True):
        """Load a bundled target (``"ethos-u55-128"``) or a bundle folder.

        Args:
            target_or_path: target id or folder.
            threads: CPU threads per interpreter.
            delegates: run the predictor with the interpreter's default delegate (XNNPACK:
                3-7x faster invokes, but it repacks the weights of every bucket, ~30 MB for a
                bundled target); False for a lean process that predicts a few models.

        Raises:
            UnknownTargetError: not a folder and not a bundled target (lists the known ones).
            BundleError: the bundle is corrupt or does not match this edge-perf.
        """
        return cls(load_bundle(resolve(target_or_path)), threads=threads, delegates=delegates)

    def runner(self, bucket):
        """The runner of one of this bundle's buckets: its interpreter (created on first use,
        shared by a one-file bundle's buckets) and padded input buffers; ``run(feats)`` pads
        and invokes, ``invoke(inputs)`` runs already padded inputs."""
        key = (bucket.nodes, bucket.batch)
        r = self._runners.get(key)
        if r is None:
            it = self._interpreters.get(bucket.file)
            if it is None:
                it = make_interpreter(bucket.read(), threads=self.threads,
                                      default_delegates=self.delegates,
                                      allocate=bucket.signature is None)
                self._interpreters[bucket.file] = it
            r = BucketRunner(bucket, len(self.bundle.meta["features"]), it)
            self._runners[key] = r
        return r

    def _check(self, feats, name):
        """Raise for graphs no bucket takes; return out-of-distribution warnings."""
        n = feats.n_nodes
        if n == 0:
            raise ModelFormatError(name, "has no operators to predict from")
        if n > self.bundle.max_nodes:
            raise GraphTooLargeError(
                "{}: {} operators, more than the largest {} predictor bucket ({} nodes)".format(
                    name, n, self.target, self.bundle.max_nodes))
        warnings = []
        if self.bundle.quantized_only:
            fl = (feats.x[:, _FLOAT_COL] > 0) & (feats.categories != _QUANTIZE_CAT)
            if fl.any():
                warnings.append(
                    "float (non-quantized) model: {} of {} operators compute in float, but the "
                    "{} predictor was trained on INT8 models; the answer lies outside the "
                    "training distribution".format(int(fl.sum()), n, self.target))
        seen = self.bundle.ops_seen
        if seen is not None:
            new = sorted(set(OP_VOCAB[i] for i in np.unique(feats.op_ids) if int(i) not in seen))
            if new:
                warnings.append("operators never seen in training ({}): the answer lies "
                                "outside the training distribution".format(", ".join(new)))
        return warnings

    def _bucket(self, feats, name):
        """The smallest bucket with room for the graph's nodes and adjacency entries.

        Raises:
            GraphTooLargeError: none has (more edges than even the largest bucket's slots).
        """
        bucket = self.bundle.bucket_for(feats.n_nodes, n_entries=adjacency_entries(feats))
        if bucket is None:
            raise GraphTooLargeError(
                "{}: {} operators with {} edges, more than the largest {} predictor bucket "
                "takes".format(name, feats.n_nodes, len(feats.edges), self.target))
        return bucket

    @property
    def accelerator(self):
        """The Ethos-U configuration this bundle answers for."""
        return self.view.accelerator

    @property
    def trained_accelerator(self):
        """The Ethos-U configuration its network was trained on."""
        return self.view.trained

    def featurize(self, graph):
        """The features this bundle answers from (:meth:`AcceleratorView.featurize`)."""
        return self.view.featurize(graph)

    def _rows(self, runner, feats_list):
        """The network's rows [M] for a batch, each metric from the features it answers from."""
        rows = runner.run(feats_list)
        if not self.view.from_accelerator:
            return rows
        alt = runner.run([self.view.accelerated(f) for f in feats_list])
        return [self.view.merge(self.metrics, r, a) for r, a in zip(rows, alt)]

    def _answer(self, row, warnings, feats):
        out = {"target": self.target}
        cal = self.calibration
        shares = {}  # the factors' kernel-group shares per feature set, computed when needed
        intervals, far = {}, []
        for name, v in zip(self.metrics, row):
            own = self.view.features(name, feats)
            v = self.view.sram(name, float(v), feats)
            fit = cal["metrics"].get(name) if cal else None
            if name in self._host_ops:  # this host's operators, not the base network
                from .host_ops import op_rows

                rows = op_rows(own, cal["shares"].split(":", 1)[1])
                out[name], note, spread = self._host_ops[name].answer(rows)
                if note:
                    warnings = list(warnings) + ["{}: {}".format(name, note)]
                # its spread: its operators never timed here, and its own leave-one-out errors
                intervals[name] = list(widen(out[name], out[name] * math.exp(-spread),
                                             out[name] * math.exp(spread), fit["loo_errors"]))
                continue
            if fit:
                if id(own) not in shares:
                    shares[id(own)] = shares_of(own, cal["shares"])
                out[name] = apply(v, shares[id(own)], fit["factors"], groups_of(cal["shares"]))
            else:
                out[name] = float(v)
            spec = self.intervals.get(name)
            if spec:
                dep = departure(v, analytical_of(own, self._physics_target, name))
                lo, hi = bounds(out[name], dep, spec)
                if fit:  # and the calibration's own leave-one-out errors
                    lo, hi = widen(out[name], lo, hi, fit["loo_errors"])
                intervals[name] = [lo, hi]
                if dep > spec.get("ood_departure", float("inf")):
                    far.append(name)
        if far:
            warnings = list(warnings) + [
                "the network departs from the analytical model further than on 95% of held-out "
                "in-space models ({}): the answer lies outside the training distribution, "
                "see its interval".format(", ".join(far))]
        out["warnings"] = warnings
        if intervals:
            out["interval"] = intervals
        return out

    def predict_features(self, feats, name="<features>", warnings=()):
        """Predict from an already featurized graph.

        Args:
            feats: :class:`~edge_predictor.featurize.GraphFeatures` (x [N, F], categories [N],
                op_ids [N], edges [E, 2]).
            name: how to name the graph in errors and warnings.
            warnings: earlier warnings (reader, featurizer) to pass through.

        Returns:
            ``{"target": id, <metric>: float, ..., "warnings": [str]}``.

        Raises:
            GraphTooLargeError: N exceeds the largest bucket.
        """
        w = list(warnings) + self._check(feats, name)
        bucket = self._bucket(feats, name)
        with self._lock:
            row = self._rows(self.runner(bucket), [feats])[0]
        return self._answer(row, w, feats)

    def predict(self, model, name=""):
        """Predict the target's metrics for one TFLite model.

        Args:
            model: path to a ``.tflite`` file, or its bytes.
            name: how to name in-memory models in errors.

        Returns:
            ``{"target": id, <metric>: float in its unit, ..., "warnings": [str]}``; warnings
            include reader/featurizer findings and out-of-distribution notes.

        Raises:
            ModelFormatError: unreadable or not a TFLite model.
            GraphTooLargeError: more operators than the largest bucket.
        """
        graph = read_model(model, name=name)
        feats = self.featurize(graph)
        return self.predict_features(feats, graph.path, graph.warnings)

    def predict_many_features(self, items):
        """Batched :meth:`predict_features` over ``(feats, name, warnings)`` triples.

        Graphs are grouped by bucket node count; full groups run in the largest batch file,
        a small remainder (at most a quarter of that batch) in the smallest one.

        Returns:
            One answer dict per item, in input order.
        """
        warns = [list(w) + self._check(f, name) for f, name, w in items]
        groups = {}
        for i, (f, name, _) in enumerate(items):
            groups.setdefault(self._bucket(f, name).nodes, []).append(i)
        rows = [None] * len(items)
        with self._lock:
            for nodes, idx in sorted(groups.items()):
                choices = self.bundle.buckets_of(nodes)
                big, small = choices[-1], choices[0]
                start = 0
                while start < len(idx):
                    left = len(idx) - start
                    use = big if (left > big.batch // 4 or big is small) else small
                    chunk = idx[start:start + use.batch]
                    out = self._rows(self.runner(use), [items[i][0] for i in chunk])
                    for k, i in enumerate(chunk):
                        rows[i] = out[k]
                    start += len(chunk)
        return [self._answer(r, w, f) for r, w, (f, _, _) in zip(rows, warns, items)]

    def predict_many(self, models, names=None):
        """Predict many models, batched per bucket (for search loops).

        Args:
            models: paths or bytes.
            names: optional names for in-memory models (errors, warnings).

        Returns:
            One answer dict per model, in input order (see :meth:`predict`).

        Raises:
            ModelFormatError, GraphTooLargeError: for the first model that fails; nothing is
            returned then.
        """
        items = []
        for k, m in enumerate(models):
            graph = read_model(m, name=names[k] if names else "")
            items.append((self.featurize(graph), graph.path, graph.warnings))
        return self.predict_many_features(items)
