"""Every hostile formula is rejected quickly, naming the formula (shortened) and the problem,
one at a time and in a batch, and never becomes a fingerprint."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fingerprints.composition import composition_fingerprints
from fingerprints.embedding import element_vectors
from fingerprints.estimator import PettiforEmbedding
from fingerprints.formula import FormulaError, parse_formula, parse_formulas
from tests.conftest import toy_counts
from tests.hostile.corpus import FORMULA_CASES, TEN_MB

pytestmark = pytest.mark.timeout(120)

DEFAULT_LENGTH_CASES = [case for case in FORMULA_CASES if case.max_length is None]


def _options(case) -> dict:
    return {} if case.max_length is None else {"max_length": case.max_length}


@pytest.mark.parametrize("case", FORMULA_CASES, ids=lambda case: case.id)
def test_a_bad_formula_is_refused_with_its_reason(case):
    started = time.perf_counter()
    with pytest.raises(FormulaError) as info:
        parse_formula(case.formula, **_options(case))
    seconds = time.perf_counter() - started
    assert seconds < 1.0, f"{case.id} took {seconds:.2f} s"
    error = info.value
    assert case.reason in error.reason
    message = str(error)
    assert message.startswith("invalid formula ") and message.endswith(error.reason)
    assert len(message) < 600, "a huge input is shortened in the message"
    named = repr(case.formula)[:12] if not isinstance(case.formula, (list, dict)) else type(case.formula).__name__
    assert named in message, "the message names the formula"
    assert error.formula is case.formula


def test_a_ten_megabyte_string_is_refused_before_any_parsing():
    formula = "Fe2O3" * (TEN_MB // 5)
    started = time.perf_counter()
    with pytest.raises(FormulaError, match=rf"\({TEN_MB} characters\): absurd length: {TEN_MB} characters \(limit 256\)$"):
        parse_formula(formula)
    assert time.perf_counter() - started < 0.05


def test_the_whole_corpus_as_one_batch_fails_row_by_row_with_the_same_reasons():
    values = [case.formula for case in DEFAULT_LENGTH_CASES]
    good = ["Fe2O3", "CuSO4·5H2O", "K4[Fe(CN)6]"]
    started = time.perf_counter()
    batch = parse_formulas(values + good)
    assert time.perf_counter() - started < 2.0
    assert batch.n_failed == len(values)
    assert batch.ok.tolist() == [False] * len(values) + [True] * len(good)
    for case, reason in zip(DEFAULT_LENGTH_CASES, batch.errors):
        assert case.reason in reason, case.id
    assert batch.fractions[: len(values)].nnz == 0
    failures = batch.failures()
    assert failures["row"].tolist() == list(range(len(values)))


def test_bad_formulas_never_become_fingerprints():
    embedding = PettiforEmbedding().fit(toy_counts())
    values = [case.formula for case in DEFAULT_LENGTH_CASES] + ["H2He", "Li"]
    fingerprints, batch = embedding.transform_formulas(values)
    assert np.isfinite(fingerprints).all()
    assert not fingerprints[: len(values) - 2].any()
    np.testing.assert_allclose(np.linalg.norm(fingerprints[-2:], axis=1), 1.0)
    assert batch.n_failed == len(values) - 2


@pytest.mark.parametrize(
    ("fractions", "reason"),
    [
        (np.full((1, 98), np.nan), "finite and non-negative"),
        (np.eye(98)[:2] * -1, "finite and non-negative"),
        (np.where(np.eye(98)[:1] > 0, np.inf, 0.0), "finite and non-negative"),
        (np.zeros((1, 97)), "fractions must have shape"),
    ],
    ids=["nan", "negative", "inf", "wrong-shape"],
)
def test_composition_fingerprints_refuse_broken_fractions(fractions, reason):
    vectors = element_vectors(toy_counts())
    with pytest.raises(ValueError, match=reason):
        composition_fingerprints(fractions, vectors)


def test_composition_fingerprints_refuse_broken_element_vectors():
    vectors = element_vectors(toy_counts()).to_numpy().copy()
    vectors[25, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        composition_fingerprints(np.eye(98)[:1], vectors)
