"""Snapping a 2D map onto a grid of tiles: distinct cells, exact recovery, neighbours kept."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fingerprints.grid_layout import grid_distance_correlation, grid_shape, neighbour_retention, snap_to_grid


def grid_points(n_cols: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A layout that already is a grid: map positions and the (col, row) cells they must get."""
    col, row = np.meshgrid(np.arange(n_cols), np.arange(n_rows), indexing="xy")
    cells = np.column_stack([col.ravel(), row.ravel()])
    # Rows count from the top, so y decreases with the row; scale and offset must not matter.
    xy = np.column_stack([cells[:, 0] * 2.5 - 7.0, -cells[:, 1] * 0.3 + 4.0])
    return xy, cells


def test_already_grid_shaped_layout_is_recovered_exactly():
    xy, cells = grid_points(18, 6)
    order = np.random.default_rng(1).permutation(len(xy))
    snapped = snap_to_grid(xy[order], n_cols=18, n_rows=6)
    assert snapped.dtype == np.int64
    np.testing.assert_array_equal(snapped, cells[order])


def test_every_point_gets_its_own_cell_inside_the_grid():
    xy = np.random.default_rng(5).normal(size=(95, 2))
    cells = snap_to_grid(xy, n_cols=18)
    n_cols, n_rows = grid_shape(95, n_cols=18)
    assert cells.shape == (95, 2)
    assert len({tuple(cell) for cell in cells}) == 95
    assert cells[:, 0].min() >= 0 and cells[:, 0].max() < n_cols
    assert cells[:, 1].min() >= 0 and cells[:, 1].max() < n_rows


def test_snapping_is_deterministic():
    xy = np.random.default_rng(9).random((60, 2))
    np.testing.assert_array_equal(snap_to_grid(xy), snap_to_grid(xy))


def test_clusters_stay_together():
    # Three tight clusters far apart, 30 points each, on a near-square grid.
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 9.0]])
    xy = np.concatenate([centre + rng.normal(scale=0.8, size=(30, 2)) for centre in centres])
    cells = snap_to_grid(xy)
    retention = neighbour_retention(xy, cells, k=3, max_grid_distance=2)
    correlation = grid_distance_correlation(xy, cells)
    # Measured: retention 1.000, Spearman 0.891 (printed with -s).
    print(f"\nneighbour retention {retention:.3f}, Spearman {correlation:.3f}")
    assert retention >= 0.95
    assert correlation >= 0.85
    # Each cluster's tiles form one connected patch (8-connectivity).
    labels = np.repeat(np.arange(3), 30)
    for cluster in range(3):
        mask = np.zeros((cells[:, 1].max() + 1, cells[:, 0].max() + 1), dtype=bool)
        mask[cells[labels == cluster, 1], cells[labels == cluster, 0]] = True
        assert ndimage.label(mask, structure=np.ones((3, 3)))[1] == 1


def test_perfect_layout_scores_one():
    _, cells = grid_points(5, 4)
    xy = cells * [1.0, -1.0]  # same unit on both axes, so map and grid distances agree
    assert neighbour_retention(xy, cells) == 1.0
    assert grid_distance_correlation(xy, cells) == pytest.approx(1.0)


def test_grid_shape_rules():
    assert grid_shape(95, n_cols=18) == (18, 6)  # 105 cells >= 95 * 1.1
    assert grid_shape(100) == (10, 11)
    assert grid_shape(100, aspect=2.0) == (15, 8)
    assert grid_shape(10, n_cols=2, n_rows=5) == (2, 5)
    with pytest.raises(ValueError, match="a 3 x 3 grid has 9 cells, fewer than the 10 points"):
        grid_shape(10, n_cols=3, n_rows=3)


def test_flat_and_single_point_layouts():
    line = np.column_stack([np.arange(6.0), np.zeros(6)])
    cells = snap_to_grid(line, n_cols=6, n_rows=1)
    np.testing.assert_array_equal(cells, np.column_stack([np.arange(6), np.zeros(6, dtype=int)]))
    np.testing.assert_array_equal(snap_to_grid([[3.0, 4.0]]), [[0, 0]])


def test_bad_positions_are_named():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        snap_to_grid(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="1 row.*NaN.*first: row 2"):
        snap_to_grid([[0, 0], [1, 1], [np.nan, 2]])
    with pytest.raises(ValueError, match="empty"):
        snap_to_grid(np.zeros((0, 2)))
