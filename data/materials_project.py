"""Materials Project summary data through the official client (``mp-api``, optional).

``mp-api`` is not a requirement of the project: it is imported only when this loader runs,
and a clear error says ``pip install mp-api`` when it is missing. A key is needed (free, from
https://next-gen.materialsproject.org/api): the ``api_key`` argument or ``MP_API_KEY``.

The summary documents become one table with the column names the Alexandria loader uses
where the meaning is the same:

====================  ===================  =======  ========================================
MP field              column               dtype    meaning
====================  ===================  =======  ========================================
material_id           mat_id               str      e.g. ``mp-149``
formula_pretty        formula              str      reduced formula (validated)
symmetry.number       spg                  Int64    space-group number
symmetry.symbol       spg_symbol           str      e.g. ``Fd-3m``
symmetry.crystal_...  crystal_system       str      e.g. ``Cubic``
energy_above_hull     e_above_hull         float    eV/atom
formation_energy_...  e_form               float    eV/atom
band_gap              band_gap             float    PBE(+U) band gap, eV
total_magnetization   total_mag            float    Bohr magnetons per cell
is_magnetic           is_magnetic          boolean
nsites                nsites               Int64
====================  ===================  =======  ========================================

Other requested fields are kept under their MP names (numbers as float, booleans as
boolean, anything else as text). Documents with a missing or invalid formula or a repeated
``material_id`` are skipped and reported (``attrs["manifest"]`` and a log warning). Results
are cached per query with :mod:`data.cache` (Parquet plus a verified manifest that never
contains the key) under ``<cache_dir>/materials_project/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data import cache
from data.download import default_cache_dir
from fingerprints.elements import SYMBOL_TO_INDEX
from fingerprints.formula import parse_formulas

__all__ = [
    "API_KEY_ENV",
    "COLUMNS",
    "DEFAULT_FIELDS",
    "MaterialsProjectError",
    "load_materials_project",
    "summary_to_table",
]

logger = logging.getLogger(__name__)

API_KEY_ENV = "MP_API_KEY"
KEY_URL = "https://next-gen.materialsproject.org/api"
DEFAULT_FIELDS: tuple[str, ...] = (
    "material_id", "formula_pretty", "energy_above_hull", "formation_energy_per_atom",
    "band_gap", "total_magnetization", "is_magnetic", "nsites", "symmetry",
)  # fmt: skip
_REQUIRED_FIELDS = ("material_id", "formula_pretty")
_RENAMED = {
    "material_id": "mat_id",
    "formula_pretty": "formula",
    "energy_above_hull": "e_above_hull",
    "formation_energy_per_atom": "e_form",
    "band_gap": "band_gap",
    "total_magnetization": "total_mag",
    "is_magnetic": "is_magnetic",
    "nsites": "nsites",
}
_FLOAT_COLUMNS = ("e_above_hull", "e_form", "band_gap", "total_mag")
#: Columns of the default query, in order.
COLUMNS = (
    "mat_id", "formula", "spg", "spg_symbol", "crystal_system", "e_above_hull", "e_form",
    "band_gap", "total_mag", "is_magnetic", "nsites",
)  # fmt: skip
#: Bumped when the table recipe changes; cached tables of another recipe are queried again.
RECIPE_VERSION = 1
_SKIPPED_EXAMPLES = 20


class MaterialsProjectError(RuntimeError):
    """The Materials Project cannot be queried (no mp-api, no key, request failed) or returned nothing usable."""


# --------------------------------------------------------------------------- client


def _api_key(api_key: str | None) -> str:
    key = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).strip()
    if not key:
        raise MaterialsProjectError(
            f"no Materials Project API key: pass api_key=... or set the {API_KEY_ENV} environment "
            f"variable (e.g. `export {API_KEY_ENV}=<your key>`); a free key is shown on {KEY_URL} "
            "after logging in"
        )
    if len(key) != 32:
        raise MaterialsProjectError(
            f"the Materials Project API key has {len(key)} characters, but keys for the current "
            f"API have 32 (legacy keys had 16); get a current key on {KEY_URL}"
        )
    return key


def _default_client_factory(api_key: str) -> Any:
    try:
        from mp_api.client import MPRester
    except ImportError as exc:
        raise MaterialsProjectError(
            "the Materials Project loader needs the optional package mp-api, which is not "
            f"installed ({exc}): pip install mp-api"
        ) from exc
    # plain dicts instead of pydantic documents: much lighter for ~150k materials
    return MPRester(api_key=api_key, use_document_model=False)


def _validate_chemsys(chemsys: str | Sequence[str] | None) -> str | list[str] | None:
    if chemsys is None:
        return None
    systems = [chemsys] if isinstance(chemsys, str) else list(chemsys)
    if not systems:
        raise MaterialsProjectError("chemsys is empty: give e.g. 'Li-Fe-O' or ['Li-O', 'Fe-O']")
    for system in systems:
        if not isinstance(system, str):
            raise MaterialsProjectError(f"chemsys {system!r} is not a string like 'Li-Fe-O'")
        unknown = [s for s in system.split("-") if s != "*" and s not in SYMBOL_TO_INDEX]
        if unknown or not system:
            raise MaterialsProjectError(
                f"chemsys {system!r}: unknown element symbol(s) {', '.join(map(repr, unknown)) or repr(system)}; "
                "write elements separated by '-', e.g. 'Li-Fe-O' ('*' is a wildcard)"
            )
    return chemsys if isinstance(chemsys, str) else systems


# --------------------------------------------------------------------------- conversion


def _field(doc: Any, name: str) -> Any:
    if isinstance(doc, dict):
        return doc.get(name)
    return getattr(doc, name, None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _whole(number: float, low: int, high: int) -> Any:
    """``int(number)`` when it is a whole number in [low, high], else NA."""
    if math.isnan(number) or number != int(number) or not low <= number <= high:
        return pd.NA
    return int(number)


def _extra_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return _text(value)
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def _extra_column(values: list) -> pd.Series:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series([_number(v) for v in values], dtype=np.float64)
    return pd.Series([None if v is None else str(v) for v in values], dtype="str")


def summary_to_table(
    docs: Iterable[Any], *, fields: Sequence[str] = DEFAULT_FIELDS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert summary documents (dicts or document models) into the table.

    Parameters
    ----------
    docs : iterable of N documents
        As returned by ``MPRester(...).materials.summary.search(fields=...)``.
    fields : sequence of str, keyword-only
        The fields that were requested; decides the columns.

    Returns
    -------
    table : DataFrame of shape (n_kept, n_columns)
        Columns as in the module docstring (those of the requested fields), then extra
        fields under their MP names.
    skipped : DataFrame of shape (n_skipped, 4)
        ``row`` (0-based position in ``docs``), ``mat_id``, ``formula``, ``reason``.
    """
    docs = list(docs)
    fields = list(dict.fromkeys([*_REQUIRED_FIELDS, *fields]))
    data: dict[str, Any] = {}
    ids = [_text(_field(d, "material_id")) for d in docs]
    formulas = [_field(d, "formula_pretty") for d in docs]
    data["mat_id"] = pd.Series(ids, dtype="str")
    data["formula"] = pd.Series([f if isinstance(f, str) else None for f in formulas], dtype="str")
    if "symmetry" in fields:
        symmetry = [_field(d, "symmetry") for d in docs]
        numbers = [_number(_field(s, "number")) if s is not None else math.nan for s in symmetry]
        spg = pd.array([_whole(n, 1, 230) for n in numbers], dtype="Int64")
        data["spg"] = pd.Series(spg)
        data["spg_symbol"] = pd.Series(
            [_text(_field(s, "symbol")) if s is not None else None for s in symmetry], dtype="str"
        )
        data["crystal_system"] = pd.Series(
            [_text(_field(s, "crystal_system")) if s is not None else None for s in symmetry], dtype="str"
        )
    for field in fields:
        if field in _REQUIRED_FIELDS or field == "symmetry":
            continue
        values = [_field(d, field) for d in docs]
        column = _RENAMED.get(field, field)
        if column in _FLOAT_COLUMNS:
            data[column] = pd.Series([_number(v) for v in values], dtype=np.float64)
        elif column == "is_magnetic":
            data[column] = pd.Series([v if isinstance(v, bool) else None for v in values], dtype="boolean")
        elif column == "nsites":
            counts = [_number(v) for v in values]
            data[column] = pd.Series(pd.array([_whole(n, 1, 10**9) for n in counts], dtype="Int64"))
        else:
            data[column] = _extra_column([_extra_value(v) for v in values])
    order = [c for c in COLUMNS if c in data] + [c for c in data if c not in COLUMNS]
    table = pd.DataFrame({c: data[c] for c in order})

    reasons = np.full(len(docs), "", dtype=object)
    batch = parse_formulas(formulas)
    for row in np.flatnonzero(~batch.ok):
        reasons[row] = "missing formula" if formulas[row] is None else f"invalid formula: {batch.errors[row]}"
    missing_id = table["mat_id"].isna().to_numpy()
    reasons[missing_id & (reasons == "")] = "missing material_id"
    usable = reasons == ""
    ids_series = table["mat_id"].where(usable)
    duplicated = (ids_series.duplicated(keep="first") & ids_series.notna()).to_numpy()
    if duplicated.any():
        first_row = pd.Series(np.flatnonzero(usable & ~duplicated), index=ids_series[usable & ~duplicated])
        for row in np.flatnonzero(duplicated):
            reasons[row] = f"duplicate material_id: first seen at row {int(first_row[ids[row]])}"
    bad = np.flatnonzero(reasons != "")
    skipped = pd.DataFrame(
        {
            "row": bad.astype(np.int64),
            "mat_id": pd.Series([ids[r] for r in bad], dtype=object),
            "formula": pd.Series([formulas[r] for r in bad], dtype=object),
            "reason": pd.Series(reasons[bad], dtype="str"),
        }
    )
    table = table.loc[reasons == ""].reset_index(drop=True)
    return table, skipped


