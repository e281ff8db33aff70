"""The page: a static shell, and the views rendered for a map and a view state.

The shell holds only the address (``dcc.Location``) and an empty page; the page itself is
rendered by a callback from the query string (:mod:`dashboard.callbacks.page`), so every
control starts with the value the link asks for and the figures are built once.
"""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.callbacks import build
from dashboard.components import ids
from dashboard.components.about import about_modal
from dashboard.components.common import card, export_modal, help_icon, labelled
from dashboard.maps import LoadedMap, MapEntry
from dashboard.settings import upload_limit_bytes
from dashboard.state import ViewState, to_query
from fingerprints.elements import SYMBOLS, element_table

GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
# No mode bar on the periodic table: it covered the top-right tiles and legend; the card's Export button exports it.
TABLE_CONFIG = {**GRAPH_CONFIG, "displayModeBar": False, "scrollZoom": False}
MAP_CONFIG = {**GRAPH_CONFIG, "scrollZoom": True, "modeBarButtonsToAdd": ["select2d", "lasso2d"]}
#: Tiles slide for this long when the layout changes (then the figure settles: see chemmap.js).
TABLE_ANIMATION = {"frame": {"redraw": False}, "transition": {"duration": 700, "easing": "cubic-in-out"}}
LAYOUT_OPTIONS = [
    {"label": " Learned grid", "value": "grid"},
    {"label": " Learned map", "value": "learned"},
    {"label": " Standard table", "value": "standard"},
]
MODE_OPTIONS = [
    {"label": " all of them", "value": "all"},
    {"label": " any of them", "value": "any"},
    {"label": " only these", "value": "only"},
]


def shell() -> html.Div:
    """The layout Dash serves: the address, the URL store and an empty page."""
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.URL_QUERY),
            dcc.Store(id=ids.URL_PUSHED),
            # The compare view's address and its maps' selections live here, outside the page,
            # so that the browser-side callbacks writing them only name ids that always exist.
            dcc.Store(id=ids.COMPARE_QUERY),
            dcc.Store(id=ids.COMPARE_EVENT_LEFT),
            dcc.Store(id=ids.COMPARE_EVENT_RIGHT),
            html.Span(id=ids.COMPARE_ADDRESS, hidden=True),
            html.Div(html.Div("Loading the map…", className="page-loading"), id=ids.PAGE),
        ],
        id="app-shell",
    )


def _header(state: ViewState, entries: list[MapEntry], loaded: LoadedMap | None) -> html.Header:
    options = [{"label": e.label, "value": e.name} for e in entries]
    # Short enough for the header at 1920 px (the map menu names the dataset and its size).
    subtitle = "compounds placed by element similarity" if loaded else "No map to show yet"
    return html.Header(
        [
            html.Div([html.H1("ChemMap"), nav_tabs("explorer", compare_href=view_href(state, "compare")), html.Span(subtitle, className="subtitle")], className="brand"),
            html.Div(
                [
                    labelled(
                        "Map",
                        dcc.Dropdown(id=ids.MAP_SELECT, options=options, value=loaded.name if loaded else None, clearable=False, searchable=False, className="map-select"),
                        help="Switch between the maps built on this server (python app.py build-map ...).",
                    ),
                    labelled(
                        "Theme",
                        dcc.RadioItems(id=ids.THEME, options=[{"label": " Light", "value": "light"}, {"label": " Dark", "value": "dark"}], value=state.theme, inline=True, className="radio"),
                    ),
                    html.Div(
                        [dcc.Clipboard(id=ids.SHARE, className="share-button", title="Copy a link to this view"), html.Span("Copy link", className="share-label")],
                        className="share",
                        title="The address bar always holds this view: copy it to share exactly what you see.",
                    ),
                    html.Button("About", id=ids.ABOUT_OPEN, className="button", n_clicks=0, title="What this screen shows, the paper, the data and their licences"),
                ],
                className="header-tools",
            ),
        ],
        className="header",
    )


