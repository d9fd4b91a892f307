"""The Gradio Blocks app over `Assistant.stream`: the chat, the conversations, the sources and article panes, the
settings and the articles panel.

It streams the reader's draft (shown muted), then replaces it with the verified answer; keeps each session's turns
in `gr.State` (follow-ups use them as `history`); applies the session's settings through `Assistant.with_settings`;
re-indexes first when a file in the corpus folder changed (`Assistant.refresh(wait=False)`: in the background,
answering from the previous index meanwhile); turns library errors into `gr.Error`. A click on a citation marker is
handled in the browser (render.SOURCES_JS) and asks the server for the article view of that citation.
Conversations are kept on the server (conversations.py) under a random id the browser keeps (`gr.BrowserState`).
"""

from __future__ import annotations

import html
import logging
import shutil
import tempfile
import weakref
from pathlib import Path
from types import SimpleNamespace

from ..answer import Draft
from ..config import ANSWER_MODES, RETRIEVAL_MODES
from ..errors import AssistantError
from ..question import clean_question
from .render import (ARTICLE_JS, CSS, EXAMPLES, SOURCES_JS, Turn, answer_html, article_html, articles_html,
                     draft_html, sources_html, turn_from_answer)

log = logging.getLogger("assistant.ui")

FILE_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"]


def build_app(assistant, *, read_only: bool = False):
    """The Gradio Blocks app over `assistant` (already indexed, model loaded). Returns (blocks, css). `read_only`:
    articles cannot be added or removed from the browser (the controls, and their routes, do not exist)."""
    try:
        import gradio as gr
    except ImportError:
        raise AssistantError("the web UI needs gradio: pip install gradio") from None
    chat = _Chat(gr, assistant)
    with gr.Blocks(title="News assistant", fill_width=True) as app:
        c = _layout(gr, assistant)
        articles_panel(gr, assistant, read_only)
        _wire(gr, app, chat, c)
    return app, CSS


