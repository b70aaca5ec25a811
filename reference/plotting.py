"""Matplotlib helpers for the course notebooks: datasets, decision boundaries, cost curves, samples.

No course math lives here. Every helper draws on ``ax`` when given one, otherwise on a new figure,
and returns ``(figure, axes)``; none calls ``plt.show()`` (Jupyter shows the figure by itself).
Data follow the course's notation: ``X`` is ``(2, m)`` with one example per column, labels ``y`` are
``(1, m)`` (or ``(m,)``) integers or booleans.

This module is also copied beside the student notebooks, so it imports only NumPy and matplotlib.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # annotations only: matplotlib itself is imported on first use
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# What ``from dg_plotting import *`` brings into a notebook (the course build copies this module there).
__all__ = ["plot_dataset", "plot_decision_boundary", "plot_costs", "plot_log_samples", "plot_images_grid"]


def _pyplot():
    """``matplotlib.pyplot``, imported on first use.

    Importing pyplot costs ~0.6 s, and the grader imports this module for every submission without ever
    plotting, so the import waits until a plot is drawn. Headless Linux (CI, the grader) has no display:
    draw off-screen. Jupyter sets MPLBACKEND itself.
    """
    import matplotlib
    if (sys.platform.startswith("linux") and "matplotlib.pyplot" not in sys.modules
            and not os.environ.get("MPLBACKEND")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _palette() -> tuple:
    """Class c is drawn in ``_palette()[c % 10]`` (matplotlib's tab10)."""
    return _pyplot().get_cmap("tab10").colors


def _listed_colormap(n_classes: int):
    from matplotlib.colors import ListedColormap   # lazy with pyplot (see _pyplot: +0.6 s start-up)
    return ListedColormap([_palette()[c % 10] for c in range(n_classes)])


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize)
    return fig, ax


def _points_and_labels(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate X (2, m) and y (1, m) / (m,); return X as float and y as (m,) int labels."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"X must have shape (2, m) (one example per column), got {X.shape}")
    labels = np.asarray(y).reshape(-1)
    if labels.size != X.shape[1]:
        raise ValueError(f"y must hold one label per column of X ({X.shape[1]}), got shape {np.shape(y)}")
    return X, labels.astype(np.int64)


def plot_dataset(X, Y, ax: Axes | None = None, title: str | None = None,
                 class_names: Sequence[str] | None = None) -> tuple[Figure, Axes]:
    """Scatter a 2-D labelled set: X (2, m), Y (1, m) or (m,) class labels 0..C-1.

    Draws one scatter (PathCollection) per class present, with a legend. Returns (figure, axes).
    """
    X, labels = _points_and_labels(X, Y)
    fig, ax = _figure_and_axes(ax)
    for c in np.unique(labels):
        chosen = labels == c
        name = class_names[c] if class_names is not None else f"class {c}"
        ax.scatter(X[0, chosen], X[1, chosen], s=18, color=_palette()[c % 10], edgecolors="k",
                   linewidths=0.4, label=name)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X, y, ax: Axes | None = None,
                           title: str | None = None, resolution: int = 250) -> tuple[Figure, Axes]:
    """Shade the class ``predict_fn`` gives to every point of the plane, then scatter the data on top.

    predict_fn: receives grid points AS ROWS, shape (k, 2) — the convention of the course's helper, so
        ``lambda x: predict_dec(parameters, x.T)`` works — and returns k labels in any shape with k
        elements ((k,), (1, k), (k, 1); ints or booleans).
    X: (2, m) examples as columns; y: (1, m) or (m,) labels. The grid covers X's range plus 10 %.
    Returns (figure, axes); the shading is a filled contour set, the data one scatter per class.
    """
    X, labels = _points_and_labels(X, y)
    low, high = X.min(axis=1), X.max(axis=1)
    pad = 0.1 * np.maximum(high - low, 1e-9)
    g1, g2 = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    grid_rows = np.column_stack([g1.ravel(), g2.ravel()])                      # (k, 2)
    predicted = np.asarray(predict_fn(grid_rows))
    if predicted.size != grid_rows.shape[0]:
        raise ValueError(f"predict_fn must return one label per grid point ({grid_rows.shape[0]}), "
                         f"got shape {predicted.shape}; it receives points as rows, shape (k, 2)")
    predicted = predicted.reshape(g1.shape).astype(np.int64)
    n_classes = int(max(predicted.max(), labels.max())) + 1
    fig, ax = _figure_and_axes(ax)
    ax.contourf(g1, g2, predicted, levels=np.arange(n_classes + 1) - 0.5,
                cmap=_listed_colormap(n_classes), alpha=0.3)
    plot_dataset(X, labels, ax=ax, title=title)
    return fig, ax


