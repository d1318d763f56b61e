"""Writing a bench's results: the JSON document and its readable table, side by side.

Every bench ends the same way: ``benches/results/<stem>.json`` (the numbers) and
``<stem>.md`` (the table a person reads, rendered from the same document). Both are written to a
temporary file first and renamed into place, so an interrupted bench never leaves a truncated
result behind, and the previous pair stays readable until the new one is complete.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Tuple

__all__ = ["write_atomic", "write_results", "read_results"]


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    tmp = "{}.{}.tmp".format(path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_results(out_dir: str, stem: str, doc: Dict[str, Any], markdown: str,
                  indent: int = 2, sort_keys: bool = True) -> Tuple[str, str]:
    """Write ``<out_dir>/<stem>.json`` (``doc``) and ``<out_dir>/<stem>.md`` (``markdown``).

    Args:
        out_dir: the results folder (created if missing).
        stem: file name without extension, e.g. ``"sram_formula"``.
        doc: the JSON-serialisable result document.
        markdown: the rendered table of ``doc``.
        indent, sort_keys: :func:`json.dumps` layout (kept per bench, so reruns diff cleanly).

    Returns:
        The two paths written, JSON first.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = (os.path.join(out_dir, stem + ".json"), os.path.join(out_dir, stem + ".md"))
    write_atomic(paths[0], json.dumps(doc, indent=indent, sort_keys=sort_keys))
    write_atomic(paths[1], markdown)
    return paths


def read_results(out_dir: str, stem: str) -> Dict[str, Any]:
    """The last ``<out_dir>/<stem>.json``, or ``{}`` if there is none: a bench that reruns some
    of its targets (settings, families) keeps the others from it."""
    path = os.path.join(out_dir, stem + ".json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
