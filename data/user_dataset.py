"""A user's own table of compositions and properties, from a CSV or Parquet file or an upload.

:func:`load_user_dataset` takes a path, or the bytes of an upload with its file name, and
returns a :class:`UserDataset`: the valid rows (a ``formula`` column plus property columns),
the skipped rows with reasons, the problems found in single cells, and warnings. It raises
:class:`UserDatasetError` (naming the file and the problem) only when nothing usable remains.

Rules
-----
Size
    Checked before anything is read (``max_bytes``, default 200 MB); for a zip or gzip file
    the uncompressed size is checked as well. A Parquet file is checked from its metadata
    (rows, columns, uncompressed pages) before its data is read, and its text columns are
    read dictionary-encoded and measured before they are expanded, so a small file whose
    values expand to gigabytes (millions of copies of one long string) is refused cheaply.
    At most ``max_rows`` data rows (default 20 million) and ``MAX_COLUMNS`` columns.
Format
    Decided from the content, not the name: Parquet (``PAR1``), zip holding exactly one
    ``.csv``/``.parquet`` member, gzip, or text CSV. A name that disagrees with the content
    gives a warning (or an error when the content is none of these: binary data named
    ``.csv``, a ``.parquet`` or ``.zip`` that is not one, an Excel workbook).
Text
    Decoded as UTF-8 (with or without BOM), UTF-16 or UTF-32 when it has their BOM, UTF-16
    without a BOM when every other byte of the start is NUL (with a warning), else
    Windows-1252 when it has bytes 0x80-0x9f that Windows-1252 reads (smart quotes, dashes),
    else Latin-1, with a warning. The delimiter is the one of ``, ; TAB |`` seen most often in the header
    line (a warning when it is not a comma). With ``;``, TAB or ``|`` a decimal comma
    (``1,5``) is read as a decimal point, with a warning.
Header
    The first line. Empty names become ``column_<n>``; repeated names get ``_2``, ``_3``...
    (a warning names them).
Formula column
    ``formula_column`` (default ``formula``); when absent, a case-insensitive match of it or
    of the synonyms ``formula``, ``composition``, ``formula_pretty`` is used, with a warning.
    Rows whose formula is empty or does not parse (``fingerprints.formula``) are skipped with
    the parser's reason.
Duplicates
    Two rows are duplicates when their formulas have the same composition (the same atomic
    fractions: ``Fe2O3``, ``Fe4O6`` and `` O3Fe2 `` are one composition). With
    ``duplicates="first"`` (default) the first row is kept and the others are skipped with
    ``duplicate composition: same as row N``; ``duplicates="keep"`` keeps them all (e.g.
    polymorphs with an ``id_column``) and warns.
Property columns
    Empty cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``None`` (any case) are missing
    values. A column whose non-missing values are at least 90 % numbers is numeric
    (float64): its other values become NaN and each is reported in ``cell_issues``
    (``not a number``), as is every infinite value (``not finite``); the row is kept. Other
    columns are categorical: ``category`` dtype with at most 1000 distinct values, else
    ``str``. Columns with no value at all are dropped with a warning. Missing values per
    column are summarised in a warning. Parquet columns keep numeric and boolean types
    (booleans become categories); binary columns are read as UTF-8 text; list or struct
    columns, and binary columns that are not UTF-8, are dropped with a warning (an error when
    it is the formula column).
Row numbers
    ``row`` in ``skipped`` and ``cell_issues`` is the line in a CSV file (the header is
    line 1; a quoted field spanning lines counts as one line) or the 1-based row of a
    Parquet file.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fingerprints.formula import parse_formulas

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "MAX_COLUMNS",
    "FORMULA_SYNONYMS",
    "NUMERIC_THRESHOLD",
    "UserDataset",
    "UserDatasetError",
    "PARQUET_EXPANSION",
    "read_parquet_bounded",
    "check_parquet_metadata",
    "expanded_text_bytes",
    "load_user_dataset",
    "composition_keys",
    "find_formula_column",
    "sniff_delimiter",
    "unique_column_names",
]

#: Largest accepted file (and uncompressed content), in bytes.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
#: Data rows read in one process (build-map, mine): larger tables take the partitioned
#: Dask engine (``build-map --engine dask``), which never holds the whole table.
DEFAULT_MAX_ROWS = 20_000_000
#: Columns of a table. Real datasets have tens (featurised ones a few hundred); every column
#: is checked on its own, so a header of tens of thousands of cells would take minutes.
MAX_COLUMNS = 1_000
#: A Parquet file may expand to this many times ``max_bytes`` once decompressed and decoded
#: (columnar data often compresses 3-10x); beyond that it is refused before it is expanded.
PARQUET_EXPANSION = 10
#: Malformed lines (more fields than the header) skipped and reported one by one. pandas
#: takes time quadratic in their number (a minute for 400,000), and a file with more is not
#: a table with a few bad lines but a wrong delimiter or not a table at all.
MAX_MALFORMED_LINES = 10_000
#: Column names accepted (case-insensitively) as the formula column when ``formula`` is absent.
FORMULA_SYNONYMS = ("formula", "composition", "formula_pretty")
#: A column is numeric when at least this fraction of its non-missing values are numbers.
NUMERIC_THRESHOLD = 0.9
#: Text columns with at most this many distinct values become ``category``.
MAX_CATEGORIES = 1000
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_BAD_LINE_RE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_SNIFF_BYTES = 1 << 16
_LISTED = 5  # rows named in a warning before "..."


class UserDatasetError(ValueError):
    """A user dataset cannot be used: the message names the file and the problem."""


@dataclass
class UserDataset:
    """A validated user dataset.

    Attributes
    ----------
    table : DataFrame of shape (n_rows, 1 + n_properties)
        ``formula`` (str, as given, stripped) first (after the id column when there is
        one), then the property columns in file order: float64 for numeric columns,
        ``category`` or ``str`` for the others.
    skipped : DataFrame of shape (n_skipped, 3)
        ``row`` (see the module docstring), ``formula`` (as found), ``reason``.
    cell_issues : DataFrame of shape (n_issues, 4)
        ``row``, ``column``, ``value`` (as found), ``reason``: values set to NaN in kept rows.
    warnings : list of str
        Everything that was read differently from the plain case.
    source : str
        What was read, e.g. ``"/data/x.csv"`` or ``"upload 'x.csv'"``.
    id_column : str or None
        The id column kept as text, when one was named.
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    cell_issues: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    id_column: str | None = None

    @property
    def property_columns(self) -> list[str]:
        """The columns other than the formula and the id."""
        return [c for c in self.table.columns if c not in ("formula", self.id_column)]

    def summary(self) -> list[str]:
        """Human-readable lines (for the command line and the dashboard)."""
        numeric = [c for c in self.property_columns if pd.api.types.is_float_dtype(self.table[c])]
        other = [c for c in self.property_columns if c not in numeric]
        lines = [
            (
                f"{self.source}: {len(self.table)} rows kept, {len(self.skipped)} skipped; "
                f"numeric columns: {', '.join(numeric) or 'none'}; categorical columns: {', '.join(other) or 'none'}"
            )
        ]
        lines.extend(f"warning: {w}" for w in self.warnings)
        for row in self.skipped.head(10).itertuples(index=False):
            lines.append(f"  skipped row {row.row}: {row.reason}")
        if len(self.skipped) > 10:
            lines.append(f"  ... and {len(self.skipped) - 10} more skipped rows")
        return lines


