"""From retrieved passages to an `Answer`: evidence selection, refusal, prompting, verification, fallback.

1. Evidence: the sentences of the retrieved passages (headings and questions excluded) get a `support` score: their
   language-centred cosine with the question (see retrieve.py), plus `_OVERLAP` times the IDF-weighted share of the
   question's BM25 terms they contain, plus `_TYPE_BOOST` when the question asks for a quantity or a date (phrases from
   the language tables: "how many", "what price", "em que ano"; a bare "when" too) and the sentence holds one the
   question does not: a number that is not part of a name ("Llama 3.1" is not a quantity), a number word ("bilhões"), a
   year, a month or a unit of time, or a city or a country ("which city", "quel pays") that the question does not name:
   the CLDR names in data/places.json. A percentage answers "what share", not "how many". A count must also name what it
   counts ("how many GPUs": "GPUs", a cross-lingual neighbour of it, or a word of the same unit in the language tables:
   "chiffres", "dígitos"), and an amount of money a currency ("$", "dólares"), unless the question asks for a ratio
   ("what share of the cost"). They are ranked by `score` = support + `_EXPANDED` times the same share counted with term
   expansion (a question word is present when one of its cross-lingual neighbours is: "bought" in a sentence with
   "acheté"). The best `evidence_sentences` are numbered [1]..[n]. Only these go to the model: a short prompt is faster
   (time to first token is prompt-bound on a CPU) and harder for a small model to misread.
2. Refusal: when no sentence's support clears `refusal_threshold`, the answer is the question language's "the
   articles don't say", without calling the model. Support leaves the expansions out on purpose: every word, "bacalhau"
   included, has some neighbour in the corpus, and counting those rescued off-topic questions from refusal; they are
   good at choosing between sentences, not at saying whether any answers. So once one sentence clears the threshold, all
   are ranked by `score`, those under it too: the sentence that answers may share few words with the question and match
   it through expansions ("adiado" -> "atrasado").
   A question is also refused when its best sentence shares with it only words found in at least half of the
   passages ("Meta", "IA" here) and the question has other words: "In which city is Meta headquartered?" finds the
   sentence about the Seoul summit, which has "Meta" and nothing else of it. Here a question word is shared when one of
   its cross-lingual neighbours is: this rule only ever refuses, and an English question shares few words of its own
   with a Portuguese sentence.
   A question that asks for a quantity or a date is also refused when its best sentence holds none: "How much salary
   does Meta pay Alexandr Wang?" finds the sentence about hiring him, which gives no number, and "How many GPUs were
   used to train Llama 3.1?" finds its parameter count, which counts no GPUs. So is one whose best sentence's passage
   lacks a name the question uses: "How many parameters does Behemoth have?" finds Llama's. A bare "when" is left out
   of this rule, as its answer is often an event ("when it becomes a product"). A city or country question is refused
   too when its best sentence names none: "Em que cidade fica a sede do Laboratório de Superinteligência da Meta?"
   finds a sentence about the lab that names no city ("New York Times" is no city). Cities are those CLDR knows, a few
   hundred large ones: a question answered by a small town is refused. A salary is a sum of money next to a salary
   word: "Quel est le salaire annuel de Mark Zuckerberg ?" is not answered by the $10B model. A question that asks for
   a name ("what is the name of", "nome", "nom") is refused when its best sentence holds no name with a word the
   question does not use: "Under what licence name are Llama models distributed?" finds a sentence that names only
   Llama. The sentence's first word is a name when the articles write it as one elsewhere: "Lama, le modèle Meta Open,
   ..." answers "What is the name of Meta's open model?". For a name question a name does not raise a sentence's
   score, as a quantity does: nearly every sentence names someone, and with the boost an off-topic one won that
   question. A "who" question does get the boost for a sentence that names someone it does not ("Whose sign-off...":
   "O CEO da Meta, Mark Zuckerberg, ainda teria que ser assinado"), and is never refused for lacking one: "Quem está a
   construir o novo modelo?" is answered by "uma equipa formada no início deste ano".
3. Generation: the prompt files in `prompts/` ask for one or two short sentences in the question's language,
   each citing its evidence.
4. With `trust_model_refusal`, a reply that is a refusal (the refusal sentence of any table language) makes the
   answer a refusal: a capable model that reads the evidence is the better judge of "not answered" (the bundled
   135M model is not; it repeats the sentence from its prompt). Otherwise verification
   (cite.py) keeps only supported sentences; if none is left, the answer falls back to quoting the best evidence
   sentence with its citation, and a second one from its passage when that scores almost as well (`mode =
   "extractive"`); quotes stay in the article's language.

Not here: retrieval itself, or anything about how the answer is displayed.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from . import lang
from .chunk import Passage, _is_heading
from .retrieve import analyze

__all__ = ["Citation", "Answer", "Evidence", "Asked", "answer_type", "read_question", "select_evidence",
           "build_messages", "refusal_text", "is_refusal", "extractive", "QUOTE_POOL"]

_OVERLAP = 0.05
_EXPANDED = 0.05
_TYPE_BOOST = 0.02
# Questions refused when their best sentence does not hold what they ask for (a bare "when" and "who" are not).
_REFUSED_KINDS = ("count", "money", "number", "date", "city", "country", "name")
# A term in at least half of the passages ("Meta", "IA", "modelo" here): BM25's idf is ln 2 at exactly half.
_COMMON_IDF = math.log(2)
_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence: `row` is its sentence row in the index; `score` ranks, `support` decides refusal."""

    source: str
    title: str
    language: str
    text: str
    start: int
    end: int
    score: float
    row: int
    support: float = 0.0
    passage: int = -1  # the position of its passage among the retrieved passages


