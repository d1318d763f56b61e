"""The shipped NPU bundle on the 25 fresh cnn-kws validation models, model by model.

Needs Vela's answers cached by ``../schema6_encoded/buffering_analysis.py``. Per model: Vela's
SRAM peak, the bundle's prediction and error, how many of Vela's buffering decisions the replay
(``est_double_buffer``) gets wrong, Vela's activation peak against ours (``live_bytes_brick``),
and Vela's allocation rebuilt with our estimated weight sizes (two phases per operator). Then,
on the store's cnn-kws train and test splits, the SRAM peak of three closed-form formulas over
the feature columns (no network). Run from the repository root.
"""

import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benches", "results", "experiments", "schema6_encoded"))

import buffering_analysis as ba  # noqa: E402
from benches.sram_phases import _WB  # noqa: E402
from edge_predictor.featurize import _LOG_COLS, FEATURE_NAMES, featurize  # noqa: E402
from edge_predictor.runtime import Predictor  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402
from edge_predictor.weight_stream import encoded_weight_bytes  # noqa: E402


def raw(x, name):
    """float64 [N] a feature column before its log transform."""
    c = FEATURE_NAMES.index(name)
    v = x[:, c].astype(np.float64)
    return np.expm1(v) if _LOG_COLS[c] else v


def per_model():
    pred = Predictor.load(os.path.join(ROOT, "edge_predictor", "bundles", "ethos-u55-128"))
    for path in [p for p in ba.MODELS if os.path.exists(p)]:
        rec = ba.vela(path)
        graph = read_model(path)
        feats = featurize(graph)
        label = rec["label"] / 1024
        kib = pred.predict_features(feats)["sram_kib"]
        ours = [i for i, n in enumerate(graph.ops) if n.op != "RESHAPE"]
        double = raw(feats.x, "est_double_buffer")
        wrong = sum(1 for j, i in enumerate(ours) if rec["ops"][j]["wb"] and
                    bool(double[i]) != any(w[0] == "double" for w in rec["ops"][j]["wb"]))
        steps = max(t[1] for t in rec["tensors"]) + 1
        act = max(sum(t[2] for t in rec["tensors"] if not _WB.match(t[3]) and t[0] <= s <= t[1])
                  for s in range(steps)) / 1024
        rebuilt = ba.rebuilt(rec, size_of=lambda o: encoded_weight_bytes(o["op"], o["shape"]))
        print("{}  Vela {:6.1f} KiB  bundle {:6.1f} ({:+5.1f}%)  wrong decisions {}/{}  "
              "activation peak Vela {:5.1f} ours {:5.1f}  rebuilt {:+5.1f}%".format(
                  os.path.basename(path)[:-7], label, kib, 100 * (kib / label - 1), wrong,
                  sum(1 for o in rec["ops"] if o["wb"]), act,
                  raw(feats.x, "live_bytes_brick").max() / 1024,
                  100 * (rebuilt / rec["label"] - 1)))


def formulas():
    from trainer import dataset as D

    table = D.load_table(spaces=["cnn-kws"])
    parts = D.split(D.select(table, "ethos-u55-128", ["sram_kib"], spaces=["cnn-kws"]))
    for part in ("train", "test"):
        ds, errs = parts[part], {}
        t = ds.table
        for j, g in enumerate(ds.index):
            x = t.x[t.node_ptr[g]:t.node_ptr[g + 1]]
            live = raw(x, "live_bytes_brick")
            peaks = {
                "live + stream + next stream (the bound)": live + raw(x, "sram_weight_bytes") +
                raw(x, "next_sram_weight_bytes"),
                "live + replayed buffers + next first": live + raw(
                    x, "est_weight_buffer_bytes") + raw(x, "next_est_first_buffer_bytes"),
                "activations only": live}
            for k, v in peaks.items():
                errs.setdefault(k, []).append(v.max() / 1024 / ds.y[j, 0] - 1)
        for k, e in errs.items():
            print("{:5s} {:40s} MAPE {:5.2f}%  bias {:+5.2f}%  (n={})".format(
                part, k, 100 * np.mean(np.abs(e)), 100 * np.mean(e), len(e)))


if __name__ == "__main__":
    per_model()
    formulas()
