"""Snap a 2D map onto a grid of tiles, so a learned element map can be drawn as a table.

The assignment is optimal: it minimises the summed squared distance between the points
(rescaled onto the grid) and the centres of the cells they get (Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``), with every point in its own cell. It is
deterministic. ``neighbour_retention`` and ``grid_distance_correlation`` measure how well
the grid keeps map neighbours together.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

#: The cost matrix is n x n_cells; beyond this the grid is not the right picture anyway.
MAX_POINTS = 5000


def _check_xy(xy, *, name: str = "xy") -> np.ndarray:
    try:
        array = np.asarray(xy, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric (n, 2) array: {error}") from None
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{name} has {bad.size} row(s) with NaN or infinite positions (first: row {bad[0]}); drop them first"
        )
    return array


def grid_shape(
    n: int, *, n_cols: int | None = None, n_rows: int | None = None, aspect: float = 1.0, spare: float = 0.1
) -> tuple[int, int]:
    """Grid size ``(n_cols, n_rows)`` with at least ``n`` cells.

    Parameters
    ----------
    n : int
        Number of points to place.
    n_cols, n_rows : int or None, keyword-only
        Fix one or both sides. With one fixed, the other is the smallest that fits
        ``n * (1 + spare)`` cells.
    aspect : float, keyword-only
        Columns per row when neither side is fixed (1 = near-square grid).
    spare : float, keyword-only
        Extra cells, as a fraction of ``n``, so that the layout has room to keep gaps
        between clusters.
    """
    if n < 1:
        raise ValueError(f"need at least one point, got {n}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect!r}")
    if spare < 0:
        raise ValueError(f"spare must be >= 0, got {spare!r}")
    for label, value in (("n_cols", n_cols), ("n_rows", n_rows)):
        if value is not None and value < 1:
            raise ValueError(f"{label} must be >= 1, got {value!r}")
    target = math.ceil(n * (1 + spare) - 1e-9)  # 100 * 1.1 is 110.00000000000001
    if n_cols is not None and n_rows is not None:
        if n_cols * n_rows < n:
            raise ValueError(f"a {n_cols} x {n_rows} grid has {n_cols * n_rows} cells, fewer than the {n} points")
        return int(n_cols), int(n_rows)
    if n_cols is not None:
        return int(n_cols), math.ceil(target / n_cols)
    if n_rows is not None:
        return math.ceil(target / n_rows), int(n_rows)
    cols = max(1, round(math.sqrt(target * aspect)))
    return cols, math.ceil(target / cols)


def _to_grid_units(xy: np.ndarray, n_cols: int, n_rows: int) -> np.ndarray:
    """Min-max rescale so the points span the cell centres 0..n_cols-1 and 0..n_rows-1.

    Rows count from the top (largest y), the way a table is drawn.
    """
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = high - low
    # A flat axis (all points share x or y) goes to the middle of the grid.
    unit = np.divide(xy - low, span, out=np.full_like(xy, 0.5), where=span > 0)
    return np.column_stack([unit[:, 0] * (n_cols - 1), (1 - unit[:, 1]) * (n_rows - 1)])


def snap_to_grid(
    xy,
    *,
    n_cols: int | None = None,
    n_rows: int | None = None,
    aspect: float = 1.0,
    spare: float = 0.1,
) -> np.ndarray:
    """Optimal one-point-per-cell assignment of 2D positions to grid cells.

    Parameters
    ----------
    xy : array-like of shape (n, 2)
        Map positions (finite; drop elements without data first).
    n_cols, n_rows, aspect, spare : keyword-only
        Grid size, see ``grid_shape``. ``n_cols=18`` gives a periodic-table-wide grid.

    Returns
    -------
    ndarray of shape (n, 2), int64
        ``(col, row)`` of each point's cell, col 0 at the left (smallest x), row 0 at the
        top (largest y). No two points share a cell.
    """
    xy = _check_xy(xy)
    n = xy.shape[0]
    if n > MAX_POINTS:
        raise ValueError(f"snap_to_grid handles at most {MAX_POINTS} points, got {n}")
    cols, rows = grid_shape(n, n_cols=n_cols, n_rows=n_rows, aspect=aspect, spare=spare)
    points = _to_grid_units(xy, cols, rows)
    cell_col, cell_row = np.meshgrid(np.arange(cols), np.arange(rows), indexing="xy")
    centres = np.column_stack([cell_col.ravel(), cell_row.ravel()]).astype(np.float64)
    cost = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    point_index, cell_index = linear_sum_assignment(cost)
    cells = np.empty((n, 2), dtype=np.int64)
    cells[point_index] = centres[cell_index].astype(np.int64)
    return cells


def neighbour_retention(xy, cells, *, k: int = 3, max_grid_distance: int = 2) -> float:
    """Share of each point's ``k`` nearest map neighbours that stay close on the grid.

    Close means a Chebyshev grid distance (king moves) of at most ``max_grid_distance``.
    1.0 means no map neighbour was torn away.
    """
    xy = _check_xy(xy)
    cells = np.asarray(cells)
    if cells.shape != xy.shape:
        raise ValueError(f"cells must have the same shape as xy {xy.shape}, got {cells.shape}")
    n = xy.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    distance = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(distance, np.inf)
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    grid_distance = np.abs(cells[:, None, :] - cells[nearest]).max(axis=2)
    return float(np.mean(grid_distance <= max_grid_distance))


def grid_distance_correlation(xy, cells) -> float:
    """Spearman rank correlation between pairwise map distances and grid distances."""
    xy = _check_xy(xy)
    cells = np.asarray(cells, dtype=np.float64)
    if cells.shape != xy.shape:
        raise ValueError(f"cells must have the same shape as xy {xy.shape}, got {cells.shape}")
    if xy.shape[0] < 3:
        raise ValueError("need at least 3 points for a rank correlation")
    return float(spearmanr(pdist(xy), pdist(cells)).statistic)
