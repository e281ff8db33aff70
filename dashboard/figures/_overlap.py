"""Overlap removal for square tiles placed at learned 2D positions.

Tiles of side ``side`` centred at ``xy`` overlap when both ``|dx|`` and ``|dy|`` are below
``side`` (the Chebyshev distance of their centres is below ``side``). :func:`separate_squares`
pushes every overlapping pair apart along the line joining their centres, just far enough for
that pair, all pairs at once (vectorised), and repeats until no pair overlaps. Pushing along
the centre line keeps each tile's direction from its neighbours, so the learned geometry
survives: tiles only spread out where they were crowded.

Deterministic: no random numbers; tiles at exactly the same place are told apart by a fixed
direction per index (golden-angle spiral).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Iterations of pairwise pushes before the guaranteed fallback (uniform spreading).
MAX_ITERATIONS = 1500
#: Tiles may come this close to touching (relative to their side) and still count as apart.
TOLERANCE = 1e-9
_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


def overlapping_pairs(xy: np.ndarray, side: float) -> np.ndarray:
    """Index pairs ``(i, j)``, ``i < j``, of squares of side ``side`` at ``xy`` that overlap."""
    xy = np.asarray(xy, dtype=np.float64)
    gap = np.abs(xy[:, None, :] - xy[None, :, :]).max(axis=-1)
    i, j = np.nonzero(np.triu(gap < side * (1 - TOLERANCE), k=1))
    return np.column_stack([i, j])


def separate_squares(xy, *, side: float = 1.0, max_iterations: int = MAX_ITERATIONS) -> np.ndarray:
    """Positions near ``xy`` at which no two squares of side ``side`` overlap.

    Parameters
    ----------
    xy : array-like of shape (n, 2)
        Square centres (finite).
    side : float, keyword-only
        Side of every square, in the units of ``xy``.
    max_iterations : int, keyword-only
        Rounds of pairwise pushes; should they not suffice (never seen in practice), the
        positions are spread uniformly about their centre until nothing overlaps.

    Returns
    -------
    ndarray of shape (n, 2)
        New centres; ``xy`` itself is not modified. Squares that did not overlap anything
        and were not pushed by a neighbour keep their place.
    """
    return _separate(np.ascontiguousarray(xy, dtype=np.float64).tobytes(), len(xy), float(side), int(max_iterations)).copy()


@lru_cache(maxsize=32)
def _separate(key: bytes, n: int, side: float, max_iterations: int) -> np.ndarray:
    """Cached by the input bytes: the periodic table is redrawn often with the same map."""
    position = np.frombuffer(key, dtype=np.float64).reshape(n, 2).copy()
    if side <= 0 or not np.isfinite(side):
        raise ValueError(f"side must be a positive number, got {side}")
    if not np.isfinite(position).all():
        raise ValueError("tile positions must be finite")
    if n < 2:
        return position
    index = np.arange(n)
    tie_direction = np.column_stack([np.cos(index * _GOLDEN_ANGLE), np.sin(index * _GOLDEN_ANGLE)])
    for _ in range(max_iterations):
        delta = position[:, None, :] - position[None, :, :]
        gap = np.abs(delta).max(axis=-1)
        np.fill_diagonal(gap, np.inf)
        overlap = gap < side * (1 - TOLERANCE)
        if not overlap.any():
            return position
        same = gap < side * 1e-6
        if same.any():  # no centre line to push along: a fixed direction per tile
            fallback = (tie_direction[:, None, :] - tie_direction[None, :, :]) * side * 1e-3
            delta = np.where(same[..., None], fallback, delta)
            gap = np.where(same, np.abs(delta).max(axis=-1), gap)
        # Each tile of an overlapping pair moves half the way to a Chebyshev distance of `side`.
        stretch = np.where(overlap, side / np.maximum(gap, 1e-12) - 1.0, 0.0)
        position = position + (delta * stretch[..., None]).sum(axis=1) / 2
    # Fallback: spreading every position uniformly about the centre ends every overlap.
    centre = position.mean(axis=0)
    for _ in range(64):
        gap = np.abs(position[:, None, :] - position[None, :, :]).max(axis=-1)
        np.fill_diagonal(gap, np.inf)
        closest = float(gap.min())
        if closest >= side * (1 - TOLERANCE):
            break
        position = centre + (position - centre + tie_direction * side * 1e-3) * (side / max(closest, side * 1e-3))
    return position
