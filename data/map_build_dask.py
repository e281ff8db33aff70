"""Build a map artifact with dask.distributed, for datasets of millions of compositions.

Same artifact as :func:`data.map_build.build_map` (``points.parquet``, ``elements.parquet``,
``embedding.json``, ``projector.pkl``, ``skipped.csv``, ``metadata.json``, built under a
temporary name and renamed into place), made in passes over partitions of the input so that
neither the driver nor a worker ever holds the whole dataset:

1. *scan* (parallel): every partition is parsed and fingerprinted; the driver keeps per row
   only a 16-byte composition key, the row number and two flags (about 35 bytes a row), to
   find duplicate compositions, count the usable rows and draw the fit sample;
2. *sample* (parallel): the fingerprints of the fit sample (``fit_sample`` rows drawn with
   the seed ``compound_map`` uses) are gathered and the projection is fitted in the driver;
3. *map* (parallel): the fitted projector (scattered once) places every partition; the
   driver appends each partition to ``points.parquet`` as a row group, in input order,
   with at most ``2 * n_workers`` partitions in flight.

The fit sample's rows keep the positions the fit gave them (as in ``compound_map``); the other
rows are placed with the projector's ``transform``. When the dataset has no more usable rows
than ``fit_sample``, the projection is fitted on all of them and the map is the one
``build_map`` makes (identical coordinates for the same inputs).

Input
-----
A built-in name (``mp``, ``oqmd``, ``alexandria``: these tables are small and loaded in the
driver), or a path to a Parquet file (read by row groups) or a CSV file (read in chunks of
``partition_rows`` rows, optionally gzip/zip compressed). A Parquet file is checked as
``user_dataset`` checks one (``check_parquet_metadata``), per read of row groups rather than
for the whole file: at most ``MAX_PARTITION_BYTES`` once expanded, judged from the metadata
before any data is read and from its text read dictionary-encoded before that is expanded,
so a small file that decompresses to gigabytes is refused, naming the file. The rules of
:mod:`data.user_dataset` apply per row: formula column found by name or synonym, formulas
stripped, rows with a missing or unparsable formula and rows repeating the composition of an
earlier row (``duplicates="first"``) are skipped with the same reasons, malformed CSV lines too;
rows made only of elements without similarity data are skipped at the fingerprint stage.
Every skipped row is listed in ``skipped.csv`` (``row, formula, reason, stage``). ``row`` is
the 1-based row of a Parquet file, the line of a CSV file (header = line 1), or the 0-based
position in a built-in table (as ``build_map`` reports it).

Property columns get one type for the whole file, decided from the file schema and the first
partition: numbers are float64 (non-finite values become NaN); a text column is numeric when
at least 90 % of its non-missing values in the first partition are numbers (the others then
become NaN), categorical when the first partition has at most 1000 distinct values, else text.
Columns that are empty in the first partition are kept (``user_dataset`` drops columns that are
empty in the whole file, which needs the whole file).

Similarity
----------
Resolved before the passes with :func:`data.sources.resolve_similarity`. ``mined:self`` on a
file with more than ``MINED_SELF_MAX_ROWS`` rows is refused (mining needs the whole table in
memory): mine a subset with ``python app.py mine`` and pass ``icsd:DIR``, or use ``mined``.

Quality
-------
Trustworthiness on the same fixed sample of 5000 usable rows as ``build_map`` (identical when
the coordinates are). ``knn_preservation`` searches neighbours within that sample only
(``build_map`` searches the whole set, which a bounded-memory build cannot): recorded with
``"knn_scope": "quality sample"``.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from fingerprints.estimator import PettiforEmbedding
from fingerprints.map_quality import knn_preservation, trustworthiness_score
from fingerprints.projection import COMPOUND_METHODS, ELEMENT_METHODS, make_projector

from .builtin import BUILTIN_DATASETS
from .download import sha256_of
from .map_artifact import POINTS_FILE, build_lock, building_directory, check_output_folder
from .map_build import (
    MAP_LIBRARIES,
    QUALITY_K,
    QUALITY_SAMPLE,
    BuildSteps,
    MapSpec,
    dataset_fingerprint,
    element_frame,
    element_quality,
    finish_map,
)
from .sources import load_dataset, resolve_similarity
from .user_dataset import (
    DEFAULT_MAX_BYTES,
    MAX_CATEGORIES,
    MISSING_TOKENS,
    NUMERIC_THRESHOLD,
    PARQUET_EXPANSION,
    UserDatasetError,
    check_parquet_metadata,
    composition_keys,
    expanded_text_bytes,
    find_formula_column,
    sniff_delimiter,
    unique_column_names,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FIT_SAMPLE",
    "DEFAULT_PARTITION_ROWS",
    "MINED_SELF_MAX_ROWS",
    "MAX_PARTITION_BYTES",
    "DaskUnavailableError",
    "build_map_dask",
]

DEFAULT_PARTITION_ROWS = 250_000
#: Most bytes one read of a Parquet input (the row groups of a partition) may expand to once
#: decompressed and decoded, as ``user_dataset`` allows for a whole file; a file over it is
#: refused before the read is expanded (see ``user_dataset.read_parquet_bounded``).
MAX_PARTITION_BYTES = DEFAULT_MAX_BYTES * PARQUET_EXPANSION
DEFAULT_FIT_SAMPLE = 100_000
#: ``mined:self`` loads the whole file to mine it; above this many rows it is refused.
MINED_SELF_MAX_ROWS = 1_000_000
#: The seed ``compound_map`` draws its fit sample with, so both engines fit the same rows.
FIT_SAMPLE_SEED = 0
#: The seed of the quality sample (``fingerprints.map_quality`` default).
QUALITY_SEED = 0
_BAD_LINE_RE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
#: Columns taken as the point id, in this order (as in ``build_map``).
ID_COLUMNS = ("mat_id", "material_id", "id")
RESERVED_POINT_COLUMNS = ("id", "formula", "x", "y")
#: Share of the machine's memory the workers of a local cluster may use together.
WORKER_MEMORY_SHARE = 0.6
#: Partitions in flight per worker: enough to keep workers busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 2
#: How to install the optional packages this engine needs (the pins of requirements.txt).
DASK_INSTALL = "pip install dask==2026.8.0 distributed==2026.8.0"


class DaskUnavailableError(ImportError):
    """dask.distributed is not installed; the message names the feature and the pip command."""


def require_distributed():
    """The ``distributed`` module, or :class:`DaskUnavailableError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskUnavailableError(
            f"build-map --engine dask needs the optional packages dask and distributed, which are not installed "
            f"({exc}): {DASK_INSTALL}; or build with --engine local (one process, no extra package)"
        ) from None
    return distributed


# --------------------------------------------------------------------------- column rules


@dataclass(frozen=True)
class ColumnRules:
    """How every partition is turned into map points (decided once, in the driver).

    ``properties`` maps an input column to ``(output name, kind)`` with kind ``float``,
    ``category``, ``text`` or ``keep`` (built-in tables: the column's own type).
    """

    formula: str
    id_column: str | None
    properties: tuple[tuple[str, str, str], ...]
    schema: pa.Schema
    #: sorted values of every ``category`` column, known after the scan pass
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        names = [self.formula] + ([self.id_column] if self.id_column else [])
        return names + [source for source, _, _ in self.properties]

    @property
    def category_columns(self) -> list[str]:
        return [source for source, _, kind in self.properties if kind == "category"]

    def with_categories(self, values: dict[str, set]) -> "ColumnRules":
        """Fix every category column's categories (sorted, as ``astype("category")`` gives);
        a column with more than ``MAX_CATEGORIES`` distinct values in the file becomes text."""
        properties, fields, categories = [], [], {}
        for source, target, kind in self.properties:
            if kind == "category":
                if len(values.get(source, ())) > MAX_CATEGORIES:
                    kind = "text"
                else:
                    categories[source] = tuple(sorted(values.get(source, ())))
            properties.append((source, target, kind))
            fields.append((target, _KIND_TYPES.get(kind) or self.schema.field(target).type))
        return ColumnRules(self.formula, self.id_column, tuple(properties), _point_schema(fields), categories)


def _point_schema(properties: Iterable[tuple[str, pa.DataType]]) -> pa.Schema:
    base = [("id", pa.string()), ("formula", pa.string()), ("x", pa.float32()), ("y", pa.float32())]
    return pa.schema(base + list(properties))


def _output_names(names: list[str], id_column: str | None, formula: str, notes: list[str], description: str) -> dict[str, str]:
    """Output name of every property column; names the map uses itself get a suffix."""
    taken = set(names) | set(RESERVED_POINT_COLUMNS)
    out = {}
    for name in names:
        if name in (formula, id_column):
            continue
        target = name
        if name in RESERVED_POINT_COLUMNS:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            target = f"{name}_{k}"
            taken.add(target)
            notes.append(f"{description}: column {name!r} is a name the map uses itself: renamed {target!r}")
        out[name] = target
    return out


def _text_values(column: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Cells as stripped text, missing values (null and the ``MISSING_TOKENS``) as None."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        values = column.to_pandas().astype(object)
        text = values.where(values.notna(), "").astype(str).str.strip()
    else:  # booleans, dates, ...: as text, like a CSV cell (user_dataset does the same)
        text = pd.Series(["" if v is None else str(v) for v in column.to_pylist()], dtype=object).str.strip()
    cells = text.to_numpy(dtype=object, copy=True)
    cells[text.str.lower().isin(MISSING_TOKENS).to_numpy()] = None
    return pd.Series(cells, dtype=object)


def _decide_kind(column: pa.ChunkedArray) -> str:
    """float / category / text for one column of the first partition (``user_dataset`` rules)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "float"
    text = _text_values(column)
    present = text.notna()
    n_present = int(present.sum())
    if n_present:
        numbers = pd.to_numeric(text[present], errors="coerce")
        if numbers.notna().sum() >= NUMERIC_THRESHOLD * n_present:
            return "float"
    return "category" if text.nunique(dropna=True) <= MAX_CATEGORIES else "text"


_KIND_TYPES = {"float": pa.float64(), "category": pa.dictionary(pa.int32(), pa.string()), "text": pa.string()}


def _file_rules(names: list[str], first: pa.Table, description: str, notes: list[str], formula_column: str) -> ColumnRules:
    formula = find_formula_column(names, formula_column, description, notes)
    id_column = next((c for c in ID_COLUMNS if c in names and c != formula), None)
    targets = _output_names(names, id_column, formula, notes, description)
    properties, fields = [], []
    for name, target in targets.items():
        column = first.column(name)
        if pa.types.is_nested(column.type):
            notes.append(f"{description}: column {name!r} holds {column.type} values: ignored")
            continue
        kind = _decide_kind(column)
        properties.append((name, target, kind))
        fields.append((target, _KIND_TYPES[kind]))
    return ColumnRules(formula=formula, id_column=id_column, properties=tuple(properties), schema=_point_schema(fields))


def _table_rules(table: pd.DataFrame, description: str) -> ColumnRules:
    names = [str(c) for c in table.columns]
    if "formula" not in names:
        raise ValueError(f"dataset {description} has no formula column")
    id_column = next((c for c in ID_COLUMNS if c in names), None)
    notes: list[str] = []
    targets = _output_names(names, id_column, "formula", notes, description)
    schema = pa.Schema.from_pandas(table[list(targets)].head(10_000), preserve_index=False)
    # a column with no value in the head has no type yet: text then
    kinds = {f.name: ("text" if pa.types.is_null(f.type) else "keep") for f in schema}
    fields = [(targets[f.name], pa.string() if kinds[f.name] == "text" else f.type) for f in schema]
    properties = tuple((name, target, kinds[name]) for name, target in targets.items())
    return ColumnRules(formula="formula", id_column=id_column, properties=properties, schema=_point_schema(fields))


def _property_array(column: pa.ChunkedArray, kind: str, target_type: pa.DataType, categories: tuple[str, ...] = ()) -> tuple[pa.Array, int]:
    """A property column in its output type, and how many cells were set to NaN."""
    if kind == "keep":
        return column.cast(target_type), 0
    if kind == "float":
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if pa.types.is_integer(value_type) or pa.types.is_floating(value_type) or pa.types.is_decimal(value_type):
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
            bad = np.isinf(values)
        else:
            text = _text_values(column)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            bad = (text.notna().to_numpy() & np.isnan(values)) | np.isinf(values)
        values[bad] = np.nan
        return pa.array(values, type=pa.float64()), int(bad.sum())
    text = _text_values(column)
    if kind == "category":
        codes = pd.Categorical(text, categories=list(categories)).codes.astype(np.int32)
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(list(categories), type=pa.string())), 0
    return pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True), 0


def _formula_values(table: pa.Table, rules: ColumnRules) -> np.ndarray:
    """Formulas as an object array: stripped text, None for a missing one."""
    column = table.column(rules.formula)
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        # a numeric formula column: every row fails with the parser's reason, as in user_dataset
        values = column.to_pandas().astype(object)
        return values.where(values.notna(), None).to_numpy(dtype=object)
    if pa.types.is_dictionary(column.type):
        column = column.cast(value_type)
    values = column.to_pandas().astype(object)
    present = values.notna().to_numpy()
    cells = values.where(present, "").astype(str).str.strip().to_numpy(dtype=object, copy=True)
    cells[~present | (cells == "")] = None
    return cells


def _row_numbers(rows: int | np.ndarray, n: int) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64) if isinstance(rows, np.ndarray) else rows + np.arange(n, dtype=np.int64)


# --------------------------------------------------------------------------- worker tasks
# Module-level functions: workers import them by name, so they must stay importable.


def _fingerprint_partition(table: pa.Table, rules: ColumnRules, embedding: PettiforEmbedding):
    formulas = _formula_values(table, rules)
    fingerprints, batch = embedding.transform_formulas(formulas)
    return formulas, fingerprints, batch


def scan_partition(table: pa.Table, rows: int | np.ndarray, rules: ColumnRules, embedding: PettiforEmbedding) -> dict:
    """Pass 1 on one partition: parse, fingerprint, composition keys and parse failures.

    Returns
    -------
    dict with ``rows`` (int64, n), ``keys`` (complex128, n; NaN for failed rows), ``ok`` and
    ``zero`` (bool, n: parsed; parsed but all elements without data) and ``skipped`` (DataFrame
    ``row, formula, reason, stage`` of the rows whose formula is missing or invalid) and
    ``categories`` (the distinct values of every category column, at most
    ``MAX_CATEGORIES + 1`` each).
    """
    formulas, fingerprints, batch = _fingerprint_partition(table, rules, embedding)
    numbers = _row_numbers(rows, len(formulas))
    ok = batch.ok
    keys = np.full(len(formulas), np.nan, dtype=np.complex128)
    if ok.any():
        keys[ok] = composition_keys(batch.fractions[ok])
    failed = np.flatnonzero(~ok)
    missing = np.array([formulas[i] is None for i in failed], dtype=bool)
    reasons = np.where(missing, "missing formula", "invalid formula: " + batch.errors[failed].astype(str))
    raw = table.column(rules.formula).take(pa.array(failed, type=pa.int64())).to_pylist() if failed.size else []
    skipped = pd.DataFrame(
        {
            "row": numbers[failed],
            "formula": pd.Series(raw, dtype=object),
            "reason": pd.Series(reasons, dtype=object),
            "stage": "load",
        }
    )
    categories = {}
    for name in rules.category_columns:
        distinct = _text_values(table.column(name)).dropna().unique()
        categories[name] = set(distinct[: MAX_CATEGORIES + 1].tolist())
    return {
        "rows": numbers, "keys": keys, "ok": ok, "zero": ok & ~fingerprints.any(axis=1), "skipped": skipped,
        "categories": categories,
    }  # fmt: skip


def sample_partition(
    table: pa.Table, rules: ColumnRules, embedding: PettiforEmbedding, sample_rows: np.ndarray, formula_rows: np.ndarray
) -> tuple[np.ndarray, list]:
    """Pass 2 on one partition: fingerprints of ``sample_rows`` (local positions), shape
    (len(sample_rows), 98), and the formulas (as found) at ``formula_rows``."""
    sample = np.empty((0, 98))
    if sample_rows.size:
        formulas = _formula_values(table.take(pa.array(sample_rows, type=pa.int64())), rules)
        sample, _ = embedding.transform_formulas(formulas)
    found = table.column(rules.formula).take(pa.array(formula_rows, type=pa.int64())).to_pylist() if formula_rows.size else []
    return sample, [None if f is None else str(f) for f in found]


def map_partition(
    table: pa.Table,
    rules: ColumnRules,
    embedding: PettiforEmbedding,
    projector,
    keep: np.ndarray,
    fitted: np.ndarray,
    fitted_xy: np.ndarray,
    quality: np.ndarray,
) -> dict:
    """Pass 3 on one partition: the map points of the rows ``keep`` (local positions).

    Parameters
    ----------
    keep : int64 array of shape (k,)
        Usable rows of the partition, ascending.
    fitted, fitted_xy : positions into ``keep`` (f,) and their fitted 2D positions (f, 2)
    quality : positions into ``keep`` (q,) of the quality sample

    Returns
    -------
    dict with ``points`` (pyarrow Table in ``rules.schema``), ``quality_fingerprints`` (q, 98),
    ``quality_xy`` (q, 2) and ``nan_cells`` ({column: count} of property cells set to NaN).
    """
    part = table.take(pa.array(keep, type=pa.int64()))
    formulas = _formula_values(part, rules)
    fingerprints, batch = embedding.transform_formulas(formulas)
    if not batch.ok.all():  # cannot happen unless the input changed between passes
        raise RuntimeError("a row that parsed in the first pass failed in the last one: did the input file change?")
    xy = np.empty((len(keep), 2), dtype=np.float64)
    placed = np.ones(len(keep), dtype=bool)
    placed[fitted] = False
    xy[fitted] = fitted_xy
    if placed.any():
        xy[placed] = projector.transform(fingerprints[placed])
    if rules.id_column is not None:
        ids = part.column(rules.id_column).to_pandas().astype(object)
        ids = ids.map(_id_text).where(ids.notna(), None)
        ids = ids.where(ids.notna(), pd.Series(formulas, dtype=object))
    else:
        ids = pd.Series(formulas, dtype=object)
    columns = {
        "id": pa.array(ids.to_numpy(dtype=object), type=pa.string()),
        "formula": pa.array(formulas, type=pa.string()),
        "x": pa.array(xy[:, 0].astype(np.float32)),
        "y": pa.array(xy[:, 1].astype(np.float32)),
    }
    nan_cells = {}
    for source, target, kind in rules.properties:
        columns[target], n_bad = _property_array(
            part.column(source), kind, rules.schema.field(target).type, rules.categories.get(source, ())
        )
        if n_bad:
            nan_cells[target] = n_bad
    points = pa.Table.from_arrays([columns[f.name] for f in rules.schema], schema=rules.schema)
    return {"points": points, "quality_fingerprints": fingerprints[quality], "quality_xy": xy[quality], "nan_cells": nan_cells}


def _id_text(value: object) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric id column: 17.0 -> "17"
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- input sources


@dataclass
class _Partition:
    index: int
    rows: int | np.ndarray  # first row number, or the row number of every row (CSV)
    table: pa.Table


@dataclass
class _Source:
    """Where partitions come from; each pass reads them again in the same order."""

    name: str
    description: str
    rules: ColumnRules | None = None
    notes: list[str] = field(default_factory=list)
    bad_lines: pd.DataFrame | None = None  # CSV lines pandas could not split, found in pass 1
    n_rows: int | None = None

    def partitions(self, columns: list[str]) -> Iterator[_Partition]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sha256(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class _TableSource(_Source):
    """A table already in the driver's memory (the built-in datasets): sliced into partitions."""

    def __init__(self, dataset, partition_rows: int):
        super().__init__(name=dataset.name, description=dataset.source)
        self.dataset = dataset
        self.partition_rows = partition_rows
        self.rules = _table_rules(dataset.table, dataset.name)
        self.n_rows = len(dataset.table)

    def partitions(self, columns: list[str]) -> Iterator[_Partition]:
        table = self.dataset.table
        for index, start in enumerate(range(0, len(table), self.partition_rows)):
            part = table.iloc[start : start + self.partition_rows][columns]
            yield _Partition(index, start, pa.Table.from_pandas(part, preserve_index=False))

    def sha256(self) -> str:
        return dataset_fingerprint(self.dataset)


class _ParquetSource(_Source):
    """A Parquet file read by row groups: consecutive row groups up to ``partition_rows`` rows;
    a larger row group is read once per slice of ``partition_rows`` rows."""

    def __init__(self, path: Path, partition_rows: int, formula_column: str):
        super().__init__(name=path.stem, description=str(path))
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise UserDatasetError(f"{path} is not a readable Parquet file ({exc})") from None
        metadata = self.file.metadata
        self.n_rows = metadata.num_rows
        if self.n_rows == 0:
            raise UserDatasetError(f"{path} has no data rows")
        self.plan = _row_group_plan([metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)], partition_rows)
        # A small file can expand to gigabytes (a decompression bomb): every read is checked
        # from the metadata before any data is read, and its text once read dictionary-encoded.
        self.max_read_bytes = MAX_PARTITION_BYTES
        self.fixed_bytes: dict[tuple[int, ...], int] = {}
        self.text_columns: list[str] = []
        for groups, _, _ in self.plan:
            self.text_columns, self.fixed_bytes[tuple(groups)] = check_parquet_metadata(
                self.file, description=_groups_description(path, groups), max_rows=None,
                max_expanded_bytes=self.max_read_bytes, row_groups=groups,
            )  # fmt: skip
        schema = self.file.schema_arrow
        self.text_types = {n: schema.field(n).type for n in self.text_columns if not pa.types.is_dictionary(schema.field(n).type)}
        if self.text_types:
            self.file = pq.ParquetFile(path, read_dictionary=list(self.text_types))
        raw_names = [n for n in self.file.schema_arrow.names if not n.startswith("__index_level_")]
        names = unique_column_names(raw_names, self.description, self.notes)
        if names != raw_names:
            raise UserDatasetError(f"{path}: column names are empty or repeated ({', '.join(map(repr, raw_names))}): rename them")
        first = self._read(self.plan[0], names)
        self.rules = _file_rules(names, first, self.description, self.notes, formula_column)

    def _read(self, piece: tuple[list[int], int, int], columns: list[str]) -> pa.Table:
        groups, offset, length = piece
        try:
            table = self.file.read_row_groups(groups, columns=columns)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise UserDatasetError(f"{self.path}: row groups {groups} could not be read ({exc})") from None
        text = [n for n in self.text_columns if n in table.column_names]
        expanded = self.fixed_bytes[tuple(groups)] + sum(expanded_text_bytes(table.column(n)) for n in text)
        if expanded > self.max_read_bytes:
            raise UserDatasetError(
                f"{_groups_description(self.path, groups)} expands to {expanded / 1e6:.1f} MB of values, more than "
                f"the limit of {self.max_read_bytes / 1e6:.1f} MB for one read: refused before expanding it"
            )
        for name, kind in self.text_types.items():
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, table.column(name).cast(kind))
        return table.slice(offset, length)

    def partitions(self, columns: list[str]) -> Iterator[_Partition]:
        start = 1  # 1-based rows, as user_dataset reports them
        for index, piece in enumerate(self.plan):
            table = self._read(piece, columns)
            yield _Partition(index, start, table)
            start += table.num_rows

    def sha256(self) -> str:
        return sha256_of(self.path)


def _groups_description(path: Path, groups: list[int]) -> str:
    """``path`` and the row groups read together, for messages."""
    shown = str(groups[0]) if len(groups) == 1 else f"{groups[0]}-{groups[-1]}"
    return f"{path} (row group{'s' if len(groups) > 1 else ''} {shown})"


def _row_group_plan(sizes: list[int], partition_rows: int) -> list[tuple[list[int], int, int]]:
    """Partitions as ``(row groups, offset, length)``: whole row groups gathered up to
    ``partition_rows`` rows, a larger row group split into slices."""
    plan: list[tuple[list[int], int, int]] = []
    pending: list[int] = []
    pending_rows = 0
    for group, size in enumerate(sizes):
        if size == 0:
            continue
        if size > partition_rows:
            if pending:
                plan.append((pending, 0, pending_rows))
                pending, pending_rows = [], 0
            for offset in range(0, size, partition_rows):
                plan.append(([group], offset, min(partition_rows, size - offset)))
            continue
        if pending_rows + size > partition_rows and pending:
            plan.append((pending, 0, pending_rows))
            pending, pending_rows = [], 0
        pending.append(group)
        pending_rows += size
    if pending:
        plan.append((pending, 0, pending_rows))
    return plan


class _CSVSource(_Source):
    """A CSV file streamed in chunks of ``partition_rows`` rows (every cell read as text)."""

    def __init__(self, path: Path, partition_rows: int, formula_column: str):
        super().__init__(name=path.stem.removesuffix(".csv"), description=str(path))
        self.path = path
        self.partition_rows = partition_rows
        self.compression = "infer"
        head = _head_bytes(path)
        if head[:2] == b"\x1f\x8b":
            self.compression = "gzip"
        elif head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            self.compression = "zip"
        else:
            self.compression = None
        text_head = _head_text(path, self.compression)
        self.encoding = "utf-8-sig"
        try:
            sample = text_head.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start < len(text_head) - 4:  # not just a character cut at the end of the sample
                self.encoding = "latin-1"
                self.notes.append(f"{path} is not UTF-8: read as Latin-1")
            sample = text_head.decode(self.encoding, errors="ignore")
        if not sample.strip():
            raise UserDatasetError(f"{path} is empty")
        self.delimiter = sniff_delimiter(sample)
        try:
            header = pd.read_csv(
                path, sep=self.delimiter, header=None, nrows=1, dtype=str, keep_default_na=False,
                na_filter=False, encoding=self.encoding, compression=self.compression,
            )  # fmt: skip
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise UserDatasetError(f"{path} is not a readable CSV file ({str(exc).strip()})") from None
        self.names = unique_column_names([str(v) for v in header.iloc[0].tolist()], self.description, self.notes)
        chunks = self._chunks(None, record_bad_lines=False)
        first = next(chunks, None)
        chunks.close()
        if first is None:
            raise UserDatasetError(f"{path} has a header (columns: {', '.join(map(repr, self.names[:20]))}) but no data rows")
        self.rules = _file_rules(self.names, first.table, self.description, self.notes, formula_column)

    def _chunks(self, columns: list[str] | None, *, record_bad_lines: bool) -> Iterator[_Partition]:
        bad: list[tuple[int, int, int]] = []
        try:
            reader = pd.read_csv(
                self.path, sep=self.delimiter, header=0, names=self.names, dtype=str, keep_default_na=False,
                na_filter=False, on_bad_lines="warn", engine="c", chunksize=self.partition_rows,
                encoding=self.encoding, compression=self.compression,
            )  # fmt: skip
            next_line = 2  # the header is line 1
            index = 0
            with reader:
                while True:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        try:
                            chunk = next(reader)
                        except StopIteration:
                            break
                    bad.extend(
                        (int(m.group(1)), int(m.group(2)), int(m.group(3)))
                        for w in caught
                        for m in _BAD_LINE_RE.finditer(str(w.message))
                    )
                    bad.sort()
                    # one line per record; the parser may report bad lines ahead of this chunk
                    lines = next_line + np.arange(len(chunk), dtype=np.int64)
                    for line, _, _ in bad:
                        if line >= next_line:
                            lines[lines >= line] += 1
                    if len(chunk):
                        next_line = int(lines[-1]) + 1
                    if columns is not None:
                        chunk = chunk[columns]
                    yield _Partition(index, lines, pa.Table.from_pandas(chunk, preserve_index=False))
                    index += 1
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
            raise UserDatasetError(f"{self.path} could not be read as CSV ({str(exc).strip()})") from None
        if record_bad_lines:
            self.bad_lines = pd.DataFrame(
                {
                    "row": np.array([line for line, _, _ in bad], dtype=np.int64),
                    "formula": pd.Series([None] * len(bad), dtype=object),
                    "reason": [f"malformed line: {saw} fields, the header has {expected}" for _, expected, saw in bad],
                    "stage": "load",
                }
            )

    def partitions(self, columns: list[str]) -> Iterator[_Partition]:
        return self._chunks(columns, record_bad_lines=self.bad_lines is None)

    def sha256(self) -> str:
        return sha256_of(self.path)


def _head_bytes(path: Path, size: int = 1 << 16) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _head_text(path: Path, compression: str | None, size: int = 1 << 16) -> bytes:
    if compression == "gzip":
        with gzip.open(path, "rb") as handle:
            return handle.read(size)
    if compression == "zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1 or not members[0].lower().endswith((".csv", ".tsv", ".txt")):
                raise UserDatasetError(f"{path}: a zip file must hold exactly one CSV file, found {members[:5]}")
            with archive.open(members[0]) as handle:
                return handle.read(size)
    return _head_bytes(path, size)


def _open_source(dataset: str | os.PathLike, *, partition_rows: int, formula_column: str, cache_dir: Path | None) -> _Source:
    text = str(dataset)
    if text in BUILTIN_DATASETS or text == "alexandria":
        return _TableSource(load_dataset(text, cache_dir=cache_dir), partition_rows)
    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {text!r} is neither a built-in name ({', '.join(BUILTIN_DATASETS)}, alexandria) nor an existing file"
        )
    if not path.is_file():
        raise UserDatasetError(f"dataset {path} is not a file")
    if path.stat().st_size == 0:
        raise UserDatasetError(f"{path} is empty")
    head = _head_bytes(path, 8)
    if head[:4] == b"PAR1":
        return _ParquetSource(path, partition_rows, formula_column)
    if head[:4] == b"\xd0\xcf\x11\xe0" or (head[:4] == b"PK\x03\x04" and path.suffix.lower() in (".xlsx", ".xls")):
        raise UserDatasetError(f"{path} is an Excel workbook: save it as CSV or Parquet")
    return _CSVSource(path, partition_rows, formula_column)


# --------------------------------------------------------------------------- cluster


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int | None = None):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://127.0.0.1:8786``), or to a new LocalCluster bound to 127.0.0.1 with ``n_workers``
    single-threaded worker processes (default: one per core), no public dashboard, and
    memory limits that leave room for the driver. Everything opened here is closed on exit.
    """
    distributed = require_distributed()

    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    import psutil

    workers = int(n_workers or os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    memory_limit = max(1 << 30, int(psutil.virtual_memory().total * WORKER_MEMORY_SHARE / workers))
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        memory_limit=memory_limit,
        silence_logs=logging.WARNING,
        # one numba thread per worker process: the workers already use every core
        env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _in_order(client, partitions: Iterable[_Partition], submit: Callable, window: int, bar) -> Iterator[tuple[_Partition, object]]:
    """Submit one task per partition, keep at most ``window`` in flight, yield results in order."""
    pending: deque = deque()

    def pop():
        partition, future = pending.popleft()
        result = future.result()
        future.release()
        bar.update(1)
        return partition, result

    for partition in partitions:
        data = client.scatter(partition.table, hash=False)
        pending.append((partition, submit(data, partition)))
        partition.table = None  # the driver keeps no copy
        if len(pending) >= window:
            yield pop()
    while pending:
        yield pop()


# --------------------------------------------------------------------------- build


@dataclass
class _Scan:
    """What the driver keeps from pass 1, about 35 bytes a row."""

    rows: list[np.ndarray] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)
    ok: list[np.ndarray] = field(default_factory=list)
    zero: list[np.ndarray] = field(default_factory=list)
    skipped: list[pd.DataFrame] = field(default_factory=list)


def _resolve_counts(spec: MapSpec, source: _Source, cache_dir: Path | None, formula_column: str):
    if spec.similarity != "mined:self":
        return resolve_similarity(spec.similarity, cache_dir=cache_dir)
    if isinstance(source, _TableSource):
        return resolve_similarity(spec.similarity, dataset=source.dataset, cache_dir=cache_dir)
    too_big = source.n_rows is not None and source.n_rows > MINED_SELF_MAX_ROWS
    if too_big or Path(source.description).stat().st_size > DEFAULT_MAX_BYTES:
        raise ValueError(
            f"similarity mined:self on {source.description} ({source.n_rows or 'more than ' + str(MINED_SELF_MAX_ROWS)} rows) "
            f"is refused: mining needs the whole table in memory (at most {MINED_SELF_MAX_ROWS:,} rows, "
            f"{DEFAULT_MAX_BYTES // 1_000_000} MB). Mine a subset first with `python app.py mine --dataset SUBSET "
            f"--out DIR` and build with --similarity icsd:DIR, or use --similarity mined (the built-in mp)"
        )
    return resolve_similarity(spec.similarity, dataset=load_dataset(source.description, cache_dir=cache_dir), cache_dir=cache_dir)


