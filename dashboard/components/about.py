"""The About dialog: what the screen shows, the paper, the data sources and their licences."""

from __future__ import annotations

from dash import html

from dashboard.components import ids
from dashboard.components.common import modal

PAPER = (
    "T. F. T. Cerqueira, H.-C. Wang, S. Botti, M. A. L. Marques, ",
    "A non-orthogonal representation of the chemical space",
    ", arXiv:2406.19761 (2024).",
)
PAPER_URL = "https://arxiv.org/abs/2406.19761"

SOURCES = (
    ("Substitution statistics (ICSD)", "Glawe et al., New J. Phys. 18, 093011 (2016); Wang, Botti, Marques, npj Comput. Mater. 7, 12 (2021)", "public raw data of the Marques group; not redistributed here"),
    ("Materials Project", "A. Jain et al., APL Mater. 1, 011002 (2013)", "CC BY 4.0"),
    ("OQMD", "J. E. Saal et al., JOM 65, 1501 (2013); S. Kirklin et al., npj Comput. Mater. 1, 15010 (2015)", "CC BY 4.0"),
    ("Matbench (band gaps, formation energies)", "A. Dunn et al., npj Comput. Mater. 6, 138 (2020)", "as Materials Project"),
    ("CrabNet benchmark data (the built-in tables)", "A. Y.-T. Wang et al., npj Comput. Mater. 7, 77 (2021)", "MIT"),
    ("Alexandria (when loaded)", "J. Schmidt et al., Adv. Mater. 35, 2210788 (2023)", "CC BY 4.0"),
)

HOW_TO = (
    ("Periodic table", "Each tile is an element, placed by the learned element map: similar elements sit together (crowded tiles are pushed apart just enough not to overlap). Switch to the learned grid or the standard table to watch the tiles move. Click tiles to highlight the compounds that contain them."),
    ("Materials map", "Each dot is a compound, placed so that compounds with similar composition fingerprints are close. Colour it by a property; hover for details; click a dot for its nearest compounds; drag to lasso a region (lassos add up)."),
    ("Element similarity", "How often two elements replace each other in the same crystal structure, as the cosine between their element vectors (1 = interchangeable). The heatmap's learned 1D order puts similar elements next to each other (seriation; it comes close to Pettifor's chemical scale)."),
    ("Search", "Type a formula: a known compound is shown on the map; a new one is placed on the map from its fingerprint, with its nearest known compounds."),
    ("Share", "The address bar holds the view (map, colours, elements, zoom): copy it to share exactly this view."),
)


COMPARE_HOW_TO = (
    ("Property prediction", "Bars: the mean absolute error of predicting each property from each embedding's compound features, over the cross-validation folds (lower is better); ★ marks the best embedding per property and model. Choose the model above the figure; export it as SVG, PNG or PDF."),
    ("All the numbers", "Every MAE with its spread over the folds, the map separability (how well the 2D map alone predicts the property) and how close each Pettifor similarity's 1D element order comes to Pettifor's scale. Click a header to sort."),
    ("Two maps", "The same compounds mapped under two embeddings: pick one for each side. Drag a box (or a lasso) on either map and the same compounds light up on both: compounds close on one map and scattered on the other show where the embeddings disagree."),
    ("Share", "The address bar holds the view (both embeddings, colouring, model) and the explorer's settings: copy it to share exactly this view."),
)


def _map_facts(entry, metadata: dict) -> list:
    if entry is None:
        return [html.P("No map loaded.")]
    quality = metadata.get("quality", {}) if isinstance(metadata, dict) else {}
    compounds = quality.get("compounds", {})
    elements = quality.get("elements", {})
    facts = [
        ("Map", entry.name),
        ("Dataset", f"{metadata.get('dataset', {}).get('name', '?')}: {metadata.get('dataset', {}).get('source', '?')}"),
        ("Compounds", f"{entry.rows:,}"),
        ("Element similarity", metadata.get("similarity", {}).get("source", "?")),
        ("Recipe", f"{metadata.get('variant', '?')} element vectors; compound map by {entry.method}"),
    ]
    if compounds:
        k = compounds.get("k", "?")
        facts.append((
            "Map quality",
            f"trustworthiness {compounds.get('trustworthiness', float('nan')):.3f} (1: no compound has false neighbours on the map); "
            f"{k}-NN preservation {compounds.get('knn_preservation', float('nan')):.3f} (share of each compound's {k} nearest "
            "compounds that stay its nearest on the map)",
        ))  # fmt: skip
    if elements:
        facts.append(("Element map", f"nearest neighbour in the same group {elements.get('group', float('nan')):.0%}, same block {elements.get('block', float('nan')):.0%}"))
    if metadata.get("elements_without_data"):
        facts.append(("Elements without data", ", ".join(metadata["elements_without_data"])))
    return [html.Dl([item for label, value in facts for item in (html.Dt(label), html.Dd(str(value)))], className="facts")]


def about_modal(entry=None, metadata: dict | None = None, *, view: str = "explorer") -> html.Div:
    """The dialog for ``view``: the explorer's describes its map (``entry`` and its ``metadata``);
    the compare view's describes that view's screen instead (no map of its own)."""
    if view not in ("explorer", "compare"):
        raise ValueError(f"about_modal: view must be 'explorer' or 'compare', got {view!r}")
    if view == "compare":
        screen = [html.Dl([item for term, text in COMPARE_HOW_TO for item in (html.Dt(term), html.Dd(text))], className="howto")]
    else:
        screen = [
            html.Dl([item for term, text in HOW_TO for item in (html.Dt(term), html.Dd(text))], className="howto"),
            html.H3("This map"),
            *_map_facts(entry, metadata or {}),
        ]
    return modal(
        ids.ABOUT,
        "About ChemMap",
        [
            html.P(
                [
                    "ChemMap draws chemical space from element similarity: each element is a vector learned from how often "
                    "it substitutes for other elements in known crystal structures, and each compound is the "
                    "composition-weighted sum of its elements' vectors (the Pettifor embedding of ",
                    html.A("the paper", href=PAPER_URL, target="_blank", rel="noopener"),
                    ").",
                ]
            ),
            html.H3("How to read the screen"),
            *screen,
            html.H3("Cite"),
            html.P([PAPER[0], html.Em(PAPER[1]), PAPER[2]], className="citation"),
            html.H3("Data sources and licences"),
            html.Table(
                [html.Thead(html.Tr([html.Th("Source"), html.Th("Reference"), html.Th("Licence")]))]
                + [html.Tbody([html.Tr([html.Td(a), html.Td(b), html.Td(c)]) for a, b, c in SOURCES])],
                className="sources",
            ),
            html.P("Exports that contain property values should credit these sources. ChemMap's code is MIT-licensed.", className="muted"),
        ],
        close_id=ids.ABOUT_CLOSE,
    )
