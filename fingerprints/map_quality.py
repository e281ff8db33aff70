"""How faithful is a 2D map? Neighbourhood measures that return plain floats and dicts (JSON-ready).

For large sets the measures work on a fixed random sample (``sample`` points drawn with
``random_state``), so they cost seconds on ~100k points and give the same figure every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors


def _pair(X_high, X_2d) -> tuple[np.ndarray, np.ndarray]:
    high = np.asarray(X_high, dtype=np.float64)
    low = np.asarray(X_2d, dtype=np.float64)
    if high.ndim != 2:
        raise ValueError(f"X_high must have shape (n, n_features), got {high.shape}")
    if low.ndim != 2:
        raise ValueError(f"X_2d must have shape (n, 2), got {low.shape}")
    if high.shape[0] != low.shape[0]:
        raise ValueError(
            f"X_high has {high.shape[0]} rows but X_2d has {low.shape[0]}: they must describe the same points"
        )
    for name, array in (("X_high", high), ("X_2d", low)):
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if bad.size:
            raise ValueError(
                f"{name} has {bad.size} row(s) with NaN or infinite values (first: row {bad[0]}); drop them first"
            )
    return high, low


def _sample_rows(n: int, sample: int | None, random_state: int) -> np.ndarray:
    if sample is None or sample >= n:
        return np.arange(n)
    if sample < 1:
        raise ValueError(f"sample must be >= 1 or None, got {sample}")
    return np.sort(np.random.default_rng(random_state).choice(n, size=sample, replace=False))


def trustworthiness_score(
    X_high,
    X_2d,
    *,
    n_neighbors: int = 15,
    sample: int | None = 5000,
    random_state: int = 0,
    metric: str = "euclidean",
) -> float:
    """scikit-learn's trustworthiness (1 = no false neighbours in 2D) on a fixed sample.

    Neighbourhoods are taken within the sample, so for big N this estimates the measure
    at a coarser scale than on the full set.

    Parameters
    ----------
    X_high : array of shape (n, n_features)
    X_2d : array of shape (n, 2)
    n_neighbors : int, keyword-only
        Must be below half the number of (sampled) points.
    sample : int or None, keyword-only
        Points to score (None: all).
    random_state : int, keyword-only
        Seed of the sample.
    """
    high, low = _pair(X_high, X_2d)
    rows = _sample_rows(high.shape[0], sample, random_state)
    if not 1 <= n_neighbors < rows.size / 2:
        raise ValueError(f"n_neighbors must be between 1 and half the {rows.size} sampled points, got {n_neighbors}")
    return float(trustworthiness(high[rows], low[rows], n_neighbors=n_neighbors, metric=metric))


def _neighbours_excluding_self(X: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    index = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(X)
    found = index.kneighbors(X[queries], return_distance=False)
    keep = found != queries[:, None]
    # With exact duplicates the query itself may not be returned; then drop the farthest.
    keep[~(~keep).any(axis=1), -1] = False
    return found[keep].reshape(queries.size, k)


def knn_preservation(
    X_high,
    X_2d,
    *,
    k: int = 15,
    sample: int | None = 5000,
    random_state: int = 0,
    metric: str = "euclidean",
) -> float:
    """Mean share of each sampled point's k nearest neighbours (original space) that are also
    among its k nearest in 2D.

    Neighbours are exact and searched over the whole set; only the query points are sampled.

    Parameters
    ----------
    X_high : array of shape (n, n_features)
    X_2d : array of shape (n, 2)
    k : int, keyword-only
        Neighbourhood size, 1 <= k < n.
    sample : int or None, keyword-only
        Number of query points (None: all).
    random_state : int, keyword-only
        Seed of the sample.
    metric : str, keyword-only
        Distance in the original space (2D always uses Euclidean).
    """
    high, low = _pair(X_high, X_2d)
    n = high.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    queries = _sample_rows(n, sample, random_state)
    near_high = _neighbours_excluding_self(high, queries, k, metric)
    near_low = _neighbours_excluding_self(low, queries, k, "euclidean")
    shared = (near_high[:, :, None] == near_low[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(shared / k))


def _same_label_share(labels: np.ndarray, nearest: np.ndarray) -> float:
    return float(np.mean(labels == labels[nearest]))


def _chance_share(labels: np.ndarray) -> float:
    """Expected share if each element's nearest neighbour were another element drawn at random."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return float(np.mean((counts[inverse] - 1) / (labels.size - 1)))


def element_neighbour_agreement(element_xy: pd.DataFrame, element_table: pd.DataFrame) -> dict:
    """How often an element's nearest neighbour on the map is chemically related.

    Parameters
    ----------
    element_xy : DataFrame
        Columns ``symbol, x, y`` and optionally ``has_data`` (``element_map``'s output).
        Elements without data (``has_data`` False or NaN position) are excluded.
    element_table : DataFrame
        Columns ``symbol, group, block`` (``fingerprints.elements.element_table()``; the
        lanthanides and actinides are in group 3 there).

    Returns
    -------
    dict
        ``group`` and ``block``: share of elements whose nearest map neighbour has the same
        group / block; ``group_excluding_f_block``: the group share over elements outside the
        f block (so that the lanthanide and actinide clusters do not carry the figure);
        ``chance_group`` and ``chance_block``: the same shares for a random neighbour;
        ``n_elements``: elements scored.
    """
    required = (
        ("element_xy", element_xy, ("symbol", "x", "y")),
        ("element_table", element_table, ("symbol", "group", "block")),
    )
    for name, frame, needed in required:
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing column(s) {', '.join(missing)}")
    placed = element_xy[np.isfinite(element_xy["x"].to_numpy(float)) & np.isfinite(element_xy["y"].to_numpy(float))]
    if "has_data" in placed.columns:
        placed = placed[placed["has_data"].astype(bool)]
    unknown = sorted(set(placed["symbol"]) - set(element_table["symbol"]))
    if unknown:
        raise ValueError(f"element_table has no row for {', '.join(unknown)}")
    if len(placed) < 2:
        raise ValueError(f"need at least 2 placed elements, got {len(placed)}")
    info = element_table.set_index("symbol").loc[placed["symbol"]]
    xy = placed[["x", "y"]].to_numpy(float)
    distance = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argmin(distance, axis=1)
    group = info["group"].to_numpy()
    block = info["block"].astype(str).to_numpy()
    outside_f = block != "f"
    return {
        "group": _same_label_share(group, nearest),
        "block": _same_label_share(block, nearest),
        "group_excluding_f_block": float(np.mean((group == group[nearest])[outside_f])) if outside_f.any() else None,
        "chance_group": _chance_share(group),
        "chance_block": _chance_share(block),
        "n_elements": int(len(placed)),
    }
