"""Element vectors of the Pettifor embedding (Cerqueira, Wang, Botti, Marques, arXiv 2406.19761).

The recipe (REFERENCE.md section 1): ``M = N + diag(n)``; normalise rows to unit L2 norm;
take the element-wise square root; normalise rows again. Rows of elements without data stay
zero. The ``published-2024`` variant keeps only the lower triangle of M (diagonal included),
which reproduces the file the authors released in 2024.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from .counts import SubstitutionCounts
from .elements import SYMBOLS

Variant = Literal["corrected", "published-2024"]
VARIANTS: tuple[str, ...] = ("corrected", "published-2024")


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # Zero rows (elements without data) must stay zero instead of becoming NaN.
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return variant


def element_vector_array(counts: SubstitutionCounts, *, variant: Variant = "corrected") -> np.ndarray:
    """Element vectors as a plain array.

    Returns
    -------
    ndarray of shape (98, 98)
        Row ``Z - 1`` is the unit vector of element Z (zero for elements without data).
    """
    check_variant(variant)
    m = counts.pair_counts + np.diag(counts.element_counts)
    if variant == "published-2024":
        m = np.tril(m)
    return _normalize_rows(np.sqrt(_normalize_rows(m)))


def element_vectors(counts: SubstitutionCounts, *, variant: Variant = "corrected") -> pd.DataFrame:
    """Element vectors of the Pettifor embedding, labelled by element symbol.

    Parameters
    ----------
    counts : SubstitutionCounts
        Pair and element counts over Z = 1..98.
    variant : {"corrected", "published-2024"}, keyword-only
        ``corrected`` follows the published recipe; ``published-2024`` reproduces the
        released 2024 file (lower triangle of M only).

    Returns
    -------
    DataFrame of shape (98, 98)
        Index and columns are the element symbols in Z order.
    """
    vectors = element_vector_array(counts, variant=variant)
    return pd.DataFrame(vectors, index=pd.Index(SYMBOLS, name="element"), columns=list(SYMBOLS))


def cosine_matrix(vectors: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Gram matrix ``G = E E^T``: cosines of the angles between element axes.

    Returns
    -------
    DataFrame of shape (98, 98)
        Symmetric, positive semi-definite; zero rows and columns for elements without data.
    """
    e = np.asarray(vectors, dtype=np.float64)
    gram = e @ e.T
    gram = (gram + gram.T) / 2  # exact symmetry despite round-off
    return pd.DataFrame(gram, index=pd.Index(SYMBOLS, name="element"), columns=list(SYMBOLS))


def elements_without_data(vectors: pd.DataFrame | np.ndarray) -> list[str]:
    """Symbols whose element vector is all zeros (no substitution data)."""
    e = np.asarray(vectors, dtype=np.float64)
    return [SYMBOLS[i] for i in np.flatnonzero(~np.any(e != 0, axis=1))]


def most_similar(cosines: pd.DataFrame, symbol: str, *, top: int = 10) -> pd.Series:
    """The ``top`` elements most similar to ``symbol`` (itself excluded), highest cosine first."""
    if symbol not in cosines.index:
        raise KeyError(f"unknown element {symbol!r}: expected one of H..Cf")
    row = cosines.loc[symbol].drop(symbol)
    return row.sort_values(ascending=False, kind="stable").head(top)
