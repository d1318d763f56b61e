"""Tests of the adaptation bench's scoring and report (benches.adaptation), synthetic data."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from benches import adaptation as A  # noqa: E402


def test_stats_are_mape_share_within_10_and_spearman():
    s = A._stats(np.array([1.0, 2.1, 2.85]), np.array([1.0, 2.0, 3.0]))
    assert s == {"n": 3, "mape": round(100 * (0 + 0.05 + 0.05) / 3, 2), "within10": 100.0,
                 "spearman": 1.0}
    assert A._stats(np.array([2.0, 1.0, 3.0]), np.array([1.0, 2.0, 3.0]))["within10"] == \
        pytest.approx(33.3)


def test_report_has_a_row_per_n_and_held_out_set(tmp_path):
    st = {"n": 4, "mape": 5.0, "within10": 75.0, "spearman": 0.9}
    sets = {k: {m: st for m in ("base", "scale", "calibrated", "analytical-refit")}
            for k in ("fresh", "zoo")}
    doc = {"command": "python -m benches.adaptation", "when": "2026-12-03", "pool_per_space": 6,
           "settings": {"cpu-t2": {"base": "cpu-x", "pool": 30, "metrics": {"latency_ms": {
               str(n): {"chosen": [], "method": "groups", "loo_mape": 3.0, "sets": sets}
               for n in A.COUNTS}}}}}
    md = A.render_markdown(doc)
    assert md.count("| zoo (n=4) |") == len(A.COUNTS) and "## cpu-t2" in md
    A._plot(doc, str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").stat().st_size > 1000
