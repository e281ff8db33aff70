"""Dash application factory."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import html

STATUS_ITEMS = (
    "Pettifor element vectors from substitution counts (corrected and published-2024 recipes)",
    "Composition fingerprints for millions of formulas (python app.py fingerprint)",
)


def build_layout(map_dir: Path | None) -> html.Div:
    """The page shown until the interactive map views exist."""
    return html.Div(
        className="chemmap-status",
        style={"fontFamily": "system-ui, sans-serif", "maxWidth": "48rem", "margin": "3rem auto", "fontSize": "1.2rem"},
        children=[
            html.H1("ChemMap"),
            html.P("A map of chemical space: the machine-learned periodic table and maps of real materials."),
            html.H2("Built so far"),
            html.Ul([html.Li(item) for item in STATUS_ITEMS]),
            html.P(f"Map directory: {map_dir}" if map_dir else "Map: the built-in default (not built yet)."),
            html.P(
                [
                    "Fingerprints follow Cerqueira, Wang, Botti and Marques, ",
                    html.Em("A non-orthogonal representation of the chemical space"),
                    ", arXiv:2406.19761.",
                ]
            ),
        ],
    )


def create_app(*, map_dir: Path | None = None) -> dash.Dash:
    """Create the Dash app; ``map_dir`` is a directory written by ``build-map`` (None: built-in)."""
    app = dash.Dash(__name__, title="ChemMap")
    app.layout = build_layout(map_dir)
    return app
