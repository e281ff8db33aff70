"""Evaluation functions of the embedding comparison study (pure: arrays in, tables out).

* :func:`fold_ids`: a fixed, seeded k-fold assignment shared by every embedding and target.
* :func:`make_regressor`: the two model families (k-nearest neighbours on standardised
  features, histogram gradient-boosted trees), fixed and modest settings.
* :func:`cross_validate`: MAE per fold of one model on one feature matrix; the features
  may depend on the fold (a similarity mined on the training folds only).
* :func:`summarise_scores`: mean and spread of the fold MAEs, with ranks per target.
* :func:`paired_difference`: fold-by-fold difference between two embeddings (same folds).
* :func:`map_separability`: how well a property is predicted from 2D map coordinates alone.
* :func:`common_rows`: the rows every embedding covers, and why the others were dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

__all__ = [
    "MODELS",
    "best_against_rest",
    "common_rows",
    "cross_validate",
    "fold_ids",
    "make_regressor",
    "map_separability",
    "paired_difference",
    "summarise_scores",
]

#: Model families: name -> description (the settings are fixed in :func:`make_regressor`).
MODELS: dict[str, str] = {
    "knn": "k-nearest neighbours (k=10, Euclidean, brute force) on standardised features",
    "hgb": "HistGradientBoostingRegressor (100 iterations, learning rate 0.1, 31 leaves, no early stopping)",
}
KNN_NEIGHBOURS = 10
HGB_SETTINGS = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "early_stopping": False}

FeatureSource = np.ndarray | Callable[[int], np.ndarray]


def fold_ids(n_rows: int, *, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """A balanced random fold number (0 .. n_folds-1) for each of ``n_rows`` rows.

    Fold sizes differ by at most one; the same ``(n_rows, n_folds, seed)`` always gives the
    same assignment.

    Returns
    -------
    ndarray of shape (n_rows,), int64
    """
    if not isinstance(n_folds, Integral) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    if not isinstance(n_rows, Integral) or n_rows < n_folds:
        raise ValueError(f"need at least n_folds={n_folds} rows to split, got {n_rows!r}")
    folds = np.arange(n_rows, dtype=np.int64) % n_folds
    return np.random.default_rng(seed).permutation(folds)


def make_regressor(model: str, *, random_state: int = 0, n_jobs: int = 1):
    """A fresh, unfitted regressor of one of the :data:`MODELS` families.

    ``knn``: ``StandardScaler`` then ``KNeighborsRegressor(n_neighbors=10, algorithm="brute")``
    (standardised so that no feature dominates the distance by its unit alone);
    ``hgb``: ``HistGradientBoostingRegressor`` with :data:`HGB_SETTINGS` (its threads follow
    the OpenMP limit set by the caller, e.g. with ``threadpoolctl``).
    """
    if model == "knn":
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(), KNeighborsRegressor(n_neighbors=KNN_NEIGHBOURS, algorithm="brute", n_jobs=n_jobs)
        )
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(random_state=random_state, **HGB_SETTINGS)
    raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")


def _target(target, n_rows: int | None = None) -> np.ndarray:
    values = np.asarray(pd.to_numeric(pd.Series(target), errors="coerce"), dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"target must be one-dimensional, got shape {values.shape}")
    if n_rows is not None and values.shape[0] != n_rows:
        raise ValueError(f"target has {values.shape[0]} values but there are {n_rows} rows")
    return values


def cross_validate(
    features: FeatureSource,
    target,
    folds: np.ndarray,
    *,
    model: str,
    n_jobs: int = 1,
    n_threads: int = 1,
    random_state: int = 0,
) -> pd.DataFrame:
    """Mean absolute error of ``model`` on each fold.

    Rows whose target is missing (NaN) take part in no fold; they are counted in
    ``n_missing_target``.

    Parameters
    ----------
    features : ndarray of shape (N, d), or callable fold -> ndarray of shape (N, d)
        A callable gives fold-specific features (e.g. from a similarity mined on the
        training folds only, so that nothing of the test fold leaks into them).
    target : array-like of shape (N,)
    folds : ndarray of shape (N,), int
        Fold number of each row (:func:`fold_ids`).
    model : {"knn", "hgb"}, keyword-only
    n_jobs : int, keyword-only
        Worker threads of the k-NN search.
    n_threads : int, keyword-only
        Cap on BLAS/OpenMP threads while fitting and predicting (the gradient-boosted trees
        use OpenMP: on a busy machine 2 threads can be 10x slower than 1, measured).

    Returns
    -------
    DataFrame
        One row per fold: ``fold``, ``n_train``, ``n_test``, ``mae``, ``baseline_mae`` (MAE of
        predicting the training median: the score of knowing nothing), ``n_missing_target``.
    """
    folds = np.asarray(folds)
    y = _target(target, folds.shape[0])
    known = np.isfinite(y)
    rows = []
    for fold in np.unique(folds):
        X = features(int(fold)) if callable(features) else features
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != folds.shape[0]:
            raise ValueError(f"features must have shape ({folds.shape[0]}, d), got {X.shape}")
        train = known & (folds != fold)
        test = known & (folds == fold)
        if train.sum() < KNN_NEIGHBOURS or test.sum() == 0:
            raise ValueError(
                f"fold {fold}: {int(train.sum())} training and {int(test.sum())} test rows with a target; too few"
            )
        regressor = make_regressor(model, random_state=random_state, n_jobs=n_jobs)
        with threadpool_limits(limits=n_threads):
            regressor.fit(X[train], y[train])
            predicted = regressor.predict(X[test])
        rows.append(
            {
                "fold": int(fold),
                "n_train": int(train.sum()),
                "n_test": int(test.sum()),
                "mae": float(np.mean(np.abs(predicted - y[test]))),
                "baseline_mae": float(np.mean(np.abs(np.median(y[train]) - y[test]))),
                "n_missing_target": int((~known).sum()),
            }
        )
    return pd.DataFrame(rows)


def summarise_scores(scores: pd.DataFrame, *, by: tuple[str, ...] = ("target", "model", "embedding")) -> pd.DataFrame:
    """Mean and spread of fold MAEs, with the rank of each embedding per target and model.

    Parameters
    ----------
    scores : DataFrame
        Fold rows with columns ``by`` + ``mae`` (+ optional ``baseline_mae``, ``n_test``).

    Returns
    -------
    DataFrame
        One row per group: ``by`` columns, ``mae_mean``, ``mae_std`` (sample standard
        deviation over folds, ddof=1), ``n_folds``, ``n_test`` (rows scored, all folds),
        ``skill`` (1 - MAE / baseline MAE, when the baseline is there) and ``rank``
        (1 = lowest mean MAE within the same target and model).
    """
    missing = [c for c in (*by, "mae") if c not in scores.columns]
    if missing:
        raise KeyError(f"scores lack column(s) {missing}")
    grouped = scores.groupby(list(by), sort=False)
    summary = grouped["mae"].agg(
        mae_mean="mean", mae_std=lambda s: float(s.std(ddof=1)) if len(s) > 1 else float("nan"), n_folds="count"
    )
    if "n_test" in scores.columns:
        summary["n_test"] = grouped["n_test"].sum()
    if "baseline_mae" in scores.columns:
        summary["baseline_mae"] = grouped["baseline_mae"].mean()
        summary["skill"] = 1.0 - summary["mae_mean"] / summary["baseline_mae"]
    summary = summary.reset_index()
    within = [c for c in by if c != "embedding"]
    if "embedding" in by and within:
        summary["rank"] = summary.groupby(within)["mae_mean"].rank(method="min").astype(int)
    return summary


def paired_difference(scores: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Fold-by-fold MAE difference ``first - second`` (negative: ``first`` is better).

    Both embeddings were scored on the same folds, so the paired difference has a much
    smaller spread than either MAE alone.

    Returns
    -------
    DataFrame
        One row per (target, model): ``diff_mean``, ``diff_std`` (ddof=1), ``n_folds``,
        ``first_better_folds`` (folds where ``first`` has the lower MAE).
    """
    keys = ["target", "model", "fold"]
    a = scores[scores["embedding"] == first].set_index(keys)["mae"]
    b = scores[scores["embedding"] == second].set_index(keys)["mae"]
    if a.empty or b.empty:
        absent = [name for name, part in ((first, a), (second, b)) if part.empty]
        raise KeyError(f"no scores for embedding(s) {absent}")
    diff = (a - b).dropna().rename("diff").reset_index()
    out = diff.groupby(["target", "model"], sort=False)["diff"].agg(
        diff_mean="mean",
        diff_std=lambda s: float(s.std(ddof=1)) if len(s) > 1 else float("nan"),
        n_folds="count",
        first_better_folds=lambda s: int((s < 0).sum()),
    )
    out = out.reset_index()
    out.insert(0, "second", second)
    out.insert(0, "first", first)
    return out


