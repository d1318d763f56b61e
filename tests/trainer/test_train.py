"""Training end to end on a tiny synthetic store: output folder, resume, evaluate, CLI errors."""

import json
import math
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: Spektral needs Keras 2

import pytest
import typer
from test_dataset import make_store
from typer.testing import CliRunner

from edge_predictor.errors import InputError

TINY = dict(hidden=16, gnn_layers=2, dense_layers=2, dense_width=32, batch_size=8,
            cache_dir=None, metrics=["latency_ms", "sram_kib"])


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    make_store(root, counts=(("cnn-cifar10", 60), ("cnn-kws", 5)))
    return str(root)


def _finite_numbers(per_space):
    return [v for per in per_space.values() for s in per.values()
            for k, v in s.items() if k in ("mape", "within_5", "within_10")]


@pytest.mark.train
def test_specialized_writes_everything_and_resumes(store_root, tmp_path):
    pytest.importorskip("spektral")
    from trainer.train import TrainConfig, evaluate, train

    out = str(tmp_path / "run")
    events = []
    r = train(TrainConfig(space="cnn-cifar10", out=out, epochs=2, data=store_root, **TINY),
              progress=events.append)
    for name in ("train_config.json", "config.json", "normalizer.json", "targets.json",
                 "weights.weights.h5", "metrics.json", "state.json"):
        assert os.path.exists(os.path.join(out, name)), name
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert r["epochs_run"] == 2 and r["counts"]["train"] == {"cnn-cifar10": r["counts"]["train"]
                                                             ["cnn-cifar10"]}
    vals = _finite_numbers(r["per_space"])
    assert vals and all(v is not None and math.isfinite(v) for v in vals)
    with open(os.path.join(out, "state.json")) as f:
        step_2 = json.load(f)["step"]
    n_train = r["counts"]["train"]["cnn-cifar10"]
    assert step_2 == 2 * math.ceil(n_train / 8)

    events.clear()  # "interrupted" after epoch 2: a longer run resumes at epoch 3
    r4 = train(TrainConfig(space="cnn-cifar10", out=out, epochs=4, data=store_root, **TINY),
               progress=events.append)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [3, 4]
    assert r4["resumed_from_epoch"] == 2 and r4["epochs_run"] == 4
    with open(os.path.join(out, "state.json")) as f:
        state = json.load(f)
    assert state["step"] == 4 * math.ceil(n_train / 8)  # the optimizer state came back
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3, 4]
    assert len([n for n in os.listdir(os.path.join(out, "checkpoints"))
                if n.endswith(".index")]) == 1

    straight = train(TrainConfig(space="cnn-cifar10", out=str(tmp_path / "straight"), epochs=4,
                                 data=store_root, **TINY))  # seeded: resuming changes nothing
    assert straight["best_val_mape"] == pytest.approx(r4["best_val_mape"], rel=1e-4)
    assert _finite_numbers(straight["per_space"]) == pytest.approx(
        _finite_numbers(r4["per_space"]), rel=1e-4)

    ev = evaluate(out, split="test")
    assert ev["per_space"]["cnn-cifar10"]["latency_ms"]["n"] == len(ev["predictions"]["seed"])
    assert all(v is not None and math.isfinite(v) for v in _finite_numbers(ev["per_space"]))
    with pytest.raises(InputError):  # another architecture in the same folder
        train(TrainConfig(space="cnn-cifar10", out=out, epochs=5, data=store_root,
                          **dict(TINY, hidden=32)))


@pytest.mark.train
def test_generalized_upsamples_the_small_space(store_root, tmp_path):
    pytest.importorskip("spektral")
    from trainer.train import TrainConfig, train

    r = train(TrainConfig(mode="generalized", out=str(tmp_path / "gen"), epochs=1,
                          data=store_root, loss="mape", cfe=False, **TINY))
    c = r["counts"]
    assert set(c["train"]) == {"cnn-cifar10", "cnn-kws"}
    total = sum(c["train_upsampled"].values())
    assert c["train_upsampled"]["cnn-kws"] / total >= 0.1 > c["train"]["cnn-kws"] / sum(
        c["train"].values())
    assert set(r["per_space"]) <= {"cnn-cifar10", "cnn-kws", "all"}


def test_cli_rejects_bad_arguments(tmp_path):
    from trainer.train_cli import train

    app = typer.Typer()
    app.command()(train)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    for args, says in ((["--mode", "specialized"], "needs --space"),
                       (["--mode", "both", "--space", "cnn-kws"], "--mode must be"),
                       (["--space", "cnn-nope"], "unknown design space 'cnn-nope'"),
                       (["--space", "cnn-kws", "--fraction", "0"], "--fraction must be in"),
                       (["--space", "cnn-kws", "--loss", "l1"], "--loss must be"),
                       (["--mode", "generalized", "--space", "cnn-kws"], "--space is for")):
        res = runner.invoke(app, ["train", "--out", str(tmp_path / "x")] + args)
        assert res.exit_code == 2, (args, res.output)
        assert says in res.output and "Traceback" not in res.output, (args, res.output)
