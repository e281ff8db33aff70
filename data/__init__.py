"""Datasets: loaders, downloads, the built-in default and their provenance."""
