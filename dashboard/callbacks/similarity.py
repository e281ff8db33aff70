"""Element similarity: ranked bars for the chosen element, and the full cosine heatmap."""

from __future__ import annotations

from dash import Input, Output, State

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.state import ORDERS, THEMES


def register(app, context) -> None:
    @app.callback(
        Output(ids.SIM_BAR, "figure"),
        Input(ids.SIM_ELEMENT, "value"),
        Input(ids.THEME, "value"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: build.message_figure(message))
    def bars(element, theme, map_name):
        loaded = context.load(map_name)
        element, theme = validate.element(element), validate.choice(theme, THEMES, name="theme")
        return loaded.cached_figure(("similarity", element, theme), lambda: build.similarity_figure(loaded, element, theme=theme).to_plotly_json())

    @app.callback(
        Output(ids.HEATMAP, "figure"),
        Input(ids.HEATMAP_ORDER, "value"),
        Input(ids.THEME, "value"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: build.message_figure(message))
    def heatmap(order, theme, map_name):
        loaded = context.load(map_name)
        order, theme = validate.choice(order, ORDERS, name="heatmap order"), validate.choice(theme, THEMES, name="theme")
        return loaded.cached_figure(("heatmap", order, theme), lambda: build.heatmap_figure(loaded, order=order, theme=theme).to_plotly_json())
