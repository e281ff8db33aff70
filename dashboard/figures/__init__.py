"""Figure builders: plain functions returning ``plotly.graph_objects.Figure``, no Dash needed.

- :mod:`.periodic_table`: the periodic table of tiles (standard, learned map, learned grid);
- :mod:`.similarity`: ranked similarity bars and the cosine heatmap;
- :mod:`.materials_map`: the compound map (WebGL for the browser, SVG markers for export).
"""

from dashboard.figures.materials_map import add_overlay, materials_map_figure
from dashboard.figures.periodic_table import element_frame, periodic_table_figure, tile_positions
from dashboard.figures.similarity import cosine_heatmap_figure, similarity_bar_figure, top_similar

__all__ = [
    "add_overlay",
    "cosine_heatmap_figure",
    "element_frame",
    "materials_map_figure",
    "periodic_table_figure",
    "similarity_bar_figure",
    "tile_positions",
    "top_similar",
]