def _notices(notices) -> html.Div:
    items = [html.Li(n) for n in notices]
    return html.Div(
        [html.Strong("Some parts of the link could not be used: "), html.Ul(items)] if items else [],
        id=ids.NOTICES,
        className="notices" if items else "notices empty",
        role="status",
    )


def _table_card(state: ViewState, loaded: LoadedMap) -> html.Section:
    return card(
        "Machine-learned periodic table",
        [
            html.Div(
                [
                    labelled(
                        "Layout",
                        dcc.RadioItems(id=ids.TABLE_LAYOUT, options=LAYOUT_OPTIONS, value=state.layout, inline=True, className="radio"),
                        help="Learned map: elements placed by their similarity vectors (2D projection). Learned grid: the same map snapped to a grid. Standard: the usual periodic table. Switch to watch the tiles move.",
                    ),
                    labelled(
                        "Colour tiles by",
                        dcc.Dropdown(id=ids.TABLE_COLOR, options=build.table_color_options(loaded), value=state.table_color, clearable=False, className="dropdown"),
                        class_name="grow",
                    ),
                ],
                className="controls",
            ),
            dcc.Graph(id=ids.TABLE_GRAPH, config=TABLE_CONFIG, animate=False, animation_options=TABLE_ANIMATION, responsive=False, className="table-graph", clear_on_unhover=True),
            html.Div(
                [
                    html.Div(id=ids.ELEMENT_CHIPS, className="chips"),
                    labelled(
                        "Highlight compounds with",
                        dcc.RadioItems(id=ids.MODE, options=MODE_OPTIONS, value=state.mode, inline=True, className="radio"),
                        help="all: contains every selected element (maybe others too). any: contains at least one. only: made of the selected elements and nothing else (the chemical system).",
                    ),
                    html.Button("Clear elements", id=ids.CLEAR_ELEMENTS, className="button", n_clicks=0),
                ],
                className="controls element-bar",
            ),
            html.P(id=ids.HIGHLIGHT_COUNT, className="highlight-count", role="status"),
        ],
        help="Hover a tile for the element's most similar elements; click tiles to select them.",
        subtitle="Tiles are placed by element similarity learned from substitutions. Click elements to highlight their compounds on the map.",
        export="table",
        class_name="card-table",
    )


def _similarity_card(state: ViewState, loaded: LoadedMap) -> html.Section:
    names = element_table().set_index("symbol")["name"]
    has_data = set(loaded.elements.loc[loaded.elements["has_data"], "symbol"])
    options = [{"label": f"{s} · {names[s]}", "value": s, "disabled": s not in has_data} for s in SYMBOLS]
    focus = state.focus if state.focus in has_data else ("Fe" if "Fe" in has_data else sorted(has_data)[0])
    return card(
        "Element similarity",
        [
            html.Div(
                [
                    labelled("Element", dcc.Dropdown(id=ids.SIM_ELEMENT, options=options, value=focus, clearable=False, className="dropdown"), help="Click a tile of the periodic table to choose it too."),
                ],
                className="controls",
            ),
            dcc.Graph(id=ids.SIM_BAR, config=GRAPH_CONFIG, className="sim-graph"),
            html.Div(
                [
                    labelled(
                        "Order the heatmap by",
                        dcc.RadioItems(id=ids.HEATMAP_ORDER, options=[{"label": " learned 1D order", "value": "learned"}, {"label": " atomic number", "value": "z"}], value=state.order, inline=True, className="radio"),
                        help="Learned order: elements sorted so that similar elements are neighbours (bandwidth seriation of the cosines, close to Pettifor's chemical scale); blocks on the diagonal are families of interchangeable elements.",
                    )
                ],
                className="controls",
            ),
            dcc.Graph(id=ids.HEATMAP, config=GRAPH_CONFIG, responsive=False, className="heatmap-graph"),
        ],
        subtitle="Cosine between element vectors: 1 = the two elements replace each other in the same structures.",
        export="similarity",
        class_name="card-similarity",
    )


