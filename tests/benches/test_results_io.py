"""benches.results_io: the JSON + markdown pair every bench writes."""

import json
import os

import pytest

from benches.results_io import write_results


def test_writes_both_files_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / "results"
    paths = write_results(str(out), "demo", {"b": 1, "a": [1.5]}, "# Demo\n")
    assert paths == (str(out / "demo.json"), str(out / "demo.md"))
    text = (out / "demo.json").read_text()
    assert json.loads(text) == {"a": [1.5], "b": 1}
    assert text.index('"a"') < text.index('"b"')  # sorted keys: reruns diff cleanly
    assert (out / "demo.md").read_text() == "# Demo\n"
    assert sorted(os.listdir(out)) == ["demo.json", "demo.md"]


def test_a_failing_document_keeps_the_previous_results(tmp_path):
    write_results(str(tmp_path), "demo", {"ok": True}, "old\n")
    with pytest.raises(TypeError):
        write_results(str(tmp_path), "demo", {"bad": object()}, "new\n")
    assert json.loads((tmp_path / "demo.json").read_text()) == {"ok": True}
    assert (tmp_path / "demo.md").read_text() == "old\n"


def test_read_results_returns_the_last_document_or_nothing(tmp_path):
    from benches.results_io import read_results, write_results

    assert read_results(str(tmp_path), "x") == {}
    write_results(str(tmp_path), "x", {"targets": {"a": 1}}, "# x\n")
    assert read_results(str(tmp_path), "x") == {"targets": {"a": 1}}
