"""Tests of the interval bench's grouping and report (benches.intervals)."""

from benches import intervals as I


def test_groups_are_spaces_for_fresh_models_and_families_for_the_zoo():
    assert I._group("/x/models/cnn-kws-800003.tflite") == "cnn-kws"
    assert I._group("/x/zoo/mobilenet_v2_035_96.tflite") == "zoo:mobilenet_v2"


def test_report_has_a_row_per_target_and_metric():
    r = {"spec": {"n": [40, 57], "edges": [0.03]}, "coverage": 0.78, "width": 1.11,
         "per_set": {"fresh": {"coverage": 0.96, "width": 1.12},
                     "zoo": {"coverage": 0.6, "width": 1.1}}}
    md = I._markdown({"command": "python -m benches.intervals",
                      "targets": {"t": {"latency_ms": r, "sram_kib": r}}})
    assert md.count("| t | ") == 2 and "| 97 | 78% | 1.11x |" in md
