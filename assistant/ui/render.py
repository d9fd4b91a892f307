"""The web UI's HTML: an `Answer` (and the articles) as chat messages, the sources panel, the article view and the
articles panel. Every piece of article text, question and model output is escaped, so nothing from a document or a
user can inject markup or script; tested without a browser."""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass, field

from .. import lang
from ..answer import EXTRACTIVE, GENERATED, Answer, Citation, withheld_line
from ..checks import (AnswerabilityCheck, EvidenceCheck, LanguageCheck, NamesCheck, ReaderCheck, SupportCheck,
                      VerificationCheck)
from ..chunk import Span
from ..cite import MARKER

# One click away, in each UI language.
EXAMPLES = [
    "How many parameters does Llama 3.1 have?",
    "Quelle part de Scale AI Meta a-t-elle achetée ?",
    "Quanto custaria treinar os modelos de IA, segundo o CEO da Anthropic?",
    "What is Meta AI's monthly price?",
]

_CITE_LINK = '<a class="cite" href="#src-{turn}-{n}" title="{title}">[{n}]</a>'


@dataclass
class Turn:
    """What the UI keeps of one answered question: enough to re-render it and open its citations' articles."""

    question: str
    text: str
    mode: str
    refused: bool
    language: str
    citations: list[Citation] = field(default_factory=list)
    passages: dict[int, Span] = field(default_factory=dict)  # citation number -> the passage that holds it
    timings: dict[str, float] = field(default_factory=dict)
    refusal_reason: str = ""
    note: str = ""  # said under a longer answer that verification shortened (Answer.note)
    withheld: list[str] = field(default_factory=list)  # the files of sentences kept from the reader (Answer.withheld)
    articles: dict[str, dict] = field(default_factory=dict)  # cited file -> its date and URL (the corpus manifest)

    def to_dict(self) -> dict:
        """What the conversations database keeps of the turn (JSON)."""
        d = dataclasses.asdict(self)
        d["passages"] = {str(n): dataclasses.asdict(p) for n, p in self.passages.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Turn":
        d = dict(d)
        d["citations"] = [Citation(**c) for c in d.get("citations", [])]
        d["passages"] = {int(n): Span(**{k: p[k] for k in ("source", "title", "language", "text", "start", "end")})
                         for n, p in d.get("passages", {}).items()}
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def turn_from_answer(answer: Answer, articles: dict[str, dict] | None = None) -> Turn:
    """Keep the citations and, for each, the retrieved passage that holds the cited sentence (the sentence itself
    when none does, which evidence from retrieval cannot cause)."""
    passages = {c.number: next((p for p in answer.passages
                                if p.source == c.source and p.start <= c.start and c.end <= p.end), c)
                for c in answer.citations}
    return Turn(answer.question, answer.text, answer.mode, answer.refused, answer.language, list(answer.citations),
                passages, dict(answer.timings), answer.refusal_reason, answer.note,
                [w.source for w in answer.withheld], dict(articles or {}))


def _link_markers(escaped: str, turn: int, titles: dict[int, str]) -> str:
    """'[1]' / '[1, 2]' in already-escaped text -> links to the sources of `turn`."""

    def link(m: re.Match) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", m.group(1))]
        return "".join(_CITE_LINK.format(turn=turn, n=n, title=html.escape(titles.get(n, ""), quote=True))
                       for n in numbers)

    return MARKER.sub(link, escaped)


_MODE_CAPTION = {
    GENERATED: "written by the reader; checked against the sentence it cites",
    EXTRACTIVE: "quoted from the article",
}


# Why a question was refused, by the check that refused it (checks.py), for the line under a refusal.
_REFUSAL_WHY = {
    LanguageCheck.name: "The articles were not searched: the question is not in English, Portuguese or French.",
    EvidenceCheck.name: "The closest passages hold no sentence to answer from.",
    SupportCheck.name: "No sentence of the articles is close to the question.",
    NamesCheck.name: "The articles never mention what the question names.",
    ReaderCheck.name: "The reader found no answer in the closest sentences.",
    VerificationCheck.name: "The reader's answer was not supported by the sentences it cited.",
    AnswerabilityCheck.name: "The closest sentences do not seem to answer this question.",
}


def answer_html(turn: Turn, number: int) -> str:
    """The chat message for answered turn `number` (1-based): the answer with clickable markers, or a refusal."""
    left_out = withheld_line(turn.withheld)
    left_out = f'<div class="answer-meta withheld">{html.escape(left_out)}</div>' if left_out else ""
    if turn.refused:
        why = _REFUSAL_WHY.get(turn.refusal_reason.split(":")[0], "")
        line = f'<div class="answer-meta">{html.escape(why)}</div>{left_out}' if why else left_out
        return (f'<div class="refusal" data-turn="{number}" title="{html.escape(turn.refusal_reason, quote=True)}">'
                f'<span class="refusal-icon">∅</span> {html.escape(turn.text)}</div>{line}')
    titles = {c.number: c.title for c in turn.citations}
    body = _link_markers(html.escape(turn.text), number, titles)
    caption = _MODE_CAPTION.get(turn.mode, turn.mode)
    total = turn.timings.get("total")
    seconds = f" · {total:.1f} s" if total is not None else ""
    note = f'<div class="answer-note">{html.escape(turn.note)}</div>' if turn.note else ""
    return (f'<div class="answer" data-turn="{number}">{body}</div>{note}'
            f'<div class="answer-meta">{html.escape(caption)}{seconds}</div>{left_out}')


def draft_html(text: str) -> str:
    """The model's unverified draft while it streams: muted, and labelled as a draft."""
    return f'<div class="draft"><span class="draft-label">drafting…</span> {html.escape(text)}</div>'


def _highlight(passage: Span, citation: Span) -> str:
    """The passage text, escaped, with the cited sentence in <mark>, and in it the words the answer copies (when it
    does) in <b class="answer-words">."""
    text, offset = passage.text, passage.start
    s, e = citation.start - offset, citation.end - offset
    if not (0 <= s <= e <= len(text)) or text[s:e] != citation.text:
        s, e, text = 0, len(citation.text), citation.text
        offset = citation.start
    return f"{html.escape(text[:s])}<mark>{_with_answer(citation, text[s:e], offset + s)}</mark>{html.escape(text[e:])}"


def _with_answer(citation: Span, sentence: str, at: int) -> str:
    """`sentence` (which starts at article offset `at`), escaped, with the copied answer words in bold."""
    a, b = getattr(citation, "answer_start", -1) - at, getattr(citation, "answer_end", -1) - at
    if not 0 <= a < b <= len(sentence):
        return html.escape(sentence)
    return (f'{html.escape(sentence[:a])}<b class="answer-words">{html.escape(sentence[a:b])}</b>'
            f"{html.escape(sentence[b:])}")


def sources_html(turns: list[Turn]) -> str:
    """Every answered turn's sources, latest first: title, language, file, the passage with the cited sentence
    highlighted, and an "open article" button."""
    if not turns:
        return ('<div class="sources-empty">Sources appear here: click a citation such as [1] in an answer to see '
                "the sentence it rests on.</div>")
    sections = []
    for number in range(len(turns), 0, -1):
        turn = turns[number - 1]
        items = []
        for c in turn.citations:
            passage = turn.passages.get(c.number, c)
            language_name = lang.table(c.language)["name"] if c.language in lang.LANGUAGES else c.language
            items.append(
                f'<div class="source" id="src-{number}-{c.number}" data-turn="{number}" data-n="{c.number}">'
                f'<div class="source-head"><span class="source-n">[{c.number}]</span> '
                f'<span class="source-title">{html.escape(c.title)}</span> '
                f'<span class="source-lang">{html.escape(language_name)}</span></div>'
                f'<div class="source-file">{_where(c, turn.articles.get(c.source, {}))}</div>'
                f'<div class="source-passage">{_highlight(passage, c)}</div>'
                f'<button class="open-article" data-turn="{number}" data-n="{c.number}">Open article</button>'
                "</div>")
        if not items:
            items.append('<div class="source-none">No sources: the articles do not answer this question.</div>')
        sections.append(f'<section class="turn-sources" data-turn="{number}"><h4>Q{number}: '
                        f'{html.escape(turn.question)}</h4>{"".join(items)}</section>')
    return "".join(sections)


def _where(c: Citation, meta: dict) -> str:
    """'2025-03-14 · page 2 · file.pdf · characters 10–80' (escaped), the URL a link."""
    parts = [html.escape(meta["date"])] if meta.get("date") else []
    if getattr(c, "page", 0):
        parts.append(f"page {c.page}")
    url = meta.get("url", "")
    if url.startswith(("http://", "https://")):
        parts.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                     f"{html.escape(c.source)}</a>")
    else:
        parts.append(html.escape(c.source))
    parts.append(f"characters {c.start}–{c.end}")
    return " · ".join(parts)