def _map_card(state: ViewState, loaded: LoadedMap, search_message) -> html.Section:
    number = {"type": "number", "debounce": True, "className": "input input-number"}
    search = labelled(
        "Find a formula",
        html.Div(
            [
                dcc.Input(id=ids.SEARCH_INPUT, type="text", value=state.search, placeholder="e.g. LiFePO4, Fe2O3, CsPbI3", debounce=False, className="input search-input", autoComplete="off", spellCheck=False, maxLength=200),
                html.Button("Find", id=ids.SEARCH_GO, className="button button-primary", n_clicks=0),
            ],
            className="search-row",
        ),
        help="A compound of the map is shown and selected. A new formula is placed on the map from its fingerprint (out-of-sample projection), with its nearest known compounds.",
    )
    upload_limit = upload_limit_bytes()
    upload = html.Div(
        [
            dcc.Upload(
                id=ids.UPLOAD,
                children=html.Div(["Overlay your compounds: ", html.A("choose a CSV or Parquet file")]),
                className="upload",
                multiple=False,
                max_size=upload_limit,
            ),
            help_icon(
                f"A file of up to {upload_limit / 2**20:g} MB with a 'formula' column and any property columns. "
                "Each valid formula is placed on this map (diamonds); skipped rows are listed with the reason."
            ),
            html.Button("Remove overlay", id=ids.UPLOAD_CLEAR, className="button button-small", n_clicks=0),
        ],
        className="upload-row",
        # read by assets/chemmap.js, which says so when a file is larger (dcc.Upload drops it silently)
        **{"data-max-bytes": str(upload_limit)},
    )
    return card(
        "Materials map",
        [
            html.Div(
                [
                    search,
                    labelled("Colour by", dcc.Dropdown(id=ids.MAP_COLOR, options=build.map_color_options(loaded), value=state.color, clearable=False, className="dropdown"), class_name="grow"),
                ],
                className="controls",
            ),
            html.Div(
                [
                    labelled("Min", dcc.Input(id=ids.MAP_CMIN, value=state.cmin, placeholder="auto", **number), help="Colour range: values beyond it get the end colours (the paper caps the energy above hull at 0.5 eV/atom). Leave empty for automatic."),
                    labelled("Max", dcc.Input(id=ids.MAP_CMAX, value=state.cmax, placeholder="auto", **number)),
                    labelled("Point size", dcc.Slider(id=ids.MAP_SIZE, min=1, max=12, step=1, value=state.size, marks={1: "1", 4: "4", 8: "8", 12: "12"}, className="slider"), class_name="slider-control"),
                    labelled("Opacity", dcc.Slider(id=ids.MAP_OPACITY, min=0.1, max=1, step=0.1, value=state.opacity, marks={0.1: "0.1", 0.5: "0.5", 1: "1"}, className="slider"), class_name="slider-control"),
                ],
                className="controls",
            ),
            html.Div(search_message, id=ids.SEARCH_MESSAGE, className="message search-message", role="status"),
            html.Div(id=ids.MAP_MESSAGE, className="message", role="status"),
            dcc.Graph(id=ids.MAP_GRAPH, config=MAP_CONFIG, className="map-graph"),
            html.P(
                "Drag to lasso compounds (lassos add up) · scroll to zoom · double-click to zoom out · click a dot for its details.",
                className="hint",
            ),
            upload,
            html.Div(id=ids.UPLOAD_MESSAGE, className="message upload-message", role="status"),
        ],
        help="Each dot is a compound, placed by the similarity of its composition fingerprint (the map is a 2D projection).",
        subtitle="Compounds with similar compositions are close. Hover a dot for its formula and properties.",
        export="map",
        class_name="card-map",
    )


def _details_card() -> html.Section:
    return card(
        "Compound details",
        [html.Div(html.P("Click a compound on the map, or find a formula, to see its properties and its nearest compounds.", className="muted"), id=ids.DETAILS)],
        help="Nearest compounds are the closest in fingerprint space (the full 98-dimensional composition fingerprint, not the 2D map).",
        class_name="card-details",
    )


