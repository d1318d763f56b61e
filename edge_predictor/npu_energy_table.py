# ruff: noqa: E501  (generated: one row per cost kind)
"""Fitted coefficients of :mod:`edge_predictor.npu_energy` (generated: do not edit).

Written by ``python -m trainer.npu_energy_fit``: one non-negative least squares on
whole-model relative error, train split only; 3938 models (cnn-cifar10 143, cnn-kws 150, families 3579, vit-cifar100 66).
Each row: pJ per unit of ``npu_cost.TERMS`` (const, block_cycles, macs_brick, out_elements_brick, in_elements_brick, weight_stream_bytes); the comment: models
holding the key (0: a fallback copied from its most common kind).
"""

__all__ = ["COEFFICIENTS"]

COEFFICIENTS = {
    'ADD': [173357.96852, 0.0, 0.0, 0.0, 11.877668, 0.0],  # 2431
    'ADD/constant': [0.0, 0.0, 0.0, 0.0, 15683.754781, 0.0],  # 415
    'ADD/scalar': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 284
    'AVERAGE_POOL_2D': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 829
    'BATCH_MATMUL': [0.0, 0.0, 8.729714, 3067.741096, 0.0, 0.0],  # 284
    'CONCATENATION': [0.0, 0.0, 0.0, 0.941428, 0.0, 0.0],  # 910
    'CONV_2D': [0.0, 0.0, 0.234986, 0.0, 0.0, 1087.241644],  # 3556
    'CONV_2D/grouped': [3031239.560872, 0.0, 0.299978, 48.317358, 0.0, 1087.163152],  # 256
    'CONV_2D/patch': [0.0, 0.0, 209.958131, 0.0, 7894.309995, 4014.804012],  # 315
    'DEPTHWISE_CONV_2D': [179696.831313, 0.0, 0.0, 2.82455, 3.602965, 1407.904394],  # 1862
    'FULLY_CONNECTED': [0.0, 0.0, 0.0, 0.0, 0.0, 1061.2874],  # 2685
    'GELU': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0
    'GELU/fused': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 284
    'HARD_SWISH': [0.0, 0.0, 0.0, 2.741749, 0.0, 0.0],  # 0
    'HARD_SWISH/fused': [0.0, 0.0, 0.0, 2.741749, 0.0, 0.0],  # 212
    'LOGISTIC': [902136.658832, 0.0, 0.0, 23.431749, 0.0, 0.0],  # 426
    'LOGISTIC/fused': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 663
    'MAX_POOL_2D': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 983
    'MEAN': [0.0, 0.0, 0.0, 0.0, 96.188791, 0.0],  # 2991
    'MUL': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 759
    'MUL/broadcast': [0.0, 0.0, 0.0, 15.348875, 0.0, 0.0],  # 1059
    'MUL/constant': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 626
    'MUL/scalar': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 212
    'PAD': [0.0, 0.0, 0.0, 14.355247, 0.0, 6472.096804],  # 516
    'RELU': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 100
    'RELU/fused': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 100
    'RESHAPE': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 1601
    'RESIZE_BILINEAR': [0.0, 0.0, 0.0, 20.331304, 0.0, 0.0],  # 69
    'RESIZE_NEAREST_NEIGHBOR': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 91
    'RSQRT': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0
    'RSQRT/fused': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 284
    'SOFTMAX': [0.0, 0.0, 0.0, 1151.67916, 0.0, 0.0],  # 1838
    'SQUARED_DIFFERENCE': [0.0, 0.0, 0.0, 17113.708838, 0.0, 0.0],  # 0
    'SQUARED_DIFFERENCE/broadcast': [0.0, 0.0, 0.0, 17113.708838, 0.0, 0.0],  # 218
    'STRIDED_SLICE': [0.0, 0.0, 0.0, 4466.023787, 0.0, 0.0],  # 221
    'SUB': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0
    'SUB/broadcast': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 66
    'SUB/constant': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 218
    'TANH': [192744.584029, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0
    'TANH/fused': [192744.584029, 0.0, 0.0, 0.0, 0.0, 0.0],  # 41
    'TRANSPOSE': [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 192
    'TRANSPOSE_CONV': [0.0, 0.0, 0.849168, 0.0, 0.0, 1013.229872],  # 77
}
