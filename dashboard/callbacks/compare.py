"""The "Compare embeddings" view: its page from the results folder, and its callbacks.

What the view shows comes from a results folder written by ``python app.py compare``
(:mod:`data.compare_results` reads and checks it): by default the committed
``bench/results/compare`` of the repository, else ``AppContext.compare_dir`` or the
``CHEMMAP_COMPARE_DIR`` setting. A folder that cannot be read gives a page naming the file,
the problem and the command that writes it; an optional file that is missing (the maps)
leaves the rest of the view working, with the reason where the maps would be.

Callbacks (thin; the logic is in the plain functions below, which the tests call):

- the MAE figure (model, theme) and its export (SVG/PNG/PDF, rebuilt on the server);
- the two maps (embedding of each side, shared colouring and range, theme);
- linked selection: a box or lasso on either map selects rows (the browser reduces plotly's
  selection to row numbers); the same rows are highlighted on both maps with ``Patch``
  (``selectedpoints`` only: the points are not sent again); "Clear selection" resets both;
- the address: the view's controls -> the query string (``view=compare&left=...``), pushed
  with ``history.replaceState``; the header link back to the explorer keeps both views' fields,
  and so does the explorer's link here (updated when the explorer rewrites its address).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html, no_update

from dashboard import layout
from dashboard import state as view_state
from dashboard import theme as th
from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.export import FORMATS, ExportError, export_figure
from dashboard.figures.compare import (
    STUDY_UNITS,
    UNSELECTED_OPACITY,
    embedding_map_figure,
    mae_figure,
    model_label,
)
from dashboard.state import THEMES, ViewState
from data.compare_results import (
    PRODUCE_COMMAND,
    CompareResults,
    CompareResultsError,
    best_rows,
    default_results_dir,
    is_pettifor,
    load_compare_results,
    results_signature,
)

log = logging.getLogger(__name__)

#: The fields of ViewState that belong to this view (the explorer's link keeps them).
COMPARE_FIELDS = ("compare_left", "compare_right", "compare_color", "compare_cmin", "compare_cmax", "compare_model")
#: Preferred maps: the mined Pettifor embedding against a classic property table.
PREFERRED_LEFT = ("pettifor-mined", "pettifor-icsd-corrected")
PREFERRED_RIGHT = ("magpie", "mat2vec", "oliynyk")
PREFERRED_COLOR = "band_gap"
ALL_MODELS = "all"
EXPORT_WIDTH = 1500
_REPOSITORY = Path(__file__).resolve().parents[2]

#: {"query": ...} -> the address bar (history.replaceState: no reload, no history entry);
#: returns the full address, which "Copy link" copies.
PUSH_QUERY_JS = """
function (data) {
    if (!data || typeof data.query !== "string") { return window.dash_clientside.no_update; }
    var query = data.query;
    if (query !== window.location.search) {
        window.history.replaceState(window.history.state, "", window.location.pathname + query + window.location.hash);
    }
    return window.location.href;
}
"""
#: The theme switch of this view; does nothing where the switch is absent (the explorer).
SET_THEME_JS = """
function (theme) {
    if (theme !== "light" && theme !== "dark") { return window.dash_clientside.no_update; }
    return window.dash_clientside.chemmap.setTheme(theme);
}
"""


# ------------------------------------------------------------------------------ results folder


def compare_directory(context) -> Path:
    """The results folder: ``context.compare_dir``, else the ``compare_dir`` setting, else the committed one."""
    configured = getattr(context, "compare_dir", None)
    if configured is None:
        try:
            from dashboard.settings import current_settings

            configured = current_settings().compare_dir
        except Exception as err:  # noqa: BLE001 - bad settings elsewhere must not hide the committed results
            log.warning("settings could not be read (%s); using the committed comparison results", err)
    return Path(configured).expanduser() if configured is not None else default_results_dir()


class _ResultsCache:
    """Results per folder, reread when a file changes (size or modification time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple, CompareResults]] = {}

    def get(self, directory: Path) -> CompareResults:
        signature = results_signature(directory)
        key = signature[0]
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached[0] == signature:
                return cached[1]
        results = load_compare_results(directory)
        with self._lock:
            if len(self._entries) >= 4:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (signature, results)
        return results

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


RESULTS = _ResultsCache()


def results_for(context) -> CompareResults:
    """The checked results of the context's folder (CompareResultsError when unusable)."""
    return RESULTS.get(compare_directory(context))


