"""MobileNet families: ``mobilenet_v1``, ``mobilenet_v2`` and ``mobilenet_v3``.

Each sampler starts from the published architecture table (Keras applications) and varies
what real instances vary: the width multiplier, the input resolution, how many times a stage
repeats, expansion ratios, kernel sizes, squeeze-excitation placement, the padding style of
strided layers (``'same'`` or ``ZeroPadding2D`` + ``'valid'`` as Keras writes them) and the
classifier head. :func:`inverted_residual` is shared with :mod:`.efficient`.
"""

from __future__ import annotations

from . import blocks
from .common import chance, head_choice, image_header, make_divisible, pick

__all__ = ["SAMPLERS", "BUILDERS", "inverted_residual"]

V1_WIDTHS = (0.25, 0.35, 0.5, 0.75, 1.0)
V2_WIDTHS = (0.35, 0.5, 0.75, 1.0)
V3_WIDTHS = (0.5, 0.75, 1.0)
EXPANSIONS = (1, 2, 3, 4, 6)

# MobileNetV2: (expansion, channels, repeats, stride).
_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
              (6, 160, 3, 2), (6, 320, 1, 1))
# MobileNetV3 (kernel, expansion, channels, se, activation, stride), from Keras.
_V3_LARGE = ((3, 1, 16, False, "relu", 1), (3, 4, 24, False, "relu", 2),
             (3, 3, 24, False, "relu", 1), (5, 3, 40, True, "relu", 2),
             (5, 3, 40, True, "relu", 1), (5, 3, 40, True, "relu", 1),
             (3, 6, 80, False, "hswish", 2), (3, 2.5, 80, False, "hswish", 1),
             (3, 2.3, 80, False, "hswish", 1), (3, 2.3, 80, False, "hswish", 1),
             (3, 6, 112, True, "hswish", 1), (3, 6, 112, True, "hswish", 1),
             (5, 6, 160, True, "hswish", 2), (5, 6, 160, True, "hswish", 1),
             (5, 6, 160, True, "hswish", 1))
_V3_SMALL = ((3, 1, 16, True, "relu", 2), (3, 4.5, 24, False, "relu", 2),
             (3, 3.67, 24, False, "relu", 1), (5, 4, 40, True, "hswish", 2),
             (5, 6, 40, True, "hswish", 1), (5, 6, 40, True, "hswish", 1),
             (5, 3, 48, True, "hswish", 1), (5, 3, 48, True, "hswish", 1),
             (5, 6, 96, True, "hswish", 2), (5, 6, 96, True, "hswish", 1),
             (5, 6, 96, True, "hswish", 1))
_V3_HEAD = {"large": (960, 1280), "small": (576, 1024)}


def inverted_residual(x, out, expansion, kernel, stride, nm, act_kind, se_ratio=0.0,
                      se_inner="relu", se_gate="sigmoid", keras_pad=False, prefix="b"):
    """MBConv: 1x1 expand (skipped at expansion 1), depthwise kxk, optional SE, 1x1 project,
    residual ADD when the shape is kept."""
    from tf_keras import layers

    cin = int(x.shape[-1])
    y = x
    if expansion != 1:
        y = blocks.conv(y, make_divisible(cin * expansion), 1, nm, act_kind=act_kind,
                        base=prefix + "_expand")
    y = blocks.dwconv(y, kernel, nm, stride, act_kind, keras_pad, base=prefix + "_dw")
    if se_ratio:
        squeeze = max(1, int(cin * se_ratio)) if se_gate == "sigmoid" else make_divisible(
            int(y.shape[-1]) * se_ratio)
        y = blocks.squeeze_excite(y, squeeze, nm, se_inner, se_gate)
    y = blocks.conv(y, out, 1, nm, base=prefix + "_project")
    if stride == 1 and cin == int(out):
        y = layers.Add(name=nm(prefix + "_add"))([x, y])
    return y


def sample_v1(rng):
    """MobileNetV1: width, resolution, 512-channel repeats (1-6), last stage, padding, head."""
    config = image_header(rng)
    config.update(width=pick(rng, V1_WIDTHS), repeats_512=pick(rng, (1, 2, 3, 4, 5, 6)),
                  last_stage=chance(rng, 0.8), keras_pad=chance(rng, 0.5))
    config.update(head_choice(rng, ("gap_conv", "gap_dense")))
    return config


