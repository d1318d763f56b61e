"""The runtime package stands alone: no module of edge_predictor imports the trainer, the
converters or the benches at import time (the CLI mounts the trainer's commands lazily)."""

import ast
import os

import edge_predictor

ROOT = os.path.dirname(edge_predictor.__file__)


def _top_level_imports(path):
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""


def test_no_runtime_module_imports_the_trainer_at_import_time():
    offenders = []
    for name in sorted(os.listdir(ROOT)):
        if name.endswith(".py"):
            for mod in _top_level_imports(os.path.join(ROOT, name)):
                if mod.split(".")[0] in ("trainer", "converters", "benches", "tensorflow",
                                         "spektral", "ethosu"):
                    offenders.append((name, mod))
    assert offenders == []


def test_the_trainer_clis_import_the_shared_helpers_not_the_runtime_cli():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "trainer")
    for name in ("cli.py", "train_cli.py"):
        assert "edge_predictor.cli" not in list(_top_level_imports(os.path.join(here, name)))
