"""The persisted passage index: build and update it from the corpus, load it, and what it holds.

One module per job: `model` (the `Index` in memory and an update's `IndexReport`), `layout` (file names, the
manifest, the CURRENT pointer), `load`, `vocabulary` (the embedded words), `parts` (which articles go in which part,
graph reuse), `vectors` (pooling, centroids, embedding), `generation` (writing and committing a generation, the
build lock) and `update` (the update as named steps). Vectors live in a store of `assistant.stores`.
"""

from .layout import cleaning_cache
from .load import indexed_fingerprints, load_index, up_to_date
from .model import Index, IndexReport
from .update import update_index
from .vectors import centroids_of, pooled_passage_vectors
from .vocabulary import corpus_words, expansion_words

__all__ = ["Index", "IndexReport", "update_index", "load_index", "up_to_date", "indexed_fingerprints",
           "cleaning_cache", "centroids_of", "pooled_passage_vectors", "corpus_words", "expansion_words"]