# --------------------------------------------------------------------------- raw bytes


def _read_source(
    source: str | os.PathLike[str] | bytes, filename: str | None, max_bytes: int
) -> tuple[bytes, str, str]:
    """Return ``(data, name, description)``; the size limit is checked before reading."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = filename or "upload"
        description = f"upload {name!r}"
        size = len(source)
        if size > max_bytes:
            raise UserDatasetError(f"{description} is {_mb(size)}, larger than the limit of {_mb(max_bytes)}")
        return bytes(source), name, description
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or bytes, got {type(source).__name__}")
    path = Path(source).expanduser()
    description = str(path)
    if not path.exists():
        raise UserDatasetError(f"{description} does not exist")
    if not path.is_file():
        raise UserDatasetError(f"{description} is not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserDatasetError(f"{description} is {_mb(size)}, larger than the limit of {_mb(max_bytes)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserDatasetError(f"{description} cannot be read: {exc.strerror or exc}") from None
    return data, filename or path.name, description


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def _suffix(name: str) -> str:
    lowered = name.lower()
    for suffix in (".csv.gz", ".tsv.gz", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".zip", ".gz", ".xlsx", ".xls"):
        if lowered.endswith(suffix):
            return suffix
    return Path(lowered).suffix


def _unpack(data: bytes, name: str, description: str, max_bytes: int, notes: list[str]) -> tuple[bytes, str, str]:
    """Decide the format from the content; unpack zip and gzip. Returns ``(data, kind, name)``."""
    suffix = _suffix(name)
    if data[:4] == b"PAR1":
        if suffix not in (".parquet", ".pq"):
            notes.append(
                f"{description} is named {suffix or 'without a suffix'} but is a Parquet file: read as Parquet"
            )
        return data, "parquet", name
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return _unzip(data, name, description, max_bytes, notes)
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                inner = handle.read(max_bytes + 1)
        except (OSError, EOFError) as exc:
            raise UserDatasetError(f"{description} is a damaged gzip file ({exc})") from None
        if len(inner) > max_bytes:
            raise UserDatasetError(f"{description} unpacks to more than the limit of {_mb(max_bytes)}")
        inner_name = name[:-3] if name.lower().endswith(".gz") else name + ".csv"
        if inner[:4] == b"PAR1":
            return inner, "parquet", inner_name
        return inner, "csv", inner_name
    if suffix in (".parquet", ".pq"):
        raise UserDatasetError(
            f"{description} is named {suffix} but is not a Parquet file (it starts with {data[:8]!r}, "
            "a Parquet file starts with b'PAR1')"
        )
    if suffix == ".zip":
        raise UserDatasetError(f"{description} is named .zip but is not a zip archive (it starts with {data[:8]!r})")
    if suffix in (".xlsx", ".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UserDatasetError(f"{description} is an Excel workbook: save it as CSV (or Parquet) and load that file")
    return data, "csv", name


def _unzip(data: bytes, name: str, description: str, max_bytes: int, notes: list[str]) -> tuple[bytes, str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            m for m in archive.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX/") and not Path(m.filename).name.startswith(".")
        ]  # fmt: skip
    except zipfile.BadZipFile as exc:
        raise UserDatasetError(f"{description} is a damaged zip archive ({exc})") from None
    if any(m.filename == "[Content_Types].xml" for m in members):
        raise UserDatasetError(f"{description} is an Excel workbook: save it as CSV (or Parquet) and load that file")
    tables = [m for m in members if _suffix(m.filename) in (".csv", ".tsv", ".txt", ".parquet", ".pq")]
    if len(tables) != 1:
        listed = ", ".join(m.filename for m in members[:10]) or "nothing"
        raise UserDatasetError(
            f"{description} is a zip archive; it must hold exactly one .csv or .parquet file, it holds: {listed}"
        )
    member = tables[0]
    if member.file_size > max_bytes:
        raise UserDatasetError(
            f"{description}: {member.filename} unpacks to {_mb(member.file_size)}, larger than the limit of {_mb(max_bytes)}"
        )
    try:
        with archive.open(member) as handle:
            inner = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:  # RuntimeError: encrypted
        raise UserDatasetError(f"{description}: {member.filename} cannot be unpacked ({exc})") from None
    if len(inner) > max_bytes:
        raise UserDatasetError(f"{description}: {member.filename} unpacks to more than the limit of {_mb(max_bytes)}")
    notes.append(f"{description} is a zip archive: read {member.filename} from it")
    kind = "parquet" if inner[:4] == b"PAR1" else "csv"
    return inner, kind, member.filename


# --------------------------------------------------------------------------- reading tables


def _utf16_without_bom(sample: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when every other byte of ``sample`` is NUL (ASCII text
    saved as UTF-16 without a byte-order mark), else None."""
    sample = sample[: 4096 & ~1]
    if len(sample) < 4:
        return None
    odd, even = sample[1::2], sample[0::2]
    if not odd.strip(b"\x00") and even.count(0) == 0:
        return "utf-16-le"
    if not even.strip(b"\x00") and odd.count(0) == 0:
        return "utf-16-be"
    return None


