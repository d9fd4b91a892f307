"""From a question to an `Answer`: the steps `Assistant.stream` runs, in order.

understand (clean, language, kind) -> candidates (retrieve, rank the sentences, withhold orders, refuse before the
reader) -> draft (the reader, streamed) -> check (the reader's refusal, verification, answerability) -> say (the
answer, its rendering in the asker's language, or a quote, or a refusal). Each step is a function over one `Asking`.

Follow-ups: `history`'s last user turn is prepended to the question for retrieval, so "And how much did it pay?"
after a Scale AI question searches the Scale AI passages; evidence sentences are then scored half on the question
alone (what is asked) and half on the folded query (the topic). The reader sees only the current question.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from . import answerability, prompt
from .answer import EXTRACTIVE, GENERATED, REFUSED, Answer, Draft, Withheld, citation, extractive
from .checks import (AnswerabilityCheck, EvidenceCheck, LanguageCheck, NamesCheck, ReaderCheck, SupportCheck,
                     VerificationCheck)
from .chunk import Passage
from .cite import MARKER, Support, Verified, check_rendering, split_answer, verify, with_markers
from .config import Config
from .errors import AssistantError, QuestionError
from .evidence import Evidence, evidence_rows, in_document_order, leads, rank_evidence, select, spread
from .extract import page_of
from .generate import Abstention, Generator
from .ingest import Corpus
from .injection import withhold
from .kinds import LONG_KINDS, about_the_articles, question_kind
from .lang import DEFAULT_LANGUAGE, detect_language, identify
from .mentions import unmentioned
from .question import clean_question
from .retrieve import Retriever
from .span import needs_rendering
from .translate import check_translation, translate

__all__ = ["stream", "candidates", "kind_of", "fold_history"]

# "Summarise the articles" reads the lead of every article up to this many; past it, of the retrieved articles only
ALL_LEADS = 12

Live = tuple[Corpus, Retriever]


@dataclass
class Asking:
    """One question being answered: what its steps share."""

    config: Config
    live: Live | None  # (corpus, retriever), once the question is found readable
    question: str
    t0: float = field(default_factory=time.perf_counter)
    spoken: str | None = None  # the language the detector found (None: nothing)
    language: str = DEFAULT_LANGUAGE  # the answer's
    kind: str = "fact"
    passages: list[Passage] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""  # why it is refused before the reader
    withheld: list[Withheld] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def long(self) -> bool:
        """Whether the question asks for more than one fact (a few sentences, each cited)."""
        return self.kind in LONG_KINDS

    def finish(self, text: str, citations: list, mode: str, raw: str = "", tokens: int = 0, **extra) -> Answer:
        """The final `Answer` of this question, with its timings."""
        citations = _paged(citations, self.live[0])
        self.timings.setdefault("first_token", time.perf_counter() - self.t0)
        self.timings["total"] = time.perf_counter() - self.t0
        return Answer(self.question, text, citations, mode == REFUSED, self.language, mode, self.timings,
                      self.passages, raw, self.evidence, tokens, question_language=self.spoken or "", kind=self.kind,
                      withheld=self.withheld, **extra)


@dataclass
class Drafted:
    """What the reader wrote: the draft, its tokens, the first-token measurement, and the chat it was asked in."""

    raw: str
    tokens: int
    abstain: Abstention | None
    generator: Generator
    messages: list
    extra: dict


def kind_of(config: Config, question: str, language: str) -> str:
    """What the question asks for (kinds.py); "fact" for every question when `long_answers` is off."""
    return question_kind(question, language) if config.long_answers else "fact"


def stream(config: Config, live: Callable[[], Live], reader: Callable[[], Generator], embed: Callable,
           question: str, history: Sequence | None) -> Iterator[Draft | Answer]:
    """Yield `Draft` pieces as the reader writes them, then the final `Answer`. `live()`: the (corpus, retriever)
    to answer from, `reader()`: the reader (both asked for only when needed: loading them takes seconds);
    `embed(texts)`: passage-side vectors (verification compares answer sentences with their evidence)."""
    asking = _understand(config, live, question, history)
    if asking.reason:  # refused before the reader is asked
        text = prompt.unsupported_text(asking.spoken) if asking.reason.startswith(LanguageCheck.name) else \
            prompt.refusal_text(asking.language)
        yield Draft(text)
        yield asking.finish(text, [], REFUSED, refusal_reason=asking.reason)
        return
    if config.answer_mode == EXTRACTIVE:
        text, cited = extractive(asking.evidence)
        yield Draft(text)
        yield asking.finish(text, cited, EXTRACTIVE)
        return
    drafted = yield from _draft(asking, reader())
    yield (yield from _say(asking, drafted, embed))


def _understand(config: Config, live: Callable[[], Live], question: str, history: Sequence | None) -> Asking:
    """Clean the question, name its language and kind, and find its evidence (or why it is refused)."""
    t0 = time.perf_counter()
    asking = Asking(config, None, clean_question(question, config.max_question_chars), t0)
    asking.spoken = identify(asking.question, config.language_ratio)
    # the language check runs before retrieval: a question it turns away is neither retrieved nor read
    unsupported = LanguageCheck().reason(asking.spoken) if LanguageCheck.name in config.refusal_checks else ""
    asking.language = DEFAULT_LANGUAGE if unsupported else detect_language(asking.question)
    asking.kind = kind_of(config, asking.question, asking.language)
    asking.live = live()
    if unsupported:
        asking.reason = f"{LanguageCheck.name}: {unsupported}"
    else:
        asking.passages, asking.evidence, asking.reason, asking.withheld = candidates(
            config, asking.question, history, asking.live, asking.language, asking.kind)
    asking.timings["retrieve"] = time.perf_counter() - asking.t0
    return asking


def candidates(config: Config, question: str, history: Sequence | None, live: Live, language: str,
               kind: str = "fact") -> tuple[list[Passage], list[Evidence], str, list[Withheld]]:
    """The retrieved passages, the evidence sentences the reader is shown, the reason for refusing without the
    reader ("" when there is none; the evidence is then empty), and the sentences kept from the reader because they
    give it orders (injection.py). More than one fact (`kind`) gets more sentences (`_spread`)."""
    corpus, retriever = live
    query = fold_history(question, history, config.max_question_chars)
    passages = retriever.search(query, config.k, config.retrieval_mode)
    rows = evidence_rows(passages, retriever.index)  # scored by row: not every sentence of the corpus
    scores = retriever.sentence_scores(question, rows=rows)
    if query != question:  # a follow-up: what is asked comes from the question, the topic from the history
        scores = (scores + retriever.sentence_scores(query, rows=rows)) / 2
    groups = retriever.term_groups(query)
    # a sentence that gives the reader orders is an attack, not evidence: kept out, and recorded
    text_of = lambda source: (a.text if (a := corpus.get(source)) else None)  # noqa: E731
    found, withheld = withhold(rank_evidence(passages, dict(zip(rows, scores.tolist())), retriever.index, question,
                                             retriever.idf, groups), text_of)
    # about the articles themselves: nothing to be close to but the articles; their leads answer it
    if kind in ("summary", "topic") and about_the_articles(question, language):
        lead, held = withhold(_leads(config, question, passages, live), text_of)
        if lead:
            return passages, lead, "", withheld + held
    if why := _refused_before_reading(config, found, question, language, retriever):
        return passages, [], why, withheld
    if kind in LONG_KINDS:
        return passages, _spread(config, kind, found, retriever), "", withheld
    return passages, select(found, config.evidence_sentences, question, retriever.idf, groups,
                            config.evidence_coverage), "", withheld


def _refused_before_reading(config: Config, found: list[Evidence], question: str, language: str,
                            retriever: Retriever) -> str:
    """"check: reason" of the first check that refuses the question on its evidence alone, or ""."""
    checks = [EvidenceCheck()]
    if SupportCheck.name in config.refusal_checks:
        checks.append(SupportCheck(config.refusal_threshold))
    for check in checks:
        if why := check.reason(found):
            return f"{check.name}: {why}"
    if NamesCheck.name in config.refusal_checks and (
            why := NamesCheck().reason(unmentioned(question, language, retriever))):
        return f"{NamesCheck.name}: {why}"
    return ""


def _leads(config: Config, question: str, passages: list[Passage], live: Live) -> list[Evidence]:
    """The lead sentence of each article (of every article up to ALL_LEADS, else of the retrieved ones), the best
    `long_evidence_sentences` for the question: "what are these articles about?"."""
    corpus, retriever = live
    sources = [a.source for a in corpus.articles] if len(corpus.articles) <= ALL_LEADS else \
        list(dict.fromkeys(p.source for p in passages))
    table = retriever.index.passages
    passages_of = getattr(table, "passages_of", None) or (lambda source: [p for p in table if p.source == source])
    found = leads(passages_of, sources, _Scores(retriever, question), retriever.index.sentence_row)
    n = config.long_evidence_sentences
    return sorted(found, key=lambda ev: -ev.score)[:n] if len(found) > n else found


def _spread(config: Config, kind: str, found: list[Evidence], retriever: Retriever) -> list[Evidence]:
    """The evidence for an answer of several facts: chosen by maximal marginal relevance; for a summary or bare
    keywords, in the order the articles tell them."""
    chosen = spread(found, config.long_evidence_sentences, retriever.sentence_vectors([c.row for c in found]),
                    config.long_diversity)
    return in_document_order(chosen) if kind in ("summary", "topic") else chosen


def _draft(asking: Asking, base: Generator) -> Iterator[Draft]:
    """Stream the reader's draft as `Draft` pieces; returns what it wrote (`Drafted`). The draft ends at its first
    line break (a long answer: its first blank line): small models ramble on past it, and closing the stream stops
    the model. A reply that may still become the reader's "no answer" word is held back rather than shown."""
    config, long = asking.config, asking.long
    generator = base.for_prompt(prompt.static_long_messages(config.spotlight)) if long else base
    # a reader that cannot read is not trusted to refuse; with the reader check off, it may not say NONE, but its
    # probability of doing so is still read (the answerability model needs it)
    threshold = config.abstain_threshold if ReaderCheck.name in config.refusal_checks else float("inf")
    abstain = Abstention(prompt.NONE, threshold) if generator.reads else None
    messages = prompt.long_messages(asking.question, asking.evidence, asking.kind, asking.language,
                                    config.spotlight) if long else \
        prompt.build_messages(asking.question, asking.evidence, asking.language, config.spotlight)
    pieces, held, so_far, stop = [], "", "", "\n\n" if long else "\n"
    budget = config.long_answer_tokens if long else config.max_answer_tokens
    with closing(generator.stream(messages, budget, abstain)) as drafted:
        for piece in drafted:
            asking.timings.setdefault("first_token", time.perf_counter() - asking.t0)
            text = so_far + piece
            end = text.find(stop, len(text) - len(text.lstrip()))  # a line break after the first text
            if end != -1:
                piece = text[len(so_far):end]
            if piece:
                pieces.append(piece)
                so_far += piece
                if _may_abstain(so_far, abstain):
                    held += piece
                else:
                    yield Draft(held + piece)
                    held = ""
            if end != -1:
                break
    if pieces:  # from the first piece to the last: what tokens/s is measured over
        asking.timings["generation"] = time.perf_counter() - asking.t0 - asking.timings["first_token"]
    raw, tokens = "".join(pieces).strip(), len(pieces)
    if long:  # one line per sentence it rests on, the marker first: said as sentences ending with it
        raw = prompt.from_lines(raw)
    extra = {"abstain_probability": abstain.probability if abstain else None,
             "token_probabilities": list(abstain.token_probabilities[:tokens]) if abstain else []}
    return Drafted(raw, tokens, abstain, generator, messages, extra)


