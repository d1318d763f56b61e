"""The replay of Vela's weight buffering from estimated cycles (pure numpy, no models)."""

import numpy as np
import pytest

from edge_predictor.npu_schedule import (CYCLE_MODEL, SCHEDULE_COLUMNS, SLICE_DEPTH,
                                         TRANSFER_CYCLES_PER_BYTE, OpGeometry, block_model,
                                         cycle_kind, op_cycles, replay_buffering,
                                         schedule_columns)


def test_conv_cycles_are_the_largest_of_compute_transfer_and_output():
    per_mac, per_weight, per_out = CYCLE_MODEL["conv"]
    # compute-bound: many MACs, few weights
    assert op_cycles("conv", 1e7, 0, 1000, 100) == pytest.approx(per_mac * 1e7)
    # weight-bound: a 1x1 convolution on a small map
    assert op_cycles("conv", 1e4, 0, 100, 5e4) == pytest.approx(per_weight * 5e4)
    # output-bound
    assert op_cycles("conv", 1e3, 0, 1e5, 10) == pytest.approx(per_out * 1e5)


def test_depthwise_and_other_cycles():
    per_mac, per_out, const = CYCLE_MODEL["depthwise"]
    assert op_cycles("depthwise", 1e5, 0, 4000, 500) == pytest.approx(
        per_mac * 1e5 + per_out * 4000 + const)
    (per_byte,) = CYCLE_MODEL["other"]
    assert op_cycles("other", 0, 6000, 100, 0) == pytest.approx(per_byte * 6000)
    # weights read from flash (FULLY_CONNECTED) bound an operator's time too
    assert op_cycles("other", 0, 10, 10, 1e4) == pytest.approx(TRANSFER_CYCLES_PER_BYTE * 1e4)


def test_enough_slack_keeps_one_whole_buffer():
    # op 0: no weights, 10k cycles; op 1: 2 kB of weights hide behind them
    plan = replay_buffering([1e4, 3e3], [0, 2000], [8, 64])
    assert plan.double.tolist() == [0, 0]
    assert plan.first[1] == plan.kept[1] == plan.whole[1] == 2000
    assert plan.slack_ratio[1] > 0


def test_first_operator_with_weights_is_double_buffered_in_slices():
    # nothing runs before op 0: its transfer cannot hide, Vela slices it
    plan = replay_buffering([4e4], [8000], [128])
    # first slice 16 deep (no slack), then 80 deep (the transfer that hides behind 16 deep of
    # compute, rounded up to 16), then the 32 left: slices of 1000, 5000, 2000 bytes
    assert SLICE_DEPTH == 16 and plan.double[0] == 1
    assert plan.first[0] == 2000  # buffer 0 holds slices 0 and 2
    assert plan.whole[0] == 2000 + 5000  # two buffers, smaller than the 8000-byte stream
    assert plan.kept[0] == 2000  # the last slice is in buffer 0
    assert plan.slack_ratio[0] < 0


def test_slack_after_a_double_buffered_operator_is_its_last_slice():
    # op 0 is sliced (16, 64, 48 deep); op 1's 12 kB of weights would hide behind op 0's 30k
    # cycles, but only its last slice's share of them is left (11,250)
    cycles, weights, depths = [3e4, 4e3, 5e3], [9000, 12000, 0], [128, 64, 8]
    plan = replay_buffering(cycles, weights, depths)
    assert plan.double[0] == 1
    assert plan.double[1] == 1
    # with op 0 single-buffered (enough slack from an op before it) op 1 would be single
    plan2 = replay_buffering([1e5] + cycles, [0] + weights, [8] + depths)
    assert plan2.double[1:3].tolist() == [0, 0]


def test_shapes_and_empty_graph():
    plan = replay_buffering(np.zeros(0), np.zeros(0), np.zeros(0))
    assert all(len(a) == 0 for a in plan)
    plan = replay_buffering(np.ones(5) * 1e4, np.zeros(5), np.ones(5) * 16)
    assert plan.whole.shape == (5,) and not plan.double.any()