def shown_path(path: Path) -> str:
    """A path as the page shows it: relative to the repository when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(_REPOSITORY))
    except (ValueError, OSError):
        return str(path)


def produce_command(directory: Path) -> str:
    return PRODUCE_COMMAND.format(out=shown_path(directory))


# ------------------------------------------------------------------------------ view state


def default_maps(embeddings: list[str]) -> tuple[str | None, str | None]:
    """The two maps shown first: a Pettifor embedding on the left, a classic one on the right."""
    if not embeddings:
        return None, None
    left = next((e for e in PREFERRED_LEFT if e in embeddings), None) or next((e for e in embeddings if is_pettifor(e)), embeddings[0])
    others = [e for e in embeddings if e != left]
    right = next((e for e in PREFERRED_RIGHT if e in others), None) or next((e for e in others if not is_pettifor(e)), None)
    return left, right or (others[0] if others else left)


def reconcile_compare(state: ViewState, results: CompareResults) -> ViewState:
    """Check the view's fields against the results; unknown values fall back with a notice."""
    notices = list(state.notices)
    changes: dict = {}
    maps = results.map_embeddings
    left, right = default_maps(maps)
    for field, default, side in (("compare_left", left, "left"), ("compare_right", right, "right")):
        value = getattr(state, field)
        if value is not None and value not in maps:
            shown = value if len(value) <= 40 else value[:40] + "…"
            notices.append(
                f"these results have no map of {shown!r} for the {side} side; showing {default}"
                if maps
                else f"these results have no maps ({results.problems.get('maps.parquet', 'maps.parquet missing')})"
            )
            changes[field] = default
        elif value is None:
            changes[field] = default
    properties = results.map_properties
    color = state.compare_color
    if color not in properties:
        if color is not None and properties:
            notices.append(f"the maps have no property {color[:40]!r} to colour by; using {_default_color(properties)}")
        changes.update(compare_color=_default_color(properties), compare_cmin=None, compare_cmax=None)
    model = state.compare_model
    if len(results.models) == 1:  # nothing to choose: the one model (the radio has no "both")
        changes["compare_model"] = results.models[0]
    elif model == ALL_MODELS:
        changes["compare_model"] = None
    elif model is not None and model not in results.models:
        notices.append(f"these results have no model {model[:40]!r}; showing {', '.join(results.models)}")
        changes["compare_model"] = None
    return replace(state, **changes, notices=tuple(notices))


def _default_color(properties: list[str]) -> str | None:
    if PREFERRED_COLOR in properties:
        return PREFERRED_COLOR
    return properties[0] if properties else None


def compare_query(base: object, values: dict) -> tuple[str, str]:
    """The view's query string and the explorer link, from the rendered state and the controls.

    Everything is validated like a link (``from_dict``), so garbage sent by a browser never
    reaches the address bar.
    """
    state = view_state.from_dict(base)
    model = values.get("model")
    data = {
        **state.to_dict(),
        "view": "compare",
        "compare_left": values.get("left"),
        "compare_right": values.get("right"),
        "compare_color": values.get("color"),
        "compare_cmin": values.get("cmin"),
        "compare_cmax": values.get("cmax"),
        "compare_model": None if model == ALL_MODELS else model,
        "theme": values.get("theme"),
    }
    current = view_state.from_dict(data)
    return view_state.to_query(current), layout.view_href(current, "explorer")


def compare_link(pushed: object, current_href: object) -> str:
    """The explorer's link to this view: the explorer's latest address plus this view's fields."""
    if not isinstance(pushed, str):
        raise validate.InputError("no address to link from")
    explorer = view_state.parse_query(pushed)
    href = current_href if isinstance(current_href, str) else ""
    previous = view_state.parse_query(href.split("?", 1)[1] if "?" in href else "")
    kept = {name: getattr(previous, name) for name in COMPARE_FIELDS}
    return layout.view_href(replace(explorer, **kept, notices=()), "compare")


# ------------------------------------------------------------------------------ texts


def _units() -> dict[str, str]:
    return {**th.UNITS, **STUDY_UNITS}


def _target_label(target: str) -> str:
    return th.LABELS.get(target, target)


def study_subtitle(results: CompareResults) -> str:
    return (
        f"{len(results.embeddings)} element embeddings compared on {results.dataset}: "
        f"{len(results.targets)} properties, {results.n_folds}-fold cross-validation"
    )


