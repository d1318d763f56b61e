"""The OFM block shape the Ethos-U55 compiler (Vela 5.2) picks for an operator.

Vela runs a convolution, depthwise convolution or pooling block by block: an OFM block of
``height x width x depth`` elements whose IFM block and accumulators must fit in the shared
buffer (SHRAM). Among the blocks that fit, it takes the one that re-fetches the fewest IFM and
weight elements per output element. The block *depth* matters to the weight-buffering replay
(:mod:`edge_predictor.npu_schedule`): Vela cuts a double-buffered weight stream in slices of
whole blocks, so a 276-channel 1x1 convolution with 48-deep blocks is sliced
``[0, 128, 272, 276]``, and the 4-channel tail is the only slack the next operator gets to hide
its own transfer.

This is our own statement of that search, per accelerator configuration (:class:`Arch`,
:data:`ACCELERATORS`): on the ``ethos-u55-128`` (micro-block 2 x 1 x 8, 24 banks of 1 KiB, 2
reserved for output and 2 at the end, IFM granule 4 and 32-bit accumulator granule 8 banks),
Vela's blocks for all 1,782 operators of 146 cnn-kws models
(``docs/experiments.md: schema8_blocks/schedule_vs_vela.py``); on the ``ethos-u55-256``,
``-64`` and ``-32``, from Vela's tables, all 488 operators of 40 cnn-kws models
(``benches/npu_schedule_check.py``, ``docs/npu-accelerators.md``). Largest block
32 x 64 x 128, int8 activations, no lookup table and no upscaling. :func:`compute_cycles`
estimates the cycles Vela's scheduler weighs weight transfers against, block by block. Other
spaces' operators were not checked. Pure Python and numpy; Python 3.7 compatible.
"""

from __future__ import annotations

import functools
import math
from itertools import product
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

__all__ = ["Arch", "ACCELERATORS", "DEFAULT_ARCH", "Block", "OUTPUT_CYCLES_PER_ELEMENT",
           "ofm_block", "ofm_blocks", "clear_caches", "dpu_cycles", "compute_cycles"]

_MAX_H, _MAX_W, _MAX_D = 32, 64, 128
_BANK = 1024
_OUT_BANKS = 2  # SHRAM banks reserved for the output
_SPLIT = 16  # OFM depth granule when the block does not cover the whole depth
_SUBKERNEL = 8  # largest sub-kernel height and width
_LARGEST = 1 << 20  # no dimension, kernel or stride of a model the NPU runs is larger


class Arch(NamedTuple):
    """What the block search and the cycle estimate need of one Ethos-U configuration (Vela's
    ``ArchitectureConfig`` and SHRAM layout).

    Attributes:
        name: Vela's ``--accelerator-config``.
        macs: multiply-accumulates per cycle.
        ublock_w, ublock_h, ublock_d: the OFM micro-block (elements).
        ifm_ublock_h: the IFM micro-block's height (IFM blocks are whole micro-blocks high).
        banks: SHRAM banks of 1 KiB.
        end_banks: banks Vela leaves unused at the end (2 above 16 banks, else 0).
        ifm_granule, acc_granule: banks an int8 IFM block and 32-bit accumulators are
            allocated in.
        output_cycles: cycles per output element of a block (write-out and activation).
        elem_units: elementwise units (Vela's ``elem_units``): the elementwise throughput.
    """

    name: str
    macs: int
    ublock_w: int
    ublock_h: int
    ublock_d: int
    ifm_ublock_h: int
    banks: int
    end_banks: int
    ifm_granule: int
    acc_granule: int
    output_cycles: float
    elem_units: int


#: cycles per output element of a block (write-out and activation) on the ethos-u55-128, picked
#: with the tail term of :func:`compute_cycles` among 0.5 / 0.625 / 0.75 on Vela 5.2's estimates
#: (p10..p90 of the depth-first convolutions' error: -15..-1%, -4..+3%, -2..+24%)
OUTPUT_CYCLES_PER_ELEMENT = 0.625

