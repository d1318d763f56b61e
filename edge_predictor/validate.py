"""Predicted vs. measured over many models, in a resumable SQLite store.

For each model and one target: predict with a :class:`~edge_predictor.runtime.Predictor`, measure
(:func:`edge_predictor.measurers.make_measurer`: Vela for an Ethos-U55 configuration, live on
this host for its ``cpu-...`` target, a Coral board for ``edgetpu``), and store one
row per metric. The store is resumable and idempotent: a model already done for the target is
skipped, and each model is written in one transaction (WAL journal), so killing the process at any
moment loses at most the model in flight and never corrupts the database.

Statistics (:func:`error_stats`): MAPE, share of models within +-5 % and +-10 % (all three in
percent) and Spearman's rank correlation (ties get average ranks), in numpy. Python 3.7.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time

import numpy as np

from .errors import EdgePerfError, InputError, UnavailableError
from .measurers import calibrated_for, make_measurer

__all__ = ["SCHEMA_VERSION", "collect_models", "sha256_file", "rankdata", "spearman",
           "error_stats", "ResultStore", "calibrated_for", "make_measurer", "load_predictor",
           "validate"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    model_sha256 TEXT NOT NULL, model_path TEXT NOT NULL, target TEXT NOT NULL,
    metric TEXT NOT NULL, predicted REAL, measured REAL, host TEXT NOT NULL, time TEXT NOT NULL,
    PRIMARY KEY (model_sha256, target, metric));
CREATE TABLE IF NOT EXISTS runs (
    model_sha256 TEXT NOT NULL, model_path TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT, time TEXT NOT NULL,
    PRIMARY KEY (model_sha256, target));
"""


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def collect_models(paths):
    """``.tflite`` files named directly or found (recursively, sorted) in folders.

    Raises:
        InputError: a path does not exist, or no model is found.
    """
    found = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for dirpath, dirnames, files in os.walk(p):
                dirnames.sort()
                found += [os.path.join(dirpath, f) for f in sorted(files)
                          if f.lower().endswith(".tflite")]
        elif os.path.exists(p):
            found.append(p)
        else:
            raise InputError("{}: no such file or folder".format(p))
    if not found:
        raise InputError("no .tflite models in {}".format(", ".join(map(str, paths))))
    return found


def sha256_file(path):
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rankdata(values):
    """1-based ranks; tied values share the average of their ranks (like ``scipy``'s default)."""
    a = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    new = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(new) - 1
    bounds = np.r_[np.flatnonzero(new), a.size]
    avg = (bounds[:-1] + 1 + bounds[1:]) / 2.0  # ranks start+1 .. end, averaged
    ranks = np.empty(a.size)
    ranks[order] = avg[group]
    return ranks


