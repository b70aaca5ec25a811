"""Matplotlib figures for the reports, returned as base64 PNG data URIs (self-contained HTML).

Every function takes plain numbers and returns a ``data:image/png;base64,...`` string; none of them
reads the gradebook. Figures are small (laptop screen, printable) and use the Agg backend.
"""
from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

import matplotlib
from matplotlib.patches import Patch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PASS_COLOR = "#2e7d32"
FAIL_COLOR = "#c62828"
ACCENT = "#1565c0"


def _to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def mastery_bars(mastery: Mapping[str, float], labels: Mapping[str, str], threshold: float, *,
                 evidence: Mapping[str, int] | None = None, min_evidence: int = 1,
                 mastered: set[str] | None = None, latest_failed: set[str] | None = None) -> str:
    """Horizontal bars of P(mastered) per concept (lowest first) with the threshold marked; each label
    carries its number of observations. A concept with fewer than ``min_evidence`` observations is
    drawn as an empty outline reading "not enough evidence yet" (listed last), never as a number.

    mastery: {concept_id: probability in [0, 1]}; labels: {concept_id: display name};
    evidence: {concept_id: observations}; mastered: concepts shown as mastered (default: >= threshold);
    latest_failed: concepts with a graded function failing in the latest submission (said in the label).
    """
    latest_failed = latest_failed or set()
    evidence = evidence or {}
    enough = {k: evidence.get(k, min_evidence) >= min_evidence for k in mastery}
    items = sorted(mastery.items(), key=lambda kv: (not enough[kv[0]], kv[1]))
    names = [labels.get(k, k) + (f"  (n={evidence[k]})" if k in evidence else "")
             + ("  latest function failed" if k in latest_failed else "") for k, _ in items]
    mastered = mastered if mastered is not None else {k for k, v in mastery.items() if v >= threshold}
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(items), 3) + 0.9))
    for i, (k, v) in enumerate(items):
        if enough[k]:
            ax.barh(i, v, color=PASS_COLOR if k in mastered else ACCENT)
        else:
            ax.barh(i, 1.0, color="none", edgecolor="#999999", linestyle=":")
            ax.text(0.02, i, "not enough evidence yet", va="center", fontsize=7, color="#666666")
    line = ax.axvline(threshold, color=FAIL_COLOR, linestyle="--", linewidth=1.2,
                      label=f"mastery threshold {threshold:g}")
    ax.set_yticks(np.arange(len(items)), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("estimated probability the concept is mastered")
    ax.legend(handles=[Patch(color=PASS_COLOR, label="mastered"), Patch(color=ACCENT, label="not yet"), line],
              loc="lower right", fontsize=8)
    return _to_data_uri(fig)


def score_histogram(scores: Sequence[float], max_score: float, title: str) -> str:
    """Histogram of the class's scores (as % of ``max_score``) for one assignment."""
    pct = 100.0 * np.asarray(scores, dtype=float) / (max_score or 1.0)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(pct, bins=np.linspace(0, 100, 11), color=ACCENT, edgecolor="white")
    if pct.size:
        ax.axvline(float(np.mean(pct)), color=FAIL_COLOR, linestyle="--", linewidth=1.2,
                   label=f"mean {np.mean(pct):.0f}%")
        ax.legend(fontsize=8)
    ax.set_xlabel("score (% of points)")
    ax.set_ylabel("students")
    ax.set_title(title, fontsize=10)
    return _to_data_uri(fig)


def failure_rates(rates: Sequence[tuple[str, float]], title: str, top: int = 15) -> str:
    """Bars of per-check failure rates, worst first. rates: [(check label, rate in [0, 1])]."""
    rows = sorted(rates, key=lambda r: -r[1])[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(rows), 3) + 0.9))
    ax.barh(np.arange(len(rows)), [r for _, r in rows], color=FAIL_COLOR)
    ax.set_yticks(np.arange(len(rows)), [n for n, _ in rows], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of gradable submissions failing the check")
    ax.set_title(title, fontsize=10)
    return _to_data_uri(fig)


def mastery_heatmap(matrix: np.ndarray, students: Sequence[str], concepts: Sequence[str],
                    threshold: float) -> str:
    """Students x concepts heatmap of P(mastered). matrix: (n_students, n_concepts), NaN = no data."""
    n_s, n_c = matrix.shape
    fig, ax = plt.subplots(figsize=(min(2 + 0.38 * n_c, 14), min(1.5 + 0.16 * n_s, 14)))
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(matrix), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                   interpolation="nearest")
    ax.set_xticks(np.arange(n_c), concepts, rotation=60, ha="right", fontsize=7)
    step = max(1, n_s // 40)
    # student ids are student-chosen text: never parsed as mathtext ("$\\foo$" would abort the figure)
    ax.set_yticks(np.arange(0, n_s, step), [students[i] for i in range(0, n_s, step)], fontsize=6,
                  parse_math=False)
    cb = fig.colorbar(im, ax=ax, fraction=0.03)
    cb.ax.axhline(threshold, color="black", linewidth=1)
    cb.set_label(f"P(mastered); line = {threshold:g}", fontsize=8)
    return _to_data_uri(fig)
