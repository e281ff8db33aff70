"""Browser-only behaviour: theme switch, About dialog, share link (clientside callbacks)."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State

from dashboard.components import ids


def register(app, context) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="setTheme"),
        Output(ids.ROOT, "className"),
        Input(ids.THEME, "value"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="toggleModal"),
        Output(ids.ABOUT, "className"),
        Input(ids.ABOUT_OPEN, "n_clicks"),
        Input(ids.ABOUT_CLOSE, "n_clicks"),
        State(ids.ABOUT, "className"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="currentAddress"),
        Output(ids.SHARE, "content"),
        Input(ids.SHARE, "n_clicks"),
        prevent_initial_call=True,
    )
