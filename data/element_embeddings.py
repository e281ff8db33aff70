"""Element embeddings shipped in the ``elementembeddings`` package, read offline from its wheel.

Source: the ``elementembeddings==0.8.0`` wheel from PyPI (sha256 pinned below), fetched
with ``pip download --no-deps`` on first use and cached (:mod:`data.wheels`); it is read as
a zip archive, never installed (the package's own dependencies are heavy and not needed to
read its data files). Files read (``elementembeddings/data/element_representations/``):

=================  =================================  =========================================
name               file                               what
=================  =================================  =========================================
magpie             magpie.csv                         22 tabulated element properties (Ward 2016)
mat2vec            mat2vec.csv                        200-d word vectors (Tshitoyan 2019)
megnet16           megnet16.json                      16-d MEGNet atom embeddings (Chen 2019)
oliynyk            oliynyk.csv                        44 element properties (Oliynyk 2016)
skipatom           skipatom_20201009_induced.csv      200-d SkipAtom vectors (Antunes 2022)
random_200         random_200.csv                     200 random numbers per element
random_200_new     random_200_new.csv                 the same, regenerated (seed 42); complete
mod_petti          mod_petti.json                     the modified Pettifor scale (Glawe 2016)
=================  =================================  =========================================

Known defects of the files, handled and reported (never silently): ``random_200.csv`` has
one row labelled ``GaGe`` instead of separate Ga and Ge rows, so Ga and Ge are not covered
(``random_200_new.csv`` is complete); ``oliynyk.csv`` has 14 missing values (halogens and
noble gases), filled with the column median (see :func:`fingerprints.element_embeddings.element_table_from_frame`).
Licence of the package and its data: MIT (ElementEmbeddings, Onwuli et al., Digital Discovery 2023).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd

from fingerprints.element_embeddings import ElementTable, element_table_from_frame, element_table_from_mapping
from fingerprints.elements import SYMBOLS

from . import wheels
from .builtin import BuiltinDataError
from .download import default_cache_dir

__all__ = [
    "ELEMENTEMBEDDINGS_VERSION",
    "ELEMENTEMBEDDINGS_WHEEL_NAME",
    "ELEMENTEMBEDDINGS_WHEEL_SHA256",
    "EMBEDDING_FILES",
    "EmbeddingDataError",
    "EmbeddingWheelChecksumError",
    "EmbeddingWheelUnavailableError",
    "default_embeddings_dir",
    "ensure_elementembeddings_wheel",
    "load_element_table",
    "load_element_tables",
    "load_mod_petti",
    "read_element_table",
    "read_mod_petti",
]

ELEMENTEMBEDDINGS_VERSION = "0.8.0"
ELEMENTEMBEDDINGS_WHEEL_NAME = f"elementembeddings-{ELEMENTEMBEDDINGS_VERSION}-py3-none-any.whl"
#: sha256 of the wheel on PyPI (3,834,657 bytes), computed from the file pip downloaded.
ELEMENTEMBEDDINGS_WHEEL_SHA256 = "7c35940337b1eec6ad0f6ebd83c7adb4b912863aa96eebff102d4536324f0170"

_MEMBER_DIR = "elementembeddings/data/element_representations"
#: Embedding name -> file inside the wheel.
EMBEDDING_FILES: dict[str, str] = {
    "magpie": "magpie.csv",
    "mat2vec": "mat2vec.csv",
    "megnet16": "megnet16.json",
    "oliynyk": "oliynyk.csv",
    "skipatom": "skipatom_20201009_induced.csv",
    "random_200": "random_200.csv",
    "random_200_new": "random_200_new.csv",
}
MOD_PETTI_FILE = "mod_petti.json"
PIP_TIMEOUT = 300.0

_MANUAL_HINT = (
    f"On a machine that reaches PyPI run `python -m pip download --no-deps elementembeddings=={ELEMENTEMBEDDINGS_VERSION} "
    f"-d DIR`, copy DIR/{ELEMENTEMBEDDINGS_WHEEL_NAME} to this machine and pass its path (wheel=PATH, or the CLI's "
    "--embeddings-wheel PATH)."
)


class EmbeddingDataError(BuiltinDataError):
    """The element embeddings could not be fetched or read."""


class EmbeddingWheelUnavailableError(EmbeddingDataError):
    """The elementembeddings wheel is not cached and could not be downloaded."""


class EmbeddingWheelChecksumError(EmbeddingDataError):
    """A wheel does not have the pinned sha256; it was not used (and not kept)."""


def default_embeddings_dir() -> Path:
    """Cache folder of the embeddings wheel: ``default_cache_dir() / "embeddings"``."""
    return default_cache_dir() / "embeddings"


def ensure_elementembeddings_wheel(
    *,
    cache_dir: str | os.PathLike | None = None,
    wheel: str | os.PathLike | None = None,
    sha256: str | None = None,
    timeout: float = PIP_TIMEOUT,
) -> Path:
    """The verified elementembeddings wheel in the cache, copied from ``wheel`` or downloaded.

    Parameters
    ----------
    cache_dir : path, optional
        Default :func:`default_embeddings_dir`.
    wheel : path, optional
        A local copy (offline use): checked, then copied into the cache (the file itself is
        left alone).
    sha256 : str, optional
        Expected checksum; default the pinned :data:`ELEMENTEMBEDDINGS_WHEEL_SHA256`.
    timeout : float, optional
        Seconds pip may take.

    Raises
    ------
    EmbeddingWheelChecksumError, EmbeddingWheelUnavailableError
    """
    try:
        return wheels.ensure_wheel(
            f"elementembeddings=={ELEMENTEMBEDDINGS_VERSION}", name=ELEMENTEMBEDDINGS_WHEEL_NAME,
            sha256=sha256 or ELEMENTEMBEDDINGS_WHEEL_SHA256,
            cache_dir=cache_dir if cache_dir is not None else default_embeddings_dir(), wheel=wheel,
            timeout=timeout, manual_hint=_MANUAL_HINT,
        )  # fmt: skip
    except wheels.WheelError as err:
        error = EmbeddingWheelChecksumError if err.kind == wheels.CHECKSUM else EmbeddingWheelUnavailableError
        raise error(str(err)) from None


def _read_member(wheel: Path, filename: str) -> bytes:
    member = f"{_MEMBER_DIR}/{filename}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            if member not in set(archive.namelist()):
                raise EmbeddingDataError(f"elementembeddings wheel {wheel} lacks {member}")
            return archive.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise EmbeddingDataError(f"cannot read {member} from {wheel}: {err}") from None


def _source(filename: str) -> str:
    return f"elementembeddings {ELEMENTEMBEDDINGS_VERSION}: {_MEMBER_DIR}/{filename}"


def read_element_table(name: str, wheel: str | os.PathLike) -> ElementTable:
    """One element table from a wheel file (any wheel with the same layout; not checksummed here).

    Parameters
    ----------
    name : str
        A key of :data:`EMBEDDING_FILES`.
    wheel : path

    Raises
    ------
    KeyError
        Unknown name.
    EmbeddingDataError
        The wheel cannot be read, lacks the file, or the file is not in the expected format.
    """
    if name not in EMBEDDING_FILES:
        raise KeyError(f"unknown element embedding {name!r}: choose one of {', '.join(EMBEDDING_FILES)}")
    filename = EMBEDDING_FILES[name]
    wheel = Path(wheel)
    data = _read_member(wheel, filename)
    source = _source(filename)
    try:
        if filename.endswith(".json"):
            mapping = json.loads(data.decode("utf-8"))
            return element_table_from_mapping(mapping, name=name, source=source)
        frame = pd.read_csv(io.BytesIO(data))
        first = frame.columns[0]
        return element_table_from_frame(frame, name=name, source=source, element_column=first)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, KeyError, TypeError) as err:
        raise EmbeddingDataError(f"{filename} in {wheel} is not a valid element table: {err}") from None


def read_mod_petti(wheel: str | os.PathLike) -> pd.Series:
    """The modified Pettifor scale from a wheel: symbol -> position, for the elements H..Cf.

    The file also lists D and T (as H) and elements beyond Cf (all at 0); those are left out.

    Returns
    -------
    Series (float64), index = element symbols in Z order, name ``"mod_petti"``.
    """
    wheel = Path(wheel)
    data = _read_member(wheel, MOD_PETTI_FILE)
    try:
        mapping = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EmbeddingDataError(f"{MOD_PETTI_FILE} in {wheel} is not valid JSON: {err}") from None
    if not isinstance(mapping, dict):
        raise EmbeddingDataError(f"{MOD_PETTI_FILE} in {wheel} is not a JSON object of symbol -> position")
    series = pd.to_numeric(pd.Series(mapping, dtype=object), errors="coerce")
    scale = series.reindex([s for s in SYMBOLS if s in series.index])
    bad = scale.index[scale.isna()].tolist()
    if bad:
        raise EmbeddingDataError(f"{MOD_PETTI_FILE} in {wheel}: positions that are not numbers for {bad}")
    if scale.empty:
        raise EmbeddingDataError(f"{MOD_PETTI_FILE} in {wheel} has no element H..Cf")
    return scale.astype("float64").rename("mod_petti")


_PathLike = str | os.PathLike


def load_element_table(
    name: str, *, cache_dir: _PathLike | None = None, wheel: _PathLike | None = None, sha256: str | None = None
) -> ElementTable:
    """One element table from the verified (cached or downloaded) wheel.

    ``cache_dir``, ``wheel`` and ``sha256`` as in :func:`ensure_elementembeddings_wheel`.
    """
    return read_element_table(name, ensure_elementembeddings_wheel(cache_dir=cache_dir, wheel=wheel, sha256=sha256))


def load_element_tables(
    names=tuple(EMBEDDING_FILES),
    *,
    cache_dir: _PathLike | None = None,
    wheel: _PathLike | None = None,
    sha256: str | None = None,
) -> dict[str, ElementTable]:
    """Several element tables (name -> table) from one verified wheel."""
    path = ensure_elementembeddings_wheel(cache_dir=cache_dir, wheel=wheel, sha256=sha256)
    return {name: read_element_table(name, path) for name in names}


def load_mod_petti(
    *, cache_dir: _PathLike | None = None, wheel: _PathLike | None = None, sha256: str | None = None
) -> pd.Series:
    """The modified Pettifor scale from the verified wheel (see :func:`read_mod_petti`)."""
    return read_mod_petti(ensure_elementembeddings_wheel(cache_dir=cache_dir, wheel=wheel, sha256=sha256))
