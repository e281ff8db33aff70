"""The Dash app: wires figures and callbacks to the pure functions in ``fingerprints``."""
