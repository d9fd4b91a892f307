"""The web UI: a Gradio Blocks chat over `Assistant.stream`, with clickable citations, a sources panel and an
article viewer.

Two layers:
- pure functions that turn an `Answer` (and the articles) into chat-message HTML, the sources panel and the article
  view. They escape every piece of article text, question and model output, so nothing from a document or a user
  can inject markup or script; they are tested without a browser;
- `build_app(assistant)`, the Blocks app: it streams the model's draft (shown muted, as a draft), then replaces it
  with the verified answer; keeps each session's turns in `gr.State` (follow-ups use them as `history`); applies the
  session's settings through `Assistant.with_settings`; re-indexes first when a file in the corpus folder changed
  (`Assistant.refresh(wait=False)`: in the background, answering from the previous index meanwhile); turns library
  errors into `gr.Error`.

A click on a citation marker `[n]` in the chat is handled in the browser (a delegated listener installed by the
sources panel): it highlights and scrolls to source n of that turn in the sources panel, and asks the server for
the article view of that citation, which opens the whole article scrolled to the cited sentence.

Conversations are kept on the server (conversations.py, SQLite) under a random id the browser keeps in its local
storage (`gr.BrowserState`): a reload reopens the latest one; past ones are listed, renamed, deleted, exported as
Markdown. The articles panel lists the corpus with each article's status (refreshed every two seconds) and, unless
the app is read-only, takes uploads (several files at once), web addresses and removals, all through
`Assistant.add` / `Assistant.remove`.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import lang
from .answer import Answer, Citation, Draft, withheld_line
from .chunk import Span
from .cite import MARKER
from .config import ANSWER_MODES, RETRIEVAL_MODES
from .errors import AssistantError
from .question import clean_question

log = logging.getLogger(__name__)

__all__ = ["Turn", "turn_from_answer", "answer_html", "draft_html", "sources_html", "article_html", "build_app",
           "EXAMPLES"]

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
    "generated": "written by the reader; checked against the sentence it cites",
    "extractive": "quoted from the article",
}


# Why a question was refused, by the check that refused it (checks.py), for the line under a refusal.
_REFUSAL_WHY = {
    "language": "The articles were not searched: the question is not in English, Portuguese or French.",
    "evidence": "The closest passages hold no sentence to answer from.",
    "support": "No sentence of the articles is close to the question.",
    "names": "The articles never mention what the question names.",
    "reader": "The reader found no answer in the closest sentences.",
    "verification": "The reader's answer was not supported by the sentences it cited.",
    "answerability": "The closest sentences do not seem to answer this question.",
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

_CSS = """
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
_SOURCES_JS = """
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

_ARTICLE_JS = """
watch('value', () => {
  const mark = element.querySelector('#article-mark');
  if (mark) mark.scrollIntoView({block: 'center', inline: 'nearest'});
});
"""


def build_app(assistant, *, read_only: bool = False):
    """The Gradio Blocks app over `assistant` (already indexed, model loaded). Returns (blocks, css). `read_only`:
    articles cannot be added or removed from the browser (the controls, and their routes, do not exist)."""
    try:
        import gradio as gr
    except ImportError:
        raise AssistantError("the web UI needs gradio: pip install gradio") from None
    from .conversations import Conversations, markdown, new_owner

    base = assistant.config
    readers = assistant.readers or [base.model]
    described = {name: assistant.load_reader(name).description for name in assistant.readers}
    store = Conversations(Path(base.index_dir) / "conversations.sqlite3")
    exports = Path(tempfile.mkdtemp(prefix="news-assistant-exports-"))

    def past_update(owner, conversation):
        return gr.update(choices=[(title, cid) for cid, title in store.list(owner)], value=conversation or None)

    def export_file(owner, conversation):
        """The conversation as a Markdown file for the export button (None: nothing to export yet)."""
        turns = store.turns(owner, conversation) if conversation else []
        if not turns:
            return None
        cited = {c["source"] for t in turns for c in t.get("citations", [])}
        text = markdown(store.title(owner, conversation), turns, assistant.article_meta(cited))
        folder = exports / conversation
        folder.mkdir(exist_ok=True)
        path = folder / "conversation.md"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def ask(question, chat, turns, k, retrieval_mode, answer_mode, reader=base.model, owner="", conversation=""):
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        before = list(chat)
        try:
            clean_question(question, base.max_question_chars)  # fail before the chat changes
            _refresh(assistant, gr)
            view = assistant.with_settings(k=int(k), retrieval_mode=retrieval_mode, answer_mode=answer_mode,
                                           model=reader or base.model)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        history = [{"role": "user", "content": t.question} for t in turns]
        chat = before + [{"role": "user", "content": html.escape(question)},
                         {"role": "assistant", "content": draft_html("")}]
        skip4 = (gr.skip(),) * 4
        yield "", chat, turns, gr.skip(), *skip4
        draft = ""
        try:
            for item in view.stream(question, history or None):
                if isinstance(item, Draft):
                    draft += item.text
                    chat[-1] = {"role": "assistant", "content": draft_html(draft)}
                    yield gr.skip(), chat, gr.skip(), gr.skip(), *skip4
                else:
                    turn = turn_from_answer(item, assistant.article_meta({c.source for c in item.citations}))
                    turns = list(turns) + [turn]
                    chat[-1] = {"role": "assistant", "content": answer_html(turns[-1], len(turns))}
                    try:  # (asked before the page's load handler gave this browser its id: not kept)
                        if owner:
                            conversation = store.append(owner, conversation, turn.to_dict())
                    except AssistantError as exc:  # the answer stands; only keeping it failed
                        gr.Warning(f"This answer could not be saved: {exc}")
                    yield (gr.skip(), chat, turns, sources_html(turns), conversation,
                           past_update(owner, conversation), export_file(owner, conversation), gr.skip())
        except AssistantError as exc:  # e.g. the model server went away: the chat and the question are restored
            yield question, before, gr.skip(), gr.skip(), *skip4
            raise gr.Error(str(exc)) from None

    def open_citation(turns, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        try:
            turn = turns[int(data.get("turn", 0)) - 1]
            citation = next(c for c in turn.citations if c.number == int(data.get("n", 0)))
        except (IndexError, StopIteration, TypeError, ValueError):
            raise gr.Error("That citation is no longer in this chat.") from None
        article = assistant.article(citation.source)
        if article is None:
            raise gr.Error(f"The article {citation.source} is no longer in the corpus.")
        try:
            text = article.text  # read now from its file when the corpus did not read it again
        except AssistantError as exc:  # changed since: the next refresh reads it
            raise gr.Error(str(exc)) from None
        return article_html(article.title, article.source, text, citation.start, citation.end)

    open_citation.__annotations__["evt"] = gr.EventData  # resolved here: this module uses string annotations

    def shown(owner, conversation):
        """(chat, turns, sources, article, box, conversation, past, export) for a stored conversation, or empty."""
        turns = [Turn.from_dict(t) for t in store.turns(owner, conversation)] if conversation else []
        chat = []
        for n, turn in enumerate(turns, start=1):
            chat += [{"role": "user", "content": html.escape(turn.question)},
                     {"role": "assistant", "content": answer_html(turn, n)}]
        return (chat, turns, sources_html(turns), '<div class="article-empty"></div>', "",
                conversation if turns else "", past_update(owner, conversation if turns else ""),
                export_file(owner, conversation) if turns else None)

    def on_load(owner):
        owner = owner if isinstance(owner, str) and len(owner) >= 16 else new_owner()
        latest = store.list(owner)
        view = list(shown(owner, latest[0][0] if latest else ""))
        view[4] = gr.skip()  # a question typed while the page loaded stays
        return (owner, *view)

    def open_conversation(owner, conversation):
        return shown(owner, conversation or "")

    def new_chat(owner):
        return shown(owner, "")

    def rename_conversation(owner, conversation, title):
        if not conversation:
            raise gr.Error("Ask a question first: there is no conversation to rename.")
        store.rename(owner, conversation, title or "")
        return past_update(owner, conversation), ""

    def delete_conversation(owner, conversation):
        if conversation:
            store.delete(owner, conversation)
        return shown(owner, "")

    with gr.Blocks(title="News assistant", fill_width=True) as app:
        gr.Markdown("## Ask the articles\nAnswers come only from the indexed news articles, with the exact "
                    "sentence each one rests on. Ask in English, Portuguese or French.")
        owner = gr.BrowserState("", storage_key="news-assistant-owner")
        conversation = gr.State("")
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                clear = gr.Button("New chat", elem_id="new-chat", size="sm")
                past = gr.Radio([], label="Conversations", elem_id="conversations")
                with gr.Row():
                    title_box = gr.Textbox(show_label=False, placeholder="New title", elem_id="rename-title",
                                           scale=3, max_lines=1)
                    rename = gr.Button("Rename", elem_id="rename", size="sm", scale=1)
                delete = gr.Button("Delete conversation", elem_id="delete-chat", size="sm", variant="stop")
                export = gr.DownloadButton("Export as Markdown", elem_id="export", size="sm", value=None)
            with gr.Column(scale=3):
                chat = gr.Chatbot(elem_id="chat", label="Conversation", height=460, sanitize_html=True,
                                  buttons=["copy"], feedback_options=None,
                                  placeholder="Ask a question about the articles.")
                with gr.Row():
                    box = gr.Textbox(elem_id="question", show_label=False, scale=8, max_lines=4,
                                     placeholder="e.g. How many parameters does Llama 3.1 have?")
                    send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                gr.Examples(EXAMPLES, inputs=box, label="Examples")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(1, 10, value=base.k, step=1, label="Passages retrieved (k)")
                    retrieval_mode = gr.Radio(list(RETRIEVAL_MODES), value=base.retrieval_mode,
                                              label="Retrieval")
                    answer_mode = gr.Radio(list(ANSWER_MODES), value=base.answer_mode,
                                           label="Answer", info="auto: the model's verified answer, else a quote")
                    reader = gr.Dropdown(readers, value=base.model, label="Reader", elem_id="reader",
                                         info=" · ".join(f"{n}: {d}" for n, d in described.items())
                                         or "answers are quotes (no reader loaded)",
                                         interactive=len(readers) > 1)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html([]), elem_id="sources", js_on_load=_SOURCES_JS, max_height=480)
                gr.Markdown("### Article")
                article = gr.HTML('<div class="article-empty">Open a citation to read the whole article.</div>',
                                  elem_id="article", js_on_load=_ARTICLE_JS, max_height=360)
        articles_panel(gr, assistant, read_only)

        inputs = [box, chat, turns, k, retrieval_mode, answer_mode, reader, owner, conversation]
        outputs = [box, chat, turns, sources, conversation, past, export, title_box]
        # one queue for both ways of asking: the model answers one question at a time
        send.click(ask, inputs, outputs, api_name="ask", concurrency_id="model")
        box.submit(ask, inputs, outputs, api_name=False, concurrency_id="model")
        sources.select(open_citation, [turns], [article], api_name=False)
        view = [chat, turns, sources, article, box, conversation, past, export]
        app.load(on_load, [owner], [owner, *view], api_name=False)
        past.input(open_conversation, [owner, past], view, api_name=False)
        clear.click(new_chat, [owner], view, api_name=False)
        delete.click(delete_conversation, [owner, conversation], view, api_name=False)
        rename.click(rename_conversation, [owner, conversation, title_box], [past, title_box], api_name=False)

        def answer(question: str, history: list[str] | None = None) -> dict:
            """The verified Answer as JSON (text, citations with offsets, mode, refused, timings): for programs."""
            try:
                _refresh(assistant, None)
                return assistant.ask(question, history or None).to_dict()
            except AssistantError as exc:
                raise gr.Error(str(exc)) from None

        answer.__annotations__.update(question=str, history=list[str] | None, **{"return": dict})
        gr.api(answer, api_name="answer", concurrency_id="model")
    return app, _CSS


_FILE_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"]


def articles_panel(gr, assistant, read_only: bool) -> None:
    """The corpus panel: the articles and their status, refreshed every two seconds; unless `read_only`, an upload
    area (several files at once), a web address box and a remove button."""
    limit = assistant.config.max_upload_files

    def rows():
        _refresh(assistant, None)  # a finished background update is taken in; a changed folder starts one
        found = assistant.articles()
        return articles_html(found, assistant.updating), gr.update(choices=[(f"{r.title} ({r.id})", r.id) for r in found])

    def upload(files):
        files = files or []
        if len(files) > limit:
            raise gr.Error(f"{len(files)} files at once: the limit is {limit} (max_upload_files).")
        added = []
        for path in files:
            name = Path(path).name  # Gradio keeps the uploaded file's own name in its temporary folder
            try:
                added.append(assistant.add(path, name=name, index=False).title)
            except AssistantError as exc:
                gr.Warning(str(exc))
        if added:
            _refresh(assistant, gr)
            gr.Info(f"Added {len(added)}: {', '.join(added)}. Indexing in the background.")
        return None, *rows()

    def add_url(url):
        url = (url or "").strip()
        if not url:
            raise gr.Error("Paste the address of an article first.")
        try:
            info = assistant.add(url, index=False)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        _refresh(assistant, gr)
        gr.Info(f"Added {info.title}. Indexing in the background.")
        return "", *rows()

    def remove(article_id):
        if not article_id:
            raise gr.Error("Pick the article to remove first.")
        try:
            assistant.remove(article_id, wait=False)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        gr.Info(f"Removed {article_id}.")
        panel_html, choices = rows()
        return panel_html, gr.update(choices=choices["choices"], value=None)

    with gr.Accordion("Articles", open=False, elem_id="articles-panel"):
        if not read_only:
            files = gr.File(file_count="multiple", file_types=_FILE_TYPES, type="filepath", elem_id="upload",
                            label=f"Add articles: drop .txt, .md, .html, .pdf or .docx files (up to {limit})")
            with gr.Row():
                url = gr.Textbox(show_label=False, placeholder="https://… the address of an article", scale=5,
                                 elem_id="url", max_lines=1)
                add_button = gr.Button("Add page", elem_id="add-url", scale=1)
        html_rows, choices = rows()
        panel = gr.HTML(html_rows, elem_id="articles")
        which = gr.Dropdown(choices["choices"], label="Article", elem_id="article-pick", visible=not read_only)
        timer = gr.Timer(2.0)
        timer.tick(rows, None, [panel, which], api_name=False, show_progress="hidden")
        if not read_only:
            drop = gr.Button("Remove article", elem_id="remove-article", variant="stop", size="sm")
            files.upload(upload, [files], [files, panel, which], api_name=False)
            add_button.click(add_url, [url], [url, panel, which], api_name=False)
            url.submit(add_url, [url], [url, panel, which], api_name=False)
            drop.click(remove, [which], [panel, which], api_name=False)


def _refresh(assistant, gr) -> None:
    """Pick up articles added to corpus/ while serving: the index is updated in the background and questions are
    answered from the previous one meanwhile. Said in the UI when `gr` is given; a failed update is a warning, not a
    failed question."""
    try:
        report = assistant.refresh(wait=False)
    except AssistantError as exc:
        log.warning("%s", exc)
        if gr is not None:
            gr.Warning(f"The articles changed but the index could not be updated (answers use the previous one): {exc}")
        return
    if gr is None:
        return
    if report is not None and report.wrote:
        gr.Info(f"Index updated: {report.summary()}")
    if assistant.updating:
        gr.Info("The articles changed: the index is being updated; until it is ready, answers come from the previous "
                "articles.")


# The largest request body the server reads: a question is at most max_question_chars, and a long chat history with
# its answers fits many times over. Larger bodies are refused before they are read (a 30 MB question used to be read,
# rejected as too long, and its memory kept).
MAX_REQUEST_BYTES = 1_000_000


class _BodyLimit:
    """ASGI middleware: every request body is counted as it arrives, and one over `limit` bytes is answered 413
    before the app reads any of it. A declared Content-Length over the limit is refused unread; a body without one
    (Transfer-Encoding: chunked) is received here first, up to the limit, and handed to the app only once it has
    ended within it, so that a route never starts on a body it cannot finish (Gradio's upload route wrote a temporary
    file and logged a ClientDisconnect traceback for each cut-off body). A client that leaves mid-body is not the
    app's concern either."""

    def __init__(self, app, limit: int = MAX_REQUEST_BYTES, upload_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        self.upload_limit = upload_limit if upload_limit is not None else limit  # the upload route's

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope.get("path", "").endswith("/gradio_api/upload") else self.limit
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await self._refuse(send, limit)
            return await self.app(scope, receive, send)  # the server holds the client to its declared length
        messages, seen = [], 0
        while True:  # no declared length: read it all here, or stop at the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            seen += len(message.get("body", b""))
            if seen > limit:
                return await self._refuse(send, limit)
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send, limit: int) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": f"request body over {limit} bytes".encode()})


