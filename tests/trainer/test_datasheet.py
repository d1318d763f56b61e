"""Tests of the datasheet's tables (trainer.datasheet)."""


def test_datasheet_operator_shares():
    from collections import Counter

    from trainer.datasheet import _op_histogram

    lines = _op_histogram({"a": Counter({"CONV_2D": 3, "ADD": 1}), "b": Counter({"ADD": 2})},
                          top=1)
    assert lines[0] == "| operator | a | b |"
    assert "| CONV_2D | 75.0% | - |" in lines
    assert "| other | 25.0% | 100.0% |" in lines


def test_datasheet_writes_the_labels_and_the_noise_floor_it_measured(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from trainer.datasheet import write_datasheet
    from trainer.store import LABELS, MODELS, Store

    store = Store(str(tmp_path))
    graph = {"o": [["CONV_2D"], ["ADD"]], "t": [[], [], []]}
    with store.writer(MODELS, "cnn-kws") as w:
        for seed in range(4):
            w.append({"space": "cnn-kws", "seed": seed, "status": "ok", "sha256": str(seed),
                      "graph": graph, "size": 2e6, "times": {"vela": 2.0},
                      "labels": {"ethos-u55-128": {"latency_ms": 1.0 + seed}},
                      "prov": {"ethos-u55-128": {"labeler": "vela", "time": "t"}}})
    with store.writer(LABELS, "cpu-x-t1") as w:
        for seed, first, second in ((0, 1.0, 1.1), (1, 2.0, 1.8)):
            for p, v in ((1, first), (2, second)):
                w.append({"space": "cnn-kws", "seed": seed, "target": "cpu-x-t1", "pass": p,
                          "labels": {"latency_ms": v}, "prov": {"labeler": "cpu", "host": {}}})
    text = open(write_datasheet(str(tmp_path))).read()
    assert "| cnn-kws | ethos-u55-128 | latency_ms [ms] | 4 | 1 | 2.5 | 4 |" in text
    assert "| cnn-kws | cpu-x-t1 | latency_ms [ms] | 2 | 1 | 1.5 | 2 |" in text  # pass 1 only
    # |1.1 - 1| / 1 = 10%, |1.8 - 2| / 2 = 10%
    assert "- cpu-x-t1: MAPE between two passes 10.00% over 2 models (cnn-kws 10.00% (n=2))" \
        in text
    assert "| cnn-kws | 4 | 2.00 | 1800 |" in text  # throughput: 2 s per model
