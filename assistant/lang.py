"""Per-language tables and the few functions that read them: folding, tokenising, language detection.

The tables live in `data/languages.json` (one entry per language: stop words, detection markers, abbreviations,
page-chrome words, articles). Code here never tests for a particular language; adding a language means adding a
table entry.

`detect_language` is a small weighted vote over stop words and marker words, plus a few letters that only one of the
languages uses: which of the three languages of the product (en, pt, fr) a text from a short question up to an
article is in. `identify` says whether a question is in one of them at all: a real language detector (lingua, its
models inside the wheel; high accuracy mode over the table languages and those of data/other_languages.json) names it,
and the vote decides between the three when the detector is not sure.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from importlib import resources

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "UNDETERMINED", "table", "merged", "fold", "tokens", "detect_language",
           "identify", "language_name", "warm_detector"]

DEFAULT_LANGUAGE = "en"
UNDETERMINED = "und"  # BCP 47: a language we cannot name (a question mostly in a script none of our tables use)

# Letters that one table language uses and the others (practically) never do: a cheap, strong signal on short text.
_LETTER_HINTS = {"ã": "pt", "õ": "pt", "è": "fr", "œ": "fr", "û": "fr", "ë": "fr", "î": "fr", "ï": "fr"}

# Words: letters (any script) and digits, keeping decimals ("3.1", "2,71") and apostrophe-less pieces together.
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict]:
    raw = json.loads(resources.files("assistant").joinpath("data/languages.json").read_text(encoding="utf-8"))
    return {code: entry for code, entry in raw.items() if not code.startswith("_")}


LANGUAGES: tuple[str, ...] = tuple(_tables())


@lru_cache(maxsize=1)
def _other_tables() -> dict[str, dict]:
    """Languages recognised in a question but not answered in (data/other_languages.json)."""
    raw = json.loads(resources.files("assistant").joinpath("data/other_languages.json").read_text(encoding="utf-8"))
    return {code: entry for code, entry in raw.items() if not code.startswith("_")}


def language_name(code: str) -> str:
    """'German' for 'de'; 'this language' for a code no table names (`UNDETERMINED`)."""
    entry = _tables().get(code) or _other_tables().get(code)
    return entry["name"] if entry else "this language"


def table(lang: str) -> dict:
    """The data entry for `lang`, falling back to the default language for codes we have no table for."""
    tables = _tables()
    return tables.get(lang) or tables[DEFAULT_LANGUAGE]


@lru_cache(maxsize=None)
def merged(key: str) -> frozenset[str]:
    """One list entry (`stopwords`, `number_words`, ...) of every table language, accent-folded, as one set."""
    return frozenset(fold(w) for code in LANGUAGES for w in table(code).get(key, ()))


class _WithoutMarks(dict):
    """A `str.translate` table dropping combining marks, filled as characters are met (a scan of every code point
    would cost 0.2 s of a process's first question)."""

    def __missing__(self, code: int):
        self[code] = None if unicodedata.combining(chr(code)) else code
        return self[code]


_WITHOUT_MARKS = _WithoutMarks()


def fold(text: str) -> str:
    """Lower-case and strip accents: 'Parâmetros' -> 'parametros'. (The same as dropping each combining character of
    the NFKD form one by one, for every code point: tests/test_lang.py; 3-4x faster, and a build folds every word.)"""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_WITHOUT_MARKS)


def tokens(text: str) -> list[str]:
    """Word and number tokens, lower-cased but not accent-folded."""
    return _TOKEN_RE.findall(text.casefold())


@lru_cache(maxsize=2)
def _detection_weights(others: bool = False) -> dict[str, dict[str, float]]:
    """word -> {lang: weight}. A word shared by n languages weighs 1/n; marker words weigh double. With `others`,
    the recognised-only languages vote too."""
    owners: dict[str, list[tuple[str, float]]] = {}
    for code, entry in _tables().items():
        for word in set(entry["stopwords"]):
            owners.setdefault(word, []).append((code, 1.0))
        for word in set(entry["markers"]):
            owners.setdefault(word, []).append((code, 2.0))
    for code, entry in (_other_tables().items() if others else ()):
        for word in set(entry.get("markers", ())):
            owners.setdefault(word, []).append((code, 2.0))
    weights: dict[str, dict[str, float]] = {}
    for word, pairs in owners.items():
        langs = {code for code, _ in pairs}
        per = weights.setdefault(word, {})
        for code, w in pairs:
            per[code] = per.get(code, 0.0) + w / len(langs)
    return weights


