"""PettiforEmbedding: fit on counts, transform formulas or fractions, save and load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from fingerprints.estimator import PettiforEmbedding
from fingerprints.elements import SYMBOL_TO_INDEX
from tests.test_embedding import E_H, E_HE


def test_fit_exposes_vectors_cosines_and_missing_elements(toy):
    model = PettiforEmbedding().fit(toy)
    assert model.element_vectors_.shape == (98, 98)
    assert model.cosines_.loc["H", "He"] == pytest.approx(np.sqrt(12) / 7)
    assert len(model.elements_without_data_) == 95
    assert model.source_ == "toy"
    assert model.get_feature_names_out()[25] == "pettifor_Fe"


def test_transform_formulas_by_hand(toy):
    model = PettiforEmbedding(normalize=False).fit(toy)
    fingerprints = model.transform(["H2He", "HHe0.5"])
    expected = np.array(E_H) * 2 / 3 + np.array(E_HE) / 3
    np.testing.assert_allclose(fingerprints[:, :3], [expected, expected], atol=1e-15)


def test_transform_accepts_fraction_matrices(toy):
    model = PettiforEmbedding().fit(toy)
    x = np.zeros((1, 98))
    x[0, SYMBOL_TO_INDEX["H"]] = 2 / 3
    x[0, SYMBOL_TO_INDEX["He"]] = 1 / 3
    np.testing.assert_allclose(model.transform(x), model.transform(["H2He"]), atol=1e-15)
    np.testing.assert_allclose(model.transform(sp.csr_matrix(x)), model.transform(x), atol=0)


def test_invalid_formulas_raise_in_transform_and_are_reported_in_transform_formulas(toy):
    model = PettiforEmbedding().fit(toy)
    with pytest.raises(ValueError, match=r"1 of 3 formulas are invalid: row 1: .*Xx"):
        model.transform(["H2", "Xx2", "He"])
    fingerprints, batch = model.transform_formulas(["H2", "Xx2", "He"])
    assert fingerprints.shape == (3, 98)
    assert batch.errors[0] == "" and "Xx" in batch.errors[1]
    assert np.all(fingerprints[1] == 0)


def test_unfitted_and_wrong_input(toy):
    with pytest.raises(NotFittedError):
        PettiforEmbedding().transform(["H2"])
    with pytest.raises(TypeError, match="SubstitutionCounts"):
        PettiforEmbedding().fit(np.zeros((98, 98)))
    with pytest.raises(ValueError, match="unknown variant"):
        PettiforEmbedding(variant="v3").fit(toy)


def test_sklearn_conventions(toy):
    model = PettiforEmbedding(variant="published-2024", normalize=False)
    assert model.get_params() == {"variant": "published-2024", "normalize": False}
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(TypeError):
        PettiforEmbedding("corrected")  # options are keyword-only
    np.testing.assert_array_equal(model.fit_transform(toy, ["H"]), model.transform(["H"]))


def test_save_and_load_round_trip_exactly(toy, tmp_path):
    model = PettiforEmbedding(variant="published-2024", normalize=False).fit(toy)
    path = model.save(tmp_path / "embedding.json")
    loaded = PettiforEmbedding.load(path)
    np.testing.assert_array_equal(loaded.element_vectors_.to_numpy(), model.element_vectors_.to_numpy())
    assert loaded.variant == "published-2024" and loaded.normalize is False
    assert loaded.metadata_["source"] == "toy"
    assert "numpy" in loaded.metadata_["versions"]
    np.testing.assert_array_equal(loaded.transform(["H2He"]), model.transform(["H2He"]))
    assert [p.name for p in tmp_path.iterdir()] == ["embedding.json"]


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PettiforEmbedding.load(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not written by PettiforEmbedding.save"):
        PettiforEmbedding.load(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PettiforEmbedding.load(tmp_path / "missing.json")


@pytest.mark.shared_data
def test_real_counts_fingerprints_are_unit_vectors(icsd_counts):
    model = PettiforEmbedding().fit(icsd_counts)
    fingerprints = model.transform(["Fe2O3", "Li3Fe2(PO4)3", "CuSO4·5H2O", "Ba0.5Sr0.5TiO3"])
    np.testing.assert_allclose(np.linalg.norm(fingerprints, axis=1), 1.0, atol=1e-14)
    # Composition made only of elements without data: zero vector, reported.
    fingerprints, batch = model.transform_formulas(["AtRn"])
    assert np.all(fingerprints == 0) and batch.errors[0] == ""
    assert model.elements_without_data_ == ["At", "Rn", "Fr"]
