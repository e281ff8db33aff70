"""Element tables (one vector per element) and the composition features built from them.

Every embedding of the comparison study goes through the same two steps:

1. an :class:`ElementTable`: one row of numbers per covered element (Magpie properties,
   mat2vec word vectors, one-hot, Pettifor vectors ...), built from any table with
   :func:`element_table_from_frame` or by the constructors below;
2. :func:`composition_features`: the fraction-weighted sum ``v = sum_A x_A e_A`` of the
   element rows (optionally scaled to unit L2 norm, the paper's unit sphere), with a mask of
   the compositions the table covers.

A composition containing an element the table has no row for cannot be featurised: it gets
a zero row, ``covered = False`` and the reason (``"no magpie vector for Cf"``), never a
silently wrong vector. Pure computation: no file or network I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .composition import normalize_rows
from .counts import SubstitutionCounts
from .elements import MAX_Z, SYMBOL_TO_INDEX, SYMBOLS
from .embedding import Variant, element_vector_array

__all__ = [
    "CompositionFeatures",
    "ElementTable",
    "composition_features",
    "coverage_summary",
    "element_table_from_frame",
    "element_table_from_mapping",
    "one_hot_table",
    "pettifor_table",
    "scale_one_hot_table",
    "uncovered_reasons",
]

#: Symbols of elements heavier than Cf (and the labels some tables use for "no element"):
#: rows labelled so are left out with a note, not reported as unknown labels.
_BEYOND_CF = frozenset(
    "Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og Uut Uuq Uup Uuh Uus Uuo Uue D T".split()
)
_NULL_LABELS = frozenset({"Null", "null", "None", "X", ""})
_MAX_LISTED = 12


def _listing(items: Sequence[str]) -> str:
    items = list(items)
    shown = ", ".join(map(str, items[:_MAX_LISTED]))
    return shown + (f" ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


@dataclass(frozen=True)
class ElementTable:
    """Vectors of the elements an embedding covers.

    Attributes
    ----------
    name : str
        Short name used in tables and figures (``"magpie"``, ``"pettifor-icsd-corrected"``).
    vectors : DataFrame of shape (n_covered, n_features)
        Index: element symbols (a subset of H..Cf, in Z order, name ``"element"``);
        columns: feature names; finite float64 values.
    source : str
        Provenance (file, package version, counts source).
    notes : tuple of str
        What was done to the raw table (rows left out, values imputed ...).
    """

    name: str
    vectors: pd.DataFrame
    source: str = "unknown"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"element table name must be a non-empty string, got {self.name!r}")
        frame = self.vectors
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"element table {self.name!r}: vectors must be a DataFrame, got {type(frame).__name__}")
        unknown = [label for label in frame.index if label not in SYMBOL_TO_INDEX]
        if unknown:
            raise ValueError(
                f"element table {self.name!r}: index holds labels that are not elements H..Cf: {_listing(unknown)}"
            )
        if frame.index.has_duplicates:
            raise ValueError(
                f"element table {self.name!r}: element(s) listed twice: {_listing(frame.index[frame.index.duplicated()].unique())}"
            )
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"element table {self.name!r} is empty: shape {frame.shape}")
        values = frame.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"element table {self.name!r} has NaN or infinite values")
        order = np.argsort([SYMBOL_TO_INDEX[s] for s in frame.index], kind="stable")
        tidy = pd.DataFrame(
            values[order], index=pd.Index(frame.index[order], name="element"), columns=[str(c) for c in frame.columns]
        )
        object.__setattr__(self, "vectors", tidy)
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def n_features(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def covered(self) -> tuple[str, ...]:
        """Covered element symbols, in Z order."""
        return tuple(self.vectors.index)

    @property
    def missing(self) -> tuple[str, ...]:
        """Elements H..Cf without a vector, in Z order."""
        have = set(self.vectors.index)
        return tuple(symbol for symbol in SYMBOLS if symbol not in have)

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """The table over all 98 elements.

        Returns
        -------
        vectors : ndarray of shape (98, n_features)
            Row ``Z - 1``; zero rows for elements without a vector.
        covered : ndarray of shape (98,), bool
        """
        full = np.zeros((MAX_Z, self.n_features))
        covered = np.zeros(MAX_Z, dtype=bool)
        rows = np.array([SYMBOL_TO_INDEX[s] for s in self.vectors.index], dtype=np.int64)
        full[rows] = self.vectors.to_numpy()
        covered[rows] = True
        return full, covered


# --------------------------------------------------------------------------- builders


def element_table_from_frame(
    frame: pd.DataFrame,
    *,
    name: str,
    source: str = "unknown",
    element_column: str | None = "element",
    impute: str | None = "median",
) -> ElementTable:
    """An :class:`ElementTable` from a table with one row per element.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, 1 + n_features)
        One row per element; every feature column must be numeric.
    name : str, keyword-only
    source : str, keyword-only
    element_column : str or None, keyword-only
        Column holding the element symbols; ``None`` reads them from the index.
    impute : {"median", None}, keyword-only
        Missing values (NaN) in a feature column: ``"median"`` fills them with the column's
        median over the elements that have a value (reported in the notes, element by
        element); ``None`` raises instead. A column with no value at all is dropped (noted).

    Returns
    -------
    ElementTable
        Rows for elements H..Cf only. Rows of heavier elements (Es..Og), of isotopes (D, T)
        and placeholder rows (``Null``) are left out and noted; rows whose label is not an
        element symbol at all (e.g. a corrupted ``GaGe``) are left out and noted separately.

    Raises
    ------
    KeyError
        ``element_column`` is not a column.
    ValueError
        A feature column is not numeric, an element is listed twice, no row is left, or a
        value is missing with ``impute=None``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"element table {name!r}: expected a DataFrame, got {type(frame).__name__}")
    if impute not in ("median", None):
        raise ValueError(f"impute must be 'median' or None, got {impute!r}")
    if element_column is None:
        labels = pd.Series(frame.index, index=frame.index).astype(str).str.strip()
        features = frame
    else:
        if element_column not in frame.columns:
            raise KeyError(
                f"element table {name!r} ({source}) has no column {element_column!r} "
                f"(columns: {_listing([str(c) for c in frame.columns])})"
            )
        labels = frame[element_column].astype(str).str.strip()
        features = frame.drop(columns=[element_column])
    if features.shape[1] == 0:
        raise ValueError(f"element table {name!r} ({source}) has no feature columns")
    not_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if not_numeric:
        raise ValueError(
            f"element table {name!r} ({source}): column(s) {_listing(not_numeric)} are not numeric "
            f"(e.g. {features[not_numeric[0]].iloc[0]!r})"
        )
    notes: list[str] = []
    known = labels.isin(SYMBOL_TO_INDEX).to_numpy()
    beyond = labels.isin(_BEYOND_CF | _NULL_LABELS).to_numpy() & ~known
    strange = ~known & ~beyond
    if beyond.any():
        notes.append(f"{int(beyond.sum())} rows outside H..Cf left out ({_listing(labels[beyond].tolist())})")
    if strange.any():
        notes.append(
            f"{int(strange.sum())} rows whose label is not an element symbol left out "
            f"({_listing([repr(x) for x in labels[strange].tolist()])})"
        )
    labels = labels[known]
    values = features.loc[known].astype(np.float64)
    if labels.duplicated().any():
        raise ValueError(
            f"element table {name!r} ({source}): element(s) listed twice: {_listing(labels[labels.duplicated()].unique().tolist())}"
        )
    if len(labels) == 0:
        raise ValueError(f"element table {name!r} ({source}) has no row for any element H..Cf")
    values.index = pd.Index(labels.to_numpy(), name="element")
    values = values.replace([np.inf, -np.inf], np.nan)
    empty = [str(c) for c in values.columns if values[c].isna().all()]
    if empty:
        values = values.drop(columns=empty)
        notes.append(f"{len(empty)} column(s) without any value dropped ({_listing(empty)})")
        if values.shape[1] == 0:
            raise ValueError(f"element table {name!r} ({source}) has no column with a value")
    holes = values.isna()
    if holes.to_numpy().any():
        if impute is None:
            rows, columns = np.nonzero(holes.to_numpy())
            where = [f"{values.index[r]}/{values.columns[c]}" for r, c in zip(rows, columns, strict=True)]
            raise ValueError(
                f"element table {name!r} ({source}) has {len(where)} missing values (row/column {where[:5]})"
            )
        filled = []
        for column in values.columns[holes.any().to_numpy()]:
            missing = values.index[holes[column].to_numpy()].tolist()
            median = float(values[column].median())
            values[column] = values[column].fillna(median)
            filled.append(f"{column} ({', '.join(missing)})")
        notes.append(
            f"{int(holes.to_numpy().sum())} missing values filled with the column median over the elements: "
            + "; ".join(filled)
        )
    table = ElementTable(name=name, vectors=values, source=source, notes=tuple(notes))
    return table


