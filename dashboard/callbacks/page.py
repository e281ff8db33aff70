"""The page from the address, and the address from the page.

- ``render``: the query string -> the whole page (controls start with the link's values).
- ``write_query``: the controls -> the query string, pushed with ``history.replaceState`` by a
  clientside callback, so editing the view never reloads the page nor loops back to ``render``.
- ``switch_map``: the map menu -> a new address (the page is rendered for the new map, keeping
  what still applies: theme, layouts, elements, and the compare view's fields).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dash import ClientsideFunction, Input, Output, State, html, no_update

from dashboard import layout, state as view_state
from dashboard.callbacks import search as search_module
from dashboard.callbacks import validate
from dashboard.components import ids
from dashboard.maps import MapChoiceError, resolve_map
from data.map_artifact import MapArtifactError

log = logging.getLogger(__name__)


def page_for(context, search: object):
    """The page for a query string (a notice for anything unusable, never an exception)."""
    state = view_state.parse_query(search)
    if state.view == "compare":
        from dashboard.callbacks.compare import page_for_compare

        return page_for_compare(context, state)
    if state.notices:  # a link that was edited by hand, truncated, or forged
        log.warning("link %s: %s", validate.shortened(search, 200), validate.shortened("; ".join(state.notices)))
    entries = context.entries()
    if not entries:
        return layout.empty_page("No map has been built on this server yet.", entries=entries)
    notices = list(state.notices)
    name = state.map or context.default_name(entries)
    try:
        entry = resolve_map(entries, name)
    except MapChoiceError as err:
        notices.append(str(err))
        entry = resolve_map(entries, context.default_name(entries))
    try:
        from dashboard.maps import MAPS

        loaded = MAPS.get(entry)
    except (MapArtifactError, OSError, ValueError) as err:
        log.warning("map %s could not be loaded: %s", entry.name, err)
        return unloadable_map_page(entry, err, entries)
    state = replace(state, map=loaded.name, notices=tuple(notices))
    state = view_state.reconcile(
        state,
        color_columns=loaded.color_columns,
        default_color=loaded.default_color,
        numeric_columns=loaded.numeric_columns,
        compound_ids=None,
    )
    focus = None
    if state.compound is not None:
        matches = (loaded.points["id"].astype(str) == state.compound).to_numpy().nonzero()[0]
        if matches.size:
            focus = {"row": int(matches[0])}
        else:
            state = replace(state, compound=None, notices=state.notices + (f"compound {state.compound[:40]!r} is not in this map",))
    search_result = search_message = None
    if state.search:
        try:
            search_result = search_module.run_search(loaded, state.search)
            search_message = search_module.search_message(loaded, search_result)
            focus = focus or search_module.focus_of(search_result)
        except validate.USER_ERRORS as err:
            search_message = str(err)
    return layout.build_page(state, entries, loaded, search_result=search_result, search_message=search_message, focus=focus)


def unloadable_map_page(entry, err: BaseException, entries: list) -> html.Div:
    """The page for a listed map that failed to load: gone since it was listed (the usual
    "no map" page), or damaged (say so, and how to rebuild it). The server's folders never
    reach the browser: the map is named by its name."""
    detail = without_server_path(str(err), entry)
    if not entry.path.is_dir():
        return layout.empty_page(f"The map {entry.name!r} could not be loaded.", entries=entries, detail=detail)
    return layout.empty_page(
        f"The map {entry.name!r} is damaged and could not be loaded.",
        entries=entries,
        detail=detail,
        title=f"The map {entry.name!r} is damaged",
        hint="Rebuild it with the options it was built with (dataset, similarity, method):",
        command=f"python app.py build-map ... --out {entry.path.name}",
    )


def without_server_path(message: str, entry) -> str:
    """``message`` with the map's folder on the server (as given and resolved) replaced by its name."""
    for folder in sorted({str(entry.path), str(entry.path.resolve())}, key=len, reverse=True):
        message = message.replace(folder, entry.name)
    return message