def spearman(x, y):
    """Spearman's rho: Pearson's correlation of average ranks; None if undefined (n < 2 or a
    constant side)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError("spearman: {} vs {} values".format(x.size, y.size))
    if x.size < 2:
        return None
    rx = rankdata(x) - (x.size + 1) / 2.0
    ry = rankdata(y) - (y.size + 1) / 2.0
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    if den == 0:
        return None
    return float((rx * ry).sum() / den)


def error_stats(predicted, measured):
    """Accuracy of predictions against measurements.

    Pairs with a zero or non-finite measurement (or a non-finite prediction) are left out.

    Returns:
        ``{"n", "mape", "within_5", "within_10", "spearman"}``: MAPE and the shares within
        +-5 % / +-10 % in percent; None for what is undefined (no pairs, Spearman on < 2).
    """
    p = np.asarray(predicted, dtype=np.float64).ravel()
    m = np.asarray(measured, dtype=np.float64).ravel()
    keep = np.isfinite(p) & np.isfinite(m) & (m != 0)
    p, m = p[keep], m[keep]
    if p.size == 0:
        return {"n": 0, "mape": None, "within_5": None, "within_10": None, "spearman": None}
    ape = np.abs(p - m) / np.abs(m)
    eps = 1e-12  # 5.0 % exactly counts as within 5 %
    return {"n": int(p.size), "mape": float(100.0 * ape.mean()),
            "within_5": float(100.0 * np.mean(ape <= 0.05 + eps)),
            "within_10": float(100.0 * np.mean(ape <= 0.10 + eps)),
            "spearman": spearman(p, m)}


class ResultStore(object):
    """The validation database (SQLite, WAL journal, one transaction per model).

    Args:
        path: database file (created if missing); ``":memory:"`` for tests.
    """

    def __init__(self, path):
        self.path = str(path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(  # all or nothing, even if killed half-way
                "BEGIN IMMEDIATE;" + _SCHEMA +
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', '{}');COMMIT;".format(
                    SCHEMA_VERSION))
            row = self.conn.execute(
                "SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError("{}: not a usable validation database: {}".format(
                self.path, exc)) from None
        if row[0] != str(SCHEMA_VERSION):
            raise InputError("{}: validation database schema {} (this edge-perf writes {})".format(
                self.path, row[0], SCHEMA_VERSION))

    def status(self, sha, target):
        """``("ok" | "failed", error or None)``, or ``(None, None)`` for a model not run yet."""
        row = self.conn.execute(
            "SELECT status, error FROM runs WHERE model_sha256=? AND target=?",
            (sha, target)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def record(self, sha, path, target, rows, host, error=None):
        """Write one model's outcome atomically.

        Args:
            sha: model sha256.
            path: model path.
            target: target id.
            rows: ``[(metric, predicted, measured)]`` (ignored when ``error`` is set).
            host: host fingerprint / labeler provenance (JSON-able).
            error: failure reason, or None.
        """
        now = _now()
        host_json = json.dumps(host, sort_keys=True)
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if error is None:
                cur.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(sha, path, target, m, float(p), float(v), host_json, now)
                     for m, p, v in rows])
            cur.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                        (sha, path, target, "failed" if error else "ok", error, now))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def pairs(self, target, shas=None):
        """Stored results per metric: ``{metric: {"predicted", "measured", "paths"}}``.

        Args:
            target: target id.
            shas: restrict to these models (None: all models of the target).
        """
        want = None if shas is None else set(shas)
        out = {}
        for sha, path, metric, p, m in self.conn.execute(
                "SELECT model_sha256, model_path, metric, predicted, measured FROM results "
                "WHERE target=? ORDER BY metric, model_path", (target,)):
            if want is not None and sha not in want:
                continue
            d = out.setdefault(metric, {"predicted": [], "measured": [], "paths": []})
            d["predicted"].append(p)
            d["measured"].append(m)
            d["paths"].append(path)
        return out

    def close(self):
        """Close the connection."""
        self.conn.close()


def load_predictor(target_or_path):
    """``Predictor.load`` of a bundled target or a bundle folder (a seam for tests)."""
    from .runtime import Predictor

    return Predictor.load(target_or_path)


def _numeric(d):
    return {k: float(v) for k, v in d.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def validate(paths, target, db_path, predictor=None, bundle=None, measurer=None,
             retry_failed=False, progress=None, plot_path=None, warmup=10, runs=30,
             min_time_s=1.0):
    """Predict and measure every model for ``target``, store the pairs, summarize.

    Args:
        paths: ``.tflite`` files or folders.
        target: target id.
        db_path: the SQLite store (resumed when it exists).
        predictor: an object with ``predict(path) -> {metric: value, ...}`` (injected); None
            loads ``bundle`` or the bundled ``target`` through ``Predictor.load``.
        bundle: a bundle folder (when ``predictor`` is None).
        measurer: ``path -> (labels, host)`` (injected); None: :func:`make_measurer`.
        retry_failed: run again models whose earlier attempt failed.
        progress: ``callback(index, total, path, status, detail)`` per model, status one of
            ``"ok"``, ``"skipped"``, ``"failed"``.
        plot_path: write the PNG of :mod:`edge_predictor.validate_plot` here.
        warmup, runs, min_time_s: live measurement settings (CPU, Edge TPU targets).

    Returns:
        ``{"target", "db", "models", "measured", "skipped", "failed", "failures",
        "metrics": {metric: error_stats}, "plot"}`` over this call's models (done now or
        before): ``measured`` counts models done now, ``skipped`` those done (or failed, and
        not retried) before, ``failures`` lists ``{"model", "error", "earlier"}``.

    Raises:
        InputError, UnavailableError: before any model, when the setup cannot work.
    """
    models = collect_models(paths)
    if measurer is None:
        measurer = make_measurer(target, warmup=warmup, runs=runs, min_time_s=min_time_s)
    if predictor is None:
        predictor = load_predictor(bundle or target)
    ptarget = getattr(predictor, "target", target)
    if ptarget != target and calibrated_for(predictor) != target:
        raise InputError("the predictor is for {}, not {}".format(ptarget, target))
    store = ResultStore(db_path)
    shas, failures = [], []
    done = skipped = 0
    try:
        for i, path in enumerate(models):
            sha = sha256_file(path)
            shas.append(sha)
            state, error = store.status(sha, target)
            if state == "ok" or (state == "failed" and not retry_failed):
                skipped += 1
                if state == "failed":
                    failures.append({"model": path, "error": error, "earlier": True})
                if progress:
                    progress(i, len(models), path, "skipped", error or state)
                continue
            try:
                pred = _numeric(predictor.predict(path))
                meas, host = measurer(path)
                meas = _numeric(meas)
                rows = [(k, pred[k], meas[k]) for k in sorted(pred) if k in meas]
                if not rows:
                    raise InputError("no metric both predicted ({}) and measured ({})".format(
                        ", ".join(sorted(pred)), ", ".join(sorted(meas))))
            except UnavailableError:
                raise
            except EdgePerfError as exc:
                store.record(sha, path, target, [], {}, error=str(exc))
                failures.append({"model": path, "error": str(exc), "earlier": False})
                if progress:
                    progress(i, len(models), path, "failed", str(exc))
                continue
            store.record(sha, path, target, rows, host)
            done += 1
            if progress:
                progress(i, len(models), path, "ok", rows)
        pairs = store.pairs(target, shas)
    finally:
        store.close()
    summary = {"target": target, "db": str(db_path), "models": len(set(shas)),
               "measured": done, "skipped": skipped, "failed": len(failures),
               "failures": failures,
               "metrics": {m: error_stats(d["predicted"], d["measured"])
                           for m, d in sorted(pairs.items())},
               "plot": None}
    if plot_path:
        from .validate_plot import plot_validation

        units = getattr(predictor, "units", None)
        summary["plot"] = plot_validation(pairs, plot_path, target, units)
    return summary