def _body_v1(x, config, nm):
    width = config["width"]
    x = blocks.conv(x, make_divisible(32 * width), 3, nm, 2, "relu6", keras_pad=config["keras_pad"],
                    base="stem")
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    plan += [(512, 1)] * (config["repeats_512"] - 1)
    if config["last_stage"]:
        plan += [(1024, 2), (1024, 1)]
    for i, (channels, stride) in enumerate(plan):
        x = blocks.dwconv(x, 3, nm, stride, "relu6", config["keras_pad"], base="b{}_dw".format(i))
        x = blocks.conv(x, make_divisible(channels * width), 1, nm, act_kind="relu6",
                        base="b{}_pw".format(i))
    return blocks.head(x, config, nm)


def sample_v2(rng):
    """MobileNetV2: width, resolution, per-stage expansion (1-6) and repeats, padding, head."""
    config = image_header(rng)
    stages = []
    for i, (_, channels, repeats, stride) in enumerate(_V2_STAGES):
        stages.append({
            "expansion": 1 if i == 0 else pick(rng, EXPANSIONS),
            "channels": channels,
            "repeats": pick(rng, tuple(range(1, repeats + 1))),
            "stride": stride,
        })
    config.update(width=pick(rng, V2_WIDTHS), stages=stages, keras_pad=chance(rng, 0.5),
                  last_channels=pick(rng, (0, 1280)))
    config.update(head_choice(rng, ("gap_dense", "gap_conv")))
    return config


def _body_v2(x, config, nm):
    width = config["width"]
    x = blocks.conv(x, make_divisible(32 * width), 3, nm, 2, "relu6",
                    keras_pad=config["keras_pad"], base="stem")
    for s, stage in enumerate(config["stages"]):
        out = make_divisible(stage["channels"] * width)
        for r in range(stage["repeats"]):
            x = inverted_residual(x, out, stage["expansion"], 3, stage["stride"] if r == 0 else 1,
                                  nm, "relu6", keras_pad=config["keras_pad"],
                                  prefix="s{}b{}".format(s, r))
    if config["last_channels"]:
        last = config["last_channels"] if width <= 1.0 else make_divisible(1280 * width)
        x = blocks.conv(x, last, 1, nm, act_kind="relu6", base="last")
    return blocks.head(x, config, nm)


def sample_v3(rng):
    """MobileNetV3: small/large, width, minimalistic, per-block kernel 3/5, expansion, SE,
    optional blocks dropped (stride blocks kept), resolution, softmax."""
    config = image_header(rng)
    variant = pick(rng, ("small", "large"))
    table = _V3_SMALL if variant == "small" else _V3_LARGE
    minimalistic = chance(rng, 0.2)
    layers = []
    for i, (kernel, expansion, channels, se, act_kind, stride) in enumerate(table):
        keep = i == 0 or stride > 1 or chance(rng, 0.6)
        kernel = pick(rng, (3, 5))
        expansion = expansion if chance(rng, 0.5) else pick(rng, (2.5, 3, 4, 6))
        se = se if chance(rng, 0.8) else not se
        if not keep:
            continue
        if minimalistic:
            kernel, se, act_kind = 3, False, "relu"
        layers.append({"kernel": kernel, "expansion": expansion, "channels": channels,
                       "se": se, "act": act_kind, "stride": stride})
    config.update(variant=variant, width=pick(rng, V3_WIDTHS), minimalistic=minimalistic,
                  layers=layers, softmax=chance(rng, 0.5))
    return config


def _body_v3(x, config, nm):
    from tf_keras import layers

    width = config["width"]
    hs = "relu" if config["minimalistic"] else "hswish"
    x = blocks.conv(x, 16, 3, nm, 2, hs, base="stem")
    for i, spec in enumerate(config["layers"]):
        x = inverted_residual(x, make_divisible(spec["channels"] * width), spec["expansion"],
                              spec["kernel"], spec["stride"], nm, spec["act"],
                              0.25 if spec["se"] else 0.0, "relu", "hsigmoid",
                              prefix="b{}".format(i))
    last_conv, last_point = _V3_HEAD[config["variant"]]
    x = blocks.conv(x, make_divisible(last_conv * width), 1, nm, act_kind=hs, base="last_conv")
    x = layers.GlobalAveragePooling2D(keepdims=True, name=nm("gap"))(x)
    last_point = make_divisible(last_point * width) if width > 1.0 else last_point
    x = blocks.conv(x, last_point, 1, nm, act_kind=hs, base="last_point")
    x = layers.Conv2D(config["num_classes"], 1, name=nm("logits"))(x)
    x = layers.Flatten(name=nm("flatten"))(x)
    if config["softmax"]:
        x = layers.Softmax(name=nm("softmax"))(x)
    return x


SAMPLERS = {"mobilenet_v1": sample_v1, "mobilenet_v2": sample_v2, "mobilenet_v3": sample_v3}
BUILDERS = {"mobilenet_v1": _body_v1, "mobilenet_v2": _body_v2, "mobilenet_v3": _body_v3}