def query_for(context, values: dict) -> str:
    """The query string of the current controls (validated like a link, so garbage never sticks)."""
    data = dict(values)
    focus = data.pop("focus_compound", None)
    if isinstance(focus, dict) and isinstance(focus.get("row"), int):
        try:
            loaded = context.load(data.get("map"))
            if 0 <= focus["row"] < loaded.n_points:
                data["compound"] = str(loaded.points["id"].iat[focus["row"]])
        except validate.USER_ERRORS:
            pass
    view = data.pop("view", None)
    if isinstance(view, dict):
        data["x_range"], data["y_range"] = view.get("x"), view.get("y")
    search = data.pop("search_result", None)
    if isinstance(search, dict) and search.get("status") in ("known", "placed", "invalid"):
        data["search"] = search.get("formula")
    state = view_state.from_dict(data)
    if state.notices:  # the page's own controls never produce these: forged values, left out
        log.warning("address not written with %s", validate.shortened("; ".join(state.notices)))
    return view_state.to_query(state)


def switched_query(search: object, new_map: str, *, compare_href: object = None) -> str:
    """The address for ``new_map``: keeps theme, layouts, elements and mode, and every field of the
    compare view (it does not depend on the explorer's map); drops map-specific parts.

    The explorer writes its address from its own controls, so the compare fields are taken from
    ``compare_href`` (the header's link to the compare view, which keeps them) when it is given.
    """
    from dashboard.callbacks.compare import COMPARE_FIELDS

    state = view_state.parse_query(search)
    compare_source = state
    if isinstance(compare_href, str) and "?" in compare_href:
        compare_source = view_state.parse_query(compare_href.split("?", 1)[1])
    kept = replace(
        view_state.DEFAULT,
        **{name: getattr(compare_source, name) for name in COMPARE_FIELDS},
        map=new_map,
        theme=state.theme,
        layout=state.layout,
        elements=state.elements,
        mode=state.mode,
        order=state.order,
        focus=state.focus,
        table_color=state.table_color if not state.table_color.startswith("mean:") else "category",
    )
    return view_state.to_query(kept)


STATE_INPUTS = (
    ("map", ids.MAP_NAME, "data"),
    ("color", ids.MAP_COLOR, "value"),
    ("cmin", ids.MAP_CMIN, "value"),
    ("cmax", ids.MAP_CMAX, "value"),
    ("size", ids.MAP_SIZE, "value"),
    ("opacity", ids.MAP_OPACITY, "value"),
    ("table_color", ids.TABLE_COLOR, "value"),
    ("layout", ids.TABLE_LAYOUT, "value"),
    ("elements", ids.SELECTED_ELEMENTS, "data"),
    ("mode", ids.MODE, "value"),
    ("search_result", ids.SEARCH_RESULT, "data"),
    ("view", ids.MAP_VIEW, "data"),
    ("theme", ids.THEME, "value"),
    ("focus", ids.SIM_ELEMENT, "value"),
    ("order", ids.HEATMAP_ORDER, "value"),
    ("focus_compound", ids.FOCUS, "data"),
)


def register(app, context) -> None:
    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "search"))
    def render(search):
        try:
            return page_for(context, search)
        except Exception:  # noqa: BLE001 - the page must always render something
            log.exception("page could not be rendered for %r", search)
            return layout.empty_page("The page could not be rendered; the details are in the server's log.", entries=[])

    @app.callback(
        Output(ids.URL_QUERY, "data"),
        [Input(component, prop) for _, component, prop in STATE_INPUTS],
        prevent_initial_call=True,
    )
    def write_query(*values):
        try:
            return query_for(context, dict(zip((name for name, _, _ in STATE_INPUTS), values)))
        except Exception:  # noqa: BLE001 - the address bar simply keeps its last value
            log.exception("query string could not be written")
            return no_update

    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="pushQuery"),
        Output(ids.URL_PUSHED, "data"),
        Input(ids.URL_QUERY, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.MAP_SELECT, "value"),
        State(ids.URL, "search"),
        State(ids.URL_QUERY, "data"),
        State(ids.MAP_NAME, "data"),
        State(ids.NAV_COMPARE, "href"),
        prevent_initial_call=True,
    )
    def switch_map(new_map, search, written, current, compare_href):
        search = written if isinstance(written, str) else search
        if new_map is None or new_map == current:
            return no_update
        try:
            resolve_map(context.entries(), new_map)
        except MapChoiceError as err:
            log.warning("map menu: %s", validate.shortened(str(err)))
            return no_update
        return switched_query(search, new_map, compare_href=compare_href)