def element_table_from_mapping(
    mapping: Mapping[str, Sequence[float]], *, name: str, source: str = "unknown", impute: str | None = "median"
) -> ElementTable:
    """An :class:`ElementTable` from ``{symbol: vector}`` (e.g. a JSON file's content).

    All vectors must have the same length; see :func:`element_table_from_frame` for the rules.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"element table {name!r} ({source}) must be a non-empty mapping of symbol -> vector")
    lengths = {}
    for key, value in mapping.items():
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ValueError(f"element table {name!r} ({source}): the value of {key!r} is not a list of numbers")
        lengths.setdefault(len(value), []).append(str(key))
    if len(lengths) > 1:
        common = max(lengths, key=lambda k: len(lengths[k]))
        odd = [f"{key} ({n})" for n, keys in lengths.items() if n != common for key in keys]
        raise ValueError(
            f"element table {name!r} ({source}): vectors of unequal length, expected {common}: {_listing(odd)}"
        )
    try:
        frame = pd.DataFrame.from_dict({str(k): list(v) for k, v in mapping.items()}, orient="index", dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"element table {name!r} ({source}) holds values that are not numbers: {err}") from None
    frame.columns = [str(c) for c in frame.columns]
    return element_table_from_frame(frame, name=name, source=source, element_column=None, impute=impute)


def one_hot_table(*, name: str = "one-hot") -> ElementTable:
    """One axis per element H..Cf (the 98 x 98 identity): every element equally unlike every other."""
    return ElementTable(
        name=name,
        vectors=pd.DataFrame(np.eye(MAX_Z), index=pd.Index(SYMBOLS, name="element"), columns=list(SYMBOLS)),
        source="identity over H..Cf",
    )


def scale_one_hot_table(scale: Mapping[str, float] | pd.Series, *, name: str, source: str = "unknown") -> ElementTable:
    """One-hot vectors whose axes follow a 1D element scale (e.g. the modified Pettifor scale).

    Axis ``k`` is the k-th distinct scale value in increasing order; elements sharing a value
    share an axis. This is how ``elementembeddings`` loads its linear representations. Alone,
    the column order changes nothing for a distance- or tree-based model (it is one-hot with
    permuted axes), which the study shows; elements absent from the scale are not covered.

    Parameters
    ----------
    scale : mapping or Series of symbol -> position
        Entries for symbols outside H..Cf are ignored (noted).
    """
    series = pd.Series(scale, dtype=object) if not isinstance(scale, pd.Series) else scale
    positions = pd.to_numeric(series, errors="coerce")
    bad = positions.isna() | ~np.isfinite(positions.astype(np.float64))
    if bad.any():
        raise ValueError(
            f"scale {name!r} ({source}): position(s) that are not finite numbers for {_listing(series.index[bad].astype(str).tolist())}"
        )
    inside = positions.index.isin(list(SYMBOLS))
    notes = []
    if (~inside).any():
        notes.append(
            f"{int((~inside).sum())} scale entries outside H..Cf ignored ({_listing(positions.index[~inside].astype(str).tolist())})"
        )
    positions = positions[inside].astype(np.float64)
    if positions.empty:
        raise ValueError(f"scale {name!r} ({source}) has no element H..Cf")
    levels = np.unique(positions.to_numpy())
    axis = np.searchsorted(levels, positions.to_numpy())
    vectors = np.zeros((len(positions), len(levels)))
    vectors[np.arange(len(positions)), axis] = 1.0
    columns = [f"{name}_{level:g}" for level in levels]
    return ElementTable(
        name=name,
        vectors=pd.DataFrame(vectors, index=pd.Index(positions.index, name="element"), columns=columns),
        source=source,
        notes=tuple(notes),
    )


def pettifor_table(
    counts: SubstitutionCounts, *, variant: Variant = "corrected", name: str | None = None
) -> ElementTable:
    """Pettifor element vectors as a table; elements without substitution data are not covered.

    Parameters
    ----------
    counts : SubstitutionCounts
    variant : {"corrected", "published-2024"}, keyword-only
    name : str, optional
        Default ``"pettifor-" + variant``.
    """
    vectors = element_vector_array(counts, variant=variant)
    has_data = np.any(vectors != 0, axis=1)
    frame = pd.DataFrame(
        vectors[has_data], index=pd.Index(np.asarray(SYMBOLS)[has_data], name="element"), columns=list(SYMBOLS)
    )
    notes = ()
    if not has_data.all():
        notes = (
            f"no substitution data (zero vector, not covered): {_listing(np.asarray(SYMBOLS)[~has_data].tolist())}",
        )
    return ElementTable(
        name=name or f"pettifor-{variant}", vectors=frame, source=f"{counts.source} ({variant})", notes=notes
    )


# --------------------------------------------------------------------------- composition features


@dataclass(frozen=True)
class CompositionFeatures:
    """Features of N compositions under one element table.

    Attributes
    ----------
    features : ndarray of shape (N, n_features), float64
        Zero rows where ``covered`` is False.
    covered : ndarray of shape (N,), bool
        True when every element of the composition has a vector (and the row parsed).
    reasons : ndarray of shape (N,), object
        ``""`` for covered rows, else why the row has no features.
    """

    features: np.ndarray
    covered: np.ndarray
    reasons: np.ndarray

    @property
    def n_uncovered(self) -> int:
        return int((~self.covered).sum())


def uncovered_reasons(
    fractions: sp.csr_matrix, covered_elements: np.ndarray, *, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``fractions`` (N, 98) that use an element outside ``covered_elements`` (98,) and why.

    Returns
    -------
    covered : ndarray of shape (N,), bool
    reasons : ndarray of shape (N,), object
        ``""`` or ``"no NAME vector for X, Y"``; empty rows (failed formulas) say so.
    """
    fractions = sp.csr_matrix(fractions)
    n = fractions.shape[0]
    reasons = np.full(n, "", dtype=object)
    empty = np.diff(fractions.indptr) == 0
    outside = sp.csr_matrix(fractions[:, np.flatnonzero(~covered_elements)])
    outside.eliminate_zeros()
    bad = np.diff(outside.indptr) > 0
    if bad.any():
        missing_columns = np.flatnonzero(~covered_elements)
        rows = np.repeat(np.arange(n), np.diff(outside.indptr))
        columns = missing_columns[outside.indices]
        order = np.lexsort((columns, rows))  # reasons list the elements in Z order
        symbols = np.asarray(SYMBOLS, dtype=object)[columns[order]]
        joined = pd.Series(symbols).groupby(rows[order], sort=True).agg(", ".join)
        reasons[joined.index.to_numpy()] = [f"no {name} vector for {text}" for text in joined.to_numpy()]
    reasons[empty] = "empty composition (the formula did not parse)"
    return ~(bad | empty), reasons


