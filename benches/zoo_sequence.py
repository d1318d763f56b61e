"""Hand-built sequence architectures of the zoo (:mod:`benches.zoo`): keyword spotting, audio,
transformers, dense autoencoders and 1-D convolutions.

Every builder takes no argument and returns a ``tf_keras.Model`` with batch size 1 whose weights
come from the initialisers (the caller seeds them); nothing is downloaded. Recurrent layers are
unrolled so that the INT8 flatbuffer holds builtin element-wise and fully-connected operators.
"""

from benches.zoo_models import IMAGENET, conv_bn, keras

__all__ = ["anomaly_ae", "crnn_kws", "deit_tiny", "dnn_kws", "ds_cnn", "ds_cnn_l", "ds_cnn_m",
           "kwt", "lstm_kws", "m5", "micronet_kws_s", "tc_resnet8", "tcn", "vit_tiny"]

MFCC = (49, 10, 1)  # 1 s of audio, 40 ms frames every 20 ms, 10 MFCC (MLPerf Tiny KWS)


def _ds_cnn(filters, blocks, strides, name):
    """DS-CNN keyword spotter: a (10, 4) conv, then ``blocks`` depthwise-separable blocks."""
    k = keras()
    layers = k.layers
    inp = k.Input(MFCC, batch_size=1)
    x = conv_bn(inp, filters, (10, 4), strides=strides)
    for _ in range(blocks):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = conv_bn(x, filters, 1)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name=name)


def ds_cnn():
    """DS-CNN-S keyword spotter (Zhang et al. 2017, "Hello Edge"): 49x10 MFCC, 12 classes."""
    return _ds_cnn(64, 4, 2, "ds_cnn")


def ds_cnn_m():
    """DS-CNN-M (Hello Edge): 172 filters, 4 depthwise-separable blocks, 49x10 MFCC."""
    return _ds_cnn(172, 4, (2, 1), "ds_cnn_m")


def ds_cnn_l():
    """DS-CNN-L (Hello Edge): 276 filters, 5 depthwise-separable blocks, 49x10 MFCC."""
    return _ds_cnn(276, 5, (2, 1), "ds_cnn_l")


def micronet_kws_s():
    """MicroNet-KWS-S-like (Banbury et al. 2021): a (10, 4) stem and depthwise-separable blocks
    of uneven widths (84-196), 49x10 MFCC, 12 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input(MFCC, batch_size=1)
    x = conv_bn(inp, 84, (10, 4))
    for filters, strides in ((112, 2), (84, 1), (84, 1), (84, 1), (196, 1)):
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = conv_bn(x, filters, 1)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="micronet_kws_s")


def dnn_kws():
    """DNN-S keyword spotter (Hello Edge): 3 fully-connected layers of 144 on 49x10 MFCC."""
    k = keras()
    layers = k.layers
    inp = k.Input(MFCC, batch_size=1)
    x = layers.Flatten()(inp)
    for _ in range(3):
        x = layers.Dense(144, activation="relu")(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="dnn_kws")


def lstm_kws():
    """LSTM keyword spotter (Hello Edge LSTM-S-like): one unrolled LSTM of 64 cells over 49
    frames of 10 MFCC, 12 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input(MFCC[:2], batch_size=1)
    x = layers.LSTM(64, unroll=True)(inp)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="lstm_kws")


