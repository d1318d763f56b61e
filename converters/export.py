"""Trained PerfSAGE folder -> predictor bundle (fixed-padded float TFLite files + meta.json).

Input: the folder the trainer writes (the names are the constants below, the one place to change
if the trainer's output moves)::

    config.json      trainer.model.PerfSAGEConfig (save_config)
    weights.weights.h5  model.save_weights (or a TF checkpoint with prefix "weights")
    normalizer.json  {"features": [F], "mean": [F], "std": [F]}   x_norm = (x - mean) / std
    targets.json     {"target": id, "metrics": [{"name", "transform": "log", "mean", "std",
                      "unit": "ms"}]}   model space z = (log(value) - mean) / std
                      (a {name: {...}} mapping is accepted too); inverse exp(clip(z*std+mean))
    metrics.json     optional, the trainer's result: "per_space" -> test_accuracy, "counts" ->
                      training_data
    training.json    optional overrides: {"target", "description", "training_data": {...},
                      "test_accuracy": {...}, "ops_seen": [op names]}

Output: a bundle (see :mod:`edge_predictor.bundle`): one float TFLite file (:data:`MODEL_FILE`)
with one signature per (nodes, batch) bucket (:func:`signature_key`), the weights stored once.
Each signature is a ``tf.function`` with fixed inputs ``x [B, N, F] float32`` (raw featurizer
output), ``cat [B, N] int32``, ``op [B, N] int32``, the adjacency as an edge list ``src, dst
[B, 4 N] int32`` (:mod:`trainer.edge_gcs`; before bundle version 3 ``a [B, N, N] float32``),
``mask [B, N]
float32`` returning float32 [B, M] metric values in units: the feature normalisation and the
inverse target transform are baked in. Converted with
one SavedModel with a signature per bucket and ``TFLiteConverter.from_saved_model`` (see
:func:`export_model`).

:func:`converters.parity.check_parity` compares every bucket with the Keras model on the same
graphs (max relative difference) and one graph padded into every bucket (invariance).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from edge_predictor import bundle as B  # noqa: E402
from edge_predictor.featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION  # noqa: E402
from edge_predictor.op_table import CATEGORIES, OP_VOCAB  # noqa: E402

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "NORMALIZER_FILE", "TARGETS_FILE", "TRAINING_FILE",
           "DEFAULT_BUCKETS", "MODEL_FILE", "TrainedModel", "load_trained", "export_model",
           "export_bundle", "signature_key",
           "parse_buckets", "metric_specs", "EDGE_SLOTS_PER_NODE", "FILE_FIELDS",
           "main"]

# --- the trainer's output format (one place) ---------------------------------------------------
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.weights.h5"
WEIGHTS_CKPT_PREFIX = "weights"
NORMALIZER_FILE = "normalizer.json"
NORM_MEAN, NORM_STD, NORM_NAMES = "mean", "std", "features"
TARGETS_FILE = "targets.json"
TGT_TARGET, TGT_METRICS = "target", "metrics"
TGT_NAME, TGT_MU, TGT_SIGMA, TGT_UNIT, TGT_TRANSFORM, TGT_ESTIMATE = \
    "name", "mean", "std", "unit", "transform", "estimate"
RESULT_FILE, RES_ACCURACY, RES_COUNTS = "metrics.json", "per_space", "counts"
TRAINING_FILE = "training.json"
#: The bundle's one TFLite file (every bucket a signature in it).
MODEL_FILE = "perfsage.tflite"
#: The inverse log transform clips its exponent like trainer.targets.Targets.from_model_tf.
EXP_CLIP = 80.0

#: (nodes, batch) buckets: batched small buckets for predict_many, batch 1 for single answers.
#: (the shipped bundles' set: one file holds them all, so a bucket costs a signature, ~60 KB, not
#: weights; the invoke grows with N: 0.31 / 0.39 / 0.60 ms at 16 / 32 / 64 nodes on one core)
DEFAULT_BUCKETS: Tuple[Tuple[int, int], ...] = ((16, 1), (32, 1), (32, 16), (64, 1), (64, 16),
                                                (128, 1), (256, 1), (512, 1), (768, 1),
                                                (1024, 1), (1536, 1))

#: Feature standard deviations at or below this are treated as constant columns (std 1).
MIN_STD = 1e-6

#: Metrics that are estimates rather than measurements, per target prefix.
ESTIMATED = {"ethos-u": ("energy_mj",)}


class TrainedModel:
    """A trained PerfSAGE and its transforms.

    Attributes:
        model: the tf_keras model (inputs normalised x, cat, op, a, mask -> model space [B, M]).
        config: the ``PerfSAGEConfig``.
        mean, std: float64 [F] feature normalisation.
        metrics: list of dicts {name, unit, transform, mu, sigma, estimate}, in output order.
        target: target id.
        info: the optional training description (``training.json``), possibly empty.
    """

    def __init__(self, model, config, mean, std, metrics, target, info=None):
        self.model, self.config = model, config
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        # a (near-)constant column: std 0, or float32 rounding noise such as 5e-8, would blow
        # up (x - mean) / std, and overflow float16 constants; such columns get std 1.
        self.std = np.where(self.std > MIN_STD, self.std, 1.0)
        self.metrics, self.target, self.info = metrics, target, info or {}

    def keras_predict(self, x, cat, op, a, mask) -> np.ndarray:
        """Reference answer in units through the Keras model (float64 inverse transform).

        Args:
            x: float32 [B, N, F] raw features; cat, op: int32 [B, N]; a: float32 [B, N, N];
                mask: float32 [B, N].

        Returns:
            float64 [B, M] metric values.
        """
        xn = ((x - self.mean) / self.std * mask[..., None]).astype(np.float32)
        z = np.asarray(self.model({"x": xn, "cat": cat, "op": op, "a": a, "mask": mask},
                                  training=False), dtype=np.float64)
        return _inverse(z, self.metrics)


def _inverse(z: np.ndarray, metrics: List[Dict[str, Any]]) -> np.ndarray:
    out = np.empty_like(z)
    for j, m in enumerate(metrics):
        v = z[:, j] * m["sigma"] + m["mu"]
        out[:, j] = np.exp(np.clip(v, -EXP_CLIP, EXP_CLIP)) if m["transform"] == "log" else v
    return out


def metric_specs(targets: Dict[str, Any], names: Sequence[str], target: str) -> List[Dict]:
    """Normalise ``targets.json`` into ordered metric dicts (output column order = ``names``)."""
    specs = []
    estimated = [m for prefix, ms in ESTIMATED.items() if target.startswith(prefix) for m in ms]
    table = targets[TGT_METRICS]
    if isinstance(table, list):
        table = {t[TGT_NAME]: t for t in table}
    for name in names:
        t = table[name]
        unit = str(t.get(TGT_UNIT, ""))
        est = unit.endswith("(estimate)")
        unit = unit.replace("(estimate)", "").strip()
        transform = t.get(TGT_TRANSFORM, "log")
        if transform not in ("log", "identity"):
            raise ValueError("metric {}: unsupported transform {!r}".format(name, transform))
        specs.append({"name": name, "unit": unit, "transform": transform,
                      "mu": float(t.get(TGT_MU, 0.0)), "sigma": float(t.get(TGT_SIGMA, 1.0)),
                      "estimate": bool(t.get(TGT_ESTIMATE, est or name in estimated))})
    return specs


def load_trained(folder: str, target: Optional[str] = None) -> TrainedModel:
    """Load a trainer output folder (format in the module docstring)."""
    from trainer.model import build_perfsage, load_config

    cfg = load_config(os.path.join(folder, CONFIG_FILE))
    model = build_perfsage(cfg)
    h5 = os.path.join(folder, WEIGHTS_FILE)
    model.load_weights(h5 if os.path.exists(h5) else os.path.join(folder, WEIGHTS_CKPT_PREFIX))
    with open(os.path.join(folder, NORMALIZER_FILE)) as f:
        norm = json.load(f)
    if list(norm.get(NORM_NAMES, FEATURE_NAMES)) != list(FEATURE_NAMES):
        raise ValueError("normalizer feature names differ from the running featurizer's")
    with open(os.path.join(folder, TARGETS_FILE)) as f:
        targets = json.load(f)
    info: Dict[str, Any] = {}
    if os.path.exists(os.path.join(folder, RESULT_FILE)):
        with open(os.path.join(folder, RESULT_FILE)) as f:
            res = json.load(f)
        info = {"test_accuracy": res.get(RES_ACCURACY, {}), "training_data": {
            k: res[k] for k in (RES_COUNTS, "space", "mode", "fraction", "loss") if k in res}}
    if os.path.exists(os.path.join(folder, TRAINING_FILE)):
        with open(os.path.join(folder, TRAINING_FILE)) as f:
            info.update(json.load(f))
    target = target or info.get("target") or targets.get(TGT_TARGET)
    if not target:
        raise ValueError("no target id in {} or {}; pass one".format(TARGETS_FILE, TRAINING_FILE))
    return TrainedModel(model, cfg, norm[NORM_MEAN], norm[NORM_STD],
                        metric_specs(targets, cfg.metrics, target), target, info)


def signature_key(nodes: int, batch: int) -> str:
    """The bucket's signature in the bundle file: ``n256_b1``."""
    return "n{}_b{}".format(int(nodes), int(batch))


