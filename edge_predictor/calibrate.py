"""``edge-perf calibrate``: a bundle adapted to your hardware from a few measurements.

Two ways in, one bundle out:

* from labels measured elsewhere (:func:`read_labels`): a CSV with a ``model`` column (path to a
  ``.tflite``, relative to the CSV) and one column per metric of the target (``latency_ms``,
  ``sram_kib``, ...) -- a board's measurements, or Vela's figures for another NPU configuration;
* live on this machine (:func:`measure_live`): ``measure``'s methodology (warm-up, median of
  many timed runs) on each model -- the ``count`` models of the user's that span the kernel
  mixes and the predictor's range best (:func:`pick_models`): pass a folder of your search
  space's candidates and the ones worth measuring are chosen.

:func:`calibrate_bundle` predicts every model with the base bundle, fits per-kernel-group factors
per metric (:mod:`edge_predictor.calibration`), and writes a normal bundle folder: the base
bundle's bucket files (unchanged, checksummed) and a ``meta.json`` whose ``calibration`` block
holds the factors, the base bundle, the label source, N and the leave-one-out error.
:class:`~edge_predictor.runtime.Predictor` applies it to every answer.

Library code: raises :class:`~edge_predictor.errors.InputError` subclasses, prints nothing.
Python 3.7 compatible; numpy and the interpreter only.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import os
import shutil
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .accelerator import ACCELERATOR, TRAINED, AcceleratorView, check_accelerator
from .bundle import META_FILE, bundle_files, load_bundle, resolve
from .calibration import choose, groups_of, pick_diverse, shares_of, shares_source
from .errors import InputError, LabelError
from .host_memory import cache_bytes
from .host_ops import fit_ops, op_rows
from .host_ops import loo_errors as host_loo_errors
from .tflite_reader import read_model

__all__ = ["Sample", "PROBES_KEY", "read_labels", "pick_models", "measure_vela", "measure_live",
           "calibrate_bundle"]

#: one calibration model: its path and its measured metrics
Sample = Tuple[str, Dict[str, float]]
#: where :func:`measure_live` keeps the probe grid's timings in ``profiles``
PROBES_KEY = "<probes>"


def read_labels(path: str, metrics: Sequence[str]) -> List[Sample]:
    """Read a calibration CSV.

    Args:
        path: the CSV file: a ``model`` column and one column per metric (any subset of
            ``metrics``; empty cells are skipped).
        metrics: the target's metric names.

    Raises:
        InputError: unreadable file, no ``model`` column, no metric column, a missing model
            file or a value that is not a positive number (naming the file and line).
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError("{}: cannot read calibration labels: {}".format(path, err)) from None
    if not rows or "model" not in rows[0]:
        raise InputError("{}: needs a header with a 'model' column and metric columns ({})"
                         "".format(path, ", ".join(metrics)))
    cols = [m for m in metrics if m in rows[0]]
    if not cols:
        raise InputError("{}: no metric column; the target has {}".format(
            path, ", ".join(metrics)))
    base = os.path.dirname(os.path.abspath(path))
    out: List[Sample] = []
    for line, row in enumerate(rows, start=2):
        model = os.path.join(base, (row.get("model") or "").strip())
        if not os.path.isfile(model):
            raise InputError("{}:{}: model file {!r} not found".format(path, line,
                                                                      row.get("model")))
        values = {}
        for m in cols:
            cell = (row.get(m) or "").strip()
            if not cell:
                continue
            try:
                v = float(cell)
            except ValueError:
                v = -1.0
            if not v > 0 or not np.isfinite(v):
                raise InputError("{}:{}: {} must be a positive number, got {!r}".format(
                    path, line, m, cell))
            values[m] = v
        out.append((model, values))
    return out


def pick_models(base: str, models: Sequence[str], count: int, metric: str = "latency_ms"
                ) -> List[str]:
    """The ``count`` of ``models`` worth measuring: those spanning the kernel mixes and the
    base predictor's range (:func:`edge_predictor.calibration.pick_diverse`), in the order
    picked.

    Raises:
        InputError: a model the base cannot read or predict (naming it).
    """
    from .runtime import Predictor

    if len(models) <= count:
        return list(models)
    predictor = Predictor.load(base)
    src = shares_source(predictor.target)
    shares, preds = [], []
    for path in models:
        graph = read_model(path)
        feats = predictor.featurize(graph)
        preds.append(predictor.predict_features(feats, graph.path, graph.warnings)[metric])
        shares.append(shares_of(feats, src))
    return [models[i] for i in pick_diverse(np.array(shares), np.array(preds), count)]


