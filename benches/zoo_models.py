"""Hand-built image architectures of the zoo (:mod:`benches.zoo`): CNNs, segmentation, detection.

Every builder takes no argument and returns a ``tf_keras.Model`` with batch size 1 whose weights
come from the initialisers (the caller seeds them); nothing is downloaded. Layers are created in a
fixed order so that the converted flatbuffers are byte-identical from run to run.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__all__ = ["IMAGENET", "conv_bn", "fpn_seg", "keras", "resnet18", "resnet34", "resnet8_cifar",
           "shufflenet_v2", "squeezenet", "ssd_mobilenet_v2", "unet", "unet_small", "yolo_tiny"]

IMAGENET = (224, 224, 3)


def keras():
    """The ``tf_keras`` module (imported lazily: the registry must not need TensorFlow)."""
    import tf_keras

    return tf_keras


def conv_bn(x, filters, kernel, strides=1, relu=True):
    """Conv2D (same padding, no bias), BatchNormalization and an optional ReLU.

    Args:
        x: Input tensor.
        filters: Output channels.
        kernel: Kernel size.
        strides: Strides.
        relu: Whether to end with a ReLU.

    Returns:
        The output tensor.
    """
    layers = keras().layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def _resnet_basic(blocks, name):
    """ImageNet ResNet of basic blocks (He et al. 2016) with ``blocks`` blocks per stage."""
    k = keras()
    layers = k.layers
    inp = k.Input(IMAGENET, batch_size=1)
    x = conv_bn(inp, 64, 7, strides=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(blocks[stage]):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            if strides != 1 or x.shape[-1] != filters:
                shortcut = conv_bn(x, filters, 1, strides=strides, relu=False)
            y = conv_bn(x, filters, 3, strides=strides)
            y = conv_bn(y, filters, 3, relu=False)
            x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(1000, activation="softmax")(x)
    return k.Model(inp, out, name=name)


def resnet18():
    """ResNet-18 (He et al. 2016): basic blocks [2, 2, 2, 2], 224x224, 1000 classes."""
    return _resnet_basic((2, 2, 2, 2), "resnet18")


def resnet34():
    """ResNet-34 (He et al. 2016): basic blocks [3, 4, 6, 3], 224x224, 1000 classes."""
    return _resnet_basic((3, 4, 6, 3), "resnet34")


def resnet8_cifar():
    """ResNet-8 of MLPerf Tiny image classification: 32x32x3 CIFAR-10, 16-32-64 filters."""
    k = keras()
    layers = k.layers
    inp = k.Input((32, 32, 3), batch_size=1)
    x = conv_bn(inp, 16, 3)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = conv_bn(x, filters, 3, strides=strides)
        y = conv_bn(y, filters, 3, relu=False)
        shortcut = x if strides == 1 else layers.Conv2D(filters, 1, strides=strides)(x)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.AveragePooling2D(int(x.shape[1]))(x)
    out = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    return k.Model(inp, out, name="resnet8_cifar")


def squeezenet():
    """SqueezeNet 1.1 (Iandola et al. 2016): fire modules, 224x224, 1000 classes."""
    k = keras()
    layers = k.layers

    def fire(x, squeeze, expand):
        s = layers.Conv2D(squeeze, 1, activation="relu")(x)
        e1 = layers.Conv2D(expand, 1, activation="relu")(s)
        e3 = layers.Conv2D(expand, 3, padding="same", activation="relu")(s)
        return layers.Concatenate()([e1, e3])

    inp = k.Input(IMAGENET, batch_size=1)
    x = layers.Conv2D(64, 3, strides=2, activation="relu")(inp)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 16, 64), 16, 64)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 32, 128), 32, 128)
    x = layers.MaxPooling2D(3, strides=2)(x)
    for squeeze, expand in ((48, 192), (48, 192), (64, 256), (64, 256)):
        x = fire(x, squeeze, expand)
    x = layers.Conv2D(1000, 1, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, layers.Softmax()(x), name="squeezenet")


def shufflenet_v2():
    """ShuffleNet V2 0.5x (Ma et al. 2018): channel split and shuffle, 224x224, 1000 classes."""
    k = keras()
    layers = k.layers

    def shuffle(x):
        h, w, c = (int(d) for d in x.shape[1:])
        x = layers.Reshape((h * w, 2, c // 2))(x)
        x = layers.Permute((1, 3, 2))(x)
        return layers.Reshape((h, w, c))(x)

    def branch(x, filters, strides):
        x = conv_bn(x, filters, 1)
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        return conv_bn(layers.BatchNormalization()(x), filters, 1)

    inp = k.Input(IMAGENET, batch_size=1)
    x = conv_bn(inp, 24, 3, strides=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for filters, repeats in ((48, 4), (96, 8), (192, 4)):
        half = filters // 2
        left = layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
        left = conv_bn(layers.BatchNormalization()(left), half, 1)
        x = shuffle(layers.Concatenate()([left, branch(x, half, 2)]))
        for _ in range(repeats - 1):
            left = layers.Lambda(lambda t: t[..., :t.shape[-1] // 2])(x)
            right = layers.Lambda(lambda t: t[..., t.shape[-1] // 2:])(x)
            x = shuffle(layers.Concatenate()([left, branch(right, half, 1)]))
    x = layers.GlobalAveragePooling2D()(conv_bn(x, 1024, 1))
    out = layers.Dense(1000, activation="softmax")(x)
    return k.Model(inp, out, name="shufflenet_v2")


def _unet(shape, widths, name):
    """UNet (Ronneberger et al. 2015) with two 3x3 conv-BN-ReLU per level and a sigmoid mask."""
    k = keras()
    layers = k.layers
    inp = k.Input(shape, batch_size=1)
    x, skips = inp, []
    for filters in widths[:-1]:
        x = conv_bn(conv_bn(x, filters, 3), filters, 3)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = conv_bn(conv_bn(x, widths[-1], 3), widths[-1], 3)
    for filters, skip in zip(reversed(widths[:-1]), reversed(skips)):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([skip, x])
        x = conv_bn(conv_bn(x, filters, 3), filters, 3)
    out = layers.Conv2D(1, 1, activation="sigmoid")(x)
    return k.Model(inp, out, name=name)


def unet():
    """UNet (Ronneberger et al. 2015), 4 levels 16-128 filters, Conv2DTranspose, 128x128."""
    return _unet((128, 128, 3), (16, 32, 64, 128, 256), "unet")


def unet_small():
    """A small person-segmentation UNet: 3 levels 8-32 filters, 96x96x3."""
    return _unet((96, 96, 3), (8, 16, 32, 64), "unet_small")


def _mobilenet_v2_features(shape, alpha, names):
    """Input and feature maps (by layer name) of a headless MobileNetV2 with random weights."""
    k = keras()
    inp = k.Input(shape, batch_size=1)
    base = k.applications.MobileNetV2(weights=None, include_top=False, alpha=alpha,
                                      input_tensor=inp)
    return inp, [base.get_layer(n).output for n in names]


def fpn_seg():
    """FPN segmentation (Kirillov et al. 2019): MobileNetV2-0.5 at 128x128, 21 classes."""
    k = keras()
    layers = k.layers
    inp, feats = _mobilenet_v2_features(
        (128, 128, 3), 0.5, ["block_3_expand_relu", "block_6_expand_relu",
                             "block_13_expand_relu", "out_relu"])
    top = layers.Conv2D(64, 1)(feats[-1])
    pyramid = [top]
    for feat in reversed(feats[:-1]):
        top = layers.Add()([layers.UpSampling2D(2)(top), layers.Conv2D(64, 1)(feat)])
        pyramid.append(top)
    merged = []
    for level, p in enumerate(reversed(pyramid)):  # strides 4, 8, 16, 32
        p = conv_bn(p, 32, 3)
        for _ in range(level):
            p = layers.UpSampling2D(2, interpolation="bilinear")(p)
        merged.append(p)
    x = conv_bn(layers.Add()(merged), 32, 3)
    x = layers.Conv2D(21, 1)(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    return k.Model(inp, layers.Softmax()(x), name="fpn_seg")


def ssd_mobilenet_v2():
    """SSDLite-like detector: MobileNetV2-0.35 at 192x192, heads at strides 16 and 32, 3 anchors,
    20 classes + background; boxes and scores concatenated into one [anchors, 25] output."""
    k = keras()
    layers = k.layers
    inp, feats = _mobilenet_v2_features((192, 192, 3), 0.35, ["block_13_expand_relu", "out_relu"])
    feats.append(conv_bn(conv_bn(feats[-1], 128, 1), 256, 3, strides=2))
    outs = []
    for feat in feats:
        head = []
        for width in (3 * 4, 3 * 21):
            h = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(feat)
            h = layers.ReLU(6.0)(layers.BatchNormalization()(h))
            h = layers.Conv2D(width, 1)(h)
            head.append(layers.Reshape((-1, width // 3))(h))
        outs.append(layers.Concatenate()(head))
    out = layers.Concatenate(axis=1)(outs)
    return k.Model(inp, out, name="ssd_mobilenet_v2")


def yolo_tiny():
    """Tiny-YOLOv3 (Redmon and Farhadi 2018) at 160x160: leaky-ReLU conv stack, two heads
    (5x5 and 10x10) of 3 anchors x (5 + 80 classes)."""
    k = keras()
    layers = k.layers

    def conv(x, filters, kernel):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        return layers.LeakyReLU(0.1)(layers.BatchNormalization()(x))

    inp = k.Input((160, 160, 3), batch_size=1)
    x = inp
    for filters in (16, 32, 64, 128, 256):
        x = conv(x, filters, 3)
        if filters == 256:
            route = x
        x = layers.MaxPooling2D(2)(x)
    x = conv(x, 512, 3)
    x = layers.MaxPooling2D(2, strides=1, padding="same")(x)
    x = conv(conv(x, 1024, 3), 256, 1)
    big = layers.Conv2D(255, 1)(conv(x, 512, 3))
    x = layers.UpSampling2D(2)(conv(x, 128, 1))
    x = conv(layers.Concatenate()([x, route]), 256, 3)
    small = layers.Conv2D(255, 1)(x)
    return k.Model(inp, [big, small], name="yolo_tiny")