_PANEL_ROWS = 200
_STATUS = {"indexed": "indexed", "waiting": "waiting to be indexed", "indexing": "indexing", "skipped": "skipped"}


def articles_html(rows, updating: bool = False) -> str:
    """The corpus panel: each article's title, language, date and status (a progress bar while it is indexed, the
    reason when it was skipped); `updating`: the index is being updated (answers use the previous one)."""
    if not rows:
        return '<div class="articles-empty">No articles yet: add files or a web address above.</div>'
    items = []
    # what is not indexed first: at 10,000 articles the panel shows the first _PANEL_ROWS, and says how many more
    order = {"indexing": 0, "waiting": 1, "skipped": 2, "indexed": 3}
    ordered = sorted(rows, key=lambda r: (order.get(r.status, 4), r.id))
    for r in ordered[:_PANEL_ROWS]:
        status = html.escape(_STATUS.get(r.status, r.status))
        if r.status == "indexing" and r.progress is not None:
            status += f' <progress max="100" value="{round(100 * r.progress)}"></progress> {round(100 * r.progress)}%'
        if r.reason:
            status += f' <span class="article-reason">{html.escape(r.reason)}</span>'
        title = html.escape(r.title)
        if r.url.startswith(("http://", "https://")):
            title = f'<a href="{html.escape(r.url, quote=True)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        items.append(f'<tr data-id="{html.escape(r.id, quote=True)}" data-status="{html.escape(r.status)}">'
                     f'<td class="article-title">{title}<div class="article-id">{html.escape(r.id)}</div></td>'
                     f"<td>{html.escape(r.language or '')}</td><td>{html.escape(r.date or '')}</td>"
                     f'<td class="article-status">{status}</td></tr>')
    counts = {s: sum(r.status == s for r in rows) for s in _STATUS}
    summary = " · ".join(f"{n} {_STATUS[s]}" for s, n in counts.items() if n)
    if len(rows) > _PANEL_ROWS:
        summary += f" (the first {_PANEL_ROWS} shown; `assistant list` lists them all)"
    if updating:
        summary += " · updating the index: answers use the previous one until it is ready"
    return (f'<div class="articles-summary" data-updating="{str(updating).lower()}">{html.escape(summary)}</div>'
            f'<table class="articles-table"><thead><tr>'
            f"<th>Article</th><th>Language</th><th>Date</th><th>Status</th></tr></thead>"
            f"<tbody>{''.join(items)}</tbody></table>")