def _note(results: CompareResults, pattern: str) -> str | None:
    for note in results.run.get("notes", []):
        match = re.search(pattern, note)
        if match:
            return match.group(1)
    return None


def explanation(results: CompareResults) -> list[str]:
    """The study in plain words (Markdown paragraphs), with the run's own numbers."""
    spec, counts = results.spec, results.counts
    n_sample, n_common = counts.get("n_sample"), counts.get("n_common")
    normalised = ", scaled to unit length" if spec.get("normalize") else ""
    paragraphs = [
        (
            "**The question.** Do the Pettifor element vectors, learned from which elements replace each other in "
            "known compounds, describe compounds better than the usual element embeddings? Every embedding gives each "
            f"element a vector; a compound's features are the fraction-weighted sum of its elements' vectors{normalised}. "
            "The rule is the same for every embedding, so only the element vectors differ."
        )
    ]
    sample = (
        f"{n_sample:,} compounds of `{results.dataset}`"
        + (f" (a fixed random subsample, seed {results.seed}, of the {n_common:,} that every embedding covers)" if n_common and n_sample and n_sample < n_common else "")
        if n_sample
        else f"The compounds of `{results.dataset}` that every embedding covers"
    )
    models = "; ".join(f"{model_label(m)}: {d}" for m, d in results.model_descriptions.items())
    paragraphs.append(
        f"**Property prediction.** {sample} are split into {results.n_folds} folds (seed {results.seed}). Each model "
        f"learns from {results.n_folds - 1} folds and predicts the one left out, in turn; the score is the mean absolute "
        f"error (MAE) over the {results.n_folds} folds, and its spread the standard deviation over the folds. Every "
        f"embedding sees the same compounds and the same folds. Models: {models}."
    )
    if "pettifor-mined" in results.embeddings:
        threshold = _note(results, r"e_above_hull <= ([0-9.]+) eV/atom")
        stability = f" (stable compounds only: energy above hull ≤ {threshold} eV/atom)" if threshold else ""
        paragraphs.append(
            "**No leak.** The mined Pettifor similarity comes from the dataset itself, so it is mined again for every "
            f"fold from that fold's training compounds only{stability}, never from the test fold nor from compounds "
            "outside the study's sample: a test compound never shapes its own features, and its energy above hull cannot "
            "leak into them. The maps mine it from the compounds outside the map sample. The ICSD substitution counts are "
            "external data, used as they are."
        )
    if results.separability is not None:
        method = "UMAP" if spec.get("map_method", "umap") == "umap" else "PCA"
        k = results.run.get("knn_neighbours", 10)
        paragraphs.append(
            f"**Map separability.** {results.n_map or counts.get('n_map', 0):,} compounds are mapped to 2D ({method}) once "
            f"per embedding; the median of each compound's {k} nearest map neighbours predicts its property from the "
            f"map position alone ({results.n_folds}-fold). Skill = 1 − MAE / MAE of predicting the training median: "
            "0 means the map says nothing about the property, 1 that it predicts it perfectly."
        )
    seriation = results.main_seriation()
    if len(seriation):
        parts = ", ".join(f"{row.source} {row.spearman:.3f} ({int(row.n_elements)} elements)" for row in seriation.itertuples())
        minimum = spec.get("min_substitutions")
        among = f" among the elements with at least {minimum} observed substitutions" if minimum else ""
        paragraphs.append(
            "**Seriation.** From each Pettifor similarity alone the elements are put in a 1D order that keeps similar "
            "elements together; its Spearman correlation with the modified Pettifor scale (Glawe et al., 2016) says "
            f"how close it comes to the chemists' scale{among}: {parts}."
        )
    return paragraphs


def headline_lines(results: CompareResults) -> list[str]:
    """One Markdown bullet per target and model: best Pettifor against best other embedding."""
    if results.headline is None:
        return []
    lines = []
    for row in results.headline.itertuples():
        lines.append(
            f"- {_target_label(row.target)}, {model_label(row.model)}: **{row.best}** {row.best_mae:.4g} against "
            f"{row.best_other} {row.best_other_mae:.4g} ({100 * row.change:+.1f} %; better in {int(row.folds_won)} of "
            f"{int(row.n_folds)} folds)"
        )
    return lines


