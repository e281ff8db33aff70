"""Pure computation: element vectors, formula parsing and composition fingerprints.

Never imports Dash. Heavy optional pieces (the scikit-learn style estimator) load lazily.
"""

from .composition import composition_fingerprints, nearest_compositions
from .counts import SubstitutionCounts
from .elements import MAX_Z, SYMBOLS, element_table
from .embedding import VARIANTS, cosine_matrix, element_vectors, elements_without_data, most_similar

__all__ = [
    "MAX_Z",
    "SYMBOLS",
    "VARIANTS",
    "PettiforEmbedding",
    "SubstitutionCounts",
    "composition_fingerprints",
    "cosine_matrix",
    "element_table",
    "element_vectors",
    "elements_without_data",
    "most_similar",
    "nearest_compositions",
]


def __getattr__(name):
    if name == "PettiforEmbedding":
        from .estimator import PettiforEmbedding

        return PettiforEmbedding
    raise AttributeError(f"module 'fingerprints' has no attribute {name!r}")