class _Chat:
    """The chat's handlers: asking, opening a citation, and the stored conversations of a browser (`owner`)."""

    def __init__(self, gr, assistant) -> None:
        from ..conversations import Conversations

        self.gr, self.assistant, self.base = gr, assistant, assistant.config
        self.store = Conversations(Path(self.base.index_dir) / "conversations.sqlite3")
        self.exports = Path(tempfile.mkdtemp(prefix="news-assistant-exports-"))
        # exports are made for one download: the folder goes with the app (or the process)
        weakref.finalize(self, shutil.rmtree, self.exports, ignore_errors=True)

    def past_update(self, owner, conversation):
        choices = [(title, cid) for cid, title in self.store.list(owner)]
        return self.gr.update(choices=choices, value=conversation or None)

    def export_file(self, owner, conversation):
        """The conversation as a Markdown file for the export button (None: nothing to export yet)."""
        from ..conversations import markdown

        turns = self.store.turns(owner, conversation) if conversation else []
        if not turns:
            return None
        cited = {c["source"] for t in turns for c in t.get("citations", [])}
        text = markdown(self.store.title(owner, conversation), turns, self.assistant.article_meta(cited))
        folder = self.exports / conversation
        folder.mkdir(exist_ok=True)
        path = folder / "conversation.md"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def ask(self, question, chat, turns, session: dict):
        """Stream one answer into the chat: the draft, then the verified answer, kept in the conversation.
        `session`: the page's k, retrieval_mode, answer_mode and reader, and the browser's owner id and open
        conversation (each may be missing: a program calling /ask sends what it has)."""
        gr, base = self.gr, self.base
        owner, conversation = session.get("owner") or "", session.get("conversation") or ""
        k, reader = session.get("k") or base.k, session.get("reader") or base.model
        retrieval_mode = session.get("retrieval_mode") or base.retrieval_mode
        answer_mode = session.get("answer_mode") or base.answer_mode
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        before = list(chat)
        try:
            clean_question(question, base.max_question_chars)  # fail before the chat changes
            refresh(self.assistant, gr)
            view = self.assistant.with_settings(k=int(k), retrieval_mode=retrieval_mode, answer_mode=answer_mode,
                                                model=reader)
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
                    draft = (draft if not item.restart else "") + item.text
                    chat[-1] = {"role": "assistant", "content": draft_html(draft)}
                    yield gr.skip(), chat, gr.skip(), gr.skip(), *skip4
                else:
                    turns, conversation = self.keep(item, turns, owner, conversation)
                    chat[-1] = {"role": "assistant", "content": answer_html(turns[-1], len(turns))}
                    yield (gr.skip(), chat, turns, sources_html(turns), conversation,
                           self.past_update(owner, conversation), self.export_file(owner, conversation), gr.skip())
        except AssistantError as exc:  # e.g. the model server went away: the chat and the question are restored
            yield question, before, gr.skip(), gr.skip(), *skip4
            raise gr.Error(str(exc)) from None

    def keep(self, answer, turns, owner, conversation):
        """The turns with this answer's, and the conversation it is stored in (a failed save is a warning)."""
        turn = turn_from_answer(answer, self.assistant.article_meta({c.source for c in answer.citations}))
        try:  # (asked before the page's load handler gave this browser its id: not kept)
            if owner:
                conversation = self.store.append(owner, conversation, turn.to_dict())
        except AssistantError as exc:  # the answer stands; only keeping it failed
            self.gr.Warning(f"This answer could not be saved: {exc}")
        return list(turns) + [turn], conversation

    def open_citation(self, turns, evt):
        gr = self.gr
        data = getattr(evt, "_data", None) or {}
        try:
            turn = turns[int(data.get("turn", 0)) - 1]
            citation = next(c for c in turn.citations if c.number == int(data.get("n", 0)))
        except (IndexError, StopIteration, TypeError, ValueError):
            raise gr.Error("That citation is no longer in this chat.") from None
        article = self.assistant.article(citation.source)
        if article is None:
            raise gr.Error(f"The article {citation.source} is no longer in the corpus.")
        try:
            text = article.text  # read now from its file when the corpus did not read it again
        except AssistantError as exc:  # changed since: the next refresh reads it
            raise gr.Error(str(exc)) from None
        return article_html(article.title, article.source, text, citation.start, citation.end)

    def shown(self, owner, conversation):
        """(chat, turns, sources, article, box, conversation, past, export) for a stored conversation, or empty."""
        turns = [Turn.from_dict(t) for t in self.store.turns(owner, conversation)] if conversation else []
        chat = []
        for n, turn in enumerate(turns, start=1):
            chat += [{"role": "user", "content": html.escape(turn.question)},
                     {"role": "assistant", "content": answer_html(turn, n)}]
        return (chat, turns, sources_html(turns), '<div class="article-empty"></div>', "",
                conversation if turns else "", self.past_update(owner, conversation if turns else ""),
                self.export_file(owner, conversation) if turns else None)

    def on_load(self, owner):
        from ..conversations import new_owner

        owner = owner if isinstance(owner, str) and len(owner) >= 16 else new_owner()
        latest = self.store.list(owner)
        view = list(self.shown(owner, latest[0][0] if latest else ""))
        view[4] = self.gr.skip()  # a question typed while the page loaded stays
        return (owner, *view)

    def open_conversation(self, owner, conversation):
        return self.shown(owner, conversation or "")

    def new_chat(self, owner):
        return self.shown(owner, "")

    def rename_conversation(self, owner, conversation, title):
        if not conversation:
            raise self.gr.Error("Ask a question first: there is no conversation to rename.")
        self.store.rename(owner, conversation, title or "")
        return self.past_update(owner, conversation), ""

    def delete_conversation(self, owner, conversation):
        if conversation:
            self.store.delete(owner, conversation)
        return self.shown(owner, "")

    def answer(self, question: str, history: list[str] | None = None) -> dict:
        """The verified Answer as JSON (text, citations with offsets, mode, refused, timings): for programs."""
        try:
            refresh(self.assistant, None)
            return self.assistant.ask(question, history or None).to_dict()
        except AssistantError as exc:
            raise self.gr.Error(str(exc)) from None