def measure_vela(models: Sequence[str], accelerator: str,
                 progress: Optional[Callable[[int, int, str], None]] = None
                 ) -> Tuple[List[Sample], List[str], Dict[str, object]]:
    """Label ``models`` with Vela for one Ethos-U55 configuration (needs the train extra), as
    ``edge-perf validate --target <accelerator>`` measures them.

    Returns:
        (samples with every metric Vela gives: latency, SRAM, energy (an estimate); one
        ``"<model>: <reason>"`` per model Vela failed on; the labeler's provenance: Vela's
        version, accelerator, system config, memory mode, energy model).

    Raises:
        UnavailableError: Vela is not installed.
    """
    from .measurers import make_measurer

    measure = make_measurer(accelerator)
    samples, failed, labeler = [], [], {}  # type: List[Sample], List[str], Dict[str, object]
    for i, path in enumerate(models):
        try:
            labels, labeler = measure(path)
            samples.append((path, dict(labels)))
        except LabelError as err:
            failed.append("{}: {}".format(os.path.basename(path), err))
        if progress:
            progress(i + 1, len(models), path)
    return samples, failed, labeler


def measure_live(models: Sequence[str], threads: int = 1, warmup: int = 10, runs: int = 30,
                 min_time_s: float = 0.3, default_delegates: bool = True,
                 profiles: Optional[Dict[str, np.ndarray]] = None,
                 progress: Optional[Callable[[int, int, str], None]] = None,
                 canary: Optional[List[float]] = None) -> List[Sample]:
    """Measure each model's latency on this host (the median of the timed runs).

    Args:
        models: the ``.tflite`` paths.
        threads, warmup, runs, min_time_s, default_delegates: ``measure_latency``'s.
        profiles: if a dict, each model's operators are also timed one at a time
            (:func:`edge_predictor.op_profile.profile_ops`: float [N] microseconds, NaN where
            not timed) into it, keyed by path, and the probe grid
            (:data:`edge_predictor.op_probe.PROBES`) under :data:`PROBES_KEY`: what
            :func:`calibrate_bundle` fits a host's per-operator model on.
        progress: called with (models done, models, path); the probes count as one model.
        canary: if a list, the microseconds of one fixed operator
            (:data:`edge_predictor.op_probe.CANARY`) timed before the first model, after each
            and after the probes are appended to it: whether the host's speed held still
            (:func:`edge_predictor.op_probe.drift`).
    """
    from .measure import measure_latency
    from .op_profile import invoke_overhead_us, profile_ops

    overhead = invoke_overhead_us(threads, default_delegates) if profiles is not None else 0.0
    bird = None
    if canary is not None:
        from .op_probe import Canary

        bird = Canary(threads, default_delegates)
        canary.append(bird.time())
    out: List[Sample] = []
    for i, path in enumerate(models):
        if progress:
            progress(i, len(models), path)
        r = measure_latency(path, threads=threads, warmup=warmup, runs=runs,
                            min_time_s=min_time_s, default_delegates=default_delegates)
        out.append((path, {"latency_ms": float(r["median_ms"])}))
        if profiles is not None:
            with open(path, "rb") as f:
                profiles[path] = profile_ops(f.read(), threads, default_delegates,
                                             overhead_us=overhead)
        if bird is not None:
            canary.append(bird.time())
    if profiles is not None:
        from .op_probe import time_probes

        if progress:
            progress(len(models), len(models) + 1, "operator probes")
        profiles[PROBES_KEY] = time_probes(threads, default_delegates, overhead_us=overhead)
        if bird is not None:
            canary.append(bird.time())
    if progress:
        n = len(models) + (profiles is not None)
        progress(n, n, "")
    return out


def _probes(profiles: Dict[str, np.ndarray], reference: str):
    """The probe grid's (rows placed by ``reference``'s table, times) of ``profiles``."""
    times = profiles.get(PROBES_KEY)
    if times is None:
        return None
    from .op_probe import probe_rows

    return probe_rows(reference), times