def article_html(title: str, source: str, text: str, start: int, end: int) -> str:
    """The whole article, escaped, paragraphs kept, with the sentence text[start:end] marked for scrolling to."""
    if not (0 <= start <= end <= len(text)):
        start = end = 0

    def paragraphs(chunk: str) -> str:
        return html.escape(chunk).replace("\n\n", "</p><p>").replace("\n", "<br>")

    body = (f"{paragraphs(text[:start])}<mark id=\"article-mark\">{paragraphs(text[start:end])}</mark>"
            f"{paragraphs(text[end:])}")
    return (f'<div class="article-view" data-source="{html.escape(source, quote=True)}">'
            f"<h3>{html.escape(title)}</h3><div class=\"article-file\">{html.escape(source)}</div>"
            f"<div class=\"article-body\"><p>{body}</p></div></div>")


# -- the app ----------------------------------------------------------------------------------------------------------

CSS = """
#chat .answer a.cite { font-weight: 600; text-decoration: none; padding: 0 1px; cursor: pointer; }
#chat .answer-meta { font-size: 0.8em; opacity: 0.7; margin-top: 4px; }
#chat .answer-note { font-size: 0.85em; font-style: italic; margin-top: 4px; }
#chat .draft { opacity: 0.55; font-style: italic; }
#chat .draft-label { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em; }
#chat .refusal { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.08); padding: 6px 10px;
  font-style: italic; }
#chat .refusal-icon { font-style: normal; font-weight: 700; color: #d97706; }
#sources .turn-sources h4 { margin: 8px 0 4px; font-size: 0.9em; opacity: 0.8; }
#sources .source { border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 6px; padding: 8px; margin: 6px 0; }
#sources .source.active { border-color: #2563eb; box-shadow: 0 0 0 2px rgba(37, 99, 235, 0.35); }
#sources .source-title { font-weight: 600; }
#sources .source-lang, #sources .source-file { font-size: 0.8em; opacity: 0.75; }
#sources mark, #article mark { background: #fde68a; color: inherit; }
#sources mark b.answer-words { background: #fbbf24; border-radius: 2px; }
#sources .open-article { margin-top: 6px; font-size: 0.85em; cursor: pointer; }
#article .article-file { font-size: 0.8em; opacity: 0.7; }
#articles .articles-summary { font-size: 0.85em; opacity: 0.8; margin-bottom: 6px; }
#articles table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
#articles th, #articles td { text-align: left; padding: 4px 6px; border-bottom: 1px solid rgba(128, 128, 128, 0.2); }
#articles .article-id, #articles .article-reason { font-size: 0.8em; opacity: 0.7; }
#articles tr[data-status="skipped"] .article-status { color: #b45309; }
#articles progress { width: 80px; vertical-align: middle; }
"""