def _say(asking: Asking, drafted: Drafted, embed: Callable) -> Iterator[Draft]:
    """The answer the draft allows (returned): refused by the reader or the answerability check, verified (and
    rendered in the asker's language), or, when nothing held up, a quote or a refusal (`answer_mode`). A quote's
    translation streams as `Draft` pieces, the first withdrawing the draft."""
    config, raw, tokens, extra = asking.config, drafted.raw, drafted.tokens, drafted.extra
    refuse = lambda why: asking.finish(prompt.refusal_text(asking.language), [], REFUSED, raw, tokens,  # noqa: E731
                                       refusal_reason=why, **extra)
    if ReaderCheck.name in config.refusal_checks and (why := ReaderCheck().reason(drafted.abstain, raw)):
        return refuse(f"{ReaderCheck.name}: {why}")
    checked = _verified(asking, drafted, embed)
    if why := _unanswerable(asking, drafted, checked):
        return refuse(why)
    if checked.text:
        evidence = asking.evidence
        cited = [citation(i, evidence[n - 1], checked.spans.get(n)) for i, n in enumerate(checked.cited, start=1)]
        text = checked.text
        if asking.long and checked.dropped:  # say that part of what was drafted is missing
            extra["note"] = prompt.note_text(asking.language)
        if not asking.long and drafted.abstain is not None and len(checked.cited) == 1 and \
                checked.cited[0] in checked.spans:
            n = checked.cited[0]
            text = _rendered(asking, drafted, evidence[n - 1], checked.spans[n]) or text
        return asking.finish(text, cited, GENERATED, raw, tokens, **extra)
    if config.answer_mode == GENERATED:
        return refuse(f"{VerificationCheck.name}: {VerificationCheck().reason(checked.text)}")
    best = _quoted(raw, asking.evidence, asking.language) if asking.long else asking.evidence[0]
    text, cited = extractive(asking.evidence, best)
    if translated := (yield from _translated(asking, drafted, best, embed)):
        text, extra["note"] = f"“{translated}” [1]", prompt.translated_text(asking.language, best.language)
    return asking.finish(text, cited, EXTRACTIVE, raw, tokens, **extra)


