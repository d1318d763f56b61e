"""Design space ``families``: models sampled from 14 real architecture families.

A leave-one-family-out benchmark trains without one family and scores that family's models,
so each configuration names its family in a top-level ``"family"`` key. Sampling draws the
family uniformly from :data:`FAMILIES`, then that family's own choices (width multiplier,
depth, resolution, kernel sizes, expansion ratios, block kinds: what varies between real
instances of the family):

=================  ========================================================================
family             module and what it samples
=================  ========================================================================
mobilenet_v1       :mod:`.mobile`: depthwise-separable stacks, width 0.25-1, ReLU6
mobilenet_v2       :mod:`.mobile`: inverted residuals, expansion 1-6
mobilenet_v3       :mod:`.mobile`: inverted residuals + SE (hard-sigmoid), HARD_SWISH, k 3/5
efficientnet       :mod:`.efficient`: MBConv + SE, swish, width/depth coefficients, Lite
efficientnet_v2    :mod:`.efficient`: fused MBConv early stages, MBConv + SE later
resnet             :mod:`.residual`: basic/bottleneck, v1/v2, projection shortcuts
regnet             :mod:`.residual`: RegNetX/Y bottlenecks with grouped 3x3 convolutions
densenet           :mod:`.residual`: dense blocks with concatenation, transitions
unet               :mod:`.segmentation`: U-Net / FPN, transpose conv or resize upsampling
inception          :mod:`.multibranch`: Inception modules, NASNet-like cells, SqueezeNet
vit                :mod:`.transformers`: ViT/DeiT, Keras LayerNorm, MHA or explicit attention
kws                :mod:`.sequence`: DS-CNN, non-square CNN, TC-ResNet on MFCC maps
dense              :mod:`.sequence`: anomaly-detection autoencoders and MLPs
conv1d             :mod:`.sequence`: M5 raw-audio nets, TCNs, 1-D ResNets
=================  ========================================================================

Every configuration also carries ``input_shape`` (without the batch dimension),
``input_kind`` (``image``, ``mfcc``, ``vector`` or ``signal``; it selects the calibration
inputs, see :func:`trainer.spaces.calibration_batches`) and ``num_classes`` (the output
width; per-pixel classes for ``unet``). :func:`sample` needs only numpy; :func:`build`
imports ``tf_keras`` lazily.
"""

from __future__ import annotations

from . import efficient, mobile, multibranch, residual, segmentation, sequence, transformers

__all__ = ["SPACE_NAMES", "FAMILIES", "INPUT_KINDS", "sample", "build"]

SPACE_NAMES = ("families",)

FAMILIES = (
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "efficientnet", "efficientnet_v2",
    "resnet", "regnet", "densenet", "unet", "inception", "vit", "kws", "dense", "conv1d",
)

INPUT_KINDS = ("image", "mfcc", "vector", "signal")

_SAMPLERS = {}
_BUILDERS = {}
for _module in (mobile, efficient, residual, segmentation, multibranch, transformers, sequence):
    _SAMPLERS.update(_module.SAMPLERS)
    _BUILDERS.update(_module.BUILDERS)
assert set(_SAMPLERS) == set(FAMILIES) == set(_BUILDERS)


def sample(space, rng):
    """Draws one model: a family uniformly, then that family's choices.

    Args:
        space: ``"families"``.
        rng: a ``numpy.random.Generator``.

    Returns:
        A JSON-serialisable dict with ``family``, ``input_shape``, ``input_kind``,
        ``num_classes`` and the family's own keys.

    Raises:
        ValueError: ``space`` is not ``"families"``.
    """
    if space not in SPACE_NAMES:
        raise ValueError(space)
    family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    config = {"family": family}
    config.update(_SAMPLERS[family](rng))
    return config


def build(config, name="families"):
    """Builds the Keras model of a sampled configuration (weights left at initialisation).

    Args:
        config: a dict from :func:`sample`.
        name: the Keras model name; layer names come from a per-model counter
            (:class:`.blocks.Namer`), so they do not depend on earlier models.

    Returns:
        A ``tf_keras.Model`` with batch size 1 and the config's fixed input shape.

    Raises:
        ValueError: an unknown family.
    """
    from .blocks import make_model

    family = config["family"]
    if family not in _BUILDERS:
        raise ValueError("unknown family {!r}".format(family))
    return make_model(config, name, _BUILDERS[family])
