"""benches/bundle_accuracy.py: the table puts the bundle's MAPE beside the Keras model's."""

from benches import bundle_accuracy as BA


def test_table_shows_both_and_the_difference():
    doc = {"command": "python -m benches.bundle_accuracy", "targets": {"t": {
        "bundle": "b", "precision": "float16", "files": 2, "size_mb": 13.6, "trained": "d",
        "keras": {"s": {"latency_ms": {"n": 10, "mape": 0.0421}}},
        "bundle_mape": {"s": {"latency_ms": 4.52}, "all": {"latency_ms": 4.52}}}}}
    md = BA.render_markdown(doc)
    assert "| s | latency_ms | 10 | 4.21 | 4.52 | +0.31 |" in md
    assert "| all | latency_ms | - | - | 4.52 | - |" in md  # no Keras figure: no difference
    assert "float16 (2 files, 13.6 MB)" in md