#: the configurations whose blocks and cycles were checked against Vela 5.2
#: (``benches/results/npu_schedule_check.md``), from Vela's architecture tables (micro-block,
#: SHRAM banks, IFM and accumulator granules) with the ethos-u55-128's output rate scaled by
#: MACs: every block of 488 cnn-kws operators Vela's on each, compute cycles within a median 6%
ACCELERATORS = {
    "ethos-u55-128": Arch("ethos-u55-128", 128, 2, 1, 8, 1, 24, 2, 4, 8,
                          OUTPUT_CYCLES_PER_ELEMENT, 4),
    "ethos-u55-256": Arch("ethos-u55-256", 256, 2, 2, 8, 2, 48, 2, 8, 16,
                          OUTPUT_CYCLES_PER_ELEMENT / 2, 8),
    "ethos-u55-64": Arch("ethos-u55-64", 64, 1, 1, 8, 1, 16, 0, 2, 4,
                         OUTPUT_CYCLES_PER_ELEMENT * 2, 2),
    "ethos-u55-32": Arch("ethos-u55-32", 32, 1, 1, 4, 1, 16, 0, 2, 4,
                         OUTPUT_CYCLES_PER_ELEMENT * 4, 1),
}
DEFAULT_ARCH = ACCELERATORS["ethos-u55-128"]


class Block(NamedTuple):
    """An OFM block: height, width, depth (elements)."""

    height: int
    width: int
    depth: int


