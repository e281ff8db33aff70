"""``PettiforEmbedding``: the composition fingerprint as a scikit-learn style estimator."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .composition import composition_fingerprints
from .counts import SubstitutionCounts
from .elements import MAX_Z, SYMBOLS
from .embedding import check_variant, cosine_matrix, element_vectors, elements_without_data
from .formula import FormulaBatch, parse_formulas
from .io import atomic_write

FORMAT_NAME = "chemmap.PettiforEmbedding"
FORMAT_VERSION = 1


class PettiforEmbedding(BaseEstimator):
    """Non-orthogonal element embedding and composition fingerprints (arXiv 2406.19761).

    Parameters
    ----------
    variant : {"corrected", "published-2024"}, keyword-only
        Recipe variant used by :meth:`fit`.
    normalize : bool, keyword-only
        Put fingerprints on the unit sphere (default, as in the paper) or keep them raw.

    Attributes
    ----------
    element_vectors_ : DataFrame of shape (98, 98)
        Element vectors, rows and columns labelled H..Cf.
    cosines_ : DataFrame of shape (98, 98)
        Gram matrix of the element vectors.
    elements_without_data_ : list of str
        Elements whose vector is zero (no substitution data); compositions made only of them
        get a zero fingerprint.
    source_ : str
        Provenance of the counts or table the estimator was fitted on.
    """

    def __init__(self, *, variant: str = "corrected", normalize: bool = True):
        self.variant = variant
        self.normalize = normalize

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, counts: SubstitutionCounts, y=None) -> "PettiforEmbedding":
        """Build the element vectors from substitution counts. ``y`` is ignored."""
        if not isinstance(counts, SubstitutionCounts):
            raise TypeError(f"fit expects SubstitutionCounts, got {type(counts).__name__}")
        check_variant(self.variant)
        self._set_vectors(element_vectors(counts, variant=self.variant), counts.source)
        self.counts_notes_ = list(counts.notes)
        return self

    @classmethod
    def from_vectors(cls, vectors: pd.DataFrame | np.ndarray, *, normalize: bool = True, source: str = "element table", variant: str = "unknown") -> "PettiforEmbedding":
        """An already-fitted estimator from a (98, 98) element-vector table."""
        values = np.asarray(vectors, dtype=np.float64)
        if values.shape != (MAX_Z, MAX_Z):
            raise ValueError(f"element vectors must have shape ({MAX_Z}, {MAX_Z}), got {values.shape}")
        estimator = cls(normalize=normalize)
        estimator.variant = variant
        frame = pd.DataFrame(values, index=pd.Index(SYMBOLS, name="element"), columns=list(SYMBOLS))
        estimator._set_vectors(frame, source)
        estimator.counts_notes_ = []
        return estimator

    def _set_vectors(self, vectors: pd.DataFrame, source: str) -> None:
        self.element_vectors_ = vectors
        self.cosines_ = cosine_matrix(vectors)
        self.elements_without_data_ = elements_without_data(vectors)
        self.source_ = source
        self.n_features_out_ = MAX_Z

    def _check_fitted(self) -> None:
        if not hasattr(self, "element_vectors_"):
            raise NotFittedError("PettiforEmbedding is not fitted: call fit(counts) or load(path) first")

    # -- transforming ----------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Fingerprints of compositions.

        Parameters
        ----------
        X : iterable of str of length n, or matrix of shape (n, 98)
            Formulas, or atomic fractions in Z order (sparse or dense).

        Returns
        -------
        ndarray of shape (n, 98)

        Raises
        ------
        ValueError
            If any formula is invalid; the message lists the failing rows. Use
            :meth:`transform_formulas` to get fingerprints and per-row errors instead.
        """
        self._check_fitted()
        if sp.issparse(X) or (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "fiu"):
            return composition_fingerprints(X, self.element_vectors_, normalize=self.normalize)
        fingerprints, batch = self.transform_formulas(X)
        if batch.n_failed:
            failures = batch.failures().head(5)
            listed = "; ".join(f"row {r.row}: {r.error}" for r in failures.itertuples())
            raise ValueError(f"{batch.n_failed} of {len(batch.errors)} formulas are invalid: {listed}")
        return fingerprints

    def transform_formulas(self, formulas) -> tuple[np.ndarray, FormulaBatch]:
        """Fingerprints of formulas plus the parse result; invalid rows get zero fingerprints.

        Returns
        -------
        fingerprints : ndarray of shape (n, 98)
        batch : FormulaBatch
            ``batch.errors[i]`` is "" for a valid row, else the reason row i failed.
        """
        self._check_fitted()
        batch = parse_formulas(formulas)
        return composition_fingerprints(batch.fractions, self.element_vectors_, normalize=self.normalize), batch

    def fit_transform(self, counts: SubstitutionCounts, X) -> np.ndarray:
        """``fit(counts)`` then ``transform(X)``: counts and compositions are different inputs."""
        return self.fit(counts).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"pettifor_{symbol}" for symbol in SYMBOLS], dtype=object)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted estimator to one JSON file (atomically), with its provenance."""
        self._check_fitted()
        versions = {}
        for package in ("numpy", "scipy", "pandas", "scikit-learn"):
            try:
                versions[package] = importlib_metadata.version(package)
            except importlib_metadata.PackageNotFoundError:
                versions[package] = None
        document = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "variant": self.variant,
            "normalize": bool(self.normalize),
            "source": self.source_,
            "notes": list(getattr(self, "counts_notes_", [])),
            "elements_without_data": self.elements_without_data_,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "versions": versions,
            "symbols": list(SYMBOLS),
            # repr of a float round-trips exactly through JSON.
            "element_vectors": self.element_vectors_.to_numpy().tolist(),
        }
        return atomic_write(path, json.dumps(document, indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PettiforEmbedding":
        """Read an estimator written by :meth:`save`; validates format and shape."""
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"embedding file {path} does not exist") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"embedding file {path} is not valid JSON: {err}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise ValueError(f"embedding file {path} was not written by PettiforEmbedding.save")
        if document.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"embedding file {path} has format version {document.get('format_version')}, expected {FORMAT_VERSION}")
        if document.get("symbols") != list(SYMBOLS):
            raise ValueError(f"embedding file {path} does not cover the elements H..Cf in Z order")
        estimator = cls.from_vectors(
            np.asarray(document["element_vectors"], dtype=np.float64),
            normalize=bool(document["normalize"]),
            source=document.get("source", str(path)),
            variant=document.get("variant", "unknown"),
        )
        estimator.counts_notes_ = list(document.get("notes", []))
        estimator.metadata_ = {k: v for k, v in document.items() if k != "element_vectors"}
        return estimator