def crnn_kws():
    """CRNN keyword spotter (Hello Edge CRNN-S-like): a (10, 4) conv of 48, an unrolled GRU of 60
    over 20 frames, a dense 84 and 12 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input(MFCC, batch_size=1)
    x = conv_bn(inp, 48, (10, 4), strides=(2, 1))
    x = layers.Reshape((int(x.shape[1]), int(x.shape[2]) * int(x.shape[3])))(x)
    x = layers.GRU(60, unroll=True)(x)
    x = layers.Dense(84, activation="relu")(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="crnn_kws")


def _vit(shape, patch, dim, heads, depth, mlp, classes, name):
    """Pre-LN vision transformer: a patch conv, learned positions, ``depth`` MHA + MLP layers and
    a global-average-pooled head."""
    k = keras()
    layers = k.layers

    class PositionEmbedding(layers.Layer):
        def build(self, input_shape):
            self.pos = self.add_weight(
                name="pos", shape=(1,) + tuple(input_shape[1:]),
                initializer=k.initializers.RandomNormal(stddev=0.02))

        def call(self, x):
            return x + self.pos

    inp = k.Input(shape, batch_size=1)
    x = layers.Conv2D(dim, patch, strides=patch)(inp)
    tokens = int(x.shape[1]) * int(x.shape[2])
    x = PositionEmbedding()(layers.Reshape((tokens, dim))(x))
    for _ in range(depth):
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadAttention(heads, dim // heads)(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.Dense(mlp, activation="gelu")(h)
        x = layers.Add()([x, layers.Dense(dim)(h)])
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(epsilon=1e-6)(x))
    out = layers.Dense(classes, activation="softmax")(x)
    return k.Model(inp, out, name=name)


def vit_tiny():
    """Small ViT: 16x16 patch conv, 196 tokens x 192, 4 pre-LN layers of 3-head MHA, 224x224."""
    return _vit(IMAGENET, 16, 192, 3, 4, 768, 1000, "vit_tiny")


def deit_tiny():
    """DeiT-Tiny-like (Touvron et al. 2021): 16x16 patches, 196 tokens x 192, 12 layers of 3-head
    MHA, MLP 768, pooled head instead of a class token, 224x224."""
    return _vit(IMAGENET, 16, 192, 3, 12, 768, 1000, "deit_tiny")


def kwt():
    """Keyword Transformer KWT-1-like (Berg et al. 2021): 98 time frames x 40 MFCC as tokens of
    64, 12 layers of 1-head MHA, MLP 256, pooled head, 35 classes."""
    return _vit((98, 40, 1), (1, 40), 64, 1, 12, 256, 35, "kwt")


def anomaly_ae():
    """MLPerf Tiny anomaly-detection autoencoder (ToyADMOS): 640-128x4-8-128x4-640, BN + ReLU."""
    k = keras()
    layers = k.layers
    inp = k.Input((640,), batch_size=1)
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(units)(x)))
    return k.Model(inp, layers.Dense(640)(x), name="anomaly_ae")


def _conv1d_bn(x, filters, kernel, strides=1, dilation=1, padding="same", relu=True):
    layers = keras().layers
    x = layers.Conv1D(filters, kernel, strides=strides, dilation_rate=dilation, padding=padding,
                      use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def m5():
    """M5 raw-audio classifier (Dai et al. 2017): an 80-tap stride-4 conv of 128, then 3-tap
    convs 128-256-512 with max pools, on 1 s of 8 kHz audio, 35 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input((8000, 1), batch_size=1)
    x = _conv1d_bn(inp, 128, 80, strides=4)
    x = layers.MaxPooling1D(4)(x)
    for filters in (128, 256, 512):
        x = layers.MaxPooling1D(4)(_conv1d_bn(x, filters, 3))
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(35, activation="softmax")(x)
    return k.Model(inp, out, name="m5")


def tcn():
    """Temporal convolutional network (Bai et al. 2018): 4 residual blocks of two causal 3-tap
    convs of 64 with dilations 1-2-4-8, on 100 frames x 40 filterbanks, 12 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input((100, 40), batch_size=1)
    x = inp
    for dilation in (1, 2, 4, 8):
        y = _conv1d_bn(x, 64, 3, dilation=dilation, padding="causal")
        y = _conv1d_bn(y, 64, 3, dilation=dilation, padding="causal", relu=False)
        shortcut = x if x.shape[-1] == 64 else layers.Conv1D(64, 1)(x)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="tcn")


def tc_resnet8():
    """TC-ResNet8 keyword spotter (Choi et al. 2019): 1-D convs over 101 frames with the 40 MFCC
    as channels, 3 residual blocks of 9-tap stride-2 convs (24-32-48), 12 classes."""
    k = keras()
    layers = k.layers
    inp = k.Input((101, 40), batch_size=1)
    x = layers.Conv1D(16, 3, padding="same", use_bias=False)(inp)
    for filters in (24, 32, 48):
        y = _conv1d_bn(x, filters, 9, strides=2)
        y = _conv1d_bn(y, filters, 9, relu=False)
        shortcut = _conv1d_bn(x, filters, 1, strides=2)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="tc_resnet8")