def _layout(gr, assistant) -> SimpleNamespace:
    """The page: conversations on the left, the chat and its settings, the sources and the article on the right."""
    base = assistant.config
    readers = assistant.readers or [base.model]
    described = {name: assistant.load_reader(name).description for name in assistant.readers}
    c = SimpleNamespace()
    gr.Markdown("## Ask the articles\nAnswers come only from the indexed news articles, with the exact "
                "sentence each one rests on. Ask in English, Portuguese or French.")
    c.owner = gr.BrowserState("", storage_key="news-assistant-owner")
    c.conversation, c.turns = gr.State(""), gr.State([])
    with gr.Row():
        with gr.Column(scale=1, min_width=220):
            c.clear = gr.Button("New chat", elem_id="new-chat", size="sm")
            c.past = gr.Radio([], label="Conversations", elem_id="conversations")
            with gr.Row():
                c.title_box = gr.Textbox(show_label=False, placeholder="New title", elem_id="rename-title",
                                         scale=3, max_lines=1)
                c.rename = gr.Button("Rename", elem_id="rename", size="sm", scale=1)
            c.delete = gr.Button("Delete conversation", elem_id="delete-chat", size="sm", variant="stop")
            c.export = gr.DownloadButton("Export as Markdown", elem_id="export", size="sm", value=None)
        with gr.Column(scale=3):
            c.chat = gr.Chatbot(elem_id="chat", label="Conversation", height=460, sanitize_html=True,
                                buttons=["copy"], feedback_options=None,
                                placeholder="Ask a question about the articles.")
            with gr.Row():
                c.box = gr.Textbox(elem_id="question", show_label=False, scale=8, max_lines=4,
                                   placeholder="e.g. How many parameters does Llama 3.1 have?")
                c.send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
            gr.Examples(EXAMPLES, inputs=c.box, label="Examples")
            with gr.Accordion("Settings", open=False, elem_id="settings"):
                c.k = gr.Slider(1, 10, value=base.k, step=1, label="Passages retrieved (k)")
                c.retrieval_mode = gr.Radio(list(RETRIEVAL_MODES), value=base.retrieval_mode, label="Retrieval")
                c.answer_mode = gr.Radio(list(ANSWER_MODES), value=base.answer_mode, label="Answer",
                                         info="auto: the model's verified answer, else a quote")
                c.reader = gr.Dropdown(readers, value=base.model, label="Reader", elem_id="reader",
                                       info=" · ".join(f"{n}: {d}" for n, d in described.items())
                                       or "answers are quotes (no reader loaded)", interactive=len(readers) > 1)
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            c.sources = gr.HTML(sources_html([]), elem_id="sources", js_on_load=SOURCES_JS, max_height=480)
            gr.Markdown("### Article")
            c.article = gr.HTML('<div class="article-empty">Open a citation to read the whole article.</div>',
                                elem_id="article", js_on_load=ARTICLE_JS, max_height=360)
    return c


def _wire(gr, app, chat: _Chat, c: SimpleNamespace) -> None:
    """The events: asking (one queue for both ways, and the `answer` API: the model answers one question at a
    time), citations, and the conversations."""
    inputs = [c.box, c.chat, c.turns]
    # the session's values come by name: they are also the /ask API's named parameters, in this order
    session = {"k": c.k, "retrieval_mode": c.retrieval_mode, "answer_mode": c.answer_mode, "reader": c.reader,
               "owner": c.owner, "conversation": c.conversation}
    outputs = [c.box, c.chat, c.turns, c.sources, c.conversation, c.past, c.export, c.title_box]

    def ask(question, chat_, turns, owner=None, **values):  # owner=None: a program may leave it out (not kept)
        yield from chat.ask(question, chat_, turns, {**values, "owner": owner})

    def open_citation(turns, evt: gr.EventData):
        return chat.open_citation(turns, evt)

    def answer(question: str, history: list[str] | None = None) -> dict:
        """The verified Answer as JSON (text, citations with offsets, mode, refused, timings): for programs."""
        return chat.answer(question, history)

    # resolved here: this module uses string annotations, and Gradio reads them to pass events and describe the API
    open_citation.__annotations__["evt"] = gr.EventData
    answer.__annotations__.update(question=str, history=list[str] | None, **{"return": dict})
    c.send.click(ask, inputs, outputs, api_name="ask", concurrency_id="model", inputs_kwargs=session)
    c.box.submit(ask, inputs, outputs, api_name=False, concurrency_id="model", inputs_kwargs=session)
    c.sources.select(open_citation, [c.turns], [c.article], api_name=False)
    view = [c.chat, c.turns, c.sources, c.article, c.box, c.conversation, c.past, c.export]
    app.load(chat.on_load, [c.owner], [c.owner, *view], api_name=False)
    c.past.input(chat.open_conversation, [c.owner, c.past], view, api_name=False)
    c.clear.click(chat.new_chat, [c.owner], view, api_name=False)
    c.delete.click(chat.delete_conversation, [c.owner, c.conversation], view, api_name=False)
    c.rename.click(chat.rename_conversation, [c.owner, c.conversation, c.title_box], [c.past, c.title_box],
                   api_name=False)
    gr.api(answer, api_name="answer", concurrency_id="model")


