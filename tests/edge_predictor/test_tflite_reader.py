"""The reader on real fixtures (counts, names, MACs) and on synthetic edge cases."""

import pytest
from flatbuild import build_model

from edge_predictor.errors import ModelFormatError
from edge_predictor.op_table import lookup
from edge_predictor.summary import summarize
from edge_predictor.tflite_reader import read_model

pytestmark = pytest.mark.usefixtures("both_reader_paths")


def test_ops_in_execution_order_match_the_fixture(fixture_model):
    name, path, exp = fixture_model
    graph = read_model(path)
    custom = set(exp["custom_codes"])
    names = [("CUSTOM:" + op if op in custom else op) for op in exp["ops"]]
    assert [n.op for n in graph.ops] == names
    assert len(graph.ops) == exp["op_count"]
    assert len(graph.tensors) == exp["tensor_count"]


def test_operator_count_equals_the_interpreters(fixture_model):
    from edge_predictor.interpreters import make_interpreter

    name, path, exp = fixture_model
    if exp["custom_codes"]:
        pytest.skip("the builtin interpreter cannot load custom operators")
    with open(path, "rb") as f:
        content = f.read()
    interp = make_interpreter(content, threads=1, default_delegates=False)
    assert len(read_model(content).ops) == len(interp._get_ops_details())


def test_macs_equal_the_hand_computation(fixture_model):
    name, path, exp = fixture_model
    graph = read_model(path)
    for op, expected in exp["macs"].items():
        got = [int(lookup(n.op)[0].extractor(graph, n).get("macs", 0))
               for n in graph.ops if n.op == op]
        assert got == expected, (name, op)
    assert summarize(graph)["macs"] == sum(sum(v) for v in exp["macs"].values())


def test_graph_inputs_outputs_and_edges(fixture_model):
    name, path, exp = fixture_model
    graph = read_model(path)
    assert [list(graph.tensors[t].shape) for t in graph.inputs] == [
        i["shape"] for i in exp["inputs"]]
    edges = graph.edges()
    # every edge goes forward in execution order and carries a non-constant tensor
    assert all(p < c for p, c, _ in edges.tolist())
    assert not any(graph.tensors[t].is_constant for t in edges[:, 2].tolist())
    # constants never become nodes: every op's constant inputs are attached to it
    consts = sum(len(graph.constant_inputs(n)) for n in graph.ops)
    assert consts > 0


def test_builtin_codes_above_127_and_below():
    content = build_model([(150, None), (0, None), (126, None)])  # GELU, ADD, BATCH_MATMUL
    assert [n.op for n in read_model(content).ops] == ["GELU", "ADD", "BATCH_MATMUL"]


def test_unknown_builtin_is_other_with_a_warning():
    from edge_predictor.featurize import featurize
    from edge_predictor.op_table import CATEGORIES

    graph = read_model(build_model([(0, None), (250, None)]))
    feats = featurize(graph)
    assert graph.ops[1].op == "BUILTIN_250"
    assert CATEGORIES[feats.categories[1]] == "OTHER"
    assert feats.unknown_ops == ("BUILTIN_250",)
    assert any("BUILTIN_250" in w for w in graph.warnings)


def test_custom_op_is_named_by_its_code():
    graph = read_model(build_model([(32, "MyCustomOp")]))
    assert graph.ops[0].op == "CUSTOM:MyCustomOp"
    assert lookup("CUSTOM:MyCustomOp")[0].category == "CUSTOM"


def test_other_subgraphs_are_counted_and_reported():
    graph = read_model(build_model([(119, None)], extra_subgraphs=2))  # a WHILE
    assert len(graph.subgraphs) == 2
    assert summarize(graph)["subgraphs"] == 3
    assert any("other subgraph" in w for w in graph.warnings)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"bad_input": 99}, "refers to tensor 99"),
    ({"tensor_buffer": 7}, "refers to buffer 7"),
    ({"bad_opcode_index": True}, "operator code"),
])
def test_indices_past_their_tables_are_rejected(kwargs, fragment):
    with pytest.raises(ModelFormatError, match=fragment):
        read_model(build_model([(0, None), (1, None)], **kwargs), name="bad.tflite")


def test_dynamic_batch_reads_as_one():
    from edge_predictor.graph import TensorInfo

    graph = read_model(build_model([(0, None)], dims=(-1, 4)))
    assert [t.shape for t in graph.tensors] == [(1, 4), (1, 4)]
    assert TensorInfo(0, (1, 4), "INT8", False, True, False).nbytes == 4


def test_an_implausibly_large_tensor_is_a_format_error_not_an_overflow():
    # the fuzz bench's crash: a 64-dimensional tensor of ~1e9 per dimension overflowed float()
    # in live_bytes; a shape past 2^40 elements is a corrupt file
    with pytest.raises(ModelFormatError, match="implausible shape .* more than 2\\^40"):
        read_model(build_model([(0, None)], dims=(1 << 20, 1 << 20, 4)), name="huge")
    read_model(build_model([(0, None)], dims=(1 << 10, 1 << 10, 4)), name="fine")


def test_both_paths_read_the_same_graph(fixture_model, monkeypatch):
    from edge_predictor import tflite_reader
    data = open(fixture_model[1], "rb").read()
    graphs = []
    for start in (10 ** 9, 0):  # a table at a time, then a field at a time
        monkeypatch.setattr(tflite_reader, "TENSOR_COLUMNS_FROM", start)
        monkeypatch.setattr(tflite_reader, "OPERATOR_COLUMNS_FROM", start)
        graphs.append(read_model(data))
    rows, cols = graphs
    assert rows.tensors == cols.tensors and rows.ops == cols.ops
    assert (rows.inputs, rows.outputs, rows.warnings) == (cols.inputs, cols.outputs, cols.warnings)
    assert any(t.scale > 0 for t in cols.tensors) == any(t.quantized for t in rows.tensors)


def test_a_large_model_is_read_a_field_at_a_time(monkeypatch):
    from edge_predictor import tflite_columns, tflite_reader
    data = build_model([(0, None)] * 130)  # 130 operators, 131 tensors: past both thresholds
    calls = []
    for name in ("read_tensors", "read_ops"):
        real = getattr(tflite_columns, name)
        monkeypatch.setattr(tflite_columns, name,
                            lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    cols = read_model(data)
    assert calls == ["read_tensors", "read_ops"]
    monkeypatch.setattr(tflite_reader, "TENSOR_COLUMNS_FROM", 10 ** 9)
    monkeypatch.setattr(tflite_reader, "OPERATOR_COLUMNS_FROM", 10 ** 9)
    rows = read_model(data)
    assert len(cols.ops) == 130 and cols.ops == rows.ops and cols.tensors == rows.tensors


def test_options_decoded_once_are_not_shared_between_answers(fixture_model):
    from edge_predictor import tflite_schema
    data = open(fixture_model[1], "rb").read()
    first = read_model(data)
    assert any(node.options for node in first.ops)
    for node in first.ops:
        node.options["mutated"] = True  # a caller's change must not reach the next read
    tflite_schema.clear_options_cache()
    fresh = read_model(data)
    again = read_model(data)
    assert all("mutated" not in node.options for node in again.ops)
    assert [n.options for n in again.ops] == [n.options for n in fresh.ops]
