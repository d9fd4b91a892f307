"""Grounded multilingual question answering over news articles.

    from assistant import Assistant
    passages = Assistant().retrieve("How many parameters does Llama 3.1 have?")
    answer = Assistant().ask("What share of Scale AI did Meta buy?")   # .text, .citations, .mode, ...
    info = Assistant().add("report.pdf")                                  # an ArticleInfo; .articles() lists them

The public API is what `__all__` lists; every other module is internal.
"""

from .answer import Answer, Citation, Draft
from .api import Assistant
from .chunk import Passage
from .config import Config
from .errors import (AssistantError, ConfigError, CorpusError, EmbedderError, IndexCorruptError, IndexWriteError,
                     ModelError, QuestionError, StoreError)
from .index import IndexReport
from .library import ArticleInfo

__all__ = [
    "Assistant",
    "Answer",
    "Citation",
    "Draft",
    "Config",
    "Passage",
    "IndexReport",
    "ArticleInfo",
    "AssistantError",
    "ConfigError",
    "CorpusError",
    "EmbedderError",
    "IndexCorruptError",
    "IndexWriteError",
    "ModelError",
    "QuestionError",
    "StoreError",
]
__version__ = "0.1.0"
