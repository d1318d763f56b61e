"""Vela's OFM block choice and cycle estimate for the Ethos-U55 configurations (pure Python, no
models).

The expected blocks and cycles are Vela 5.2's own, printed by ``--verbose-schedule`` for
cnn-kws models of the store (``docs/experiments.md: schema8_blocks``).
"""

import pytest

from edge_predictor.npu_blocks import (ACCELERATORS, DEFAULT_ARCH, OUTPUT_CYCLES_PER_ELEMENT,
                                       Block, compute_cycles, dpu_cycles, ofm_block)


@pytest.mark.parametrize("kind, ofm, ifm, kernel, stride, block", [
    # 1x1 convolutions on 25x5 maps: 48-deep blocks, or 32 when the input is shallow
    ("conv", (25, 5, 276), (25, 5, 96), (1, 1), (1, 1), (7, 6, 48)),
    ("conv", (25, 5, 64), (25, 5, 128), (1, 1), (1, 1), (9, 6, 32)),
    ("conv", (25, 5, 172), (25, 5, 32), (1, 1), (1, 1), (16, 4, 32)),
    # first layers (one input channel, part-kernel first)
    ("conv", (25, 5, 128), (49, 10, 1), (3, 3), (2, 2), (7, 6, 48)),
    ("conv", (25, 5, 172), (49, 10, 1), (4, 2), (2, 2), (25, 2, 32)),
    # depthwise: 16 deep, except where a deeper block costs fewer re-fetches
    ("depthwise", (25, 5, 128), (25, 5, 128), (7, 3), (1, 1), (10, 6, 16)),
    ("depthwise", (25, 5, 48), (25, 5, 48), (5, 5), (1, 1), (8, 4, 32)),
    # the global average pool before the classifier
    ("pool", (1, 1, 276), (25, 5, 276), (25, 5), (1, 1), (1, 2, 128)),
])
def test_blocks_are_velas(kind, ofm, ifm, kernel, stride, block):
    assert ofm_block(kind, ofm, ifm, kernel, stride) == Block(*block)


def test_dilation_widens_the_kernel_the_block_must_cover():
    plain = ofm_block("depthwise", (56, 56, 64), (56, 56, 64), (3, 3), (1, 1))
    dilated = ofm_block("depthwise", (56, 56, 64), (56, 56, 64), (3, 3), (1, 1), (2, 2))
    assert plain is not None and dilated is not None
    assert dilated.height * dilated.width < plain.height * plain.width


def test_edge_blocks_count_at_their_real_size():
    # depthwise 3x3 on 25x5x32 in 14x6x16 blocks: rows 14 + 11, depth 16 + 16.
    # per block: max(32, 4 x micro-blocks (rows x ceil(5 / 2))) x ceil(9 / 4) steps x 2
    full = max(32, 4 * 14 * 3) * 3 * 2
    edge = max(32, 4 * 11 * 3) * 3 * 2
    assert dpu_cycles("depthwise", (25, 5, 32), 32, (3, 3), Block(14, 6, 16)) == 2 * (full + edge)


@pytest.mark.parametrize("kind, ofm, ifm_depth, kernel, block, vela", [
    ("conv", (25, 5, 276), 96, (1, 1), (7, 6, 48), 32754),
    ("conv", (25, 5, 276), 276, (1, 1), (7, 6, 48), 96275),
    ("depthwise", (25, 5, 276), 276, (5, 3), (10, 6, 16), 42684),
    ("depthwise", (25, 5, 32), 32, (3, 3), (14, 6, 16), 4524),
    ("conv", (25, 5, 128), 1, (3, 3), (7, 6, 48), 15589),
])
def test_compute_cycles_are_close_to_velas_estimate(kind, ofm, ifm_depth, kernel, block, vela):
    assert compute_cycles(kind, ofm, ifm_depth, kernel, Block(*block)) == pytest.approx(
        vela, rel=0.06)  # the estimate is within -4..+6% of Vela for 80% of operators


def test_output_bound_blocks_cost_their_output():
    # a 1x1 convolution from 8 channels: the MAC array idles, writing out dominates
    block = Block(4, 4, 64)
    cycles = compute_cycles("conv", (4, 4, 64), 8, (1, 1), block)
    assert cycles == pytest.approx(2 * OUTPUT_CYCLES_PER_ELEMENT * 4 * 4 * 64)


def test_an_empty_tensor_or_absurd_sizes_have_no_block():
    assert ofm_block("conv", (0, 5, 8), (25, 5, 8), (1, 1), (1, 1)) is None
    # a corrupted model's sizes: no block, no overflow, no time spent
    assert ofm_block("conv", (7, 7, 2 ** 40), (7, 7, 8), (3, 3), (1, 1)) is None
    assert ofm_block("conv", (7, 7, 8), (7, 7, 8), (10 ** 7, 3), (1, 1)) is None


def test_huge_kernels_are_counted_not_enumerated():
    # sub-kernels are counted, not enumerated: a 10^6 x 10^6 kernel is 1.6e10 of them; this
    # would not return for hours if they were walked one by one
    cycles = dpu_cycles("conv", (7, 7, 64), 32, (10 ** 6, 10 ** 6), Block(7, 8, 64))
    assert cycles == pytest.approx(
        dpu_cycles("conv", (7, 7, 64), 32, (8, 8), Block(7, 8, 64)) * 125000 ** 2)


