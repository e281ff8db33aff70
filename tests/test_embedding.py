"""The embedding recipe on hand-worked counts, and its invariants on the real ICSD counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fingerprints.counts import SubstitutionCounts
from fingerprints.elements import SYMBOLS
from fingerprints.embedding import cosine_matrix, element_vectors, elements_without_data, most_similar

# Worked by hand for the toy counts (conftest.toy_counts):
#   M rows: H [4, 3, 0], He [3, 0, 4], Li [0, 4, 0]  (columns H, He, Li)
#   normalised: H [.8, .6, 0], He [.6, 0, .8], Li [0, 1, 0]
#   sqrt + normalise: H [sqrt(4/7), sqrt(3/7), 0], He [sqrt(3/7), 0, sqrt(4/7)], Li [0, 1, 0]
E_H = [math.sqrt(4 / 7), math.sqrt(3 / 7), 0.0]
E_HE = [math.sqrt(3 / 7), 0.0, math.sqrt(4 / 7)]
E_LI = [0.0, 1.0, 0.0]


def test_corrected_vectors_match_hand_computation(toy):
    vectors = element_vectors(toy)
    assert vectors.shape == (98, 98)
    assert list(vectors.index) == list(SYMBOLS) and list(vectors.columns) == list(SYMBOLS)
    np.testing.assert_allclose(vectors.loc["H", ["H", "He", "Li"]], E_H, atol=1e-15)
    np.testing.assert_allclose(vectors.loc["He", ["H", "He", "Li"]], E_HE, atol=1e-15)
    np.testing.assert_allclose(vectors.loc["Li", ["H", "He", "Li"]], E_LI, atol=1e-15)
    assert vectors.drop(columns=["H", "He", "Li"]).to_numpy().max() == 0


def test_cosines_match_hand_computation(toy):
    cos = cosine_matrix(element_vectors(toy))
    assert cos.loc["H", "He"] == pytest.approx(math.sqrt(12) / 7, abs=1e-15)
    assert cos.loc["H", "Li"] == pytest.approx(math.sqrt(3 / 7), abs=1e-15)
    assert cos.loc["He", "Li"] == pytest.approx(0.0, abs=1e-15)
    assert cos.loc["Li", "Li"] == pytest.approx(1.0, abs=1e-15)


def test_published_variant_keeps_lower_triangle(toy):
    # tril(M): H [4, 0, 0], He [3, 0, 0], Li [0, 4, 0] -> H and He both point along H.
    vectors = element_vectors(toy, variant="published-2024")
    np.testing.assert_allclose(vectors.loc["H", ["H", "He", "Li"]], [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(vectors.loc["He", ["H", "He", "Li"]], [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(vectors.loc["Li", ["H", "He", "Li"]], [0, 1, 0], atol=1e-15)
    assert cosine_matrix(vectors).loc["H", "He"] == pytest.approx(1.0)


def test_elements_without_data_are_zero_and_reported(toy):
    vectors = element_vectors(toy)
    missing = elements_without_data(vectors)
    assert len(missing) == 95 and "H" not in missing and "Cf" in missing
    assert toy.elements_without_data == missing
    assert not np.isnan(vectors.to_numpy()).any()


def test_unknown_variant_is_rejected(toy):
    with pytest.raises(ValueError, match="unknown variant 'latest'"):
        element_vectors(toy, variant="latest")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p, s: p.__setitem__((0, 1), 5), "must be symmetric, but H-He"),
        (lambda p, s: p.__setitem__((2, 2), 1), "zero diagonal"),
        (lambda p, s: s.__setitem__(3, -1), "negative"),
        (lambda p, s: s.__setitem__(3, np.nan), "NaN"),
    ],
)
def test_counts_validation(toy, mutate, message):
    pair, single = toy.pair_counts.copy(), toy.element_counts.copy()
    mutate(pair, single)
    with pytest.raises(ValueError, match=message):
        SubstitutionCounts(pair, single, source="bad")


def test_counts_shape_is_checked():
    with pytest.raises(ValueError, match=r"shape \(98, 98\)"):
        SubstitutionCounts(np.zeros((10, 10)), np.zeros(98))


def test_most_similar_ranks_by_cosine(toy):
    cos = cosine_matrix(element_vectors(toy))
    top = most_similar(cos, "H", top=2)
    assert list(top.index) == ["Li", "He"]  # sqrt(3/7) = 0.65 > sqrt(12)/7 = 0.49
    with pytest.raises(KeyError, match="unknown element 'Xx'"):
        most_similar(cos, "Xx")


# -- invariants on the real counts (skipped when ../shared/data is absent) ----------------------

@pytest.mark.shared_data
@pytest.mark.parametrize("variant", ["corrected", "published-2024"])
def test_real_counts_invariants(icsd_counts, variant):
    vectors = element_vectors(icsd_counts, variant=variant).to_numpy()
    norms = np.linalg.norm(vectors, axis=1)
    missing = elements_without_data(vectors)
    assert missing == ["At", "Rn", "Fr"]
    with_data = [i for i, s in enumerate(SYMBOLS) if s not in missing]
    np.testing.assert_allclose(norms[with_data], 1.0, atol=1e-14)
    assert np.all(vectors >= 0)
    gram = cosine_matrix(vectors).to_numpy()
    assert np.array_equal(gram, gram.T)
    eigenvalues = np.linalg.eigvalsh(gram)
    assert eigenvalues.min() > -1e-12  # positive semi-definite, no repair needed
    assert np.linalg.matrix_rank(gram) == 95


@pytest.mark.shared_data
def test_real_counts_reference_cosines(icsd_counts):
    corrected = cosine_matrix(element_vectors(icsd_counts))
    assert corrected.loc["Fe", "Co"] == pytest.approx(0.826, abs=5e-4)
    assert corrected.loc["Si", "Ge"] == pytest.approx(0.795, abs=5e-4)
    assert corrected.loc["Zr", "Hf"] == pytest.approx(0.942, abs=5e-4)
    published = cosine_matrix(element_vectors(icsd_counts, variant="published-2024"))
    assert published.loc["Fe", "Co"] == pytest.approx(0.537, abs=5e-4)


@pytest.mark.shared_data
def test_published_variant_is_lower_triangular_on_real_counts(icsd_counts):
    vectors = element_vectors(icsd_counts, variant="published-2024").to_numpy()
    assert np.count_nonzero(np.triu(vectors, k=1)) == 0
    assert vectors[0, 0] == pytest.approx(1.0)  # H keeps only its own axis
    corrected = element_vectors(icsd_counts).to_numpy()
    assert np.count_nonzero(np.triu(corrected, k=1)) > 1000
