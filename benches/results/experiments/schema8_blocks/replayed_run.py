"""The shipped NPU run's configuration with the SRAM readout bounded by the *replayed* buffers.

Trains ``trainer.train.TrainConfig`` exactly as ``ethos-u55-128__peak-gen`` of the accuracy bench
(generalized, hidden 64, lr 0.0005, dropout 0.1, peak_tau 0.05, bounded_peak, 120 epochs,
patience 25; read from ``benches/results/accuracy_runs/ethos-u55-128__peak-gen.json``) with
``replayed_peak=True`` (two phases over ``est_weight_buffer_bytes``, ``est_kept_buffer_bytes``
and ``next_est_first_buffer_bytes``; see ``README.md``), into ``.cache/replayed-gen``.
Resumable: run it again after an interruption and it continues from its last epoch. About an
hour on the 2 cores. Prints the test-split MAPE per space and metric at the end. Run from the
repository root: ``python benches/results/experiments/schema8_blocks/replayed_run.py [SEED]``
(seed 0, the shipped run, trains into ``.cache/replayed-gen``; another seed into
``.cache/replayed-gen-seed<SEED>``, to see how much of a result is the seed's).
"""

import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from trainer.train import TrainConfig, train  # noqa: E402


def main():
    with open(os.path.join(ROOT, "benches", "results", "accuracy_runs",
                           "ethos-u55-128__peak-gen.json")) as f:
        spec = json.load(f)["spec"]
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    out = os.path.join(ROOT, ".cache", "replayed-gen" + ("-seed{}".format(seed) if seed else ""))
    cfg = TrainConfig(target=spec["target"], metrics=list(spec["metrics"]), mode="generalized",
                      out=out, epochs=spec["epochs"], patience=spec["patience"], peak_tau=0.05,
                      bounded_peak=True, replayed_peak=True, seed=seed, **spec["perfsage"])
    t0 = time.time()

    def progress(info):
        if info.get("event") == "epoch":
            print("epoch {epoch}/{epochs}  val {val}  best@{best_epoch}  {epoch_s:.0f} s".format(
                val={m: round(100 * v, 2) for m, v in info["val_mape"].items()}, **info),
                flush=True)

    result = train(cfg, progress=progress)
    for space, metrics in sorted(result["per_space"].items()):
        print(space, {m: round(100 * v["mape"], 2) for m, v in metrics.items()})
    print("{} epochs, best {}, {:.0f} s".format(result["epochs_run"], result["best_epoch"],
                                                time.time() - t0))


if __name__ == "__main__":
    main()
