"""The built-in default datasets, built offline from the CSVs inside the ``crabnet`` wheel.

Two datasets, one row per composition (reduced formula):

* ``mp`` (the default): about 95.7k Materials Project compositions with energy above the
  hull, total magnetisation, formation energy and PBE band gap.
* ``oqmd``: about 342k OQMD compositions with formation enthalpy, energy per atom, volume
  per atom and band gap.

Source: the ``crabnet==2.0.8`` wheel from PyPI (sha256 pinned), fetched with pip on first
use and cached (:mod:`data.wheels`); it is read as a zip archive, never installed. The built
tables are cached as Parquet files with a manifest each (:mod:`data.cache`): a cached table
is verified (size, sha256, row count, recipe version, source checksum) every time it is
loaded, and a damaged or partial one is rebuilt, never served.

How several rows of one composition (polymorphs) are merged, and why: ``data/README.md``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import platform
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from fingerprints.reduced_formula import reduce_column

from . import cache, wheels
from .download import default_cache_dir

__all__ = [
    "BUILTIN_DATASETS",
    "CRABNET_WHEEL_NAME",
    "CRABNET_WHEEL_SHA256",
    "DATASET_SPECS",
    "RECIPE_VERSION",
    "BuiltinCacheError",
    "BuiltinDataError",
    "ColumnSpec",
    "DatasetSpec",
    "WheelChecksumError",
    "WheelContentError",
    "WheelUnavailableError",
    "build_builtin",
    "builtin_info",
    "default_builtin_dir",
    "ensure_crabnet_wheel",
    "load_builtin",
]

logger = logging.getLogger(__name__)

CRABNET_VERSION = "2.0.8"
CRABNET_WHEEL_NAME = f"crabnet-{CRABNET_VERSION}-py3-none-any.whl"
CRABNET_WHEEL_SHA256 = "4901565abaa5b4cd1a7841b9de647a3906df21676b226a7abf972d113f92054a"

#: Version of the build recipe (columns, merge rules, formula key). Bump it whenever the
#: output of a build changes: cached tables of another version are rebuilt.
RECIPE_VERSION = 1

BUILTIN_DATASETS: tuple[str, ...] = ("mp", "oqmd")

#: How a user builds a dataset by hand; shown in error messages.
BUILD_HINT = "python app.py data build {name}"

PIP_TIMEOUT = 600.0

_MANUAL_WHEEL_HINT = (
    f"On a machine that reaches PyPI run `python -m pip download --no-deps --ignore-requires-python "
    f"crabnet=={CRABNET_VERSION} -d DIR`, copy DIR/{CRABNET_WHEEL_NAME} to this machine and pass its path "
    f"(the wheel=PATH argument, or the CLI's --wheel PATH option)."
)


# --------------------------------------------------------------------------- errors


class BuiltinDataError(RuntimeError):
    """A built-in dataset could not be built or loaded."""


class WheelUnavailableError(BuiltinDataError):
    """The crabnet wheel is not cached and could not be downloaded (PyPI unreachable, pip failed)."""


class WheelChecksumError(BuiltinDataError):
    """A crabnet wheel does not have the pinned sha256; it was not used (and not kept in the cache)."""


class WheelContentError(BuiltinDataError):
    """The wheel lacks a file, or a file in it is not in the expected format."""


class BuiltinCacheError(BuiltinDataError):
    """A cached dataset is missing, corrupt or outdated and was not (re)built.

    Attributes
    ----------
    status : data.cache.CacheStatus
    """

    def __init__(self, message: str, *, status: cache.CacheStatus) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- dataset recipes


@dataclass(frozen=True)
class ColumnSpec:
    """One property column of a built-in dataset.

    Attributes
    ----------
    name : str
        Column name in the table.
    unit : str
        Physical unit (``""`` when dimensionless).
    description : str
        What the value is, and which polymorph it describes when several were merged.
    """

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class _PropertySource:
    """CSV files (train/val/test, concatenated in that order) holding one property.

    ``rule`` merges rows of one composition: ``"min"`` keeps the row with the lowest value
    (the ground state, for energies), ``"median"`` takes the median over the rows (for
    properties that cannot be tied to a particular row of the energy files). ``paired``
    names a second property in other files with the same rows in the same order (taken
    from the same row as the minimum).
    """

    column: str
    members: tuple[str, ...]
    rule: str
    paired_column: str | None = None
    paired_members: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    """What a built-in dataset holds and where it comes from.

    Attributes
    ----------
    name : str
    title : str
    columns : tuple of ColumnSpec
        The property columns, in table order (after ``formula, elements, n_elements``;
        ``n_polymorphs`` is the last column).
    """

    name: str
    title: str
    columns: tuple[ColumnSpec, ...]
    sources: tuple[_PropertySource, ...]

    @property
    def members(self) -> tuple[str, ...]:
        """Every wheel member the build reads, in reading order."""
        out: list[str] = []
        for source in self.sources:
            out.extend(source.members)
            out.extend(source.paired_members)
        return tuple(out)

    @property
    def column_names(self) -> tuple[str, ...]:
        """All columns of the table, in order."""
        return ("formula", "elements", "n_elements", *(c.name for c in self.columns), "n_polymorphs")


_SPLITS = ("train", "val", "test")
_BENCH = "crabnet/data/benchmark_data"
_MATBENCH = "crabnet/data/matbench"


def _splits(directory: str) -> tuple[str, ...]:
    return tuple(f"{_BENCH}/{directory}/{split}.csv" for split in _SPLITS)


DATASET_SPECS: dict[str, DatasetSpec] = {
    "mp": DatasetSpec(
        name="mp",
        title="Materials Project compositions (CrabNet benchmark and matbench files)",
        columns=(
            ColumnSpec(
                "e_above_hull",
                "eV/atom",
                "energy above the convex hull (lowest over the rows of this composition)",
            ),
            ColumnSpec(
                "magnetization",
                "muB per cell",
                "total magnetisation of the computed cell, from the same row as e_above_hull",
            ),
            ColumnSpec(
                "e_form",
                "eV/atom",
                "formation energy per atom of the lowest-e_form polymorph (matbench mp_e_form)",
            ),
            ColumnSpec(
                "band_gap",
                "eV",
                "PBE band gap, median over the polymorphs in matbench mp_gap",
            ),
        ),
        sources=(
            _PropertySource(
                "e_above_hull",
                _splits("mp_e_hull"),
                "min",
                paired_column="magnetization",
                paired_members=_splits("mp_mu_b"),
            ),
            _PropertySource("e_form", (f"{_MATBENCH}/mp_e_form.csv",), "min"),
            _PropertySource("band_gap", (f"{_MATBENCH}/mp_gap.csv",), "median"),
        ),
    ),
    "oqmd": DatasetSpec(
        name="oqmd",
        title="OQMD compositions (CrabNet benchmark files)",
        columns=(
            ColumnSpec("formation_enthalpy", "eV/atom", "formation enthalpy (lowest over the rows)"),
            ColumnSpec("energy_per_atom", "eV/atom", "DFT total energy per atom (lowest over the rows)"),
            ColumnSpec("volume_per_atom", "A^3/atom", "volume per atom (median over the rows)"),
            ColumnSpec("band_gap", "eV", "band gap (median over the rows)"),
        ),
        sources=(
            _PropertySource("formation_enthalpy", _splits("OQMD_Formation_Enthalpy"), "min"),
            _PropertySource("energy_per_atom", _splits("OQMD_Energy_per_atom"), "min"),
            _PropertySource("volume_per_atom", _splits("OQMD_Volume_per_atom"), "median"),
            _PropertySource("band_gap", _splits("OQMD_Bandgap"), "median"),
        ),
    ),
}

_MAX_SKIP_EXAMPLES = 20


# --------------------------------------------------------------------------- the wheel


def default_builtin_dir() -> Path:
    """Default cache directory of the built-in datasets: ``default_cache_dir() / "datasets"``."""
    return default_cache_dir() / "datasets"


def _resolve_dir(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_builtin_dir()


def _sources_dir(cache_dir: Path) -> Path:
    return cache_dir / "sources"


def ensure_crabnet_wheel(
    *,
    cache_dir: str | os.PathLike | None = None,
    wheel: str | os.PathLike | None = None,
    sha256: str = CRABNET_WHEEL_SHA256,
    timeout: float = PIP_TIMEOUT,
) -> Path:
    """The verified crabnet wheel in the cache, copied from ``wheel`` or downloaded with pip.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Built-in dataset cache (default :func:`default_builtin_dir`); the wheel is kept in
        its ``sources/`` folder.
    wheel : str or os.PathLike, optional
        A local copy of the wheel (offline use). It is checked and copied into the cache;
        the file itself is never modified or deleted.
    sha256 : str, optional
        The expected sha256 (the pinned one by default; tests pass their own).
    timeout : float, optional
        Seconds pip may take.

    Returns
    -------
    pathlib.Path
        The cached wheel, whose sha256 was just verified.

    Raises
    ------
    WheelChecksumError
        ``wheel`` (or the downloaded wheel) has another sha256.
    WheelUnavailableError
        ``wheel`` does not exist, or no verified wheel is cached and pip failed.
    """
    try:
        return wheels.ensure_wheel(
            f"crabnet=={CRABNET_VERSION}", name=CRABNET_WHEEL_NAME, sha256=sha256,
            cache_dir=_sources_dir(_resolve_dir(cache_dir)), wheel=wheel, timeout=timeout,
            manual_hint=_MANUAL_WHEEL_HINT, pip_options=("--ignore-requires-python",),
        )  # fmt: skip
    except wheels.WheelError as err:
        error = WheelChecksumError if err.kind == wheels.CHECKSUM else WheelUnavailableError
        raise error(str(err)) from None


def _open_wheel(path: Path, members: Sequence[str], dataset: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise WheelContentError(f"crabnet wheel {path} is not a readable zip archive: {err}") from None
    names = set(archive.namelist())
    missing = [member for member in members if member not in names]
    if missing:
        archive.close()
        raise WheelContentError(
            f"crabnet wheel {path} lacks {len(missing)} file(s) needed for dataset {dataset!r}: {', '.join(missing)}"
        )
    return archive


def _read_member(archive: zipfile.ZipFile, member: str, wheel: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One ``formula,target`` CSV as a frame (formula str, target float, NaN if invalid)."""
    where = f"{member} in {wheel}"
    try:
        data = archive.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as err:  # CRC errors, truncated archive
        raise WheelContentError(f"cannot read {where}: {err}") from None
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as err:  # pandas parser errors are ValueErrors
        raise WheelContentError(f"{where} is not a readable CSV file: {err}") from None
    missing = [column for column in ("formula", "target") if column not in frame.columns]
    if missing:
        raise WheelContentError(
            f"{where} lacks column(s) {missing}: expected columns formula,target, found {list(frame.columns)}"
        )
    if frame.empty:
        raise WheelContentError(f"{where} has no data rows")
    target = pd.to_numeric(frame["target"].str.strip(), errors="coerce").astype(np.float64)
    target[~np.isfinite(target)] = np.nan
    out = pd.DataFrame({"formula": frame["formula"].astype(object), "target": target, "raw_target": frame["target"]})
    info = {"path": member, "rows": int(len(frame)), "sha256": _sha256_bytes(data)}
    return out, info


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_members(
    archive: zipfile.ZipFile, members: Sequence[str], wheel: Path, *, bar: tqdm
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Concatenate CSV members; ``file`` and ``row`` (1-based data row) say where each row came from."""
    frames = []
    infos = []
    for member in members:
        frame, info = _read_member(archive, member, wheel)
        frame["file"] = member
        frame["row"] = np.arange(1, len(frame) + 1)
        frames.append(frame)
        infos.append(info)
        bar.update(1)
    return pd.concat(frames, ignore_index=True), infos


# --------------------------------------------------------------------------- merging


class _SkipLog:
    """Rows left out of a build, with the reason, for the manifest and the log."""

    def __init__(self) -> None:
        self.by_file: dict[str, int] = {}
        self.examples: list[dict[str, Any]] = []

    def add(self, rows: pd.DataFrame, reasons: np.ndarray) -> None:
        if rows.empty:
            return
        for member, count in rows["file"].value_counts(sort=False).items():
            self.by_file[member] = self.by_file.get(member, 0) + int(count)
        room = max(0, _MAX_SKIP_EXAMPLES - len(self.examples))
        head = rows.head(room)
        for member, row, formula, reason in zip(head["file"], head["row"], head["formula"], reasons[:room]):
            self.examples.append({"file": member, "row": int(row), "formula": str(formula), "reason": str(reason)})

    @property
    def total(self) -> int:
        return sum(self.by_file.values())

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_file": dict(self.by_file), "examples": list(self.examples)}


def _valid_rows(frame: pd.DataFrame, error: np.ndarray, value_columns: Sequence[str], skipped: _SkipLog) -> np.ndarray:
    """Bool mask (N,): rows whose formula parsed and whose values are finite numbers.

    The other rows are logged in ``skipped`` with their reason.
    """
    reason = np.full(len(frame), "", dtype=object)
    bad_formula = error != ""
    reason[bad_formula] = [f"formula: {text}" for text in error[bad_formula]]
    for column in value_columns:
        bad_value = np.isnan(frame[column].to_numpy(dtype=np.float64)) & (reason == "")
        raw = frame[f"raw_{column}"].to_numpy(dtype=object)[bad_value]
        reason[bad_value] = [f"{column} is missing or not a finite number: {text!r}" for text in raw]
    bad = reason != ""
    skipped.add(frame.loc[bad], reason[bad])
    return ~bad


def _merge_min(
    key: np.ndarray, values: np.ndarray, carried: Sequence[np.ndarray], n_keys: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per composition id: the lowest value and the carried values of that same row.

    Ties keep the first row in file order (lexsort is stable). Returns arrays of shape
    (n_keys,), NaN for ids without rows.
    """
    order = np.lexsort((values, key))
    sorted_key = key[order]
    first = order[np.r_[True, sorted_key[1:] != sorted_key[:-1]]] if len(order) else order
    merged = []
    for array in (values, *carried):
        out = np.full(n_keys, np.nan)
        out[key[first]] = array[first]
        merged.append(out)
    return merged[0], merged[1:]


def _merge_median(key: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Per composition id: the median over its rows, shape (n_keys,), NaN for ids without rows."""
    medians = pd.Series(values).groupby(key).median()
    out = np.full(n_keys, np.nan)
    out[medians.index.to_numpy()] = medians.to_numpy()
    return out


def _check_paired(first: pd.DataFrame, second: pd.DataFrame, source: _PropertySource, wheel: Path) -> None:
    """The paired files must hold the same formulas in the same order."""
    if len(first) != len(second):
        raise WheelContentError(
            f"{source.column} and {source.paired_column} files in {wheel} should have the same rows in the same order, "
            f"but have {len(first)} and {len(second)} rows"
        )
    differ = np.flatnonzero(first["formula"].to_numpy() != second["formula"].to_numpy())
    if len(differ):
        i = differ[0]
        raise WheelContentError(
            f"{source.column} and {source.paired_column} files in {wheel} should list the same formulas in the same "
            f"order, but {len(differ)} rows differ; first: {first['file'].iat[i]} row {first['row'].iat[i]} is "
            f"{first['formula'].iat[i]!r}, {second['file'].iat[i]} row {second['row'].iat[i]} is "
            f"{second['formula'].iat[i]!r}"
        )


def _read_sources(spec: DatasetSpec, wheel: Path, *, progress: bool) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """One frame per property source: formula, file, row, value column(s) and raw_ text."""
    archive = _open_wheel(wheel, spec.members, spec.name)
    frames = []
    files: list[dict[str, Any]] = []
    bar = tqdm(total=len(spec.members), desc=f"reading {spec.name} CSVs", unit="file", disable=not progress)
    with archive, bar:
        for source in spec.sources:
            frame, infos = _read_members(archive, source.members, wheel, bar=bar)
            files.extend(infos)
            frame = frame.rename(columns={"target": source.column, "raw_target": f"raw_{source.column}"})
            if source.paired_column:
                paired, paired_infos = _read_members(archive, source.paired_members, wheel, bar=bar)
                files.extend(paired_infos)
                _check_paired(frame, paired, source, wheel)
                frame[source.paired_column] = paired["target"].to_numpy()
                frame[f"raw_{source.paired_column}"] = paired["raw_target"].to_numpy()
            frames.append(frame)
    return frames, files


def _build_frame(spec: DatasetSpec, wheel: Path, *, progress: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    frames, files = _read_sources(spec, wheel, progress=progress)
    # Every distinct formula string of every file is reduced once; rows then carry an
    # integer composition id, which makes the merges plain numpy work.
    all_formulas = np.concatenate([frame["formula"].to_numpy(dtype=object) for frame in frames])
    reduced = reduce_column(
        all_formulas,
        progress=lambda uniques: tqdm(
            uniques, desc="reducing formulas", unit="formula", disable=not progress, mininterval=0.5
        ),
    )
    n_keys = len(reduced.formulas)
    skipped = _SkipLog()
    columns: dict[str, np.ndarray] = {}
    counts_per_source = []
    offset = 0
    for source, frame in zip(spec.sources, frames):
        rows = slice(offset, offset + len(frame))
        offset += len(frame)
        value_columns = [source.column] + ([source.paired_column] if source.paired_column else [])
        valid = _valid_rows(frame, reduced.error[rows], value_columns, skipped)
        key = reduced.key[rows][valid]
        values = frame[source.column].to_numpy(dtype=np.float64)[valid]
        if source.rule == "min":
            carried = [frame[source.paired_column].to_numpy(dtype=np.float64)[valid]] if source.paired_column else []
            columns[source.column], carried_out = _merge_min(key, values, carried, n_keys)
            if source.paired_column:
                columns[source.paired_column] = carried_out[0]
        elif source.rule == "median":
            columns[source.column] = _merge_median(key, values, n_keys)
        else:  # pragma: no cover - a recipe error
            raise ValueError(f"unknown merge rule {source.rule!r}")
        counts_per_source.append(np.bincount(key, minlength=n_keys))
    if skipped.total:
        logger.warning(
            "%s: %d row(s) left out (bad formula or value); first: %s", spec.name, skipped.total, skipped.examples[:3]
        )

    # The same structure appears in several files, so the counts are not added up: the
    # largest count is a lower bound on the number of distinct polymorphs.
    n_polymorphs = np.max(np.vstack(counts_per_source), axis=0)
    kept = np.flatnonzero(n_polymorphs > 0)  # compositions whose every row was skipped go
    kept = kept[np.argsort(reduced.formulas[kept], kind="stable")]
    out = pd.DataFrame(
        {
            "formula": pd.Series(reduced.formulas[kept], dtype=str),
            "elements": pd.Series(reduced.systems[kept], dtype=str),
            "n_elements": reduced.sizes[kept].astype(np.int16),
        }
    )
    for column in spec.columns:
        out[column.name] = columns[column.name][kept]
    out["n_polymorphs"] = n_polymorphs[kept].astype(np.int32)

    counts: dict[str, Any] = {"rows": int(len(out))}
    for column in spec.columns:
        counts[column.name] = int(out[column.name].notna().sum())
    counts["merged_compositions"] = int((out["n_polymorphs"] > 1).sum())
    return out, {"files": files, "counts": counts, "skipped": skipped.as_dict()}


# --------------------------------------------------------------------------- public API


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASET_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown built-in dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}") from None


def _expectations(name: str, wheel_sha256: str) -> dict[str, Any]:
    return {"dataset": name, "recipe_version": RECIPE_VERSION, "source_sha256": wheel_sha256.lower()}


def build_builtin(
    name: str = "mp",
    *,
    cache_dir: str | os.PathLike | None = None,
    wheel: str | os.PathLike | None = None,
    progress: bool = True,
    force: bool = False,
    wheel_sha256: str = CRABNET_WHEEL_SHA256,
    pip_timeout: float = PIP_TIMEOUT,
) -> Path:
    """Build a built-in dataset into the cache (or keep the verified cached one).

    Parameters
    ----------
    name : {"mp", "oqmd"}
    cache_dir : str or os.PathLike, optional
        Cache directory (default ``default_cache_dir() / "datasets"``).
    wheel : str or os.PathLike, optional
        Local copy of the crabnet wheel; without it the cached wheel is used, or pip
        downloads it from PyPI.
    progress : bool, keyword-only
        Progress bars on stderr.
    force : bool, keyword-only
        Rebuild even when the cached table verifies.
    wheel_sha256 : str, keyword-only
        Expected sha256 of the wheel (the pinned one; tests pass their own).
    pip_timeout : float, keyword-only
        Seconds pip may take to download the wheel.

    Returns
    -------
    pathlib.Path
        The Parquet file.

    Raises
    ------
    ValueError
        Unknown dataset name.
    WheelUnavailableError, WheelChecksumError, WheelContentError
        The source could not be had or is not as expected; nothing is written.
    """
    spec = _spec(name)
    directory = _resolve_dir(cache_dir)
    expect = _expectations(name, wheel_sha256)
    with cache.build_lock(directory, name):
        if not force:
            status = cache.verify_table(directory, name, expect=expect)
            if status.ok:
                logger.info("%s is already built and verified: %s", name, cache.parquet_path(directory, name))
                return cache.parquet_path(directory, name)
            if status.status != cache.MISSING:
                logger.warning("cached %s is %s (%s); rebuilding it", name, status.status, status.reason)
        started = time.perf_counter()
        wheel_path = ensure_crabnet_wheel(cache_dir=directory, wheel=wheel, sha256=wheel_sha256, timeout=pip_timeout)
        logger.info("building %s from %s", name, wheel_path)
        frame, report = _build_frame(spec, wheel_path, progress=progress)
        elapsed = time.perf_counter() - started
        metadata = {
            **expect,
            "title": spec.title,
            "source": {
                "package": f"crabnet=={CRABNET_VERSION}",
                "wheel": CRABNET_WHEEL_NAME,
                "sha256": wheel_sha256.lower(),
            },
            "files": report["files"],
            "counts": report["counts"],
            "skipped": report["skipped"],
            "columns": {c.name: {"unit": c.unit, "description": c.description} for c in spec.columns},
            "build_seconds": round(elapsed, 2),
            "software": {
                "python": platform.python_version(),
                "pandas": pd.__version__,
                "numpy": np.__version__,
            },
        }
        path = cache.write_table(frame, directory, name, metadata=metadata)
    logger.info(
        "built %s: %d compositions in %.1f s -> %s", name, len(frame), time.perf_counter() - started, path
    )
    return path


def load_builtin(
    name: str = "mp",
    *,
    cache_dir: str | os.PathLike | None = None,
    build_if_missing: bool = True,
    wheel: str | os.PathLike | None = None,
    progress: bool = True,
    wheel_sha256: str = CRABNET_WHEEL_SHA256,
) -> pd.DataFrame:
    """Load a built-in dataset from the cache, (re)building it when it is absent or damaged.

    Parameters
    ----------
    name : {"mp", "oqmd"}
    cache_dir : str or os.PathLike, optional
        Cache directory (default ``default_cache_dir() / "datasets"``).
    build_if_missing : bool, keyword-only
        Build (or rebuild) when the cached table is missing, corrupt or outdated; when
        False such a table raises :class:`BuiltinCacheError` instead.
    wheel, progress, wheel_sha256 :
        As for :func:`build_builtin`, used only when a build is needed.

    Returns
    -------
    DataFrame of shape (n_compositions, n_columns)
        ``formula`` (str, canonical reduced formula, unique), ``elements`` (str, e.g.
        ``"Fe-O"``, alphabetical), ``n_elements`` (int16), the property columns of
        ``DATASET_SPECS[name].columns`` (float64, NaN where unknown) and ``n_polymorphs``
        (int32). Rows sorted by ``formula``.

    Raises
    ------
    BuiltinCacheError
        The cached table is not usable and ``build_if_missing`` is False.
    BuiltinDataError
        A (re)build was needed and failed (e.g. the wheel could not be had).
    """
    _spec(name)
    directory = _resolve_dir(cache_dir)
    expect = _expectations(name, wheel_sha256)
    try:
        frame, _ = cache.read_table(directory, name, expect=expect)
        return frame
    except cache.CacheError as err:
        status = err.status
    if not build_if_missing:
        raise BuiltinCacheError(
            f"built-in dataset {name!r} in {directory} is {status.status}: {status.reason}. "
            f"Build it with `{BUILD_HINT.format(name=name)}`.",
            status=status,
        )
    if status.status != cache.MISSING:
        logger.warning("cached %s is %s (%s); rebuilding it", name, status.status, status.reason)
    try:
        build_builtin(name, cache_dir=directory, wheel=wheel, progress=progress, wheel_sha256=wheel_sha256)
    except BuiltinDataError as err:
        if status.status == cache.MISSING:
            raise
        raise type(err)(
            f"cached {name!r} is {status.status} ({status.reason}) and could not be rebuilt: {err}"
        ) from err
    try:
        frame, _ = cache.read_table(directory, name, expect=expect)
    except cache.CacheError as err:  # pragma: no cover - the file changed right after the build
        raise BuiltinCacheError(
            f"built-in dataset {name!r} failed verification right after its build: {err}", status=err.status
        ) from None
    return frame


def _describe_source(source: dict[str, Any]) -> str:
    if not source:
        return ""
    return f"{source.get('package', '')} (sha256 {str(source.get('sha256', ''))[:12]})"


def builtin_info(
    *, cache_dir: str | os.PathLike | None = None, wheel_sha256: str = CRABNET_WHEEL_SHA256
) -> pd.DataFrame:
    """State of every built-in dataset in the cache (for ``app.py data info``).

    Verifies each cached table (size, sha256, row count, recipe version, source) without
    building anything.

    Returns
    -------
    DataFrame with one row per dataset in :data:`BUILTIN_DATASETS` and columns
        ``dataset``, ``status`` (``"ok"``, ``"missing"``, ``"corrupt"`` or ``"outdated"``),
        ``rows`` (Int64, from the manifest; <NA> when unknown), ``source`` (package and
        wheel sha256 prefix), ``built`` (UTC time stamp), ``path`` (the Parquet file) and
        ``detail`` (why it is not ok).
    """
    directory = _resolve_dir(cache_dir)
    records = []
    for name in BUILTIN_DATASETS:
        status = cache.verify_table(directory, name, expect=_expectations(name, wheel_sha256))
        manifest = status.manifest or {}
        metadata = manifest.get("metadata", {}) if isinstance(manifest.get("metadata"), dict) else {}
        parquet_info = manifest.get("parquet", {}) if isinstance(manifest.get("parquet"), dict) else {}
        source = metadata.get("source", {}) if isinstance(metadata.get("source"), dict) else {}
        records.append(
            {
                "dataset": name,
                "status": status.status,
                "rows": parquet_info.get("rows"),
                "source": _describe_source(source),
                "built": manifest.get("built", ""),
                "path": str(cache.parquet_path(directory, name)),
                "detail": status.reason,
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame["rows"] = frame["rows"].astype("Int64")
    return frame