#: Byte-order marks and their codecs; UTF-32 first, since its little-endian mark starts with UTF-16's.
_BYTE_ORDER_MARKS = (
    ((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-32"),
    ((b"\xff\xfe", b"\xfe\xff"), "utf-16"),
)


def _decode(data: bytes, description: str, notes: list[str]) -> str:
    for marks, codec in _BYTE_ORDER_MARKS:
        if data.startswith(marks):
            name = codec.upper()
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UserDatasetError(
                    f"{description} starts with a {name} mark but is not {name} text ({exc.reason})"
                ) from None
            notes.append(f"{description} is {name} text: decoded as {name}")
            return text
    sample = data[:_SNIFF_BYTES]
    encoding = _utf16_without_bom(sample) if b"\x00" in sample else None
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            pass  # not text after all: refused as binary below
        else:
            notes.append(f"{description} looks like {encoding.upper()} text without a byte-order mark: decoded as such")
            return text
    if b"\x00" in sample:
        raise UserDatasetError(
            f"{description} is not a text CSV file: it holds binary data (NUL bytes in the first "
            f"{len(sample)} bytes); expected a CSV or Parquet file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        position = exc.start
    text = data.decode("latin-1")
    if any("\x80" <= c <= "\x9f" for c in text[:_SNIFF_BYTES]):  # C1 controls: Windows-1252 quotes, dashes, euro
        try:
            windows = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            notes.append(
                f"{description} is not valid UTF-8 (byte {data[position]:#04x} at position {position}): "
                "read as Windows-1252; check that accented characters and quotes look right"
            )
            return windows
    controls = sum(1 for c in text[:_SNIFF_BYTES] if ord(c) < 32 and c not in "\t\r\n" or 127 <= ord(c) < 160)
    if controls > 0.05 * min(len(text), _SNIFF_BYTES):
        raise UserDatasetError(
            f"{description} is not a text CSV file: it looks like binary data ({controls} control "
            "characters); expected a CSV or Parquet file"
        )
    notes.append(
        f"{description} is not valid UTF-8 (byte {data[position]:#04x} at position {position}): "
        "read as Latin-1; check that accented characters look right"
    )
    return text


def sniff_delimiter(text: str) -> str:
    """The one of ``, ; TAB |`` seen most often in the first non-blank line of ``text``
    (a comma when none is), e.g. ``"a;b;c"`` -> ``";"``."""
    header = next((line for line in text[:_SNIFF_BYTES].splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(
    data: bytes, description: str, notes: list[str], *, max_rows: int = DEFAULT_MAX_ROWS
) -> tuple[pd.DataFrame, np.ndarray, str, list]:
    """Cells as str (header row included), the file line of every row, the delimiter and
    the malformed lines pandas skipped as ``(line, expected fields, fields)``."""
    text = _decode(data, description, notes)
    if not text.strip():
        raise UserDatasetError(f"{description} is empty")
    delimiter = sniff_delimiter(text)
    if delimiter != ",":
        notes.append(f"{description}: read with the {_DELIMITER_NAMES[delimiter]} ({delimiter!r}) as delimiter")
    # Before pandas reads anything: a header of 100,000 cells takes minutes to check column by column.
    header = next((line for line in text[:_SNIFF_BYTES].splitlines() if line.strip()), "")
    if header.count(delimiter) + 1 > MAX_COLUMNS:
        raise UserDatasetError(f"{description} has more than {MAX_COLUMNS:,} columns in its header, the limit")
    if "\x00" in text:  # beyond the sample _decode looked at
        raise UserDatasetError(f"{description} is not a text CSV file: it holds binary data (NUL characters)")
    n_malformed, first_malformed = _long_records(text, delimiter, limit=MAX_MALFORMED_LINES)
    if n_malformed > MAX_MALFORMED_LINES:
        raise UserDatasetError(
            f"{description} has more than {MAX_MALFORMED_LINES:,} malformed lines (more fields than the header, "
            f"the first at line {first_malformed}): check the delimiter, or that this is a table at all"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text), sep=delimiter, header=None, dtype=str, keep_default_na=False,
                na_filter=False, skip_blank_lines=False, on_bad_lines="warn", engine="c",
                nrows=max_rows + 2,  # the header, the rows allowed, and one to tell that there are more
            )  # fmt: skip
        except pd.errors.EmptyDataError:
            raise UserDatasetError(f"{description} is empty") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise UserDatasetError(f"{description} is not a readable CSV file ({str(exc).strip()})") from None
    if len(frame) > max_rows + 1:
        raise UserDatasetError(f"{description} has more than {max_rows:,} data rows, the limit for this use")
    if frame.shape[1] > MAX_COLUMNS:
        raise UserDatasetError(f"{description} has {frame.shape[1]:,} columns, more than the limit of {MAX_COLUMNS:,}")
    bad_lines = []
    for warning in caught:
        for match in _BAD_LINE_RE.finditer(str(warning.message)):
            bad_lines.append((int(match.group(1)), int(match.group(2)), int(match.group(3))))
    bad_lines.sort()
    # Row i (1-based, as read) sits after every skipped line b_m with b_m - (m - 1) <= i: one
    # searchsorted instead of shifting every row once per skipped line (quadratic).
    skipped_at = np.asarray([line for line, _, _ in bad_lines], dtype=np.int64) - np.arange(len(bad_lines))
    lines = np.arange(len(frame), dtype=np.int64) + 1
    lines += np.searchsorted(skipped_at, lines, side="right")
    return frame, lines, delimiter, bad_lines


def read_parquet_bounded(
    source: str | os.PathLike[str] | bytes,
    *,
    description: str,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_expanded_bytes: int = DEFAULT_MAX_BYTES * PARQUET_EXPANSION,
):
    """A Parquet file as a pyarrow Table, refused before it expands beyond the limits.

    A Parquet file can be a decompression bomb: a few hundred kB holding millions of copies
    of a long string. So the metadata is checked first (rows, columns, uncompressed pages,
    and rows x width of the fixed-width columns); then the text columns are read
    dictionary-encoded (their memory is bounded by the pages) and the length of every value
    they expand to is added up, before anything is expanded. List and struct columns are not
    read.

    Parameters
    ----------
    source : path or bytes
    description : str, keyword-only
        Names the file in messages, e.g. ``"upload 'x.parquet'"``.
    max_rows, max_expanded_bytes : int, keyword-only
        Limits on the rows and on the bytes of the expanded values.

    Returns
    -------
    pyarrow.Table
        The non-nested columns; text and binary columns dictionary-encoded.

    Raises
    ------
    UserDatasetError
        Over a limit.
    pyarrow.ArrowException, OSError
        Not a readable Parquet file (callers word that in their own terms).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def opened():
        return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source

    parquet = pq.ParquetFile(opened())
    text, fixed = check_parquet_metadata(
        parquet, description=description, max_rows=max_rows, max_expanded_bytes=max_expanded_bytes
    )
    rows = parquet.metadata.num_rows
    flat = [f for f in parquet.schema_arrow if not pa.types.is_nested(f.type)]
    plain_text = [f.name for f in flat if f.name in text and not pa.types.is_dictionary(f.type)]
    table = pq.read_table(opened(), columns=[f.name for f in flat], read_dictionary=plain_text or None)
    expanded = fixed + sum(expanded_text_bytes(table.column(name)) for name in text)
    if expanded > max_expanded_bytes:
        raise UserDatasetError(
            f"{description} expands to {_mb(expanded)} of values ({rows:,} rows), more than the limit of "
            f"{_mb(max_expanded_bytes)}: refused before expanding it"
        )
    return table


def check_parquet_metadata(
    parquet,
    *,
    description: str,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_expanded_bytes: int = DEFAULT_MAX_BYTES * PARQUET_EXPANSION,
    row_groups: list[int] | None = None,
) -> tuple[list[str], int]:
    """Refuse a Parquet file (or some of its row groups) from its metadata alone, before any
    data is read: too many rows or columns, or pages / fixed-width values that expand beyond
    ``max_expanded_bytes``.

    Parameters
    ----------
    parquet : pyarrow.parquet.ParquetFile
    description : str, keyword-only
        Names the file in messages.
    max_rows : int or None, keyword-only
        Most rows accepted (None: no limit).
    max_expanded_bytes : int, keyword-only
        Most bytes the pages, or the fixed-width values with text read as dictionary indices,
        may take once decompressed.
    row_groups : list of int, optional, keyword-only
        Check only these row groups (what one read of them holds); default: the whole file.

    Returns
    -------
    text_columns : list of str
        The text and binary columns: read them dictionary-encoded and add their
        :func:`expanded_text_bytes` to ``fixed_bytes`` before expanding them.
    fixed_bytes : int
        Bytes of the non-text columns (as float64) plus 4 a row for each text column.

    Raises
    ------
    UserDatasetError
        Over a limit; the message names ``description``.
    """
    import pyarrow as pa

    metadata, schema = parquet.metadata, parquet.schema_arrow
    groups = range(metadata.num_row_groups) if row_groups is None else row_groups
    rows = metadata.num_rows if row_groups is None else sum(metadata.row_group(g).num_rows for g in groups)
    if max_rows is not None and rows > max_rows:
        raise UserDatasetError(f"{description} has {rows:,} rows, more than the limit of {max_rows:,} for this use")
    if len(schema) > MAX_COLUMNS:
        raise UserDatasetError(f"{description} has {len(schema):,} columns, more than the limit of {MAX_COLUMNS:,}")
    flat = [f for f in schema if not pa.types.is_nested(f.type)]
    text = [f.name for f in flat if _is_text_type(f.type)]
    # text columns are read as dictionary indices (4 bytes a row) until measured
    fixed = int(rows * sum(4 if f.name in text else _byte_width(f.type) for f in flat))
    pages = sum(metadata.row_group(g).column(c).total_uncompressed_size for g in groups for c in range(metadata.num_columns))
    if max(fixed, pages) > max_expanded_bytes:
        raise UserDatasetError(
            f"{description} expands to more than the limit of {_mb(max_expanded_bytes)} "
            f"({rows:,} rows, {_mb(max(fixed, pages))} before the text is even expanded)"
        )
    return text, fixed


def _is_text_type(kind) -> bool:
    """Strings and bytes, plain or dictionary-encoded: their expanded size is measured."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    checks = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    views = tuple(getattr(pa.types, name) for name in ("is_string_view", "is_binary_view") if hasattr(pa.types, name))
    return any(check(kind) for check in checks + views)


def _byte_width(kind) -> float:
    """Bytes a value of a non-nested, non-text Arrow type takes once read as float64 or text."""
    try:
        return max(kind.bit_width / 8, 8.0)  # numbers become float64
    except ValueError:  # no fixed width (dictionary of numbers, string views ...)
        return 8.0


def expanded_text_bytes(column) -> int:
    """Bytes the values of a dictionary-encoded text column expand to (nulls count 0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            total += chunk.nbytes
            continue
        lengths = pc.binary_length(chunk.dictionary).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        indices = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)
        if len(lengths):
            total += int(lengths[indices].sum())
    return total


def _long_records(text: str, delimiter: str, *, limit: int) -> tuple[int, int | None]:
    """Records with more fields than the first one (pandas skips those), counted up to
    ``limit + 1``, and the line of the first. Quoted fields are read as pandas reads them."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    count, first = 0, None
    try:
        expected = max(len(next(reader, [])), 1)
        for record in reader:
            if len(record) > expected:
                count += 1
                first = first or reader.line_num
                if count > limit:
                    break
    except csv.Error:  # a field beyond the csv module's size limit: count physical lines instead
        lines = text.splitlines()
        expected = lines[0].count(delimiter) if lines else 0
        long_lines = [i for i, line in enumerate(lines, start=1) if line.count(delimiter) > expected]
        return len(long_lines), (long_lines[0] if long_lines else None)
    return count, first


def _read_parquet(
    data: bytes, description: str, notes: list[str], *, max_rows: int, max_expanded_bytes: int
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """Numeric columns as float64 arrays, every other column as str cells ("" when missing),
    and the columns left out with why (``{name: "list<...> values"}``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = read_parquet_bounded(data, description=description, max_rows=max_rows, max_expanded_bytes=max_expanded_bytes)
        schema = pq.read_schema(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, UserDatasetError):
            raise
        raise UserDatasetError(f"{description} is not a readable Parquet file ({exc})") from None
    ignored: dict[str, str] = {}
    for field_ in schema:
        if pa.types.is_nested(field_.type):
            ignored[field_.name] = f"{field_.type} values"
            notes.append(f"{description}: column {field_.name!r} holds {field_.type} values: ignored")
    names: list[str] = []
    columns: dict[int, object] = {}
    for name, column in zip(table.column_names, table.columns):
        if re.fullmatch(r"__index_level_\d+__", str(name)):
            continue  # an unnamed pandas index, not data
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            try:
                column = column.cast(pa.large_string())  # checks that the bytes are UTF-8
            except pa.ArrowInvalid:
                ignored[name] = "binary data that is not UTF-8 text"
                notes.append(f"{description}: column {name!r} holds binary data that is not UTF-8 text: ignored")
                continue
            kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            values: object = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = pd.Series(column.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
        else:  # booleans, dates...: as text, like a CSV cell
            values = pd.Series(["" if v is None else str(v) for v in column.to_pylist()], dtype=object)
        columns[len(names)] = values
        names.append(str(name))
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows)), names, ignored


# --------------------------------------------------------------------------- columns


def unique_column_names(names: list[str], description: str, notes: list[str]) -> list[str]:
    """Strip header cells; name empty ones ``column_<n>``; rename repeats ``<name>_2``, ``_3``...

    A new name never takes a name that appears anywhere in the header.
    """
    stripped = [str(raw).strip() for raw in names]
    taken = {name for name in stripped if name}
    out: list[str] = []
    used: set[str] = set()
    renamed, empty = [], []
    for position, name in enumerate(stripped, start=1):
        if not name:
            name = f"column_{position}"
            k = 2
            while name in taken or name in used:
                name = f"column_{position}_{k}"
                k += 1
            empty.append(name)
        elif name in used:
            k = 2
            while f"{name}_{k}" in taken or f"{name}_{k}" in used:
                k += 1
            renamed.append(f"{name!r} (column {position}) -> '{name}_{k}'")
            name = f"{name}_{k}"
        used.add(name)
        out.append(name)
    if empty:
        notes.append(f"{description}: columns without a name were named {', '.join(map(repr, empty))}")
    if renamed:
        notes.append(f"{description}: repeated column names were renamed: {', '.join(renamed)}")
    return out


def find_formula_column(names: list[str], formula_column: str, description: str, notes: list[str]) -> str:
    """The column of ``names`` holding the formulas: ``formula_column`` itself, else a
    case-insensitive match of it or (for ``formula``-like names) of ``FORMULA_SYNONYMS``,
    noted in ``notes``.

    Raises
    ------
    UserDatasetError
        No such column; the message names ``description`` and lists the columns found.
    """
    if formula_column in names:
        return formula_column
    lowered = {name.lower(): name for name in reversed(names)}
    wanted = [formula_column.lower()]
    if formula_column.lower() in FORMULA_SYNONYMS:
        wanted += [s for s in FORMULA_SYNONYMS if s not in wanted]
    for candidate in wanted:
        if candidate in lowered:
            found = lowered[candidate]
            notes.append(
                f"{description}: no column named {formula_column!r}: using column {found!r} as the formula column"
            )
            return found
    shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
    synonyms = (
        f" (also accepted, in any case: {', '.join(FORMULA_SYNONYMS)})"
        if formula_column.lower() in FORMULA_SYNONYMS
        else ""
    )
    raise UserDatasetError(
        f"{description} has no formula column {formula_column!r}{synonyms}; columns found: {shown}. "
        "Rename the column or choose it with formula_column (--formula-column)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_LISTED])
    return shown + (f" and {len(rows) - _LISTED} more" if len(rows) > _LISTED else "")


def _convert_text_column(
    name: str, values: pd.Series, rows: np.ndarray, *, decimal_comma: bool, description: str,
    notes: list[str], issues: list[pd.DataFrame],
) -> pd.Series | None:  # fmt: skip
    """A column of str cells -> float64 (numeric rule) or category/str; None when empty."""
    stripped = values.astype(str).str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS).to_numpy()
    present = ~missing
    n_present = int(present.sum())
    if n_present == 0:
        notes.append(f"{description}: column {name!r} has no values: dropped")
        return None
    numbers = pd.to_numeric(stripped.where(present, None), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    numeric_ok = present & ~np.isnan(numbers)
    used_comma = False
    if decimal_comma and numeric_ok.sum() < NUMERIC_THRESHOLD * n_present:
        alt = stripped.where(present, None).str.replace(",", ".", regex=False)
        alt_numbers = pd.to_numeric(alt, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        alt_ok = present & ~np.isnan(alt_numbers)
        if alt_ok.sum() >= NUMERIC_THRESHOLD * n_present and alt_ok.sum() > numeric_ok.sum():
            numbers, numeric_ok, used_comma = alt_numbers, alt_ok, True
    if numeric_ok.sum() >= NUMERIC_THRESHOLD * n_present:
        if used_comma:
            notes.append(f"{description}: column {name!r} uses decimal commas: read as numbers")
        bad = present & ~numeric_ok
        infinite = numeric_ok & ~np.isfinite(numbers)
        cells = values.to_numpy(dtype=object)
        issues.append(_issues_frame(rows[bad], name, cells[bad], "not a number: set to NaN"))
        issues.append(_issues_frame(rows[infinite], name, cells[infinite], "not finite: set to NaN"))
        result = numbers.copy()
        result[bad | infinite] = np.nan
        if bad.any():
            notes.append(
                f"{description}: column {name!r} is numeric ({int(numeric_ok.sum())} of {n_present} values are numbers); "
                f"{_count(int(bad.sum()), 'other value')} set to NaN (rows {_rows_text(rows[bad])})"
            )
        if infinite.any():
            notes.append(
                f"{description}: column {name!r}: {_count(int(infinite.sum()), 'infinite value')} set to NaN (rows {_rows_text(rows[infinite])})"
            )
        if missing.any():
            notes.append(
                f"{description}: column {name!r}: {_count(int(missing.sum()), 'missing value')} (empty or NaN)"
            )
        return pd.Series(result, index=values.index, dtype=np.float64)
    text = stripped.where(present, None)
    n_unique = text.nunique(dropna=True)
    if missing.any():
        notes.append(f"{description}: column {name!r}: {_count(int(missing.sum()), 'missing value')}")
    if n_unique <= MAX_CATEGORIES:
        return text.astype("category")
    return text.astype("str")


def _convert_numeric_column(
    name: str, values: np.ndarray, rows: np.ndarray, *, description: str,
    notes: list[str], issues: list[pd.DataFrame],
) -> pd.Series | None:  # fmt: skip
    missing = np.isnan(values)
    if missing.all():
        notes.append(f"{description}: column {name!r} has no values: dropped")
        return None
    infinite = np.isinf(values)
    issues.append(_issues_frame(rows[infinite], name, values[infinite].astype(object), "not finite: set to NaN"))
    result = np.where(infinite, np.nan, values)
    if infinite.any():
        notes.append(
            f"{description}: column {name!r}: {_count(int(infinite.sum()), 'infinite value')} set to NaN (rows {_rows_text(rows[infinite])})"
        )
    if missing.any():
        notes.append(f"{description}: column {name!r}: {_count(int(missing.sum()), 'missing value')} (NaN)")
    return pd.Series(result, dtype=np.float64)


def _rows_frame(rows, formulas, reasons) -> pd.DataFrame:
    """Skipped rows: ``row`` (int64), ``formula`` (as found), ``reason``."""
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "formula": pd.Series(np.asarray(formulas, dtype=object), dtype=object),
            "reason": pd.Series(np.asarray(reasons, dtype=object), dtype="str"),
        }
    )


def _issues_frame(rows, column, values, reason) -> pd.DataFrame:
    """Cell problems in kept rows: ``row``, ``column``, ``value`` (as found), ``reason``."""
    n = len(rows)
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "column": pd.Series([column] * n if isinstance(column, str) else list(column), dtype="str"),
            "value": pd.Series(np.asarray(values, dtype=object), dtype=object),
            "reason": pd.Series([reason] * n if isinstance(reason, str) else list(reason), dtype="str"),
        }
    )


def _id_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric Parquet id column: 17.0 -> "17"
    text = str(value).strip()
    return text or None


def composition_keys(fractions) -> np.ndarray:
    """One complex number per row, equal for equal compositions.

    Real and imaginary parts are two fixed random projections of the atomic fractions
    rounded to 1e-9 (so Fe2O3 and Fe4O6 agree); two different compositions share both only
    by an astronomically unlikely coincidence. Hashing complex numbers is fast.
    """
    rounded = fractions.copy()
    rounded.data = np.round(rounded.data, 9)
    weights = np.random.default_rng(20240617).random((fractions.shape[1], 2)) + 0.5
    projections = np.asarray(rounded @ weights)
    return projections[:, 0] + 1j * projections[:, 1]


# --------------------------------------------------------------------------- main


def load_user_dataset(
    source: str | os.PathLike[str] | bytes,
    *,
    filename: str | None = None,
    formula_column: str = "formula",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    id_column: str | None = None,
    duplicates: Literal["first", "keep"] = "first",
) -> UserDataset:
    """Read and validate a CSV or Parquet file of formulas and properties.

    Parameters
    ----------
    source : path or bytes
        A file path, or the content of an upload (then give ``filename``).
    filename : str, optional
        The upload's file name (used in messages and to compare with the content).
    formula_column : str, keyword-only
        The column holding the formulas (synonyms: module docstring).
    max_bytes : int, keyword-only
        Size limit, checked before reading (and on the unpacked content of zip/gzip; a
        Parquet file may expand to ``PARQUET_EXPANSION`` times this once decoded).
    max_rows : int, keyword-only
        Most data rows accepted (counted before the rows are checked).
    id_column : str, optional
        A column kept as text (not converted to numbers), e.g. a material id.
    duplicates : {"first", "keep"}, keyword-only
        What to do with rows whose formula has the same composition as an earlier row.

    Returns
    -------
    UserDataset
        ``table`` of shape (n_kept, 1 + n_properties), ``skipped``, ``cell_issues``,
        ``warnings``.

    Raises
    ------
    UserDatasetError
        The file is missing, too large, empty, header-only, not CSV/Parquet, has no formula
        column, or none of its rows has a valid formula.
    """
    if duplicates not in ("first", "keep"):
        raise ValueError(f"duplicates must be 'first' or 'keep', got {duplicates!r}")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    if max_rows <= 0:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    notes: list[str] = []
    data, name, description = _read_source(source, filename, max_bytes)
    if not data:
        raise UserDatasetError(f"{description} is empty")
    data, kind, name = _unpack(data, name, description, max_bytes, notes)

    ignored: dict[str, str] = {}
    if kind == "parquet":
        frame, raw_names, ignored = _read_parquet(
            data, description, notes, max_rows=max_rows, max_expanded_bytes=max_bytes * PARQUET_EXPANSION
        )
        rows = np.arange(len(frame), dtype=np.int64) + 1
        decimal_comma = False
        bad_lines: list = []
    else:
        frame, rows, delimiter, bad_lines = _read_csv(data, description, notes, max_rows=max_rows)
        raw_names = [str(v) for v in frame.iloc[0].tolist()]
        frame = frame.iloc[1:].reset_index(drop=True)
        rows = rows[1:]
        decimal_comma = delimiter != ","
        # lines that held nothing at all are not data
        blank = (frame == "").all(axis=1).to_numpy() if frame.shape[1] else np.ones(len(frame), bool)
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
            rows = rows[~blank]
    unusable = {name: why for name, why in ignored.items() if name.lower() in {formula_column.lower(), *FORMULA_SYNONYMS}}
    if unusable and formula_column not in raw_names:
        name, why = next(iter(unusable.items()))
        raise UserDatasetError(f"{description}: column {name!r} holds {why}, not formula text")
    if not raw_names:
        left_out = "; ".join(f"{name!r} holds {why}" for name, why in list(ignored.items())[:5])
        raise UserDatasetError(f"{description} has no usable columns" + (f" ({left_out})" if left_out else ""))
    names = unique_column_names(raw_names, description, notes)
    frame.columns = names
    if len(frame) == 0 and not bad_lines:
        shown = ", ".join(repr(n) for n in names[:20])
        raise UserDatasetError(f"{description} has a header (columns: {shown}) but no data rows")

    formula_name = find_formula_column(names, formula_column, description, notes)
    if id_column is not None and id_column not in names:
        raise UserDatasetError(
            f"{description} has no id column {id_column!r}; columns found: {', '.join(map(repr, names[:20]))}"
        )

    skipped_parts = [
        _rows_frame(
            [line for line, _, _ in bad_lines], [None] * len(bad_lines),
            [f"malformed line: {saw} fields, the header has {expected}" for _, expected, saw in bad_lines],
        )
    ]  # fmt: skip
    raw_formulas = frame[formula_name]
    if pd.api.types.is_numeric_dtype(raw_formulas):  # a numeric Parquet column: every row fails
        formulas = raw_formulas.astype(object).where(raw_formulas.notna(), None)
    else:
        stripped = raw_formulas.astype(str).str.strip()
        formulas = stripped.astype(object).where(stripped != "", None)
    formula_values = formulas.to_numpy(dtype=object)
    batch = parse_formulas(formula_values)
    ok = batch.ok.copy()
    failed = np.flatnonzero(~ok)
    if len(failed):
        missing = pd.isna(formulas.iloc[failed]).to_numpy()
        reasons = np.where(missing, "missing formula", "invalid formula: " + batch.errors[failed].astype(str))
        skipped_parts.append(_rows_frame(rows[failed], raw_formulas.iloc[failed].to_numpy(dtype=object), reasons))
    if not ok.any():
        skipped = pd.concat(skipped_parts, ignore_index=True).sort_values("row", kind="stable")
        kinds = skipped["reason"].str.split(":", n=1).str[0].value_counts()
        examples = "; ".join(f"row {r.row}: {r.reason}" for r in skipped.head(3).itertuples(index=False))
        raise UserDatasetError(
            f"{description}: no row has a valid formula in column {formula_name!r} "
            f"({', '.join(f'{int(n)} {k}' for k, n in kinds.items())}; e.g. {examples})"
        )

    keys = composition_keys(batch.fractions)
    valid_positions = np.flatnonzero(ok)
    codes, _ = pd.factorize(keys[valid_positions])
    _, first_index = np.unique(codes, return_index=True)
    first_position = valid_positions[first_index[codes]]  # for every valid row, the first row of its composition
    repeated = first_position != valid_positions
    if repeated.any():
        duplicate_positions = valid_positions[repeated]
        firsts = first_position[repeated]
        if duplicates == "first":
            reasons = (
                "duplicate composition: same as row " + rows[firsts].astype(str).astype(object)
                + " (" + formula_values[firsts].astype(str).astype(object) + ")"
            )  # fmt: skip
            skipped_parts.append(
                _rows_frame(
                    rows[duplicate_positions], raw_formulas.iloc[duplicate_positions].to_numpy(dtype=object), reasons
                )
            )
            ok[duplicate_positions] = False
        else:
            notes.append(
                f"{description}: {_count(len(duplicate_positions), 'row')} repeat{'s' if len(duplicate_positions) == 1 else ''} the composition of an earlier row "
                f"(rows {_rows_text(rows[duplicate_positions])}): kept, as asked"
            )

    issues: list[pd.DataFrame] = []
    kept_rows = rows[ok]
    out: dict[str, pd.Series] = {}
    if id_column is not None:
        ids = frame[id_column].loc[ok].astype(object).map(_id_text)
        out[id_column] = pd.Series(ids.to_numpy(dtype=object), dtype="str")
        n_repeated = int(out[id_column].dropna().duplicated().sum())
        if n_repeated:
            notes.append(f"{description}: id column {id_column!r} has {_count(n_repeated, 'repeated value')}")
    out["formula"] = pd.Series(formula_values[ok], dtype="str")
    for name in names:
        if name in (formula_name, id_column):
            continue
        target = name
        if name == "formula":  # another column holds the formulas; keep this one under a new name
            target = next(f"formula_{k}" for k in range(2, len(names) + 3) if f"formula_{k}" not in names)
            notes.append(
                f"{description}: column 'formula' is not the formula column ({formula_name!r} is): renamed {target!r}"
            )
        values = frame[name].loc[ok].reset_index(drop=True)
        if values.dtype == np.float64:
            column = _convert_numeric_column(
                name, values.to_numpy(), kept_rows, description=description, notes=notes, issues=issues
            )
        else:
            column = _convert_text_column(
                name,
                values,
                kept_rows,
                decimal_comma=decimal_comma,
                description=description,
                notes=notes,
                issues=issues,
            )
        if column is not None:
            out[target] = column.reset_index(drop=True)
    table = pd.DataFrame(out)
    if not [c for c in table.columns if c not in ("formula", id_column)]:
        notes.append(
            f"{description}: no property column besides the formula: the map can only be coloured by composition"
        )

    skipped_frame = pd.concat(skipped_parts, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
    if len(skipped_frame):
        kinds = skipped_frame["reason"].str.split(":", n=1).str[0].value_counts()
        notes.append(
            f"{description}: skipped {_count(len(skipped_frame), 'row')} ("
            + ", ".join(f"{int(n)} {k}" for k, n in kinds.items())
            + f"; rows {_rows_text(skipped_frame['row'].to_numpy())})"
        )
    issues_frame = (
        pd.concat([_issues_frame([], [], [], []), *issues], ignore_index=True)
        .sort_values(["row", "column"], kind="stable")
        .reset_index(drop=True)
    )
    return UserDataset(
        table=table,
        skipped=skipped_frame,
        cell_issues=issues_frame,
        warnings=notes,
        source=description,
        id_column=id_column,
    )
