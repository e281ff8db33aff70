"""Element-substitution statistics: the input of the Pettifor embedding."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .elements import MAX_Z, SYMBOLS


@dataclass(frozen=True)
class SubstitutionCounts:
    """How often elements substitute for each other, over elements Z = 1..98.

    Parameters
    ----------
    pair_counts : ndarray of shape (98, 98)
        ``pair_counts[a, b]`` = times element a was found substituting element b in the same
        structure type. Symmetric, non-negative, zero diagonal.
    element_counts : ndarray of shape (98,)
        Number of compounds containing each element.
    source : str
        Where the counts come from (a path, a URL or a dataset name), kept as provenance.
    """

    pair_counts: np.ndarray
    element_counts: np.ndarray
    source: str = "unknown"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        pair = np.asarray(self.pair_counts, dtype=np.float64)
        single = np.asarray(self.element_counts, dtype=np.float64)
        if pair.shape != (MAX_Z, MAX_Z):
            raise ValueError(
                f"substitution counts from {self.source}: pair_counts must have shape "
                f"({MAX_Z}, {MAX_Z}), got {pair.shape}"
            )
        if single.shape != (MAX_Z,):
            raise ValueError(
                f"substitution counts from {self.source}: element_counts must have shape "
                f"({MAX_Z},), got {single.shape}"
            )
        for name, values in (("pair_counts", pair), ("element_counts", single)):
            if not np.all(np.isfinite(values)):
                raise ValueError(f"substitution counts from {self.source}: {name} has NaN or inf")
            if np.any(values < 0):
                raise ValueError(f"substitution counts from {self.source}: {name} has negative values")
        if not np.array_equal(pair, pair.T):
            worst = np.unravel_index(np.argmax(np.abs(pair - pair.T)), pair.shape)
            a, b = (SYMBOLS[i] for i in worst)
            raise ValueError(
                f"substitution counts from {self.source}: pair_counts must be symmetric, "
                f"but {a}-{b} is {pair[worst]:g} and {b}-{a} is {pair.T[worst]:g}"
            )
        if np.any(np.diag(pair) != 0):
            raise ValueError(
                f"substitution counts from {self.source}: pair_counts must have a zero diagonal "
                "(self-counts belong in element_counts)"
            )
        pair.setflags(write=False)
        single.setflags(write=False)
        object.__setattr__(self, "pair_counts", pair)
        object.__setattr__(self, "element_counts", single)

    @property
    def elements_without_data(self) -> list[str]:
        """Symbols of elements with no substitution and no compound count."""
        empty = (self.element_counts == 0) & (self.pair_counts.sum(axis=1) == 0)
        return [SYMBOLS[i] for i in np.flatnonzero(empty)]
