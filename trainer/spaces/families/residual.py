"""Residual and densely connected families: ``resnet``, ``regnet`` and ``densenet``.

* ``resnet``: basic or bottleneck blocks, post-activation (v1, BatchNorm folded into the
  convolutions) or pre-activation (v2, BatchNorm + ReLU before each convolution, which stays as
  MUL/ADD after an ADD), 1x1 projection shortcuts, an ImageNet stem (7x7/2 convolution +
  3x3/2 max pool) or a CIFAR stem (3x3/1), 3 or 4 stages of 1-3 blocks, base width 16-64
  (at most 48 with 4 stages, 32 or 24 with bottlenecks: the weights stay below ~10M).
* ``regnet``: RegNetX (and RegNetY with squeeze-excitation) bottlenecks of ratio 1 whose 3x3
  convolution is GROUPED (``Conv2D(groups=width / group_width)``, group width 8-64), four
  stages with widths growing by 1.5-2.5x rounded to the group width.
* ``densenet``: dense blocks of BN-ReLU-(1x1)-BN-ReLU-3x3 layers whose outputs are
  CONCATENATED to the block input (growth rate 12-32), transitions of BN-ReLU-1x1
  convolution (compression 0.5 or 1) + 2x2 average pooling.
"""

from __future__ import annotations

from . import blocks
from .common import chance, head_choice, image_header, pick

__all__ = ["SAMPLERS", "BUILDERS"]

GROUP_WIDTHS = (8, 16, 24, 32, 48, 64)
GROWTH_RATES = (12, 16, 24, 32)


def _stem_header(rng, cifar_p):
    stem = "cifar" if chance(rng, cifar_p) else "imagenet"
    config = image_header(rng, high=64 if stem == "cifar" else 224)
    config["stem"] = stem
    return config


def sample_resnet(rng):
    """ResNet: block type, version, stem, base width, 3-4 stages of 1-3 blocks, head."""
    config = _stem_header(rng, 0.3)
    stages = pick(rng, (3, 4))
    block = pick(rng, ("basic", "bottleneck"))
    # cap the last stage's width (and the weights: conversion and Vela time grow with them)
    widths = (16, 24, 32, 48, 64)
    top = widths[: 5 - (stages == 4) - 2 * (block == "bottleneck")]
    config.update(block=block, version=pick(rng, ("v1", "v1", "v2")), width=pick(rng, top),
                  repeats=[pick(rng, (1, 2, 3)) for _ in range(stages)])
    config.update(head_choice(rng, ("gap_dense",)))
    return config


def _resnet_stem(x, config, nm, channels):
    from tf_keras import layers

    if config["stem"] == "cifar":
        return blocks.conv(x, channels, 3, nm, 1, "relu", bn=True, base="stem")
    x = blocks.conv(x, channels, 7, nm, 2, "relu", keras_pad=True, bn=True, base="stem")
    x = layers.ZeroPadding2D(1, name=nm("stem_pool_pad"))(x)
    return layers.MaxPooling2D(3, strides=2, name=nm("stem_pool"))(x)


def _resnet_block(x, width, stride, config, nm, prefix):
    from tf_keras import layers

    bottleneck = config["block"] == "bottleneck"
    out = width * 4 if bottleneck else width
    pre = config["version"] == "v2"
    cin = int(x.shape[-1])
    if pre:
        x = blocks.act(blocks.batch_norm(x, nm), "relu", nm)
    shortcut = x
    if stride != 1 or cin != out:
        shortcut = blocks.conv(x, out, 1, nm, stride, bn=not pre, base=prefix + "_proj")
    if bottleneck:
        plan = [(width, 1, 1), (width, 3, stride), (out, 1, 1)]
    else:
        plan = [(width, 3, stride), (out, 3, 1)]
    y = x
    for i, (channels, kernel, s) in enumerate(plan):
        # inside the block BN + ReLU follow a convolution in v1 and v2 alike (folded)
        last = i == len(plan) - 1
        y = blocks.conv(y, channels, kernel, nm, s, None if last else "relu", bn=True,
                        base="{}_conv{}".format(prefix, i))
    y = layers.Add(name=nm(prefix + "_add"))([shortcut, y])
    return y if pre else blocks.act(y, "relu", nm)


def _body_resnet(x, config, nm):
    width = config["width"]
    x = _resnet_stem(x, config, nm, width)
    for s, repeats in enumerate(config["repeats"]):
        for r in range(repeats):
            stride = 2 if (r == 0 and s > 0) else 1
            x = _resnet_block(x, width * 2 ** s, stride, config, nm, "s{}b{}".format(s, r))
    if config["version"] == "v2":
        x = blocks.act(blocks.batch_norm(x, nm), "relu", nm)
    return blocks.head(x, config, nm)