def source_line(results: CompareResults) -> str:
    counts, versions = results.counts, results.run.get("versions") or {}
    facts = [f"dataset `{results.dataset}`"]
    if results.run.get("dataset_source"):
        facts[0] += f", {results.run['dataset_source']}"
    if counts.get("n_rows"):
        facts.append(f"{counts['n_rows']:,} rows")
    if counts.get("n_sample"):
        facts.append(f"{counts['n_sample']:,} used for prediction")
    facts.append(f"{results.n_folds} folds")
    facts.append(f"seed {results.seed}")
    libraries = ", ".join(f"{name} {version}" for name, version in versions.items() if name in ("scikit-learn", "umap-learn") and version)
    return (
        f"Where the numbers come from: `{shown_path(results.directory)}` (run.json: {', '.join(facts)}"
        + (f"; {libraries}" if libraries else "")
        + "). They are written by `python app.py compare`; the folder's `summary.md` holds every table and note."
    )


def table_note(results: CompareResults) -> str:
    notes = results.run.get("notes") or []
    dropped = next((n for n in notes if "dropped because some embedding" in n), None)
    parts = []
    if dropped:
        parts.append(f"Rows: {dropped}")
    if results.separability is None:
        parts.append(f"No map separability: {results.problems.get('separability_summary.csv', 'not in these results')}.")
    for name, problem in results.problems.items():
        if name == "headline.csv":
            parts.append(f"headline.csv not used: {problem}.")
    parts.append("Seriation ρ is defined for the Pettifor similarities only (the others have no similarity to order).")
    return " ".join(parts)


# ------------------------------------------------------------------------------ table


def _digits(values: pd.Series) -> int:
    finite = values[np.isfinite(values)]
    return 4 if finite.size == 0 or finite.abs().max() < 1 else 3


