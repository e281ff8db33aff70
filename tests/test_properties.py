"""Property-based tests (hypothesis) of the formula parser and the composition fingerprints.

``tests/test_formula.py`` already checks the parser against pymatgen on generated formulas
(and that a batch row equals a single parse of those). This file adds the invariants that
need no reference implementation:

- writing a composition as a formula and parsing it gives the composition back;
- fractions are positive and sum to 1; scaling every amount, reordering the terms, or
  rewriting the formula with groups and hydrate dots changes neither the fractions nor the
  fingerprint;
- fingerprints lie on the unit sphere, or are zero exactly for failed rows and for
  compositions made only of elements without substitution data;
- on arbitrary text the parser either returns positive finite amounts or raises
  ``FormulaError`` with a short message, and a batch agrees with single parses row by row.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fingerprints.counts import SubstitutionCounts
from fingerprints.elements import MAX_Z, SYMBOL_TO_INDEX, SYMBOLS
from fingerprints.estimator import PettiforEmbedding
from fingerprints.formula import MAX_FORMULA_LENGTH, FormulaError, formula_fractions, parse_formula, parse_formulas

PROPERTIES = settings(
    max_examples=int(os.environ.get("PROPERTY_MAX_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _random_counts() -> SubstitutionCounts:
    """Counts for every element but Rn, so Rn has no data (as in tests/conftest.py)."""
    rng = np.random.default_rng(11)
    pair = np.triu(rng.integers(0, 50, size=(MAX_Z, MAX_Z)).astype(float), 1)
    pair = pair + pair.T
    single = rng.integers(1, 100, size=MAX_Z).astype(float)
    rn = SYMBOL_TO_INDEX["Rn"]
    pair[rn, :] = pair[:, rn] = 0
    single[rn] = 0
    return SubstitutionCounts(pair, single, source="random")


EMBEDDING = PettiforEmbedding().fit(_random_counts())
WITHOUT_DATA = set(EMBEDDING.elements_without_data_)

def unambiguous(composition: dict) -> bool:
    """No decimal amount where hydrogen can follow it: ``Li1.5HF`` may read as ``Li1·5HF``,
    on purpose (the ``.`` rule of fingerprints.formula, tested in test_formula.py)."""
    return "H" not in composition or not any("." in str(amount) for amount in composition.values())


# A composition: distinct symbols with amounts written as decimals (no exponent notation).
AMOUNT_TEXTS = st.builds(
    lambda mantissa, decimals: f"{mantissa / 10**decimals:.{decimals}f}",
    st.integers(1, 999_999),
    st.integers(0, 4),
)
COMPOSITIONS = st.dictionaries(st.sampled_from(SYMBOLS), AMOUNT_TEXTS, min_size=1, max_size=6).filter(unambiguous)
INTEGER_COMPOSITIONS = st.dictionaries(st.sampled_from(SYMBOLS), st.integers(1, 99), min_size=1, max_size=6)


def formula_of(composition: dict) -> str:
    """The formula text of ``{symbol: amount}`` (the inverse of parse_formula)."""
    return "".join(f"{symbol}{amount}" for symbol, amount in composition.items())



def fractions_of(composition: dict) -> dict[str, float]:
    total = math.fsum(float(a) for a in composition.values())
    return {symbol: float(amount) / total for symbol, amount in composition.items()}


def fingerprint(formula: str) -> np.ndarray:
    vectors, batch = EMBEDDING.transform_formulas([formula])
    assert batch.ok[0], batch.errors[0]
    return vectors[0]


# ------------------------------------------------------------------------------ parser


@PROPERTIES
@given(COMPOSITIONS)
def test_parse_of_format_gives_the_composition_back(composition):
    formula = formula_of(composition)
    if len(formula) > MAX_FORMULA_LENGTH:
        with pytest.raises(FormulaError, match="absurd length"):
            parse_formula(formula)
        return
    amounts = parse_formula(formula)
    assert list(amounts) == list(composition)  # order of first appearance
    assert amounts == {symbol: float(text) for symbol, text in composition.items()}


@PROPERTIES
@given(COMPOSITIONS)
def test_fractions_are_positive_and_sum_to_one(composition):
    fractions = formula_fractions(formula_of(composition), max_length=10_000)
    assert all(0.0 < x <= 1.0 for x in fractions.values())
    assert math.fsum(fractions.values()) == pytest.approx(1.0, abs=1e-12)
    assert fractions == pytest.approx(fractions_of(composition), rel=1e-12)


@PROPERTIES
@given(INTEGER_COMPOSITIONS, st.integers(2, 50))
def test_scaling_every_amount_changes_neither_fractions_nor_fingerprint(composition, factor):
    scaled = {symbol: amount * factor for symbol, amount in composition.items()}
    assert formula_fractions(formula_of(scaled)) == pytest.approx(formula_fractions(formula_of(composition)), rel=1e-12)
    np.testing.assert_allclose(fingerprint(formula_of(scaled)), fingerprint(formula_of(composition)), rtol=0, atol=1e-12)


@PROPERTIES
@given(COMPOSITIONS, st.randoms(use_true_random=False))
def test_the_order_of_the_terms_does_not_matter(composition, random):
    items = list(composition.items())
    random.shuffle(items)
    shuffled = dict(items)
    assert formula_fractions(formula_of(shuffled), max_length=10_000) == pytest.approx(
        formula_fractions(formula_of(composition), max_length=10_000), rel=1e-12
    )
    if len(formula_of(composition)) <= MAX_FORMULA_LENGTH:
        np.testing.assert_allclose(fingerprint(formula_of(shuffled)), fingerprint(formula_of(composition)), rtol=0, atol=1e-12)


@PROPERTIES
@given(INTEGER_COMPOSITIONS, st.integers(1, 9), st.sampled_from(["()", "[]", "{}"]), st.sampled_from(["", " "]))
def test_a_group_with_a_multiplier_equals_the_multiplied_terms(composition, multiplier, brackets, space):
    grouped = f"{brackets[0]}{formula_of(composition)}{brackets[1]}{space}{multiplier}"
    expanded = {symbol: amount * multiplier for symbol, amount in composition.items()}
    assert parse_formula(grouped) == pytest.approx({s: float(a) for s, a in expanded.items()}, rel=1e-12)


@PROPERTIES
@given(INTEGER_COMPOSITIONS, INTEGER_COMPOSITIONS, st.integers(1, 12), st.sampled_from(["·", "•", "⋅"]))
def test_a_hydrate_dot_adds_the_multiplied_unit(host, unit, multiplier, dot):
    formula = f"{formula_of(host)}{dot}{multiplier}{formula_of(unit)}"
    expected: dict[str, float] = {symbol: float(amount) for symbol, amount in host.items()}
    for symbol, amount in unit.items():
        expected[symbol] = expected.get(symbol, 0.0) + multiplier * amount
    assert parse_formula(formula) == pytest.approx(expected, rel=1e-12)


@PROPERTIES
@given(st.text(max_size=60))
def test_arbitrary_text_parses_to_positive_amounts_or_raises_formula_error(text):
    try:
        amounts = parse_formula(text)
    except FormulaError as error:
        assert error.formula == text and error.reason
        assert len(str(error)) < 600
        return
    assert amounts and all(symbol in SYMBOL_TO_INDEX for symbol in amounts)
    assert all(0.0 < amount < math.inf for amount in amounts.values())


FORMULA_ALPHABET = st.sampled_from(list("HLiBeCNOFeSiCuZnKaAlPbRnXxDT()[]{}·.0123456789 -+e") + ["\x00", "²", "😀", "\u00a0"])
FORMULA_LIKE = st.lists(FORMULA_ALPHABET, max_size=30).map("".join)


@PROPERTIES
@given(st.lists(st.one_of(FORMULA_LIKE, st.text(max_size=20), st.none(), st.integers(), st.floats()), max_size=25))
@example([0, 0.0, False, 1, 1.0, True, "Fe", None, float("nan")])  # equal in Python, different inputs
def test_a_batch_equals_element_wise_parses(values):
    batch = parse_formulas(values)
    assert batch.fractions.shape == (len(values), MAX_Z)
    dense = batch.fractions.toarray()
    for i, value in enumerate(values):
        try:
            fractions = formula_fractions(value)
        except FormulaError as error:
            assert batch.errors[i] == error.reason
            assert not dense[i].any()
            continue
        assert batch.errors[i] == ""
        expected = np.zeros(MAX_Z)
        for symbol, x in fractions.items():
            expected[SYMBOL_TO_INDEX[symbol]] = x
        np.testing.assert_allclose(dense[i], expected, rtol=0, atol=1e-15)
        assert dense[i].sum() == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------------------ fingerprints


@PROPERTIES
@given(st.lists(st.one_of(COMPOSITIONS.map(formula_of), FORMULA_LIKE), min_size=1, max_size=20))
def test_fingerprints_are_unit_vectors_or_zero_for_a_reported_reason(formulas):
    vectors, batch = EMBEDDING.transform_formulas(formulas)
    assert np.isfinite(vectors).all()
    norms = np.linalg.norm(vectors, axis=1)
    for i, formula in enumerate(formulas):
        if not batch.ok[i]:
            assert batch.errors[i] and norms[i] == 0.0
        elif set(parse_formula(formula, max_length=10_000)) <= WITHOUT_DATA:
            assert norms[i] == 0.0  # only elements without substitution data (here Rn)
        else:
            assert norms[i] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "rewritings",
    [
        ["Fe2O3", "O3Fe2", "(FeO1.5)2", "Fe4O6", "OFeOFeO", "[Fe2]O3", "Fe2 O3", "(Fe2O3)1"],
        ["CuSO4·5H2O", "CuSO4.5H2O", "CuS O9H10", "H10CuSO9", "(CuSO4)(H2O)5"],
        ["Ca3(Al(SiO4))2", "Ca3Al2Si2O8", "Ca1.5AlSiO4"],
        ["K4[Fe(CN)6]", "K4FeC6N6", "(K2)2Fe(C)6(N)6"],
    ],
    ids=["hematite", "hydrate", "nested", "brackets"],
)
def test_fingerprints_do_not_depend_on_how_the_formula_is_written(rewritings):
    reference = fingerprint(rewritings[0])
    assert np.linalg.norm(reference) == pytest.approx(1.0, abs=1e-12)
    for formula in rewritings[1:]:
        np.testing.assert_allclose(fingerprint(formula), reference, rtol=0, atol=1e-12, err_msg=formula)
