"""Numpy-only sampling helpers shared by the ``families`` design space.

Every family sampler draws from a ``numpy.random.Generator`` with these helpers, so a
configuration is plain JSON (ints, floats, strings, bools, lists and dicts) and needs no
TensorFlow. The resolution and class-count distributions are shared so that families stay
comparable: image resolutions lean towards 160 and below, because conversion and Vela time grow
with the activation sizes and the dataset must be cheap to regenerate.
"""

from __future__ import annotations

__all__ = [
    "RESOLUTIONS",
    "RESOLUTION_WEIGHTS",
    "CLASS_COUNTS",
    "pick",
    "pick_weighted",
    "chance",
    "make_divisible",
    "image_resolution",
    "num_classes",
    "image_header",
    "head_choice",
    "HEADS",
]

#: Square image sizes and their probabilities (most mass on <= 160).
RESOLUTIONS = (32, 48, 64, 96, 128, 160, 192, 224)
RESOLUTION_WEIGHTS = (0.10, 0.10, 0.16, 0.20, 0.18, 0.12, 0.08, 0.06)

#: Class counts of common benchmarks (CIFAR-10, KWS-12, ..., ImageNet-1k).
CLASS_COUNTS = (10, 12, 20, 37, 100, 102, 200, 500, 1000)


def _native(value):
    """Numpy scalars and tuples to plain Python values (JSON-serialisable)."""
    if isinstance(value, tuple):
        return [_native(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def pick(rng, options):
    """One option, uniformly; tuples come back as lists.

    Args:
        rng: a ``numpy.random.Generator``.
        options: a non-empty sequence.

    Returns:
        The chosen option as a plain Python value.
    """
    return _native(options[int(rng.integers(len(options)))])


def pick_weighted(rng, options, weights):
    """One option with the given (unnormalised) probabilities."""
    total = float(sum(weights))
    u = float(rng.random()) * total
    acc = 0.0
    for option, weight in zip(options, weights):
        acc += float(weight)
        if u < acc:
            return _native(option)
    return _native(options[-1])


def chance(rng, p):
    """True with probability ``p``."""
    return bool(float(rng.random()) < float(p))


def make_divisible(value, divisor=8, min_value=None):
    """Rounds a channel count like the Keras/TF-slim MobileNets (never below 90% of it)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def image_resolution(rng, low=32, high=224):
    """A square input size from :data:`RESOLUTIONS` restricted to ``[low, high]``."""
    pairs = [(r, w) for r, w in zip(RESOLUTIONS, RESOLUTION_WEIGHTS) if low <= r <= high]
    return pick_weighted(rng, [r for r, _ in pairs], [w for _, w in pairs])


def num_classes(rng, high=1000):
    """A class count from :data:`CLASS_COUNTS` not above ``high``."""
    return pick(rng, [c for c in CLASS_COUNTS if c <= high])


def image_header(rng, low=32, high=224, max_classes=1000):
    """The common keys of an image classifier: ``input_shape``, ``input_kind``, ``num_classes``."""
    size = image_resolution(rng, low, high)
    return {
        "input_shape": [size, size, 3],
        "input_kind": "image",
        "num_classes": num_classes(rng, max_classes),
    }


HEADS = ("gap_dense", "gap_conv", "pool_conv")


def head_choice(rng, heads=HEADS, hidden=(0,)):
    """The classifier-head keys: ``head``, ``head_hidden`` and ``softmax``."""
    return {
        "head": pick(rng, heads),
        "head_hidden": pick(rng, hidden),
        "softmax": chance(rng, 0.5),
    }