def best_against_rest(scores: pd.DataFrame, candidates) -> pd.DataFrame:
    """Per target and model: the best of ``candidates`` against the best of the other embeddings.

    "Best" is the lowest mean MAE over folds. The two are then compared fold by fold
    (:func:`paired_difference`), which answers "how much, and how sure".

    Parameters
    ----------
    scores : DataFrame
        Fold rows (``embedding``, ``target``, ``model``, ``fold``, ``mae``).
    candidates : iterable of str
        The embeddings under test (e.g. the Pettifor variants).

    Returns
    -------
    DataFrame
        One row per (target, model): ``best``, ``best_mae``, ``best_other``,
        ``best_other_mae``, ``change`` (``best_mae / best_other_mae - 1``: negative when a
        candidate wins), ``diff_mean``, ``diff_std`` (paired, over folds),
        ``folds_won`` (folds where ``best`` has the lower MAE) and ``n_folds``.
    """
    candidates = set(candidates)
    means = scores.groupby(["target", "model", "embedding"], sort=False)["mae"].mean().reset_index()
    rows = []
    for (target, model), group in means.groupby(["target", "model"], sort=False):
        inside = group[group["embedding"].isin(candidates)]
        outside = group[~group["embedding"].isin(candidates)]
        if inside.empty or outside.empty:
            continue
        best = inside.loc[inside["mae"].idxmin()]
        other = outside.loc[outside["mae"].idxmin()]
        part = scores[(scores["target"] == target) & (scores["model"] == model)]
        paired = paired_difference(part, best["embedding"], other["embedding"]).iloc[0]
        rows.append(
            {
                "target": target,
                "model": model,
                "best": best["embedding"],
                "best_mae": float(best["mae"]),
                "best_other": other["embedding"],
                "best_other_mae": float(other["mae"]),
                "change": float(best["mae"] / other["mae"] - 1.0),
                "diff_mean": float(paired["diff_mean"]),
                "diff_std": float(paired["diff_std"]),
                "folds_won": int(paired["first_better_folds"]),
                "n_folds": int(paired["n_folds"]),
            }
        )
    return pd.DataFrame(rows)