#: edge slots per padded node of a bucket (an adjacency entry each, both directions): real
#: graphs have 2.1 (median) to 2.9 (the most, CRNN-KWS and a 1,023-operator ViT); a graph with
#: more goes to a larger bucket
EDGE_SLOTS_PER_NODE = 4


def _serving_fn(tm: TrainedModel, nodes: int, batch: int, model=None, edges: int = 0):
    import tensorflow as tf

    f = len(tm.mean)
    mean = tf.constant(tm.mean, tf.float32)
    inv_std = tf.constant(1.0 / tm.std, tf.float32)
    sigma = tf.constant([m["sigma"] for m in tm.metrics], tf.float32)
    mu = tf.constant([m["mu"] for m in tm.metrics], tf.float32)
    is_log = [m["transform"] == "log" for m in tm.metrics]
    model = tm.model if model is None else model

    def serve(x, cat, op, mask, adjacency):
        xn = (x - mean) * inv_std * mask[:, :, None]
        z = model(dict({"x": xn, "cat": cat, "op": op, "mask": mask}, **adjacency),
                  training=False)
        v = z * sigma + mu
        if all(is_log):
            out = tf.exp(tf.clip_by_value(v, -EXP_CLIP, EXP_CLIP))
        elif any(is_log):
            out = tf.where(tf.constant(is_log)[None, :],
                           tf.exp(tf.clip_by_value(v, -EXP_CLIP, EXP_CLIP)), v)
        else:
            out = v
        return {"metrics": out}

    specs = [tf.TensorSpec([batch, nodes, f], tf.float32, name="x"),
             tf.TensorSpec([batch, nodes], tf.int32, name="cat"),
             tf.TensorSpec([batch, nodes], tf.int32, name="op")]
    if edges:
        def serve_bucket(x, cat, op, src, dst, mask):
            return serve(x, cat, op, mask, {"src": src, "dst": dst})
        specs += [tf.TensorSpec([batch, edges], tf.int32, name="src"),
                  tf.TensorSpec([batch, edges], tf.int32, name="dst")]
    else:
        def serve_bucket(x, cat, op, a, mask):
            return serve(x, cat, op, mask, {"a": a})
        specs.append(tf.TensorSpec([batch, nodes, nodes], tf.float32, name="a"))
    specs.append(tf.TensorSpec([batch, nodes], tf.float32, name="mask"))
    # the converter names each signature after its function: one name per bucket
    serve_bucket.__name__ = signature_key(nodes, batch)
    return tf.function(serve_bucket, input_signature=specs)


