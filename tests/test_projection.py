"""2D projections: shapes, determinism, exact PCA figures, out-of-sample placement, element maps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from fingerprints.elements import SYMBOLS
from fingerprints.embedding import element_vectors
from fingerprints.projection import (
    ELEMENT_DEFAULTS,
    MDSProjector,
    PCAProjector,
    TSNEProjector,
    UMAPProjector,
    compound_map,
    element_map,
    make_projector,
)


def clusters(n_per_cluster: int = 60, n_features: int = 98, seed: int = 7) -> np.ndarray:
    """Four well separated Gaussian blobs on the unit sphere (fingerprint-like)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, n_features)) * 3
    points = np.concatenate([centre + rng.standard_normal((n_per_cluster, n_features)) * 0.3 for centre in centres])
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    return clusters()


@pytest.fixture(scope="module")
def umap_pair(blobs):
    """Two UMAP fits with the same seed (the first one pays numba's compile time)."""
    first = UMAPProjector(n_neighbors=10).fit(blobs)
    second = UMAPProjector(n_neighbors=10).fit(blobs)
    return first, second


@pytest.fixture(scope="module")
def tsne_fitted(blobs) -> TSNEProjector:
    return TSNEProjector(perplexity=15.0, max_iter=300).fit(blobs)


# -- UMAP -------------------------------------------------------------------------------------
@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_umap_same_seed_gives_same_map(umap_pair, blobs):
    first, second = umap_pair
    assert first.embedding_.shape == (len(blobs), 2)
    np.testing.assert_array_equal(first.embedding_, second.embedding_)


@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_umap_keeps_clusters_apart(umap_pair):
    embedding = umap_pair[0].embedding_
    labels = np.repeat(np.arange(4), 60)
    centres = np.array([embedding[labels == c].mean(axis=0) for c in range(4)])
    spread = max(np.linalg.norm(embedding[labels == c] - centres[c], axis=1).max() for c in range(4))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(4) for b in range(a + 1, 4)]
    assert min(gaps) > spread


@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_umap_transform_places_fitted_points_near_themselves(umap_pair, blobs):
    projector = umap_pair[0]
    placed = projector.transform(blobs[:20])
    assert placed.shape == (20, 2)
    extent = np.ptp(projector.embedding_, axis=0).max()
    assert np.median(np.linalg.norm(placed - projector.embedding_[:20], axis=1)) < 0.1 * extent


@pytest.mark.slow  # the first UMAP fit compiles numba code (~20 s)
def test_umap_params_are_json_metadata_with_versions(umap_pair):
    params = umap_pair[0].params_
    document = json.loads(json.dumps(params))
    assert document["method"] == "umap"
    assert document["params"]["random_state"] == 124
    assert document["params"]["min_dist"] == 0.1 and document["params"]["metric"] == "euclidean"
    assert document["effective"]["n_jobs"] == 1  # umap-learn forces one thread when seeded
    assert document["n_samples_fit"] == 240 and document["n_features"] == 98
    for package in ("numpy", "scikit-learn", "umap-learn", "numba", "python"):
        assert document["versions"][package]


def test_paper_defaults():
    params = UMAPProjector().get_params()
    paper = (params["n_neighbors"], params["min_dist"], params["metric"], params["random_state"])
    assert paper == (15, 0.1, "euclidean", 124)


def test_umap_rejects_too_many_neighbours():
    with pytest.raises(ValueError, match="n_neighbors must be between 2 and n_samples - 1 = 9"):
        UMAPProjector(n_neighbors=15).fit(clusters(n_per_cluster=3, n_features=5)[:10])