def plot_costs(costs_by_label: Mapping[str, Sequence[float]], ax: Axes | None = None,
               xlabel: str = "iterations (per hundreds)", ylabel: str = "cost",
               title: str | None = None, log_scale: bool = False) -> tuple[Figure, Axes]:
    """One line per entry of ``{label: costs}`` (each a 1-D sequence), with a legend.

    Use it to compare runs, e.g. ``{"gd": costs_gd, "adam": costs_adam}``. Returns (figure, axes).
    """
    if not costs_by_label:
        raise ValueError("costs_by_label is empty: pass {label: list_of_costs}")
    fig, ax = _figure_and_axes(ax)
    for label, costs in costs_by_label.items():
        costs = np.asarray(costs, dtype=float)
        if costs.ndim != 1:
            raise ValueError(f"costs for {label!r} must be 1-D, got shape {costs.shape}")
        ax.plot(np.arange(costs.size), costs, label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_log_samples(samples, ax: Axes | None = None, title: str | None = None,
                     bins: int = 20) -> tuple[Figure, Axes]:
    """Histogram of positive samples (e.g. learning rates drawn on a log scale) on a log x-axis.

    samples: any shape, all > 0. Bins are equally wide in log10, so log-uniform samples give a flat
    histogram; a rug under it marks every sample. Returns (figure, axes).
    """
    samples = np.asarray(samples, dtype=float).reshape(-1)
    if samples.size == 0 or not np.all(np.isfinite(samples)) or np.any(samples <= 0):
        raise ValueError("samples must be a non-empty set of finite positive numbers")
    low, high = samples.min(), samples.max()
    edges = np.logspace(np.log10(low), np.log10(high) if high > low else np.log10(low) + 1, bins + 1)
    fig, ax = _figure_and_axes(ax)
    ax.hist(samples, bins=edges, color=_palette()[0], alpha=0.7, edgecolor="k")
    ax.plot(samples, np.zeros_like(samples), "|", color="k", markersize=10)
    ax.set_xscale("log")
    ax.set_xlabel("value (log scale)")
    ax.set_ylabel("count")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_images_grid(images, labels, ncols: int = 8,
                     class_names: Sequence[str] | None = None) -> tuple[Figure, np.ndarray]:
    """Show images in a grid, each titled with its label.

    images: (n, h, w), or (n, h*w) with h == w. labels: (n,) or (1, n).
    Returns (figure, axes) with axes an array of shape (rows, ncols); unused cells are hidden.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"flat images must have a square number of pixels, got {images.shape[1]}")
        images = images.reshape(images.shape[0], side, side)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n, h, w) or (n, h*w) with n > 0, got {images.shape}")
    labels = np.asarray(labels).reshape(-1)
    if labels.size != images.shape[0]:
        raise ValueError(f"need one label per image ({images.shape[0]}), got {labels.size}")
    ncols = max(1, min(ncols, images.shape[0]))
    nrows = -(-images.shape[0] // ncols)
    fig, axes = _pyplot().subplots(nrows, ncols, figsize=(1.2 * ncols, 1.4 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < images.shape[0]:
            ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
            ax.set_title(class_names[labels[i]] if class_names is not None else str(labels[i]),
                         fontsize="small")
    fig.tight_layout()
    return fig, axes
