"""Multi-branch cell family ``inception``: Inception modules, NASNet-like cells, SqueezeNet.

The family picks a ``style`` first:

* ``inception`` (GoogLeNet / Inception-v3): a conv-conv-maxpool stem, then stages of modules
  with four parallel branches CONCATENATED: 1x1; 1x1 -> 3x3; 1x1 -> a "5x5" written as a true
  5x5, as two 3x3 or as the asymmetric 1x7 + 7x1 pair; and 3x3 average/max pool -> 1x1.
  Reduction modules (strided 3x3 branches and a strided max pool) separate the stages.
* ``nasnet``: cells that combine pairs of operations (3x3/5x5 separable convolutions after a
  ReLU, 3x3 average/max pooling, identity) on the two previous cell outputs or earlier
  combinations with ADD, and CONCATENATE the combinations; reduction cells apply stride 2 to
  the operations that read the cell inputs.
* ``squeezenet``: fire modules (1x1 squeeze, parallel 1x1 and 3x3 expands CONCATENATED),
  max pools between groups, optional simple bypass ADDs, a 1x1 convolution classifier.
"""

from __future__ import annotations

from . import blocks
from .common import chance, head_choice, image_header, make_divisible, pick

__all__ = ["SAMPLERS", "BUILDERS", "NAS_OPS"]

STYLES = ("inception", "nasnet", "squeezenet")
FIVE = ("5x5", "double3x3", "7x1")
NAS_OPS = ("sep3", "sep5", "avg3", "max3", "identity")


def sample_inception(rng):
    """One multi-branch network: style, then that style's widths, depths and branch choices."""
    style = pick(rng, STYLES)
    config = image_header(rng, low=32 if style != "inception" else 64)
    config["style"] = style
    if style == "inception":
        stages = []
        for _ in range(pick(rng, (2, 3))):
            modules = [{"five": pick(rng, FIVE), "pool": pick(rng, ("avg", "max")),
                        "split": pick(rng, ((1, 2, 1, 1), (2, 3, 1, 1), (1, 1, 1, 1)))}
                       for _ in range(pick(rng, (1, 2, 3)))]
            stages.append(modules)
        config.update(width=pick(rng, (0.25, 0.5, 0.75)), stages=stages)
    elif style == "nasnet":
        cells = []
        for _ in range(pick(rng, (3, 4, 5))):
            combos = []
            for c in range(pick(rng, (2, 3, 4))):
                combos.append({"a": pick(rng, tuple(range(2 + c))), "op_a": pick(rng, NAS_OPS),
                               "b": pick(rng, tuple(range(2 + c))), "op_b": pick(rng, NAS_OPS)})
            cells.append({"reduce": False, "combos": combos})
        for i in sorted(set(pick(rng, (1, 2, 3)) for _ in range(2))):
            if i < len(cells):
                cells[i]["reduce"] = True
        config.update(channels=pick(rng, (16, 24, 32, 44)), cells=cells)
    else:
        fires = pick(rng, (4, 5, 6, 7, 8))
        config.update(version=pick(rng, ("1.0", "1.1")), fires=fires,
                      squeeze_ratio=pick(rng, (0.125, 0.25)), base=pick(rng, (64, 128)),
                      bypass=chance(rng, 0.4))
    config.update(head_choice(rng, ("gap_dense", "gap_conv") if style != "squeezenet"
                              else ("pool_conv",)))
    return config


def _inception_module(x, channels, spec, nm, prefix):
    from tf_keras import layers

    parts = spec["split"]
    total = float(sum(parts))
    c1, c3, c5, cp = (make_divisible(channels * p / total) for p in parts)
    b1 = blocks.conv(x, c1, 1, nm, act_kind="relu", base=prefix + "_b1")
    b3 = blocks.conv(x, make_divisible(c3 * 0.75), 1, nm, act_kind="relu", base=prefix + "_b3r")
    b3 = blocks.conv(b3, c3, 3, nm, act_kind="relu", base=prefix + "_b3")
    b5 = blocks.conv(x, make_divisible(c5 * 0.5), 1, nm, act_kind="relu", base=prefix + "_b5r")
    if spec["five"] == "5x5":
        b5 = blocks.conv(b5, c5, 5, nm, act_kind="relu", base=prefix + "_b5")
    elif spec["five"] == "double3x3":
        b5 = blocks.conv(b5, c5, 3, nm, act_kind="relu", base=prefix + "_b5a")
        b5 = blocks.conv(b5, c5, 3, nm, act_kind="relu", base=prefix + "_b5b")
    else:
        b5 = blocks.conv(b5, c5, (1, 7), nm, act_kind="relu", base=prefix + "_b7a")
        b5 = blocks.conv(b5, c5, (7, 1), nm, act_kind="relu", base=prefix + "_b7b")
    pool = layers.AveragePooling2D if spec["pool"] == "avg" else layers.MaxPooling2D
    bp = pool(3, strides=1, padding="same", name=nm(prefix + "_pool"))(x)
    bp = blocks.conv(bp, cp, 1, nm, act_kind="relu", base=prefix + "_bp")
    return layers.Concatenate(name=nm(prefix + "_concat"))([b1, b3, b5, bp])


