"""The written results of the embedding comparison study, read back and checked (no Dash here).

``python app.py compare --out DIR`` (:func:`data.compare.run_compare`) writes CSV tables, a
``run.json`` and the map coordinates ``maps.parquet`` into ``DIR``. The app's "Compare
embeddings" view shows them; this module reads such a folder and checks every table it uses
before anything is drawn::

    from data.compare_results import load_compare_results, default_results_dir
    results = load_compare_results(default_results_dir())     # the committed run
    results.prediction          # MAE per target, model, embedding (mean and std over folds)
    results.map_points("magpie")  # id, formula, x, y and the properties, one row per compound

Files
-----
Required (a run always writes them; without them there is nothing to show):
``run.json``, ``prediction_summary.csv``, ``seriation.csv``. A missing or broken required
file raises :class:`CompareResultsError` naming the file and the problem.

Optional: ``headline.csv``, ``separability_summary.csv`` and ``maps.parquet`` (a run with
``map_rows=0`` writes no maps). When one is missing or broken the rest is still usable;
``CompareResults.problems`` says which file and why.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "OPTIONAL_FILES",
    "PRODUCE_COMMAND",
    "REQUIRED_FILES",
    "CompareResults",
    "CompareResultsError",
    "best_rows",
    "default_results_dir",
    "format_mae",
    "is_pettifor",
    "load_compare_results",
    "results_signature",
]

REQUIRED_FILES = ("run.json", "prediction_summary.csv", "seriation.csv")
OPTIONAL_FILES = ("headline.csv", "separability_summary.csv", "maps.parquet")
#: How to (re)write a results folder; ``{out}`` is the folder.
PRODUCE_COMMAND = "python app.py compare --dataset mp --icsd download --out {out}"

_PREDICTION_COLUMNS = ("target", "model", "embedding", "mae_mean", "mae_std")
_SERIATION_COLUMNS = ("source", "min_substitutions", "spearman", "n_elements")
_SEPARABILITY_COLUMNS = ("embedding", "target", "skill_mean", "skill_std")
_HEADLINE_COLUMNS = ("target", "model", "best", "best_mae", "best_other", "best_other_mae", "change", "folds_won", "n_folds")
#: Suffixes of the map coordinate columns, ``<embedding>.x`` and ``<embedding>.y``.
_X, _Y = ".x", ".y"


def default_results_dir() -> Path:
    """The committed results of the real run: ``<repository>/bench/results/compare``.

    Resolved from this file, so it does not depend on the working directory.
    """
    return Path(__file__).resolve().parents[1] / "bench" / "results" / "compare"


class CompareResultsError(ValueError):
    """A results folder or one of its files cannot be used; the message names the file and why.

    Attributes
    ----------
    path : Path
        The file (or folder) at fault.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class CompareResults:
    """One results folder, checked.

    Attributes
    ----------
    directory : Path
    run : dict
        ``run.json``: ``spec`` (dataset, n_folds, seed, rows, map_rows, ...), ``counts``,
        ``models`` (name -> description), ``notes``, ``versions`` ...
    prediction : DataFrame
        ``prediction_summary.csv``: ``target, model, embedding, mae_mean, mae_std`` (std over
        folds; NaN when undefined) and the optional ``n_folds, skill, rank ...``.
    seriation : DataFrame
        ``seriation.csv``: Spearman of each learned 1D element order with the modified
        Pettifor scale, per source and ``min_substitutions``.
    headline, separability, maps : DataFrame or None
        The optional files (None when missing or broken; see ``problems``).
    problems : dict
        File name -> what is wrong, for the optional files that could not be used.
    """

    directory: Path
    run: dict
    prediction: pd.DataFrame
    seriation: pd.DataFrame
    headline: pd.DataFrame | None = None
    separability: pd.DataFrame | None = None
    maps: pd.DataFrame | None = None
    problems: dict[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------------- what the run holds

    @property
    def spec(self) -> dict:
        return self.run["spec"]

    @property
    def dataset(self) -> str:
        return str(self.spec["dataset"])

    @property
    def n_folds(self) -> int:
        return int(self.spec["n_folds"])

    @property
    def seed(self) -> int:
        return int(self.spec["seed"])

    @property
    def counts(self) -> dict:
        return self.run.get("counts") or {}

    @property
    def embeddings(self) -> list[str]:
        """Embeddings in the order of the run (Pettifor first in the default study)."""
        return list(dict.fromkeys(self.prediction["embedding"]))

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(self.prediction["target"]))

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.prediction["model"]))

    @property
    def model_descriptions(self) -> dict[str, str]:
        described = self.run.get("models") if isinstance(self.run.get("models"), dict) else {}
        return {model: str(described.get(model, model)) for model in self.models}

    @property
    def map_embeddings(self) -> list[str]:
        """Embeddings with map coordinates in ``maps.parquet`` (run order first)."""
        if self.maps is None:
            return []
        found = [c[: -len(_X)] for c in self.maps.columns if c.endswith(_X) and c[: -len(_X)] + _Y in self.maps.columns]
        order = {name: i for i, name in enumerate(self.embeddings)}
        return sorted(found, key=lambda name: (order.get(name, len(order)), found.index(name)))

    @property
    def map_properties(self) -> list[str]:
        """Numeric property columns of ``maps.parquet`` (the colourings of the maps)."""
        if self.maps is None:
            return []
        coordinates = {c for c in self.maps.columns if c.endswith((_X, _Y))}
        return [
            c
            for c in self.maps.columns
            if c not in coordinates
            and c not in ("row", "formula")
            and pd.api.types.is_numeric_dtype(self.maps[c].dtype)
            and not pd.api.types.is_bool_dtype(self.maps[c].dtype)
        ]

    @property
    def n_map(self) -> int:
        return 0 if self.maps is None else len(self.maps)

    def main_seriation(self) -> pd.DataFrame:
        """One seriation row per source: the run's ``min_substitutions`` (else the largest)."""
        wanted = self.spec.get("min_substitutions")
        frame = self.seriation
        rows = []
        for source in dict.fromkeys(frame["source"]):
            part = frame[frame["source"] == source]
            chosen = part[part["min_substitutions"] == wanted] if wanted is not None else part.iloc[0:0]
            rows.append((chosen if len(chosen) else part.sort_values("min_substitutions")).iloc[-1])
        return pd.DataFrame(rows).reset_index(drop=True)

    def map_points(self, embedding: str) -> pd.DataFrame:
        """The map of one embedding as a points table: ``id, formula, x, y`` + the properties.

        ``id`` names the compound's row in the dataset (``"mp row 207"``); rows keep the order
        of ``maps.parquet``, which is the same for every embedding (so row ``i`` is the same
        compound on every map: what linked selections rely on).

        Raises
        ------
        KeyError
            No maps, or no coordinates for ``embedding``.
        """
        if self.maps is None:
            raise KeyError(f"{self.directory}: no maps ({self.problems.get('maps.parquet', 'maps.parquet missing')})")
        if embedding not in self.map_embeddings:
            raise KeyError(f"no map of {embedding!r} in {self.directory / 'maps.parquet'} (maps: {', '.join(self.map_embeddings)})")
        maps = self.maps
        rows = maps["row"].to_numpy() if "row" in maps.columns else np.arange(len(maps))
        points = pd.DataFrame(
            {
                "id": [f"{self.dataset} row {r}" for r in rows],
                "formula": maps["formula"].astype(str).to_numpy(),
                "x": maps[embedding + _X].to_numpy(dtype=np.float64),
                "y": maps[embedding + _Y].to_numpy(dtype=np.float64),
            }
        )
        for column in self.map_properties:
            points[column] = maps[column].to_numpy(dtype=np.float64, na_value=np.nan)
        return points