def _clean(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _mae_formatter(field: str, digits: int) -> dict:
    std, best = field.replace("mae__", "std__", 1), field.replace("mae__", "best__", 1)
    return {
        "function": f"params.value == null ? '—' : params.value.toFixed({digits}) + ' ± ' + "
        f"(params.data['{std}'] == null ? '?' : params.data['{std}'].toFixed({digits})) + "
        f"(params.data['{best}'] ? ' ★' : '')"
    }


def _embedding_column() -> dict:
    return {"field": "embedding", "headerName": "Embedding", "pinned": "left", "width": 265, "suppressSizeToFit": True, "cellClass": "compare-embedding-cell"}


def table_columns(results: CompareResults) -> list[dict]:
    """AG Grid columns of the prediction table: embedding, then MAE ± std per model and target, mean rank."""
    units = _units()
    prediction = results.prediction
    columns: list[dict] = [_embedding_column()]
    for model in results.models:
        children = []
        for target in results.targets:
            field = f"mae__{target}__{model}"
            digits = _digits(prediction.loc[prediction["target"] == target, "mae_mean"])
            children.append(
                {
                    "field": field,
                    "headerName": th.label_with_unit(target, units),
                    "headerTooltip": f"{model_label(model)}: MAE of {_target_label(target)} (mean ± std over {results.n_folds} folds)",
                    "type": "numericColumn",
                    "minWidth": 150,
                    "valueFormatter": _mae_formatter(field, digits),
                    "cellClassRules": {"compare-best": f"params.data['best__{target}__{model}'] === true"},
                }
            )
        children.append(
            {
                "field": f"rank__{model}",
                "headerName": "Mean rank",
                "headerTooltip": f"{model_label(model)}: rank of the embedding per target (1 = lowest MAE), averaged over the targets",
                "type": "numericColumn",
                "minWidth": 100,
                "valueFormatter": {"function": "params.value == null ? '—' : params.value.toFixed(1)"},
            }
        )
        columns.append({"headerName": f"{model_label(model)}: MAE ± std over folds (lower is better)", "children": children})
    return columns


def maps_table_columns(results: CompareResults) -> list[dict]:
    """AG Grid columns of the second table: map separability skill per target, seriation Spearman."""
    columns: list[dict] = [_embedding_column()]
    if results.separability is not None:
        children = []
        for target in dict.fromkeys(results.separability["target"]):
            children.append(
                {
                    "field": f"sep__{target}",
                    "headerName": _target_label(target),
                    "headerTooltip": f"Skill of predicting {_target_label(target)} from the 2D map position alone (± std over folds)",
                    "type": "numericColumn",
                    "minWidth": 150,
                    "valueFormatter": {
                        "function": f"params.value == null ? '—' : params.value.toFixed(3) + ' ± ' + "
                        f"(params.data['sepstd__{target}'] == null ? '?' : params.data['sepstd__{target}'].toFixed(3)) + "
                        f"(params.data['sepbest__{target}'] ? ' ★' : '')"
                    },
                    "cellClassRules": {"compare-best": f"params.data['sepbest__{target}'] === true"},
                }
            )
        columns.append({"headerName": "Map separability: skill from the 2D map alone (higher is better)", "children": children})
    columns.append(
        {
            "headerName": "Element order",
            "children": [
                {
                    "field": "spearman",
                    "headerName": "Seriation ρ vs modified Pettifor",
                    "headerTooltip": "Spearman correlation of the learned 1D element order with the modified Pettifor scale (Pettifor similarities only)",
                    "type": "numericColumn",
                    "minWidth": 190,
                    "valueFormatter": {"function": "params.value == null ? '—' : params.value.toFixed(3) + ' (' + params.data.seriation_elements + ' elements)'"},
                }
            ],
        }
    )
    return columns


def table_rows(results: CompareResults) -> list[dict]:
    """One row per embedding: MAE, std and best flag per target and model, mean rank, separability, seriation."""
    prediction = results.prediction.copy()
    prediction["best"] = best_rows(prediction, by=("target", "model"), value="mae_mean")
    prediction["rank_within"] = prediction.groupby(["target", "model"])["mae_mean"].rank(method="min")
    separability = results.separability
    if separability is not None:
        separability = separability.copy()
        separability["best"] = best_rows(separability, by=("target",), value="skill_mean", lowest=False)
    seriation = results.main_seriation().set_index("source")
    rows = []
    for name in results.embeddings:
        row: dict = {"embedding": name, "family": "Pettifor" if is_pettifor(name) else "other"}
        mine = prediction[prediction["embedding"] == name]
        for record in mine.itertuples():
            key = f"{record.target}__{record.model}"
            row[f"mae__{key}"] = _clean(record.mae_mean)
            row[f"std__{key}"] = _clean(record.mae_std)
            row[f"best__{key}"] = bool(record.best)
        for model in results.models:
            ranks = mine.loc[mine["model"] == model, "rank_within"]
            row[f"rank__{model}"] = _clean(ranks.mean()) if len(ranks) else None
        if separability is not None:
            for record in separability[separability["embedding"] == name].itertuples():
                row[f"sep__{record.target}"] = _clean(record.skill_mean)
                row[f"sepstd__{record.target}"] = _clean(record.skill_std)
                row[f"sepbest__{record.target}"] = bool(record.best)
        if name in seriation.index:
            row["spearman"] = _clean(seriation.at[name, "spearman"])
            row["seriation_elements"] = int(seriation.at[name, "n_elements"])
        else:
            row["spearman"] = None
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ page


def model_options(results: CompareResults) -> list[dict]:
    options = [{"label": " both", "value": ALL_MODELS}] if len(results.models) > 1 else []
    return options + [{"label": f" {model_label(m)}", "value": m} for m in results.models]


def map_options(results: CompareResults) -> list[dict]:
    return [{"label": f"{name} (Pettifor)" if is_pettifor(name) else name, "value": name} for name in results.map_embeddings]


def color_options(results: CompareResults) -> list[dict]:
    return [{"label": th.label_with_unit(p), "value": p} for p in results.map_properties]


def page_for_compare(context, state: ViewState):
    """The whole view for a parsed link (a page naming the problem when the results are unusable)."""
    directory = compare_directory(context)
    try:
        results = RESULTS.get(directory)
    except CompareResultsError as err:
        log.warning("comparison results unusable: %s", err)
        problem = f"{shown_path(err.path)}: {err.problem}"
        return layout.compare_error_page(state, problem=problem, command=produce_command(directory), directory=shown_path(directory))
    state = reconcile_compare(state, results)
    map_problem = None
    if not results.map_embeddings:
        map_problem = f"No maps to show: maps.parquet {results.problems.get('maps.parquet', 'is missing')}. Produce it with: {produce_command(directory)}"
    return layout.compare_page(
        state,
        subtitle=study_subtitle(results),
        explanation=explanation(results),
        headline=headline_lines(results),
        source=source_line(results),
        table_rows=table_rows(results),
        table_columns=table_columns(results),
        maps_table_columns=maps_table_columns(results),
        table_note=table_note(results),
        model_options=model_options(results),
        map_options=map_options(results),
        color_options=color_options(results),
        map_problem=map_problem,
        n_map=results.n_map,
    )


# ------------------------------------------------------------------------------ figures


def _models_of(results: CompareResults, model: object) -> list[str] | None:
    if model in (None, ALL_MODELS):
        return None
    return [validate.choice(model, results.models, name="model")]


def mae_figure_for(results: CompareResults, model: object, theme: object) -> go.Figure:
    return mae_figure(results.prediction, models=_models_of(results, model), theme=validate.choice(theme, THEMES, name="theme"))


def clip_for(results: CompareResults, color: str | None, cmin: object, cmax: object) -> tuple[float, float] | None:
    """The shared colour range: the two inputs, a missing bound taken from the data (None: automatic)."""
    low = validate.number(cmin, name="colour minimum", low=-1e12, high=1e12, allow_none=True)
    high = validate.number(cmax, name="colour maximum", low=-1e12, high=1e12, allow_none=True)
    if color is None or (low is None and high is None):
        return None
    values = results.maps[color].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    low = low if low is not None else (float(finite.min()) if finite.size else 0.0)
    high = high if high is not None else (float(finite.max()) if finite.size else 1.0)
    if not low < high:
        raise validate.InputError(f"the colour range needs min < max (got {low:g} and {high:g})")
    return (low, high)


def map_figure_for(results: CompareResults, embedding: object, *, color: object, clip, theme: str, selection) -> go.Figure:
    """One side's map, with the current linked selection."""
    name = validate.choice(embedding, results.map_embeddings, name="embedding")
    color = validate.choice(color, results.map_properties, name="colour") if color is not None else None
    rows = validate.rows(selection, results.n_map)
    return embedding_map_figure(results.map_points(name), embedding=name, color_by=color, clip=clip, selected_rows=rows, theme=theme)


def maps_update(results: CompareResults, values: dict, triggered: object) -> tuple:
    """(left figure, right figure, message): only the side whose embedding changed is rebuilt."""
    theme = validate.choice(values.get("theme"), THEMES, name="theme")
    if not results.map_embeddings:
        problem = results.problems.get("maps.parquet", "maps.parquet is missing")
        figure = build.message_figure(f"No maps: {problem}", theme=theme, height=300)
        return figure, figure, html.Span(f"No maps to show: maps.parquet {problem}.", className="error")
    color = values.get("color")
    clip = clip_for(results, color if color in results.map_properties else None, values.get("cmin"), values.get("cmax"))
    common = {"color": color, "clip": clip, "theme": theme, "selection": values.get("selection")}
    left = no_update if triggered == ids.COMPARE_RIGHT else map_figure_for(results, values.get("left"), **common)
    right = no_update if triggered == ids.COMPARE_LEFT else map_figure_for(results, values.get("right"), **common)
    return left, right, ""


# ------------------------------------------------------------------------------ linked selection


def selection_rows(event: object, n_points: int) -> np.ndarray:
    """Rows of a selection event ``{"rows": [...]}`` (reduced in the browser), checked."""
    if not isinstance(event, dict):
        raise validate.InputError("a selection event must be an object with a 'rows' list")
    return validate.rows(event.get("rows"), n_points)


def selection_patches(rows: np.ndarray | None, *, source: str | None) -> tuple[Patch, Patch]:
    """Patches highlighting ``rows`` on both maps (None: clear both).

    The map the selection was not drawn on loses its own old selection outline, so each map
    shows only the current selection.
    """
    patches = {"left": Patch(), "right": Patch()}
    for side, patch in patches.items():
        if rows is None or len(rows) == 0:
            patch["data"][0]["selectedpoints"] = None
            patch["layout"]["selections"] = []
            patch["layout"]["meta"]["n_selected"] = 0
            continue
        patch["data"][0]["selectedpoints"] = np.asarray(rows, dtype=np.int64).tolist()
        patch["data"][0]["selected"] = {"marker": {"opacity": 1.0}}
        patch["data"][0]["unselected"] = {"marker": {"opacity": UNSELECTED_OPACITY}}
        patch["layout"]["meta"]["n_selected"] = len(rows)
        if side != source:
            patch["layout"]["selections"] = []
    return patches["left"], patches["right"]


def selection_summary(results: CompareResults, rows: np.ndarray, *, source: str | None, embedding: str | None, color: str | None):
    """What the selection holds: the count, where it was drawn, and the colour property in it against all."""
    n_points = results.n_map
    if rows is None or len(rows) == 0:
        return "No compounds selected: drag a box on either map."
    where = f" on the {source} map ({embedding})" if source and embedding else ""
    text = f"{len(rows):,} of {n_points:,} compounds selected{where}, highlighted on both maps."
    if color in results.map_properties:
        values = results.maps[color].to_numpy(dtype=np.float64, na_value=np.nan)
        inside, everywhere = values[rows], values
        if np.isfinite(inside).any():
            unit = _units().get(color, "")
            unit = f" {unit}" if unit else ""
            text += (
                f" {th.LABELS.get(color, color)}: mean {np.nanmean(inside):.3g}{unit} in the selection, "
                f"{np.nanmean(everywhere):.3g}{unit} over all."
            )
    return text


def linked_selection(results: CompareResults, triggered: object, events: dict, *, left: object, right: object, color: object):
    """The whole linked-selection update: (rows, left patch, right patch, summary)."""
    if triggered == ids.COMPARE_CLEAR:
        left_patch, right_patch = selection_patches(None, source=None)
        return [], left_patch, right_patch, selection_summary(results, None, source=None, embedding=None, color=None)
    source = {ids.COMPARE_EVENT_LEFT: "left", ids.COMPARE_EVENT_RIGHT: "right"}.get(triggered)
    if source is None:
        raise validate.InputError("unknown selection source")
    rows = selection_rows(events.get(source), results.n_map)
    left_patch, right_patch = selection_patches(rows, source=source)
    embedding = left if source == "left" else right
    summary = selection_summary(
        results, rows, source=source, embedding=embedding if isinstance(embedding, str) else None, color=color if isinstance(color, str) else None
    )
    return rows.tolist(), left_patch, right_patch, summary


# ------------------------------------------------------------------------------ export


def export_mae(results: CompareResults, *, fmt: object, model: object, theme: object) -> tuple[bytes, str]:
    """The MAE figure as PNG, SVG or PDF bytes, and a file name."""
    fmt = validate.choice(fmt, FORMATS, name="format")
    figure = mae_figure_for(results, model, theme)
    try:
        data = export_figure(figure, fmt=fmt, width=EXPORT_WIDTH, height=figure.layout.height)
    except ExportError as err:
        raise validate.InputError(str(err)) from None
    suffix = "" if model in (None, ALL_MODELS) else f"-{model}"
    return data, f"chemmap-compare-{results.dataset}-mae{suffix}.{fmt}"


# ------------------------------------------------------------------------------ callbacks


def register(app, context) -> None:
    # Every callback here is optional: the view is rendered on demand, so its ids are not in the
    # start page the app validates against (and the explorer's callbacks never see them).

    @app.callback(
        Output(ids.NAV_COMPARE, "href"),
        Input(ids.URL_PUSHED, "data"),
        State(ids.NAV_COMPARE, "href"),
        prevent_initial_call=True,
    )
    def explorer_link_to_compare(pushed, current):
        try:
            return compare_link(pushed, current)
        except Exception:  # noqa: BLE001 - the link simply keeps its last value
            return no_update

    @app.callback(
        Output(ids.COMPARE_QUERY, "data"),
        Output(ids.NAV_EXPLORER, "href"),
        Input(ids.COMPARE_LEFT, "value"),
        Input(ids.COMPARE_RIGHT, "value"),
        Input(ids.COMPARE_COLOR, "value"),
        Input(ids.COMPARE_CMIN, "value"),
        Input(ids.COMPARE_CMAX, "value"),
        Input(ids.COMPARE_MODEL, "value"),
        Input(ids.COMPARE_THEME, "value"),
        State(ids.COMPARE_BASE, "data"),
        optional=True,
    )
    def write_query(left, right, color, cmin, cmax, model, theme, base):
        try:
            values = {"left": left, "right": right, "color": color, "cmin": cmin, "cmax": cmax, "model": model, "theme": theme}
            query, explorer_href = compare_query(base, values)
            return {"query": query, "time": time.time()}, explorer_href
        except Exception:  # the address bar simply keeps its last value
            log.exception("compare query string could not be written")
            return no_update, no_update

    # Browser-side callbacks cannot be marked optional: they only name ids of the shell (always
    # there) or inputs allowed to be missing, so the app's start-up check accepts them.
    app.clientside_callback(
        PUSH_QUERY_JS,
        Output(ids.COMPARE_ADDRESS, "children"),
        Input(ids.COMPARE_QUERY, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        SET_THEME_JS,
        Output(ids.ROOT, "className", allow_duplicate=True),
        Input(ids.COMPARE_THEME, "value", allow_optional=True),
        prevent_initial_call="initial_duplicate",
    )

    @app.callback(
        Output(ids.COMPARE_MAE_GRAPH, "figure"),
        Output(ids.COMPARE_MAE_MESSAGE, "children"),
        Input(ids.COMPARE_MODEL, "value"),
        Input(ids.COMPARE_THEME, "value"),
        optional=True,
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error")))
    def mae(model, theme):
        return mae_figure_for(results_for(context), model, theme), ""

    @app.callback(
        Output(ids.COMPARE_MAP_LEFT, "figure"),
        Output(ids.COMPARE_MAP_RIGHT, "figure"),
        Output(ids.COMPARE_MAP_MESSAGE, "children"),
        Input(ids.COMPARE_LEFT, "value"),
        Input(ids.COMPARE_RIGHT, "value"),
        Input(ids.COMPARE_COLOR, "value"),
        Input(ids.COMPARE_CMIN, "value"),
        Input(ids.COMPARE_CMAX, "value"),
        Input(ids.COMPARE_THEME, "value"),
        State(ids.COMPARE_SELECTION, "data"),
        optional=True,
    )
    @validate.guarded(lambda message: (no_update, no_update, html.Span(message, className="error")))
    def maps(left, right, color, cmin, cmax, theme, selection):
        values = {"left": left, "right": right, "color": color, "cmin": cmin, "cmax": cmax, "theme": theme, "selection": selection}
        return maps_update(results_for(context), values, ctx.triggered_id)

    for graph, event in ((ids.COMPARE_MAP_LEFT, ids.COMPARE_EVENT_LEFT), (ids.COMPARE_MAP_RIGHT, ids.COMPARE_EVENT_RIGHT)):
        app.clientside_callback(
            ClientsideFunction(namespace="chemmap", function_name="lassoRows"),
            Output(event, "data"),
            Input(graph, "selectedData", allow_optional=True),
            prevent_initial_call=True,
        )

    @app.callback(
        Output(ids.COMPARE_SELECTION, "data"),
        Output(ids.COMPARE_MAP_LEFT, "figure", allow_duplicate=True),
        Output(ids.COMPARE_MAP_RIGHT, "figure", allow_duplicate=True),
        Output(ids.COMPARE_SELECTION_COUNT, "children"),
        Input(ids.COMPARE_EVENT_LEFT, "data"),
        Input(ids.COMPARE_EVENT_RIGHT, "data"),
        Input(ids.COMPARE_CLEAR, "n_clicks"),
        State(ids.COMPARE_LEFT, "value"),
        State(ids.COMPARE_RIGHT, "value"),
        State(ids.COMPARE_COLOR, "value"),
        prevent_initial_call=True,
        optional=True,
    )
    @validate.guarded(lambda message: (no_update, no_update, no_update, html.Span(message, className="error")))
    def select(left_event, right_event, _clear, left, right, color):
        events = {"left": left_event, "right": right_event}
        return linked_selection(results_for(context), ctx.triggered_id, events, left=left, right=right, color=color)

    @app.callback(
        Output(ids.COMPARE_EXPORT_DOWNLOAD, "data"),
        Output(ids.COMPARE_EXPORT_MESSAGE, "children"),
        Input(ids.COMPARE_EXPORT_GO, "n_clicks"),
        State(ids.COMPARE_EXPORT_FORMAT, "value"),
        State(ids.COMPARE_MODEL, "value"),
        State(ids.COMPARE_THEME, "value"),
        prevent_initial_call=True,
        optional=True,
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error")))
    def export(_clicks, fmt, model, theme):
        data, filename = export_mae(results_for(context), fmt=fmt, model=model, theme=theme)
        return dcc.send_bytes(data, filename), html.Span(f"Exported {filename} ({len(data) / 1024:,.0f} kB).", className="ok")
