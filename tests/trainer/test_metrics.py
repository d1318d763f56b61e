"""trainer.metrics on hand-computed values."""

import math

import numpy as np
import pytest

from trainer import metrics as M


def test_ape_mape_within():
    t = np.array([100.0, 200.0, 50.0])
    p = np.array([105.0, 180.0, 50.0])
    assert M.ape(t, p) == pytest.approx([0.05, 0.10, 0.0])
    assert float(M.mape(t[:, None], p[:, None])[0]) == pytest.approx(0.05)
    assert float(M.within(t, p, 0.05)) == pytest.approx(2 / 3)  # 5% counts as within
    assert float(M.within(t, p, 0.10)) == pytest.approx(1.0)
    assert float(M.within(t, p, 0.01)) == pytest.approx(1 / 3)
    two = M.within(np.stack([t, t], 1), np.stack([p, t], 1), 0.05)
    assert two.tolist() == pytest.approx([2 / 3, 1.0])
    assert math.isnan(float(M.within(np.zeros(0), np.zeros(0), 0.05)))


def test_rankdata_ties():
    assert M.rankdata([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert M.rankdata([3, 1, 2]).tolist() == [3.0, 1.0, 2.0]
    assert M.rankdata([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]
    assert M.rankdata([]).tolist() == []


def test_spearman_hand_values():
    # ranks x: 1 2 3 4, y: 1 2.5 2.5 4 -> centred (-1.5 -.5 .5 1.5) . (-1.5 0 0 1.5) = 4.5;
    # |x|^2 = 5, |y|^2 = 4.5 -> rho = 4.5 / sqrt(22.5)
    assert M.spearman([1, 2, 3, 4], [10, 20, 20, 30]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert M.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert M.spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)  # monotone, not linear
    assert math.isnan(M.spearman([1, 2, 3], [7, 7, 7]))
    assert math.isnan(M.spearman([1], [2]))
    with pytest.raises(ValueError):
        M.spearman([1, 2], [1, 2, 3])


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 40), rng.integers(0, 7, 40)
    assert M.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


def test_summary_and_per_space_score_agree():
    t = np.array([[100.0, 1.0], [200.0, 2.0], [50.0, 4.0], [10.0, 8.0]])
    p = np.array([[105.0, 1.0], [180.0, 3.0], [50.0, 4.0], [12.0, 8.0]])
    s = M.summary(t, p, ["latency_ms", "sram_kib"])
    assert s["latency_ms"]["n"] == 4
    assert s["latency_ms"]["mape"] == pytest.approx((0.05 + 0.10 + 0.0 + 0.2) / 4)
    assert s["latency_ms"]["within_5"] == pytest.approx(0.5)
    assert s["latency_ms"]["within_10"] == pytest.approx(0.75)
    assert s["latency_ms"]["spearman"] == pytest.approx(1.0)
    assert s["sram_kib"]["mape"] == pytest.approx(0.5 / 4)
    assert s["sram_kib"]["within_5"] == pytest.approx(0.75)
    spaces = np.array(["a", "a", "b", "b"])
    per = M.score(t, p, spaces, ["latency_ms", "sram_kib"])
    assert set(per) == {"a", "b", "all"}
    for m in ("latency_ms", "sram_kib"):
        for k in ("n", "mape", "within_5", "within_10", "spearman"):
            assert per["all"][m][k] == pytest.approx(s[m][k])
    assert per["a"]["latency_ms"]["mape"] == pytest.approx(0.075)
    one = M.summary(t[:1], p[:1], ["latency_ms", "sram_kib"])
    assert one["latency_ms"]["spearman"] is None and one["latency_ms"]["n"] == 1
