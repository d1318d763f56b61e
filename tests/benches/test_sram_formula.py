"""benches/sram_formula.py: the two-phase formula, by hand on two tiny graphs."""

import numpy as np

from benches.sram_formula import fit, two_phase


def _arrays():
    # graph 0: nodes 0-1, graph 1: nodes 2-4; KiB sizes, hints mark double-buffered weights
    return {"live": np.array([10.0, 20.0, 5.0, 5.0, 5.0]),
            "w": np.array([4.0, 0.0, 8.0, 2.0, 0.0]),
            "next_w": np.array([0.0, 0.0, 2.0, 0.0, 0.0]),
            "hint": np.array([True, False, False, True, False]),
            "next_hint": np.array([False, False, True, False, False]),
            "starts": np.array([0, 2])}


def test_two_phase_is_the_larger_phase_of_the_largest_node_plus_a_constant():
    a = _arrays()
    p = np.array([1.0, 0.5, 1.0, 0.25, 1.0, 0.5, 3.0])
    # graph 0: node 0 runs 10 + 0.5*4 = 12, hands over 10 + 0.5*4 = 12; node 1: 20 -> 20 + 3
    # graph 1: node 2 runs 5 + 8 = 13, hands over 5 + 8 + 0.25*2 = 13.5 -> 13.5 + 3
    np.testing.assert_allclose(two_phase(p, a, hint=True), [23.0, 16.5])
    # without the hint the double-buffer shares are the single ones: node 2 -> 5 + 8 + 2 = 15
    np.testing.assert_allclose(two_phase(p, a, hint=False), [23.0, 18.0])


def test_fit_recovers_shares_that_make_the_labels_exact():
    a = _arrays()
    true = np.array([1.0, 0.5, 1.0, 0.25, 1.0, 0.5, 3.0])
    y = two_phase(true, a, hint=True)
    p = fit(a, y, hint=True)
    np.testing.assert_allclose(two_phase(p, a, hint=True), y, rtol=1e-3)


def test_markdown_has_every_variant():
    from benches.sram_formula import VARIANTS, render_markdown

    cell = {"train": 4.0, "test": 3.5}
    doc = {"command": "c", "wall_s": 1.0, "spaces": {"cnn-kws": dict(
        {k: cell for k, _, _ in VARIANTS}, n_train=10, n_test=3)}}
    md = render_markdown(doc)
    assert "| cnn-kws | 10 | 3 | " + " | ".join(["4.00 | 3.50"] * len(VARIANTS)) + " |" in md