U55_256 = ACCELERATORS["ethos-u55-256"]


@pytest.mark.parametrize("kind, ofm, ifm, kernel, stride, block, cycles", [
    # Vela 5.2 --accelerator-config ethos-u55-256 --verbose-schedule on cnn-kws store models:
    # larger blocks than the 128's (48 SHRAM banks, 2 x 2 x 8 micro-blocks)
    ("depthwise", (25, 5, 64), (25, 5, 64), (3, 3), (1, 1), (14, 6, 32), 4968),
    ("depthwise", (25, 5, 64), (25, 5, 64), (5, 5), (1, 1), (10, 6, 32), 9820),
    ("conv", (25, 5, 32), (49, 10, 1), (3, 3), (2, 2), (16, 6, 32), 3066),
    ("conv", (25, 5, 64), (25, 5, 96), (1, 1), (1, 1), (10, 6, 64), 5208),
    ("pool", (1, 1, 64), (25, 5, 64), (25, 5), (1, 1), (2, 2, 64), None),
])
def test_another_accelerator_gets_velas_blocks(kind, ofm, ifm, kernel, stride, block, cycles):
    got = ofm_block(kind, ofm, ifm, kernel, stride, (1, 1), U55_256)
    assert got == Block(*block)
    assert got != ofm_block(kind, ofm, ifm, kernel, stride)  # not the 128's block
    if cycles is not None:  # Vela's estimate within 15% (median over 30 models: -4.7%)
        assert compute_cycles(kind, ofm, ifm[2], kernel, got, U55_256) == pytest.approx(
            cycles, rel=0.15)


@pytest.mark.parametrize("accelerator, kind, ofm, ifm, kernel, stride, block, cycles", [
    # the smaller ones (16 banks, none left unused at the end; 1 x 1 micro-blocks)
    ("ethos-u55-64", "conv", (25, 5, 48), (49, 10, 1), (8, 4), (2, 2), (12, 5, 16), 25541),
    ("ethos-u55-64", "depthwise", (25, 5, 48), (25, 5, 48), (3, 3), (1, 1), (12, 5, 16), 10284),
    ("ethos-u55-32", "conv", (25, 5, 48), (49, 10, 1), (8, 4), (2, 2), (12, 5, 16), 50741),
    ("ethos-u55-32", "depthwise", (25, 5, 48), (25, 5, 48), (3, 3), (1, 1), (12, 5, 16), 20244),
])
def test_smaller_accelerators_get_velas_blocks(accelerator, kind, ofm, ifm, kernel, stride,
                                               block, cycles):
    arch = ACCELERATORS[accelerator]
    got = ofm_block(kind, ofm, ifm, kernel, stride, (1, 1), arch)
    assert got == Block(*block) and got != ofm_block(kind, ofm, ifm, kernel, stride)
    assert compute_cycles(kind, ofm, ifm[2], kernel, got, arch) == pytest.approx(cycles, rel=0.05)


def test_twice_the_macs_take_fewer_cycles_for_the_same_block():
    block = Block(14, 6, 32)
    assert (dpu_cycles("depthwise", (25, 5, 64), 64, (3, 3), block, U55_256)
            < dpu_cycles("depthwise", (25, 5, 64), 64, (3, 3), block))
    assert U55_256.output_cycles == OUTPUT_CYCLES_PER_ELEMENT / 2
    assert DEFAULT_ARCH is ACCELERATORS["ethos-u55-128"]


def test_a_batch_of_searches_finds_what_each_search_finds_alone():
    import random

    from edge_predictor.npu_blocks import clear_caches, ofm_blocks

    rng = random.Random(7)
    dims = [1, 2, 3, 5, 7, 14, 25, 28, 32, 33, 56, 64, 65, 112, 224]
    depths = [1, 3, 8, 16, 17, 24, 48, 64, 96, 128, 130, 256, 576]
    queries = []
    for _ in range(300):
        kind = rng.choice(["conv", "depthwise", "pool"])
        oh, ow, od = rng.choice(dims), rng.choice(dims), rng.choice(depths)
        sy, sx, kh, kw = rng.choice([1, 2, 3]), rng.choice([1, 2]), rng.choice([1, 3, 5, 9]), \
            rng.choice([1, 3, 10])
        idp = od if kind != "conv" else rng.choice(depths)
        queries.append((kind, (oh, ow, od), ((oh - 1) * sy + kh, (ow - 1) * sx + kw, idp),
                        (kh, kw), (sy, sx), (rng.choice([1, 2]), 1)))
    queries.append(("conv", (0, 5, 8), (25, 5, 8), (1, 1), (1, 1), (1, 1)))  # empty: None
    for arch in ACCELERATORS.values():
        clear_caches()
        got = ofm_blocks(queries, arch)  # candidates of different queries never mix
        clear_caches()
        assert got == [ofm_blocks([q], arch)[0] for q in queries]
        assert got[-1] is None and sum(b is None for b in got) < len(got) // 2