def _reduction_module(x, channels, nm, prefix):
    from tf_keras import layers

    b3 = blocks.conv(x, make_divisible(channels / 2), 3, nm, 2, "relu", base=prefix + "_b3")
    bd = blocks.conv(x, make_divisible(channels / 4), 1, nm, act_kind="relu",
                     base=prefix + "_bdr")
    bd = blocks.conv(bd, make_divisible(channels / 4), 3, nm, act_kind="relu",
                     base=prefix + "_bda")
    bd = blocks.conv(bd, make_divisible(channels / 4), 3, nm, 2, "relu", base=prefix + "_bdb")
    bp = layers.MaxPooling2D(3, strides=2, padding="same", name=nm(prefix + "_pool"))(x)
    return layers.Concatenate(name=nm(prefix + "_concat"))([b3, bd, bp])


def _body_inception(x, config, nm):
    from tf_keras import layers

    w = config["width"]
    x = blocks.conv(x, make_divisible(32 * w), 3, nm, 2, "relu", base="stem1")
    x = blocks.conv(x, make_divisible(64 * w), 3, nm, 1, "relu", base="stem2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=nm("stem_pool"))(x)
    for s, modules in enumerate(config["stages"]):
        channels = make_divisible(256 * w * 2 ** s)
        if s > 0:
            x = _reduction_module(x, channels, nm, "r{}".format(s))
        for m, spec in enumerate(modules):
            x = _inception_module(x, channels, spec, nm, "s{}m{}".format(s, m))
    return blocks.head(x, config, nm)


def _nas_op(x, op, channels, stride, nm, prefix):
    from tf_keras import layers

    if op in ("sep3", "sep5"):
        x = blocks.act(x, "relu", nm)
        return blocks.sep_conv(x, channels, 3 if op == "sep3" else 5, nm, stride)
    if op in ("avg3", "max3"):
        pool = layers.AveragePooling2D if op == "avg3" else layers.MaxPooling2D
        return pool(3, strides=stride, padding="same", name=nm(prefix + "_" + op))(x)
    if stride > 1:
        return blocks.conv(x, channels, 1, nm, stride, base=prefix + "_reduce")
    return x


def _nas_cell(prev, x, spec, channels, nm, prefix):
    from tf_keras import layers

    if int(prev.shape[1]) != int(x.shape[1]):
        prev = blocks.conv(prev, channels, 1, nm, 2, base=prefix + "_adjust")
    elif int(prev.shape[-1]) != channels:
        prev = blocks.conv(prev, channels, 1, nm, base=prefix + "_adjust")
    if int(x.shape[-1]) != channels:
        x = blocks.conv(x, channels, 1, nm, base=prefix + "_project")
    states = [prev, x]
    for c, combo in enumerate(spec["combos"]):
        outs = []
        for side in ("a", "b"):
            index = combo[side]
            stride = 2 if spec["reduce"] and index < 2 else 1
            # in a reduction cell the inputs are read with stride 2, the combinations
            # (already reduced) with stride 1, so all states of the cell have one size
            outs.append(_nas_op(states[index], combo["op_" + side], channels, stride, nm,
                                "{}c{}{}".format(prefix, c, side)))
        states.append(layers.Add(name=nm("{}c{}_add".format(prefix, c)))(outs))
    return layers.Concatenate(name=nm(prefix + "_concat"))(states[2:])


def _body_nasnet(x, config, nm):
    channels = config["channels"]
    x = blocks.conv(x, channels, 3, nm, 2, base="stem")
    prev = x
    for i, spec in enumerate(config["cells"]):
        if spec["reduce"]:
            channels *= 2
        prev, x = x, _nas_cell(prev, x, spec, channels, nm, "cell{}".format(i))
    x = blocks.act(x, "relu", nm)
    return blocks.head(x, config, nm)


def _body_squeezenet(x, config, nm):
    from tf_keras import layers

    v10 = config["version"] == "1.0"
    x = blocks.conv(x, 96 if v10 else 64, 7 if v10 else 3, nm, 2, "relu", base="stem")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=nm("stem_pool"))(x)
    pools = (3, 7) if v10 else (2, 4)
    for f in range(config["fires"]):
        expand = config["base"] * (1 + f // 2)
        squeeze = max(8, int(expand * config["squeeze_ratio"]))
        prefix = "fire{}".format(f)
        s = blocks.conv(x, squeeze, 1, nm, act_kind="relu", base=prefix + "_squeeze")
        e1 = blocks.conv(s, expand // 2, 1, nm, act_kind="relu", base=prefix + "_e1")
        e3 = blocks.conv(s, expand // 2, 3, nm, act_kind="relu", base=prefix + "_e3")
        y = layers.Concatenate(name=nm(prefix + "_concat"))([e1, e3])
        if config["bypass"] and int(x.shape[-1]) == int(y.shape[-1]):
            y = layers.Add(name=nm(prefix + "_bypass"))([x, y])
        x = y
        if f + 1 in pools and int(x.shape[1]) >= 3:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=nm(prefix + "_pool"))(x)
    x = blocks.conv(x, config["num_classes"], 1, nm, act_kind="relu", base="classifier_conv")
    x = layers.GlobalAveragePooling2D(name=nm("gap"))(x)
    if config["softmax"]:
        x = layers.Softmax(name=nm("softmax"))(x)
    return x


def _body(x, config, nm):
    style = config["style"]
    if style == "inception":
        return _body_inception(x, config, nm)
    if style == "nasnet":
        return _body_nasnet(x, config, nm)
    return _body_squeezenet(x, config, nm)


SAMPLERS = {"inception": sample_inception}
BUILDERS = {"inception": _body}