# -- PCA --------------------------------------------------------------------------------------
def test_pca_exact_variance_on_known_linear_data():
    # Points +-3, +-2, +-1 along three orthonormal directions of a 6-D space: the variances
    # are in the ratio 9 : 4 : 1, so the two kept axes explain 9/14 and 4/14 exactly.
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((6, 3)))
    scores = np.array([[3, 0, 0], [-3, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 1], [0, 0, -1]], dtype=float)
    X = scores @ basis.T + 5.0  # an offset PCA must remove
    projector = PCAProjector()
    coords = projector.fit_transform(X)
    np.testing.assert_allclose(projector.explained_variance_ratio_, [9 / 14, 4 / 14], rtol=1e-12)
    np.testing.assert_allclose(np.abs(coords), np.abs(scores[:, :2]), atol=1e-12)
    assert projector.params_["effective"]["explained_variance_ratio"] == pytest.approx([9 / 14, 4 / 14])
    np.testing.assert_allclose(projector.transform(X), coords, atol=1e-12)


def test_pca_is_deterministic(blobs):
    np.testing.assert_array_equal(PCAProjector().fit_transform(blobs), PCAProjector().fit_transform(blobs))


# -- t-SNE and its out-of-sample placement ----------------------------------------------------
def test_tsne_same_seed_gives_same_map(tsne_fitted, blobs):
    again = TSNEProjector(perplexity=15.0, max_iter=300).fit_transform(blobs)
    assert again.shape == (240, 2)
    np.testing.assert_array_equal(again, tsne_fitted.embedding_)


def test_tsne_copy_of_fitted_point_lands_on_it(tsne_fitted, blobs):
    placed = tsne_fitted.transform(blobs[[0, 17, 200]])
    np.testing.assert_allclose(placed, tsne_fitted.embedding_[[0, 17, 200]], atol=1e-12)


def test_tsne_new_point_is_weighted_mean_of_its_neighbours(tsne_fitted, blobs):
    # Halfway between two fitted points, farther from everything else: with k=2 the
    # inverse-distance weights are equal, so it lands at the midpoint of their 2D positions.
    projector = TSNEProjector(perplexity=15.0, max_iter=300, placement_neighbors=2)
    projector.fit(blobs)
    a, b = 3, 4
    placed = projector.transform(((blobs[a] + blobs[b]) / 2)[None, :])
    np.testing.assert_allclose(placed[0], projector.embedding_[[a, b]].mean(axis=0), atol=1e-9)


def test_tsne_rejects_perplexity_above_sample_count():
    with pytest.raises(ValueError, match="perplexity must be in"):
        TSNEProjector(perplexity=30.0).fit(np.random.default_rng(0).random((20, 4)))


# -- MDS --------------------------------------------------------------------------------------
def test_mds_reproduces_planar_distances():
    rng = np.random.default_rng(3)
    planar = rng.random((30, 2))
    X = np.column_stack([planar, np.zeros((30, 3))])
    projector = MDSProjector()
    coords = projector.fit_transform(X)
    from scipy.spatial.distance import pdist

    np.testing.assert_allclose(pdist(coords), pdist(planar), atol=1e-3)
    np.testing.assert_array_equal(coords, MDSProjector().fit_transform(X))
    np.testing.assert_allclose(projector.transform(X[:3]), coords[:3], atol=1e-12)


def test_mds_refuses_large_inputs():
    with pytest.raises(ValueError, match="use umap or pca"):
        MDSProjector().fit(np.zeros((5001, 2)) + np.arange(5001)[:, None])


# -- shared checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pca", "tsne", "mds"])
def test_bad_inputs_are_named(method):
    projector = make_projector(method)
    with pytest.raises(NotFittedError, match="call fit"):
        projector.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-dimensional"):
        projector.fit(np.zeros(5))
    bad = np.ones((40, 3))
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="1 row.*first: row 7"):
        projector.fit(bad)
    projector.fit(np.random.default_rng(0).random((40, 3)))
    with pytest.raises(ValueError, match="X has 4 features but the .* map was fitted on 3"):
        projector.transform(np.zeros((2, 4)))


def test_make_projector_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown projection method 'som'"):
        make_projector("som")
    with pytest.raises(ValueError, match="pca does not take parameter.*perplexity"):
        make_projector("pca", perplexity=10)
    with pytest.raises(ValueError, match="random_state must be an integer"):
        make_projector("pca", random_state=np.random.RandomState(0)).fit(np.eye(3))


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        UMAPProjector(10)