def test_schedule_columns_of_a_chain():
    kinds = [cycle_kind(op) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                       "FULLY_CONNECTED")]
    assert kinds == ["conv", "depthwise", "other", "other"]
    # brick MACs, input bytes, output bytes
    inputs = np.array([[4e6, 500, 28000], [3e5, 28000, 28000], [0, 28000, 224], [3e3, 224, 12]])
    stream, sram = np.array([15000, 4000, 0, 3000]), np.array([15000, 4000, 0, 0])
    cols = schedule_columns(kinds, inputs, stream, sram, np.array([224, 224, 224, 12]))
    assert cols.shape == (4, len(SCHEDULE_COLUMNS))
    plan = replay_buffering(cols[:, 0], sram, [224, 224, 224, 12])
    np.testing.assert_array_equal(cols[:, 1], plan.double)
    assert cols[0, 1] == 1  # the first convolution: no slack, sliced
    assert cols[3, 0] == pytest.approx(TRANSFER_CYCLES_PER_BYTE * 3000)  # FC: flash-bound
    np.testing.assert_allclose(cols[:-1, 5], cols[1:, 2])  # next operator's first buffer
    np.testing.assert_allclose(cols[:, 6], cols[:, 3] + cols[:, 5])  # hand-over
    assert cols[-1, 5] == 0 and cols[-1, 8] == 0  # nothing after the last operator


def test_slices_are_whole_ofm_blocks_and_leave_a_short_tail():
    # Vela 5.2 on a 276-deep 1x1 convolution in 48-deep blocks after 14,000 cycles of slack:
    # a first slice of 128 (the slack's share, in 16s), then 144 (what hides behind the first
    # slice's compute, rounded up to whole blocks), then the 4 left: [0, 128, 272, 276]
    w, cyc = 29088.0, 32754.0
    plan = replay_buffering([14000.0, cyc, 5000.0], [0.0, w, 7296.0], [96, 276, 276],
                            blocks=[16, 48, 16])
    assert plan.double[1] == 1
    assert plan.first[1] == pytest.approx(128 / 276 * w)
    assert plan.whole[1] == pytest.approx((128 + 144) / 276 * w)
    assert plan.kept[1] == plan.first[1]  # three slices: the last one is back in buffer 0
    # the next operator only gets the 4-channel tail (one 8-channel micro-block of 35: 936
    # cycles) to hide its 7,360-cycle transfer: sliced too, from a 32-deep first slice
    assert plan.double[2] == 1 and plan.first[2] == pytest.approx(32 / 276 * 7296.0)



def test_without_block_depths_slices_go_in_16_channel_steps():
    # Vela on a 276-deep convolution (48-deep blocks, 96,275 cycles, 78,144 bytes) with no
    # slack: [0, 16, 64, 112, 160, 208, 256, 276]; in 16-channel steps the slices would be 32
    w, cyc = 78144.0, 96275.0
    blocks = replay_buffering([cyc], [w], [276], blocks=[48])
    assert blocks.whole[0] == pytest.approx((48 + 48) / 276 * w)
    flat = replay_buffering([cyc], [w], [276])
    assert flat.whole[0] == pytest.approx((32 + 32) / 276 * w)


def test_schedule_columns_use_velas_block_model_when_the_geometry_is_known():
    geom = OpGeometry("conv", (25, 5, 276), (25, 5, 96), (1, 1), (1, 1), (1, 1))
    assert block_model(geom) == (48, pytest.approx(32754, rel=0.03))
    inputs = np.array([[1e6, 12000, 12000], [3.3e6, 12000, 34500]])
    stream = sram = np.array([0.0, 29088.0])
    plain = schedule_columns(["other", "conv"], inputs, stream, sram, np.array([96, 276]))
    with_geom = schedule_columns(["other", "conv"], inputs, stream, sram, np.array([96, 276]),
                                 [None, geom])
    assert with_geom[1, 0] == pytest.approx(block_model(geom)[1])
    assert plain[1, 0] == pytest.approx(op_cycles("conv", 3.3e6, 12000, 34500, 29088.0))


def test_a_full_memo_starts_again_without_losing_the_graph_it_answers(monkeypatch):
    import edge_predictor.npu_schedule as S

    seen = OpGeometry("conv", (8, 8, 16), (8, 8, 16), (3, 3), (1, 1), (1, 1))
    new = OpGeometry("conv", (4, 4, 32), (8, 8, 16), (3, 3), (2, 2), (1, 1))
    S.clear_block_models()
    first = S.block_models([seen])
    monkeypatch.setattr(S, "_MEMO_LIMIT", 1)  # the next graph's new operator overflows it
    assert S.block_models([seen, new])[0] == first[0]
    S.clear_block_models()
