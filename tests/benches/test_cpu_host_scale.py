"""benches.cpu_host_scale: the sample and the summary (the measurement needs an idle host)."""

import pytest

from benches.cpu_host_scale import spread_sample, summarize


def test_sample_spreads_over_the_seeds_deterministically():
    seeds = list(range(100, 0, -1))
    assert spread_sample(seeds, 5) == [1, 26, 51, 75, 100]
    assert spread_sample([3, 1], 5) == [1, 3]


def test_summary_of_ratios():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["n"] == 5 and s["median"] == 3.0
    assert s["p10"] == pytest.approx(1.4) and s["p90"] == pytest.approx(4.6)
    assert summarize([])["median"] is None
