"""``edge-perf train``: fit PerfSAGE on the store (registered by the main CLI; needs .[train]).

TensorFlow is imported only when the command runs. The only printing happens here: one line
per epoch on stderr (epoch, train loss, validation MAPE per metric, s/epoch, ETA) and the test
accuracy table at the end (or the metrics as JSON with ``--json``).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Optional

import typer

from edge_predictor.cli_support import handled
from edge_predictor.errors import InputError, UnavailableError
from edge_predictor.progress import progress_bar

from .model import READOUTS

__all__ = ["train"]


class _EpochProgress:
    """The training's progress: the data counts once, then a bar (rich on a terminal, a plain
    line per epoch in a log) with the loss, validation MAPE and best epoch as its note."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, info: Dict[str, Any]) -> None:
        if info["event"] == "data":
            typer.echo("data: " + "; ".join("{} {}".format(k, v)
                                            for k, v in info["counts"].items()), err=True)
            return
        if self.bar is None:
            # one line per epoch in a log: epochs are tens of seconds apart
            self.bar = progress_bar(self.label, interval_s=0.0)
        val = " ".join("{} {:.2%}".format(m, v) for m, v in info["val_mape"].items())
        self.bar(info["epoch"], info["epochs"], "loss {:.4f} val {} best@{}{}".format(
            info["train_loss"], val, info["best_epoch"],
            " (early stop)" if info["stopped_early"] else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@handled
def train(target: str = typer.Option("ethos-u55-128", "--target", help="target name"),
          metrics: Optional[str] = typer.Option(
              None, "--metrics", help="comma-separated metrics (default: all of the target)"),
          mode: str = typer.Option("specialized", "--mode", help="specialized | generalized"),
          space: Optional[str] = typer.Option(None, "--space", help="space (specialized)"),
          out: str = typer.Option(..., "--out", help="output folder (resumed if unfinished)"),
          epochs: int = typer.Option(100, "--epochs", help="maximum epochs"),
          patience: int = typer.Option(15, "--patience", help="early-stopping patience"),
          hidden: int = typer.Option(128, "--hidden", help="node hidden width"),
          gnn_layers: int = typer.Option(8, "--gnn-layers", help="GCS layers"),
          dense_layers: int = typer.Option(4, "--dense-layers", help="dense layers"),
          dense_width: int = typer.Option(1024, "--dense-width", help="dense layer width"),
          dropout: float = typer.Option(0.0, "--dropout", help="dropout after dense layers"),
          l2: float = typer.Option(0.0, "--l2", help="L2 weight decay"),
          batch_size: int = typer.Option(32, "--batch-size", help="graphs per batch"),
          lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate"),
          seed: int = typer.Option(0, "--seed", help="random seed"),
          no_cfe: bool = typer.Option(False, "--no-cfe", help="ablation: no categorical "
                                      "feature encoding"),
          loss: str = typer.Option("hybrid", "--loss", help="hybrid | mape"),
          readout: str = typer.Option("max+sum", "--readout", help="max (the paper) | max+sum "
                                      "(max readout plus an additive per-node path)"),
          no_layer_norm: bool = typer.Option(False, "--no-layer-norm",
                                             help="the paper's GCS layers, without layer norm"),
          peak_tau: float = typer.Option(
              1.0, "--peak-tau", help="initial readout temperature of peak metrics (SRAM): "
              "1 starts as a sum of per-node costs, 0.05 near their max"),
          bounded_peak: bool = typer.Option(
              False, "--bounded-peak", help="bound each operator's SRAM cost by its live and "
              "weight bytes (holds out of distribution)"),
          phased_peak: bool = typer.Option(
              False, "--phased-peak", help="with --bounded-peak: the bound is the larger of "
              "two phases (running; hand-over with the next operator's weights)"),
          replayed_peak: bool = typer.Option(
              False, "--replayed-peak", help="with --bounded-peak: two phases over the weight "
              "buffers the featurizer replays from Vela's scheduler (feature schema 8)"),
          npu_prior: bool = typer.Option(
              False, "--npu-prior", help="NPU latency = the analytical cost model's cycles "
              "per operator x a bounded learned correction (feature schema 9)"),
          energy_prior: bool = typer.Option(
              False, "--energy-prior", help="NPU energy = the analytical energy model per "
              "operator x a bounded learned correction (feature schema 10)"),
          cpu_prior: bool = typer.Option(
              False, "--cpu-prior", help="CPU latency = the target's analytical host-CPU model "
              "per operator x a bounded learned correction (edge_predictor.cpu_cost)"),
          npu_live_peak: bool = typer.Option(
              False, "--npu-live-peak", help="with --replayed-peak: the phases over Vela's "
              "live SRAM buffers and scratch (feature schema 10)"),
          alpha: float = typer.Option(10.0, "--alpha", help="MSE weight of the hybrid loss"),
          no_upsampling: bool = typer.Option(False, "--no-upsampling",
                                             help="ablation: no dataset upsampling"),
          fraction: float = typer.Option(1.0, "--fraction",
                                         help="train on this fraction of the training split"),
          data: Optional[str] = typer.Option(None, "--data", help="data folder"),
          as_json: bool = typer.Option(False, "--json", help="print metrics.json")) -> None:
    """Train PerfSAGE (specialized on one space, or generalized) and write OUT."""
    from .spaces import SPACES
    from .targets import default_metrics

    if mode not in ("specialized", "generalized"):
        raise InputError("--mode must be specialized or generalized, got {!r}".format(mode))
    if mode == "specialized" and space is None:
        raise InputError("--mode specialized needs --space ({})".format(", ".join(SPACES)))
    if space is not None and space not in SPACES:
        raise InputError("unknown design space '{}'; known: {}".format(space, ", ".join(SPACES)))
    if mode == "generalized" and space is not None:
        raise InputError("--space is for --mode specialized; generalized uses every space")
    if loss not in ("hybrid", "mape"):
        raise InputError("--loss must be hybrid or mape, got {!r}".format(loss))
    if readout not in READOUTS:
        raise InputError("--readout must be one of {}, got {!r}".format(", ".join(READOUTS),
                                                                         readout))
    if not peak_tau > 0:
        raise InputError("--peak-tau must be positive, got {}".format(peak_tau))
    if not 0.0 < fraction <= 1.0:
        raise InputError("--fraction must be in (0, 1], got {}".format(fraction))
    for name, v in (("--epochs", epochs), ("--batch-size", batch_size), ("--hidden", hidden),
                    ("--patience", patience), ("--dense-width", dense_width)):
        if v < 1:
            raise InputError("{} must be positive, got {}".format(name, v))
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else \
        list(default_metrics(target))
    if not names:
        raise InputError("--metrics names no metric")
    if data is not None and not os.path.isdir(data):
        raise InputError("{}: no such data folder".format(data))

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401
        import spektral  # noqa: F401
    except ImportError as err:
        raise UnavailableError("training needs TensorFlow, tf-keras and Spektral ({}); install "
                               "them with pip install 'edge-perf[train]'".format(err.name)) \
            from None
    import warnings

    from .train import TrainConfig
    from .train import train as run

    warnings.filterwarnings("ignore", message="The initializer .* is unseeded")
    cfg = TrainConfig(target=target, metrics=names, mode=mode, space=space, out=out,
                      epochs=epochs, patience=patience, batch_size=batch_size, lr=lr, seed=seed,
                      loss=loss, alpha=alpha, upsampling=not no_upsampling, fraction=fraction,
                      data=data, hidden=hidden, gnn_layers=gnn_layers,
                      dense_layers=dense_layers, dense_width=dense_width, dropout=dropout,
                      l2=l2, cfe=not no_cfe, readout=readout,
                      layer_norm=not no_layer_norm, peak_tau=peak_tau,
                      bounded_peak=bounded_peak, phased_peak=phased_peak,
                      replayed_peak=replayed_peak, npu_prior=npu_prior,
                      energy_prior=energy_prior, cpu_prior=cpu_prior,
                      npu_live_peak=npu_live_peak)
    bar = _EpochProgress("train " + target)
    try:
        result = run(cfg, progress=bar)
    finally:
        bar.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo("{}: trained {} epochs (best {}) in {:.0f} s ({:.2f} s/epoch), wall {:.0f} s"
               .format(out, result["epochs_run"], result["best_epoch"], result["train_time_s"],
                       result["s_per_epoch"], result["wall_time_s"]))
    typer.echo("{:<14} {:<12} {:>6} {:>8} {:>7} {:>7} {:>8}".format(
        "space", "metric", "n", "MAPE", "<=5%", "<=10%", "rho"))
    for sp, per in result["per_space"].items():
        for m, s in per.items():
            typer.echo("{:<14} {:<12} {:>6} {:>7.2%} {:>6.0%} {:>6.0%} {:>8}".format(
                sp, m, s["n"], s["mape"] or 0.0, s["within_5"] or 0.0, s["within_10"] or 0.0,
                "-" if s["spearman"] is None else "{:.3f}".format(s["spearman"])))
    sys.stdout.flush()
