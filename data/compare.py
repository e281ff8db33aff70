"""The embedding comparison study: do Pettifor embeddings beat the usual element embeddings?

``run_compare(CompareSpec(...), out)`` measures, on one dataset (the built-in ``mp`` by
default), for every embedding of :data:`DEFAULT_EMBEDDINGS`:

1. property prediction: composition features (fraction-weighted sum of element vectors,
   the same rule for all) -> k-NN and gradient-boosted trees, MAE over a fixed, seeded
   5-fold split, on the SAME rows for every embedding (the rows every embedding covers);
2. map separability: a 2D map (UMAP with the paper's settings, or PCA) of a fixed subsample,
   then k-NN on the map coordinates alone;
3. seriation: a learned 1D ordering of the elements from each Pettifor similarity, compared
   with the modified Pettifor scale (Spearman).

No leaks: the mined Pettifor similarity is mined with a stability filter on energy above
the hull. For prediction it is mined once per fold, from every dataset row except that
fold's test rows, and used for all targets; for the maps it is mined from the rows outside
the map subsample. The ICSD counts are external data and are used as they are.

Everything is written into ``out`` atomically (built in a temporary folder next to it and
swapped in at the end): CSV tables, HTML (+ SVG when static export works) figures,
``summary.md`` (the tables in Markdown, with the notes) and ``run.json`` (settings, timings,
versions, notes). File list: :data:`OUTPUT_FILES`.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fingerprints.comparison import (
    HGB_SETTINGS,
    KNN_NEIGHBOURS,
    MODELS,
    best_against_rest,
    common_rows,
    cross_validate,
    fold_ids,
    map_separability,
    paired_difference,
    summarise_scores,
)
from fingerprints.composition import normalize_rows
from fingerprints.counts import SubstitutionCounts
from fingerprints.element_embeddings import (
    ElementTable,
    composition_features,
    one_hot_table,
    pettifor_table,
    scale_one_hot_table,
)
from fingerprints.formula import parse_formulas
from fingerprints.io import atomic_path, atomic_write, write_table
from fingerprints.mining import RECOMMENDED_MAX_E_ABOVE_HULL, mine_substitution_counts
from fingerprints.seriation import arrangement_cost, oriented_spearman, seriate

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EMBEDDINGS",
    "DEFAULT_TARGETS",
    "EMBEDDING_CHOICES",
    "OUTPUT_FILES",
    "CompareResult",
    "CompareSpec",
    "format_report",
    "mae_figure",
    "parse_rows",
    "run_compare",
    "separability_figure",
    "seriation_figure",
]

ICSD_EMBEDDINGS = ("pettifor-icsd-corrected", "pettifor-icsd-published-2024")
MINED_EMBEDDING = "pettifor-mined"
PETTIFOR_EMBEDDINGS = (*ICSD_EMBEDDINGS, MINED_EMBEDDING)
#: elementembeddings files by study name (see data.element_embeddings.EMBEDDING_FILES).
PACKAGE_EMBEDDINGS = ("magpie", "mat2vec", "megnet16", "oliynyk", "skipatom", "random_200", "random_200_new")
EMBEDDING_CHOICES = (*PETTIFOR_EMBEDDINGS, "one-hot", "mod_petti-one-hot", *PACKAGE_EMBEDDINGS)
#: The default study. ``random_200_new`` rather than ``random_200``: the older file has one
#: row labelled "GaGe" instead of Ga and Ge, which would drop every Ga or Ge compound (7,679
#: rows of mp, 8%) from the comparison of ALL embeddings.
DEFAULT_EMBEDDINGS = (
    *PETTIFOR_EMBEDDINGS,
    "one-hot",
    "mod_petti-one-hot",
    "magpie",
    "mat2vec",
    "megnet16",
    "oliynyk",
    "skipatom",
    "random_200_new",
)
DEFAULT_TARGETS = ("band_gap", "e_form", "e_above_hull", "magnetization")
TARGET_UNITS = {"band_gap": "eV", "e_form": "eV/atom", "e_above_hull": "eV/atom", "magnetization": "μB per cell"}
MAP_METHODS = ("umap", "pca")
SERIATION_SOURCES = (*ICSD_EMBEDDINGS, MINED_EMBEDDING)
#: Elements with fewer substitutions than this (pair-count row sum) are too sparse to place.
DEFAULT_MIN_SUBSTITUTIONS = 10
#: Thresholds of the seriation sweep (how much the Spearman depends on that choice).
SERIATION_THRESHOLDS = (1, 5, 10, 20, 50)
#: Starts refined per seriation: the spectral one and seeded random permutations.
SERIATION_STARTS = 8

OUTPUT_FILES = {
    "rows.csv": "rows dropped before the study and why (per embedding)",
    "headline.csv": "per target and model: the best Pettifor embedding against the best other one, paired over folds",
    "prediction_folds.csv": "MAE per embedding, target, model and fold",
    "prediction_summary.csv": "mean MAE, std over folds, skill and rank per embedding, target and model",
    "pettifor_vs_others.csv": "paired fold-by-fold MAE differences, each Pettifor embedding against each other embedding",
    "separability_folds.csv": "k-NN on map coordinates: MAE per embedding, target and fold",
    "separability_summary.csv": "map separability: mean MAE, std, skill per embedding and target",
    "seriation.csv": "Spearman of each learned ordering with the modified Pettifor scale",
    "seriation_orders.csv": "learned position of every element per source, and its mod_petti position",
    "maps.parquet": "2D map coordinates of the map subsample, per embedding",
    "mae.html": "figure: MAE per embedding per target (error bars: std over folds)",
    "separability.html": "figure: map separability skill per embedding per target",
    "seriation.html": "figure: learned ordering against the modified Pettifor scale",
    "summary.md": "the tables in Markdown, with the notes",
    "run.json": "settings, timings, versions and notes",
}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CompareSpec:
    """Settings of one comparison run.

    Attributes
    ----------
    dataset : str
        Built-in name, ``alexandria`` or a path (see :func:`data.sources.load_dataset`).
    targets : tuple of str
        Numeric columns to predict.
    embeddings : tuple of str
        Names from :data:`EMBEDDING_CHOICES`.
    models : tuple of str
        From :data:`fingerprints.comparison.MODELS`.
    rows : int or None
        Fixed-seed subsample of the common rows for the prediction study; ``None``: all.
    n_folds, seed : int
    normalize : bool
        Put every composition feature vector on the unit sphere (all embeddings alike).
    map_rows : int
        Map subsample size (0 skips the separability study).
    map_method : {"umap", "pca"}
    icsd : str or None
        ``None``: no ICSD counts (the two ICSD rows are left out, and the output says so);
        ``"download"``: the public counts (downloaded once, cached; when that fails the study
        runs without them); else a folder holding ``substitution.dat`` and
        ``substitution.dat.element_count``.
    min_substitutions : int
        Seriation: elements with fewer observed substitutions are not placed.
    n_jobs : int
        Threads for k-NN and the numerical libraries (BLAS/OpenMP).
    """

    dataset: str = "mp"
    targets: tuple[str, ...] = DEFAULT_TARGETS
    embeddings: tuple[str, ...] = DEFAULT_EMBEDDINGS
    models: tuple[str, ...] = tuple(MODELS)
    rows: int | None = 30_000
    n_folds: int = 5
    seed: int = 0
    normalize: bool = False
    map_rows: int = 10_000
    map_method: str = "umap"
    icsd: str | None = None
    min_substitutions: int = DEFAULT_MIN_SUBSTITUTIONS
    n_jobs: int = 2

    def __post_init__(self) -> None:
        for name in ("targets", "embeddings", "models"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = tuple(part.strip() for part in value.split(",") if part.strip())
            object.__setattr__(self, name, tuple(value))
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ValueError(f"{name} lists a name twice: {getattr(self, name)}")
        unknown = [e for e in self.embeddings if e not in EMBEDDING_CHOICES]
        if unknown:
            raise ValueError(f"unknown embedding(s) {unknown}: choose from {', '.join(EMBEDDING_CHOICES)}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}: choose from {', '.join(MODELS)}")
        if self.rows is not None and (not isinstance(self.rows, int) or self.rows < 10 * self.n_folds):
            raise ValueError(f"rows must be None (all) or an integer >= {10 * self.n_folds}, got {self.rows!r}")
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise ValueError(f"n_folds must be an integer >= 2, got {self.n_folds!r}")
        if not isinstance(self.map_rows, int) or (self.map_rows != 0 and self.map_rows < 50):
            raise ValueError(f"map_rows must be 0 (skip the maps) or an integer >= 50, got {self.map_rows!r}")
        if self.map_method not in MAP_METHODS:
            raise ValueError(f"map_method must be one of {', '.join(MAP_METHODS)}, got {self.map_method!r}")
        if not isinstance(self.n_jobs, int) or self.n_jobs < 1:
            raise ValueError(f"n_jobs must be a positive integer, got {self.n_jobs!r}")
        if not isinstance(self.min_substitutions, int) or self.min_substitutions < 1:
            raise ValueError(f"min_substitutions must be a positive integer, got {self.min_substitutions!r}")


def parse_rows(text: str) -> int | None:
    """The ``--rows`` option: a positive integer, or ``all`` (None: every common row)."""
    if str(text).strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"--rows must be a positive integer or 'all', got {text!r}") from None
    if value <= 0:
        raise ValueError(f"--rows must be a positive integer or 'all', got {text!r}")
    return value


@dataclass
class CompareResult:
    """What a run produced: the output folder and the main tables."""

    out: Path
    prediction: pd.DataFrame
    separability: pd.DataFrame | None
    seriation: pd.DataFrame
    rows: pd.DataFrame
    headline: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs


def _load_icsd(spec: CompareSpec, notes: list[str]) -> SubstitutionCounts | None:
    from .substitution_counts import (
        COUNTS_FILENAME,
        ELEMENT_COUNTS_FILENAME,
        download_icsd_counts,
        read_substitution_counts,
    )

    wanted = [e for e in spec.embeddings if e in ICSD_EMBEDDINGS]
    if not wanted:
        return None
    if spec.icsd is None:
        notes.append(
            "ICSD counts not given (--icsd DIR or --icsd download): the rows "
            f"{', '.join(wanted)} are left out of this run."
        )
        log.warning(notes[-1])
        return None
    if spec.icsd == "download":
        try:
            return read_substitution_counts(*download_icsd_counts(progress=False))
        except (OSError, RuntimeError, ValueError) as err:
            notes.append(
                f"ICSD counts could not be downloaded ({err}); the rows {', '.join(wanted)} are left out of this run."
            )
            log.warning(notes[-1])
            return None
    folder = Path(spec.icsd).expanduser()
    if folder.is_file() and folder.name == COUNTS_FILENAME:
        folder = folder.parent
    if not (folder / COUNTS_FILENAME).is_file() or not (folder / ELEMENT_COUNTS_FILENAME).is_file():
        raise FileNotFoundError(f"--icsd {spec.icsd}: no {COUNTS_FILENAME} and {ELEMENT_COUNTS_FILENAME} in {folder}")
    return read_substitution_counts(folder / COUNTS_FILENAME, folder / ELEMENT_COUNTS_FILENAME)


def _mine(table: pd.DataFrame, exclude: np.ndarray | None, *, source: str) -> SubstitutionCounts:
    """Counts mined from ``table`` without the rows in ``exclude`` (stability filter when possible)."""
    part = table if exclude is None else table.drop(index=table.index[exclude])
    threshold = RECOMMENDED_MAX_E_ABOVE_HULL if "e_above_hull" in table.columns else None
    prototype = "prototype_id" if "prototype_id" in table.columns else None
    return mine_substitution_counts(part, prototype_column=prototype, max_e_above_hull=threshold, source=source)


def _static_tables(
    spec: CompareSpec, icsd: SubstitutionCounts | None, mined_all: SubstitutionCounts, *, embeddings_wheel
) -> dict[str, ElementTable]:
    from .element_embeddings import load_element_tables, load_mod_petti

    tables: dict[str, ElementTable] = {}
    wanted_package = [e for e in spec.embeddings if e in PACKAGE_EMBEDDINGS]
    package = load_element_tables(wanted_package, wheel=embeddings_wheel) if wanted_package else {}
    for name in spec.embeddings:
        if name == "pettifor-icsd-corrected" and icsd is not None:
            tables[name] = pettifor_table(icsd, variant="corrected", name=name)
        elif name == "pettifor-icsd-published-2024" and icsd is not None:
            tables[name] = pettifor_table(icsd, variant="published-2024", name=name)
        elif name == MINED_EMBEDDING:
            tables[name] = pettifor_table(mined_all, variant="corrected", name=name)
        elif name == "one-hot":
            tables[name] = one_hot_table(name=name)
        elif name == "mod_petti-one-hot":
            tables[name] = scale_one_hot_table(
                load_mod_petti(wheel=embeddings_wheel), name=name, source="elementembeddings mod_petti.json"
            )
        elif name in package:
            tables[name] = package[name]
    return tables


def _targets(table: pd.DataFrame, spec: CompareSpec) -> dict[str, np.ndarray]:
    missing = [t for t in spec.targets if t not in table.columns]
    if missing:
        raise KeyError(
            f"dataset {spec.dataset}: target column(s) {missing} not found (columns: {', '.join(map(str, table.columns))})"
        )
    out = {}
    for name in spec.targets:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(values).any():
            raise ValueError(f"dataset {spec.dataset}: target column {name!r} has no numeric value")
        out[name] = values
    return out


def _features_with_gaps(fractions, table: ElementTable) -> tuple[np.ndarray, int]:
    """Weighted sums where elements without a vector contribute nothing; rows affected."""
    matrix, covered = table.matrix()
    features = np.ascontiguousarray(np.asarray(fractions @ matrix), dtype=np.float64)
    affected = int((np.asarray(fractions[:, ~covered].sum(axis=1)).ravel() > 0).sum())
    return features, affected


def _threadpool(n_threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=n_threads)


# --------------------------------------------------------------------------- study parts


def _prediction(
    spec: CompareSpec,
    tables: dict[str, ElementTable],
    table: pd.DataFrame,
    fractions,
    sample: np.ndarray,
    targets: dict[str, np.ndarray],
    notes: list[str],
) -> pd.DataFrame:
    folds = fold_ids(sample.size, n_folds=spec.n_folds, seed=spec.seed)
    sample_fractions = fractions[sample]
    scores = []
    for name in spec.embeddings:
        if name not in tables:
            continue
        started = time.perf_counter()
        if name == MINED_EMBEDDING:
            per_fold = {}
            gaps = []
            for fold in range(spec.n_folds):
                # Only the fold's training rows: rows outside the subsample carry energy-above-hull
                # labels too, which the other embeddings' models never see.
                outside_training = np.setdiff1d(np.arange(len(table)), sample[folds != fold])
                counts = _mine(table, outside_training, source=f"{spec.dataset} training rows of fold {fold}")
                fold_table = pettifor_table(counts, variant="corrected", name=name)
                features, affected = _features_with_gaps(sample_fractions, fold_table)
                if spec.normalize:
                    normalize_rows(features)
                per_fold[fold] = features
                gaps.append(affected)
            notes.append(
                f"{name}: mined once per fold from that fold's training rows only ({spec.dataset} rows outside the "
                "prediction subsample are not used) "
                + (
                    f"(stability filter e_above_hull <= {RECOMMENDED_MAX_E_ABOVE_HULL:g} eV/atom), "
                    if "e_above_hull" in table.columns
                    else "(no e_above_hull column: no stability filter), "
                )
                + "the same for every target; "
                f"rows with an element that had no substitution data in a fold's mining (featurised from their other elements): "
                f"{', '.join(map(str, gaps))} per fold."
            )
            features: np.ndarray | Callable[[int], np.ndarray] = per_fold.__getitem__
        else:
            features = composition_features(sample_fractions, tables[name], normalize=spec.normalize).features
        for target, values in targets.items():
            y = values[sample]
            for model in spec.models:
                fold_started = time.perf_counter()
                result = cross_validate(
                    features,
                    y,
                    folds,
                    model=model,
                    n_jobs=spec.n_jobs,
                    n_threads=1 if model == "hgb" else spec.n_jobs,
                    random_state=spec.seed,
                )
                result.insert(0, "model", model)
                result.insert(0, "target", target)
                result.insert(0, "embedding", name)
                result["seconds"] = (time.perf_counter() - fold_started) / len(result)
                scores.append(result)
        log.info("prediction: %s done in %.0f s", name, time.perf_counter() - started)
    return pd.concat(scores, ignore_index=True)


def _standardise(features: np.ndarray) -> np.ndarray:
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std[std == 0] = 1.0
    return (features - mean) / std


def _separability(
    spec: CompareSpec,
    tables: dict[str, ElementTable],
    table: pd.DataFrame,
    fractions,
    map_sample: np.ndarray,
    targets: dict[str, np.ndarray],
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from fingerprints.projection import PAPER_RANDOM_STATE, compound_map

    folds = fold_ids(map_sample.size, n_folds=spec.n_folds, seed=spec.seed)
    map_fractions = fractions[map_sample]
    map_targets = {name: values[map_sample] for name, values in targets.items()}
    coordinates = pd.DataFrame({"row": map_sample, "formula": table["formula"].to_numpy()[map_sample]})
    for name, values in map_targets.items():
        coordinates[name] = values
    results = []
    for name in spec.embeddings:
        if name not in tables:
            continue
        started = time.perf_counter()
        element_table = tables[name]
        if name == MINED_EMBEDDING:
            counts = _mine(table, map_sample, source=f"{spec.dataset} without the map subsample")
            element_table = pettifor_table(counts, variant="corrected", name=name)
            features, affected = _features_with_gaps(map_fractions, element_table)
            if spec.normalize:
                normalize_rows(features)
            notes.append(
                f"{name} (maps): mined from the {spec.dataset} rows outside the map subsample; "
                f"{affected} map rows have an element without substitution data there."
            )
        else:
            features = composition_features(map_fractions, element_table, normalize=spec.normalize).features
        params = {"random_state": PAPER_RANDOM_STATE} if spec.map_method == "umap" else {}
        with _threadpool(spec.n_jobs):
            coords, _ = compound_map(_standardise(features), method=spec.map_method, **params)
            placed = np.isfinite(coords).all(axis=1)
            if not placed.all():  # all-zero features (cannot happen on covered rows); keep honest
                raise ValueError(f"{name}: {int((~placed).sum())} map rows got no position")
            result = map_separability(coords, map_targets, folds)
        result.insert(0, "embedding", name)
        results.append(result)
        coordinates[f"{name}.x"] = coords[:, 0]
        coordinates[f"{name}.y"] = coords[:, 1]
        log.info("separability: %s done in %.0f s", name, time.perf_counter() - started)
    return pd.concat(results, ignore_index=True), coordinates


def _start_agreement(result, reference: pd.Series) -> dict:
    """How many seriation starts reached the best cost, and the Spearman range of the orders
    whose cost is within 0.1 % of it (near-ties the data cannot tell apart)."""
    costs = np.array([cost for _, cost, _ in result.starts])
    near = costs <= result.cost * 1.001
    rhos = [
        oriented_spearman(pd.Series(np.arange(len(order)), index=list(order)), reference)["rho"]
        for (_, _, order), close in zip(result.starts, near)
        if close
    ]
    return {
        "n_starts": len(costs),
        "starts_at_best": int((costs <= result.cost * (1 + 1e-9)).sum()),
        "spearman_near_best_min": float(min(rhos)),
        "spearman_near_best_max": float(max(rhos)),
    }


def _seriation(
    spec: CompareSpec,
    icsd: SubstitutionCounts | None,
    mined_all: SubstitutionCounts,
    reference: pd.Series,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from fingerprints.elements import SYMBOLS
    from fingerprints.embedding import element_vector_array

    sources = []
    if icsd is not None:
        sources += [
            ("pettifor-icsd-corrected", icsd, "corrected"),
            ("pettifor-icsd-published-2024", icsd, "published-2024"),
        ]
    sources.append((MINED_EMBEDDING, mined_all, "corrected"))
    rows, orders = [], []
    symbols = np.asarray(SYMBOLS)
    for name, counts, variant in sources:
        vectors = element_vector_array(counts, variant=variant)
        substitutions = counts.pair_counts.sum(axis=1)
        with_data = np.any(vectors != 0, axis=1)
        cosines = vectors @ vectors.T
        np.fill_diagonal(cosines, 0.0)
        seriated: dict[bytes, tuple] = {}  # thresholds that keep the same elements share one seriation
        for threshold in sorted({*SERIATION_THRESHOLDS, spec.min_substitutions}):
            keep = with_data & (substitutions >= threshold)
            while True:  # an element whose only partners were left out has no place either
                isolated = keep & ~np.any(cosines[:, keep] > 0, axis=1)
                if not isolated.any():
                    break
                keep &= ~isolated
            if keep.sum() < 3:
                log.warning("seriation of %s skipped: fewer than 3 elements with >= %d substitutions", name, threshold)
                continue
            labels = symbols[keep]
            if keep.tobytes() not in seriated:
                similarity = pd.DataFrame(vectors[keep] @ vectors[keep].T, index=labels, columns=labels)
                started = time.perf_counter()
                result = seriate(similarity, seed=spec.seed, n_random_starts=SERIATION_STARTS - 1)
                reference_order = sorted((s for s in labels if s in reference.index), key=lambda s: reference[s])
                seriated[keep.tobytes()] = (
                    result,
                    oriented_spearman(result.positions, reference),
                    _start_agreement(result, reference),
                    arrangement_cost(similarity, reference_order) if len(reference_order) == len(labels) else float("nan"),
                    time.perf_counter() - started,
                )
            result, compared, robustness, reference_cost, seconds = seriated[keep.tobytes()]
            rows.append(
                {
                    "source": name,
                    "min_substitutions": threshold,
                    "main": threshold == spec.min_substitutions,
                    "spearman": compared["rho"],
                    "reversed": compared["reversed"],
                    "n_elements": compared["n_elements"],
                    "left_out": " ".join(symbols[with_data & ~keep]) or "",
                    "no_data": " ".join(symbols[~with_data]),
                    "cost": result.cost,
                    "spectral_cost": result.spectral_cost,
                    "mod_petti_cost": reference_cost,
                    "winning_start": result.start,
                    **robustness,
                    "seconds": seconds,
                }
            )
            if threshold == spec.min_substitutions:
                position = result.positions.astype(float)
                if compared["reversed"]:
                    position = (len(labels) - 1) - position
                orders.append(
                    pd.DataFrame(
                        {
                            "source": name,
                            "element": position.index,
                            "position": position.to_numpy(),
                            "mod_petti": reference.reindex(position.index).to_numpy(),
                        }
                    )
                )
    if not orders:
        raise ValueError("no similarity has 3 or more elements with enough substitutions to order")
    return pd.DataFrame(rows), pd.concat(orders, ignore_index=True).sort_values(["source", "position"], kind="stable")


# --------------------------------------------------------------------------- figures


#: Embedding colours, shared with the dashboard's Compare view: Pettifor embeddings in warm
#: reds, one-hot greys, property tables blue, learned vectors green/purple.
EMBEDDING_COLORS: dict[str, str] = {
    "pettifor-icsd-corrected": "#b2182b",
    "pettifor-icsd-published-2024": "#ef8a62",
    "pettifor-mined": "#d6604d",
    "one-hot": "#4d4d4d",
    "mod_petti-one-hot": "#878787",
    "magpie": "#2166ac",
    "mat2vec": "#4393c3",
    "megnet16": "#1b7837",
    "oliynyk": "#5aae61",
    "skipatom": "#762a83",
    "random_200": "#bababa",
    "random_200_new": "#bababa",
}


def _colour(name: str) -> str:
    return EMBEDDING_COLORS.get(name, "#999999")


def mae_figure(summary: pd.DataFrame) -> go.Figure:
    """Grouped bars of MAE per embedding, one panel per target (rows: models).

    Parameters
    ----------
    summary : DataFrame
        :func:`fingerprints.comparison.summarise_scores` output (``target``, ``model``,
        ``embedding``, ``mae_mean``, ``mae_std``). Error bars: std over folds.
    """
    targets = list(dict.fromkeys(summary["target"]))
    models = list(dict.fromkeys(summary["model"]))
    embeddings = list(dict.fromkeys(summary["embedding"]))
    titles = [f"{target} ({TARGET_UNITS.get(target, '')}) · {model}" for model in models for target in targets]
    fig = make_subplots(
        rows=len(models), cols=len(targets), subplot_titles=titles, horizontal_spacing=0.05, vertical_spacing=0.12
    )
    for r, model in enumerate(models, start=1):
        for c, target in enumerate(targets, start=1):
            part = (
                summary[(summary["model"] == model) & (summary["target"] == target)]
                .set_index("embedding")
                .reindex(embeddings)
                .dropna(subset=["mae_mean"])
            )
            fig.add_trace(
                go.Bar(
                    x=part.index.tolist(),
                    y=part["mae_mean"],
                    error_y={"type": "data", "array": part["mae_std"].fillna(0).tolist(), "visible": True},
                    marker_color=[_colour(name) for name in part.index],
                    showlegend=False,
                    hovertemplate="%{x}<br>MAE %{y:.4f} ± %{error_y.array:.4f}<extra></extra>",
                ),
                row=r,
                col=c,
            )
            fig.update_xaxes(tickangle=-60, tickfont={"size": 9}, row=r, col=c)
    fig.update_yaxes(title_text="MAE", col=1)
    fig.update_layout(
        title="Composition-only property prediction: MAE per embedding (error bars: std over 5 folds)",
        height=420 * len(models) + 120,
        width=max(1200, 330 * len(targets)),
        template="plotly_white",
        margin={"t": 90, "b": 40},
    )
    return fig


def separability_figure(summary: pd.DataFrame) -> go.Figure:
    """Grouped bars of map separability skill (1 - MAE / baseline MAE) per target and embedding."""
    fig = go.Figure()
    for name in dict.fromkeys(summary["embedding"]):
        part = summary[summary["embedding"] == name]
        fig.add_trace(
            go.Bar(
                name=name,
                x=part["target"],
                y=part["skill_mean"],
                error_y={"type": "data", "array": part["skill_std"].fillna(0).tolist(), "visible": True},
                marker_color=_colour(name),
                hovertemplate=f"{name}<br>%{{x}}: skill %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title="Map separability: median of the 10 nearest neighbours on the 2D map alone; skill = 1 − MAE / MAE of the training median",
        yaxis_title="skill",
        template="plotly_white",
        width=1200,
        height=600,
    )
    return fig


def _main_seriation(seriation: pd.DataFrame) -> pd.DataFrame:
    """The run's main rows (its ``min_substitutions``); for tables without a ``main`` column, the
    largest threshold of each source."""
    if "main" in seriation.columns:
        return seriation[seriation["main"].astype(bool)]
    return seriation.sort_values("min_substitutions").groupby("source", sort=False).tail(1)


def seriation_figure(orders: pd.DataFrame, seriation: pd.DataFrame) -> go.Figure:
    """Learned position against the modified Pettifor position, one panel per source."""
    sources = list(dict.fromkeys(orders["source"]))
    titles = []
    for source in sources:
        row = _main_seriation(seriation[seriation["source"] == source]).iloc[-1]
        titles.append(f"{source}: Spearman {row['spearman']:.3f} ({int(row['n_elements'])} elements)")
    fig = make_subplots(rows=1, cols=len(sources), subplot_titles=titles, horizontal_spacing=0.06)
    for c, source in enumerate(sources, start=1):
        part = orders[(orders["source"] == source) & orders["mod_petti"].notna()]
        fig.add_trace(
            go.Scatter(
                x=part["position"],
                y=part["mod_petti"],
                mode="markers+text",
                text=part["element"],
                textposition="top center",
                textfont={"size": 8},
                marker={"color": _colour(source), "size": 6},
                showlegend=False,
                hovertemplate="%{text}: learned %{x}, mod_petti %{y}<extra></extra>",
            ),
            row=1,
            col=c,
        )
        fig.update_xaxes(title_text="learned position (oriented to correlate positively)", row=1, col=c)
    fig.update_yaxes(title_text="modified Pettifor scale", col=1)
    fig.update_layout(
        title="Learned 1D element ordering (spectral start + bandwidth-reducing local search) vs the modified Pettifor scale",
        template="plotly_white",
        width=max(700, 560 * len(sources)),
        height=600,
    )
    return fig


def _write_figure(fig: go.Figure, directory: Path, stem: str, notes: list[str], state: dict) -> list[str]:
    written = []
    html = directory / f"{stem}.html"
    with atomic_path(html) as temp:
        # plotly.min.js is written once next to the figures: offline and small.
        fig.write_html(temp, include_plotlyjs="directory", full_html=True)
    written.append(html.name)
    if state.get("svg", True):
        try:
            from dashboard.export import export_figure

            atomic_write(directory / f"{stem}.svg", export_figure(fig, fmt="svg"))
            written.append(f"{stem}.svg")
        except Exception as err:  # noqa: BLE001 - any failure of the optional static export
            state["svg"] = False
            notes.append(f"SVG figures skipped: static export is not available here ({type(err).__name__}: {err})")
    return written


# --------------------------------------------------------------------------- summary


def _markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    columns = list(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append(
                    "" if math.isnan(value) else f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}"
                )
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mae_table(summary: pd.DataFrame, model: str) -> pd.DataFrame:
    part = summary[summary["model"] == model]
    cells = part.assign(
        cell=[
            f"{m:.4f} ± {s:.4f}" + (" **(1)**" if r == 1 else "")
            for m, s, r in zip(part["mae_mean"], part["mae_std"], part["rank"], strict=True)
        ]
    )
    wide = cells.pivot(index="embedding", columns="target", values="cell")
    order = list(dict.fromkeys(part["embedding"]))
    wide = wide.reindex(order)[list(dict.fromkeys(part["target"]))]
    mean_rank = part.groupby("embedding")["rank"].mean().reindex(order)
    wide["mean rank"] = [f"{value:.1f}" for value in mean_rank]
    return wide.reset_index()


def _summary_markdown(
    spec, prediction_summary, headline, separability_summary, seriation, rows_report, notes, timings, counts
) -> str:
    parts = [
        "# Embedding comparison",
        "",
        f"Dataset `{spec.dataset}`: {counts['n_rows']} rows, {counts['n_common']} covered by every embedding, "
        f"{counts['n_sample']} used for prediction ({'all' if spec.rows is None else f'a fixed-seed subsample, seed {spec.seed}'}), "
        f"{spec.n_folds}-fold split (seed {spec.seed}). Composition features: fraction-weighted sum of element vectors"
        + (", scaled to the unit sphere" if spec.normalize else " (no normalisation)")
        + ", the same for every embedding.",
        "",
    ]
    if not headline.empty:
        shown = pd.DataFrame(
            {
                "target": headline["target"],
                "model": headline["model"],
                "best Pettifor": [f"{n} {m:.4f}" for n, m in zip(headline["best"], headline["best_mae"], strict=True)],
                "best other": [
                    f"{n} {m:.4f}" for n, m in zip(headline["best_other"], headline["best_other_mae"], strict=True)
                ],
                "change": [f"{100 * c:+.1f}%" for c in headline["change"]],
                "paired diff (± std)": [
                    f"{d:+.4f} ± {e:.4f}" for d, e in zip(headline["diff_mean"], headline["diff_std"], strict=True)
                ],
                "folds won": [f"{w}/{n}" for w, n in zip(headline["folds_won"], headline["n_folds"], strict=True)],
            }
        )
        parts += [
            "## Headline: best Pettifor embedding against the best other embedding",
            "",
            "MAE (mean over folds); change = relative MAE difference (negative: Pettifor is better); paired over "
            "the same folds.",
            "",
            _markdown(shown),
            "",
        ]
    for model in dict.fromkeys(prediction_summary["model"]):
        parts += [
            f"## MAE, {model}: {MODELS[model]}",
            "",
            "mean ± std over folds; **(1)** = best per target",
            "",
            _markdown(_mae_table(prediction_summary, model)),
            "",
        ]
    if separability_summary is not None:
        wide = separability_summary.pivot(index="embedding", columns="target", values="skill_mean")
        wide = wide.reindex(list(dict.fromkeys(separability_summary["embedding"])))[
            list(dict.fromkeys(separability_summary["target"]))
        ]
        parts += [
            f"## Map separability ({spec.map_method.upper()} of {counts['n_map']} rows, median of the {KNN_NEIGHBOURS} nearest neighbours on x, y)",
            "",
            "skill = 1 − MAE / MAE of predicting the training median (0: the map says nothing, 1: perfect)",
            "",
            _markdown(wide.reset_index(), digits=3),
            "",
        ]
    columns = [
        "source",
        "min_substitutions",
        "spearman",
        "n_elements",
        "left_out",
        "cost",
        "mod_petti_cost",
        "starts_at_best",
        "spearman_near_best_min",
        "spearman_near_best_max",
    ]
    parts += [
        "## Learned 1D ordering vs the modified Pettifor scale (Spearman)",
        "",
        "Orientation is arbitrary: each ordering is read in the direction that correlates positively. "
        f"Every row refines {SERIATION_STARTS} starts (spectral and seeded random); starts_at_best counts those that "
        "reached the lowest cost, and the last two columns give the Spearman range of the orders within 0.1 % of it.",
        "",
        _markdown(seriation[columns], digits=3),
        "",
        "## Rows",
        "",
        _markdown(rows_report),
        "",
        "## Notes",
        "",
        *[f"- {note}" for note in notes],
        "",
        "## Run time",
        "",
        *[f"- {stage}: {seconds:.0f} s" for stage, seconds in timings.items()],
        "",
    ]
    return "\n".join(parts)


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("numpy", "scipy", "pandas", "scikit-learn", "umap-learn", "plotly"):
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


# --------------------------------------------------------------------------- entry point


def run_compare(
    spec: CompareSpec,
    out: str | Path,
    *,
    cache_dir: Path | None = None,
    embeddings_wheel: str | Path | None = None,
    svg: bool = True,
) -> CompareResult:
    """Run the study and write every table and figure into ``out`` (atomically).

    Parameters
    ----------
    spec : CompareSpec
    out : path
        Output folder; replaced as a whole when the run succeeds, untouched when it fails.
    cache_dir : path, optional
        Built-in dataset cache (see :func:`data.sources.load_dataset`).
    embeddings_wheel : path, optional
        A local copy of the elementembeddings wheel (offline machines).
    svg : bool, keyword-only
        Try to write SVG copies of the figures (skipped, with a note, when static export fails).

    Returns
    -------
    CompareResult
    """
    from .map_artifact import building_directory
    from .sources import load_dataset

    timings: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()
    started = clock

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 1)
        clock = now

    dataset = load_dataset(spec.dataset, cache_dir=cache_dir)
    table = dataset.table.reset_index(drop=True)
    if "formula" not in table.columns:
        raise KeyError(f"dataset {spec.dataset} has no formula column")
    targets = _targets(table, spec)
    batch = parse_formulas(table["formula"].to_numpy(dtype=object))
    fractions = batch.fractions
    icsd = _load_icsd(spec, notes)
    mined_all = _mine(table, None, source=f"{spec.dataset} (all rows)")
    tables = _static_tables(spec, icsd, mined_all, embeddings_wheel=embeddings_wheel)
    for name, element_table in tables.items():
        for note in element_table.notes:
            notes.append(f"{name}: {note}")
    lap("load and prepare")

    # The same rows for every embedding: those every element table covers.
    covered, reasons = {}, {}
    for name, element_table in tables.items():
        features = composition_features(fractions, element_table)
        covered[name], reasons[name] = features.covered, features.reasons
    keep, rows_report = common_rows(covered, reasons)
    rows_report = pd.concat(
        [
            pd.DataFrame(
                [
                    {
                        "embedding": "(formula parsing)",
                        "n_not_covered": int(batch.n_failed),
                        "n_only_this": int(batch.n_failed),
                        "examples": "",
                    }
                ]
            ),
            rows_report,
        ],
        ignore_index=True,
    )
    common = np.flatnonzero(keep & batch.ok)
    if common.size < 10 * spec.n_folds:
        raise ValueError(f"only {common.size} rows are covered by every embedding; too few for the study")
    rng = np.random.default_rng(spec.seed)
    sample = (
        np.sort(rng.choice(common, size=spec.rows, replace=False))
        if spec.rows is not None and spec.rows < common.size
        else common
    )
    if spec.rows is not None and spec.rows >= common.size:
        notes.append(f"--rows {spec.rows} >= the {common.size} common rows: all of them are used")
    notes.insert(
        0,
        f"{len(table)} rows in {spec.dataset}; {int((~keep | ~batch.ok).sum())} dropped because some embedding cannot "
        f"featurise them (see rows.csv); {common.size} common rows; {sample.size} used for prediction.",
    )
    counts = {"n_rows": len(table), "n_common": int(common.size), "n_sample": int(sample.size), "n_map": 0}

    prediction = _prediction(spec, tables, table, fractions, sample, targets, notes)
    prediction_summary = summarise_scores(prediction)
    comparisons = [
        paired_difference(prediction, first, second)
        for first in PETTIFOR_EMBEDDINGS
        if first in tables
        for second in tables
        if second != first and second not in PETTIFOR_EMBEDDINGS
    ]
    pettifor_vs_others = pd.concat(comparisons, ignore_index=True) if comparisons else pd.DataFrame()
    headline = best_against_rest(prediction, [name for name in PETTIFOR_EMBEDDINGS if name in tables])
    lap("prediction")

    separability = separability_summary = coordinates = None
    if spec.map_rows:
        map_size = min(spec.map_rows, common.size)
        map_sample = np.sort(np.random.default_rng(spec.seed + 1).choice(common, size=map_size, replace=False))
        counts["n_map"] = int(map_size)
        separability, coordinates = _separability(spec, tables, table, fractions, map_sample, targets, notes)
        grouped = separability.groupby(["embedding", "target"], sort=False)
        separability_summary = (
            grouped["mae"]
            .agg(mae_mean="mean", mae_std="std")
            .join(grouped["skill"].agg(skill_mean="mean", skill_std="std"))
            .reset_index()
        )
        method = (
            "UMAP (umap-learn defaults, random_state=124: the paper's settings)" if spec.map_method == "umap" else "PCA"
        )
        notes.append(
            f"maps: {map_size} common rows (seed {spec.seed + 1}); features standardised per column (the same rule for all "
            f"embeddings), then {method}; separability = median of the k={KNN_NEIGHBOURS} nearest map neighbours (raw 2D coordinates), {spec.n_folds}-fold."
        )
        lap("maps and separability")

    from .element_embeddings import load_mod_petti

    reference = load_mod_petti(wheel=embeddings_wheel)
    seriation, orders = _seriation(spec, icsd, mined_all, reference)
    notes.append(
        "seriation: element cosines of each Pettifor variant; spectral start (Fiedler vector) refined by block moves and "
        f"reversals minimising sum S_ij |pos_i - pos_j| (plus {SERIATION_STARTS - 1} seeded random starts, lowest cost kept); Spearman against "
        f"mod_petti on the elements in both, orientation chosen to correlate positively. Main rows: elements with at least "
        f"{spec.min_substitutions} observed substitutions (fewer cannot be placed reliably); rows with min_substitutions=1 "
        "keep every element with any substitution; the other thresholds show how much the Spearman depends on that choice."
    )
    lap("seriation")

    with building_directory(out) as directory:
        write_table(rows_report, directory / "rows.csv")
        write_table(prediction, directory / "prediction_folds.csv")
        write_table(prediction_summary, directory / "prediction_summary.csv")
        write_table(headline, directory / "headline.csv")
        if not pettifor_vs_others.empty:
            write_table(pettifor_vs_others, directory / "pettifor_vs_others.csv")
        if separability is not None:
            write_table(separability, directory / "separability_folds.csv")
            write_table(separability_summary, directory / "separability_summary.csv")
            with atomic_path(directory / "maps.parquet") as temp:
                coordinates.to_parquet(temp, index=False)
        write_table(seriation, directory / "seriation.csv")
        write_table(orders, directory / "seriation_orders.csv")
        state = {"svg": svg}
        figures = _write_figure(mae_figure(prediction_summary), directory, "mae", notes, state)
        if separability_summary is not None:
            figures += _write_figure(separability_figure(separability_summary), directory, "separability", notes, state)
        figures += _write_figure(seriation_figure(orders, seriation), directory, "seriation", notes, state)
        lap("writing")
        timings["total"] = round(time.perf_counter() - started, 1)
        atomic_write(
            directory / "summary.md",
            _summary_markdown(
                spec, prediction_summary, headline, separability_summary, seriation, rows_report, notes, timings, counts
            ),
        )
        run = {
            "spec": asdict(spec),
            "dataset_source": dataset.source,
            "counts": counts,
            "models": {m: MODELS[m] for m in spec.models},
            "hgb_settings": HGB_SETTINGS,
            "knn_neighbours": KNN_NEIGHBOURS,
            "embeddings": {
                name: {
                    "source": t.source,
                    "n_features": t.n_features,
                    "missing": list(t.missing),
                    "notes": list(t.notes),
                }
                for name, t in tables.items()
            },
            "notes": notes,
            "timings_s": timings,
            "figures": figures,
            "versions": _versions(),
        }
        atomic_write(directory / "run.json", json.dumps(run, indent=1, default=str))
    log.info("comparison written to %s in %.0f s", out, timings["total"])
    return CompareResult(
        out=Path(out),
        prediction=prediction_summary,
        separability=separability_summary,
        seriation=seriation,
        rows=rows_report,
        headline=headline,
        notes=notes,
        timings=timings,
    )


def format_report(result: CompareResult) -> str:
    """A short plain-text report of a run for the terminal: where, the MAE table, the notes that matter."""
    lines = [f"comparison written to {result.out} in {result.timings.get('total', float('nan')):.0f} s"]
    if result.headline is not None and not result.headline.empty:
        lines += ["", "best Pettifor embedding vs best other (MAE, change, folds won):"]
        lines += [
            f"  {r.target:14s} {r.model}: {r.best} {r.best_mae:.4f} vs {r.best_other} {r.best_other_mae:.4f} "
            f"({100 * r.change:+.1f}%, {r.folds_won}/{r.n_folds})"
            for r in result.headline.itertuples()
        ]
    for model in dict.fromkeys(result.prediction["model"]):
        part = result.prediction[result.prediction["model"] == model]
        wide = part.pivot(index="embedding", columns="target", values="mae_mean")
        wide = wide.reindex(list(dict.fromkeys(part["embedding"])))[list(dict.fromkeys(part["target"]))]
        lines += ["", f"MAE ({model}, mean over folds):", wide.to_string(float_format=lambda v: f"{v:.4f}")]
    if result.separability is not None:
        wide = result.separability.pivot(index="embedding", columns="target", values="skill_mean")
        wide = wide.reindex(list(dict.fromkeys(result.separability["embedding"])))
        wide = wide[list(dict.fromkeys(result.separability["target"]))]
        lines += ["", "map separability skill:", wide.to_string(float_format=lambda v: f"{v:.3f}")]
    main = _main_seriation(result.seriation)
    lines += ["", "seriation vs modified Pettifor (Spearman):"]
    lines += [f"  {row.source}: {row.spearman:.3f} ({row.n_elements} elements)" for row in main.itertuples()]
    important = [note for note in result.notes if note.startswith(("ICSD", "SVG", "--rows"))]
    if important:
        lines += ["", *important]
    return "\n".join(lines)
