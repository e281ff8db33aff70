"""Component ids shared by the layout and the callbacks (one place, no typos)."""

from __future__ import annotations

# page skeleton
URL = "url"
URL_QUERY = "url-query"
URL_PUSHED = "url-pushed"
PAGE = "page"
ROOT = "page-root"
NOTICES = "notices"

# header
MAP_SELECT = "map-select"
THEME = "theme-toggle"
SHARE = "share-link"
ABOUT_OPEN = "about-open"
ABOUT_CLOSE = "about-close"
ABOUT = "about-modal"

# state stores
MAP_NAME = "map-name"
SELECTED_ELEMENTS = "selected-elements"
SELECTION_ROWS = "selection-rows"
LASSO_EVENT = "lasso-event"
MAP_VIEW = "map-view"
HIGHLIGHT_ROWS = "highlight-rows"  # rows of the highlighted compounds (base64 int32)
HIGHLIGHT_DRAWN = "highlight-drawn"
TABLE_SETTLED = "ptable-settled"
MAP_BUILT = "map-built"  # true once the full map figure is in the browser (patches wait for it)
FOCUS = "focus-compound"
SEARCH_RESULT = "search-result"
UPLOAD_OVERLAY = "upload-overlay"
EXPORT_TARGET = "export-target"

# periodic table
TABLE_GRAPH = "ptable-graph"
TABLE_LAYOUT = "ptable-layout"
TABLE_COLOR = "ptable-color"
MODE = "highlight-mode"
CLEAR_ELEMENTS = "clear-elements"
ELEMENT_CHIPS = "element-chips"
HIGHLIGHT_COUNT = "highlight-count"

# similarity
SIM_ELEMENT = "sim-element"
SIM_BAR = "sim-bar"
HEATMAP = "heatmap"
HEATMAP_ORDER = "heatmap-order"

# materials map
MAP_GRAPH = "map-graph"
MAP_COLOR = "map-color"
MAP_CMIN = "map-cmin"
MAP_CMAX = "map-cmax"
MAP_SIZE = "map-size"
MAP_OPACITY = "map-opacity"
MAP_MESSAGE = "map-message"
SEARCH_INPUT = "search-input"
SEARCH_GO = "search-go"
SEARCH_MESSAGE = "search-message"
UPLOAD = "upload"
UPLOAD_MESSAGE = "upload-message"
UPLOAD_CLEAR = "upload-clear"

# details and selection
DETAILS = "details"
NEIGHBOUR = "neighbour"  # pattern-matching: {"type": NEIGHBOUR, "row": int}
SELECTION_COUNT = "selection-count"
SELECTION_CLEAR = "selection-clear"
SELECTION_CSV = "selection-csv"
SELECTION_DOWNLOAD = "selection-download"
GRID = "selection-grid"

# export dialog
EXPORT_OPEN = "export-open"  # pattern-matching: {"type": EXPORT_OPEN, "target": str}
EXPORT = "export-modal"
EXPORT_TITLE = "export-title"
EXPORT_FORMAT = "export-format"
EXPORT_WIDTH = "export-width"
EXPORT_HEIGHT = "export-height"
EXPORT_SCALE = "export-scale"
EXPORT_FONT = "export-font"
EXPORT_TEMPLATE = "export-template"
EXPORT_GO = "export-go"
EXPORT_CLOSE = "export-close"
EXPORT_MESSAGE = "export-message"
EXPORT_DOWNLOAD = "export-download"

#: Figures the export dialog can render.
EXPORT_TARGETS = {
    "table": "Periodic table",
    "map": "Materials map",
    "similarity": "Similarity bars",
    "heatmap": "Cosine heatmap",
}

#: Trace slots of the materials map figure (trace 0 holds every compound).
SLOT_SEARCH = 1
SLOT_UPLOAD = 2
SLOT_FOCUS = 3
N_SLOTS = 4
