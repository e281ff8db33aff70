"""A learned 1D ordering of the elements (seriation) from an element similarity matrix.

In the spirit of Glawe et al., New J. Phys. 18, 093011 (2016), who ordered the rows and
columns of a substitution matrix to reduce its bandwidth and so obtained the modified
Pettifor scale: we look for the order of the elements that puts similar elements close
together, i.e. the permutation ``pos`` that minimises the linear-arrangement cost

    cost(pos) = sum_{i<j} S_ij |pos_i - pos_j|

of a non-negative similarity ``S`` (negative similarities count as 0). Two steps:

1. spectral start: elements sorted by the Fiedler vector (second eigenvector) of the
   normalised Laplacian of ``S``, the relaxed solution of the squared-distance version;
2. local search: best-improvement moves until none improves the cost. A move swaps two
   adjacent blocks of the order (moving any block anywhere, ``X A B Y -> X B A Y``) or
   reverses a block; every candidate's change of cost is computed exactly in O(1) from 2D
   prefix sums, so all ~n^3/6 moves are scored at every step.

A few random starts (seeded) are refined the same way and the lowest cost wins, so the
result is deterministic for a given ``seed``. The orientation of a 1D ordering is arbitrary;
compare it to a reference with :func:`oriented_spearman`, which takes the sign that
correlates positively and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

__all__ = [
    "SeriationResult",
    "arrangement_cost",
    "oriented_spearman",
    "refine_order",
    "seriate",
    "spectral_order",
]


def _check_similarity(similarity: pd.DataFrame) -> np.ndarray:
    if not isinstance(similarity, pd.DataFrame):
        raise TypeError(f"similarity must be a labelled square DataFrame, got {type(similarity).__name__}")
    n = similarity.shape[0]
    if similarity.shape != (n, n) or list(similarity.index) != list(similarity.columns):
        raise ValueError(
            f"similarity must be square with the same labels on rows and columns, got shape {similarity.shape}"
        )
    if n < 3:
        raise ValueError(f"seriation needs at least 3 elements, got {n}")
    if similarity.index.has_duplicates:
        raise ValueError(
            f"similarity has duplicate labels: {sorted(set(similarity.index[similarity.index.duplicated()]))}"
        )
    values = similarity.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("similarity has NaN or infinite values")
    if not np.allclose(values, values.T, rtol=1e-9, atol=1e-12):
        raise ValueError("similarity must be symmetric")
    weights = np.clip((values + values.T) / 2, 0.0, None)
    np.fill_diagonal(weights, 0.0)
    isolated = np.flatnonzero(weights.sum(axis=1) == 0)
    if isolated.size:
        raise ValueError(
            f"{isolated.size} element(s) have no positive similarity to any other, so their place in an "
            f"ordering is undefined; leave them out: {', '.join(map(str, similarity.index[isolated]))}"
        )
    return weights


def arrangement_cost(similarity: pd.DataFrame, order) -> float:
    """``sum_{i<j} S_ij |pos_i - pos_j|`` of an ordering (labels of ``similarity``, first to last)."""
    weights = _check_similarity(similarity)
    index = similarity.index.get_indexer(list(order))
    if (index < 0).any() or len(set(index)) != len(index) or len(index) != len(weights):
        raise ValueError("order must list every label of the similarity exactly once")
    return _cost(weights, index)


def _cost(weights: np.ndarray, order: np.ndarray) -> float:
    n = len(order)
    ordered = weights[np.ix_(order, order)]
    gaps = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return float((ordered * gaps).sum() / 2)


def spectral_order(similarity: pd.DataFrame) -> list:
    """Labels sorted by the Fiedler vector of the normalised Laplacian of ``similarity``.

    Ties and the sign of the eigenvector are fixed (largest-magnitude component positive,
    stable sort), so the result is deterministic.
    """
    weights = _check_similarity(similarity)
    return list(similarity.index[_spectral(weights)])


def _spectral(weights: np.ndarray) -> np.ndarray:
    degree = weights.sum(axis=1)
    inv_sqrt = 1.0 / np.sqrt(degree)
    laplacian = np.eye(len(weights)) - inv_sqrt[:, None] * weights * inv_sqrt[None, :]
    _, vectors = np.linalg.eigh(laplacian)
    fiedler = vectors[:, 1] * inv_sqrt  # back to the random-walk form: smoother along chains
    if fiedler[np.argmax(np.abs(fiedler))] < 0:
        fiedler = -fiedler
    return np.argsort(fiedler, kind="stable")


@lru_cache(maxsize=8)
def _moves(n: int) -> tuple[np.ndarray, ...]:
    """Index arrays of every block swap (i < j < k) and block reversal (j - i >= 2)."""
    i, j, k = np.meshgrid(np.arange(n + 1), np.arange(n + 1), np.arange(n + 1), indexing="ij", sparse=False)
    keep = (i < j) & (j < k)
    ti, tj, tk = i[keep], j[keep], k[keep]
    ri, rj = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = (rj - ri) >= 2
    return ti, tj, tk, ri[keep], rj[keep]


def _block(table: np.ndarray, r0, r1, c0, c1) -> np.ndarray:
    return table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]


def _refine(weights: np.ndarray, order: np.ndarray, *, max_moves: int) -> tuple[np.ndarray, float, int]:
    n = len(order)
    ti, tj, tk, ri, rj = _moves(n)
    a, b = tj - ti, tk - tj
    columns = np.arange(n, dtype=np.float64)
    cost = _cost(weights, order)
    for move in range(max_moves):
        ordered = weights[np.ix_(order, order)]
        # P: 2D prefix sums of the ordered weights; Q: the same weighted by column position.
        P = np.zeros((n + 1, n + 1))
        P[1:, 1:] = ordered.cumsum(0).cumsum(1)
        Q = np.zeros((n + 1, n + 1))
        Q[1:, 1:] = (ordered * columns[None, :]).cumsum(0).cumsum(1)
        # Swap A = [i, j) and B = [j, k): A moves right by |B|, B moves left by |A|.
        a_left, a_right = _block(P, ti, tj, 0, ti), _block(P, ti, tj, tk, n)
        b_left, b_right = _block(P, tj, tk, 0, ti), _block(P, tj, tk, tk, n)
        a_b = _block(P, ti, tj, tj, tk)
        a_b_distance = _block(Q, ti, tj, tj, tk) - _block(Q, tj, tk, ti, tj)
        swap = b * (a_left - a_right) + a * (b_right - b_left) + (a + b) * a_b - 2 * a_b_distance
        # Reverse [i, j): position p goes to i + j - 1 - p; pairs inside keep their distance.
        r_left, r_right = _block(P, ri, rj, 0, ri), _block(P, ri, rj, rj, n)
        q_left, q_right = _block(Q, 0, ri, ri, rj), _block(Q, rj, n, ri, rj)
        reverse = (ri + rj - 1) * (r_left - r_right) - 2 * (q_left - q_right)
        best_swap, best_reverse = int(np.argmin(swap)), int(np.argmin(reverse))
        threshold = -1e-12 * max(abs(cost), 1.0)  # round-off must not loop forever
        if min(swap[best_swap], reverse[best_reverse]) >= threshold:
            return order, _cost(weights, order), move
        if swap[best_swap] <= reverse[best_reverse]:
            i, j, k = ti[best_swap], tj[best_swap], tk[best_swap]
            order = np.concatenate([order[:i], order[j:k], order[i:j], order[k:]])
        else:
            i, j = ri[best_reverse], rj[best_reverse]
            order = np.concatenate([order[:i], order[i:j][::-1], order[j:]])
        cost = _cost(weights, order)
    return order, cost, max_moves


def refine_order(similarity: pd.DataFrame, order, *, max_moves: int = 20_000) -> list:
    """Local search from ``order`` (labels) to a local minimum of :func:`arrangement_cost`."""
    weights = _check_similarity(similarity)
    index = similarity.index.get_indexer(list(order))
    if (index < 0).any() or len(set(index)) != len(index) or len(index) != len(weights):
        raise ValueError("order must list every label of the similarity exactly once")
    refined, _, _ = _refine(weights, index, max_moves=max_moves)
    return list(similarity.index[refined])


@dataclass(frozen=True)
class SeriationResult:
    """A learned 1D ordering.

    Attributes
    ----------
    order : tuple
        Labels from first to last.
    positions : Series
        Position (0 .. n-1) of every label, indexed like the input similarity.
    cost : float
        :func:`arrangement_cost` of ``order``.
    spectral_cost : float
        Cost of the spectral start before refinement.
    start : str
        Which start won: ``"spectral"`` or ``"random <r>"``.
    n_moves : int
        Improving moves applied from the winning start.
    starts : tuple of (str, float, tuple)
        Every start's name, refined cost and refined order (labels), spectral first: how
        often the starts agree tells how robust the winning order is.
    """

    order: tuple
    positions: pd.Series
    cost: float
    spectral_cost: float
    start: str
    n_moves: int
    starts: tuple = ()


def seriate(
    similarity: pd.DataFrame, *, n_random_starts: int = 4, seed: int = 0, max_moves: int = 20_000
) -> SeriationResult:
    """The 1D ordering of the labels of ``similarity`` with the lowest cost found.

    Parameters
    ----------
    similarity : DataFrame of shape (n, n)
        Symmetric, labelled the same on both axes (e.g. element cosines). Negative values
        count as zero; every label needs a positive similarity to some other label.
    n_random_starts : int, keyword-only
        Random permutations refined besides the spectral start (seeded by ``seed``).
    seed : int, keyword-only
    max_moves : int, keyword-only
        Cap on improving moves per start (a safety net; never reached in practice).

    Returns
    -------
    SeriationResult

    Raises
    ------
    TypeError, ValueError
        Not a labelled square symmetric finite matrix, fewer than 3 labels, or an isolated label.
    """
    if n_random_starts < 0:
        raise ValueError(f"n_random_starts must be >= 0, got {n_random_starts}")
    weights = _check_similarity(similarity)
    start = _spectral(weights)
    spectral_cost = _cost(weights, start)
    best_order, best_cost, best_moves = _refine(weights, start, max_moves=max_moves)
    best_start = "spectral"
    starts = [("spectral", float(best_cost), tuple(similarity.index[best_order]))]
    rng = np.random.default_rng(seed)
    for attempt in range(n_random_starts):
        order, cost, moves = _refine(weights, rng.permutation(len(weights)), max_moves=max_moves)
        starts.append((f"random {attempt}", float(cost), tuple(similarity.index[order])))
        if cost < best_cost * (1 - 1e-12):
            best_order, best_cost, best_moves, best_start = order, cost, moves, f"random {attempt}"
    labels = similarity.index[best_order]
    positions = pd.Series(np.arange(len(labels)), index=labels, name="position").reindex(similarity.index)
    return SeriationResult(
        order=tuple(labels),
        positions=positions,
        cost=float(best_cost),
        spectral_cost=float(spectral_cost),
        start=best_start,
        n_moves=int(best_moves),
        starts=tuple(starts),
    )


def oriented_spearman(positions: pd.Series, reference: pd.Series) -> dict:
    """Spearman correlation of an ordering with a reference scale, in the positive orientation.

    A 1D ordering read backwards is the same ordering, so the sign is arbitrary: the
    ordering is reversed when that makes the correlation positive, and ``reversed`` says so.

    Parameters
    ----------
    positions : Series
        label -> position of the learned ordering.
    reference : Series
        label -> position on the reference scale (e.g. the modified Pettifor scale).

    Returns
    -------
    dict
        ``rho`` (>= 0, NaN when undefined), ``raw_rho`` (before orientation), ``reversed``
        (bool), ``n_elements`` (labels in both), ``only_in_ordering``, ``only_in_reference``
        (lists of labels left out).
    """
    positions = pd.Series(positions, dtype=np.float64).dropna()
    reference = pd.Series(reference, dtype=np.float64).dropna()
    common = [label for label in positions.index if label in reference.index]
    result = {
        "n_elements": len(common),
        "only_in_ordering": [label for label in positions.index if label not in reference.index],
        "only_in_reference": [label for label in reference.index if label not in positions.index],
    }
    if len(common) < 3:
        raise ValueError(f"only {len(common)} labels are in both the ordering and the reference; need at least 3")
    left, right = positions[common].to_numpy(), reference[common].to_numpy()
    raw = float("nan") if np.ptp(left) == 0 or np.ptp(right) == 0 else float(spearmanr(left, right).statistic)
    result.update(raw_rho=raw, rho=abs(raw), reversed=bool(raw < 0))
    return result
