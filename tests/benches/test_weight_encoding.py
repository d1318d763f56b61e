"""benches.weight_encoding: the fit and the scoring, on synthetic rows (no Vela)."""

import pytest

from benches.weight_encoding import fit, render_markdown, score
from edge_predictor.weight_stream import ENCODING_COEFFICIENTS, encoded_weight_bytes

KERNELS = ((1, 1), (2, 2), (3, 3), (3, 5), (5, 5), (7, 7), (8, 4), (10, 4))
SHAPES = [("CONV_2D", (o, h, w, i)) for o in (8, 16, 40, 96) for h, w in KERNELS
          for i in (1, 3, 8, 16, 48, 128)] + \
         [("DEPTHWISE_CONV_2D", (1, h, w, c)) for h, w in KERNELS for c in (16, 48, 96, 200)]


def _rows(size):
    return [{"op": op, "shape": list(s), "raw": 1.0, "npu": 2.0, "vela": size(op, s)}
            for op, s in SHAPES]


def test_fit_recovers_the_shipped_coefficients_from_their_own_sizes():
    got = fit(_rows(encoded_weight_bytes))
    assert set(got) == set(ENCODING_COEFFICIENTS)
    for group, coef in got.items():
        want = ENCODING_COEFFICIENTS[group]
        # the depthwise padding column is all zeros: its coefficient is fitted as 0
        assert coef == pytest.approx(want, rel=1e-3, abs=1e-3), group


def test_score_is_zero_for_a_perfect_estimate_and_not_otherwise():
    s = score(_rows(encoded_weight_bytes))
    assert s["estimate"]["mape"] == pytest.approx(0.0, abs=1e-9)
    assert s["raw"]["mape"] > 50  # raw = 1 byte against hundreds
    off = score(_rows(lambda op, sh: 1.1 * encoded_weight_bytes(op, sh)))
    assert off["estimate"]["mape"] == pytest.approx(100 * (1 - 1 / 1.1), rel=1e-6)


def test_score_uses_the_coefficients_it_is_given():
    zero = {g: [0.0] * 5 for g in ENCODING_COEFFICIENTS}  # estimate = bias and scale bytes only
    s = score(_rows(encoded_weight_bytes), zero)
    assert s["estimate"]["mape"] > 10


def test_markdown_has_a_row_per_score():
    s = score(_rows(encoded_weight_bytes))
    md = render_markdown({"command": "c", "wall_s": 1.0, "vela": "5.2.0",
                          "scores": {"cnn-kws": s, "zoo (1 models)": s}, "fit_all": {}})
    assert "| cnn-kws | {} |".format(len(SHAPES)) in md and "| zoo (1 models) |" in md