# Runs once in the sources panel. One delegated listener for the whole page: a click on a citation link in the chat
# (or an "open article" button in the panel) highlights that source, scrolls to it, and triggers the panel's
# "select" event with {turn, n}, which renders the article view on the server. Capture phase, so the chat's own
# link handling (which opens links in a new tab) never sees the click.
SOURCES_JS = """
const pick = (turn, n, scroll) => {
  document.querySelectorAll('#sources .source.active').forEach(el => el.classList.remove('active'));
  const item = document.getElementById(`src-${turn}-${n}`);
  if (item) {
    item.classList.add('active');
    if (scroll) item.scrollIntoView({block: 'nearest'});
  }
  trigger('select', {turn: Number(turn), n: Number(n)});
};
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a.cite');
  if (link) {
    const m = (link.getAttribute('href') || '').match(/^#src-(\\d+)-(\\d+)$/);
    if (m) { event.preventDefault(); event.stopPropagation(); pick(m[1], m[2], true); }
    return;
  }
  const button = event.target.closest && event.target.closest('#sources .open-article');
  if (button) { event.preventDefault(); pick(button.dataset.turn, button.dataset.n, false); }
}, true);
"""

ARTICLE_JS = """
watch('value', () => {
  const mark = element.querySelector('#article-mark');
  if (mark) mark.scrollIntoView({block: 'center', inline: 'nearest'});
});
"""