def _verified(asking: Asking, drafted: Drafted, embed: Callable) -> Verified:
    """Each draft sentence checked against what it cites (cite.verify), with the one-fact or long thresholds."""
    config, retriever, long = asking.config, asking.live[1], asking.long
    t_check = time.perf_counter()
    support = Support(embed, config.long_support_coverage if long else config.support_coverage,
                      config.long_support_threshold if long else config.support_threshold, retriever.term_groups,
                      retriever.sentence_vectors([ev.row for ev in asking.evidence]))
    checked = verify(drafted.raw, [(ev.text, ev.language) for ev in asking.evidence], asking.question,
                     asking.language, support, copies=drafted.generator.reads)
    asking.timings["verify"] = time.perf_counter() - t_check
    drafted.extra["dropped"] = checked.dropped
    return checked


def _unanswerable(asking: Asking, drafted: Drafted, checked: Verified) -> str:
    """"answerability: reason" when the answerability model refuses a one-fact answer, else "" (it was fitted on
    one-fact answers: a longer one is left to the other checks). Records its probability and features."""
    abstain, retriever = drafted.abstain, asking.live[1]
    if asking.long or abstain is None or abstain.probability is None:
        return ""
    model = answerability.model()
    reply = answerability.Reply(checked.text or drafted.raw, checked.cited, bool(checked.spans), abstain.probability,
                                drafted.extra["token_probabilities"])
    found = answerability.signals(asking.question, asking.language, asking.evidence, reply, retriever.idf,
                                  retriever.term_groups(asking.question))
    p_unanswerable = model.probability(found)
    drafted.extra["answerability"] = {"probability": p_unanswerable, "features": found.to_dict()}
    if AnswerabilityCheck.name in asking.config.refusal_checks and (
            why := AnswerabilityCheck(model.threshold).reason(p_unanswerable)):
        return f"{AnswerabilityCheck.name}: {why}"
    return ""