def _sorted_sample(population: int, size: int | None, seed: int) -> np.ndarray:
    """Ascending positions of a seeded sample, drawn as ``compound_map`` and ``map_quality`` do."""
    if size is None or size >= population:
        return np.arange(population, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(population, size=size, replace=False)).astype(np.int64)


def _split_by_partition(global_positions: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Global usable positions -> positions within each partition's usable rows."""
    cut = np.searchsorted(global_positions, offsets)
    return [global_positions[cut[i] : cut[i + 1]] - offsets[i] for i in range(len(offsets) - 1)]


def build_map_dask(
    spec: MapSpec,
    out: str | os.PathLike,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    fit_sample: int = DEFAULT_FIT_SAMPLE,
    duplicates: str = "first",
    formula_column: str = "formula",
    progress: bool = True,
    cache_dir: Path | None = None,
) -> Path:
    """Build the map of ``spec`` into the directory ``out`` (atomically) with dask.distributed.

    Parameters
    ----------
    spec : MapSpec
        As for ``build_map``. ``spec.fit_sample``, when set, overrides ``fit_sample``.
    out : path
        The map directory; replaced only once the new map is complete.
    scheduler : str, optional, keyword-only
        Address of a running dask scheduler (``tcp://HOST:PORT``); its workers must be able to
        import this project. Default: a LocalCluster for this build (see :func:`dask_client`).
    n_workers : int, optional, keyword-only
        Workers of the LocalCluster (default: one per core); ignored with ``scheduler``.
    partition_rows : int, keyword-only
        Rows per partition: memory per task is about 2 kB times this (fingerprints and
        projection work arrays).
    fit_sample : int, keyword-only
        Rows the projection is fitted on (seeded random sample of the usable rows); the rest
        are placed with ``transform``.
    duplicates : {"first", "keep"}, keyword-only
        Skip rows repeating an earlier row's composition (default, as ``user_dataset``), or keep them.
    formula_column : str, keyword-only
        Formula column of a file (synonyms as in ``user_dataset``).

    Returns
    -------
    Path of the map directory.

    Raises
    ------
    ValueError, UserDatasetError, FileNotFoundError
        Bad options, unreadable input, no usable row; nothing is left at ``out`` then.
    data.map_artifact.MapOutputError
        ``out`` cannot be written (checked before any work).
    DaskUnavailableError
        dask or distributed is not installed (checked before any work).
    """
    require_distributed()  # before any work: the last steps need it
    if partition_rows < 1:
        raise ValueError(f"partition_rows must be at least 1, got {partition_rows}")
    if duplicates not in ("first", "keep"):
        raise ValueError(f"duplicates must be 'first' or 'keep', got {duplicates!r}")
    if spec.method not in COMPOUND_METHODS:
        raise ValueError(f"unknown compound map method {spec.method!r}: choose one of {', '.join(COMPOUND_METHODS)}")
    if spec.element_method not in ELEMENT_METHODS:
        raise ValueError(f"unknown element map method {spec.element_method!r}: choose one of {', '.join(ELEMENT_METHODS)}")
    check_output_folder(out)
    sample_size = spec.fit_sample if spec.fit_sample is not None else fit_sample
    probe = make_projector(spec.method, **spec.params)  # bad method or parameters fail before any work
    if sample_size is not None and sample_size < probe._min_samples:
        raise ValueError(f"fit_sample must be at least {probe._min_samples}, got {sample_size}")

    with build_lock(out):  # a second build of ``out`` fails here at once, not hours later
        steps = BuildSteps(
            ["open dataset", "similarity", "cluster", "scan", "fit sample", "fit projection", "element map", "map and write", "quality"],
            progress=progress,
        )
        started = time.perf_counter()
        try:
            steps.start("open dataset")
            source = _open_source(spec.dataset, partition_rows=partition_rows, formula_column=formula_column, cache_dir=cache_dir)
            rules = source.rules
            for note in source.notes:
                log.warning("%s", note)

            steps.start("similarity")
            counts = _resolve_counts(spec, source, cache_dir, formula_column)
            embedding = PettiforEmbedding(variant=spec.variant, normalize=spec.normalize).fit(counts)

            steps.start("cluster")
            with dask_client(scheduler, n_workers=n_workers) as client:
                n_active = len(client.scheduler_info().get("workers", {}))
                window = max(2, IN_FLIGHT_PER_WORKER * max(1, n_active))
                shared_embedding = client.scatter(embedding, broadcast=True, hash=False)

                steps.start("scan")
                scan = _Scan()
                category_values: dict[str, set] = {}
                with tqdm(desc="scan", unit="partition", disable=not progress, leave=False) as bar:
                    for partition, result in _in_order(
                        client,
                        source.partitions([rules.formula, *rules.category_columns]),
                        lambda data, p: client.submit(scan_partition, data, p.rows, rules, shared_embedding, pure=False),
                        window,
                        bar,
                    ):
                        scan.rows.append(result["rows"])
                        scan.keys.append(result["keys"])
                        scan.ok.append(result["ok"])
                        scan.zero.append(result["zero"])
                        scan.skipped.append(result["skipped"])
                        for name, values in result["categories"].items():
                            seen = category_values.setdefault(name, set())
                            if len(seen) <= MAX_CATEGORIES:
                                seen |= values
                rules = rules.with_categories(category_values)
                n_partitions = len(scan.rows)
                if n_partitions == 0:
                    raise UserDatasetError(f"{source.description} has no data rows")

                usable = _usable_rows(scan, duplicates)
                keep = usable.keep
                sizes = np.array([k.size for k in keep], dtype=np.int64)
                offsets = np.concatenate([[0], np.cumsum(sizes)])
                n_usable = int(offsets[-1])
                if n_usable < probe._min_samples:
                    examples = pd.concat(scan.skipped, ignore_index=True).head(3)
                    listed = "; ".join(f"row {r.row}: {r.reason}" for r in examples.itertuples(index=False))
                    raise ValueError(
                        f"dataset {spec.dataset}: only {n_usable} row(s) could be fingerprinted, a {spec.method} map "
                        f"needs at least {probe._min_samples}" + (f" (e.g. {listed})" if listed else "")
                    )

                steps.start("fit sample")
                chosen = _sorted_sample(n_usable, sample_size, FIT_SAMPLE_SEED)
                chosen_local = _split_by_partition(chosen, offsets)
                sample_parts, found_formulas = [], []
                with tqdm(desc="fit sample", unit="partition", disable=not progress, leave=False) as bar:
                    for partition, (sample, formulas) in _in_order(
                        client,
                        source.partitions([rules.formula]),
                        lambda data, p: client.submit(
                            sample_partition, data, rules, shared_embedding,
                            keep[p.index][chosen_local[p.index]], usable.lookups[p.index], pure=False,
                        ),  # fmt: skip
                        window,
                        bar,
                    ):
                        sample_parts.append(sample)
                        found_formulas.append(dict(zip(usable.lookups[partition.index].tolist(), formulas)))
                X_fit = np.concatenate(sample_parts)
                del sample_parts

                steps.start("fit projection")
                projector = make_projector(spec.method, **spec.params).fit(X_fit)
                fitted_xy = projector.embedding_
                if chosen.size < n_usable:
                    projector.params_["fit_sample"] = {"size": int(chosen.size), "seed": FIT_SAMPLE_SEED}
                projector.params_["n_zero_rows"] = 0
                del X_fit
                shared_projector = client.scatter(projector, broadcast=True, hash=False)
                fitted_offsets = np.concatenate([[0], np.cumsum([c.size for c in chosen_local])])

                steps.start("element map")
                elements = element_frame(embedding.element_vectors_, spec.element_method)

                steps.start("map and write")
                quality_rows = _sorted_sample(n_usable, QUALITY_SAMPLE, QUALITY_SEED)
                quality_local = _split_by_partition(quality_rows, offsets)
                quality_fp, quality_xy, nan_cells = [], [], {}
                n_points = 0
                with building_directory(out) as folder:
                    writer = pq.ParquetWriter(folder / POINTS_FILE, rules.schema)
                    try:
                        with tqdm(desc="map", unit="partition", disable=not progress, leave=False) as bar:
                            for partition, result in _in_order(
                                client,
                                source.partitions(rules.input_columns),
                                lambda data, p: client.submit(
                                    map_partition, data, rules, shared_embedding, shared_projector, keep[p.index],
                                    chosen_local[p.index],
                                    fitted_xy[fitted_offsets[p.index] : fitted_offsets[p.index + 1]],
                                    quality_local[p.index], pure=False,
                                ),  # fmt: skip
                                window,
                                bar,
                            ):
                                _write_partition(writer, result["points"])
                                n_points += result["points"].num_rows
                                quality_fp.append(result["quality_fingerprints"])
                                quality_xy.append(result["quality_xy"])
                                for column, n in result["nan_cells"].items():
                                    nan_cells[column] = nan_cells.get(column, 0) + n
                    finally:
                        writer.close()

                    steps.start("quality")
                    quality = _quality(np.concatenate(quality_fp), np.concatenate(quality_xy), embedding, elements)
                    skipped = _skipped_table(source, scan, usable, found_formulas, embedding)
                    warnings_list = list(source.notes) + [
                        f"column {column!r}: {n} value(s) that are not finite numbers set to NaN" for column, n in nan_cells.items()
                    ]
                    finish_map(
                        folder, spec=spec, counts=counts, embedding=embedding, projector=projector, elements=elements,
                        skipped=skipped, rows=n_points, quality=quality, steps=steps, started=started,
                        dataset={
                            "name": source.name,
                            "source": source.description,
                            "sha256": source.sha256(),
                            "rows": int(usable.n_input + (0 if source.bad_lines is None else len(source.bad_lines))),
                        },
                        libraries=(*MAP_LIBRARIES, "pyarrow", "dask", "distributed"),
                        extra={
                            "warnings": warnings_list,
                            "engine": {
                                "name": "dask",
                                "scheduler": scheduler or "LocalCluster (127.0.0.1)",
                                "n_workers": n_active,
                                "partitions": n_partitions,
                                "partition_rows": int(partition_rows),
                                "fit_sample": {"requested": sample_size, "used": int(chosen.size), "seed": FIT_SAMPLE_SEED},
                                "duplicates": duplicates,
                            },
                        },
                    )
        finally:
            steps.close()
    log.info("map written to %s (%d points, %d skipped) in %.1f s", out, n_points, len(skipped), time.perf_counter() - started)
    return Path(out)


def _write_partition(writer: pq.ParquetWriter, points: pa.Table) -> None:
    """Append one partition's points as a row group (a seam for tests of failures mid-write)."""
    writer.write_table(points)


@dataclass
class _Usable:
    """Per partition: usable rows, skipped duplicates and zero-fingerprint rows (local positions)."""

    keep: list[np.ndarray]
    duplicate: list[np.ndarray]
    duplicate_first: list[np.ndarray]  # global position of the first row of each duplicate's composition
    zero: list[np.ndarray]
    lookups: list[np.ndarray]  # local positions whose formula text the skipped list needs
    starts: np.ndarray  # global position of every partition's first row, plus the total

    @property
    def n_input(self) -> int:
        return int(self.starts[-1])


def _usable_rows(scan: _Scan, duplicates: str) -> _Usable:
    """Decide which rows go on the map: parsed, not a repeated composition, not all-zero."""
    sizes = [len(r) for r in scan.rows]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ok = np.concatenate(scan.ok)
    zero = np.concatenate(scan.zero)
    duplicate = np.zeros(ok.size, dtype=bool)
    first_of = np.full(ok.size, -1, dtype=np.int64)
    if duplicates == "first" and ok.any():
        valid = np.flatnonzero(ok)
        codes, _ = pd.factorize(np.concatenate(scan.keys)[valid])
        _, first_index = np.unique(codes, return_index=True)
        first = valid[first_index[codes]]
        repeated = first != valid
        duplicate[valid[repeated]] = True
        first_of[valid[repeated]] = first[repeated]
    zero &= ~duplicate  # a repeated composition is reported as a duplicate, as user_dataset does
    usable = ok & ~duplicate & ~zero
    firsts = np.unique(first_of[duplicate])
    first_part = np.searchsorted(starts, firsts, side="right") - 1
    result = _Usable([], [], [], [], [], starts)
    for i in range(len(sizes)):
        window = slice(starts[i], starts[i + 1])
        result.keep.append(np.flatnonzero(usable[window]))
        result.duplicate.append(np.flatnonzero(duplicate[window]))
        result.duplicate_first.append(first_of[window][result.duplicate[-1]])
        result.zero.append(np.flatnonzero(zero[window]))
        here = firsts[first_part == i] - starts[i]
        result.lookups.append(np.union1d(np.union1d(result.duplicate[-1], result.zero[-1]), here).astype(np.int64))
    return result


def _skipped_table(source: _Source, scan: _Scan, usable: _Usable, formulas: list[dict], embedding) -> pd.DataFrame:
    """Every skipped row with its reason, sorted by row: ``row, formula, reason, stage``."""
    rows_all = np.concatenate(scan.rows)
    starts = usable.starts
    parts = [frame for frame in scan.skipped if len(frame)]
    if source.bad_lines is not None and len(source.bad_lines):
        parts.append(source.bad_lines)
    without = ", ".join(embedding.elements_without_data_)
    for i, local in enumerate(usable.duplicate):
        if local.size:
            firsts = usable.duplicate_first[i]
            first_part = np.searchsorted(starts, firsts, side="right") - 1
            first_formulas = [formulas[p].get(int(g - starts[p])) for p, g in zip(first_part, firsts)]
            reasons = [f"duplicate composition: same as row {rows_all[g]} ({f})" for g, f in zip(firsts, first_formulas)]
            own = pd.Series([formulas[i].get(int(j)) for j in local], dtype=object)
            parts.append(pd.DataFrame({"row": scan.rows[i][local], "formula": own, "reason": reasons, "stage": "load"}))
    for i, local in enumerate(usable.zero):
        if local.size:
            own = pd.Series([formulas[i].get(int(j)) for j in local], dtype=object)
            reason = f"only elements without similarity data: {without}"
            parts.append(pd.DataFrame({"row": scan.rows[i][local], "formula": own, "reason": reason, "stage": "fingerprint"}))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype=np.int64), **{c: pd.Series(dtype=object) for c in ("formula", "reason", "stage")}})
    return pd.concat(parts, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)


def _quality(fingerprints: np.ndarray, xy: np.ndarray, embedding: PettiforEmbedding, elements: pd.DataFrame) -> dict:
    n = fingerprints.shape[0]
    k = min(QUALITY_K, max(1, (n - 1) // 2))
    return {
        "compounds": {
            "trustworthiness": trustworthiness_score(fingerprints, xy, n_neighbors=k, sample=None),
            "knn_preservation": knn_preservation(fingerprints, xy, k=k, sample=None),
            "knn_scope": "quality sample",
            "k": k,
            "sample": n,
        },
        "elements": element_quality(embedding, elements),
    }
