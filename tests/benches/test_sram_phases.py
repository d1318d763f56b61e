"""benches.sram_phases on a recorded Vela allocation log (a DS-CNN of cnn-kws, seed 0)."""

import os

import pytest

from benches.sram_phases import parse_sram_allocation, reconstruct, summarise

LOG = os.path.join(os.path.dirname(__file__), "data", "vela_allocation_dscnn.txt")


def test_parses_every_sram_tensor_and_the_total():
    with open(LOG) as f:
        tensors, total = parse_sram_allocation(f.read())
    assert len(tensors) == 44
    assert tensors[0] == (0, 0, 3136, "WB_double_3136_op0")
    assert total == pytest.approx(141.62)


def test_two_phases_rebuild_the_peak_one_phase_overshoots():
    with open(LOG) as f:
        tensors, total = parse_sram_allocation(f.read())
    r = reconstruct(tensors)
    assert r["peak"] == 145024  # Vela's "Allocation Peak Tensor Size"
    assert r["peak"] / 1024 == pytest.approx(total, abs=0.01)
    assert r["two_phase"] == r["peak"]
    assert r["one_phase"] == 149504 > r["peak"]  # the next weights all at once: too much
    assert r["act_peak"] == 72000  # two 36,000-byte NHCWB16 feature maps
    assert 0.45 < r["weight_share"] < 0.55


def test_summary_scores_against_the_label_and_counts_failures():
    ok = {"space": "cnn-kws", "label": 100.0, "peak": 100.0, "act_peak": 60.0,
          "ours_act_peak": 60.0, "weight_share": 0.4, "one_phase": 110.0, "two_phase": 100.0}
    rows = summarise([ok, dict(ok, one_phase=130.0, ours_act_peak=66.0),
                      {"space": "cnn-kws", "seed": 3, "error": "boom"}])
    kws = rows[0]
    assert kws["n"] == 2 and kws["failed"] == 1
    assert kws["mape_one_phase"] == pytest.approx(20.0)
    assert kws["mape_two_phase"] == 0.0
    assert kws["act_peak_exact"] == 0.5 and kws["act_peak_mape"] == pytest.approx(5.0)


def test_a_log_without_allocation_is_an_error():
    with pytest.raises(ValueError):
        parse_sram_allocation("Network summary\nTotal SRAM used 1.0 KiB\n")


def test_encoded_weights_by_tensor_name():
    from benches.sram_phases import parse_encoded_weights

    with open(LOG) as f:
        enc = parse_encoded_weights(f.read())
    assert len(enc) == 18
    assert enc["ds0_pw/Conv2D"] == 41344 and enc["classifier/Conv2D"] == 1904
    assert parse_encoded_weights("no such section") == {}


def test_weight_sizes_pairs_our_sizes_with_velas_encoded_ones():
    from benches.sram_phases import weight_sizes
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    tensors = [TensorInfo(0, (1, 4, 4, 8), "INT8", False, True, False),
               TensorInfo(1, (16, 1, 1, 8), "INT8", True, True, True, "conv/w"),
               TensorInfo(2, (16,), "INT32", True, True, True, "conv/b"),
               TensorInfo(3, (1, 4, 4, 16), "INT8", False, True, False),
               TensorInfo(4, (16,), "INT8", True, True, False, "add/c"),
               TensorInfo(5, (1, 4, 4, 16), "INT8", False, True, False)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0, 1, 2), (3,)), OpNode(1, "ADD", 0, 1, (3, 4), (5,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(5,))
    rows = weight_sizes(g, {"conv/w": 300, "add/c": 16})
    # the ADD's constant is encoded but has no filter estimate: only the convolution is listed
    assert rows == [{"op": "CONV_2D", "raw": 128.0 + 64.0, "estimate": 8 * 16 + 160.0,
                     "vela": 300.0}]
    assert weight_sizes(g, {}) == []


def test_buffering_reads_velas_buffer_kind_and_the_slack_ratio():
    from benches.sram_phases import buffering
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    # in [1,8,8,8] -> CONV_2D 1x1 8->16 (filter 16x1x1x8) -> CONV_2D 1x1 16->16 -> out
    tensors = [TensorInfo(0, (1, 8, 8, 8), "INT8", False, True, False),
               TensorInfo(1, (16, 1, 1, 8), "INT8", True, True, True),
               TensorInfo(2, (1, 8, 8, 16), "INT8", False, True, False),
               TensorInfo(3, (16, 1, 1, 16), "INT8", True, True, True),
               TensorInfo(4, (1, 8, 8, 16), "INT8", False, True, False)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0, 1), (2,)), OpNode(1, "CONV_2D", 3, 1, (2, 3), (4,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(4,))
    alloc = [(0, 1, 1024, "a"), (0, 0, 288, "WB_single_288_op0"),
             (1, 2, 208, "WB_double_208_op1"), (2, 2, 208, "WB_double2_208_op1"),
             (2, 2, 64, "WB_single_64_op7")]  # op7: no such operator of ours, skipped
    rows = buffering(alloc, g)
    assert [(r["index"], r["double"]) for r in rows] == [(0, False), (1, True)]
    assert rows[0]["slack_ratio"] == 0.0  # nothing runs before the first operator
    # op1: previous MACs 8*8*16*8 = 8192; its weights 16 * 16 + 10 * 16 = 416 bytes
    assert rows[1]["slack_ratio"] == pytest.approx(8192 / 416, rel=1e-5)


def test_summary_scores_the_buffering_rule():
    base = {"space": "cnn-kws", "label": 100.0, "peak": 100.0, "act_peak": 60.0,
            "ours_act_peak": 60.0, "weight_share": 0.4, "one_phase": 100.0, "two_phase": 100.0}
    bufs = [{"double": True, "slack_ratio": 2.0}, {"double": False, "slack_ratio": 500.0},
            {"double": True, "slack_ratio": 50.0}, {"double": False, "slack_ratio": 30.0}]
    kws = summarise([dict(base, buffers=bufs)])[0]
    assert kws["buffer_ops"] == 4 and kws["double_share"] == 0.5
    assert kws["rule_accuracy"] == 0.75  # the third is double-buffered above the threshold