def detect_language(text: str, default: str | None = DEFAULT_LANGUAGE) -> str | None:
    """Best-guess language code of `text` among the table languages; `default` when there is no signal."""
    return _vote(text, _detection_weights(), _LETTER_HINTS, default)


DEFAULT_RATIO = 5.0  # config.language_ratio (chosen there)


def identify(text: str, ratio: float = DEFAULT_RATIO) -> str | None:
    """The language of a question: a table language, an unsupported one the detector knows ('de', 'pl', 'sv'...),
    `UNDETERMINED` when most of its letters are in a script no table uses (Cyrillic, Han, Arabic...), or None when
    nothing in it points anywhere ("Llama 3.1?").

    The detector reads the question without its names ("Carlo Gesualdo" made a French question Italian) and turns it
    away when an unsupported language is at least `ratio` times as likely as the best table language. Otherwise the
    word vote decides; an unsupported language it finds by its marker words counts only when the detector does not find
    a table language likelier ("Quando nasceu Zhu Shijie?" is Italian by the words "quando", Portuguese by the
    detector; counting the vote's Italian unless the detector was `ratio` times as sure turned away 13 training
    questions instead of 2)."""
    letters = [ch for ch in text if ch.isalpha()]
    foreign = sum(not _latin(ch) for ch in letters)
    if foreign > len(letters) / 2:
        return UNDETERMINED
    words = _without_names(text)
    likely = _detected(words) if words else {}
    best = max(likely, key=likely.get, default=None)
    ours = max((likely.get(code, 0.0) for code in LANGUAGES), default=0.0)
    if best is not None and best not in LANGUAGES and likely[best] >= ratio * ours:
        return best
    found = _vote(text, _detection_weights(others=True), _all_letter_hints(), None)
    if found is not None and found not in LANGUAGES and likely and likely.get(found, 0.0) < ours:
        found = _vote(text, _detection_weights(), _LETTER_HINTS, None)  # the detector finds a table language likelier
    # "Llama 3.1 有多少参数？": the only words that say anything are in another script
    return UNDETERMINED if found is None and foreign else found


# Names (capitalised words after the first), numbers and acronyms: they carry the language of their owner
_NAMES = re.compile(r"(?<=[\w,;:’'\"«“)] )[A-Z][\w’'-]*|\b\w*\d\w*\b|\b[A-Z]{2,}\b")


def _without_names(text: str) -> str:
    """`text` without its names; "" when fewer than two words are left ("Llama 3.1?"): nothing for the detector."""
    rest = _NAMES.sub(" ", text)
    return rest if sum(_latin(w[0]) for w in re.findall(r"[^\W\d_]{2,}", rest)) >= 2 else ""


_detector_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    """lingua's detector over the table languages and the other ones (about 4 s and 400 MB, once a process)."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        return None  # a broken install: the word vote alone, as before the detector
    codes = [*LANGUAGES, *_other_tables()]
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def warm_detector() -> None:
    """Load the detector's models now (a server does, before its first question)."""
    _detected("warm")


def _detected(text: str) -> dict[str, float]:
    """code -> the detector's confidence that `text` is in that language (they add up to 1)."""
    with _detector_lock:  # one load, whichever thread asks first
        detector = _detector()
    if detector is None:
        return {}
    return {c.language.iso_code_639_1.name.lower(): c.value
            for c in detector.compute_language_confidence_values(text)}


@lru_cache(maxsize=1)
def _all_letter_hints() -> dict[str, str]:
    hints = dict(_LETTER_HINTS)
    for code, entry in _other_tables().items():
        hints.update({ch: code for ch in entry.get("letters", "")})
    return hints


def _latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN")


def _vote(text: str, weights: dict[str, dict[str, float]], hints: dict[str, str], default: str | None) -> str | None:
    scores: Counter[str] = Counter()
    for tok in tokens(text):
        for code, w in weights.get(tok, {}).items():
            scores[code] += w
    for ch in text.casefold():
        if ch in hints:
            scores[hints[ch]] += 1.5
    if not scores:
        return default
    top = max(scores.values())
    winners = [code for code, score in scores.items() if score == top]
    # A tie carries no information; keep the default rather than an arbitrary winner.
    return winners[0] if len(winners) == 1 else default
