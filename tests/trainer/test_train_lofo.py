"""TrainConfig.hold_out_family: the families space's models of one family leave train and val."""

from types import SimpleNamespace

import numpy as np

from trainer import dataset as D
from trainer.spaces import sample_config
from trainer.train import _without_family


def test_held_out_family_leaves_only_its_families_models():
    spaces = np.array(["families"] * 60 + ["cnn-cifar10"] * 10)
    seeds = np.array(list(range(60)) + list(range(10)), dtype=np.int64)
    table = SimpleNamespace(space=spaces, seed=seeds)
    ds = D.Dataset(table, np.arange(70), np.ones((70, 1)), "ethos-u55-128", ("latency_ms",))
    family = sample_config("families", 0)["family"]
    kept = _without_family(ds, family)
    fams = [sample_config("families", int(seeds[g]))["family"]
            for g in kept.index if spaces[g] == "families"]
    assert family not in fams and len(fams) > 0
    assert (spaces[kept.index] == "cnn-cifar10").sum() == 10  # other spaces untouched
    assert len(kept) == 70 - sum(sample_config("families", s)["family"] == family
                                 for s in range(60))