# -- element and compound maps ----------------------------------------------------------------
def test_element_map_reports_elements_without_data(toy):
    frame = element_map(element_vectors(toy), method="pca")
    assert list(frame.columns) == ["symbol", "x", "y", "has_data"]
    assert list(frame["symbol"]) == list(SYMBOLS)
    placed = frame[frame["has_data"]]
    assert list(placed["symbol"]) == ["H", "He", "Li"]
    assert np.isfinite(placed[["x", "y"]].to_numpy()).all()
    assert frame.loc[~frame["has_data"], ["x", "y"]].isna().all().all()
    assert frame.attrs["projection"]["n_samples_fit"] == 3


def test_element_map_too_few_elements_for_umap(toy):
    with pytest.raises(ValueError, match="n_neighbors must be between 2 and n_samples - 1 = 2, got 10"):
        element_map(element_vectors(toy))


def test_element_map_checks_its_input():
    with pytest.raises(ValueError, match=r"shape \(98, 98\)"):
        element_map(np.zeros((5, 98)), method="pca")
    shuffled = pd.DataFrame(np.eye(98), index=list(reversed(SYMBOLS)))
    with pytest.raises(ValueError, match="indexed by the element symbols"):
        element_map(shuffled, method="pca")
    with pytest.raises(ValueError, match="unknown element map method"):
        element_map(np.eye(98), method="isomap")


def test_element_defaults_suit_95_points():
    assert ELEMENT_DEFAULTS["umap"] == {"n_neighbors": 10, "min_dist": 0.5, "metric": "cosine"}
    assert 10 <= ELEMENT_DEFAULTS["tsne"]["perplexity"] <= 15


def test_element_map_on_icsd_counts_lists_at_rn_fr(icsd_counts):
    frame = element_map(element_vectors(icsd_counts), method="mds")
    assert sorted(frame.loc[~frame["has_data"], "symbol"]) == ["At", "Fr", "Rn"]
    assert frame["has_data"].sum() == 95
    assert np.isfinite(frame.loc[frame["has_data"], ["x", "y"]].to_numpy()).all()
    again = element_map(element_vectors(icsd_counts), method="mds")
    pd.testing.assert_frame_equal(frame, again)


def test_compound_map_leaves_zero_fingerprints_unplaced(blobs):
    fingerprints = blobs.copy()
    fingerprints[[5, 100]] = 0.0
    coords, projector = compound_map(fingerprints, method="pca")
    assert coords.shape == (240, 2)
    assert np.isnan(coords[[5, 100]]).all()
    assert np.isfinite(np.delete(coords, [5, 100], axis=0)).all()
    assert projector.params_["n_zero_rows"] == 2 and projector.params_["n_samples_fit"] == 238


def test_compound_map_fit_sample_places_the_rest(blobs):
    coords, projector = compound_map(blobs, method="tsne", fit_sample=120, perplexity=10.0, max_iter=500)
    assert np.isfinite(coords).all()
    assert projector.params_["n_samples_fit"] == 120
    assert projector.params_["fit_sample"] == {"size": 120, "seed": 0}
    # Every placed point's nearest fitted point on the map belongs to its own cluster.
    labels = np.repeat(np.arange(4), 60)
    fitted = np.isin(coords[:, 0], projector.embedding_[:, 0])
    assert fitted.sum() == 120
    gaps = ((coords[~fitted][:, None, :] - coords[fitted][None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels[fitted][np.argmin(gaps, axis=1)], labels[~fitted])


def test_compound_map_rejects_mds_and_bad_input():
    with pytest.raises(ValueError, match="unknown compound map method 'mds'"):
        compound_map(np.eye(5), method="mds")
    with pytest.raises(ValueError, match="fingerprints must be 2-dimensional"):
        compound_map(np.zeros(98), method="pca")
    with pytest.raises(ValueError, match="only 0 non-zero fingerprint"):
        compound_map(np.zeros((4, 98)), method="pca")