def _rendered(asking: Asking, drafted: Drafted, ev: Evidence, span: tuple[int, int]) -> str | None:
    """The one-sentence answer that copies `ev.text[span]`, said in the asker's language when the sentence is in
    another (prompt.render_messages) and the reader's words hold up (cite.check_rendering); None to keep the copy as
    it is. A rendering that fails is recorded in the answer's `dropped`."""
    words, language = ev.text[span[0]:span[1]], asking.language
    if not needs_rendering(words, ev.language, language):
        return None
    t0 = time.perf_counter()
    said = ""
    asked = prompt.render_messages(drafted.messages, drafted.raw, words, language)
    with closing(drafted.generator.stream(asked, 32)) as pieces:
        for piece in pieces:
            said += piece
            if "\n" in said.strip():
                break
    asking.timings["render"] = time.perf_counter() - t0
    said = " ".join(MARKER.sub(" ", said.strip().split("\n")[0]).split()).strip(" \"“”«»'")
    if why := check_rendering(said, words, ev.language, asking.question, language):
        drafted.extra["dropped"] = [*drafted.extra.get("dropped", []), (said, f"rendering: {why}")]
        return None
    return with_markers(said.rstrip(".") + ".", [1])


def _translated(asking: Asking, drafted: Drafted, ev: Evidence, embed: Callable) -> Iterator[Draft]:
    """The quoted sentence `ev` said in the asker's language when it is in another (translate.py; streamed, the first
    piece withdrawing the draft), returned, or None to quote it as written. A translation that fails its check is
    recorded in the answer's `dropped`."""
    config, retriever = asking.config, asking.live[1]
    if not config.translate_quotes or ev.language == asking.language:
        return None
    t0 = time.perf_counter()
    said = yield from translate(drafted.generator, drafted.messages, drafted.raw, ev.text, ev.language,
                                asking.language)
    similarity = float(embed([said])[0] @ retriever.sentence_vectors([ev.row])[0]) if said else 0.0
    why = check_translation(said, (ev.text, ev.language), (asking.question, asking.language), similarity,
                            (config.translation_coverage, config.translation_similarity), retriever.term_groups)
    asking.timings["translate"] = time.perf_counter() - t0
    if why:
        drafted.extra["dropped"] = [*drafted.extra.get("dropped", []),
                                    (said, f"translation: {why} (cosine {similarity:.3f})")]
        return None
    return said


