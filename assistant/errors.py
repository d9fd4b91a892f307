"""Exceptions the library raises.

Everything the assistant raises on purpose derives from `AssistantError`, so a caller (the CLI, the web UI, the
eval harness) can catch one class and show its message. Each carries a message written for a person; none of them
is meant to be shown with a traceback. Mapping to exit codes lives in `cli.py`, mapping to `gr.Error` in the UI.
"""

__all__ = [
    "AssistantError",
    "ConfigError",
    "CorpusError",
    "IndexCorruptError",
    "IndexWriteError",
    "StoreError",
    "EmbedderError",
    "ModelError",
    "QuestionError",
]


class AssistantError(Exception):
    """Base class: a problem the user can act on, with a message that says how."""


class ConfigError(AssistantError):
    """A config file or value is invalid (unknown key, wrong type, impossible value)."""


class CorpusError(AssistantError):
    """The corpus cannot be used at all (missing folder, no readable article)."""


class IndexCorruptError(AssistantError):
    """A persisted index file cannot be read; the indexer rebuilds from the corpus when it meets one."""


class StoreError(AssistantError):
    """A vector store's server cannot be reached or fails (`store = "postgres"`); the index is not rebuilt for it."""


class IndexWriteError(AssistantError):
    """A new index generation could not be written (no space left, no permission); the previous one is kept."""


class EmbedderError(AssistantError):
    """An embedding backend is missing, misconfigured or failed to load."""


class ModelError(AssistantError):
    """A generator model is missing, corrupt, or its server cannot be reached."""


class QuestionError(AssistantError):
    """The question cannot be asked as given (empty, too long, ...)."""
