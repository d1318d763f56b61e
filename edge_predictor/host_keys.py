"""What class a host's per-operator model puts an operator in, and the sizes that place it
there (pure numpy).

An operator is keyed ``"TYPE/kh/kw/stride/float/groups/pattern"`` (:data:`CLASS_COLUMNS`, then
its :data:`PATTERNS` code): kernel libraries pick a kernel by these, so operators of one key run
the same code and their times scale with their sizes (:data:`SIZE_COLUMNS`, compared in log);
:func:`work_ratio` says how, where the reference table's MACs do not
(:mod:`edge_predictor.host_ops` uses both).

Python 3.7 compatible; no TensorFlow.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .cpu_cost import TERM_COLUMNS, cost_of, cpu_terms, table_for
from .featurize import raw_columns
from .op_table import OP_VOCAB

__all__ = ["SIZE_COLUMNS", "CLASS_COLUMNS", "PATTERNS", "OFF_DELEGATE", "BINARY_ELEMENTWISE",
           "OpRows", "op_rows", "weight_bytes", "describe", "type_pattern", "merge_single_channel",
           "is_one_row", "kernel_family", "work_ratio"]

#: the sizes whose log places an operator among the timed ones
SIZE_COLUMNS = ("macs", "out_elements", "in_bytes", "weight_bytes", "in0_c", "out_c", "out_h",
                "out_w", "in1_c", "groups")
#: what an operator must share with its neighbours, besides its type (kernel libraries pick a
#: kernel by these; ``groups`` only as grouped or not, 2 or at most 1), then its
#: :data:`PATTERNS` code
CLASS_COLUMNS = ("kernel_h", "kernel_w", "stride_h", "dtype_float", "groups")
#: the last field of a key: the kernel path an operator takes beyond its class columns. Binary
#: elementwise operators: 0 operands of one size, 1 a per-position value broadcast over the
#: channels (a layer norm's mean), 2 another broadcast (a per-channel constant over positions,
#: a layer norm's scale and offset), each plus :data:`OFF_DELEGATE` when the CPU's default
#: delegate refuses the operator for its quantization scales (:mod:`~edge_predictor.delegate_rules`:
#: TFLite's own kernel runs it, up to 40x slower). FULLY_CONNECTED: 1 for one
#: row (a matrix-vector product, bound by its weights), else 0. CONV_2D: 1 for a single input
#: channel (a spectrogram's or a raw waveform's first layer: a GEMM only ``kernel`` deep, whose
#: time follows positions x taps, not MACs: 50-100 ns per MAC on a Xeon where 64 channels take
#: 1), else 0. A class never timed is predicted from its type's timed operators of the same
#: pattern, else its type's.
PATTERNS = "pattern"
#: added to a binary elementwise operator's pattern code when it runs off the delegate
OFF_DELEGATE = 4
BINARY_ELEMENTWISE = ("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM")
_ELEMENTS = SIZE_COLUMNS.index("out_elements")
_OUT_C = SIZE_COLUMNS.index("out_c")
_GROUPS = SIZE_COLUMNS.index("groups")
_WEIGHTS = SIZE_COLUMNS.index("weight_bytes")
_GROUPED_FIELD = 1 + CLASS_COLUMNS.index("groups")  # of a key: 2 when grouped
_PATTERN_COLUMNS = ("in1_n", "in1_h", "in1_w", "in1_c", "out_elements", "out_c", "in0_c")
#: one model's operators: (class keys [N], log sizes [N, S], reference table us [N])
OpRows = Tuple[List[str], np.ndarray, np.ndarray]


def op_rows(feats, reference: str) -> OpRows:
    """The per-operator inputs of :class:`HostOps` for a featurized graph.

    Args:
        feats: :class:`~edge_predictor.featurize.GraphFeatures` of N operators.
        reference: the CPU target whose host table scales neighbours (the base bundle's).

    Returns:
        (keys [N] ``"TYPE/kh/kw/s/float/groups/pattern"``, float64 [N, S] ``log1p`` of
        :data:`SIZE_COLUMNS`, float64 [N] the reference table's microseconds).
    """
    ops = [OP_VOCAB[int(i)] for i in feats.op_ids]
    cls = np.rint(np.stack(raw_columns(feats, CLASS_COLUMNS), 1)).astype(int) if len(ops) \
        else np.zeros((0, len(CLASS_COLUMNS)), int)
    cls[:, -1] = np.minimum(cls[:, -1], 2)
    pattern = _patterns(ops, feats)
    keys = ["{}/{}/{}".format(op, "/".join(str(v) for v in row), p)
            for op, row, p in zip(ops, cls, pattern)]
    sizes = np.log1p(np.maximum(np.stack(raw_columns(feats, SIZE_COLUMNS), 1), 0.0)) \
        if len(ops) else np.zeros((0, len(SIZE_COLUMNS)))
    ref = cost_of(ops, cpu_terms(raw_columns(feats, TERM_COLUMNS)), table_for(reference))
    return keys, sizes, ref


def weight_bytes(rows: OpRows) -> np.ndarray:
    """float64 [N] each operator's constant-input bytes, from its :func:`op_rows`."""
    return np.expm1(rows[1][:, _WEIGHTS]) if len(rows[0]) else np.zeros(0)


def _patterns(ops: Sequence[str], feats) -> List[int]:
    """The :data:`PATTERNS` code of every operator."""
    if not len(ops):
        return []
    n, h, w, c, out_el, out_c, in0_c = (np.rint(v) for v in raw_columns(feats, _PATTERN_COLUMNS))
    in1 = n * h * w * c
    binary = np.array([op in BINARY_ELEMENTWISE for op in ops]) & (in1 > 0) & (in1 < out_el)
    one_row = np.array([op == "FULLY_CONNECTED" for op in ops]) & (out_c > 0) & (out_el <= out_c)
    single = np.array([op == "CONV_2D" for op in ops]) & (in0_c == 1)
    code = np.where(binary, np.where((c == 1) & (out_c > 1), 1, 2),
                    np.where(one_row | single, 1, 0))
    off = feats.off_delegate  # None: features read back from a cache, scales unknown
    if off is not None:
        code = code + OFF_DELEGATE * np.asarray(off, dtype=int)
    return code.tolist()


def describe(key: str) -> str:
    """A class key for people: ``CONV_2D 1x80/1`` (kernel / stride), else its type."""
    fields = key.split("/")
    if len(fields) > 3 and fields[1] != "0":
        return "{} {}x{}/{}".format(fields[0], fields[1], fields[2], fields[3])
    return fields[0]


def type_pattern(key: str) -> str:
    """A key's type and :data:`PATTERNS` code, ``"TYPE//pattern"``."""
    return "{}//{}".format(key.split("/", 1)[0], key.rsplit("/", 1)[1])


def merge_single_channel(key: str) -> str:
    """A key as written before single-channel convolutions were keyed apart (their pattern 0),
    for calibrations timed then (:attr:`HostOps.single_channel
    <edge_predictor.host_ops.HostOps.single_channel>`)."""
    return key[:-1] + "0" if key.startswith("CONV_2D/") and key.endswith("/1") else key


def is_one_row(key: str) -> bool:
    """Whether a key is a one-row FULLY_CONNECTED layer (a matrix-vector product)."""
    return key.startswith("FULLY_CONNECTED/") and key.endswith("/1")


def kernel_family(key: str) -> Optional[str]:
    """The kernel family whose work measure a host picks (:attr:`HostOps.rules`), else None:
    ``"grouped"`` convolutions."""
    if key.startswith("CONV_2D/") and key.split("/")[_GROUPED_FIELD] == "2":
        return "grouped"
    return None


def work_ratio(key: str, q_sizes: np.ndarray, c_sizes: np.ndarray) -> Optional[np.ndarray]:
    """ln(query work / neighbour work) by the work measure of the key's family, or None (the
    reference table's MACs): q_sizes [n, S], c_sizes [n, k, S] log sizes; returns [n, k].
    Grouped convolutions: groups x output positions (TFLite with XNNPACK runs one small GEMM
    per group and output position, 33-43 ns each on a Xeon whatever the channels per group;
    its reference kernels follow the MACs, and a host picks).
    """
    if kernel_family(key) is None:
        return None

    def log(s, i):
        return np.log(np.maximum(np.expm1(s[..., i]), 1.0))

    def log_work(s):
        return log(s, _GROUPS) + log(s, _ELEMENTS) - log(s, _OUT_C)

    return log_work(q_sizes)[:, None] - log_work(c_sizes)