def map_separability(
    coords: np.ndarray,
    targets: Mapping[str, np.ndarray],
    folds: np.ndarray,
) -> pd.DataFrame:
    """How well each property is predicted from 2D map positions alone.

    For every test row: the median of the property over its k=10 nearest training rows on
    the map (raw coordinates: the distances a reader sees, so no standardisation). The
    median, not the mean, because the score is an MAE and the baseline (the training
    median) is the best constant under MAE; with the mean, skewed properties (energy above
    hull, magnetisation: mostly zeros and a long tail) score below the baseline even on a
    map that does order them.

    Parameters
    ----------
    coords : ndarray of shape (N, 2)
    targets : mapping name -> array of shape (N,)
    folds : ndarray of shape (N,)

    Returns
    -------
    DataFrame
        Fold rows: ``target``, ``fold``, ``n_train``, ``n_test``, ``mae``, ``baseline_mae``
        and ``skill`` = 1 - mae / baseline_mae (0: the map says nothing about the property,
        1: perfect; negative: worse than a constant).
    """
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, dtype=np.float64)
    folds = np.asarray(folds)
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.shape[0] != folds.shape[0]:
        raise ValueError(f"coords must have shape ({folds.shape[0]}, 2), got {coords.shape}")
    placed = np.isfinite(coords).all(axis=1)
    if not placed.all():
        raise ValueError(f"{int((~placed).sum())} rows have no map position (NaN); drop them first")
    rows = []
    for name, target in targets.items():
        y = _target(target, folds.shape[0])
        known = np.isfinite(y)
        for fold in np.unique(folds):
            train, test = np.flatnonzero(known & (folds != fold)), np.flatnonzero(known & (folds == fold))
            if train.size < KNN_NEIGHBOURS or test.size == 0:
                raise ValueError(f"target {name!r}, fold {fold}: too few rows with a value")
            index = NearestNeighbors(n_neighbors=KNN_NEIGHBOURS, algorithm="kd_tree").fit(coords[train])
            _, neighbours = index.kneighbors(coords[test])
            predicted = np.median(y[train][neighbours], axis=1)
            mae = float(np.mean(np.abs(predicted - y[test])))
            baseline = float(np.mean(np.abs(np.median(y[train]) - y[test])))
            rows.append(
                {
                    "target": name,
                    "fold": int(fold),
                    "n_train": int(train.size),
                    "n_test": int(test.size),
                    "mae": mae,
                    "baseline_mae": baseline,
                    "skill": 1.0 - mae / baseline if baseline > 0 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def common_rows(
    covered: Mapping[str, np.ndarray], reasons: Mapping[str, np.ndarray] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """The rows every embedding covers, and a report of the rows dropped.

    Parameters
    ----------
    covered : mapping embedding -> bool array of shape (N,)
    reasons : mapping embedding -> object array of shape (N,), optional
        Why each uncovered row is not covered (from ``composition_features``).

    Returns
    -------
    keep : ndarray of shape (N,), bool
        Rows covered by every embedding.
    report : DataFrame
        One row per embedding: ``embedding``, ``n_not_covered`` (rows it cannot featurise),
        ``n_only_this`` (rows dropped because of it alone), ``examples`` (a few reasons).
    """
    if not covered:
        raise ValueError("no embedding given")
    masks = {name: np.asarray(mask, dtype=bool) for name, mask in covered.items()}
    sizes = {mask.shape for mask in masks.values()}
    if len(sizes) != 1:
        raise ValueError(f"coverage masks differ in shape: {sorted(sizes)}")
    stack = np.vstack(list(masks.values()))
    keep = stack.all(axis=0)
    n_failing = (~stack).sum(axis=0)
    rows = []
    for name, mask in masks.items():
        lost = ~mask
        examples = ""
        if reasons is not None and name in reasons and lost.any():
            counts = pd.Series(np.asarray(reasons[name], dtype=object)[lost]).value_counts()
            examples = "; ".join(f"{reason} ({count} rows)" for reason, count in counts.head(5).items())
        rows.append(
            {
                "embedding": name,
                "n_not_covered": int(lost.sum()),
                "n_only_this": int((lost & (n_failing == 1)).sum()),
                "examples": examples,
            }
        )
    return keep, pd.DataFrame(rows)
