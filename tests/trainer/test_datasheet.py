"""Tests of the datasheet's tables (trainer.datasheet)."""


def test_datasheet_operator_shares():
    from collections import Counter

    from trainer.datasheet import _op_histogram

    lines = _op_histogram({"a": Counter({"CONV_2D": 3, "ADD": 1}), "b": Counter({"ADD": 2})},
                          top=1)
    assert lines[0] == "| operator | a | b |"
    assert "| CONV_2D | 75.0% | - |" in lines
    assert "| other | 25.0% | 100.0% |" in lines
