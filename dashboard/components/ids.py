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

# navigation between the views (links in the header)
NAV_EXPLORER = "nav-explorer"
NAV_COMPARE = "nav-compare"

# compare-embeddings view
COMPARE_THEME = "compare-theme"
COMPARE_SHARE = "compare-share"
COMPARE_BASE = "compare-base"  # the view state the page was rendered with (both views' fields)
COMPARE_QUERY = "compare-query"  # {"query": the compare view's query string, "time": ...}, pushed to the address bar
COMPARE_ADDRESS = "compare-address"  # hidden: the full address after the push (what "Copy link" copies)
COMPARE_MODEL = "compare-model"
COMPARE_MAE_GRAPH = "compare-mae-graph"
COMPARE_MAE_MESSAGE = "compare-mae-message"
COMPARE_TABLE = "compare-table"
COMPARE_MAPS_TABLE = "compare-maps-table"  # map separability and seriation
COMPARE_EXPORT_FORMAT = "compare-export-format"
COMPARE_EXPORT_GO = "compare-export-go"
COMPARE_EXPORT_MESSAGE = "compare-export-message"
COMPARE_EXPORT_DOWNLOAD = "compare-export-download"
COMPARE_LEFT = "compare-left"  # embedding of the left map
COMPARE_RIGHT = "compare-right"
COMPARE_COLOR = "compare-color"
COMPARE_CMIN = "compare-cmin"
COMPARE_CMAX = "compare-cmax"
COMPARE_MAP_LEFT = "compare-map-left"
COMPARE_MAP_RIGHT = "compare-map-right"
COMPARE_MAP_MESSAGE = "compare-map-message"
COMPARE_EVENT_LEFT = "compare-event-left"  # selections reduced to row numbers in the browser
COMPARE_EVENT_RIGHT = "compare-event-right"
COMPARE_SELECTION = "compare-selection"  # rows selected on either map (the same rows on both)
COMPARE_SELECTION_COUNT = "compare-selection-count"
COMPARE_CLEAR = "compare-clear"

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