@dataclass(frozen=True)
class Citation:
    """`[number]` in the answer text points at `text`, the sentence `article.text[start:end]` of `source`."""

    number: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    refused: bool
    language: str
    mode: str  # "generated" | "extractive" | "refused"
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieve, first_token, total, generation
    passages: list[Passage] = field(default_factory=list)  # what retrieval returned
    raw: str = ""  # the model's unverified text, when it was called
    evidence: list[Evidence] = field(default_factory=list)  # the numbered sentences the model was shown, [1] first
    tokens: int = 0  # pieces the model streamed (one per token for llama.cpp and OpenAI-compatible servers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passages"] = [p.to_dict() for p in self.passages]
        d["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return d


def _phrases(question: str) -> str:
    """The question's folded words, space-separated and padded, for phrase lookups (" how many ")."""
    return " " + " ".join(re.findall(r"\w+", lang.fold(question))) + " "


def answer_type(question: str) -> str | None:
    """"count" (how many), "money" (how much it cost, paid, earned), "number" (how much, what share, a cost compared
    with another), "date", "when" (a bare when, quand, quando), "city" (which city, em que cidade), "country" (quel
    pays), "name" (what is the name of), "who" (who, à qui, de quem, in the first three words) or None, from the
    question's wording. A number question is about money when it uses a money word ("cost", "pagou", "salaire") and
    no ratio phrase ("what share of the cost", "em comparação com"); "combien d'argent" is money too, though it reads
    like a count."""
    text = _phrases(question)
    opening = " " + " ".join(text.split()[:3]) + " "  # "who" elsewhere is a relative: "the executive who left"
    kind = next((kind for kind in ("count", "number", "date", "when", "city", "country", "name", "who")
                 if any(f" {phrase} " in (opening if kind == "who" else text)
                        for phrase in lang.merged(f"{kind}_questions"))), None)
    money = lang.merged("money_words")
    if kind == "count" and _counted(question) in money:
        return "money"
    if (kind == "number" and set(text.split()) & money
            and not any(f" {phrase} " in text for phrase in lang.merged("ratio_questions"))):
        return "money"
    return kind


def _counted(question: str) -> str | None:
    """The folded word naming what a count question counts: the first content word after "how many", "quantos",
    "combien de" ("How many Nvidia GPUs" -> "nvidia"); None when there is none."""
    text = _phrases(question)
    stop = lang.merged("stopwords")
    for phrase in sorted(lang.merged("count_questions"), key=len, reverse=True):
        at = text.find(f" {phrase} ")
        if at >= 0:
            after = text[at + len(phrase) + 2:].split()
            return next((w for w in after if w not in stop and not w[0].isdigit()), None)
    return None


@dataclass(frozen=True)
class Asked:
    """What a question asks for, read once from its wording and checked against every candidate sentence.
    `words` and `numbers`: what the question already says (a sentence must add to it; a number that is part of a name,
    "405" in "Llama 3.1 405B", is not said: "405 bilhões" answers how many parameters it has); `unit`: for a count,
    the stems of the counted word and of its cross-lingual neighbours ("gpus" -> {"gpus", "gpu"}), and the words of
    the unit it names in the `units` tables ("chiffres" -> "dígitos", "digits"), one of which the sentence must hold:
    "How many GPUs" is not answered by "405 bilhões de parâmetros". The tables catch translations that term expansion
    misses. For money, the unit of a money word that is also one ("salaire"): a sum of money that is no salary does
    not answer "what salary"."""

    kind: str | None
    words: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    unit: frozenset[str] = frozenset()
    names: frozenset[frozenset[str]] = frozenset()  # the names the question uses, as stems (see _names)
    stems: frozenset[str] = frozenset()  # the question's BM25 stems and their cross-lingual neighbours


def read_question(question: str, groups: dict[str, set[str]] | None = None) -> Asked:
    """`groups`: `Retriever.term_groups` of the question (each term with its neighbours), for the unit of a count and
    the words a name question already uses; without them both are the question's own words."""
    kind = answer_type(question)
    words = frozenset(re.findall(r"\w+", lang.fold(question)))
    unit: frozenset[str] = frozenset()
    counted = _counted(question) if kind == "count" else None
    if counted:
        stems = analyze(counted)[:1]
        unit = frozenset(set(stems).union(*((groups or {}).get(s, set()) for s in stems),
                                          _unit_families().get(counted, ())))
    elif kind == "money":
        families = _unit_families()
        unit = frozenset().union(*(families[w] for w in words & lang.merged("money_words") if w in families))
    own = set(analyze(question))
    stems = frozenset(own.union(*((groups or {}).get(s, set()) for s in own)))
    return Asked(kind, words, frozenset(_quantities(question)), unit, _names(question), stems)


def _names(text: str, known: frozenset[str] = frozenset()) -> frozenset[frozenset[str]]:
    """The names `text` uses, each as the BM25 stems of its words: runs of capitalised words that are no stop word
    ("Quantos parâmetros tem o modelo Behemoth?" -> {"behemo"}, "Mark Zuckerberg" -> {"mark", "zucker"}). The word
    that opens `text` is capitalised anyway; it starts a name only when it is in `known` (folded words the articles
    capitalise inside a sentence: "Lama, le modèle Meta Open, ..."). A name of one short word is left out: "AI" is
    the English of the articles' "IA", not a name the passage has to hold, and "CEO" is no answer to "what is the
    name of"."""
    stop = lang.merged("stopwords")
    names, run = set(), []
    for i, word in enumerate([*re.findall(r"[^\W\d_][\w.-]*|\S", text), "."]):  # "." ends the last run
        if word[0].isupper() and lang.fold(word) not in stop and (i or lang.fold(word) in known):
            run.append(word)
            continue
        if len(run) > 1 or (run and len(run[0]) >= 4):
            names.add(frozenset(stem for w in run for stem in analyze(w)[:1]))
        run = []
    return frozenset(names)


@lru_cache(maxsize=1024)
def _capitalised_inside(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The folded words `text` capitalises after a word in lower case that ends no sentence ("a família Lama" ->
    "lama"), and those it writes in lower case."""
    raw = re.findall(r"\S+", text)
    words = [w.strip("\"'“”«»(),;:.!?…") for w in raw]
    inside = {lang.fold(w) for prev, w in zip(raw, words[1:])
              if w[:1].isupper() and (prev[:1].islower() or prev[:1].isdigit()) and prev[-1] not in ".!?:…"}
    return frozenset(inside), frozenset(lang.fold(w) for w in words if w[:1].islower())


@lru_cache(maxsize=8)  # one entry per corpus state: the same articles for every question
def _known_names(texts: tuple[str, ...]) -> frozenset[str]:
    """The words at least two of the articles capitalise inside a sentence and none writes in lower case: names that
    recur ("Lama"), not a word that a noisy translation capitalised once ("Depuis")."""
    seen = Counter(word for text in texts for word in _capitalised_inside(text)[0])
    lower = set().union(*(_capitalised_inside(text)[1] for text in texts))
    return frozenset(word for word, n in seen.items() if n >= 2 and word not in lower)


_PLACE_TOKEN = re.compile(r"[^\W\d_]+|\S")  # words and single marks: "États-Unis" -> "États", "-", "Unis"


@lru_cache(maxsize=None)
def _gazetteer(kind: str) -> tuple[frozenset[str], int]:
    """"city" or "country" -> the folded names of data/places.json (CLDR names in English, Portuguese and French;
    scripts/make_places.py) as space-joined `_PLACE_TOKEN`s ("etats - unis"), and the most tokens a name has."""
    raw = json.loads(resources.files("assistant").joinpath("data/places.json").read_text(encoding="utf-8"))
    names = frozenset(" ".join(lang.fold(t) for t in _PLACE_TOKEN.findall(name)) for name in raw[kind])
    return names, max(len(name.split()) for name in names)


def _places(text: str, kind: str) -> set[str]:
    """The cities or countries `text` names (folded gazetteer keys): a capitalised run of its tokens that is a
    gazetteer name and is not followed by another capitalised word, which makes it part of a longer name ("New York"
    is a city, "relata o New York Times" names none)."""
    names, longest = _gazetteer(kind)
    tokens = _PLACE_TOKEN.findall(text)
    found = set()
    for i, token in enumerate(tokens):
        if not token[0].isupper():
            continue
        for j in range(min(len(tokens), i + longest), i, -1):  # the longest name first: "Coreia do Sul", not "Coreia"
            key = " ".join(lang.fold(t) for t in tokens[i:j])
            if key in names and not (j < len(tokens) and tokens[j][0].isupper()):
                found.add(key)
                break
    return found


@lru_cache(maxsize=None)
def _unit_families() -> dict[str, frozenset[str]]:
    """folded word -> every word, in every table language, of the units it names: "chiffres" -> {"chiffre",
    "chiffres", "digito", "digitos", "digit", "digits", "algarismo", "algarismos"}. Whole words, not BM25 stems: the
    stems of "salariés" and "salário", or of "utilisateurs" and "utiliser", are the same."""
    units: dict[str, set[str]] = {}
    for code in lang.LANGUAGES:
        for unit, names in lang.table(code).get("units", {}).items():
            units.setdefault(unit, set()).update(lang.fold(name) for name in names)
    families: dict[str, set[str]] = {}
    for names in units.values():
        for name in names:
            families.setdefault(name, set()).update(names)
    return {name: frozenset(family) for name, family in families.items()}


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAMED = re.compile(r"(?:\b([A-Z][\w.]*)|(\d))[ -]$|[A-Za-z]$")  # what precedes a number that is part of a name
_CURRENCY_SIGNS = "$€£¥"


def _quantities(text: str, percentages: bool = True) -> set[str]:
    """The numbers of `text` that are not part of a name: "Llama 3.1 405B", "GPT-4" and "H100" name a model or a
    chip, and "3.1" there is no answer to "how many". A number is part of a name when it follows a capitalised word
    (not a stop word: "Em 2024"), a letter, or a number that is itself part of a name. Without `percentages`,
    "50%" and "50 por cento" are left out too: they answer "what share", not "how many"."""
    found, named_end = set(), -1
    for match in _NUMBER.finditer(text):
        after = lang.fold(text[match.end():match.end() + 12]).lstrip()
        if not percentages and after.startswith(("%", *lang.merged("percent_words"))):
            continue
        before = text[max(0, match.start() - 40):match.start()]
        named = _NAMED.search(before)
        if named and named.group(1) and lang.fold(named.group(1)) in lang.merged("stopwords"):
            named = None
        if named and named.group(2) and match.start() - 2 > named_end:
            named = None  # a number after a number is a name only when that one was
        if named:
            named_end = match.end() - 1
        else:
            found.add(match.group())
    return found


def _fits(asked: Asked, text: str, known: frozenset[str] = frozenset()) -> bool:
    """Does `text` hold what the question asks for, that the question itself does not already say? A quantity (a
    number not part of a name, or a number word); for a count also the counted thing; for money also a currency; for a
    date a year, a month, a season or a unit of time; for a city or a country one of those (`_places`); for a name or
    a "who" question a name (`known`: see `_names`). "How many parameters does Llama 3.1 have?" is not answered by
    "3.1"."""
    kind = asked.kind
    if kind in ("city", "country"):  # one the question does not name: not "China" for "apart from China, which..."
        return any(not {w for w in place.split() if w.isalnum()} <= asked.words for place in _places(text, kind))
    if kind in ("name", "who"):  # a name with a word the question does not use (nor a neighbour of one): not "Llama"
        return any(name - asked.stems for name in _names(text, known))
    if kind not in ("count", "money", "number", "date", "when"):
        return False  # most questions: no need to read the sentence (this runs for every candidate sentence)
    folded = set(re.findall(r"\w+", lang.fold(text)))
    words = folded - asked.words
    if kind in ("date", "when"):
        return any(_YEAR.fullmatch(w) for w in words) or bool(words & lang.merged("date_words"))
    if kind in ("count", "money") and asked.unit and not asked.unit & (set(analyze(text)) | folded):
        return False
    if kind == "money" and not (any(sign in text for sign in _CURRENCY_SIGNS)
                                or words & lang.merged("currency_words")):
        return False
    spelled = text
    if kind != "number":  # "50 pour cent" is no count and no sum of money, though "cent" is a number word
        spelled = re.sub("|".join(map(re.escape, lang.merged("percent_words"))), " ", text, flags=re.IGNORECASE)
    # number words count in lower case only: "relata o New York Times" says no quantity
    lower = {lang.fold(w) for w in re.findall(r"\w+", spelled) if w.islower()} & words
    return bool(_quantities(text, kind == "number") - asked.numbers) or bool(lower & lang.merged("number_words"))


def _coverage(groups: dict[str, set[str]], weight: dict[str, float], stems: set[str]) -> float:
    """IDF-weighted share of the terms of `groups` that `stems` holds (a group: a term and its alternatives)."""
    total = sum(weight[t] for t in groups) or 1.0
    return sum(weight[t] for t, alternatives in groups.items() if alternatives & stems) / total


def select_evidence(passages: list[Passage], sentence_scores: np.ndarray, index, question: str,
                    texts: dict[str, str], n: int, idf: dict[str, float] | None = None,
                    groups: dict[str, set[str]] | None = None, floor: float = -np.inf) -> list[Evidence]:
    """The `n` best non-heading sentences of `passages`, best first. `idf` weighs the question terms (a word found
    everywhere, like "Meta" here, says little); unweighted when not given. `groups` is `Retriever.term_groups` of the
    retrieval query (for a follow-up, the previous question too): each term with its cross-lingual neighbours; without
    it the ranking uses the question's own terms. When no sentence's support reaches `floor` the list is empty: with
    the refusal threshold as the floor, that means refuse. Otherwise every sentence is ranked, whatever its support."""
    row_of = {key: j for j, key in enumerate(index.sentences)}
    own = {t: {t} for t in analyze(question)}
    expanded = groups or own
    # A question word the articles never use (idf has no entry) weighs as much as the rarest word they do use: it is
    # missing from every sentence alike, and leaving it out would let the few common words that do match (here "AI",
    # "Meta") count as full coverage of the question.
    unseen = max(idf.values(), default=1.0) if idf else 1.0
    weight = {t: (idf or {}).get(t, unseen) for t in {*own, *expanded}}
    asked = read_question(question, expanded)
    seen, candidates, passage_of = set(), [], {}
    for rank, p in enumerate(passages):
        for s, e in p.sentences:
            key = (p.source, s, e)
            text = texts[p.source][s:e]
            if key in seen or _is_heading(text) or text.rstrip(" \"'»”’)").endswith("?"):
                # headings and questions assert nothing: quoting one would cite a sentence that supports no answer
                continue
            seen.add(key)
            stems = set(analyze(text))
            j = row_of[key]
            support = (float(sentence_scores[j]) + _OVERLAP * _coverage(own, weight, stems)
                       + (_TYPE_BOOST if asked.kind != "name" and _fits(asked, text) else 0.0))
            score = support + _EXPANDED * _coverage(expanded, weight, stems)
            candidates.append(Evidence(p.source, p.title, p.language, text, s, e, score, j, support, rank))
            passage_of[j] = p
    candidates.sort(key=lambda ev: -ev.score)
    if not any(c.support >= floor for c in candidates):
        return []  # nothing in the retrieved passages is close enough to the question to answer it
    best = candidates[0]
    informative = {t: alternatives for t, alternatives in expanded.items() if weight[t] > _COMMON_IDF}
    if informative and not any(alternatives & set(analyze(best.text)) for alternatives in informative.values()):
        return []  # the best sentence shares with the question only words found everywhere: it is about something else
    known = _known_names(tuple(texts.values())) if asked.kind == "name" else frozenset()
    if asked.kind in _REFUSED_KINDS and not _fits(asked, best.text, known):
        return []  # asked for a quantity, a date, a place or a name, and the best matching sentence has none
    if asked.kind in ("count", "money", "number", "date"):
        # ...or the passage of that sentence is about something else: "How many parameters does Behemoth have?" is
        # not answered by the parameter count of Llama. Names the articles never use are left to the ranking: the
        # articles may spell them in another language.
        held = set(analyze(f"{passage_of[best.row].title} {passage_of[best.row].text}"))
        for name in asked.names:
            if name & (idf or {}).keys() and not name.union(*(expanded.get(stem, ()) for stem in name)) & held:
                return []
    return candidates[:n]


def _prompt(name: str) -> str:
    return resources.files("assistant").joinpath(f"prompts/{name}").read_text(encoding="utf-8")


def refusal_text(language: str) -> str:
    return lang.table(language)["refusal"]


def is_refusal(text: str) -> bool:
    """Does the model's reply say the evidence does not answer (in any table language)?"""
    folded = " ".join(lang.fold(text).replace("’", "'").split())
    return any(lang.fold(refusal_text(code)).rstrip(".") in folded for code in lang.LANGUAGES)


def build_messages(question: str, evidence: list[Evidence], language: str) -> list[dict[str, str]]:
    # What depends on the language comes at the end of the system prompt: llama.cpp reuses the cached prefix of the
    # previous prompt, so a question in another language than the one before re-reads only that end.
    system = _prompt("answer_system.txt").format(language=lang.table(language)["name"],
                                                refusal=refusal_text(language)).strip()
    numbered = "\n".join(f"[{i}] {ev.text}" for i, ev in enumerate(evidence, start=1))
    user = _prompt("answer_user.txt").format(evidence=numbered, question=question).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def citation(number: int, ev: Evidence) -> Citation:
    return Citation(number, ev.source, ev.title, ev.text, ev.start, ev.end, ev.score)


QUOTE_POOL = 3  # extractive answers choose among this many best sentences (the model may be shown fewer)
_SECOND_QUOTE = 0.03  # how close to the best sentence's score a second quote must be


def extractive(candidates: list[Evidence]) -> tuple[str, list[Citation]]:
    """Quote the best evidence sentence, cited; and with it, in article order, the next best of the first
    `QUOTE_POOL` when it comes from the same passage and scores within `_SECOND_QUOTE` of it. Two sentences of one
    passage that match the question almost equally are one excerpt, and the answer is more often in the second than
    the scores can tell: on the dev set it gave 3 more answers that hold a gold answer (README), and 10 of the 82
    answers quote two sentences."""
    best = candidates[0]
    second = next((ev for ev in candidates[1:QUOTE_POOL]
                   if ev.passage == best.passage and best.score - ev.score <= _SECOND_QUOTE), None)
    quoted = sorted([best, second], key=lambda ev: ev.start) if second else [best]
    # " ".join(split()): a sentence joined across a line break (chunk.py) is quoted on one line
    text = " ".join(f"“{' '.join(ev.text.split())}” [{i}]" for i, ev in enumerate(quoted, start=1))
    return text, [citation(i, ev) for i, ev in enumerate(quoted, start=1)]
