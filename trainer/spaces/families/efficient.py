"""EfficientNet families: ``efficientnet`` (B0-B3 style and Lite) and ``efficientnet_v2``.

``efficientnet`` scales the B0 table with a width and a depth coefficient (repeats are
``ceil(depth * repeats)`` as in the paper), may swap a stage's kernel between 3 and 5 and comes
as the original (swish = LOGISTIC + MUL, squeeze-excitation) or the Lite variant (ReLU6, no SE,
fixed stem and head). Strided depthwise convolutions are ``ZeroPadding2D`` + ``'valid'`` like
Keras' EfficientNet (Keras' ``correct_pad`` equals ``'same'`` padding, so the converter folds
it: no PAD operator remains, as for the real Keras model).

``efficientnet_v2`` follows the V2-B0 table: fused MBConv (kxk expand convolution + 1x1
projection; a single kxk convolution at expansion 1) in the first 1-3 stages, MBConv with SE in
the later ones, swish everywhere.
"""

from __future__ import annotations

import math

from . import blocks
from .common import chance, head_choice, image_header, make_divisible, pick
from .mobile import inverted_residual

__all__ = ["SAMPLERS", "BUILDERS"]

# (kernel, repeats, channels, expansion, stride)
_B0 = ((3, 1, 16, 1, 1), (3, 2, 24, 6, 2), (5, 2, 40, 6, 2), (3, 3, 80, 6, 2),
       (5, 3, 112, 6, 1), (5, 4, 192, 6, 2), (3, 1, 320, 6, 1))
# (kernel, repeats, channels, expansion, stride); V2-B0
_V2_B0 = ((3, 1, 16, 1, 1), (3, 2, 32, 4, 2), (3, 2, 48, 4, 2), (3, 3, 96, 4, 2),
          (3, 5, 112, 6, 1), (3, 8, 192, 6, 2))
WIDTHS = (0.5, 0.75, 1.0, 1.1)
DEPTHS = (0.5, 0.75, 1.0)
V2_WIDTHS = (0.5, 0.75, 1.0)
V2_DEPTHS = (0.25, 0.5, 0.75)


def _stages(rng, table, depth, swap_p):
    stages = []
    for kernel, repeats, channels, expansion, stride in table:
        if chance(rng, swap_p):
            kernel = 8 - kernel  # 3 <-> 5
        stages.append({"kernel": kernel, "repeats": int(math.ceil(depth * repeats)),
                       "channels": channels, "expansion": expansion, "stride": stride})
    return stages


def sample_efficientnet(rng):
    """EfficientNet: variant (b/lite), width and depth coefficients, kernels, resolution, head."""
    config = image_header(rng)
    depth = pick(rng, DEPTHS)
    config.update(variant=pick(rng, ("b", "b", "lite")), width=pick(rng, WIDTHS), depth=depth,
                  stages=_stages(rng, _B0, depth, 0.3))
    config.update(head_choice(rng, ("gap_dense",)))
    return config


def _body_efficientnet(x, config, nm):
    width = config["width"]
    lite = config["variant"] == "lite"
    act_kind = "relu6" if lite else "swish"
    stem = 32 if lite else make_divisible(32 * width)
    x = blocks.conv(x, stem, 3, nm, 2, act_kind, keras_pad=True, base="stem")
    for s, stage in enumerate(config["stages"]):
        out = make_divisible(stage["channels"] * width)
        for r in range(stage["repeats"]):
            x = inverted_residual(
                x, out, stage["expansion"], stage["kernel"], stage["stride"] if r == 0 else 1,
                nm, act_kind, 0.0 if lite else 0.25, "swish", "sigmoid", keras_pad=True,
                prefix="s{}b{}".format(s, r))
    top = 1280 if lite else make_divisible(1280 * width)
    x = blocks.conv(x, top, 1, nm, act_kind=act_kind, base="top")
    return blocks.head(x, config, nm)


def sample_efficientnet_v2(rng):
    """EfficientNetV2: width, depth, number of fused stages (1-3), kernels, resolution, head."""
    config = image_header(rng)
    depth = pick(rng, V2_DEPTHS)
    stages = _stages(rng, _V2_B0, depth, 0.25)
    fused = pick(rng, (1, 2, 3))
    for i, stage in enumerate(stages):
        stage["fused"] = i < fused
    config.update(width=pick(rng, V2_WIDTHS), depth=depth, stages=stages,
                  head_channels=pick(rng, (0, 1280)))
    config.update(head_choice(rng, ("gap_dense",)))
    return config


def _fused(x, out, expansion, kernel, stride, nm, prefix):
    from tf_keras import layers

    cin = int(x.shape[-1])
    if expansion == 1:
        y = blocks.conv(x, out, kernel, nm, stride, "swish", base=prefix + "_conv")
    else:
        y = blocks.conv(x, make_divisible(cin * expansion), kernel, nm, stride, "swish",
                        base=prefix + "_expand")
        y = blocks.conv(y, out, 1, nm, base=prefix + "_project")
    if stride == 1 and cin == out:
        y = layers.Add(name=nm(prefix + "_add"))([x, y])
    return y


def _body_efficientnet_v2(x, config, nm):
    width = config["width"]
    x = blocks.conv(x, make_divisible(32 * width), 3, nm, 2, "swish", base="stem")
    for s, stage in enumerate(config["stages"]):
        out = make_divisible(stage["channels"] * width)
        for r in range(stage["repeats"]):
            stride = stage["stride"] if r == 0 else 1
            prefix = "s{}b{}".format(s, r)
            if stage["fused"]:
                x = _fused(x, out, stage["expansion"], stage["kernel"], stride, nm, prefix)
            else:
                x = inverted_residual(x, out, stage["expansion"], stage["kernel"], stride, nm,
                                      "swish", 0.25, "swish", "sigmoid", prefix=prefix)
    if config["head_channels"]:
        x = blocks.conv(x, make_divisible(config["head_channels"] * width), 1, nm,
                        act_kind="swish", base="top")
    return blocks.head(x, config, nm)


SAMPLERS = {"efficientnet": sample_efficientnet, "efficientnet_v2": sample_efficientnet_v2}
BUILDERS = {"efficientnet": _body_efficientnet, "efficientnet_v2": _body_efficientnet_v2}