def export_model(tm: TrainedModel, buckets: Sequence[Tuple[int, int]],
                 float16: bool = False, edges: bool = True) -> bytes:
    """Convert every bucket into one TFLite file, one signature per bucket, weights stored once.

    With ``edges`` (the default since bundle version 3) the adjacency goes in as an edge list of
    :data:`EDGE_SLOTS_PER_NODE` x N slots per graph (:mod:`trainer.edge_gcs`), else as the dense
    [B, N, N] matrix.

    The buckets' ``tf.function`` s are saved as one SavedModel with a signature each (its object
    tracks only the variables of a twin of the Keras model: tracking the model itself makes the
    saver trace Spektral layers, which fails, and STACK.md saw later eager calls of a converted
    model fail), then converted with ``from_saved_model``.

    Returns:
        The TFLite bytes; signature :func:`signature_key` per (nodes, batch).
    """
    import tempfile

    import tensorflow as tf
    from trainer.model import build_perfsage

    twin = build_perfsage(tm.config, edges=edges)
    twin.set_weights(tm.model.get_weights())
    holder = tf.Module()
    holder.weights = list(twin.variables)
    signatures = {signature_key(n, b): _serving_fn(
        tm, n, b, model=twin, edges=EDGE_SLOTS_PER_NODE * n if edges else 0
    ).get_concrete_function() for n, b in buckets}
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(holder, saved, signatures=signatures)
        conv = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(signatures))
        if float16:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        return conv.convert()


def parse_buckets(spec: str) -> List[Tuple[int, int]]:
    """``"64x16,256,1536"`` -> [(64, 16), (256, 1), (1536, 1)]."""
    parts = [p.strip().partition("x") for p in spec.split(",")]
    return sorted(set((int(n), int(b or 1)) for n, _, b in parts))


