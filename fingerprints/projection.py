"""2D projections of element vectors and composition fingerprints (UMAP, PCA, t-SNE, MDS).

One small estimator class per method, all with the same scikit-learn style interface:
``fit(X)``, ``transform(X)``, ``fit_transform(X)``, ``get_params()`` and, once fitted,
``embedding_`` (the 2D positions of the fitted points) and ``params_`` (a JSON-ready dict
with the method, its parameters and the library versions, to store next to a map).

Out-of-sample placement: UMAP and PCA have their own ``transform``. t-SNE and MDS have none;
their ``transform`` places a new point at the inverse-distance weighted average of the 2D
positions of its ``placement_neighbors`` nearest fitted points in the original space (an
exact copy of a fitted point lands exactly on that point). This is an interpolation, not a
re-optimisation: it cannot put a point outside the region spanned by its neighbours.

Determinism: the same inputs and the same integer ``random_state`` give the same map. UMAP
with a ``random_state`` runs single-threaded (umap-learn forces ``n_jobs=1`` for
reproducibility); ``random_state=None`` lets it use every core but the map then changes from
run to run.

``element_map`` and ``compound_map`` are the two entry points the app uses.
"""

from __future__ import annotations

import platform
from importlib import metadata as importlib_metadata
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from .elements import MAX_Z, SYMBOLS

ELEMENT_METHODS: tuple[str, ...] = ("umap", "mds", "pca", "tsne")
COMPOUND_METHODS: tuple[str, ...] = ("umap", "pca", "tsne")

#: The paper's UMAP settings (umap-learn defaults plus the seed the authors used).
PAPER_RANDOM_STATE = 124

#: MDS holds an (n, n) distance matrix and scales badly; it is meant for the 98 elements.
MDS_MAX_SAMPLES = 5000

_COMMON_PACKAGES = ("numpy", "scipy", "scikit-learn")
_UMAP_PACKAGES = ("umap-learn", "pynndescent", "numba")


def library_versions(packages=_COMMON_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None when a package is missing) plus Python's."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _as_2d_float(X, *, name: str = "X") -> np.ndarray:
    if hasattr(X, "toarray"):  # scipy sparse
        X = X.toarray()
    try:
        array = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric array, got {type(X).__name__}: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (n_samples, n_features), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"{name} has {bad_rows.size} row(s) with NaN or infinite values (first: row {bad_rows[0]})"
        )
    return array


def _check_random_state(random_state) -> None:
    # An integer (or None) keeps params_ JSON-ready and makes "same seed, same map" checkable.
    if random_state is not None and not (isinstance(random_state, Integral) and not isinstance(random_state, bool)):
        raise ValueError(f"random_state must be an integer or None, got {random_state!r}")