def _selection_card(loaded: LoadedMap) -> html.Section:
    return card(
        "Selected compounds",
        [
            html.Div(
                [
                    html.Span("No compounds selected: lasso a region of the map.", id=ids.SELECTION_COUNT, className="selection-count", role="status"),
                    html.Button("Clear selection", id=ids.SELECTION_CLEAR, className="button", n_clicks=0),
                    html.Button("Export CSV", id=ids.SELECTION_CSV, className="button", n_clicks=0, title="All selected compounds with every property, as CSV"),
                    dcc.Download(id=ids.SELECTION_DOWNLOAD),
                ],
                className="controls",
            ),
            dag.AgGrid(
                id=ids.GRID,
                rowData=[],
                columnDefs=[],
                defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True, "minWidth": 110},
                dashGridOptions={"pagination": True, "paginationPageSize": 50, "animateRows": False, "tooltipShowDelay": 300},
                columnSize="responsiveSizeToFit",
                className="selection-grid",
                style={"height": "440px"},
            ),
        ],
        help="Sort and filter by clicking the column headers. The periodic table can be coloured by how often each element occurs in the selection.",
        class_name="card-selection",
    )


def _stores(state: ViewState, loaded: LoadedMap, *, search_result, focus) -> list:
    return [
        dcc.Store(id=ids.MAP_NAME, data=loaded.name),
        dcc.Store(id=ids.SELECTED_ELEMENTS, data=list(state.elements)),
        dcc.Store(id=ids.SELECTION_ROWS, data=[]),
        dcc.Store(id=ids.LASSO_EVENT),
        dcc.Store(id=ids.MAP_VIEW, data={"x": list(state.x_range), "y": list(state.y_range)} if state.x_range and state.y_range else None),
        dcc.Store(id=ids.FOCUS, data=focus),
        dcc.Store(id=ids.MAP_BUILT, data=False),
        dcc.Store(id=ids.HIGHLIGHT_ROWS),
        dcc.Store(id=ids.HIGHLIGHT_DRAWN),
        dcc.Store(id=ids.TABLE_SETTLED),
        dcc.Store(id=ids.SEARCH_RESULT, data=search_result),
        dcc.Store(id=ids.UPLOAD_OVERLAY),
        dcc.Store(id=ids.EXPORT_TARGET),
    ]


def build_page(state: ViewState, entries: list[MapEntry], loaded: LoadedMap, *, search_result=None, search_message=None, focus=None) -> html.Div:
    """Every view for ``loaded`` in ``state``."""
    return html.Div(
        [
            *_stores(state, loaded, search_result=search_result, focus=focus),
            _header(state, entries, loaded),
            _notices(state.notices),
            html.Main(
                [
                    html.Div([_table_card(state, loaded), _similarity_card(state, loaded)], className="column column-left"),
                    html.Div(
                        [html.Div([_map_card(state, loaded, search_message), _details_card()], className="map-row"), _selection_card(loaded)],
                        className="column column-right",
                    ),
                ],
                className="main",
            ),
            about_modal(next((e for e in entries if e.name == loaded.name), None), loaded.artifact.metadata),
            export_modal(),
        ],
        id=ids.ROOT,
        className=f"page theme-{state.theme}",
    )


def empty_page(
    message: str,
    *,
    entries: list[MapEntry],
    detail: str | None = None,
    title: str = "No map to show yet",
    hint: str = "Build the default map (about three minutes) with:",
    command: str = "python app.py build-map --dataset mp --out ~/.cache/chemmap/maps/mp-mined-corrected-umap",
) -> html.Div:
    """Shown when no map can be loaded: what happened and the command that fixes it."""
    return html.Div(
        [
            dcc.Store(id=ids.MAP_NAME, data=None),
            html.Header(
                [
                    html.Div([html.H1("ChemMap"), nav_tabs("explorer", compare_href="?view=compare"), html.Span("No map to show", className="subtitle")], className="brand"),
                    html.Div(
                        labelled("Map", dcc.Dropdown(id=ids.MAP_SELECT, options=[{"label": e.label, "value": e.name} for e in entries], value=None, clearable=False, className="map-select"))
                        if entries
                        else None,
                        className="header-tools",
                    ),
                ],
                className="header",
            ),
            html.Main(
                html.Section(
                    [
                        html.H2(title),
                        html.P(message),
                        html.P(detail, className="muted") if detail else None,
                        html.P(hint),
                        html.Pre(command),
                        html.P(f"Maps found: {', '.join(e.name for e in entries) or 'none'}."),
                    ],
                    className="card empty-card",
                ),
                className="main main-empty",
            ),
        ],
        id=ids.ROOT,
        className="page theme-light",
    )