def _with_host_ops(fit: Dict[str, object], models, measured: Sequence[float], probes=None
                   ) -> Dict[str, object]:
    """``fit``, or the host per-operator model when its leave-one-out MAPE is lower."""
    cache = cache_bytes()[0]
    errors = host_loo_errors(models, measured, probes, cache)
    mape = float(np.mean(np.abs(errors)))
    tried = dict(fit["tried"], ops=mape)
    if mape >= fit["loo_mape"]:
        return dict(fit, tried=tried)
    ops = fit_ops(models, measured, probes, cache)
    return {"method": "ops", "ridge": None, "factors": {g: 1.0 for g in fit["factors"]},
            "ops": ops.to_json(), "loo_mape": mape, "loo_errors": errors.tolist(),
            "tried": tried}


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def calibrate_bundle(base: str, samples: Sequence[Sample], out_dir: str, source: Dict[str, object],
                     name: Optional[str] = None,
                     profiles: Optional[Dict[str, np.ndarray]] = None,
                     accelerator: Optional[str] = None) -> Dict[str, object]:
    """Fit the calibration of ``base`` on ``samples`` and write the calibrated bundle.

    Args:
        base: a bundled target id or a bundle folder (not itself calibrated).
        samples: (model path, {metric: measured value}) pairs, at least 2 per metric.
        out_dir: the bundle folder to write; must not exist.
        source: what the measurements are (label file, host fingerprint, ...), kept in meta.
        name: the calibrated bundle's target id (default ``<base target>-calibrated``).
        profiles: a CPU target's latency: each sample's operators timed one at a time
            (:func:`measure_live`), keyed by path; with them a host per-operator model
            (:mod:`edge_predictor.host_ops`) competes with the factors by leave-one-out.
        accelerator: an Ethos-U base's measurements are of another configuration
            (:data:`edge_predictor.npu_blocks.ACCELERATORS`, e.g. ``"ethos-u55-256"``): SRAM
            is scaled by the two configurations' analytical peaks, and each metric answers
            from the trained configuration's features or the accelerator's, whichever
            leave-one-out prefers (:mod:`edge_predictor.accelerator`); the factors are fitted
            on top of that.

    Returns:
        The written ``meta.json`` content.

    Raises:
        InputError: ``out_dir`` exists, the base is already calibrated, too few measurements,
            a model the base cannot read or predict, or an accelerator the base cannot take.
    """
    from .runtime import Predictor

    if os.path.exists(out_dir):
        raise InputError("{}: already exists; calibrate into a new folder".format(out_dir))
    folder = resolve(base)
    predictor = Predictor(load_bundle(folder))
    if predictor.calibration:
        raise InputError("{}: already calibrated; calibrate its base bundle ({})".format(
            folder, predictor.calibration.get("base", {}).get("target")))
    if accelerator and accelerator != predictor.accelerator:
        check_accelerator(predictor.target, accelerator)
        trained = predictor.view.trained
        views = [AcceleratorView(trained, accelerator),
                 AcceleratorView(trained, accelerator, predictor.metrics)]
    else:
        views = [predictor.view]
    src = shares_source(predictor.target)
    # per view: every sample's answers and kernel-group shares
    preds = [[] for _ in views]  # type: List[List[Dict[str, float]]]
    shares = [[] for _ in views]  # type: List[List[np.ndarray]]
    rows = []
    for path, _ in samples:
        graph = read_model(path)
        feats = views[-1].featurize(graph)  # the last view's: every feature set there is
        for k, view in enumerate(views):
            predictor.view = view
            preds[k].append(predictor.predict_features(feats, graph.path, graph.warnings))
            shares[k].append(shares_of(feats.alt if view.from_accelerator else feats, src))
        if profiles is not None and path in profiles and src.startswith("cpu_terms:"):
            rows.append(op_rows(feats, src.split(":", 1)[1]))
    fits = {}
    for metric in predictor.metrics:
        idx = [i for i, (_, v) in enumerate(samples) if metric in v]
        if not idx:
            continue
        if len(idx) < 2:
            raise InputError("calibrating {} needs at least 2 measured models, got {}".format(
                metric, len(idx)))
        tried = [choose(np.array([shares[k][i] for i in idx]), np.array(
            [samples[i][1][metric] / preds[k][i][metric] for i in idx]), groups_of(src))
            for k in range(len(views))]
        best = min(range(len(views)), key=lambda k: tried[k]["loo_mape"])
        fit = tried[best]
        if len(views) > 1:  # the accelerator's features only where leave-one-out prefers them
            fit["features"] = ACCELERATOR if best else TRAINED
            fit["features_loo_mape"] = {TRAINED: tried[0]["loo_mape"],
                                        ACCELERATOR: tried[1]["loo_mape"]}
        if metric == "latency_ms" and profiles is not None and len(rows) == len(samples) \
                and len(idx) >= 3:
            fit = _with_host_ops(fit, [(rows[i], profiles[samples[i][0]]) for i in idx],
                                 [samples[i][1][metric] for i in idx],
                                 _probes(profiles, src.split(":", 1)[1]))
        fit["n"] = len(idx)
        fit["models"] = [os.path.basename(samples[i][0]) for i in idx]
        fits[metric] = fit
    if not fits:
        raise InputError("no measurement of any of {}'s metrics ({})".format(
            predictor.target, ", ".join(predictor.metrics)))
    with open(os.path.join(folder, META_FILE)) as f:
        meta = json.load(f)
    base_info = {"target": meta["target"], "description": meta.get("description", ""),
                 "meta_sha256": _sha256(os.path.join(folder, META_FILE))}
    meta["target"] = name or meta["target"] + "-calibrated"
    meta["description"] = "{} calibrated on {} measured models ({})".format(
        base_info["target"], max(f["n"] for f in fits.values()), source.get("kind", "labels"))
    meta["calibration"] = {"shares": src, "groups": list(groups_of(src)), "base": base_info,
                           "source": source, "metrics": fits,
                           "created": datetime.datetime.now(datetime.timezone.utc).strftime(
                               "%Y-%m-%dT%H:%M:%SZ")}
    if len(views) > 1:
        meta["calibration"]["accelerator"] = accelerator
        meta["description"] += "; for the {}".format(accelerator)
    staged = os.path.normpath(out_dir) + ".partial"
    if os.path.exists(staged):
        shutil.rmtree(staged)
    os.makedirs(staged)
    for name in bundle_files(meta):
        shutil.copyfile(os.path.join(folder, name), os.path.join(staged, name))
    with open(os.path.join(staged, META_FILE), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(staged, out_dir)
    return meta