def read_auth_file(path) -> list[tuple[str, str]]:
    """`user:password` lines of a password file (blank lines and # comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssistantError(f"cannot read the password file {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    pairs = [tuple(line.split(":", 1)) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise AssistantError(f"the password file {path} must hold user:password lines")
    return [(u.strip(), p.strip()) for u, p in pairs]


def serve(assistant, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True,
          read_only: bool = False, auth: list[tuple[str, str]] | None = None):
    """Build the app and serve it; model calls are queued one at a time (one model, two cores). `read_only`: no
    adding or removing articles from the browser; `auth`: (user, password) pairs that must log in first."""
    from starlette.middleware import Middleware

    config = assistant.config
    app, css = build_app(assistant, read_only=read_only)
    app.queue(default_concurrency_limit=1, max_size=64)
    upload_limit = config.max_upload_bytes
    try:
        app.launch(server_name=host, server_port=port, share=share, css=css, prevent_thread_lock=not block,
                   show_error=False, quiet=True, footer_links=["api"], auth=auth or None,
                   max_file_size=config.max_article_bytes,
                   app_kwargs={"middleware": [Middleware(_BodyLimit, upload_limit=upload_limit)]})
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise AssistantError(f"cannot serve on {host}:{port}: {exc}") from None
    return app
