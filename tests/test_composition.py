"""Composition fingerprints and nearest neighbours, checked against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from fingerprints.composition import composition_fingerprints, nearest_compositions
from fingerprints.elements import SYMBOL_TO_INDEX
from fingerprints.embedding import cosine_matrix, element_vectors
from tests.test_embedding import E_H, E_HE


def _fractions(**amounts) -> np.ndarray:
    row = np.zeros(98)
    total = sum(amounts.values())
    for symbol, amount in amounts.items():
        row[SYMBOL_TO_INDEX[symbol]] = amount / total
    return row


def test_fingerprint_of_h2he_by_hand(toy):
    vectors = element_vectors(toy)
    x = _fractions(H=2, He=1)[None, :]
    raw = composition_fingerprints(x, vectors, normalize=False)
    expected = np.array(E_H) * 2 / 3 + np.array(E_HE) / 3
    np.testing.assert_allclose(raw[0, :3], expected, atol=1e-15)
    assert np.count_nonzero(raw[0, 3:]) == 0
    unit = composition_fingerprints(x, vectors)
    np.testing.assert_allclose(unit[0, :3], expected / np.linalg.norm(expected), atol=1e-15)
    assert np.linalg.norm(unit[0]) == pytest.approx(1.0, abs=1e-15)


def test_sparse_and_dense_inputs_agree(toy):
    vectors = element_vectors(toy)
    dense = np.vstack([_fractions(H=1), _fractions(H=1, Li=3), np.zeros(98)])
    a = composition_fingerprints(dense, vectors)
    b = composition_fingerprints(sp.csr_matrix(dense), vectors)
    np.testing.assert_array_equal(a, b)
    assert np.all(a[2] == 0)  # failed / empty rows stay zero, no NaN


def test_distance_equals_gram_form_for_raw_fingerprints(toy):
    vectors = element_vectors(toy)
    gram = cosine_matrix(vectors).to_numpy()
    x, y = _fractions(H=2, He=1), _fractions(He=1, Li=1)
    fx, fy = composition_fingerprints(np.vstack([x, y]), vectors, normalize=False)
    diff = x - y
    assert np.linalg.norm(fx - fy) == pytest.approx(math.sqrt(diff @ gram @ diff), abs=1e-14)


def test_wrong_shapes_are_rejected(toy):
    with pytest.raises(ValueError, match=r"fractions must have shape \(n, 98\)"):
        composition_fingerprints(np.zeros((2, 5)), element_vectors(toy))
    with pytest.raises(ValueError, match=r"element vectors must have shape"):
        composition_fingerprints(np.zeros((2, 98)), np.zeros((3, 3)))


def test_nearest_compositions_matches_brute_force():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(500, 98))
    query = rng.normal(size=(37, 98))
    distances, indices = nearest_compositions(query, reference, k=5, chunk_size=8)
    full = np.linalg.norm(query[:, None, :] - reference[None, :, :], axis=2)
    expected = np.argsort(full, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(distances, np.take_along_axis(full, expected, axis=1), atol=1e-12)


def test_nearest_compositions_excluding_self():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    distances, indices = nearest_compositions(points, points, k=5, exclude_self=True)
    assert indices.tolist() == [[1, 2], [0, 2], [1, 0]]
    np.testing.assert_allclose(distances, [[1, 3], [1, 2], [2, 3]])
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_compositions(points, points, k=0)