class _Scores:
    """Sentence scores for `question` by row, computed for the rows asked for (the leads of a few articles)."""

    def __init__(self, retriever: Retriever, question: str) -> None:
        self.retriever, self.question = retriever, question

    def __getitem__(self, row: int) -> float:
        return float(self.retriever.sentence_scores(self.question, rows=[row])[0])


def _paged(citations: list, corpus: Corpus) -> list:
    """Each citation of a PDF with the page its sentence is on."""
    out = []
    for c in citations:
        article = corpus.get(c.source) if c.source.lower().endswith(".pdf") else None
        try:
            out.append(dataclasses.replace(c, page=page_of(article.text, c.start)) if article is not None else c)
        except AssistantError:  # the file changed since it was indexed: the citation stands without its page
            out.append(c)
    return out


def _quoted(draft: str, evidence: list[Evidence], language: str) -> Evidence:
    """The sentence to quote when no sentence of a long answer held up: the one the draft cited first (the reader
    found the answer there, and said it in words verification could not match), else the best-scored one (a long
    answer's evidence may be in document order)."""
    for _, cited in split_answer(draft, language):
        for n in cited:
            if 1 <= n <= len(evidence):
                return evidence[n - 1]
    return max(evidence, key=lambda ev: ev.score)


def _may_abstain(text: str, abstain: Abstention | None) -> bool:
    """Could the reply so far still be the reader's "no answer" word (so it is not shown as a draft)?"""
    if abstain is None:
        return False
    if abstain.probability is not None:
        return abstain.probability >= abstain.threshold
    stripped = text.strip()
    return prompt.NONE.startswith(stripped) or stripped.startswith(prompt.NONE)


def fold_history(question: str, history: Sequence | None, limit: int) -> str:
    """The retrieval query: the last user turn of `history` (a string, or a {"role", "content"} message) + question."""
    if not history:
        return question
    if isinstance(history, str) or not isinstance(history, (list, tuple)):
        raise QuestionError(f"history must be a list of previous turns, not {type(history).__name__}")
    for turn in reversed(list(history)):
        if isinstance(turn, str):
            previous = turn
        elif isinstance(turn, dict) and turn.get("role") == "user" and isinstance(turn.get("content"), str):
            previous = turn["content"]
        elif isinstance(turn, (tuple, list)) and turn and isinstance(turn[0], str):
            previous = turn[0]  # (question, answer) pairs
        else:
            continue
        return f"{clean_question(previous, limit)} {question}"
    return question
