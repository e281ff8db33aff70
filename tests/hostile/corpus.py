"""The hostile-input corpus: broken, absurd and forged inputs for every entry point, as data.

Each case has an id (unique across the corpus) and says what must happen: the message the
user gets (a substring of it), and for the dashboard how the server answers. The test
modules next to this one feed every case through the real entry points:

- ``FORMULA_CASES``: ``parse_formula`` / ``parse_formulas`` / composition fingerprints;
- ``CLI_CASES``: ``app.main(argv)``;
- ``UPLOAD_CASES`` and ``CONTENTS_CASES``: ``load_user_dataset`` and the dashboard's upload
  path (``decode_upload`` + ``place_upload``);
- ``CALLBACK_CASES`` and ``PROTOCOL_CASES``: ``POST /_dash-update-component`` of a real app;
- ``URL_CASES``: ``dashboard.state.parse_query`` (and the page rendered for the link).

Large inputs are built by small functions (cached), so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import functools
import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

TEN_MB = 10 * 1024 * 1024


# =========================================================================== formulas


@dataclass(frozen=True)
class FormulaCase:
    """A formula that must be rejected; ``reason`` is a substring of ``FormulaError.reason``."""

    id: str
    formula: object
    reason: str
    max_length: int | None = None  # None: the parser's default


def _formula_cases() -> list[FormulaCase]:
    cases = [
        # empty and whitespace
        ("empty", "", "empty formula"),
        ("space", " ", "empty formula (whitespace only)"),
        ("tabs-newlines", "\t\n\r ", "empty formula (whitespace only)"),
        ("nbsp-only", "\u00a0\u2009", "empty formula (whitespace only)"),
        # huge
        ("ten-mb-letters", "A" * TEN_MB, f"absurd length: {TEN_MB} characters"),
        ("ten-mb-valid-looking", "Fe" * (TEN_MB // 2), f"absurd length: {TEN_MB} characters"),
        ("257-carbons", "C" * 257, "absurd length: 257 characters (limit 256)"),
        ("deep-brackets-long", "(" * 5000 + "Fe" + ")" * 5000, "absurd length"),
        ("many-hydrate-dots", "H2O·" * 100, "absurd length"),
        # unknown symbols
        ("dummy-xx", "Xx2O", "unknown element symbol 'Xx'"),
        ("lowercase-start", "fe2o3", "element symbols start with an uppercase letter"),
        ("all-caps", "FE2O3", "unknown element symbol 'E'"),
        ("three-letter", "Uue", "unknown element symbol 'Uue'"),
        ("word", "Water", "unknown element symbol 'Water'"),
        ("sql", "Fe2O3'; DROP TABLE compounds; --", "unexpected character"),
        ("script-tag", "<script>alert(1)</script>", "unexpected character '<'"),
        ("template", "Fe${7*7}", "unexpected character '$'"),
        ("format-string", "Fe%s%n", "unexpected character '%'"),
        ("path", "../../etc/passwd", "hydrate dot '.' at position 0 has nothing before it"),
        ("question", "?", "unexpected character '?'"),
        ("single-lowercase", "x", "variable amounts"),
        ("q-symbol", "Q2", "unknown element symbol 'Q'"),
        ("j-symbol", "J", "unknown element symbol 'J'"),
        # beyond Cf and isotopes
        ("einsteinium", "Es2O3", "element beyond Cf (Z = 99)"),
        ("oganesson", "Og", "element beyond Cf (Z = 118)"),
        ("nobelium-in-group", "Na(NoO2)2", "element beyond Cf (Z = 102)"),
        ("copernicium", "CnCl2", "element beyond Cf (Z = 112)"),
        ("tennessine", "Ts", "element beyond Cf (Z = 117)"),
        ("deuterium", "D2O", "isotope symbol 'D' (deuterium)"),
        ("tritium", "T2", "isotope symbol 'T' (tritium)"),
        # amounts
        ("zero", "Fe0O", "amount for Fe is zero"),
        ("zero-decimal", "Fe0.000O", "amount for Fe is zero"),
        ("negative", "Fe-2O3", "negative amount for Fe '-2'"),
        ("negative-group", "(FeO)-1", "negative multiplier"),
        ("exponent", "Fe1e5O", "exponent notation is not supported"),
        ("inf-word", "Feinf", "unknown element symbol 'Feinf'"),
        ("infinity-sign", "Fe∞", "unexpected character '∞'"),
        ("huge-amount", "Fe1000000000O", "amount for Fe is absurdly large"),
        ("huge-digits", "Fe" + "9" * 200, "amount for Fe is absurdly large"),
        ("huge-group-product", "((((Fe999)999)999)999)", "total amount of Fe is absurdly large"),
        ("repeated-to-overflow", "Fe999999Fe999999", "total amount of Fe is absurdly large"),
        ("variable-x", "Li1-xFePO4", "variable amounts"),
        ("delta", "YBa2Cu3O7-δ", "variable amounts"),
        ("fraction-slash", "Fe2/3O", "unexpected character '/'"),
        ("comma-decimal", "Fe2,5O", "unexpected character ','"),
        ("underscore", "Fe_2O_3", "unexpected character '_'"),
        ("hex-amount", "Fe0x1F", "amount for Fe is zero"),
        # unicode
        ("superscripts", "Fe²O³", "unexpected character '²'"),
        ("fullwidth", "Ｆｅ２Ｏ３", "unexpected character 'Ｆ'"),
        ("arabic-digits", "Fe٢O٣", "unexpected character '٢'"),
        ("zero-width-space", "Fe\u200bO", "unexpected character '\\u200b'"),
        ("emoji", "Fe😀O", "unexpected character '😀'"),
        ("lone-surrogate", "Fe\ud800O", "unexpected character '\\ud800'"),
        ("nul", "Fe\x00O", "unexpected character '\\x00'"),
        ("bell", "\x07", "unexpected character '\\x07'"),
        ("rtl-override", "Fe\u202eO", "unexpected character"),
        ("combining-accent", "Fe\u0301O", "unexpected character"),
        ("cyrillic-lookalike", "Fе2O3", "unexpected character 'е'"),  # Cyrillic ie
        ("greek-omicron", "FeΟ", "unexpected character 'Ο'"),
        # structure
        ("unclosed", "Fe(O", "'(' at position 2 is never closed"),
        ("unopened", "Fe)O", "')' at position 2 has no opening bracket"),
        ("mismatched", "K4[Fe(CN)6)", "is closed by ')'"),
        ("empty-group", "Fe()", "empty group '()'"),
        ("empty-braces", "{}", "empty group '{}'"),
        ("only-number", "42", "number '42' at position 0 has nothing to multiply"),
        ("leading-number", "2Fe", "nothing to multiply"),
        ("dangling-number", "Fe2 3", "number '3' at position 4 has nothing to multiply"),
        ("charge-plus", "Fe3+", "unexpected character '+'"),
        ("charge-caret", "SO4^2-", "unexpected character '^'"),
        ("at-sign", "C60@La", "unexpected character '@'"),
        ("star", "Fe*O", "unexpected character '*'"),
        ("leading-dot", "·H2O", "has nothing before it"),
        ("trailing-dot", "CuSO4·", "has nothing after it"),
        ("double-dot", "Fe2O3..H2O", "two dots in a row"),
        ("dot-multiplier-alone", "CuSO4·5", "has nothing to multiply"),
        ("deep-unclosed", "(" * 200, "never closed"),
        ("deep-unopened", ")" * 200, "has no opening bracket"),
        # not strings
        ("none", None, "missing value"),
        ("nan", float("nan"), "missing value"),
        ("inf-float", float("inf"), "not a string: got float"),
        ("int", 42, "not a string: got int"),
        ("bool", True, "not a string: got bool"),
        ("bytes", b"Fe2O3", "not a string: got bytes"),
        ("list", ["Fe", "O"], "not a string: got list"),
        ("dict", {"Fe": 2, "O": 3}, "not a string: got dict"),
        ("huge-list", list(range(100_000)), "not a string: got list"),
    ]
    cases = [FormulaCase(*case) for case in cases]
    # 256 characters cannot underflow a double; a caller allowing longer formulas can
    underflow = "(" * 40 + "H0.00000001" + ")0.00000001" * 40 + "O"
    cases.append(FormulaCase("underflow", underflow, "underflows", max_length=1000))
    return cases


FORMULA_CASES = _formula_cases()


# =========================================================================== command line


@dataclass(frozen=True)
class CliCase:
    """An argument list for ``app.main``.

    ``{tmp}`` in an argument is the case's own folder, where ``files`` are written first;
    ``{counts}`` and ``{element_counts}`` are valid counts files, ``{map}`` a valid map
    directory, ``{ok}`` a valid formula file. ``message`` is a substring of the one
    ``error:`` line on stderr.
    """

    id: str
    argv: tuple[str, ...]
    message: str
    files: dict[str, bytes] = field(default_factory=dict)
    status: int = 2
    setup: str | None = None  # "broken_map": {tmp}/broken is a copy of {map} with a damaged file


COUNTS = ("--counts", "{counts}", "--element-counts", "{element_counts}")
SMALL_MAP_SOURCE = ("--similarity", "icsd:{counts_dir}", "--method", "pca", "--element-method", "pca")


def _fingerprint(formulas: str, *extra: str) -> tuple[str, ...]:
    return ("fingerprint", "--formulas", formulas, "--out", "{tmp}/out.csv", *COUNTS, *extra)


def _square(value: str, n: int = 99) -> bytes:
    return ((" ".join([value] * n) + "\n") * n).encode()


def _cli_cases() -> list[CliCase]:
    binary = bytes(range(256)) * 4
    cases = [
        # fingerprint: bad formula files
        CliCase("fp-missing-file", _fingerprint("{tmp}/nope.txt"), "does not exist"),
        CliCase("fp-directory", _fingerprint("{tmp}"), "does not exist"),
        CliCase("fp-empty-file", _fingerprint("{tmp}/f.txt"), "is empty", {"f.txt": b""}),
        CliCase("fp-blank-lines", _fingerprint("{tmp}/f.txt"), "holds no formula", {"f.txt": b"\n \n\t\n"}),
        CliCase("fp-binary-txt", _fingerprint("{tmp}/f.txt"), "is binary", {"f.txt": binary}),
        CliCase("fp-binary-csv", _fingerprint("{tmp}/f.csv"), "is binary", {"f.csv": binary}),
        CliCase("fp-latin1", _fingerprint("{tmp}/f.txt"), "is not UTF-8 text", {"f.txt": "Fe2O3 café\n".encode("latin-1")}),
        CliCase("fp-utf16-bad", _fingerprint("{tmp}/f.txt"), "is not UTF-16 text", {"f.txt": b"\xff\xfeF\x00e\x00\x00\xd8"}),
        CliCase("fp-csv-no-formula-column", _fingerprint("{tmp}/f.csv"), "has no 'formula' column (columns: a, b)", {"f.csv": b"a,b\n1,2\n"}),
        CliCase("fp-csv-header-only", _fingerprint("{tmp}/f.csv"), "has a 'formula' column but no rows", {"f.csv": b"formula\n"}),
        CliCase("fp-csv-unterminated-quote", _fingerprint("{tmp}/f.csv"), "could not be read as CSV", {"f.csv": b'formula\n"Fe2O3\n'}),
        CliCase("fp-parquet-not-parquet", _fingerprint("{tmp}/f.parquet"), "could not be read as PARQUET", {"f.parquet": b"PAR1 not really"}),
        CliCase("fp-parquet-truncated", _fingerprint("{tmp}/f.parquet"), "could not be read as PARQUET", {"f.parquet": b"@truncated_parquet"}),
        CliCase("fp-parquet-bomb", _fingerprint("{tmp}/f.parquet"), "rows, more than the limit", {"f.parquet": b"@bomb_parquet_rows"}),
        CliCase("fp-parquet-expanding", _fingerprint("{tmp}/f.parquet"), "expands to", {"f.parquet": b"@bomb_parquet_cli"}),
        CliCase("fp-only-bad-formulas", _fingerprint("{tmp}/f.txt"), "no formula could be fingerprinted", {"f.txt": b"Xx\nQq2\n(((\n"}, status=1),
        CliCase("fp-ten-mb-formula", _fingerprint("{tmp}/f.txt"), "no formula could be fingerprinted", {"f.txt": b"Fe" * (TEN_MB // 2)}, status=1),
        # fingerprint: bad options and similarity sources
        CliCase("fp-out-suffix", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/out.txt", *COUNTS), "use a .csv or .parquet"),
        CliCase("fp-counts-alone", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{counts}"), "must be given together"),
        CliCase("fp-counts-binary", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "is binary", {"c.dat": binary}),
        CliCase("fp-counts-ragged", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "different numbers of columns", {"c.dat": b"1 2 3\n4 5\n"}),
        CliCase("fp-counts-nan", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "NaN or inf", {"c.dat": _square("nan")}),
        CliCase("fp-counts-inf", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "NaN or inf", {"c.dat": _square("inf")}),
        CliCase("fp-counts-negative", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "negative", {"c.dat": _square("-1")}),
        CliCase("fp-counts-too-small", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}"), "needs at least 99 x 99", {"c.dat": _square("0", 10)}),
        CliCase("fp-element-counts-empty", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--counts", "{counts}", "--element-counts", "{tmp}/e.dat"), "is empty", {"e.dat": b""}),
        CliCase("fp-elements-table-garbage", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--elements", "{tmp}/e.csv"), "missing rows", {"e.csv": b"element,H\nH,nan\n"}),
        CliCase("fp-elements-and-counts", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--elements", "{tmp}/e.csv", *COUNTS), "not both", {"e.csv": b"element,H\nH,1\n"}),
        CliCase("fp-similarity-bogus", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--similarity", "bogus"), "unknown similarity 'bogus'"),
        CliCase("fp-similarity-nul", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--similarity", "\x00\x01"), "unknown similarity"),
        CliCase("fp-similarity-icsd-missing-dir", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--similarity", "icsd:{tmp}/none"), "does not exist"),
        CliCase("fp-similarity-mined-bad-dataset", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--similarity", "mined:{tmp}/d.csv"), "no row has a valid formula", {"d.csv": b"formula\nXx\nQq\n"}),
        CliCase("fp-variant-bogus", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", *COUNTS, "--variant", "bogus"), "invalid choice: 'bogus'"),
        # elements
        CliCase("el-out-suffix", ("elements", *COUNTS, "--out", "{tmp}/e.txt"), "unsupported suffix '.txt'"),
        CliCase("el-counts-missing", ("elements", "--counts", "{tmp}/none.dat", "--element-counts", "{element_counts}", "--out", "{tmp}/e.csv"), "does not exist"),
        CliCase("el-counts-latin1", ("elements", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}", "--out", "{tmp}/e.csv"), "is not plain text", {"c.dat": "1 2 é\n".encode("latin-1")}),
        CliCase("el-counts-asymmetric", ("elements", "--counts", "{tmp}/c.dat", "--element-counts", "{element_counts}", "--out", "{tmp}/e.csv"), "not symmetric", {"c.dat": b"@asymmetric_counts"}),
        CliCase("el-no-out", ("elements", *COUNTS), "the following arguments are required: --out"),
        # build-map
        CliCase("map-dataset-missing", ("build-map", "--dataset", "{tmp}/none.csv", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "neither a built-in name"),
        CliCase("map-dataset-binary", ("build-map", "--dataset", "{tmp}/d.csv", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "holds binary data", {"d.csv": b"\x00" * 100}),
        CliCase("map-dataset-no-formula", ("build-map", "--dataset", "{tmp}/d.csv", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "has no formula column", {"d.csv": b"a,b\n1,2\n"}),
        CliCase("map-dataset-all-bad", ("build-map", "--dataset", "{tmp}/d.csv", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "no row has a valid formula", {"d.csv": b"formula,x\nXx,1\nFe(,2\n"}),
        CliCase("map-dataset-parquet-bomb", ("build-map", "--dataset", "{tmp}/d.parquet", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "rows, more than the limit", {"d.parquet": b"@bomb_parquet_rows"}),
        CliCase("map-dataset-wide", ("build-map", "--dataset", "{tmp}/d.csv", *SMALL_MAP_SOURCE, "--out", "{tmp}/m", "--quiet"), "columns in its header", {"d.csv": b"@wide_csv"}),
        CliCase("map-param-no-equals", ("build-map", "--dataset", "{dataset}", *SMALL_MAP_SOURCE, "--param", "bogus", "--out", "{tmp}/m", "--quiet"), "expected NAME=VALUE"),
        CliCase("map-param-unknown", ("build-map", "--dataset", "{dataset}", *SMALL_MAP_SOURCE, "--param", "wat=1", "--out", "{tmp}/m", "--quiet"), "does not take parameter(s) wat"),
        CliCase("map-fit-sample-negative", ("build-map", "--dataset", "{dataset}", *SMALL_MAP_SOURCE, "--fit-sample", "-5", "--out", "{tmp}/m", "--quiet"), "fit_sample must be at least 2"),
        CliCase("map-fit-sample-text", ("build-map", "--dataset", "{dataset}", "--fit-sample", "lots", "--out", "{tmp}/m"), "invalid int value: 'lots'"),
        CliCase("map-method-bogus", ("build-map", "--dataset", "{dataset}", "--method", "magic", "--out", "{tmp}/m"), "invalid choice: 'magic'"),
        CliCase("map-dask-partition-zero", ("build-map", "--dataset", "{dataset}", *SMALL_MAP_SOURCE, "--engine", "dask", "--partition-rows", "0", "--out", "{tmp}/m", "--quiet"), "partition_rows must be at least 1"),
        CliCase("map-scheduler-without-dask", ("build-map", "--dataset", "{dataset}", *SMALL_MAP_SOURCE, "--scheduler", "tcp://127.0.0.1:1", "--out", "{tmp}/m", "--quiet"), "need --engine dask"),
        # mine
        CliCase("mine-bad-dataset", ("mine", "--dataset", "{tmp}/d.csv", "--out", "{tmp}/mined"), "no row has a valid formula", {"d.csv": b"formula\nXx\n"}),
        CliCase("mine-nan-threshold", ("mine", "--dataset", "{dataset}", "--max-e-above-hull", "nan", "--out", "{tmp}/mined"), "expected a finite number >= 0"),
        CliCase("mine-negative-threshold", ("mine", "--dataset", "{dataset}", "--max-e-above-hull", "-1", "--out", "{tmp}/mined"), "expected a finite number >= 0"),
        CliCase("mine-inf-threshold", ("mine", "--dataset", "{dataset}", "--max-e-above-hull", "inf", "--out", "{tmp}/mined"), "expected a finite number >= 0"),
        CliCase("mine-threshold-without-column", ("mine", "--dataset", "{dataset}", "--max-e-above-hull", "0.1", "--out", "{tmp}/mined"), "has no e_above_hull column"),
        # data
        CliCase("data-alexandria-binary", ("data", "load", "alexandria", "{tmp}/a.json.bz2"), "is not JSON", {"a.json.bz2": b"\x00" * 64}),
        CliCase("data-alexandria-missing", ("data", "load", "alexandria", "{tmp}/none.json.bz2"), "does not exist"),
        CliCase("data-alexandria-bad-sha", ("data", "load", "alexandria", "{ok}", "--sha256", "zz"), "expected zz"),
        CliCase("data-alexandria-no-source", ("data", "load", "alexandria"), "needs the URL or path"),
        CliCase("data-mp-no-out", ("data", "load", "materials-project"), "needs --out"),
        CliCase("data-build-bad-wheel", ("data", "build", "mp", "--wheel", "{tmp}/w.whl"), "has sha256", {"w.whl": b"not a wheel"}),
        CliCase("data-build-unknown", ("data", "build", "nope"), "invalid choice: 'nope'"),
        CliCase("data-no-action", ("data",), "the following arguments are required"),
        # serve (never reaches a server: the map or the arguments are refused first)
        CliCase("serve-map-missing", ("serve", "--map", "{tmp}/none"), "does not exist"),
        CliCase("serve-map-empty-dir", ("serve", "--map", "{tmp}/emptydir"), "is incomplete", {"emptydir/.keep": b""}),
        CliCase("serve-map-is-file", ("serve", "--map", "{ok}"), "formulas.txt"),
        CliCase("serve-map-tampered", ("serve", "--map", "{tmp}/broken"), "points.parquet has", setup="broken_map"),
        CliCase("serve-port-text", ("serve", "--port", "abc", "--map", "{map}"), "invalid port 'abc'"),
        CliCase("serve-port-negative", ("serve", "--port", "-1", "--map", "{map}"), "invalid port -1"),
        CliCase("serve-port-huge", ("serve", "--port", "70000", "--map", "{map}"), "invalid port 70000"),
        # compare and the parser itself
        CliCase("compare-rows-text", ("compare", "--rows", "abc", "--out", "{tmp}/c"), "--rows must be a positive integer or 'all'"),
        CliCase("compare-rows-negative", ("compare", "--rows", "-5", "--out", "{tmp}/c"), "--rows must be a positive integer or 'all'"),
        CliCase("compare-one-fold", ("compare", "--folds", "1", "--out", "{tmp}/c"), "n_folds must be an integer >= 2"),
        CliCase("unknown-command", ("bogus",), "invalid choice: 'bogus'"),
        CliCase("unknown-option", ("fingerprint", "--formulas", "{ok}", "--out", "{tmp}/o.csv", "--frobnicate"), "unrecognized arguments: --frobnicate"),
        CliCase("nul-command", ("\x00",), "invalid choice"),
        CliCase("huge-argument", ("fingerprint", "--formulas", "{tmp}/" + "a" * 5000, "--out", "{tmp}/o.csv", *COUNTS), "cannot be opened: File name too long"),
    ]
    return cases


CLI_CASES = _cli_cases()


# =========================================================================== uploads


@dataclass(frozen=True)
class UploadCase:
    """A file uploaded (or loaded) as a user dataset.

    ``data`` is bytes, or ``"@name"`` for one of the generated files in ``GENERATED``.
    ``outcome``: ``"refused"`` (UserDatasetError / a message, nothing placed) or
    ``"reported"`` (loaded; ``message`` is in its summary: warnings and skipped rows, and
    in the page's message) or ``"accepted"`` (loaded; ``message`` is in the page's message).
    """

    id: str
    filename: str
    data: bytes | str
    message: str
    outcome: str = "refused"


GOOD_ROWS = "Fe2O3,1.5\nNaCl,2\nLiFePO4,3.25\n"


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _upload_cases() -> list[UploadCase]:
    header = "formula,gap\n"
    cases = [
        # encodings
        UploadCase("utf16-bom", "x.csv", _csv(header + GOOD_ROWS, "utf-16"), "is UTF-16 text", "reported"),
        UploadCase("utf16-no-bom", "x.csv", _csv(header + GOOD_ROWS, "utf-16-le"), "without a byte-order mark", "reported"),
        UploadCase("utf16-bom-broken", "x.csv", b"\xff\xfef\x00o\x00\x00\xd8", "starts with a UTF-16 mark but is not UTF-16 text"),
        UploadCase("utf32-bom", "x.csv", _csv(header + GOOD_ROWS, "utf-32"), "is UTF-32 text", "reported"),
        UploadCase("utf8-bom", "x.csv", _csv("\ufeff" + header + GOOD_ROWS), "3 compounds placed", "accepted"),
        UploadCase("latin1-bad-bytes", "x.csv", _csv("formula,name\nFe2O3,café\nNaCl,über\n", "latin-1"), "read as Latin-1", "reported"),
        UploadCase("cp1252-quotes", "x.csv", b"formula,name\nFe2O3,\x93quoted\x94\n", "read as Windows-1252", "reported"),
        UploadCase("c1-controls", "x.csv", b"formula,gap\n" + bytes(range(0x80, 0xA0)) * 50, "looks like binary data"),
        UploadCase("control-characters", "x.csv", b"formula,gap\n" + bytes(range(1, 32)) * 50, "no row has a valid formula"),
        # binary content named .csv, and wrong names
        UploadCase("binary-named-csv", "x.csv", bytes(range(256)) * 40, "holds binary data"),
        UploadCase("random-named-csv", "x.csv", "@random_bytes", "holds binary data"),
        UploadCase("png-named-csv", "x.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "holds binary data"),
        UploadCase("pdf-named-csv", "x.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 10, "binary data"),
        UploadCase("nul-after-sample", "x.csv", "@nul_after_sample", "holds binary data (NUL characters)"),
        UploadCase("xlsx-named-csv", "x.csv", b"PK\x03\x04" + b"\x00" * 100, "damaged zip archive"),
        UploadCase("ole-excel", "x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "is an Excel workbook"),
        UploadCase("text-named-parquet", "x.parquet", _csv(header + GOOD_ROWS), "is not a Parquet file"),
        UploadCase("text-named-zip", "x.zip", _csv(header + GOOD_ROWS), "is not a zip archive"),
        UploadCase("gzip-garbage", "x.csv.gz", b"\x1f\x8b garbage", "damaged gzip file"),
        # empty and structure
        UploadCase("empty-file", "x.csv", b"", "is empty"),
        UploadCase("whitespace", "x.csv", b"  \n\n\t\n", "is empty"),
        UploadCase("header-only", "x.csv", _csv(header), "has a header (columns: 'formula', 'gap') but no data rows"),
        UploadCase("no-formula-column", "x.csv", _csv("name,gap\nrust,1\n"), "has no formula column 'formula'"),
        UploadCase("duplicate-columns", "x.csv", _csv("formula,gap,gap,formula\nFe2O3,1,2,NaCl\n"), "repeated column names were renamed", "reported"),
        UploadCase("empty-column-names", "x.csv", _csv("formula,,\nFe2O3,1,2\n"), "columns without a name", "reported"),
        UploadCase("only-quote", "x.csv", b'"', "is not a readable CSV file"),
        UploadCase("unterminated-quote", "x.csv", _csv('formula,gap\n"Fe2O3,1\n'), "is not a readable CSV file"),
        UploadCase("ragged-rows", "x.csv", _csv("formula,gap\nFe2O3,1\nNaCl,2,3,4\nKCl,3\n"), "malformed line: 4 fields, the header has 2", "reported"),
        UploadCase("many-malformed-lines", "x.csv", "@many_malformed", "more than 10,000 malformed lines"),
        UploadCase("wide-header", "x.csv", "@wide_csv", "columns in its header"),
        UploadCase("all-formulas-bad", "x.csv", _csv("formula,gap\nXx,1\nFe(,2\n,3\n"), "no row has a valid formula"),
        UploadCase("some-formulas-bad", "x.csv", _csv("formula,gap\nXx,1\nFe2O3,2\nOg,3\n"), "element beyond Cf", "reported"),
        UploadCase("ten-mb-formula", "x.csv", "@ten_mb_formula", "absurd length"),
        UploadCase("duplicate-compositions", "x.csv", _csv("formula,gap\nFe2O3,1\nFe4O6,2\nO3Fe2,3\n"), "duplicate composition: same as row 2", "reported"),
        # values
        UploadCase("nan-inf-values", "x.csv", _csv("formula,gap\nFe2O3,nan\nNaCl,inf\nKCl,-inf\nLiF,1e400\nMgO,NaN\n"), "infinite values set to NaN", "reported"),
        UploadCase("huge-numbers", "x.csv", _csv("formula,gap\nFe2O3,1e308\nNaCl,-1e308\nKCl,99999999999999999999999\n"), "3 compounds placed", "accepted"),
        UploadCase("mostly-text-values", "x.csv", _csv("formula,gap\n" + "".join(f"Fe{i}O,{i}\n" for i in range(1, 20)) + "NaCl,oops\n"), "set to NaN", "reported"),
        UploadCase("formula-numbers", "x.csv", _csv("formula,gap\n1,2\n3,4\n"), "no row has a valid formula"),
        UploadCase("ten-mb-cell", "x.csv", "@ten_mb_cell", "1 compounds placed", "accepted"),
        # limits
        UploadCase("million-rows", "x.csv", "@million_rows", "has more than 100,000 data rows"),
        UploadCase("oversized", "x.csv", "@oversized", "larger than"),
        UploadCase("gzip-bomb", "x.csv.gz", "@gzip_bomb", "unpacks to more than the limit"),
        UploadCase("zip-bomb", "x.zip", "@zip_bomb", "unpacks to"),
        UploadCase("zip-two-tables", "x.zip", _zip({"a.csv": b"formula\nFe\n", "b.csv": b"formula\nO\n"}), "must hold exactly one .csv or .parquet file"),
        UploadCase("zip-empty", "x.zip", _zip({}), "must hold exactly one"),
        # parquet
        UploadCase("parquet-bomb-rows", "x.parquet", "@bomb_parquet_rows", "rows, more than the limit of 100,000"),
        UploadCase("parquet-bomb-values", "x.parquet", "@bomb_parquet_values", "expands to"),
        UploadCase("parquet-bomb-fixed-width", "x.parquet", "@bomb_parquet_fixed", "expands to more than the limit"),
        UploadCase("parquet-bomb-named-csv", "x.csv", "@bomb_parquet_values", "expands to"),
        UploadCase("parquet-zip-bomb", "x.parquet", "@zip_bomb", "unpacks to"),
        UploadCase("parquet-truncated", "x.parquet", "@truncated_parquet", "is not a readable Parquet file"),
        UploadCase("parquet-magic-only", "x.parquet", b"PAR1PAR1", "is not a readable Parquet file"),
        UploadCase("parquet-list-formula", "x.parquet", "@parquet_list_formula", "holds list<element: string> values, not formula text"),
        UploadCase("parquet-binary-formula", "x.parquet", "@parquet_binary_formula", "binary data that is not UTF-8 text, not formula text"),
        UploadCase("parquet-int-formula", "x.parquet", "@parquet_int_formula", "not a string: got float"),
        UploadCase("parquet-no-columns", "x.parquet", "@parquet_no_columns", "has no usable columns"),
        UploadCase("parquet-no-rows", "x.parquet", "@parquet_no_rows", "but no data rows"),
        UploadCase("parquet-nan-inf", "x.parquet", "@parquet_nan_inf", "infinite value set to NaN", "reported"),
        UploadCase("parquet-struct-column", "x.parquet", "@parquet_struct", "holds struct<a: int64> values: ignored", "reported"),
        UploadCase("parquet-utf8-binary", "x.parquet", "@parquet_utf8_binary_formula", "2 compounds placed", "accepted"),
    ]
    return cases


UPLOAD_CASES = _upload_cases()


@dataclass(frozen=True)
class ContentsCase:
    """The ``contents`` and ``filename`` a ``dcc.Upload`` sends (anyone can forge them)."""

    id: str
    contents: object
    filename: object
    message: str


def _data_url(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


CONTENTS_CASES = [
    ContentsCase("contents-none", None, "x.csv", "not a file"),
    ContentsCase("contents-int", 5, "x.csv", "not a file"),
    ContentsCase("contents-list", ["data:text/csv;base64,AAAA"], "x.csv", "not a file"),
    ContentsCase("contents-no-comma", "data:text/csv;base64", "x.csv", "not a file"),
    ContentsCase("contents-not-base64-header", "data:text/csv,formula%0AFe", "x.csv", "expected base64 content"),
    ContentsCase("contents-bad-alphabet", "data:text/csv;base64,@@@@", "x.csv", "is not valid base64"),
    ContentsCase("contents-bad-padding", "data:text/csv;base64,QUJ", "x.csv", "is not valid base64"),
    ContentsCase("contents-unicode", "data:text/csv;base64,Zm9ybXVsYQ==é", "x.csv", "is not valid base64"),
    ContentsCase("contents-whitespace", "data:text/csv;base64,Zm9y bXVs\nYQ==", "x.csv", "is not valid base64"),
    ContentsCase("contents-oversized", "@oversized_contents", "big.csv", "is larger than 20 MB"),
    ContentsCase("filename-dict", _data_url(b"formula\nFe2O3\n"), {"name": "x.csv"}, "file name must be text"),
    ContentsCase("filename-list", _data_url(b"formula\nFe2O3\n"), ["a.csv", "b.csv"], "file name must be text"),
    ContentsCase("contents-valid-but-binary", _data_url(bytes(range(256)) * 8), "x.csv", "holds binary data"),
]


# =========================================================================== dashboard callbacks


@dataclass(frozen=True)
class CallbackCase:
    """A forged ``/_dash-update-component`` request for one callback.

    ``callback`` is a fragment of the callback's output key; ``values`` overrides the valid
    value of some inputs/states (``"component.property"`` keys). ``expect``:
    ``"message"`` (200, the page shows ``message``), ``"ignored"`` (nothing updated: 204, or
    200 with no output).
    Every case must also leave a WARNING line in the server's log.
    """

    id: str
    callback: str
    values: dict
    expect: str = "message"
    message: str = ""
    changed: tuple[str, ...] | None = None


HUGE = "x" * 1_000_000
ROWS_100K = list(range(100_000))
ELEMENTS_100K = ["Fe"] * 100_000
NESTED = {"a": [{"b": [{"c": [[[[None]]]]}]}]}
#: Sent as the bare JSON tokens ``NaN``, ``Infinity`` and ``-Infinity`` (``json.dumps`` writes them,
#: and Flask's JSON parser reads them back as floats).
NAN, INF = float("nan"), float("inf")

HIGHLIGHT = "highlight-count.children"
TABLE = "ptable-graph.figure"
MAP = "map-graph.figure...map-message.children"
LASSO = "selection-rows.data"
GRID = "selection-grid.rowData"
CSV_EXPORT = "selection-download.data"
SEARCH = "search-result.data"
FOCUS = "focus-compound.data"
DETAILS = "details.children"
SIM = "sim-bar.figure"
HEATMAP = "heatmap.figure"
UPLOAD = "upload-overlay.data"
EXPORT = "export-download.data"
EXPORT_OPEN = "export-modal.className"
PAGE = "page.children"
QUERY = "url-query.data"
SWITCH = "url.search"


def _callback_cases() -> list[CallbackCase]:
    c = CallbackCase
    neighbour_forged = [{"id": {"type": "neighbour", "row": 10**12}, "property": "n_clicks", "value": 1}]
    export_forged = [{"id": {"type": "export-open", "target": "passwords"}, "property": "n_clicks", "value": 1}]
    export_list_target = [{"id": {"type": "export-open", "target": "map"}, "property": "n_clicks", "value": 1}]
    return [
        # highlight: element lists
        c("hl-elements-string", HIGHLIGHT, {"selected-elements.data": "DROP TABLE"}, message="must be a list of symbols"),
        c("hl-elements-ints", HIGHLIGHT, {"selected-elements.data": [1, 2]}, message="unknown element symbol"),
        c("hl-elements-unknown", HIGHLIGHT, {"selected-elements.data": ["Xx", "Og"]}, message="unknown element symbol"),
        c("hl-elements-100k", HIGHLIGHT, {"selected-elements.data": ELEMENTS_100K}, message="at most 98 elements"),
        c("hl-elements-nested", HIGHLIGHT, {"selected-elements.data": NESTED}, message="must be a list of symbols"),
        c("hl-elements-huge-string", HIGHLIGHT, {"selected-elements.data": [HUGE]}, message="unknown element symbol"),
        c("hl-mode-bogus", HIGHLIGHT, {"highlight-mode.value": "most"}, message="highlight mode must be one of"),
        c("hl-mode-list", HIGHLIGHT, {"highlight-mode.value": ["all"]}, message="highlight mode must be one of"),
        c("hl-map-traversal", HIGHLIGHT, {"map-name.data": "../../etc"}, message="is not valid"),
        c("hl-map-none", HIGHLIGHT, {"map-name.data": None}, message="is not valid"),
        c("hl-map-unknown", HIGHLIGHT, {"map-name.data": "nope"}, message="no map called 'nope'"),
        c("hl-map-dict", HIGHLIGHT, {"map-name.data": {"$ne": 1}}, message="is not valid"),
        # periodic table
        c("pt-layout-bogus", TABLE, {"ptable-layout.value": "spiral"}, message="layout must be one of"),
        c("pt-colour-bogus", TABLE, {"ptable-color.value": "mean:../../etc"}, message="periodic-table colouring must be one of"),
        c("pt-theme-number", TABLE, {"theme-toggle.value": 3}, message="theme must be one of"),
        c("pt-selection-100k", TABLE, {"ptable-color.value": "selection", "selection-rows.data": ROWS_100K}, message="more than the map's"),
        # materials map
        c("map-colour-unknown", MAP, {"map-color.value": "password"}, message="has no column 'password'", changed=("theme-toggle.value",)),
        c("map-cmin-text", MAP, {"map-cmin.value": "1"}, message="colour minimum must be a number", changed=("map-cmin.value",)),
        c("map-cmin-huge", MAP, {"map-cmin.value": 1e300}, message="colour minimum must be between", changed=("map-cmin.value",)),
        c("map-cmax-below-cmin", MAP, {"map-cmin.value": 3, "map-cmax.value": 1}, message="min < max", changed=("theme-toggle.value",)),
        c("map-size-negative", MAP, {"map-size.value": -5}, message="point size must be between", changed=("map-size.value",)),
        c("map-size-bool", MAP, {"map-size.value": True}, message="point size must be a number", changed=("theme-toggle.value",)),
        c("map-opacity-nested", MAP, {"map-opacity.value": NESTED}, message="opacity must be a number", changed=("theme-toggle.value",)),
        c("map-selection-100k", MAP, {"selection-rows.data": ROWS_100K}, message="more than the map's", changed=("theme-toggle.value",)),
        c("map-selection-floats", MAP, {"selection-rows.data": [1.5, 2.5]}, message="integers only", changed=("theme-toggle.value",)),
        c("map-view-garbage", MAP, {"map-view.data": {"x": [0, "b"], "y": [0, 1]}}, message="axis range must be a number", changed=("theme-toggle.value",)),
        c("map-view-huge", MAP, {"map-view.data": {"x": [-1e300, 1e300], "y": [0, 1]}}, message="axis range must be between", changed=("theme-toggle.value",)),
        c("map-upload-100k", MAP, {"upload-overlay.data": {"name": "x", "points": [{"formula": "Fe", "x": 0, "y": 0}] * 100_000}}, message="at most 5,000 are placed", changed=("theme-toggle.value",)),
        c("map-upload-string", MAP, {"upload-overlay.data": "points"}, message="uploaded compounds must be an object", changed=("theme-toggle.value",)),
        c("map-focus-row-huge", MAP, {"focus-compound.data": {"row": 10**12}}, message="is not a row of this map", changed=("theme-toggle.value",)),
        c("map-focus-string", MAP, {"focus-compound.data": "Fe2O3"}, message="must be an object", changed=("theme-toggle.value",)),
        c("map-search-forged", MAP, {"search-result.data": {"status": "placed", "x": "0", "y": 0, "formula": "Fe"}}, message="search position x must be a number", changed=("theme-toggle.value",)),
        c("map-search-neighbours-100k", MAP, {"search-result.data": {"status": "placed", "x": 0, "y": 0, "formula": "Fe", "neighbours": [[0, 0.1]] * 100_000}}, message="at most 100 pairs", changed=("theme-toggle.value",)),
        # lasso selection and table
        c("lasso-rows-100k", LASSO, {"lasso-event.data": {"rows": ROWS_100K}}, message="more than the map's"),
        c("lasso-rows-negative", LASSO, {"lasso-event.data": {"rows": list(range(-5, 5))}}, message="row numbers must be between"),
        c("lasso-rows-strings", LASSO, {"lasso-event.data": {"rows": ["1", "2"]}}, message="integers only"),
        c("lasso-event-list", LASSO, {"lasso-event.data": [1, 2, 3]}, message="must be an object with a 'rows' list"),
        c("lasso-current-garbage", LASSO, {"selection-rows.data": {"rows": 1}}, message="row list must be a list of integers"),
        c("grid-selection-nested", GRID, {"selection-rows.data": NESTED}, message="row list must be a list of integers"),
        c("grid-selection-bools", GRID, {"selection-rows.data": [True, False]}, message="integers only"),
        c("csv-export-empty", CSV_EXPORT, {"selection-rows.data": []}, message="nothing to export"),
        c("csv-export-huge-row", CSV_EXPORT, {"selection-rows.data": [2**62]}, message="row numbers must be between"),
        c("csv-export-bignum-row", CSV_EXPORT, {"selection-rows.data": [2**70]}, message="row numbers must be between"),
        c("lasso-rows-bignum", LASSO, {"lasso-event.data": {"rows": [-(2**80), 2**80]}}, message="row numbers must be between"),
        # search
        c("search-list", SEARCH, {"search-input.value": ["Fe"]}, message="must be text"),
        c("search-huge", SEARCH, {"search-input.value": HUGE}, message="longer than 200 characters"),
        c("search-theme", SEARCH, {"theme-toggle.value": "neon"}, message="theme must be one of"),
        c("search-dict", SEARCH, {"search-input.value": {"formula": "Fe"}}, message="must be text"),
        # details and focus
        c("focus-click-string", FOCUS, {"map-graph.clickData": "click"}, "ignored"),
        c("focus-click-row-huge", FOCUS, {"map-graph.clickData": {"points": [{"curveNumber": 0, "pointIndex": 10**12}]}}, "ignored"),
        c("focus-click-unknown-curve", FOCUS, {"map-graph.clickData": {"points": [{"curveNumber": 99, "pointIndex": 0}]}}, "ignored"),
        c("focus-click-upload-forged", FOCUS, {"map-graph.clickData": {"points": [{"curveNumber": 2, "pointIndex": 0}]}, "upload-overlay.data": "forged"}, "ignored"),
        c(
            "focus-neighbour-forged", FOCUS,
            {'{"row":["ALL"],"type":"neighbour"}.n_clicks': neighbour_forged},
            "ignored", changed=('{"row":1000000000000,"type":"neighbour"}.n_clicks',),
        ),  # fmt: skip
        c("details-focus-string", DETAILS, {"focus-compound.data": "Fe2O3"}, message="must be an object"),
        c("details-focus-row-negative", DETAILS, {"focus-compound.data": {"row": -3}}, message="is not a row of this map"),
        c("details-focus-placed-garbage", DETAILS, {"focus-compound.data": {"placed": {"status": "placed", "neighbours": [["x", 1]]}}}, message="is not a row of this map"),
        c("details-focus-empty-object", DETAILS, {"focus-compound.data": {}}, message="is not valid"),
        c("ring-focus-list", "map-graph.figure@", {"focus-compound.data": [1, 2]}, "ignored"),
        # similarity
        c("sim-element-unknown", SIM, {"sim-element.value": "Xx"}, message="is not an element symbol"),
        c("sim-element-huge", SIM, {"sim-element.value": HUGE}, message="is not an element symbol"),
        c("heatmap-order-bogus", HEATMAP, {"heatmap-order.value": "random"}, message="heatmap order must be one of"),
        # upload through the callback
        c("upload-garbage-base64", UPLOAD, {"upload.contents": "data:text/csv;base64,@@@"}, message="is not valid base64"),
        c("upload-binary-csv", UPLOAD, {"upload.contents": _data_url(bytes(range(256)) * 8), "upload.filename": "x.csv"}, message="holds binary data"),
        c("upload-filename-nested", UPLOAD, {"upload.contents": _data_url(b"formula\nFe2O3\n"), "upload.filename": NESTED}, message="file name must be text"),
        c("upload-contents-number", UPLOAD, {"upload.contents": 12345}, message="not a file"),
        # export
        c("export-target-forged", EXPORT, {"export-target.data": "passwords"}, message="figure must be one of"),
        c("export-format-gif", EXPORT, {"export-target.data": "map", "export-format.value": "gif"}, message="format must be one of"),
        c("export-width-huge", EXPORT, {"export-target.data": "table", "export-width.value": 10**9}, message="width must be between"),
        c("export-scale-text", EXPORT, {"export-target.data": "table", "export-scale.value": "2"}, message="scale must be a number"),
        c("export-open-forged-target", EXPORT_OPEN, {'{"target":["ALL"],"type":"export-open"}.n_clicks': export_forged}, "ignored", changed=('{"target":"passwords","type":"export-open"}.n_clicks',)),
        c("export-open-number-target", EXPORT_OPEN, {'{"target":["ALL"],"type":"export-open"}.n_clicks': [dict(export_list_target[0], id={"type": "export-open", "target": 5})]}, "ignored", changed=('{"target":5,"type":"export-open"}.n_clicks',)),
        # page, address and map menu
        c("page-search-not-string", PAGE, {"url.search": ["?map=small"]}, message="could not be read"),
        c("page-search-huge", PAGE, {"url.search": "?q=" + HUGE}, message="longer than 4000 characters"),
        c("page-search-surrogate", PAGE, {"url.search": "?q=\ud800"}, message="could not be read"),
        c("page-search-garbage", PAGE, {"url.search": "?el=Fe,Qq&theme=neon&x=1,b&map=../x"}, message="theme='neon'"),
        c("query-forged-controls", QUERY, {"map-size.value": 1e9, "selected-elements.data": ["Fe", "Xx"], "theme-toggle.value": "neon"}, message="?map="),
        c("query-surrogates", QUERY, {"search-result.data": {"status": "invalid", "formula": "\ud800"}}, message="?map="),
        c("switch-map-unknown", SWITCH, {"map-select.value": "nope"}, "ignored"),
        c("switch-map-nested", SWITCH, {"map-select.value": NESTED}, "ignored"),
        # NaN, Infinity and -Infinity tokens where numbers (or anything) are expected
        c("map-cmin-nan", MAP, {"map-cmin.value": NAN}, message="colour minimum must be between", changed=("map-cmin.value",)),
        c("map-cmax-infinity", MAP, {"map-cmax.value": INF}, message="colour maximum must be between", changed=("map-cmax.value",)),
        c("map-size-nan", MAP, {"map-size.value": NAN}, message="point size must be between", changed=("map-size.value",)),
        c("map-opacity-minus-infinity", MAP, {"map-opacity.value": -INF}, message="opacity must be between", changed=("map-opacity.value",)),
        c("map-view-nan", MAP, {"map-view.data": {"x": [NAN, 1], "y": [0, 1]}}, message="axis range must be between", changed=("theme-toggle.value",)),
        c("map-view-infinity", MAP, {"map-view.data": {"x": [0, 1], "y": [-INF, INF]}}, message="axis range must be between", changed=("theme-toggle.value",)),
        c("map-focus-row-nan", MAP, {"focus-compound.data": {"row": NAN}}, message="is not a row of this map", changed=("theme-toggle.value",)),
        c(
            "map-search-position-nan", MAP,
            {"search-result.data": {"status": "placed", "x": NAN, "y": 0, "formula": "Fe", "neighbours": []}},
            message="search position x must be between", changed=("theme-toggle.value",),
        ),  # fmt: skip
        c(
            "map-search-distance-infinity", MAP,
            {"search-result.data": {"status": "placed", "x": 0, "y": 0, "formula": "Fe", "neighbours": [[0, INF]]}},
            message="distance must be between", changed=("theme-toggle.value",),
        ),  # fmt: skip
        c(
            "map-upload-point-infinity", MAP,
            {"upload-overlay.data": {"name": "x", "points": [{"formula": "Fe", "x": INF, "y": 0, "id": "a"}]}},
            message="uploaded compound x must be between", changed=("theme-toggle.value",),
        ),  # fmt: skip
        c("lasso-rows-nan", LASSO, {"lasso-event.data": {"rows": [NAN]}}, message="integers only"),
        c("lasso-rows-infinity", LASSO, {"lasso-event.data": {"rows": [INF, -INF]}}, message="integers only"),
        c("grid-selection-nan", GRID, {"selection-rows.data": [NAN]}, message="integers only"),
        c("pt-selection-infinity", TABLE, {"ptable-color.value": "selection", "selection-rows.data": [INF]}, message="integers only"),
        c("csv-export-nan-row", CSV_EXPORT, {"selection-rows.data": [1, NAN]}, message="integers only"),
        c("export-width-infinity", EXPORT, {"export-target.data": "table", "export-width.value": INF}, message="width must be between"),
        c("export-scale-nan", EXPORT, {"export-target.data": "table", "export-scale.value": NAN}, message="scale must be between"),
        c("export-font-minus-infinity", EXPORT, {"export-target.data": "table", "export-font.value": -INF}, message="font size must be between"),
        c("export-map-cmin-nan", EXPORT, {"export-target.data": "map", "map-cmin.value": NAN}, message="colour minimum must be between"),
        c("search-nan", SEARCH, {"search-input.value": NAN}, message="formula must be text, got float"),
        c("search-infinity", SEARCH, {"search-input.value": -INF}, message="formula must be text, got float"),
        c("focus-click-index-nan", FOCUS, {"map-graph.clickData": {"points": [{"curveNumber": 0, "pointIndex": NAN}]}}, "ignored"),
        c("focus-click-curve-infinity", FOCUS, {"map-graph.clickData": {"points": [{"curveNumber": INF, "pointIndex": 0}]}}, "ignored"),
        c(
            "focus-neighbour-nan-row", FOCUS,
            {'{"row":["ALL"],"type":"neighbour"}.n_clicks': [{"id": {"type": "neighbour", "row": NAN}, "property": "n_clicks", "value": 1}]},
            "ignored", changed=('{"row":NaN,"type":"neighbour"}.n_clicks',),
        ),  # fmt: skip
        c("details-focus-row-infinity", DETAILS, {"focus-compound.data": {"row": INF}}, message="is not a row of this map"),
        c("hl-elements-nan", HIGHLIGHT, {"selected-elements.data": [NAN]}, message="unknown element symbol"),
        c("hl-map-nan", HIGHLIGHT, {"map-name.data": NAN}, message="is not valid"),
        c("sim-element-infinity", SIM, {"sim-element.value": INF}, message="is not an element symbol"),
        c("upload-filename-nan", UPLOAD, {"upload.contents": _data_url(b"formula\nFe2O3\n"), "upload.filename": NAN}, message="file name must be text"),
        c("page-search-nan", PAGE, {"url.search": NAN}, message="could not be read"),
        c("query-nan-controls", QUERY, {"map-cmin.value": NAN, "map-size.value": INF, "map-opacity.value": -INF}, message="?map="),
        c(
            "export-open-nan-target", EXPORT_OPEN,
            {'{"target":["ALL"],"type":"export-open"}.n_clicks': [{"id": {"type": "export-open", "target": NAN}, "property": "n_clicks", "value": 1}]},
            "ignored", changed=('{"target":NaN,"type":"export-open"}.n_clicks',),
        ),  # fmt: skip
        # lone surrogates (JSON can carry them, UTF-8 cannot): never echoed back into an answer
        c("search-lone-surrogate", SEARCH, {"search-input.value": "Fe\ud800O"}, message="formula is not valid text (it holds a lone surrogate)"),
        c(
            "details-placed-surrogate", DETAILS,
            {"focus-compound.data": {"placed": {"status": "placed", "formula": "Fe\udc00", "x": 0, "y": 0, "neighbours": []}}},
            message="searched formula is not valid text",
        ),  # fmt: skip
        c(
            "map-upload-surrogate", MAP,
            {"upload-overlay.data": {"name": "x", "points": [{"formula": "Fe2O3", "x": 0, "y": 0, "id": "a\ud800"}]}},
            message="uploaded compound id is not valid text", changed=("theme-toggle.value",),
        ),  # fmt: skip
        c(
            "upload-filename-surrogate", UPLOAD,
            {"upload.contents": _data_url(b"formula\nFe2O3\nXx\n"), "upload.filename": "x\ud800.csv"},
            message="x?.csv: 1 compounds placed on the map",
        ),  # fmt: skip
    ]


CALLBACK_CASES = _callback_cases()


@dataclass(frozen=True)
class ProtocolCase:
    """A request to ``/_dash-update-component`` whose shape is wrong: refused with ``status``."""

    id: str
    mutate: Callable[[dict], object] | None  # valid body -> forged body (None: ``raw`` is sent)
    raw: bytes = b""
    content_type: str = "application/json"
    status: int = 400
    callback: str = HIGHLIGHT  # the callback whose valid request ``mutate`` edits


def _set(key: str, value: object) -> Callable[[dict], dict]:
    def mutate(body: dict) -> dict:
        body[key] = value
        return body

    return mutate


def _drop(key: str) -> Callable[[dict], dict]:
    def mutate(body: dict) -> dict:
        body.pop(key)
        return body

    return mutate


def _edit_first_input(**changes) -> Callable[[dict], dict]:
    def mutate(body: dict) -> dict:
        body["inputs"][0] = {**body["inputs"][0], **changes}
        return body

    return mutate


def _pattern_items(ids: list[dict]) -> Callable[[dict], dict]:
    """Replace the first (pattern-matching) input by items with these ids."""

    def mutate(body: dict) -> dict:
        body["inputs"][0] = [{"id": id_, "property": "n_clicks", "value": 1} for id_ in ids]
        body["changedPropIds"] = []
        return body

    return mutate


def _drop_first_input_key(key: str) -> Callable[[dict], dict]:
    def mutate(body: dict) -> dict:
        body["inputs"][0].pop(key)
        return body

    return mutate


PROTOCOL_CASES = [
    ProtocolCase("body-list", lambda body: [1, 2, 3]),
    ProtocolCase("body-string", lambda body: "hello"),
    ProtocolCase("body-number", lambda body: 42),
    ProtocolCase("body-null", None, raw=b"null"),
    ProtocolCase("body-not-json", None, raw=b"not json"),
    ProtocolCase("body-truncated-json", None, raw=b'{"output": "page.chil'),
    ProtocolCase("body-invalid-utf8", None, raw=b'{"output": "\xff\xfe"}'),
    ProtocolCase("body-deeply-nested-object", None, raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ProtocolCase("body-deeply-nested-array", None, raw=b"[" * 100_000 + b"]" * 100_000),
    ProtocolCase("body-wrong-content-type", None, raw=b"{}", content_type="text/plain"),
    ProtocolCase("body-form-encoded", None, raw=b"output=page.children", content_type="application/x-www-form-urlencoded"),
    ProtocolCase("no-output", _drop("output")),
    ProtocolCase("unknown-output", _set("output", "passwords.children")),
    ProtocolCase("output-number", _set("output", 5)),
    ProtocolCase("no-outputs", _drop("outputs")),
    ProtocolCase("outputs-string", _set("outputs", "x")),
    ProtocolCase("outputs-unknown-ids", _set("outputs", [{"id": "nope", "property": "children"}] * 3)),
    ProtocolCase("no-inputs", _drop("inputs")),
    ProtocolCase("inputs-string", _set("inputs", "x")),
    ProtocolCase("inputs-ints", _set("inputs", [1, 2])),
    ProtocolCase("inputs-too-many", lambda body: {**body, "inputs": body["inputs"] * 1000}),
    ProtocolCase("inputs-too-few", lambda body: {**body, "inputs": body["inputs"][:1]}),
    ProtocolCase("input-unknown-id", _edit_first_input(id="passwords")),
    ProtocolCase("input-dict-id", _edit_first_input(id={"type": "x", "index": 1})),
    ProtocolCase("input-wrong-property", _edit_first_input(property="style")),
    ProtocolCase("input-without-id", _drop_first_input_key("id")),
    ProtocolCase("no-state", _drop("state")),
    ProtocolCase("state-none", _set("state", None)),
    ProtocolCase("changed-prop-ids-garbage", _set("changedPropIds", [5, None])),
    ProtocolCase("changed-prop-ids-unknown", _set("changedPropIds", ["passwords.value"])),
    ProtocolCase("changed-prop-ids-string", _set("changedPropIds", "selected-elements.data")),
    ProtocolCase("pattern-not-a-list", lambda body: {**body, "inputs": [{"id": "x", "property": "n_clicks"}, body["inputs"][1]]}, callback=EXPORT_OPEN),
    ProtocolCase("pattern-id-list-value", _pattern_items([{"type": "export-open", "target": ["ALL"]}]), callback=EXPORT_OPEN),
    ProtocolCase("pattern-id-extra-key", _pattern_items([{"type": "export-open", "target": "map", "x": 1}]), callback=EXPORT_OPEN),
    ProtocolCase("pattern-id-wrong-type", _pattern_items([{"type": "passwords", "target": "map"}]), callback=EXPORT_OPEN),
    ProtocolCase("pattern-too-many-items", _pattern_items([{"type": "export-open", "target": str(i)} for i in range(5000)]), callback=EXPORT_OPEN),
    # NaN, Infinity and -Infinity tokens in the request's own fields
    ProtocolCase("body-nan-token", None, raw=b"NaN"),
    ProtocolCase("body-minus-infinity-token", None, raw=b"-Infinity"),
    ProtocolCase("output-nan-token", None, raw=b'{"output": NaN, "outputs": Infinity, "inputs": [-Infinity], "changedPropIds": [NaN]}'),
    ProtocolCase("outputs-infinity", _set("outputs", INF)),
    ProtocolCase("inputs-nan", _set("inputs", [NAN, NAN])),
    ProtocolCase("input-id-nan", _edit_first_input(id=NAN)),
    ProtocolCase("input-property-infinity", _edit_first_input(property=INF)),
    ProtocolCase("state-nan", _set("state", NAN)),
    ProtocolCase("changed-prop-ids-nan", _set("changedPropIds", [NAN])),
    ProtocolCase("changed-prop-ids-infinity", _set("changedPropIds", INF)),
]


# =========================================================================== links


@dataclass(frozen=True)
class UrlCase:
    """A query string for ``parse_query``: the default view for ``field`` and a notice with ``notice``."""

    id: str
    query: object
    notice: str
    field: str | None = None


URL_CASES = [
    UrlCase("url-not-string", 12345, "could not be read"),
    UrlCase("url-list", ["?map=x"], "could not be read"),
    UrlCase("url-huge", "?q=" + "Fe" * 100_000, "longer than 4000 characters"),
    UrlCase("url-ten-mb", "?" + "a" * TEN_MB, "longer than 4000 characters"),
    UrlCase("url-many-fields", "?" + "&".join(f"k{i}=1" for i in range(100)), "could not be read"),
    UrlCase("url-repeated-keys", "?" + "&".join(["theme=neon"] * 30), "theme='neon'", "theme"),
    UrlCase("url-nul-theme", "?theme=dark%00", "theme=", "theme"),
    UrlCase("url-nul-map", "?map=sm%00all", "map=", "map"),
    UrlCase("url-lone-surrogate", "?q=\ud800", "could not be read", "search"),
    UrlCase("url-bad-percent", "?theme=%zz%", "theme=", "theme"),
    UrlCase("url-invalid-utf8-percent", "?map=%ff%fe", "map=", "map"),
    UrlCase("url-unicode-key", "?ключ=значение", "unknown link parameter"),
    UrlCase("url-emoji-elements", "?el=😀,Fe", "ignored unknown element symbol", None),
    UrlCase("url-unknown-elements", "?el=Fe,Xx,Og,,Qq", "'Xx'", None),
    UrlCase("url-negative-size", "?size=-4", "size=", "size"),
    UrlCase("url-nan-size", "?size=nan", "not a finite number", "size"),
    UrlCase("url-inf-opacity", "?opacity=inf", "not a finite number", "opacity"),
    UrlCase("url-text-size", "?size=big", "size=", "size"),
    UrlCase("url-huge-size", "?size=1e309", "not a finite number", "size"),
    UrlCase("url-cmin-nan", "?cmin=nan", "cmin=", "cmin"),
    UrlCase("url-cmin-huge", "?cmin=1e300&cmax=1e301", "cmin=", "cmin"),
    UrlCase("url-cmin-above-cmax", "?cmin=2&cmax=1", "cmin must be smaller than cmax", "cmin"),
    UrlCase("url-x-one-number", "?x=1", "expected two numbers", "x_range"),
    UrlCase("url-x-three-numbers", "?x=1,2,3", "expected two numbers", "x_range"),
    UrlCase("url-x-reversed", "?x=5,1", "smaller", "x_range"),
    UrlCase("url-x-nan", "?x=nan,1", "x=", "x_range"),
    UrlCase("url-x-beyond-limits", "?x=-1e13,1e13&y=0,1", "x=", "x_range"),
    UrlCase("url-y-garbage", "?y=%00,%ff", "y=", "y_range"),
    UrlCase("url-theme-script", "?theme=<script>", "theme=", "theme"),
    UrlCase("url-layout-bogus", "?layout=spiral", "layout=", "layout"),
    UrlCase("url-mode-bogus", "?mode=most", "mode=", "mode"),
    UrlCase("url-order-bogus", "?order=random", "order=", "order"),
    UrlCase("url-map-traversal", "?map=../../etc/passwd", "map=", "map"),
    UrlCase("url-map-absolute", "?map=/etc", "map=", "map"),
    UrlCase("url-color-control-chars", "?color=band%0Agap", "color=", "color"),
    UrlCase("url-pt-mean-empty", "?pt=mean:", "pt=", "table_color"),
    UrlCase("url-pt-bogus", "?pt=rainbow", "pt=", "table_color"),
    UrlCase("url-focus-unknown", "?focus=Qq", "focus=", "focus"),
    UrlCase("url-search-too-long", "?q=" + "C" * 300, "longer than 200 characters", "search"),
    UrlCase("url-compound-too-long", "?c=" + "x" * 300, "empty or too long", "compound"),
    UrlCase("url-no-equals", "?theme", "", None),  # a bare key is an empty value: ignored silently
    UrlCase("url-only-ampersands", "?&&&&", "", None),
]


# =========================================================================== generated files


def _parquet(table, **options) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def _dictionary_column(rows: int, value: str):
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array([value]))


def _generated() -> dict[str, Callable[[], bytes]]:
    import pyarrow as pa

    def bomb_rows() -> bytes:  # 80 kB on disk, 25 million rows (the limit is 20 million, 100,000 for uploads)
        return _parquet(pa.table({"formula": _dictionary_column(25_000_000, "Fe2O3")}), compression="zstd")

    def bomb_values() -> bytes:  # under 1 kB on disk, 90,000 copies of a 10 kB string: 900 MB expanded
        return _parquet(pa.table({"formula": _dictionary_column(90_000, "Fe2O3" * 2000)}), compression="zstd")

    def bomb_cli() -> bytes:  # 20 MB strings x 1,000 rows: 20 GB expanded, 1 row group of a few kB
        return _parquet(pa.table({"formula": _dictionary_column(1_000, "Fe" * 10_000_000)}), compression="zstd")

    def bomb_fixed() -> bytes:  # 300 int8 columns of zeros: 100 kB on disk, 238 MB once read as float64
        zeros = pa.array(np.zeros(99_000, dtype=np.int8))
        return _parquet(pa.table({"formula": _dictionary_column(99_000, "Fe2O3"), **{f"c{i}": zeros for i in range(300)}}), compression="zstd")

    def truncated() -> bytes:
        return _parquet(pa.table({"formula": ["Fe2O3", "NaCl"] * 100, "gap": np.arange(200.0)}))[:300]

    def asymmetric() -> bytes:
        matrix = np.zeros((99, 99), dtype=int)
        matrix[1, 2] = 5
        return "\n".join(" ".join(map(str, row)) for row in matrix).encode()

    def wide() -> bytes:
        names = ",".join(["formula"] + [f"c{i}" for i in range(20_000)])
        return (names + "\nFe2O3" + ",1" * 20_000 + "\n").encode()

    def million_rows() -> bytes:
        return b"formula,gap\n" + b"Fe2O3,1\n" * 1_000_000

    generated = {
        "bomb_parquet_rows": bomb_rows,
        "bomb_parquet_values": bomb_values,
        "bomb_parquet_cli": bomb_cli,
        "bomb_parquet_fixed": bomb_fixed,
        "truncated_parquet": truncated,
        "asymmetric_counts": asymmetric,
        "wide_csv": wide,
        "million_rows": million_rows,
        "random_bytes": lambda: np.random.default_rng(0).bytes(5000),
        "nul_after_sample": lambda: b"formula,gap\n" + b"Fe2O3,1\n" * 10_000 + b"NaCl,\x00\n",
        "many_malformed": lambda: b"formula,gap\nFe2O3,1\n" + b"a,b,c\n" * 400_000,
        "ten_mb_formula": lambda: b"formula,gap\n" + b"Fe" * (TEN_MB // 2) + b",1\n",
        "ten_mb_cell": lambda: b"formula,note\nFe2O3," + b"a" * TEN_MB + b"\n",
        "oversized": lambda: b"formula,gap\n" + b"Fe2O3,1\n" * 3_000_000,
        "gzip_bomb": lambda: gzip.compress(b"formula\n" + b"Fe2O3\n" * 20_000_000, compresslevel=1),
        "zip_bomb": lambda: _zip({"a.csv": b"formula\n" + b"Fe2O3\n" * 20_000_000}),
        "parquet_list_formula": lambda: _parquet(pa.table({"formula": [["Fe2O3"], ["NaCl"]]})),
        "parquet_binary_formula": lambda: _parquet(pa.table({"formula": pa.array([b"Fe2O3", b"\xff\xfe"], pa.binary())})),
        "parquet_utf8_binary_formula": lambda: _parquet(pa.table({"formula": pa.array([b"Fe2O3", b"NaCl"], pa.binary())})),
        "parquet_int_formula": lambda: _parquet(pa.table({"formula": [1, 2, 3]})),
        "parquet_no_columns": lambda: _parquet(pa.table({})),
        "parquet_no_rows": lambda: _parquet(pa.table({"formula": pa.array([], pa.string())})),
        "parquet_nan_inf": lambda: _parquet(pa.table({"formula": ["Fe2O3", "NaCl"], "gap": [float("nan"), float("inf")]})),
        "parquet_struct": lambda: _parquet(pa.table({"formula": ["Fe2O3"], "s": pa.array([{"a": 1}])})),
    }
    return generated


GENERATED = _generated()


@functools.cache
def generated(name: str) -> bytes:
    """The bytes of a generated file (built once per process)."""
    return GENERATED[name]()


def resolve(data: bytes | str) -> bytes:
    """Bytes of an upload/CLI file: ``"@name"`` (str or bytes) names a generated file."""
    if isinstance(data, str) and data.startswith("@"):
        return generated(data[1:])
    if isinstance(data, bytes) and data.startswith(b"@") and data[1:].decode("ascii", "replace") in GENERATED:
        return generated(data[1:].decode())
    return data


def oversized_contents() -> str:
    """A dcc.Upload data URL of 21 MB of content (over the 20 MB upload limit)."""
    return "data:text/csv;base64," + "A" * (21 * 1024 * 1024 * 4 // 3)


def all_case_ids() -> list[str]:
    groups = (FORMULA_CASES, CLI_CASES, UPLOAD_CASES, CONTENTS_CASES, CALLBACK_CASES, PROTOCOL_CASES, URL_CASES)
    return [case.id for group in groups for case in group]


def counts() -> dict[str, int]:
    """Cases per entry point."""
    return {
        "parser": len(FORMULA_CASES),
        "command line": len(CLI_CASES),
        "upload files": len(UPLOAD_CASES),
        "upload contents": len(CONTENTS_CASES),
        "callback payloads": len(CALLBACK_CASES),
        "callback request shapes": len(PROTOCOL_CASES),
        "links": len(URL_CASES),
    }


def as_json(value: object) -> str:
    """A compact JSON form of a case value, for ids and messages."""
    return json.dumps(value, default=repr)[:80]