# --------------------------------------------------------------------------- checks


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise CompareResultsError(path, "file missing") from None
    except pd.errors.EmptyDataError:
        raise CompareResultsError(path, "file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise CompareResultsError(path, f"not a readable CSV table ({type(err).__name__}: {str(err)[:200]})") from None
    if frame.empty:
        raise CompareResultsError(path, "table has no rows")
    return frame


def _require_columns(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CompareResultsError(path, f"missing column(s) {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})")


def _numeric(frame: pd.DataFrame, column: str, path: Path, *, finite: bool, non_negative: bool = False) -> None:
    """Make ``column`` float64 in place; refuse text, and (if asked) missing or negative values."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    text = values.isna() & raw.notna()
    if text.any():
        row = int(np.flatnonzero(text.to_numpy())[0])
        raise CompareResultsError(path, f"column {column} holds a value that is not a number ({raw.iat[row]!r}, data row {row + 1})")
    values = values.astype(np.float64)
    if finite and not np.isfinite(values.to_numpy()).all():
        row = int(np.flatnonzero(~np.isfinite(values.to_numpy()))[0])
        raise CompareResultsError(path, f"column {column} has a missing or infinite value (data row {row + 1})")
    if non_negative and (values < 0).any():
        row = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise CompareResultsError(path, f"column {column} has a negative value ({values.iat[row]:g}, data row {row + 1})")
    frame[column] = values


def _text(frame: pd.DataFrame, column: str, path: Path) -> None:
    values = frame[column]
    bad = values.isna() | (values.astype(str).str.strip() == "")
    if bad.any():
        raise CompareResultsError(path, f"column {column} has an empty value (data row {int(np.flatnonzero(bad.to_numpy())[0]) + 1})")
    frame[column] = values.astype(str).str.strip()


def _read_run(path: Path) -> dict:
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareResultsError(path, "file missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CompareResultsError(path, f"not valid JSON ({err})") from None
    except OSError as err:
        raise CompareResultsError(path, f"cannot be read ({err})") from None
    if not isinstance(run, dict):
        raise CompareResultsError(path, "not a JSON object")
    spec = run.get("spec")
    if not isinstance(spec, dict):
        raise CompareResultsError(path, "no 'spec' object (the run's settings)")
    if not isinstance(spec.get("dataset"), str) or not spec["dataset"]:
        raise CompareResultsError(path, "spec.dataset is missing or not text")
    for key, low in (("n_folds", 2), ("seed", 0)):
        value = spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise CompareResultsError(path, f"spec.{key} must be an integer >= {low}, got {value!r}")
    counts = run.get("counts", {})
    if not isinstance(counts, dict):
        raise CompareResultsError(path, "'counts' is not an object")
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CompareResultsError(path, f"counts.{key} must be a non-negative integer, got {value!r}")
    for key in ("models", "embeddings", "versions", "timings_s"):
        if key in run and not isinstance(run[key], dict):
            raise CompareResultsError(path, f"'{key}' is not an object")
    if "notes" in run and not (isinstance(run["notes"], list) and all(isinstance(n, str) for n in run["notes"])):
        raise CompareResultsError(path, "'notes' is not a list of text")
    return run


def _read_prediction(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    _require_columns(frame, _PREDICTION_COLUMNS, path)
    for column in ("target", "model", "embedding"):
        _text(frame, column, path)
    _numeric(frame, "mae_mean", path, finite=True, non_negative=True)
    _numeric(frame, "mae_std", path, finite=False, non_negative=True)  # NaN: a single fold
    for column in ("n_folds", "skill", "rank", "baseline_mae", "n_test"):
        if column in frame.columns:
            _numeric(frame, column, path, finite=False)
    duplicated = frame.duplicated(["target", "model", "embedding"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise CompareResultsError(path, f"{row['embedding']} / {row['target']} / {row['model']} is listed twice")
    return frame.reset_index(drop=True)


def _read_seriation(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    _require_columns(frame, _SERIATION_COLUMNS, path)
    _text(frame, "source", path)
    _numeric(frame, "spearman", path, finite=True)
    for column in ("min_substitutions", "n_elements"):
        _numeric(frame, column, path, finite=True, non_negative=True)
    if ((frame["spearman"] < -1) | (frame["spearman"] > 1)).any():
        raise CompareResultsError(path, "column spearman has a value outside -1..1")
    return frame.reset_index(drop=True)


def _read_separability(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    _require_columns(frame, _SEPARABILITY_COLUMNS, path)
    for column in ("embedding", "target"):
        _text(frame, column, path)
    _numeric(frame, "skill_mean", path, finite=True)
    _numeric(frame, "skill_std", path, finite=False, non_negative=True)
    for column in ("mae_mean", "mae_std"):
        if column in frame.columns:
            _numeric(frame, column, path, finite=False)
    return frame.reset_index(drop=True)


def _read_headline(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    _require_columns(frame, _HEADLINE_COLUMNS, path)
    for column in ("target", "model", "best", "best_other"):
        _text(frame, column, path)
    for column in ("best_mae", "best_other_mae", "change", "folds_won", "n_folds"):
        _numeric(frame, column, path, finite=True)
    return frame.reset_index(drop=True)


def _read_maps(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CompareResultsError(path, "file missing")
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
        raise CompareResultsError(path, f"not a readable Parquet file ({type(err).__name__}: {str(err)[:200]})") from None
    if frame.empty:
        raise CompareResultsError(path, "table has no rows")
    _require_columns(frame, ("formula",), path)
    pairs = [c[: -len(_X)] for c in frame.columns if c.endswith(_X) and c[: -len(_X)] + _Y in frame.columns]
    if not pairs:
        raise CompareResultsError(path, "no map coordinates (no column pair <embedding>.x, <embedding>.y)")
    for name in pairs:
        for column in (name + _X, name + _Y):
            if not pd.api.types.is_numeric_dtype(frame[column].dtype) or pd.api.types.is_bool_dtype(frame[column].dtype):
                raise CompareResultsError(path, f"column {column} is not numeric (dtype {frame[column].dtype})")
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- entry points


def load_compare_results(directory: str | os.PathLike) -> CompareResults:
    """Read and check a results folder written by ``python app.py compare``.

    Parameters
    ----------
    directory : path

    Returns
    -------
    CompareResults
        Optional files that are missing or broken are None, with the reason in ``problems``.

    Raises
    ------
    CompareResultsError
        The folder does not exist, or a required file is missing, unreadable, lacks a
        column or holds values that are not usable; the message names the file and the problem.
    """
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise CompareResultsError(folder, "no such results folder" if not folder.exists() else "not a folder")
    run = _read_run(folder / "run.json")
    prediction = _read_prediction(folder / "prediction_summary.csv")
    seriation = _read_seriation(folder / "seriation.csv")
    problems: dict[str, str] = {}
    optional = {}
    readers = {"headline.csv": _read_headline, "separability_summary.csv": _read_separability, "maps.parquet": _read_maps}
    maps_skipped = run["spec"].get("map_rows") == 0
    for name, reader in readers.items():
        path = folder / name
        if maps_skipped and name in ("maps.parquet", "separability_summary.csv") and not path.exists():
            problems[name] = "this run skipped the maps (map_rows 0)"
            optional[name] = None
            continue
        try:
            optional[name] = reader(path)
        except CompareResultsError as err:
            problems[name] = err.problem
            optional[name] = None
    return CompareResults(
        directory=folder,
        run=run,
        prediction=prediction,
        seriation=seriation,
        headline=optional["headline.csv"],
        separability=optional["separability_summary.csv"],
        maps=optional["maps.parquet"],
        problems=problems,
    )


def results_signature(directory: str | os.PathLike) -> tuple:
    """Size and modification time of every result file: changes whenever a file is rewritten."""
    folder = Path(directory).expanduser()
    signature = []
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        try:
            stat = (folder / name).stat()
            signature.append((name, stat.st_size, stat.st_mtime_ns))
        except OSError:
            signature.append((name, None, None))
    return (str(folder.resolve()) if folder.exists() else str(folder), tuple(signature))


def format_mae(mean: float, std: float, *, digits: int) -> str:
    """``"0.5720 ± 0.0060"`` (the std reads "?" when undefined)."""
    spread = "?" if std is None or not math.isfinite(std) else f"{std:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread}"


def is_pettifor(embedding: str) -> bool:
    """True for the Pettifor embeddings of the study (``pettifor-icsd-*``, ``pettifor-mined``)."""
    return str(embedding).startswith("pettifor")


def best_rows(frame: pd.DataFrame, *, by, value: str, lowest: bool = True) -> pd.Series:
    """True on the best row(s) of each group ``by`` (lowest ``value``, or highest); ties all win."""
    values = frame[value].astype(np.float64)
    target = values.groupby([frame[c] for c in by]).transform("min" if lowest else "max")
    return (values == target) & values.notna()
