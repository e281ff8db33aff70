"""Hostile and broken inputs at every entry point: the corpus (``corpus.py``) and its tests."""