# ----------------------------------------------------------------------------- views and navigation


def view_href(state: ViewState, view: str) -> str:
    """A link to ``view`` that keeps every other field of ``state`` (both views' settings)."""
    from dataclasses import replace

    return to_query(replace(state, view=view)) or "./"


def nav_tabs(active: str, *, explorer_href: str | None = None, compare_href: str | None = None) -> html.Nav:
    """The two views as tabs: the active one is a label, the other a link (kept up to date by a callback)."""

    def tab(label: str, view: str, href: str | None, link_id: str):
        if view == active:
            return html.Span(label, className="nav-tab active", **{"aria-current": "page"})
        return dcc.Link(label, href=href or "./", id=link_id, className="nav-tab", refresh=False)

    return html.Nav(
        [
            tab("Explorer", "explorer", explorer_href, ids.NAV_EXPLORER),
            tab("Compare embeddings", "compare", compare_href, ids.NAV_COMPARE),
        ],
        className="nav-tabs",
        **{"aria-label": "Views"},
    )


def _compare_header(state: ViewState, subtitle: str) -> html.Header:
    return html.Header(
        [
            html.Div(
                [html.H1("ChemMap"), nav_tabs("compare", explorer_href=view_href(state, "explorer")), html.Span(subtitle, className="subtitle")],
                className="brand",
            ),
            html.Div(
                [
                    labelled(
                        "Theme",
                        dcc.RadioItems(id=ids.COMPARE_THEME, options=[{"label": " Light", "value": "light"}, {"label": " Dark", "value": "dark"}], value=state.theme, inline=True, className="radio"),
                    ),
                    html.Div(
                        [dcc.Clipboard(id=ids.COMPARE_SHARE, target_id=ids.COMPARE_ADDRESS, className="share-button", title="Copy a link to this view"), html.Span("Copy link", className="share-label")],
                        className="share",
                        title="The address bar always holds this view: copy it to share exactly what you see.",
                    ),
                    # The explorer's ids: only one view is on the page at a time, so its dialog callback serves both.
                    html.Button("About", id=ids.ABOUT_OPEN, className="button", n_clicks=0, title="What this screen shows, the paper, the data and their licences"),
                ],
                className="header-tools",
            ),
        ],
        className="header",
    )


def _compare_stores(state: ViewState) -> list:
    return [
        dcc.Store(id=ids.COMPARE_BASE, data=state.to_dict()),
        dcc.Store(id=ids.COMPARE_SELECTION, data=[]),
    ]


def _compare_study_card(explanation: list[str], source: str) -> html.Section:
    children = [dcc.Markdown(paragraph, className="compare-text") for paragraph in explanation]
    children.append(dcc.Markdown(source, className="compare-text compare-source"))
    return card(
        "What was compared, and how",
        children,
        help="Every embedding gives each element a vector; a compound is the fraction-weighted sum of its elements' vectors, the same rule for all, so only the element vectors differ.",
        class_name="card-compare-study",
    )


