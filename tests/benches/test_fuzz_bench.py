"""Tests of the fuzz bench (benches.fuzz): deterministic mutants, crashes counted and saved."""

import random

from benches import fuzz as F


def test_mutants_are_deterministic_and_cover_every_kind():
    models = {"a": bytes(range(256)) * 4, "b": bytes(200)}
    one = list(F.mutants(models, 16, seed=3))
    two = list(F.mutants(models, 16, seed=3))
    assert one == two and {k for _, k, _ in one} == set(range(len(F.KINDS)))
    # a mutant may equal its model (a zero word over zeros): rarely
    assert sum(m != models[n] for n, _, m in one) >= len(one) - 4
    truncated = F.mutate(models["a"], 1, random.Random(0), list(models.values()))
    assert 8 <= len(truncated) < len(models["a"])


def test_a_crash_is_counted_and_its_mutant_saved(tmp_path, monkeypatch):
    import edge_predictor.summary as summary

    def boom(graph):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(F, "CRASHES", str(tmp_path))
    monkeypatch.setattr(summary, "summarize", boom)
    with open(F.os.path.join(F.ROOT, "tests", "fixtures", "conv.tflite"), "rb") as f:
        models = {"conv": f.read()}
    doc = F.run(models, 8, seed=0)
    assert doc["outcome"]["crashed"] > 0
    assert sum(doc["outcome"].values()) == 8
    assert doc["crashes"][0]["error"] == "RuntimeError: kaboom"
    assert len(list(tmp_path.iterdir())) >= 1
    assert F._markdown(dict(doc, command="x", models=["conv"])).count("crash:") >= 1
