"""Seriation: a learned 1D ordering of the elements from a similarity matrix."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fingerprints.embedding import element_vector_array
from fingerprints.elements import SYMBOLS
from fingerprints.seriation import (
    arrangement_cost,
    oriented_spearman,
    refine_order,
    seriate,
    spectral_order,
)

#: The modified Pettifor scale (Glawe et al. 2016) over H..Cf, first to last, as shipped in
#: elementembeddings 0.8.0 (mod_petti.json); only the ranks matter for a Spearman test.
MOD_PETTI_ORDER = (
    "He Ne Ar Kr Xe Rn Fr Cs Rb K Na Li Ra Ba Sr Ca Eu Yb Lu Tm Y Er Ho Dy Tb Gd Sm Pm Nd Pr Ce La Ac Th Pa U "
    "Np Pu Am Cm Bk Cf Sc Zr Hf Ti Ta Nb V Cr Mo W Re Tc Os Ru Ir Rh Pt Pd Au Ag Cu Ni Co Fe Mn Mg Zn Cd Hg Be Al "
    "Ga In Tl Pb Sn Ge Si B C N P As Sb Bi Po Te Se S O At I Br Cl F H"
).split()
MOD_PETTI = pd.Series(np.arange(len(MOD_PETTI_ORDER), dtype=float), index=MOD_PETTI_ORDER)


def chain_similarity(n: int, *, seed: int = 0, scale: float = 3.0) -> tuple[pd.DataFrame, list[str]]:
    """Similarity of points on a line (exp of minus the distance), labels shuffled."""
    labels = [f"e{i:02d}" for i in range(n)]
    x = np.arange(n, dtype=float)
    values = np.exp(-np.abs(x[:, None] - x[None, :]) / scale)
    permutation = np.random.default_rng(seed).permutation(n)
    shuffled = [labels[i] for i in permutation]
    return pd.DataFrame(values[np.ix_(permutation, permutation)], index=shuffled, columns=shuffled), labels


def is_true_order(order, labels) -> bool:
    return list(order) == labels or list(order) == labels[::-1]


def test_cost_by_hand():
    similarity = pd.DataFrame([[0, 2, 1], [2, 0, 0], [1, 0, 0]], index=list("abc"), columns=list("abc"), dtype=float)
    # a-b adjacent (2 * 1), a-c two apart (1 * 2), b-c no weight
    assert arrangement_cost(similarity, ["a", "b", "c"]) == 4.0
    assert arrangement_cost(similarity, ["b", "a", "c"]) == 3.0
    with pytest.raises(ValueError, match="exactly once"):
        arrangement_cost(similarity, ["a", "a", "c"])


def test_chain_is_recovered_from_a_shuffled_similarity():
    similarity, labels = chain_similarity(40)
    result = seriate(similarity, n_random_starts=2)
    assert is_true_order(result.order, labels)
    assert result.cost <= result.spectral_cost
    assert result.positions.index.tolist() == similarity.index.tolist()
    truth = pd.Series(np.arange(40.0), index=labels)
    compared = oriented_spearman(result.positions, truth)
    assert compared["rho"] == pytest.approx(1.0) and compared["n_elements"] == 40


def test_local_search_repairs_a_scrambled_order():
    similarity, labels = chain_similarity(25, seed=3)
    scrambled = labels[:5] + labels[15:20] + labels[5:15][::-1] + labels[20:]
    repaired = refine_order(similarity, scrambled)
    assert is_true_order(repaired, labels)
    assert arrangement_cost(similarity, repaired) < arrangement_cost(similarity, scrambled)


def test_result_is_a_local_minimum_under_every_block_move():
    rng = np.random.default_rng(7)
    points = rng.normal(size=(9, 3))
    values = np.exp(-np.linalg.norm(points[:, None] - points[None], axis=-1))
    labels = list("abcdefghi")
    similarity = pd.DataFrame(values, index=labels, columns=labels)
    order = refine_order(similarity, labels[::-1])
    best = arrangement_cost(similarity, order)
    n = len(order)
    for i, j, k in itertools.combinations(range(n + 1), 3):
        moved = order[:i] + order[j:k] + order[i:j] + order[k:]
        assert arrangement_cost(similarity, moved) >= best - 1e-9
    for i, j in itertools.combinations(range(n + 1), 2):
        flipped = order[:i] + order[i:j][::-1] + order[j:]
        assert arrangement_cost(similarity, flipped) >= best - 1e-9


def test_same_seed_same_ordering():
    rng = np.random.default_rng(1)
    points = rng.random((30, 4))
    values = np.exp(-4 * np.linalg.norm(points[:, None] - points[None], axis=-1))
    labels = [f"x{i}" for i in range(30)]
    similarity = pd.DataFrame(values, index=labels, columns=labels)
    first, second = seriate(similarity, seed=5), seriate(similarity, seed=5)
    assert first.order == second.order and first.cost == second.cost
    assert spectral_order(similarity) == spectral_order(similarity)


def test_orientation_is_chosen_to_correlate_positively():
    positions = pd.Series([0.0, 1.0, 2.0, 3.0], index=list("abcd"))
    reference = pd.Series([30.0, 20.0, 10.0, 0.0, 5.0], index=list("abcdz"))
    compared = oriented_spearman(positions, reference)
    assert compared["rho"] == pytest.approx(1.0) and compared["reversed"] is True
    assert compared["raw_rho"] == pytest.approx(-1.0)
    assert compared["only_in_reference"] == ["z"] and compared["only_in_ordering"] == []
    with pytest.raises(ValueError, match="at least 3"):
        oriented_spearman(positions[:2], reference)


@pytest.mark.parametrize(
    "values, message",
    [
        ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], "no positive similarity"),
        ([[0, 1, 2], [1, 0, 1], [0, 1, 0]], "symmetric"),
        ([[0, 1, np.nan], [1, 0, 1], [np.nan, 1, 0]], "NaN"),
        ([[0, 1], [1, 0]], "at least 3"),
    ],
)
def test_bad_similarities_are_refused(values, message):
    labels = list("abc")[: len(values)]
    with pytest.raises(ValueError, match=message):
        seriate(pd.DataFrame(values, index=labels, columns=labels, dtype=float))


def test_similarity_must_be_a_labelled_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        seriate(np.eye(3))
    with pytest.raises(ValueError, match="same labels"):
        seriate(pd.DataFrame(np.ones((3, 3)), index=list("abc"), columns=list("abd")))


@pytest.mark.slow
@pytest.mark.shared_data
def test_icsd_ordering_agrees_with_the_modified_pettifor_scale(icsd_counts):
    """The study's setting: corrected ICSD cosines, elements with >= 10 substitutions."""
    vectors = element_vector_array(icsd_counts, variant="corrected")
    keep = np.any(vectors != 0, axis=1) & (icsd_counts.pair_counts.sum(axis=1) >= 10)
    labels = np.asarray(SYMBOLS)[keep]
    similarity = pd.DataFrame(vectors[keep] @ vectors[keep].T, index=labels, columns=labels)
    result = seriate(similarity, n_random_starts=4, seed=0)
    compared = oriented_spearman(result.positions, MOD_PETTI)
    assert compared["n_elements"] == 90
    assert compared["rho"] >= 0.85
    assert result.cost < arrangement_cost(similarity, [s for s in MOD_PETTI_ORDER if s in set(labels)])
