"""Small building blocks of the page: cards with a help tooltip, dialogs, buttons."""

from __future__ import annotations

from dash import dcc, html

from dashboard.components import ids


def help_icon(text: str) -> html.Span:
    """A round "?" whose tooltip explains the element next to it."""
    return html.Span("?", className="help-icon", title=text, tabIndex=0, **{"aria-label": text})


def export_button(target: str) -> html.Button:
    return html.Button(
        "Export",
        id={"type": ids.EXPORT_OPEN, "target": target},
        className="button button-small",
        title=f"Export the {ids.EXPORT_TARGETS[target].lower()} as PNG, SVG or PDF",
        n_clicks=0,
    )


def card(title: str, children, *, help: str | None = None, subtitle: str | None = None, export: str | None = None, class_name: str = "", card_id: str | None = None) -> html.Section:
    """A titled panel; ``help`` becomes a tooltip, ``subtitle`` a one-line explanation."""
    heading = [html.H2(title)]
    if help:
        heading.append(help_icon(help))
    tools = [export_button(export)] if export else []
    header = html.Div([html.Div(heading, className="card-title"), html.Div(tools, className="card-tools")], className="card-header")
    body = [header]
    if subtitle:
        body.append(html.P(subtitle, className="card-subtitle"))
    body.extend(children if isinstance(children, list) else [children])
    props = {"id": card_id} if card_id else {}
    return html.Section(body, className=f"card {class_name}".strip(), **props)


def labelled(label: str, control, *, help: str | None = None, class_name: str = "") -> html.Div:
    head = [html.Span(label, className="control-label")]
    if help:
        head.append(help_icon(help))
    return html.Div([html.Div(head, className="control-head"), control], className=f"control {class_name}".strip())


def modal(modal_id: str, title: str, children, *, close_id: str) -> html.Div:
    """A dialog drawn over the page; shown when its class list contains ``open``."""
    return html.Div(
        html.Div(
            [
                html.Div([html.H2(title, id=f"{modal_id}-title"), html.Button("×", id=close_id, className="modal-close", title="Close", n_clicks=0)], className="modal-header"),
                html.Div(children, className="modal-body"),
            ],
            className="modal-dialog",
            role="dialog",
            **{"aria-modal": "true", "aria-labelledby": f"{modal_id}-title"},
        ),
        id=modal_id,
        className="modal",
    )


def export_modal() -> html.Div:
    """The export dialog: format, size, scale, font and template for the chosen figure."""
    number = {"type": "number", "debounce": True, "className": "input input-number"}
    return modal(
        ids.EXPORT,
        "Export figure",
        [
            html.P(id=ids.EXPORT_TITLE, className="export-target"),
            html.Div(
                [
                    labelled("Format", dcc.RadioItems(id=ids.EXPORT_FORMAT, options=[{"label": " PNG", "value": "png"}, {"label": " SVG", "value": "svg"}, {"label": " PDF", "value": "pdf"}], value="svg", inline=True, className="radio"), help="SVG and PDF are vector graphics: every marker is a shape, sharp at any zoom (the map's visible window is exported). PNG is a raster image."),
                    labelled("Width (px)", dcc.Input(id=ids.EXPORT_WIDTH, min=200, max=6000, step=10, placeholder="auto", **number)),
                    labelled("Height (px)", dcc.Input(id=ids.EXPORT_HEIGHT, min=200, max=6000, step=10, placeholder="auto", **number)),
                    labelled("Scale", dcc.Input(id=ids.EXPORT_SCALE, min=0.5, max=8, step=0.5, value=2, **number), help="Pixels per figure pixel in PNG (2 or more for print)."),
                    labelled("Font size (px)", dcc.Input(id=ids.EXPORT_FONT, min=6, max=48, step=1, placeholder="auto", **number), help="Base font size of the exported figure; automatic: 18 px, legible on slides."),
                    labelled("Template", dcc.RadioItems(id=ids.EXPORT_TEMPLATE, options=[{"label": " Light", "value": "light"}, {"label": " Dark", "value": "dark"}], value="light", inline=True, className="radio"), help="Light suits papers; dark suits dark slides. The figure is rebuilt in that theme."),
                ],
                className="export-grid",
            ),
            html.Div(
                [
                    html.Button("Download", id=ids.EXPORT_GO, className="button button-primary", n_clicks=0),
                    dcc.Loading(html.Div(id=ids.EXPORT_MESSAGE, className="message"), type="dot"),
                ],
                className="export-actions",
            ),
            dcc.Download(id=ids.EXPORT_DOWNLOAD),
        ],
        close_id=ids.EXPORT_CLOSE,
    )
