"""A 4-minute probe of a feature change: cnn-kws SRAM, specialized PerfSAGE, SRAM head only.

Trains ``sram_kib`` of ethos-u55-128 on cnn-kws alone with the bundles' settings (hidden 64,
lr 0.0005, dropout 0.1, peak_tau 0.05, bounded peak, 120 epochs, patience 25) on the features of
the checked-out commit, and prints its test and train MAPE. The generalized model is what ships
and what the issue's target is about; this is the quick look used to decide whether a feature is
worth a generalized run (about an hour). Run from the repository root:
``python benches/results/experiments/schema7_schedule/kws_probe.py [OUT_DIR]``.
"""

import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)

from trainer import dataset as D  # noqa: E402
from trainer.infer import predict_folder  # noqa: E402
from trainer.train import TrainConfig, train  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache", "kws_probe")
    cfg = TrainConfig(target="ethos-u55-128", metrics=["sram_kib"], mode="specialized",
                      space="cnn-kws", out=out, epochs=120, patience=25, hidden=64, lr=0.0005,
                      dropout=0.1, peak_tau=0.05, bounded_peak=True)
    t0 = time.time()
    r = train(cfg, progress=lambda info: None)
    test = 100 * r["per_space"]["cnn-kws"]["sram_kib"]["mape"]
    parts = D.split(D.select(D.load_table(spaces=["cnn-kws"]), "ethos-u55-128", ["sram_kib"],
                             spaces=["cnn-kws"]))
    tr = parts["train"]
    train_mape = 100 * np.mean(np.abs(predict_folder(out, tr)[:, 0] / tr.y[:, 0] - 1))
    print("cnn-kws sram_kib specialized: test MAPE {:.2f}%, train {:.2f}%, {} epochs, {:.0f} s"
          .format(test, train_mape, r["epochs_run"], time.time() - t0))


if __name__ == "__main__":
    main()