def _compare_mae_card(state: ViewState, model_options: list[dict], headline: list[str]) -> html.Section:
    export = html.Div(
        [
            dcc.RadioItems(id=ids.COMPARE_EXPORT_FORMAT, options=[{"label": " SVG", "value": "svg"}, {"label": " PNG", "value": "png"}, {"label": " PDF", "value": "pdf"}], value="svg", inline=True, className="radio"),
            html.Button("Export", id=ids.COMPARE_EXPORT_GO, className="button button-small", n_clicks=0, title="Download this figure (rebuilt on the server in the current theme)"),
            dcc.Download(id=ids.COMPARE_EXPORT_DOWNLOAD),
        ],
        className="compare-export",
    )
    return card(
        "Property prediction: MAE per target and embedding",
        [
            html.Div(
                [
                    labelled(
                        "Model",
                        dcc.RadioItems(id=ids.COMPARE_MODEL, options=model_options, value=state.compare_model or "all", inline=True, className="radio"),
                        help="k-NN: the 10 nearest neighbours on standardised features. HGB: histogram gradient-boosted trees. Both see the same features, rows and folds.",
                    ),
                    export,
                ],
                className="controls compare-mae-controls",
            ),
            dcc.Loading(html.Div(id=ids.COMPARE_EXPORT_MESSAGE, className="message"), type="dot"),
            html.Div(id=ids.COMPARE_MAE_MESSAGE, className="message", role="status"),
            dcc.Graph(id=ids.COMPARE_MAE_GRAPH, config=GRAPH_CONFIG, className="compare-mae-graph"),
            *(
                [html.H3("Best Pettifor embedding against the best other one"), dcc.Markdown("\n".join(headline), className="compare-text compare-headline")]
                if headline
                else []
            ),
        ],
        subtitle="Lower is better. Bars: mean absolute error over the folds; error bars: its standard deviation over the folds; ★ and outline: the best embedding for that target and model.",
        help="Click a legend entry to hide an embedding; double-click to show it alone.",
        class_name="card-compare-mae",
    )


def _compare_grid(grid_id: str, rows: list[dict], columns: list[dict]):
    return dag.AgGrid(
        id=grid_id,
        rowData=rows,
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": False, "wrapHeaderText": True, "autoHeaderHeight": True},
        dashGridOptions={
            "domLayout": "autoHeight",
            "animateRows": True,
            "tooltipShowDelay": 300,
            "rowClassRules": {"compare-pettifor-row": "params.data.family === 'Pettifor'"},
        },
        columnSize="responsiveSizeToFit",
        className="compare-grid",
    )


def _compare_table_card(rows: list[dict], columns: list[dict], maps_columns: list[dict], note: str) -> html.Section:
    return card(
        "All the numbers",
        [
            _compare_grid(ids.COMPARE_TABLE, rows, columns),
            html.H3("Maps and element order"),
            _compare_grid(ids.COMPARE_MAPS_TABLE, rows, maps_columns),
            dcc.Markdown(note, className="compare-text compare-table-note"),
        ],
        subtitle="MAE ± standard deviation over the folds for every target, model and embedding; ★ (bold) = best per target and model; shaded rows: the Pettifor embeddings. Click a header to sort.",
        help="Map separability: skill of predicting the property from the 2D map position alone (1 − MAE / MAE of the training median; 0 = the map says nothing). Seriation: Spearman correlation of the learned 1D element order with the modified Pettifor scale.",
        class_name="card-compare-table",
    )