# --------------------------------------------------------------------------- load


def _query_key(fields: Sequence[str], chemsys: str | list[str] | None) -> str:
    text = json.dumps({"fields": list(fields), "chemsys": chemsys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _reason_counts(skipped: pd.DataFrame) -> dict[str, int]:
    if skipped.empty:
        return {}
    categories = skipped["reason"].astype(str).str.split(":", n=1).str[0]
    return {str(k): int(v) for k, v in categories.value_counts().items()}


def _mp_api_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mp-api")
    except Exception:  # not installed (a fake client in tests) or unreadable metadata
        return None


def load_materials_project(
    *,
    api_key: str | None = None,
    fields: Sequence[str] = DEFAULT_FIELDS,
    chemsys: str | Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    refresh: bool = False,
    client_factory: Callable[[str], Any] | None = None,
) -> pd.DataFrame:
    """Query the Materials Project summary endpoint and return the property table.

    Parameters
    ----------
    api_key : str, optional
        32-character key; default ``$MP_API_KEY``.
    fields : sequence of str, keyword-only
        Summary fields to request; ``material_id`` and ``formula_pretty`` are always added.
    chemsys : str or sequence of str, optional
        Restrict to chemical systems, e.g. ``"Li-Fe-O"`` or ``["Li-O", "Fe-O"]``;
        default: all materials (about 150k; the download takes minutes).
    cache_dir : str or os.PathLike, optional
        Cache root (default :func:`data.download.default_cache_dir`); the table of each
        query is kept in ``<cache_dir>/materials_project/``.
    refresh : bool, keyword-only
        Query again even when the cache holds this query.
    client_factory : callable, optional
        ``client_factory(api_key)`` returns an object (optionally a context manager) with
        ``.materials.summary.search(fields=..., chemsys=...)``; default ``mp_api``'s
        ``MPRester``. Tests inject a fake here.

    Returns
    -------
    DataFrame of shape (n_materials, n_columns)
        Columns :data:`COLUMNS` for the default fields (module docstring).
        ``attrs["manifest"]`` describes the query, the rows and the skipped documents.

    Raises
    ------
    MaterialsProjectError
        No key, mp-api missing ("pip install mp-api"), invalid chemsys, the request
        failed, or no usable document came back.
    """
    fields = list(dict.fromkeys([*_REQUIRED_FIELDS, *fields]))
    chemsys = _validate_chemsys(chemsys)
    directory = (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) / "materials_project"
    name = f"summary-{_query_key(fields, chemsys)}"
    expect = {"dataset": "materials_project", "recipe": RECIPE_VERSION, "query": {"fields": fields, "chemsys": chemsys}}
    if not refresh:
        status = cache.verify_table(directory, name, expect=expect)
        if status.ok:
            table, manifest = cache.read_table(directory, name, expect=expect)
            table.attrs["manifest"] = manifest
            logger.info(
                "loaded %d Materials Project rows from the cache (queried %s)", len(table), manifest.get("built")
            )
            return table
        if status.status != "missing":
            logger.warning("cached Materials Project table is %s (%s): querying again", status.status, status.reason)

    key = _api_key(api_key)
    factory = client_factory or _default_client_factory
    search_kwargs: dict[str, Any] = {"fields": fields}
    if chemsys is not None:
        search_kwargs["chemsys"] = chemsys
    try:
        client = factory(key)
        if hasattr(client, "__enter__"):
            with client as rester:
                docs = list(rester.materials.summary.search(**search_kwargs))
        else:
            docs = list(client.materials.summary.search(**search_kwargs))
    except MaterialsProjectError:
        raise
    except Exception as exc:  # the client's errors (network, HTTP, server) become one clear message
        detail = str(exc).replace(key, "<key>")
        raise MaterialsProjectError(
            f"the Materials Project query failed ({type(exc).__name__}: {detail}); check the network "
            f"connection and the API key ({API_KEY_ENV})"
        ) from None
    if not docs:
        raise MaterialsProjectError(f"the Materials Project returned no material for chemsys={chemsys!r}")

    table, skipped = summary_to_table(docs, fields=fields)
    if table.empty:
        raise MaterialsProjectError(
            f"none of the {len(docs)} Materials Project documents is usable; skipped: "
            + ", ".join(f"{n} {reason}" for reason, n in _reason_counts(skipped).items())
        )
    metadata = {
        **expect,
        "source": "Materials Project summary endpoint (mp-api)",
        "mp_api_version": _mp_api_version(),
        "documents": len(docs),
        "skipped": len(skipped),
        "skipped_by_reason": _reason_counts(skipped),
        "skipped_examples": [
            {
                "row": int(r.row),
                "mat_id": r.mat_id,
                "formula": r.formula if isinstance(r.formula, str) else repr(r.formula),
                "reason": r.reason,
            }
            for r in skipped.head(_SKIPPED_EXAMPLES).itertuples(index=False)
        ],
        "licence": "Materials Project data: CC BY 4.0",
    }
    with cache.build_lock(directory, name):
        cache.write_table(table, directory, name, metadata=metadata)
    manifest = cache.read_manifest(directory, name)
    if len(skipped):
        logger.warning(
            "skipped %d of %d Materials Project documents (%s); e.g. %s",
            len(skipped), len(docs),
            ", ".join(f"{n} {reason}" for reason, n in metadata["skipped_by_reason"].items()),
            "; ".join(f"{e['mat_id']}: {e['reason']}" for e in metadata["skipped_examples"][:3]),
        )  # fmt: skip
    table.attrs["manifest"] = manifest
    return table