class _Projector(TransformerMixin, BaseEstimator):
    """Shared plumbing: input checks, fitted-state checks and the ``params_`` metadata."""

    method: str = ""
    _packages: tuple[str, ...] = _COMMON_PACKAGES
    _min_samples: int = 2

    def fit(self, X, y=None) -> "_Projector":
        """Learn the 2D map of ``X`` (n_samples, n_features). ``y`` is ignored."""
        X = _as_2d_float(X)
        if X.shape[0] < self._min_samples:
            raise ValueError(f"{self.method} needs at least {self._min_samples} samples, got {X.shape[0]}")
        _check_random_state(getattr(self, "random_state", None))
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        self.embedding_ = np.ascontiguousarray(self._fit(X), dtype=np.float64)
        self.params_ = {
            "method": self.method,
            "params": self.get_params(),
            "effective": self._effective_params(),
            "n_samples_fit": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "versions": library_versions(self._packages),
        }
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit and return the 2D positions of the fitted points, shape (n_samples, 2)."""
        return self.fit(X).embedding_.copy()

    def transform(self, X) -> np.ndarray:
        """2D positions of new points, shape (n_samples, 2), on the fitted map."""
        if not hasattr(self, "embedding_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")
        X = _as_2d_float(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but the {self.method} map was fitted on {self.n_features_in_}"
            )
        return np.asarray(self._transform(X), dtype=np.float64)

    # -- hooks -------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _effective_params(self) -> dict:
        """Settings that differ from ``get_params()`` once the library has had its say."""
        return {}


class _NeighbourPlacement:
    """Out-of-sample placement for methods without a transform (t-SNE, MDS).

    A new point goes to the inverse-distance weighted mean of the 2D positions of its
    ``placement_neighbors`` nearest fitted points in the original space. A point at zero
    distance from fitted points (a copy) goes to the mean position of those copies.
    """

    def _remember_training_data(self, X: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        k = int(self.placement_neighbors)
        if k < 1:
            raise ValueError(f"placement_neighbors must be >= 1, got {self.placement_neighbors!r}")
        self._placement_index = NearestNeighbors(n_neighbors=min(k, X.shape[0]), metric=self.metric).fit(X)

    def _place(self, X: np.ndarray) -> np.ndarray:
        distances, indices = self._placement_index.kneighbors(X)
        # A copy's distance is zero up to round-off, which for brute-force Euclidean search
        # (|x|^2 - 2 x.y + |y|^2) is about sqrt(eps) times the vectors' norm.
        tolerance = 16 * np.sqrt(np.finfo(np.float64).eps) * max(1.0, float(np.max(np.linalg.norm(X, axis=1))))
        is_copy = distances <= tolerance
        with np.errstate(divide="ignore"):
            weights = np.where(is_copy.any(axis=1, keepdims=True), is_copy.astype(np.float64), 1.0 / distances)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkj->mj", weights, self.embedding_[indices])


class UMAPProjector(_Projector):
    """UMAP (umap-learn). Defaults are the paper's: 15 neighbours, min_dist 0.1, Euclidean, seed 124.

    Parameters (all keyword-only) are passed to ``umap.UMAP`` unchanged, except ``n_jobs``:
    umap-learn forces one thread when ``random_state`` is set, so it is sent as 1 then
    (``params_["effective"]["n_jobs"]`` records what ran) to avoid umap's warning.
    """

    method = "umap"
    _packages = _COMMON_PACKAGES + _UMAP_PACKAGES
    _min_samples = 3

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        spread: float = 1.0,
        metric: str = "euclidean",
        n_epochs: int | None = None,
        learning_rate: float = 1.0,
        init: str = "spectral",
        negative_sample_rate: int = 5,
        repulsion_strength: float = 1.0,
        low_memory: bool = True,
        random_state: int | None = PAPER_RANDOM_STATE,
        n_jobs: int = -1,
        transform_seed: int = 42,
        verbose: bool = False,
    ):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.metric = metric
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.negative_sample_rate = negative_sample_rate
        self.repulsion_strength = repulsion_strength
        self.low_memory = low_memory
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.transform_seed = transform_seed
        self.verbose = verbose

    def _effective_params(self) -> dict:
        return {"n_jobs": 1 if self.random_state is not None else self.n_jobs}

    def _fit(self, X: np.ndarray) -> np.ndarray:
        import umap  # heavy import (numba), only when a UMAP map is asked for

        if not 2 <= self.n_neighbors < X.shape[0]:
            raise ValueError(
                f"n_neighbors must be between 2 and n_samples - 1 = {X.shape[0] - 1}, got {self.n_neighbors}"
            )
        self._umap = umap.UMAP(
            n_components=2,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            spread=self.spread,
            metric=self.metric,
            n_epochs=self.n_epochs,
            learning_rate=self.learning_rate,
            init=self.init,
            negative_sample_rate=self.negative_sample_rate,
            repulsion_strength=self.repulsion_strength,
            low_memory=self.low_memory,
            random_state=self.random_state,
            n_jobs=self._effective_params()["n_jobs"],
            transform_seed=self.transform_seed,
            verbose=self.verbose,
        )
        return self._umap.fit_transform(X)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._umap.transform(X)


class PCAProjector(_Projector):
    """Principal component analysis onto the first two components (scikit-learn ``PCA``).

    Attributes
    ----------
    explained_variance_ratio_ : ndarray of shape (2,)
        Share of the total variance carried by each of the two axes.
    """

    method = "pca"

    def __init__(
        self, *, whiten: bool = False, svd_solver: str = "auto", random_state: int | None = PAPER_RANDOM_STATE
    ):
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        if X.shape[1] < 2:
            raise ValueError(f"PCA to 2D needs at least 2 features, got {X.shape[1]}")
        self._pca = PCA(n_components=2, whiten=self.whiten, svd_solver=self.svd_solver, random_state=self.random_state)
        embedding = self._pca.fit_transform(X)
        self.explained_variance_ratio_ = self._pca.explained_variance_ratio_.copy()
        return embedding

    def _effective_params(self) -> dict:
        ratio = getattr(self, "explained_variance_ratio_", None)
        return {} if ratio is None else {"explained_variance_ratio": [float(r) for r in ratio]}

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._pca.transform(X)


class TSNEProjector(_NeighbourPlacement, _Projector):
    """t-SNE (scikit-learn ``TSNE``) with neighbour placement for new points (see module doc).

    ``perplexity`` must be smaller than the number of samples. Barnes-Hut t-SNE takes minutes
    beyond ~20k points on 2 cores; fit a sample and place the rest with ``transform``
    (``compound_map(..., fit_sample=...)``).
    """

    method = "tsne"

    def __init__(
        self,
        *,
        perplexity: float = 30.0,
        early_exaggeration: float = 12.0,
        learning_rate: float | str = "auto",
        max_iter: int = 1000,
        metric: str = "euclidean",
        init: str = "pca",
        angle: float = 0.5,
        random_state: int | None = PAPER_RANDOM_STATE,
        n_jobs: int | None = None,
        placement_neighbors: int = 10,
    ):
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.metric = metric
        self.init = init
        self.angle = angle
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.placement_neighbors = placement_neighbors

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.manifold import TSNE

        if not 0 < self.perplexity < X.shape[0]:
            raise ValueError(f"perplexity must be in (0, n_samples = {X.shape[0]}), got {self.perplexity}")
        self._tsne = TSNE(
            n_components=2,
            perplexity=self.perplexity,
            early_exaggeration=self.early_exaggeration,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            metric=self.metric,
            init=self.init,
            angle=self.angle,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        embedding = self._tsne.fit_transform(X)
        self._remember_training_data(X)
        return embedding

    def _effective_params(self) -> dict:
        return {"out_of_sample": "inverse-distance weighted mean of the nearest fitted points' 2D positions"}

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._place(X)


class MDSProjector(_NeighbourPlacement, _Projector):
    """Metric MDS (scikit-learn ``MDS``) on the ``metric`` distance matrix of the input.

    Meant for small sets such as the 98 element vectors (at most ``MDS_MAX_SAMPLES``).
    The default start is classical MDS (deterministic, one run); ``init="random"`` with
    ``n_init > 1`` instead keeps the best of several seeded random starts.
    """

    method = "mds"

    def __init__(
        self,
        *,
        metric: str = "euclidean",
        n_init: int = 1,
        max_iter: int = 300,
        eps: float = 1e-6,
        init: str = "classical_mds",
        random_state: int | None = PAPER_RANDOM_STATE,
        placement_neighbors: int = 5,
    ):
        self.metric = metric
        self.n_init = n_init
        self.max_iter = max_iter
        self.eps = eps
        self.init = init
        self.random_state = random_state
        self.placement_neighbors = placement_neighbors

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.manifold import MDS
        from sklearn.metrics import pairwise_distances

        if X.shape[0] > MDS_MAX_SAMPLES:
            raise ValueError(
                f"MDS is limited to {MDS_MAX_SAMPLES} samples (it holds an n x n distance matrix), got "
                f"{X.shape[0]}: use umap or pca for compound maps"
            )
        distances = pairwise_distances(X, metric=self.metric)
        self._mds = MDS(
            n_components=2,
            metric_mds=True,
            metric="precomputed",
            n_init=self.n_init,
            max_iter=self.max_iter,
            eps=self.eps,
            init=self.init,
            random_state=self.random_state,
        )
        embedding = self._mds.fit_transform(distances)
        self.stress_ = float(self._mds.stress_)
        self._remember_training_data(X)
        return embedding

    def _effective_params(self) -> dict:
        effective = {"out_of_sample": "inverse-distance weighted mean of the nearest fitted points' 2D positions"}
        if hasattr(self, "stress_"):
            effective["stress"] = self.stress_
        return effective

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._place(X)


_PROJECTORS: dict[str, type[_Projector]] = {
    "umap": UMAPProjector,
    "pca": PCAProjector,
    "tsne": TSNEProjector,
    "mds": MDSProjector,
}

#: Element-map defaults, chosen for ~95 points (see ``element_map``).
ELEMENT_DEFAULTS: dict[str, dict] = {
    "umap": {"n_neighbors": 10, "min_dist": 0.5, "metric": "cosine"},
    "tsne": {"perplexity": 10.0, "init": "pca"},
    "mds": {},
    "pca": {},
}


def make_projector(method: str = "umap", **params) -> _Projector:
    """A projector for ``method`` (one of umap, pca, tsne, mds) with keyword ``params``.

    Raises
    ------
    ValueError
        Unknown method, or a parameter that method does not take (the message lists the valid ones).
    """
    if method not in _PROJECTORS:
        raise ValueError(f"unknown projection method {method!r}: choose one of {', '.join(_PROJECTORS)}")
    cls = _PROJECTORS[method]
    valid = cls._get_param_names()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{method} does not take parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return cls(**params)


def _element_vector_array(vectors: pd.DataFrame | np.ndarray) -> np.ndarray:
    if isinstance(vectors, pd.DataFrame) and [str(s) for s in vectors.index] != list(SYMBOLS):
        raise ValueError("element vectors must be indexed by the element symbols H..Cf in Z order")
    array = np.asarray(vectors, dtype=np.float64)
    if array.shape != (MAX_Z, MAX_Z):
        raise ValueError(f"element vectors must have shape ({MAX_Z}, {MAX_Z}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("element vectors contain NaN or infinite values")
    return array


def element_map(vectors: pd.DataFrame | np.ndarray, *, method: str = "umap", **params) -> pd.DataFrame:
    """2D map of the element vectors: "a data-mined periodic table".

    Elements whose vector is all zeros (no substitution data: At, Rn, Fr on the ICSD counts)
    are not projected, since they would all collapse onto one point; they come back with
    NaN positions and ``has_data`` False so that callers can list them.

    Parameters
    ----------
    vectors : DataFrame or ndarray of shape (98, 98)
        Element vectors, row Z - 1 for element Z (``fingerprints.embedding.element_vectors``).
    method : {"umap", "mds", "pca", "tsne"}, keyword-only
    **params
        Keyword parameters of the method's projector; they override ``ELEMENT_DEFAULTS``.
        UMAP defaults for ~95 points: ``n_neighbors=10`` (about a tenth of the points, so the
        neighbourhood graph stays local, e.g. the 15 lanthanides do not swamp every
        neighbourhood), ``min_dist=0.5`` (spreads the points so labels and tiles do not
        overlap), ``metric="cosine"`` (the embedding's own similarity; on these unit vectors
        it ranks neighbours exactly as Euclidean distance does). t-SNE uses perplexity 10.

    Returns
    -------
    DataFrame of shape (98, 4)
        Columns ``symbol, x, y, has_data`` in Z order. ``attrs["projection"]`` holds the
        projector's ``params_`` (method, parameters, library versions) for metadata.
    """
    if method not in ELEMENT_METHODS:
        raise ValueError(f"unknown element map method {method!r}: choose one of {', '.join(ELEMENT_METHODS)}")
    array = _element_vector_array(vectors)
    has_data = np.any(array != 0, axis=1)
    projector = make_projector(method, **{**ELEMENT_DEFAULTS[method], **params})
    if has_data.sum() < projector._min_samples:
        raise ValueError(
            f"only {int(has_data.sum())} element(s) have data; a {method} map needs at least {projector._min_samples}"
        )
    xy = np.full((MAX_Z, 2), np.nan)
    xy[has_data] = projector.fit_transform(array[has_data])
    frame = pd.DataFrame({"symbol": list(SYMBOLS), "x": xy[:, 0], "y": xy[:, 1], "has_data": has_data})
    frame.attrs["projection"] = projector.params_
    return frame


def compound_map(
    fingerprints: np.ndarray,
    *,
    method: str = "umap",
    fit_sample: int | None = None,
    sample_seed: int = 0,
    **params,
) -> tuple[np.ndarray, _Projector]:
    """2D map of composition fingerprints.

    Rows that are all zero (a failed formula, or only elements without data) are not
    projected: they get NaN coordinates, like elements without data in ``element_map``.

    Parameters
    ----------
    fingerprints : ndarray of shape (n_compounds, n_features), normally (N, 98)
    method : {"umap", "pca", "tsne"}, keyword-only
    fit_sample : int or None, keyword-only
        Fit the map on this many randomly chosen rows (``sample_seed``) and place the others
        with the projector's ``transform``. None (default) fits on every row. Useful for
        t-SNE, whose fit does not scale to ~100k points.
    **params
        Keyword parameters of the method's projector (defaults: the paper's UMAP settings).

    Returns
    -------
    coords : ndarray of shape (n_compounds, 2)
        NaN rows for all-zero fingerprints.
    projector : fitted projector
        ``projector.params_`` is JSON-ready metadata; ``projector.transform`` places new rows.
    """
    if method not in COMPOUND_METHODS:
        raise ValueError(f"unknown compound map method {method!r}: choose one of {', '.join(COMPOUND_METHODS)}")
    X = _as_2d_float(fingerprints, name="fingerprints")
    projector = make_projector(method, **params)
    usable = np.flatnonzero(np.any(X != 0, axis=1))
    if usable.size < projector._min_samples:
        raise ValueError(
            f"only {usable.size} non-zero fingerprint(s); a {method} map needs at least {projector._min_samples}"
        )
    coords = np.full((X.shape[0], 2), np.nan)
    if fit_sample is None or fit_sample >= usable.size:
        coords[usable] = projector.fit_transform(X[usable])
    else:
        if fit_sample < projector._min_samples:
            raise ValueError(f"fit_sample must be at least {projector._min_samples}, got {fit_sample}")
        chosen = np.zeros(usable.size, dtype=bool)
        chosen[np.random.default_rng(sample_seed).choice(usable.size, size=fit_sample, replace=False)] = True
        coords[usable[chosen]] = projector.fit_transform(X[usable[chosen]])
        coords[usable[~chosen]] = projector.transform(X[usable[~chosen]])
        projector.params_["fit_sample"] = {"size": int(fit_sample), "seed": int(sample_seed)}
    projector.params_["n_zero_rows"] = int(X.shape[0] - usable.size)
    return coords, projector
