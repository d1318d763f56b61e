"""Tests of cold weights inside a model (edge_predictor.host_memory; pure numpy) and of the
host model's use of them and of its per-family work measures (edge_predictor.host_ops)."""

import numpy as np
import pytest

from edge_predictor.host_memory import (DEFAULT_CACHE_BYTES, NONE, STREAM_BYTES, cache_bytes,
                                        in_model_us, stream_bandwidth)
from edge_predictor.host_ops import SIZE_COLUMNS, HostOps, fit_ops

S = len(SIZE_COLUMNS)
W = SIZE_COLUMNS.index("weight_bytes")


def test_weights_beyond_the_cache_run_at_least_at_the_streaming_bandwidth():
    alone = np.array([10.0, 10.0, 500.0])
    wb = np.array([3e6, 1e3, 1e6])  # 4 MB in all, 1 MB cached: three quarters cold
    got = in_model_us(alone, wb, 10.0, 1e6)  # 10 GB/s = 1e4 bytes per us
    assert got == pytest.approx([(1 - 1e6 / wb.sum()) * 3e6 / 1e4, 10.0, 500.0])
    # a model whose weights the cache holds, or no bandwidth: the times alone
    assert in_model_us(alone, wb, 10.0, 8e6).tolist() == alone.tolist()
    assert in_model_us(alone, wb, *NONE).tolist() == alone.tolist()


def test_the_streaming_bandwidth_is_measured_on_large_one_row_layers_only():
    wb = np.array([16e6, 32e6, 16e6, 1e6])
    t = np.array([800.0, 1600.0, 10.0, 10.0])  # 20 GB/s; a convolution; a cached layer
    one_row = np.array([True, True, False, True])
    assert stream_bandwidth(wb, t, one_row) == pytest.approx(20.0)
    assert stream_bandwidth(wb[3:], t[3:], one_row[3:]) == float("inf")
    assert STREAM_BYTES > 4 << 20


def test_the_cache_is_half_the_l2_the_host_reports(tmp_path):
    for name, level, size in (("index0", "1", "48K"), ("index2", "2", "2048K"),
                              ("index3", "3", "32M")):
        d = tmp_path / name
        d.mkdir()
        (d / "level").write_text(level + "\n")
        (d / "size").write_text(size + "\n")
    assert cache_bytes(str(tmp_path)) == (1 << 20, 2 << 20)
    assert cache_bytes(str(tmp_path / "absent")) == (DEFAULT_CACHE_BYTES, None)


def _fc(weight_bytes):
    s = np.zeros(S)
    s[W] = np.log1p(weight_bytes)
    return s


def test_a_fitted_host_takes_its_bandwidth_from_the_probes_and_applies_it_in_models():
    key = "FULLY_CONNECTED/0/1024/0/0/0/1"
    probes = ([key, key], np.stack([_fc(16e6), _fc(1e6)]), np.array([100.0, 6.0])), \
        np.array([800.0, 10.0])  # 20 GB/s streamed; 100 GB/s cached
    model = ([key] * 4, np.stack([_fc(1e6)] * 4), np.full(4, 6.0))
    ops = fit_ops([(model, np.full(4, 10.0))], [0.16], probes, cache=1e6)
    assert ops.memory == (pytest.approx(20.0), 1e6)
    # 4 MB of weights, 1 MB cached: each layer streams 0.75 MB at 20 GB/s = 37.5 us, not 10
    assert ops.scale == pytest.approx(160.0 / (4 * 37.5))
    back = HostOps.from_json(ops.to_json())
    assert back.memory == ops.memory
    assert back.predict_ms(model) == pytest.approx(ops.predict_ms(model)) == pytest.approx(0.16)
    legacy = ops.to_json()
    del legacy["memory"]  # written before the term: the plain sum
    assert HostOps.from_json(legacy).memory == NONE


def _conv(groups, positions, channels):
    s = np.zeros(S)
    s[SIZE_COLUMNS.index("groups")] = np.log1p(groups)
    s[SIZE_COLUMNS.index("out_c")] = np.log1p(channels)
    s[SIZE_COLUMNS.index("out_elements")] = np.log1p(positions * channels)
    s[SIZE_COLUMNS.index("macs")] = np.log1p(positions * channels * 9 * channels / groups)
    return s


@pytest.mark.parametrize("by_positions", [True, False])
def test_a_host_picks_the_work_measure_its_grouped_convolutions_follow(by_positions):
    key = "CONV_2D/3/3/1/0/2/0"
    shapes = [(4, 784, 64), (16, 784, 64), (4, 196, 256), (16, 3136, 64), (8, 784, 128)]
    sizes = np.stack([_conv(*x) for x in shapes])
    macs = np.expm1(sizes[:, SIZE_COLUMNS.index("macs")])
    work = np.array([g * p for g, p, _ in shapes], float)
    ref = macs * 1e-4  # the table prices MACs
    times = work * 0.04 if by_positions else macs * 3e-4
    ops = HostOps([key] * len(shapes), sizes, ref, times)
    assert ops.choose_rules()["grouped"] is by_positions
    query = _conv(32, 784, 256)
    expect = 32 * 784 * 0.04 if by_positions else \
        np.expm1(query[SIZE_COLUMNS.index("macs")]) * 3e-4
    assert ops.predict_ops(([key], query[None], np.array([np.expm1(
        query[SIZE_COLUMNS.index("macs")]) * 1e-4])))[0] == pytest.approx(expect, rel=1e-6)