def sample_regnet(rng):
    """RegNetX/Y: group width, stage widths (x1.5-2.5 per stage), depths, SE, resolution."""
    config = image_header(rng)
    group = pick(rng, GROUP_WIDTHS)
    width = float(pick(rng, (24, 32, 48, 64, 80, 96)))
    growth = pick(rng, (1.5, 2.0, 2.5))
    widths = []
    for _ in range(4):
        widths.append(max(group, int(round(width / group)) * group))
        width *= growth
    depths = [1, pick(rng, (1, 2)), pick(rng, (1, 2, 3, 4)), pick(rng, (1, 2, 3))]
    config.update(variant=pick(rng, ("x", "y")), group_width=group, widths=widths, depths=depths)
    config.update(head_choice(rng, ("gap_dense",)))
    return config


def _regnet_block(x, width, stride, config, nm, prefix):
    from tf_keras import layers

    cin = int(x.shape[-1])
    group = min(config["group_width"], width)
    shortcut = x
    if stride != 1 or cin != width:
        shortcut = blocks.conv(x, width, 1, nm, stride, bn=True, base=prefix + "_proj")
    y = blocks.conv(x, width, 1, nm, 1, "relu", bn=True, base=prefix + "_a")
    y = blocks.conv(y, width, 3, nm, stride, "relu", groups=width // group, bn=True,
                    base=prefix + "_b")
    if config["variant"] == "y":
        y = blocks.squeeze_excite(y, max(1, int(cin * 0.25)), nm, "relu", "sigmoid")
    y = blocks.conv(y, width, 1, nm, 1, bn=True, base=prefix + "_c")
    y = layers.Add(name=nm(prefix + "_add"))([shortcut, y])
    return blocks.act(y, "relu", nm)


def _body_regnet(x, config, nm):
    x = blocks.conv(x, 32, 3, nm, 2, "relu", bn=True, base="stem")
    for s, (width, depth) in enumerate(zip(config["widths"], config["depths"])):
        for r in range(depth):
            x = _regnet_block(x, width, 2 if r == 0 else 1, config, nm, "s{}b{}".format(s, r))
    return blocks.head(x, config, nm)


def sample_densenet(rng):
    """DenseNet(-BC): growth rate, 3-4 blocks of 2-6 layers, bottleneck, compression, stem."""
    config = _stem_header(rng, 0.3)
    n_blocks = pick(rng, (3, 4))
    config.update(growth=pick(rng, GROWTH_RATES),
                  layers=[pick(rng, (2, 3, 4, 5, 6)) for _ in range(n_blocks)],
                  bottleneck=chance(rng, 0.7), compression=pick(rng, (0.5, 0.5, 1.0)))
    config.update(head_choice(rng, ("gap_dense",)))
    return config


def _body_densenet(x, config, nm):
    from tf_keras import layers

    k = config["growth"]
    if config["stem"] == "cifar":
        x = blocks.conv(x, 2 * k, 3, nm, 1, base="stem")
    else:
        x = blocks.conv(x, 2 * k, 7, nm, 2, "relu", keras_pad=True, bn=True, base="stem")
        x = layers.ZeroPadding2D(1, name=nm("stem_pool_pad"))(x)
        x = layers.MaxPooling2D(3, strides=2, name=nm("stem_pool"))(x)
    for b, n_layers in enumerate(config["layers"]):
        for i in range(n_layers):
            prefix = "d{}l{}".format(b, i)
            y = blocks.act(blocks.batch_norm(x, nm), "relu", nm)
            if config["bottleneck"]:
                y = blocks.conv(y, 4 * k, 1, nm, 1, "relu", bn=True, base=prefix + "_1x1")
            y = blocks.conv(y, k, 3, nm, base=prefix + "_3x3")
            x = layers.Concatenate(name=nm(prefix + "_concat"))([x, y])
        if b < len(config["layers"]) - 1 and int(x.shape[1]) >= 2:
            prefix = "t{}".format(b)
            x = blocks.act(blocks.batch_norm(x, nm), "relu", nm)
            x = blocks.conv(x, max(k, int(int(x.shape[-1]) * config["compression"])), 1, nm,
                            base=prefix + "_conv")
            x = layers.AveragePooling2D(2, strides=2, name=nm(prefix + "_pool"))(x)
    x = blocks.act(blocks.batch_norm(x, nm), "relu", nm)
    return blocks.head(x, config, nm)


SAMPLERS = {"resnet": sample_resnet, "regnet": sample_regnet, "densenet": sample_densenet}
BUILDERS = {"resnet": _body_resnet, "regnet": _body_regnet, "densenet": _body_densenet}