def export_bundle(tm: TrainedModel, out_dir: str,
                  buckets: Sequence[Tuple[int, int]] = DEFAULT_BUCKETS,
                  float16: bool = False, description: str = "") -> Dict[str, Any]:
    """Write a bundle folder (bucket files + meta.json) and return its meta dict.

    Args:
        tm: from :func:`load_trained` (or built in memory).
        out_dir: the bundle folder (replaced if it exists).
        buckets: (nodes, batch) pairs.
        float16: store weights as float16 (half the size, ~1e-3 relative error).
        description: one line for ``edge-perf targets``.
    """
    import tensorflow as tf

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    pairs = sorted(set((int(n), int(b)) for n, b in buckets))
    data = export_model(tm, pairs, float16)
    with open(os.path.join(out_dir, MODEL_FILE), "wb") as f:
        f.write(data)
    entries = [{"signature": signature_key(n, b), "nodes": n, "batch": b,
                "edges": EDGE_SLOTS_PER_NODE * n} for n, b in pairs]
    info = tm.info
    meta = {
        "format": B.BUNDLE_FORMAT,
        "bundle_version": B.BUNDLE_VERSION,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "target": tm.target,
        "description": description or info.get("description", ""),
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_with": {"tensorflow": tf.__version__},
        "precision": "float16" if float16 else "float32",
        "features": list(FEATURE_NAMES),
        "categories": list(CATEGORIES),
        "op_vocab": list(OP_VOCAB),
        "normalization": {"mean": tm.mean.tolist(), "std": tm.std.tolist(), "baked_in": True,
                          "formula": "x_norm = (x - mean) / std, padded rows zeroed"},
        "inputs": B.INPUT_DOC,
        "output": "float32 [B, M]: metric values in units, columns in `metrics` order "
                  "(inverse target transform baked in)",
        "metrics": tm.metrics,
        "training_data": dict(info.get("training_data", {}),
                              labelled_by=info.get("labelled_by", {})),
        "ops_seen": info.get("ops_seen"),
        "test_accuracy": info.get("test_accuracy", {}),
        "model": dataclasses.asdict(tm.config),
        "file": {"name": MODEL_FILE, "sha256": hashlib.sha256(data).hexdigest(),
                 "bytes": len(data)},
        "buckets": entries,
    }
    if "npu_cost_cycles" in FEATURE_NAMES:  # the analytical column the model was fed
        from edge_predictor.npu_cost import table_digest

        meta["npu_cost_table_sha256"] = table_digest()
    if "npu_energy_pj" in FEATURE_NAMES:
        from edge_predictor.npu_energy import table_digest as energy_digest

        meta["npu_energy_table_sha256"] = energy_digest()
    with open(os.path.join(out_dir, B.META_FILE), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


#: the meta.json fields an export writes about its file; ``--keep-meta`` takes the rest from the
#: bundle it replaces
FILE_FIELDS = ("format", "bundle_version", "created", "created_with", "precision", "inputs",
               "file", "buckets")


def _keep_meta(old_path: str, new_path: str) -> None:
    with open(old_path) as f:
        meta = json.load(f)
    with open(new_path) as f:
        new = json.load(f)
    if meta.get("model") != new["model"] or meta.get("target") != new["target"]:
        raise ValueError("{}: another model or target than the one exported".format(old_path))
    meta.update({k: new[k] for k in FILE_FIELDS})
    with open(new_path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m converters.export TRAINED OUT [--buckets 64x16,...] [--float16]
    [--keep-meta]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m converters.export")
    ap.add_argument("trained", help="the trainer's output folder")
    ap.add_argument("out", help="bundle folder to write (replaced)")
    ap.add_argument("--buckets", default=",".join(
        "{}x{}".format(n, b) for n, b in DEFAULT_BUCKETS))
    ap.add_argument("--float16", action="store_true", help="float16 weights (half the size)")
    ap.add_argument("--target", default=None, help="target id (default: from the folder)")
    ap.add_argument("--max-rel-diff", type=float, default=1e-4,
                    help="fail when the parity check is worse (float16: use ~1e-2)")
    ap.add_argument("--keep-meta", action="store_true",
                    help="re-export OUT's model in this format, keeping the rest of its "
                         "meta.json (intervals and figures written after the export)")
    args = ap.parse_args(argv)
    tm = load_trained(args.trained, args.target)
    # written next to OUT and checked there: a bundle that fails parity never replaces OUT
    staged = os.path.normpath(args.out) + ".new"
    export_bundle(tm, staged, parse_buckets(args.buckets), args.float16)
    from converters.parity import check_parity

    if args.keep_meta:
        _keep_meta(os.path.join(args.out, B.META_FILE), os.path.join(staged, B.META_FILE))
    res = check_parity(tm, staged)
    print(json.dumps(res, indent=1))  # the one place this module prints: its own CLI
    if res["max_rel_diff"] > args.max_rel_diff:
        print("parity check failed (max relative difference {:.3g} > {:.3g}): {} left "
              "unchanged, the failed bundle is in {}".format(
                  res["max_rel_diff"], args.max_rel_diff, args.out, staged), file=sys.stderr)
        return 1
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.replace(staged, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
