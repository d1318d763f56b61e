"""The shape-only estimate of Vela's encoded weight stream (pure Python, no models)."""

import pytest

from edge_predictor.weight_stream import (ENCODING_COEFFICIENTS, SCALE_BYTES,
                                          conv_traversal_elements, encoded_weight_bytes,
                                          encoding_terms, sram_buffered)

# (op, filter shape, bytes Vela 5.2.0 encoded): filters of cnn-kws-800000 and cnn-cifar10-800000
# from the validation bench's models (benches/weight_encoding.py lists them with
# --verbose-allocation); the fit saw these models, so this pins the fit, not its generality
# (benches/results/weight_encoding.md has the out-of-sample figures).
VELA = [("CONV_2D", (32, 10, 4, 1), 2240), ("DEPTHWISE_CONV_2D", (1, 3, 5, 32), 848),
        ("CONV_2D", (128, 1, 1, 32), 5392), ("CONV_2D", (96, 1, 1, 128), 12928),
        ("DEPTHWISE_CONV_2D", (1, 5, 5, 96), 3696), ("CONV_2D", (64, 3, 3, 8), 6000),
        ("CONV_2D", (8, 1, 1, 64), 592), ("DEPTHWISE_CONV_2D", (1, 5, 5, 64), 2464)]


@pytest.mark.parametrize("op,shape,vela", VELA)
def test_estimate_is_within_10_percent_of_vela(op, shape, vela):
    assert encoded_weight_bytes(op, shape) == pytest.approx(vela, rel=0.10)


def test_estimate_is_closer_to_vela_than_the_uncompressed_stream():
    from edge_predictor.featurize import npu_weight_bytes

    def mape(size):
        return sum(abs(size(op, shape) / vela - 1) for op, shape, vela in VELA) / len(VELA)

    assert mape(encoded_weight_bytes) < 0.04 < mape(npu_weight_bytes)


def test_estimate_beats_the_uncompressed_stream_on_an_input_depth_of_1():
    from edge_predictor.featurize import npu_weight_bytes

    # the first cnn-kws convolution: Vela pads its depth-1 input, npu_weight_bytes is 29% low
    est = encoded_weight_bytes("CONV_2D", (224, 10, 4, 1))
    npu = npu_weight_bytes("CONV_2D", (224, 10, 4, 1))
    assert abs(est / 15648 - 1) < 0.03 < abs(npu / 15648 - 1)


def test_traversal_padding():
    # depth 8 and a 3x3 kernel: part-kernel-first, 9 kernel positions padded to 12
    assert conv_traversal_elements((64, 3, 3, 8)) == 64 * 12 * 8
    # depth 64: depth-first uses the engine fully (64 = 2 x 32), 3x3 not padded
    assert conv_traversal_elements((16, 3, 3, 64)) == 16 * 9 * 64
    # depth 40 with a 2x2 kernel: part-kernel-first (40/40 * 4/4 >= 40/64)
    assert conv_traversal_elements((16, 2, 2, 40)) == 16 * 4 * 40


def test_estimate_grows_with_the_filter_and_covers_bias_and_scale():
    small = encoded_weight_bytes("CONV_2D", (16, 1, 1, 16))
    assert small > SCALE_BYTES * 16
    assert encoded_weight_bytes("CONV_2D", (32, 1, 1, 16)) > small
    assert encoded_weight_bytes("CONV_2D", (16, 3, 3, 16)) > small


@pytest.mark.parametrize("op,shape", [("FULLY_CONNECTED", (10, 64)), ("CONV_2D", (8, 3, 3)),
                                      ("DEPTHWISE_CONV_2D", (2, 3, 3, 8)), ("ADD", (1, 1, 1, 8)),
                                      ("CONV_2D", (0, 3, 3, 8))])
def test_no_estimate_outside_its_domain(op, shape):
    assert encoded_weight_bytes(op, shape) is None


def test_which_operators_vela_buffers():
    assert sram_buffered("CONV_2D") and sram_buffered("DEPTHWISE_CONV_2D")
    assert not sram_buffered("FULLY_CONNECTED") and not sram_buffered("ADD")


def test_groups():
    assert encoding_terms("CONV_2D", (8, 3, 3, 1))[0] == "conv_i1"
    assert encoding_terms("CONV_2D", (8, 3, 3, 8))[0] == "conv_i8"
    assert encoding_terms("CONV_2D", (8, 3, 3, 9))[0] == "conv"
    assert encoding_terms("DEPTHWISE_CONV_2D", (1, 3, 3, 9))[0] == "depthwise"
    assert encoding_terms("FULLY_CONNECTED", (8, 9)) is None


def test_terms_times_coefficients_is_the_estimate():
    op, shape = "CONV_2D", (16, 3, 3, 32)
    group, channels, terms = encoding_terms(op, shape)
    assert (group, channels) == ("conv", 16)
    body = sum(c * x for c, x in zip(ENCODING_COEFFICIENTS["conv"], terms))
    assert encoded_weight_bytes(op, shape) == pytest.approx(10 * 16 + body)
    doubled = {g: [2 * c for c in cs] for g, cs in ENCODING_COEFFICIENTS.items()}
    assert encoded_weight_bytes(op, shape, doubled) == pytest.approx(10 * 16 + 2 * body)


def test_stream_bytes_and_the_sram_column():
    from edge_predictor.graph import TensorInfo
    from edge_predictor.weight_stream import npu_sram_weights, npu_stream_bytes

    conv = [TensorInfo(1, (12, 1, 1, 64), "INT8", True, True, True)]
    fc = [TensorInfo(1, (12, 64), "INT8", True, True, True)]
    enc = encoded_weight_bytes("CONV_2D", (12, 1, 1, 64))
    assert npu_stream_bytes("CONV_2D", conv, 999.0) == enc  # a filter: its encoded size
    assert npu_stream_bytes("FULLY_CONNECTED", fc, 999.0) == 999.0  # else what is stored
    assert npu_sram_weights("CONV_2D", conv, enc, (1, 4, 4, 64)) == enc  # buffered
    assert npu_sram_weights("CONV_2D", conv, enc, (1, 1, 1, 64)) == 0.0  # run as FC: flash
    assert npu_sram_weights("FULLY_CONNECTED", fc, 999.0, (1, 64)) == 0.0
