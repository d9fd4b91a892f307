"""Conversations kept in SQLite: scoped to the browser that owns them, re-rendered the same after a reload, and
exported as Markdown with every citation's article, date, URL or file, page and sentence."""

import pytest

from assistant.answer import Citation
from assistant.chunk import Span
from assistant.conversations import Conversations, markdown, new_owner
from assistant.errors import AssistantError
from assistant.ui import Turn, answer_html, articles_html, sources_html
from assistant.library import ArticleInfo


def _turn(question="Quem foi reeleito?", page=2):
    c = Citation("rel-ae22474d.pdf", "Relatório anual", "pt", "O presidente, Joaquim Barros, foi reeleito.", 219, 262,
                 number=1, score=0.9, answer_start=234, answer_end=248, page=page)
    passage = Span("rel-ae22474d.pdf", "Relatório anual", "pt", "Texto antes. O presidente, Joaquim Barros, foi "
                   "reeleito.", 206, 262)
    return Turn(question, "Joaquim Barros [1].", "generated", False, "pt", [c], {1: passage}, {"total": 1.5},
                articles={"rel-ae22474d.pdf": {"date": "2025-05-02", "url": "https://example.org/rel.pdf"}})


def test_a_turn_comes_back_from_the_database_as_it_was_shown(tmp_path):
    store = Conversations(tmp_path / "c.sqlite3")
    owner = new_owner()
    turn = _turn()
    cid = store.append(owner, None, turn.to_dict())
    again = Turn.from_dict(store.turns(owner, cid)[0])
    assert again == turn
    assert answer_html(again, 1) == answer_html(turn, 1) and sources_html([again]) == sources_html([turn])
    assert "2025-05-02 · page 2 · " in sources_html([turn]) and 'href="https://example.org/rel.pdf"' in sources_html([turn])


def test_conversations_belong_to_one_browser(tmp_path):
    store = Conversations(tmp_path / "c.sqlite3")
    alice, bob = new_owner(), new_owner()
    cid = store.append(alice, None, _turn().to_dict())
    store.append(alice, cid, _turn("E quando termina o mandato?").to_dict())
    assert store.list(alice) == [(cid, "Quem foi reeleito?")] and len(store.turns(alice, cid)) == 2
    assert store.list(bob) == [] and store.turns(bob, cid) == [] and store.title(bob, cid) == ""
    other = store.append(bob, cid, _turn("Bob's").to_dict())  # bob cannot write into alice's conversation
    assert other != cid and len(store.turns(alice, cid)) == 2
    store.rename(bob, cid, "taken")
    store.delete(bob, cid)
    assert store.list(alice) == [(cid, "Quem foi reeleito?")]
    store.rename(alice, cid, "  Cooperativa\n ")
    assert store.list(alice) == [(cid, "Cooperativa")]
    store.delete(alice, cid)
    assert store.list(alice) == [] and store.turns(alice, cid) == []
    for bad in ("", "short", "x" * 65, "../../etc/passwd-and-some-more"):
        assert store.list(bad) == []
        with pytest.raises(AssistantError, match="no conversation id"):
            store.append(bad, None, _turn().to_dict())


def test_markdown_export_names_every_citation():
    text = markdown("Cooperativa", [_turn().to_dict()], {"rel-ae22474d.pdf": {"date": "2025-05-02",
                                                                                "url": "https://example.org/rel.pdf"}})
    assert text == ("# Cooperativa\n\n**Q:** Quem foi reeleito?\n\n**A:** Joaquim Barros [1].\n\n"
                    "- [1] Relatório anual, 2025-05-02, page 2, https://example.org/rel.pdf\n"
                    "  > O presidente, Joaquim Barros, foi reeleito.\n")


def test_the_articles_panel_escapes_and_shows_status_first():
    rows = [ArticleInfo("a.txt", "<b>Alpha</b>", "pt", "2025-01-02", 10, "indexed"),
            ArticleInfo("b.pdf", "Beta", "", "", 10, "skipped", "is a PDF without a text layer (a scan?)"),
            ArticleInfo("c.html", "Gamma", "en", "", 10, "indexing", progress=0.42,
                        url="javascript:alert(1)")]
    out = articles_html(rows)
    assert "<b>Alpha</b>" not in out and "&lt;b&gt;Alpha&lt;/b&gt;" in out
    assert out.index('data-id="c.html"') < out.index('data-id="b.pdf"') < out.index('data-id="a.txt"')
    assert '<progress max="100" value="42"></progress> 42%' in out and "without a text layer" in out
    assert "javascript:" not in out  # only http(s) addresses become links
    assert "1 indexed · 1 indexing · 1 skipped" in out


def test_the_export_folder_goes_with_the_chat(tmp_path):
    """Each app makes a temporary folder for export downloads; it must not outlive the app (it did: one left in the
    temporary folder per app built)."""
    import gc
    from types import SimpleNamespace

    from assistant.ui import app

    chat = app._Chat(None, SimpleNamespace(config=SimpleNamespace(index_dir=tmp_path)))
    folder = chat.exports
    (folder / "c1").mkdir()
    (folder / "c1" / "conversation.md").write_text("x", encoding="utf-8")
    assert folder.is_dir()
    del chat
    gc.collect()
    assert not folder.exists()