def articles_panel(gr, assistant, read_only: bool) -> None:
    """The corpus panel: the articles and their status, refreshed every two seconds; unless `read_only`, an upload
    area (several files at once), a web address box and a remove button."""
    limit = assistant.config.max_upload_files
    act = _Articles(gr, assistant)
    with gr.Accordion("Articles", open=False, elem_id="articles-panel"):
        if not read_only:
            files = gr.File(file_count="multiple", file_types=FILE_TYPES, type="filepath", elem_id="upload",
                            label=f"Add articles: drop .txt, .md, .html, .pdf or .docx files (up to {limit})")
            with gr.Row():
                url = gr.Textbox(show_label=False, placeholder="https://… the address of an article", scale=5,
                                 elem_id="url", max_lines=1)
                add_button = gr.Button("Add page", elem_id="add-url", scale=1)
        html_rows, choices = act.rows()
        panel = gr.HTML(html_rows, elem_id="articles")
        which = gr.Dropdown(choices["choices"], label="Article", elem_id="article-pick", visible=not read_only)
        timer = gr.Timer(2.0)
        timer.tick(act.rows, None, [panel, which], api_name=False, show_progress="hidden")
        if not read_only:
            drop = gr.Button("Remove article", elem_id="remove-article", variant="stop", size="sm")
            files.upload(act.upload, [files], [files, panel, which], api_name=False)
            add_button.click(act.add_url, [url], [url, panel, which], api_name=False)
            url.submit(act.add_url, [url], [url, panel, which], api_name=False)
            drop.click(act.remove, [which], [panel, which], api_name=False)


class _Articles:
    """The articles panel's handlers, all through `Assistant.add` / `Assistant.remove`."""

    def __init__(self, gr, assistant) -> None:
        self.gr, self.assistant, self.limit = gr, assistant, assistant.config.max_upload_files

    def rows(self):
        refresh(self.assistant, None)  # a finished background update is taken in; a changed folder starts one
        found = self.assistant.articles()
        choices = [(f"{r.title} ({r.id})", r.id) for r in found]
        return articles_html(found, self.assistant.updating), self.gr.update(choices=choices)

    def upload(self, files):
        gr, files = self.gr, files or []
        if len(files) > self.limit:
            raise gr.Error(f"{len(files)} files at once: the limit is {self.limit} (max_upload_files).")
        added = []
        for path in files:
            name = Path(path).name  # Gradio keeps the uploaded file's own name in its temporary folder
            try:
                added.append(self.assistant.add(path, name=name, index=False).title)
            except AssistantError as exc:
                gr.Warning(str(exc))
        if added:
            refresh(self.assistant, gr)
            gr.Info(f"Added {len(added)}: {', '.join(added)}. Indexing in the background.")
        return None, *self.rows()

    def add_url(self, url):
        gr, url = self.gr, (url or "").strip()
        if not url:
            raise gr.Error("Paste the address of an article first.")
        try:
            info = self.assistant.add(url, index=False)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        refresh(self.assistant, gr)
        gr.Info(f"Added {info.title}. Indexing in the background.")
        return "", *self.rows()

    def remove(self, article_id):
        gr = self.gr
        if not article_id:
            raise gr.Error("Pick the article to remove first.")
        try:
            self.assistant.remove(article_id, wait=False)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        gr.Info(f"Removed {article_id}.")
        panel_html, choices = self.rows()
        return panel_html, gr.update(choices=choices["choices"], value=None)


def refresh(assistant, gr) -> None:
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