def composition_features(
    fractions: sp.spmatrix | sp.sparray | np.ndarray,
    table: ElementTable,
    *,
    normalize: bool = False,
) -> CompositionFeatures:
    """Fraction-weighted sums of element vectors, ``v = sum_A x_A e_A``.

    Parameters
    ----------
    fractions : sparse matrix or ndarray of shape (N, 98)
        Atomic fractions in Z order (e.g. ``parse_formulas(...).fractions``).
    table : ElementTable
    normalize : bool, keyword-only
        Scale every row to unit L2 norm (the paper's unit sphere). Default False: the plain
        weighted sum, the same rule for every embedding.

    Returns
    -------
    CompositionFeatures
        ``features`` (N, table.n_features); uncovered rows are zero and carry a reason.
    """
    if not isinstance(table, ElementTable):
        raise TypeError(f"table must be an ElementTable, got {type(table).__name__}")
    if fractions.ndim != 2 or fractions.shape[1] != MAX_Z:
        raise ValueError(f"fractions must have shape (N, {MAX_Z}), got {fractions.shape}")
    matrix, covered_elements = table.matrix()
    csr = sp.csr_matrix(fractions, dtype=np.float64)
    covered, reasons = uncovered_reasons(csr, covered_elements, name=table.name)
    features = np.ascontiguousarray(np.asarray(csr @ matrix), dtype=np.float64)
    features[~covered] = 0.0
    if normalize:
        normalize_rows(features)
    return CompositionFeatures(features=features, covered=covered, reasons=reasons)


def coverage_summary(tables: Sequence[ElementTable]) -> pd.DataFrame:
    """Which elements each table lacks: one row per table (name, n_covered, missing)."""
    return pd.DataFrame(
        {
            "embedding": [t.name for t in tables],
            "n_features": [t.n_features for t in tables],
            "n_elements": [len(t.covered) for t in tables],
            "missing_elements": [" ".join(t.missing) for t in tables],
        }
    )
