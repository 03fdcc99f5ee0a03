"""The scoreboard's statistics: the direction labels, AUC, the model's demonstrated skill, and the paired
block-bootstrap interval of a Sharpe difference. Pure numpy/pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtesting.engine.metrics import sharpe_ratio

#: The direction model's skill is 0 until it has this many labelled out-of-sample predictions on a symbol.
MIN_SKILL_LABELS = 126
#: The paired block bootstrap of the Sharpe difference: resamples, block length (sessions), confidence.
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_BLOCK = 20
CONFIDENCE = 0.95


def direction_labels(close: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The learning app's label on each symbol's own bars: 1 if the close ``horizon`` bars later is higher, else 0
    (:mod:`learning.ml.labels`). Returns the labels (NaN where the horizon runs past the data) and the row of
    each label's last bar (-1 where incomplete). Looks ahead by design: used only to score and to measure skill
    on labels that had already ended."""
    values = close.to_numpy(dtype=float)
    labels = np.full(values.shape, np.nan)
    ends = np.full(values.shape, -1, dtype=np.int64)
    for j in range(values.shape[1]):
        pos = np.flatnonzero(np.isfinite(values[:, j]))
        if pos.size <= horizon:
            continue
        c = values[pos, j]
        labels[pos[:-horizon], j] = (c[horizon:] > c[:-horizon]).astype(float)
        ends[pos[:-horizon], j] = pos[horizon:]
    return pd.DataFrame(labels, index=close.index, columns=close.columns), ends


def roc_auc(scores: np.ndarray, outcomes: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN unless both outcomes occur."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    ok = np.isfinite(s) & np.isfinite(y)
    s, y = s[ok], y[ok] > 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def expanding_auc(scores: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUC of the first k pairs for every k = 1..n (NaN until both outcomes occur), with the positive and
    negative counts. Fenwick trees over score ranks: O(n log n), ties count one half."""
    n = scores.size
    uniq, rank = np.unique(scores, return_inverse=True)
    m = uniq.size
    tree_pos = [0] * (m + 1)
    tree_neg = [0] * (m + 1)
    at_pos = [0] * m
    at_neg = [0] * m

    def below(tree: list[int], r: int) -> int:  # count with rank < r (ranks 0-based)
        total, i = 0, r
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def add(tree: list[int], r: int) -> None:
        i = r + 1
        while i <= m:
            tree[i] += 1
            i += i & -i

    auc = np.full(n, np.nan)
    n_pos_out = np.zeros(n, dtype=np.int64)
    n_neg_out = np.zeros(n, dtype=np.int64)
    concordant, n_pos, n_neg = 0.0, 0, 0
    for k in range(n):
        r = int(rank[k])
        if outcomes[k] > 0.5:
            concordant += below(tree_neg, r) + 0.5 * at_neg[r]
            add(tree_pos, r)
            at_pos[r] += 1
            n_pos += 1
        else:
            concordant += (n_pos - below(tree_pos, r) - at_pos[r]) + 0.5 * at_pos[r]
            add(tree_neg, r)
            at_neg[r] += 1
            n_neg += 1
        n_pos_out[k], n_neg_out[k] = n_pos, n_neg
        if n_pos and n_neg:
            auc[k] = concordant / (n_pos * n_neg)
    return auc, n_pos_out, n_neg_out


def expanding_skill(
    p_up: pd.DataFrame, label_up: pd.DataFrame, label_end: np.ndarray, *, min_labels: int = MIN_SKILL_LABELS
) -> pd.DataFrame:
    """Demonstrated skill per day and symbol: ``max(0, 2 * (AUC - 0.5))`` of the predictions whose labels
    ended strictly before that day (expanding), 0 until ``min_labels`` of them with both outcomes exist.
    Row ``t`` reads predictions and closes of rows ``< t`` only."""
    p = p_up.reindex(index=label_up.index, columns=label_up.columns).to_numpy(dtype=float)
    y = label_up.to_numpy(dtype=float)
    n_days, n_sym = y.shape
    out = np.zeros((n_days, n_sym))
    days = np.arange(n_days)
    for j in range(n_sym):
        rows = np.flatnonzero(np.isfinite(p[:, j]) & np.isfinite(y[:, j]))
        if rows.size == 0:
            continue
        ends = label_end[rows, j]  # increasing with the row: the prefix ended before t is a prefix
        auc, n_pos, n_neg = expanding_auc(p[rows, j], y[rows, j])
        k = np.searchsorted(ends, days, side="left")  # labels with end < t
        have = k >= max(1, min_labels)
        idx = np.maximum(k - 1, 0)
        good = have & (n_pos[idx] > 0) & (n_neg[idx] > 0) & np.isfinite(auc[idx])
        out[:, j] = np.where(good, np.maximum(0.0, 2.0 * (auc[idx] - 0.5)), 0.0)
    return pd.DataFrame(out, index=label_up.index, columns=label_up.columns)


def sharpe_difference_interval(
    a: np.ndarray,
    b: np.ndarray,
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    block: int = BOOTSTRAP_BLOCK,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Circular block-bootstrap percentile interval of Sharpe(a) - Sharpe(b) (annualised) on paired daily
    returns: each resample draws the same blocks of days for both, so their correlation is kept."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = a.size
    if n != b.size or n < 2:
        raise ValueError("need two paired series of at least two returns")
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(n / block)
    diffs = []
    for chunk in np.array_split(np.arange(samples), max(1, math.ceil(samples * n / 2_000_000))):
        starts = rng.integers(0, n, size=(chunk.size, n_blocks))
        idx = ((starts[:, :, None] + np.arange(block)) % n).reshape(chunk.size, -1)[:, :n]
        diffs.append(sharpe_ratio(a[idx]) - sharpe_ratio(b[idx]))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(np.concatenate(diffs), [alpha, 1.0 - alpha])
    return float(low), float(high)
