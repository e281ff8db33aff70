"""Map quality measures on known configurations, and the figures of the real element map."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fingerprints.elements import element_table
from fingerprints.embedding import element_vectors
from fingerprints.grid_layout import grid_distance_correlation, neighbour_retention, snap_to_grid
from fingerprints.map_quality import element_neighbour_agreement, knn_preservation, trustworthiness_score
from fingerprints.projection import PCAProjector, element_map


def planar_in_10d(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of a plane placed in 10-D by a random rotation and offset: (planar, embedded)."""
    rng = np.random.default_rng(seed)
    planar = rng.random((n, 2)) * [3.0, 1.0]
    basis, _ = np.linalg.qr(rng.standard_normal((10, 2)))
    return planar, planar @ basis.T + rng.standard_normal(10)


def test_knn_preservation_is_one_for_the_first_two_coordinates_of_2d_data():
    planar = np.random.default_rng(1).random((3000, 2))
    X_high = np.column_stack([planar, np.zeros((3000, 4))])
    assert knn_preservation(X_high, X_high[:, :2], k=15, sample=500) == 1.0
    assert knn_preservation(X_high, X_high[:, :2], k=5, sample=None) == 1.0


def test_knn_preservation_of_an_unrelated_map_is_near_chance():
    rng = np.random.default_rng(2)
    X_high, noise = rng.random((2000, 6)), rng.random((2000, 2))
    assert knn_preservation(X_high, noise, k=10, sample=400) < 0.05  # chance is 10 / 1999


def test_knn_preservation_is_fixed_by_its_seed_and_handles_duplicates():
    rng = np.random.default_rng(3)
    X_high = rng.random((1000, 5))
    X_high[500:] = X_high[:500]  # every point twice
    X_2d = X_high[:, :2] + rng.normal(scale=0.01, size=(1000, 2))
    first = knn_preservation(X_high, X_2d, k=10, sample=200, random_state=4)
    assert first == knn_preservation(X_high, X_2d, k=10, sample=200, random_state=4)
    assert 0.0 < first < 1.0
    assert isinstance(first, float)


def test_trustworthiness_near_one_for_pca_on_planar_data():
    _, embedded = planar_in_10d()
    coords = PCAProjector().fit_transform(embedded)
    score = trustworthiness_score(embedded, coords, n_neighbors=15, sample=500)
    assert isinstance(score, float)
    assert score == pytest.approx(1.0, abs=1e-9)
    scrambled = np.random.default_rng(0).permutation(coords)
    assert trustworthiness_score(embedded, scrambled, n_neighbors=15, sample=500) < 0.6


def test_measures_name_their_bad_inputs():
    X = np.random.default_rng(0).random((50, 4))
    with pytest.raises(ValueError, match="X_high has 50 rows but X_2d has 49"):
        knn_preservation(X, X[:49, :2])
    with pytest.raises(ValueError, match="k must be between 1 and n - 1 = 49"):
        knn_preservation(X, X[:, :2], k=50)
    with pytest.raises(ValueError, match="n_neighbors must be between 1 and half the 50 sampled points"):
        trustworthiness_score(X, X[:, :2], n_neighbors=25)
    bad = X[:, :2].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="X_2d has 1 row.*first: row 3"):
        trustworthiness_score(X, bad, n_neighbors=5)


def test_element_neighbour_agreement_on_a_hand_made_map():
    xy = pd.DataFrame(
        {
            "symbol": ["Li", "Na", "Fe", "Co", "Ce", "Pr", "Cl", "He"],
            "x": [0.0, 0.0, 10.0, 10.0, 20.0, 20.0, 10.0, 0.0],
            "y": [0.0, 1.0, 10.0, 11.0, 0.0, 0.5, 13.0, np.nan],
            "has_data": [True, True, True, True, True, True, False, True],
        }
    )
    # Cl (no data) and He (no position) are excluded. Nearest pairs: Li-Na (group 1, s),
    # Fe-Co (groups 8 and 9, d), Ce-Pr (group 3, f).
    result = element_neighbour_agreement(xy, element_table())
    assert result["n_elements"] == 6
    assert result["group"] == pytest.approx(4 / 6)
    assert result["block"] == 1.0
    assert result["group_excluding_f_block"] == pytest.approx(2 / 4)
    # Random neighbour: Li, Na see 1 of 5 same group; Ce, Pr too; Fe, Co none.
    assert result["chance_group"] == pytest.approx(4 / 30)
    assert result["chance_block"] == pytest.approx(1 / 5)
    json.dumps(result)


def test_element_neighbour_agreement_checks_columns():
    with pytest.raises(ValueError, match="element_xy is missing column.*y"):
        element_neighbour_agreement(pd.DataFrame({"symbol": ["H"], "x": [0.0]}), element_table())
    with pytest.raises(ValueError, match="element_table has no row for Xx"):
        unknown = pd.DataFrame({"symbol": ["H", "Xx"], "x": [0.0, 1.0], "y": [0.0, 1.0]})
        element_neighbour_agreement(unknown, element_table())


# -- the real element map (ICSD counts) --------------------------------------------------------
@pytest.fixture(scope="module")
def icsd_element_map(icsd_counts):
    vectors = element_vectors(icsd_counts)
    return vectors, element_map(vectors)  # the defaults: UMAP, 10 neighbours, min_dist 0.5, cosine


@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_real_element_map_quality(icsd_element_map):
    vectors, frame = icsd_element_map
    placed = frame[frame["has_data"]]
    X = vectors.to_numpy()[frame["has_data"].to_numpy()]
    xy = placed[["x", "y"]].to_numpy()
    agreement = element_neighbour_agreement(frame, element_table())
    trust = trustworthiness_score(X, xy, n_neighbors=5)
    knn = knn_preservation(X, xy, k=5)
    cells = snap_to_grid(xy, n_cols=18)
    retention = neighbour_retention(xy, cells)
    correlation = grid_distance_correlation(xy, cells)
    print(
        f"\nelement map (UMAP defaults): group {agreement['group']:.3f} (chance {agreement['chance_group']:.3f}), "
        f"group outside f {agreement['group_excluding_f_block']:.3f}, block {agreement['block']:.3f} "
        f"(chance {agreement['chance_block']:.3f}), trustworthiness(5) {trust:.3f}, knn(5) {knn:.3f}, "
        f"18-col grid retention {retention:.3f}, Spearman {correlation:.3f}"
    )
    # Measured with umap-learn 0.5.12: group 0.726, outside f 0.648, block 0.874,
    # trustworthiness 0.899, knn(5) 0.623, grid retention 0.996, Spearman 0.906.
    assert agreement["n_elements"] == 95
    assert agreement["group"] >= 0.6 and agreement["group"] > 4 * agreement["chance_group"]
    assert agreement["group_excluding_f_block"] >= 0.5
    assert agreement["block"] >= 0.8 and agreement["block"] > 2 * agreement["chance_block"]
    assert trust >= 0.85
    assert knn >= 0.5
    assert retention >= 0.9


@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_real_element_map_is_reproducible(icsd_element_map):
    vectors, frame = icsd_element_map
    pd.testing.assert_frame_equal(element_map(vectors), frame)
