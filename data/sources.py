"""Resolve what the user names on the command line into tables and substitution counts.

A *dataset* is a built-in name (``mp``, ``oqmd``), ``alexandria`` (the table loaded earlier
with ``data load alexandria``) or a path to a user CSV/Parquet file.

A *similarity* is ``mined`` (substitution counts mined from a dataset, by default the
built-in ``mp``), ``icsd`` (the public ICSD counts, downloaded once and cached) or
``icsd:DIR`` (a folder holding ``substitution.dat`` and ``substitution.dat.element_count``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fingerprints.counts import SubstitutionCounts

from .builtin import BUILTIN_DATASETS, load_builtin
from .substitution_counts import (
    COUNTS_FILENAME,
    ELEMENT_COUNTS_FILENAME,
    download_icsd_counts,
    read_substitution_counts,
)

log = logging.getLogger(__name__)

DEFAULT_DATASET = "mp"


@dataclass
class Dataset:
    """A table of compositions with its provenance."""

    name: str
    table: pd.DataFrame
    source: str
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "formula", "reason"]))
    warnings: list[str] = field(default_factory=list)


def load_dataset(spec: str | Path, *, cache_dir: Path | None = None) -> Dataset:
    """A built-in name, ``alexandria``, or a path to a user CSV/Parquet file."""
    text = str(spec)
    if text in BUILTIN_DATASETS:
        table = load_builtin(text, cache_dir=cache_dir)
        return Dataset(name=text, table=table, source=f"built-in {text} (crabnet 2.0.8 wheel)")
    if text == "alexandria":
        from .alexandria import load_cached_alexandria

        table, source = load_cached_alexandria(cache_dir=cache_dir)
        return Dataset(name="alexandria", table=table, source=source)
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {text!r} is neither a built-in name ({', '.join(BUILTIN_DATASETS)}, alexandria) nor an existing file"
        )
    from .user_dataset import load_user_dataset

    loaded = load_user_dataset(path)
    return Dataset(name=path.stem, table=loaded.table, source=str(path), skipped=loaded.skipped, warnings=list(loaded.warnings))


def mine_counts(dataset: Dataset, *, max_e_above_hull: float | None = None) -> SubstitutionCounts:
    """Substitution counts mined from a dataset (prototype-aware when it has ``prototype_id``)."""
    from fingerprints.mining import mine_substitution_counts

    table = dataset.table
    use_filter = max_e_above_hull is not None
    if use_filter and "e_above_hull" not in table.columns:
        raise ValueError(f"dataset {dataset.name} has no e_above_hull column, so --max-e-above-hull cannot be applied")
    prototype = "prototype_id" if "prototype_id" in table.columns else None
    return mine_substitution_counts(
        table,
        prototype_column=prototype,
        max_e_above_hull=max_e_above_hull,
        source=f"mined from {dataset.source}" + (f" (e_above_hull <= {max_e_above_hull:g} eV/atom)" if use_filter else ""),
    )


def default_mined_counts(*, cache_dir: Path | None = None) -> SubstitutionCounts:
    """The offline default similarity: mined from the built-in ``mp`` with the stability filter."""
    from fingerprints.mining import RECOMMENDED_MAX_E_ABOVE_HULL

    return mine_counts(load_dataset(DEFAULT_DATASET, cache_dir=cache_dir), max_e_above_hull=RECOMMENDED_MAX_E_ABOVE_HULL)


def resolve_similarity(spec: str, *, dataset: Dataset | None = None, cache_dir: Path | None = None) -> SubstitutionCounts:
    """Counts for a similarity source.

    ``mined``
        mined from the built-in ``mp`` (stability filter e_above_hull <= 0.05 eV/atom): the
        offline default, the same for every map so maps of different datasets are comparable;
    ``mined:self``
        mined from ``dataset`` itself (with the filter when it has e_above_hull);
    ``mined:NAME|PATH``
        mined from another dataset;
    ``icsd``
        the public ICSD counts (downloaded once, sha256-checked, cached);
    ``icsd:DIR``
        a folder with ``substitution.dat`` and ``substitution.dat.element_count``.
    """
    from fingerprints.mining import RECOMMENDED_MAX_E_ABOVE_HULL

    if spec == "mined":
        return default_mined_counts(cache_dir=cache_dir)
    if spec.startswith("mined:"):
        target = spec[len("mined:") :]
        if target == "self":
            if dataset is None:
                raise ValueError("similarity mined:self needs a dataset to mine")
            source = dataset
        else:
            source = load_dataset(target, cache_dir=cache_dir)
        threshold = RECOMMENDED_MAX_E_ABOVE_HULL if "e_above_hull" in source.table.columns else None
        return mine_counts(source, max_e_above_hull=threshold)
    if spec == "icsd":
        return read_substitution_counts(*download_icsd_counts())
    if spec.startswith("icsd:"):
        folder = Path(spec[len("icsd:") :])
        if folder.is_file() and folder.name == COUNTS_FILENAME:
            folder = folder.parent
        return read_substitution_counts(folder / COUNTS_FILENAME, folder / ELEMENT_COUNTS_FILENAME)
    raise ValueError(
        f"unknown similarity {spec!r}: use mined, mined:self, mined:NAME|PATH, icsd or icsd:DIR "
        f"(a folder with {COUNTS_FILENAME})"
    )
