"""Plots of a validation run: predicted vs. measured, and error by magnitude (PNG).

One column per metric, three panels each:

1. predicted vs. measured on log axes, with the identity line and a +-10 % band;
2. a histogram of the measured values in log-spaced magnitude bins;
3. a box plot of the absolute percentage error per bin -- the layout of PerfSAGE's Figure 3
   (MAPE by latency range), which shows whether errors grow with magnitude.

matplotlib is imported inside :func:`plot_validation` only (the ``train`` extra installs it);
pyplot is not used, so no GUI backend or global figure state is touched.
"""

from __future__ import annotations

import numpy as np

from .errors import UnavailableError

__all__ = ["magnitude_bins", "plot_validation"]


def magnitude_bins(values, max_bins=8):
    """Log-spaced bin edges covering positive ``values`` (at most ``max_bins`` bins).

    Returns:
        An increasing array of edges (>= 2), or an empty array when no value is positive.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return np.zeros(0)
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return np.array([lo / 1.05, hi * 1.05])
    n = int(max(1, min(max_bins, np.ceil(np.sqrt(v.size)))))
    edges = np.geomspace(lo, hi, n + 1)
    edges[0], edges[-1] = lo * (1 - 1e-9), hi * (1 + 1e-9)
    return edges


def _fmt(x):
    return "{:.3g}".format(x)


def plot_validation(pairs, out_path, target="", units=None):
    """Write the validation figure as PNG.

    Args:
        pairs: ``{metric: {"predicted": [...], "measured": [...]}}`` (as stored by
            :meth:`edge_predictor.validate.ResultStore.pairs`).
        out_path: the PNG file.
        target: target id for the title.
        units: optional ``{metric: unit}`` for axis labels.

    Returns:
        ``out_path``.

    Raises:
        UnavailableError: matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UnavailableError("--plot needs matplotlib: `pip install matplotlib` "
                               "(or the train extra `pip install '.[train]'`)") from None
    units = units or {}
    metrics = sorted(pairs) or ["(no results)"]
    fig = Figure(figsize=(4.2 * len(metrics), 10.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, len(metrics), squeeze=False,
                        gridspec_kw={"height_ratios": [3, 1, 2]})
    for col, metric in enumerate(metrics):
        d = pairs.get(metric, {"predicted": [], "measured": []})
        p = np.asarray(d["predicted"], dtype=np.float64)
        m = np.asarray(d["measured"], dtype=np.float64)
        ok = np.isfinite(p) & np.isfinite(m) & (p > 0) & (m > 0)
        p, m = p[ok], m[ok]
        unit = " [{}]".format(units[metric]) if metric in units else ""
        sc, hist, box = axes[0][col], axes[1][col], axes[2][col]
        sc.set_title("{} {} (n={})".format(target, metric, p.size).strip())
        if p.size == 0:
            for ax in (sc, hist, box):
                ax.text(0.5, 0.5, "no positive pairs", ha="center", va="center",
                        transform=ax.transAxes)
            continue
        lo = min(p.min(), m.min()) / 1.3
        hi = max(p.max(), m.max()) * 1.3
        line = np.geomspace(lo, hi, 50)
        sc.fill_between(line, line * 0.9, line * 1.1, color="tab:green", alpha=0.2,
                        label="+-10 %")
        sc.plot(line, line, color="tab:green", lw=1)
        sc.scatter(m, p, s=10, alpha=0.7, color="tab:blue")
        sc.set_xscale("log")
        sc.set_yscale("log")
        sc.set_xlim(lo, hi)
        sc.set_ylim(lo, hi)
        sc.set_xlabel("measured" + unit)
        sc.set_ylabel("predicted" + unit)
        sc.legend(loc="upper left")
        edges = magnitude_bins(m)
        idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, len(edges) - 2)
        ape = 100.0 * np.abs(p - m) / m
        counts = np.bincount(idx, minlength=len(edges) - 1)
        labels = ["{}-{}".format(_fmt(a), _fmt(b)) for a, b in zip(edges[:-1], edges[1:])]
        pos = np.arange(len(labels))
        hist.bar(pos, counts, color="tab:gray")
        hist.set_ylabel("models")
        hist.set_xticks(pos)
        hist.set_xticklabels([])
        groups = [ape[idx == k] for k in range(len(labels))]
        filled = [k for k, g in enumerate(groups) if g.size]
        box.boxplot([groups[k] for k in filled], positions=pos[filled], widths=0.6,
                    showfliers=True)
        box.set_xticks(pos)
        box.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        box.set_xlim(-0.6, len(labels) - 0.4)
        box.set_ylabel("abs. % error")
        box.set_xlabel("measured" + unit + " bin")
        box.axhline(10, color="tab:green", ls="--", lw=1)
    fig.tight_layout()
    fig.savefig(str(out_path), format="png", dpi=100)
    return out_path