def _compare_maps_card(state: ViewState, map_options: list[dict], color_options: list[dict], problem: str | None, n_map: int) -> html.Section:
    # Without maps the controls stay (disabled): every callback of the view keeps all its ids.
    number = {"type": "number", "debounce": True, "className": "input input-number", "disabled": bool(problem)}
    dropdown = {"options": map_options, "clearable": False, "searchable": False, "className": "dropdown compare-embedding", "disabled": bool(problem)}
    return card(
        "The same compounds under two embeddings",
        [
            html.Div(
                [
                    labelled("Left map", dcc.Dropdown(id=ids.COMPARE_LEFT, value=state.compare_left, **dropdown)),
                    labelled("Right map", dcc.Dropdown(id=ids.COMPARE_RIGHT, value=state.compare_right, **dropdown)),
                    labelled("Colour both by", dcc.Dropdown(id=ids.COMPARE_COLOR, options=color_options, value=state.compare_color, clearable=False, className="dropdown", disabled=bool(problem))),
                    labelled("Min", dcc.Input(id=ids.COMPARE_CMIN, value=state.compare_cmin, placeholder="auto", **number), help="Colour range of both maps: values beyond it get the end colours (energy above hull is capped at 0.5 eV/atom by default, like the main map). Leave empty for automatic."),
                    labelled("Max", dcc.Input(id=ids.COMPARE_CMAX, value=state.compare_cmax, placeholder="auto", **number)),
                ],
                className="controls",
            ),
            html.Div(html.Span(problem, className="error") if problem else None, id=ids.COMPARE_MAP_MESSAGE, className="message", role="status"),
            html.Div(
                [
                    dcc.Graph(id=ids.COMPARE_MAP_LEFT, config=MAP_CONFIG, className="compare-map-graph"),
                    dcc.Graph(id=ids.COMPARE_MAP_RIGHT, config=MAP_CONFIG, className="compare-map-graph"),
                ],
                className="compare-maps",
            ),
            html.Div(
                [
                    html.Span("No compounds selected: drag a box on either map.", id=ids.COMPARE_SELECTION_COUNT, className="selection-count", role="status"),
                    html.Button("Clear selection", id=ids.COMPARE_CLEAR, className="button", n_clicks=0, disabled=bool(problem)),
                ],
                className="controls",
            ),
            html.P(
                "Drag a box on either map (or pick the lasso in the map's toolbar): the same compounds light up on both maps and the others fade. "
                "Scroll to zoom · double-click to zoom out · hover a dot for its formula and properties.",
                className="hint",
            ),
        ],
        subtitle=(
            f"{n_map:,} compounds, each placed in 2D from its composition features under one embedding. "
            "Compounds close on one map and scattered on the other show where the embeddings disagree."
        ),
        help="The maps are those of the separability study: the same compounds in the same order for every embedding, so a selection means the same compounds on both.",
        class_name="card-compare-maps",
    )


def compare_page(
    state: ViewState,
    *,
    subtitle: str,
    explanation: list[str],
    headline: list[str],
    source: str,
    table_rows: list[dict],
    table_columns: list[dict],
    maps_table_columns: list[dict],
    table_note: str,
    model_options: list[dict],
    map_options: list[dict],
    color_options: list[dict],
    map_problem: str | None,
    n_map: int,
) -> html.Div:
    """The "Compare embeddings" view; every text and table row is computed by the caller (plain data)."""
    return html.Div(
        [
            *_compare_stores(state),
            _compare_header(state, subtitle),
            _notices(state.notices),
            html.Main(
                [
                    html.Div([_compare_study_card(explanation, source), _compare_mae_card(state, model_options, headline)], className="compare-top"),
                    _compare_table_card(table_rows, table_columns, maps_table_columns, table_note),
                    _compare_maps_card(state, map_options, color_options, map_problem, n_map),
                ],
                className="main compare-main",
            ),
            about_modal(view="compare"),
        ],
        id=ids.ROOT,
        className=f"page theme-{state.theme}",
    )


def compare_error_page(state: ViewState, *, problem: str, command: str, directory: str) -> html.Div:
    """The Compare view when its results cannot be read: which file, what is wrong, how to make it.

    Static on purpose (no control, no store): no callback of the view can fire with half its ids.
    """
    return html.Div(
        [
            html.Header(
                html.Div(
                    [html.H1("ChemMap"), nav_tabs("compare", explorer_href=view_href(state, "explorer")), html.Span("Comparison results unavailable", className="subtitle")],
                    className="brand",
                ),
                className="header",
            ),
            _notices(state.notices),
            html.Main(
                html.Section(
                    [
                        html.H2("The comparison results cannot be shown"),
                        html.P(problem, className="error compare-problem"),
                        html.P(["Results folder: ", html.Code(directory), " (set CHEMMAP_COMPARE_DIR to use another one)."]),
                        html.P("Produce the results (about 12 minutes on two cores) with:"),
                        html.Pre(command),
                    ],
                    className="card empty-card",
                ),
                className="main main-empty",
            ),
        ],
        id=ids.ROOT,
        className=f"page theme-{state.theme}",
    )
