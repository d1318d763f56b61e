"""Tests of Vela's SRAM live ranges replayed (edge_predictor.npu_memory), on hand-built graphs."""

import numpy as np
import pytest

from edge_predictor.featurize import live_bytes
from edge_predictor.npu_memory import (npu_live_bytes, npu_scratch_bytes, vela_order)

from test_npu_cost import _graph, _t


def _unrolled(steps=3, width=64, in_width=8):
    """An unrolled recurrence as the converter writes it: every input projection first, then
    the steps. x_i (i < steps) are graph inputs; p_i = FC(x_i); h_i = ADD(p_i, h_{i-1})."""
    tensors = [_t(i, (1, in_width)) for i in range(steps)]  # inputs
    tensors += [_t(steps, (width, in_width), True)]  # shared weights
    proj = [len(tensors) + i for i in range(steps)]
    tensors += [_t(t, (1, width)) for t in proj]
    hid = [len(tensors) + i for i in range(steps)]
    tensors += [_t(t, (1, width)) for t in hid]
    ops = [("FULLY_CONNECTED", (i, steps), (proj[i],), {}) for i in range(steps)]
    ops.append(("RELU", (proj[0],), (hid[0],), {}))
    ops += [("ADD", (proj[i], hid[i - 1]), (hid[i],), {}) for i in range(1, steps)]
    return _graph(ops, tensors, inputs=tuple(range(steps)), outputs=(hid[-1],))


def test_vela_runs_each_projection_just_before_its_step():
    g = _unrolled(3)
    # file: FC0 FC1 FC2 RELU ADD1 ADD2; Vela walks back from the output: ADD2 needs FC2 and
    # ADD1, ADD1 needs FC1 and RELU, RELU needs FC0
    assert vela_order(g) == [0, 3, 1, 4, 2, 5]
    assert sorted(vela_order(g)) == list(range(6))


def test_vela_order_keeps_unreachable_operators_at_the_end():
    tensors = [_t(0, (1, 8)), _t(1, (1, 8)), _t(2, (1, 8))]
    g = _graph([("RELU", (0,), (1,), {}), ("RELU", (0,), (2,), {})], tensors, outputs=(1,))
    assert vela_order(g) == [0, 1]


def test_the_unrolled_recurrence_keeps_fewer_projections_alive():
    g = _unrolled(6)
    # the file order holds all six 64-byte projections at once, then the first hidden state
    assert live_bytes(g).max() == 7 * 64
    # Vela's: the inputs not read yet (alive from the start), one projection, one hidden state
    assert npu_live_bytes(g).max() == 5 * 8 + 2 * 64


def test_in_place_elementwise_and_aliasing_reshape_share_their_input_buffer():
    # conv -> ADD(const) -> RESHAPE -> output: the ADD writes over the conv's output,
    # the RESHAPE is the same buffer; only the last tensor is a host output (unbricked)
    tensors = [_t(0, (1, 8, 8, 16)), _t(1, (16, 1, 1, 16), True), _t(2, (1, 8, 8, 16)),
               _t(3, (16,), True), _t(4, (1, 8, 8, 16)), _t(5, (1, 1024))]
    ops = [("CONV_2D", (0, 1), (2,), {}), ("ADD", (2, 3), (4,), {}),
           ("RESHAPE", (4,), (5,), {})]
    g = _graph(ops, tensors)
    fmap = 8 * 8 * 16
    # the convolution: its input and its output; then one buffer (input dead, ADD in place)
    np.testing.assert_allclose(npu_live_bytes(g), [2 * fmap, fmap, fmap])
    assert live_bytes(g, brick=True)[1] == pytest.approx(2 * fmap)  # file count: two buffers


def test_an_input_read_twice_is_not_overwritten():
    tensors = [_t(0, (1, 4, 4, 16)), _t(1, (1, 4, 4, 16)), _t(2, (1, 4, 4, 16)),
               _t(3, (1, 4, 4, 16))]
    ops = [("RELU", (0,), (1,), {}), ("MUL", (1, 1), (2,), {}), ("ADD", (2, 1), (3,), {})]
    g = _graph(ops, tensors)
    # the MUL cannot write over t1 (the ADD reads it too); the ADD writes over t2
    fmap = 4 * 4 * 16
    np.testing.assert_allclose(npu_live_bytes(g), [2 * fmap, 2 * fmap, 2 * fmap])
    tensors[1] = _t(1, (1, 4, 4, 16))
    g = _graph(ops[:2] + [("RELU", (2,), (3,), {})], tensors)
    # t1 read by the MUL only: overwritten in place, one buffer from the RELU's output on
    np.testing.assert_allclose(npu_live_bytes(g), [2 * fmap, fmap, 2 * fmap])


def test_softmax_scratch_is_its_int32_intermediates():
    tensors = [_t(0, (1, 4, 4, 21)), _t(1, (1, 4, 4, 21)), _t(2, (1, 4, 4, 21), dtype="FLOAT32"),
               _t(3, (1, 4, 4, 21), dtype="FLOAT32")]
    g = _graph([("SOFTMAX", (0,), (1,), {})], tensors[:2])
    assert npu_scratch_bytes(g).tolist() == [8.0 * 16 * 32 + 64.0 * 16]
    g = _graph([("SOFTMAX", (2,), (3,), {})], [_t(0, (1,)), _t(1, (1,)), tensors[2],
                                                tensors[3]], inputs=(2,))
    assert npu_scratch_bytes(g).tolist() == [0.0]  # float: the CPU's, not the NPU's
