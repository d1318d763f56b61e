# ruff: noqa: E501  (generated: one row per operator type)
"""Fitted coefficients of :mod:`edge_predictor.cpu_cost` (generated: do not edit).

Written by ``python -m trainer.cpu_cost_fit``: per CPU target, one non-negative least squares
on whole-model relative error over the train split. Each row: microseconds per unit of
``cpu_cost.CPU_TERMS`` (const, macs, out_elements, in_bytes, weight_bytes). Sources:

- ``cpu-epyc-litert-t1``: 3579 train models (families 3579), labelled on AMD EPYC 2 cores, ai_edge_litert 2.3.0, 1 thread(s) from 2026-12-02T23:51:25Z to 2026-12-03T00:51:02Z
"""

__all__ = ["TABLES", "SOURCES"]

SOURCES = {
    'cpu-epyc-litert-t1': '3579 train models (families 3579), labelled on AMD EPYC 2 cores, ai_edge_litert 2.3.0, 1 thread(s) from 2026-12-02T23:51:25Z to 2026-12-03T00:51:02Z',
}

TABLES = {
    'cpu-epyc-litert-t1': {
        '*': [0.0, 0.0, 0.0, 0.0, 0.0],
        'ADD': [0.687154, 0.0, 0.000128848, 0.0, 0.0136669],
        'AVERAGE_POOL_2D': [3.96454, 0.0, 0.0, 0.00348392, 0.0],
        'BATCH_MATMUL': [0.0, 9.61467e-05, 0.0, 0.00557038, 0.0],
        'CONCATENATION': [0.0, 0.0, 0.0, 0.0, 0.0628131],
        'CONV_2D': [0.0, 2.12081e-05, 0.000561864, 0.000160942, 6.13857e-06],
        'DEPTHWISE_CONV_2D': [0.412345, 4.52535e-05, 0.000206336, 2.17796e-05, 0.0],
        'FULLY_CONNECTED': [0.157627, 2.24829e-05, 0.000872582, 0.0, 0.0],
        'GELU': [0.0, 0.0, 0.0, 0.0, 0.0],
        'HARD_SWISH': [0.0, 0.0, 0.00405887, 0.0, 0.0],
        'LOGISTIC': [0.0, 0.0, 0.0, 0.0, 0.0],
        'MAX_POOL_2D': [0.0, 0.0, 0.0, 0.00210925, 0.0],
        'MEAN': [0.0, 0.0, 0.00536948, 0.0, 0.140351],
        'MUL': [0.0, 0.0, 0.000157445, 0.0, 0.0170091],
        'PAD': [0.0, 0.0, 0.00100479, 0.0, 0.0],
        'RELU': [0.0, 0.0, 0.00597928, 0.0, 0.0],
        'RESHAPE': [0.0, 0.0, 0.0, 0.0, 0.0],
        'RESIZE_BILINEAR': [54.9258, 0.0, 0.0, 0.000623808, 0.0],
        'RESIZE_NEAREST_NEIGHBOR': [34.7088, 0.0, 0.0, 0.0, 0.0],
        'RSQRT': [0.0, 0.0, 0.268766, 0.0, 0.0],
        'SOFTMAX': [0.526809, 0.0, 0.00233519, 0.0, 0.0],
        'SQUARED_DIFFERENCE': [0.0, 0.0, 0.0, 0.000228929, 0.0],
        'STRIDED_SLICE': [0.0, 0.0, 0.000476876, 0.0, 0.0],
        'SUB': [0.0, 0.0, 0.0, 0.0, 0.0308176],
        'TANH': [0.119969, 0.0, 0.0, 0.0, 0.0],
        'TRANSPOSE': [0.0, 0.0, 0.0, 0.0, 0.0],
        'TRANSPOSE_CONV': [7.16386, 0.0, 0.00228235, 0.0, 0.0],
    },
}
