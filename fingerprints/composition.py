"""Composition fingerprints: fraction-weighted sums of element vectors, and their neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .elements import MAX_Z


def _as_matrix(vectors: pd.DataFrame | np.ndarray) -> np.ndarray:
    e = np.asarray(vectors, dtype=np.float64)
    if e.shape != (MAX_Z, MAX_Z):
        raise ValueError(f"element vectors must have shape ({MAX_Z}, {MAX_Z}), got {e.shape}")
    if not np.isfinite(e).all():
        bad = np.flatnonzero(~np.isfinite(e).all(axis=1))
        raise ValueError(f"element vectors hold NaN or infinite values (rows {', '.join(map(str, bad[:5] + 1))} by Z)")
    return e


def _check_fractions(fractions: sp.csr_matrix | np.ndarray) -> None:
    """Fractions must be finite and non-negative: a NaN would silently poison a fingerprint."""
    values = fractions.data if sp.issparse(fractions) else fractions
    if values.size == 0:
        return
    low, high = values.min(), values.max()  # NaN propagates: no temporary arrays on the good path
    if np.isfinite(low) and np.isfinite(high) and low >= 0:
        return
    bad = ~np.isfinite(values) | (values < 0)
    if sp.issparse(fractions):
        rows = np.unique(np.repeat(np.arange(fractions.shape[0]), np.diff(fractions.indptr))[bad])
    else:
        rows = np.flatnonzero(bad.any(axis=1))
    raise ValueError(
        f"fractions must be finite and non-negative; {len(rows)} row(s) are not (rows {', '.join(map(str, rows[:5]))})"
    )


def normalize_rows(fingerprints: np.ndarray) -> np.ndarray:
    """Scale rows to unit L2 norm in place; all-zero rows (failed formulas) stay zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", fingerprints, fingerprints))
    nonzero = norms > 0
    fingerprints[nonzero] /= norms[nonzero, None]
    return fingerprints


def composition_fingerprints(
    fractions: sp.spmatrix | sp.sparray | np.ndarray,
    vectors: pd.DataFrame | np.ndarray,
    *,
    normalize: bool = True,
) -> np.ndarray:
    """Fingerprints ``v = sum_A x_A e_A`` of compositions given as atomic fractions.

    Parameters
    ----------
    fractions : sparse matrix or ndarray of shape (n_compositions, 98)
        Atomic fractions in Z order (rows sum to 1; all-zero rows give zero fingerprints).
    vectors : DataFrame or ndarray of shape (98, 98)
        Element vectors, row Z - 1 for element Z.
    normalize : bool, keyword-only
        ``True`` (default) puts fingerprints on the unit sphere as in the paper; ``False``
        keeps ``v`` unnormalised, as the authors' notebook did.

    Returns
    -------
    ndarray of shape (n_compositions, 98), float64
    """
    e = _as_matrix(vectors)
    if fractions.shape[1:] != (MAX_Z,):
        raise ValueError(f"fractions must have shape (n, {MAX_Z}), got {fractions.shape}")
    if sp.issparse(fractions):
        csr = sp.csr_matrix(fractions)
        _check_fractions(csr)
        result = np.asarray(csr @ e)
    else:
        dense = np.asarray(fractions, dtype=np.float64)
        _check_fractions(dense)
        result = dense @ e
    result = np.ascontiguousarray(result, dtype=np.float64)
    return normalize_rows(result) if normalize else result


def nearest_compositions(
    query: np.ndarray,
    reference: np.ndarray,
    *,
    k: int = 10,
    chunk_size: int = 2048,
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest reference fingerprints (Euclidean) of every query fingerprint.

    Brute force in chunks of queries, so memory stays at ``chunk_size x n_reference``.

    Parameters
    ----------
    query : ndarray of shape (n_query, d)
    reference : ndarray of shape (n_reference, d)
    k : int, keyword-only
        Neighbours per query (capped at n_reference, or n_reference - 1 with exclude_self).
    exclude_self : bool, keyword-only
        When query is reference, skip each row's own index.

    Returns
    -------
    distances : ndarray of shape (n_query, k), ascending
    indices : ndarray of shape (n_query, k), rows of ``reference``
    """
    query = np.atleast_2d(np.asarray(query, dtype=np.float64))
    reference = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    if query.shape[1] != reference.shape[1]:
        raise ValueError(f"query has {query.shape[1]} components but reference has {reference.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_ref = reference.shape[0]
    k = min(k, n_ref - 1 if exclude_self else n_ref)
    if k < 1:
        raise ValueError("reference set is too small for any neighbour")
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    all_dist = np.empty((query.shape[0], k))
    all_idx = np.empty((query.shape[0], k), dtype=np.int64)
    for start in range(0, query.shape[0], chunk_size):
        block = query[start : start + chunk_size]
        sq = np.einsum("ij,ij->i", block, block)[:, None] + ref_sq[None, :] - 2.0 * (block @ reference.T)
        np.maximum(sq, 0.0, out=sq)
        if exclude_self:
            rows = np.arange(block.shape[0])
            sq[rows, start + rows] = np.inf
        part = np.argpartition(sq, k - 1, axis=1)[:, :k]
        part_sq = np.take_along_axis(sq, part, axis=1)
        order = np.lexsort((part, part_sq), axis=1)  # ties broken by index, deterministic
        idx = np.take_along_axis(part, order, axis=1)
        # Recompute the chosen distances directly: the expanded form loses digits near zero.
        diff = block[:, None, :] - reference[idx]
        all_dist[start : start + block.shape[0]] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        all_idx[start : start + block.shape[0]] = idx
    return all_dist, all_idx
