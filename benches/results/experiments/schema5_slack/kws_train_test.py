"""Train- vs test-split SRAM error of a trained peak-gen model on cnn-kws (this experiment's check).

Run from the repository root with .[train] installed, after the accuracy bench has trained the
model (its folder is the record's ``model_dir``, under ``.cache/accuracy/``, not committed)::

    python benches/results/experiments/schema5_slack/kws_train_test.py RECORD.json
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, os.getcwd())

from trainer import dataset as D  # noqa: E402
from trainer.infer import predict_folder  # noqa: E402


def main(record: str) -> None:
    with open(record) as f:
        rec = json.load(f)
    ds = D.select(D.load_table(None, spaces=["cnn-kws"]), "ethos-u55-128", rec["spec"]["metrics"])
    j = ds.metrics.index("sram_kib")
    for part, d in D.split(ds).items():
        if part == "val":
            continue
        e = predict_folder(rec["model_dir"], d)[:, j] / d.y[:, j] - 1
        worst = np.sort(e[np.argsort(-np.abs(e))[:3]])[::-1]
        print("{} n={} MAPE {:.2f}% bias {:+.2f}% p90 |e| {:.1f}% worst {}".format(
            part, len(d), 100 * np.mean(np.abs(e)), 100 * np.mean(e),
            100 * np.percentile(np.abs(e), 90), ", ".join("{:+.0f}%".format(100 * v)
                                                          for v in worst)))


if __name__ == "__main__":
    main(sys.argv[1])