def _round_up(v: float, m: int) -> int:
    return int(-(-v // m) * m)


def _ceil_div(v: float, m: int) -> int:
    return int(-(-v // m))


def _ceil_div_np(v, m):
    return -(-v // m)


def _round_up_np(v, m):
    return -(-v // m) * m


def _part_kernel(ifm_depth: int, kernel_hw: int) -> bool:
    """Whether a convolution traverses part-kernel first (better MAC utilisation)."""
    if ifm_depth <= 8:
        return True
    depth_use = ifm_depth / _round_up(ifm_depth, 32)
    part_use = ifm_depth * kernel_hw / (_round_up(ifm_depth, 8) * _round_up(kernel_hw, 4))
    return part_use > depth_use


@functools.lru_cache(maxsize=4096)
def ofm_block(kind: str, ofm: Tuple[int, int, int], ifm: Tuple[int, int, int],
              kernel: Tuple[int, int], stride: Tuple[int, int],
              dilation: Tuple[int, int] = (1, 1), arch: Arch = DEFAULT_ARCH) -> Optional[Block]:
    """The OFM block of one operator (memoised: NAS graphs repeat their shapes).

    Args:
        kind: "conv" (CONV_2D), "depthwise" (DEPTHWISE_CONV_2D) or "pool" (AVERAGE_POOL_2D,
            MAX_POOL_2D).
        ofm: output (height, width, depth).
        ifm: input (height, width, depth).
        kernel: (height, width); stride, dilation: (y, x).
        arch: the accelerator (:data:`ACCELERATORS`).

    Returns:
        The :class:`Block`, or None when no block fits.
    """
    return ofm_blocks([(kind, ofm, ifm, kernel, stride, dilation)], arch)[0]


def ofm_blocks(queries: Sequence[Tuple], arch: Arch = DEFAULT_ARCH) -> List[Optional[Block]]:
    """The OFM blocks of many operators at once: every candidate block of every query scored in
    one pass of numpy operations (a model's searches cost one search's numpy calls, not one per
    operator). Checked against the earlier one-operator-at-a-time search on 20,000 random
    geometries x 4 accelerators: the same blocks (``docs/runtime-speed.md``).

    Args:
        queries: ``(kind, ofm, ifm, kernel, stride, dilation)``, as :func:`ofm_block` takes.
        arch: the accelerator.

    Returns:
        One :class:`Block` (or None) per query, in order.
    """
    out: List[Optional[Block]] = [None] * len(queries)
    grid_d, grid_h, grid_w, grid_room, grid_small = _grid(arch)
    rows, allowed = [], []
    for q, (kind, ofm, ifm, kernel, stride, dilation) in enumerate(queries):
        oh, ow, od = (int(v) for v in ofm)
        ih, iw, idp = (int(v) for v in ifm)
        kh = (int(kernel[0]) - 1) * int(dilation[0]) + 1
        kw = (int(kernel[1]) - 1) * int(dilation[1]) + 1
        sy, sx = int(stride[0]), int(stride[1])
        sizes = (oh, ow, od, ih, iw, idp, kh, kw, sy, sx)
        if min(sizes) <= 0 or max(sizes) > _LARGEST:
            continue
        depthwise, pool = kind == "depthwise", kind == "pool"
        part = not pool and _part_kernel(idp, kw * kh)
        sh = _round_up(min(oh, _MAX_H), arch.ublock_h)
        sw = _round_up(min(ow, _MAX_W), arch.ublock_w)
        sd = _round_up(min(od, _MAX_D), arch.ublock_d)
        depths = np.zeros(_MAX_D + 1, bool)  # the depths Vela weighs for this output
        depth = max(arch.ublock_d, min(sd, _SPLIT))
        depth = _round_up(depth, _SPLIT) if depth < od else depth
        while depth <= sd:
            depths[depth] = True
            depth += arch.ublock_d
            if depth < od:
                depth = _round_up(depth, _SPLIT)
        allowed.append(depths)
        rows.append((q, oh, ow, od, ih, iw, idp, kh, kw, sy, sx,
                     _ceil_div(kw, _SUBKERNEL) * _ceil_div(kh, _SUBKERNEL),
                     _round_up(min(idp, 16 if part else 32), 8), 0 if pool else kw * kh,
                     int(depthwise or pool), int(depthwise), sh, sw))
    if not rows:
        return out
    r = np.array(rows, dtype=np.int64)
    # every query's candidates: the configuration's blocks within its output, of its depths,
    # in Vela's order (query-major; within a query, the grid's order)
    sh_q, sw_q = r[:, 16], r[:, 17]
    fits = ((grid_h[None, :] <= sh_q[:, None]) & (grid_w[None, :] <= sw_q[:, None])
            & np.array(allowed)[:, grid_d])
    seg, k = np.nonzero(fits)
    if not len(k):
        return out
    counts = np.bincount(seg, minlength=len(rows))
    d, h, w, room, small = grid_d[k], grid_h[k], grid_w[k], grid_room[k], grid_small[k]
    per_q = r[seg]  # [K, 18] each candidate's query columns
    oh, ow, od, ih, iw, idp, kh, kw, sy, sx, repeats, ifm_bd, weight_hw = (
        per_q[:, c] for c in range(1, 14))
    equal = per_q[:, 14].astype(bool)
    sh, sw = per_q[:, 16], per_q[:, 17]
    twin = ((h > w) & (w <= sh) & (h % arch.ublock_w == 0) & (w % arch.ublock_h == 0)
            & (h <= sw))
    bd8 = np.where(equal, d, _round_up_np(ifm_bd, 8))
    bh, bw = _ifm_block(h, w, sy, sx, kh, kw, arch)
    ok = _ifm_banks(bh * bw * bd8, arch) <= room
    if twin.any():  # (h, w) is skipped when the transposed (w, h) was tried first and failed
        tbh, tbw = _ifm_block(w[twin], h[twin], sy[twin], sx[twin], kh[twin], kw[twin], arch)
        ok[twin] &= _ifm_banks(tbh * tbw * bd8[twin], arch) <= room[twin]
    bd = np.where(equal, d, ifm_bd)
    full_wh = -(-oh // h) * -(-ow // w)
    ifm_wh_fetch = bh * bw * idp * repeats * (oh / h) * (ow / w)
    weight_fetch = weight_hw * idp * full_wh * np.where(per_q[:, 15].astype(bool), 1.0,
                                                        od.astype(np.float64))
    ifm_fetch = ifm_wh_fetch * np.where(equal, 1, _ceil_div_np(od, d))
    cost = (ifm_fetch + weight_fetch) / (oh * ow * od).astype(np.float64)
    cost = np.where(ih * iw * idp < bh * bw * bd * 2, cost / 2, cost)
    cost = np.where(ok, cost, np.inf)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    best = np.full(len(rows), np.inf)
    has = counts > 0
    best[has] = np.minimum.reduceat(cost, starts[has])
    tied = np.flatnonzero(cost == best[seg])
    first = tied[np.concatenate([[True], seg[tied][1:] != seg[tied][:-1]])]
    n_tied = np.bincount(seg[tied], minlength=len(rows))
    picks = dict(zip(seg[first].tolist(), first.tolist()))
    for s in np.flatnonzero((n_tied > 1) & np.isfinite(best)).tolist():
        # equal cost: Vela prefers small blocks covering more of the IFM
        cands = tied[seg[tied] == s].tolist()
        pick, best_cov = cands[0], math.inf
        for k in cands[1:]:
            cov = ih[k] * iw[k] / (min(ih[k], bh[k]) * min(iw[k], bw[k]))
            if small[k] and cov <= best_cov:
                pick, best_cov = k, cov
        picks[s] = pick
    for s, q in enumerate(r[:, 0].tolist()):
        if np.isfinite(best[s]):
            k = picks[s]
            out[q] = Block(int(h[k]), int(w[k]), int(d[k]))
    return out


@functools.lru_cache(maxsize=None)
def _grid(arch: Arch):
    """Every OFM block the search weighs on a configuration (a table of the configuration,
    built once; 1,335 blocks on the ethos-u55-128), in Vela's order (depth, then height, then
    width), less those whose accumulators alone overflow the SHRAM (on the ethos-u55-128 a
    block fits only if they take at most 16 banks: the IFM takes at least 4 of the 20, i.e.
    ``h * w * round8(d) <= 2048``). A query weighs the blocks within its output
    (:func:`ofm_blocks`).

    Returns:
        int64 [G] d, h, w; int64 [G] the banks left for the IFM block beside the accumulators;
        bool [G] small (h and w at most 4) -- read-only arrays.
    """
    hs = np.arange(arch.ublock_h, _round_up(_MAX_H, arch.ublock_h) + 1, arch.ublock_h)
    ws = np.arange(arch.ublock_w, _round_up(_MAX_W, arch.ublock_w) + 1, arch.ublock_w)
    h, w = (a.ravel() for a in np.meshgrid(hs, ws, indexing="ij"))
    depths = np.arange(arch.ublock_d, _round_up(_MAX_D, arch.ublock_d) + 1, arch.ublock_d)
    d8 = _round_up_np(depths, 8)
    max_acc = (arch.banks - _OUT_BANKS - arch.end_banks - arch.ifm_granule) * _BANK // (4 * 2)
    di, k = np.nonzero((h * w)[None, :] * d8[:, None] <= max_acc)
    d, h, w = depths[di], h[k], w[k]
    acc_banks = _ceil_div_np(_ceil_div_np(h * w * d8[di] * 4, _BANK) * 2,
                             arch.acc_granule) * arch.acc_granule
    room = arch.banks - arch.end_banks - _OUT_BANKS - acc_banks
    out = (d, h, w, room, (h <= 4) & (w <= 4))
    for a in out:  # shared by every search on this configuration
        a.setflags(write=False)
    return out


def clear_caches() -> None:
    """Forget the memoised block searches (:func:`ofm_block`; the configurations' block grids,
    which depend on no model, stay)."""
    ofm_block.cache_clear()


def _ifm_block(h, w, sy: int, sx: int, kh: int, kw: int, arch: Arch):
    """The IFM block (height, width) an OFM block of h x w reads, in whole IFM micro-blocks."""
    bh = (h - 1) * sy + np.minimum(kh, _SUBKERNEL)
    if arch.ifm_ublock_h > 1:
        bh = -(-bh // arch.ifm_ublock_h) * arch.ifm_ublock_h
    bw = -(-((w - 1) * sx + np.minimum(kw, _SUBKERNEL)) // arch.ublock_w) * arch.ublock_w
    return bh, bw


def _ifm_banks(elements, arch: Arch):
    """SHRAM banks an int8 IFM block of ``elements`` (depth rounded up to 8) takes."""
    return _ceil_div_np(_ceil_div_np(elements, _BANK) * 2, arch.ifm_granule) * arch.ifm_granule


def _sizes(total: int, block: int) -> List[Tuple[int, int]]:
    """(size, count) of the blocks along one axis: whole blocks and the remainder."""
    full, rest = divmod(total, block)
    return [(block, full)] * (full > 0) + [(rest, 1)] * (rest > 0)


def _traversal(kind: str, ifm_depth: int, kh: int, kw: int) -> Tuple[bool, int]:
    """(part-kernel first, IFM block depth) of a convolution's traversal."""
    part = kind == "conv" and _part_kernel(ifm_depth, kh * kw)
    return part, min(ifm_depth, _round_up(min(ifm_depth, 16 if part else 32), 8))


def _block_dpu(kind: str, bh: int, bw: int, bd: int, ifm_depth: int, kh: int, kw: int,
               part: bool, ibd: int, arch: Arch) -> float:
    """MAC-array cycles of one OFM block of bh x bw x bd elements."""
    xy = _ceil_div(bw, arch.ublock_w) * _ceil_div(bh, arch.ublock_h)
    z = _ceil_div(bd, arch.ublock_d)
    per_part = _ceil_div(ibd, 8) if part else 1
    cyc = 0.0
    # sub-kernels of at most 8 x 8: whole ones and the remainders, with counts
    for (ey, cy), (ex, cx) in product(_sizes(kh, _SUBKERNEL), _sizes(kw, _SUBKERNEL)):
        elems = ey * ex
        if kind == "pool":  # x4: Vela's int8 pooling rate (bits / 2)
            steps, c = 1, max(4, elems) * xy * z * 4
        elif kind == "depthwise" or part:
            steps = _ceil_div(elems, 4)
            c = max(32, 4 * xy) * steps * z * per_part
        else:
            steps = elems
            c = max(32, 4 * xy) * steps * z
        delay = 0
        if xy == 1:
            delay = 2 * steps if z == 1 else 2 * (steps - 1) * z
        cyc += (c + delay * per_part) * cy * cx
    return cyc * _ceil_div(ifm_depth, ibd) if kind == "conv" else cyc


def _blocks(ofm: Sequence[int], block: Block):
    """(height, width, depth, count) of the blocks an output is cut in, edge blocks at their
    real size."""
    for bh, nh in _sizes(int(ofm[0]), block.height):
        for bw, nw in _sizes(int(ofm[1]), block.width):
            for bd, nd in _sizes(int(ofm[2]), block.depth):
                yield bh, bw, bd, nh * nw * nd


def dpu_cycles(kind: str, ofm: Sequence[int], ifm_depth: int, kernel: Sequence[int],
               block: Block, arch: Arch = DEFAULT_ARCH) -> float:
    """MAC-array cycles of one operator: the sum over its OFM blocks, edge blocks at their
    real size (measured on Vela 5.2: a 25-row output in 14-row blocks costs 14 + 11 rows).

    Args:
        kind: "conv", "depthwise" or "pool".
        ofm: output (height, width, depth) -- or an output-depth slice of it.
        ifm_depth: input channels.
        kernel: dilated (height, width).
        block: from :func:`ofm_block`.
        arch: the accelerator.

    Returns:
        The cycle count (no output, memory or DMA terms).
    """
    kh, kw, idp = int(kernel[0]), int(kernel[1]), int(ifm_depth)
    part, ibd = _traversal(kind, idp, kh, kw)
    return sum(_block_dpu(kind, bh, bw, bd, idp, kh, kw, part, ibd, arch) * count
               for bh, bw, bd, count in _blocks(ofm, block))


def compute_cycles(kind: str, ofm: Sequence[int], ifm_depth: int, kernel: Sequence[int],
                   block: Block, arch: Arch = DEFAULT_ARCH) -> float:
    """Vela's estimate of an operator's compute cycles, the figure its scheduler weighs weight
    transfers against (``--verbose-schedule``, "Estimated Perf"): per OFM block the larger of
    its MAC-array cycles and ``arch.output_cycles`` per output element, summed over
    the blocks, plus one block's output for the pipeline tail.

    Against Vela 5.2 on 1,490 operators of 146 cnn-kws models: median error -0.9%, p10..p90
    -4..+5% (depth-first convolutions), -4..+6% (depthwise), -3..+11% (part-kernel first
    layers) (``docs/experiments.md: schema8_blocks/schedule_vs_vela.py``).

    Args:
        kind: "conv", "depthwise" or "pool".
        ofm: output (height, width, depth).
        ifm_depth: input channels.
        kernel: dilated (height, width).
        block: from :func:`ofm_block`.
        arch: the accelerator.

    Returns:
        The cycle estimate.
    """
    kh, kw, idp = int(kernel[0]), int(kernel[1]), int(ifm_depth)
    part, ibd = _traversal(kind, idp, kh, kw)
    rate = arch.output_cycles
    total = sum(max(_block_dpu(kind, bh, bw, bd, idp, kh, kw, part, ibd, arch),
                    rate * bh * bw * bd) * count
                for bh, bw, bd, count in _blocks(ofm, block))
    tail = (min(int(ofm[0]), block.height) * min(int(ofm[1]), block.width) *
            min(int(ofm[2]), block.depth))
    return total + rate * tail
