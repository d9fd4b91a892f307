"""Cleaning rules (what goes, what must stay), reading odd files, and the corpus manifest."""

import json

import pytest

from assistant import CorpusError, lang
from assistant.chrome import clean
from assistant.ingest import load_corpus, read_article
from conftest import CORPUS, GOLD


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def dropped_lines(article):
    return [(article.text[s:e], rule) for s, e, rule in article.dropped]


def test_seed_chrome_is_removed_and_nothing_else(corpus):
    a = corpus.get("000_e09d9c4875df88f1.txt")
    assert dropped_lines(a) == [
        ("Início Tecnologia Meta construiu sua reputação de IA na abertura – que pode mudar", "breadcrumb"),
        ("21", "counter"),
        ("0", "counter"),
        ("The Meta AI app is displayed on a mobile phone with the Meta AI logo visible on a tablet in this photo "
         "illustration", "caption"),
        ("Fuente", "source"),
    ]
    # the headline itself (without the menu words) stays
    assert a.text[a.paragraphs[0][0]:a.paragraphs[0][1]] == "Meta construiu sua reputação de IA na abertura – que pode mudar"
    assert dropped_lines(corpus.get("003_888196c1a5b95695.txt")) == [("Fonte: Andre Lug", "source")]
    assert [r for _, r in dropped_lines(corpus.get("002_4bcb00fcb896a42c.txt"))] == ["caption"]
    assert dropped_lines(corpus.get("001_8648823dfeb0dd77.txt")) == []
    assert dropped_lines(corpus.get("004_595a0f98a6290eb0.txt")) == []


def test_every_non_chrome_line_of_the_seeds_is_kept(corpus):
    for a in corpus.articles:
        kept = {a.text[s:e] for s, e in a.paragraphs}
        dropped = {text for text, _ in dropped_lines(a)}
        for line in a.text.split("\n"):
            if line.strip():
                assert (line.strip() in kept) != (line in dropped), (a.source, line)


def test_no_gold_evidence_is_lost(corpus):
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        if g["answerable"]:
            a = corpus.get(g["source"])
            assert any(g["evidence"] in a.text[s:e] for s, e in a.paragraphs), g["id"]


@pytest.mark.parametrize("line", [
    "A Meta disse que a Fonte: principal do projeto foi aberta em 2023, segundo a empresa.",
    "Fonte de receita: a publicidade continua a ser o principal negócio da Meta.",
    "Zuckerberg disse em 21 de maio que o modelo seria aberto.",
    "Meta abre quando os concorrentes fecham",
    "Les raisons de ce changement",
    "2024: o ano em que tudo mudou.",
])
def test_content_lines_that_look_a_bit_like_chrome_stay(line):
    text = f"Um título\n\n{line}\n\nUma frase final."
    sections, dropped = clean(text)
    assert dropped == ()
    assert line in [text[s:e] for sec in sections for s, e in sec]


@pytest.mark.parametrize("line,rule", [
    ("21", "counter"), ("0", "counter"), ("1/5", "counter"),
    ("Fonte", "source"), ("Fuente", "source"), ("Source: Reuters", "source"), ("Fonte: Andre Lug", "source"),
    ("Foto: Divulgação/Meta", "caption"), ("Crédit photo : AFP", "caption"),
    ("Home News Tech", "breadcrumb"), ("Accueil Technologie", "breadcrumb"),
])
def test_chrome_lines_go(line, rule):
    text = f"Um título\n\n{line}\n\nA Meta lançou o Llama 3.1 com 405 bilhões de parâmetros."
    _, dropped = clean(text)
    assert [(text[s:e], r) for s, e, r in dropped] == [(line, rule)]


def test_chrome_splits_sections_so_passages_never_span_it():
    text = "Primeira frase do artigo.\n21\nSegunda frase do artigo."
    sections, _ = clean(text)
    assert len(sections) == 2


def test_user_files_of_every_kind_and_bad_ones_are_reported(tmp_path):
    (tmp_path / "a.md").write_text("# Meta e o Llama\n\n- A Meta lançou o Llama 3.\n", encoding="utf-8")
    (tmp_path / "b.html").write_text(
        "<html><head><title>Le modèle Llama</title><script>var x = 'never';</script></head><body>"
        "<nav>Accueil Tech</nav><h1>Le modèle Llama</h1><p>Meta a publié le modèle Llama 3 &amp; ses poids.</p>"
        "<figure><img src=x><figcaption>Crédit photo : AFP</figcaption></figure></body></html>",
        encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "d.txt").write_text("   \n\n", encoding="utf-8")
    (tmp_path / "e.txt").write_bytes("Meta lançou o modelo em setembro.".encode("cp1252"))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")  # cut off after its header
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # not a format the corpus reads: not an article
    corpus = load_corpus(tmp_path)
    assert [a.source for a in corpus.articles] == ["a.md", "b.html", "e.txt"]
    assert {p.source for p in corpus.problems} == {"c.txt", "d.txt", "notes.pdf"}
    assert "could not be read as a PDF" in str(next(p for p in corpus.problems if p.source == "notes.pdf"))
    assert "binary" in str(next(p for p in corpus.problems if p.source == "c.txt"))
    md = corpus.get("a.md")
    assert md.title == "Meta e o Llama" and md.language == "pt"
    assert md.text[md.paragraphs[1][0]:md.paragraphs[1][1]] == "A Meta lançou o Llama 3."
    html = corpus.get("b.html")
    assert html.title == "Le modèle Llama" and html.language == "fr"
    assert "never" not in html.text and "AFP" not in html.text and "Accueil" not in html.text
    assert "Meta a publié le modèle Llama 3 & ses poids." in html.content
    assert corpus.get("e.txt").text == "Meta lançou o modelo em setembro."


def test_unreadable_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(CorpusError, match="no readable article"):
        load_corpus(tmp_path)


def test_manifest_declares_every_seed_and_languages_match_detection(corpus):
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {a.source for a in corpus.articles}
    for a in corpus.articles:
        assert a.title == manifest[a.source]["title"]
        assert a.language == manifest[a.source]["language"] == lang.detect_language(a.content), a.source


def test_undeclared_article_gets_a_derived_title_and_language(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text("Meta ouvre Llama\n\nLe groupe a publié son modèle. Il est gratuit pour la recherche.\n",
                    encoding="utf-8")
    a = read_article(path)
    assert (a.title, a.language) == ("Meta ouvre Llama", "fr")


def test_fingerprint_changes_with_bytes_and_declared_title(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Uma frase sobre a Meta e o Llama.", encoding="utf-8")
    base = read_article(path).fingerprint
    assert read_article(path, {"title": "Outro"}).fingerprint != base
    path.write_text("Uma frase sobre a Meta e o Llama 2.", encoding="utf-8")
    assert read_article(path).fingerprint != base


def test_symbolic_links_out_of_the_corpus_or_in_a_loop_are_skipped_and_reported(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Um artigo\n\nA Meta comprou 49% da Scale AI.\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "inside.txt").symlink_to(folder / "a.txt")  # a link that stays inside is followed
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dangling.txt").symlink_to(folder / "missing.txt")
    corpus = load_corpus(folder)
    assert [a.source for a in corpus.articles] == ["a.txt", "inside.txt"]
    assert all("root:x" not in a.text for a in corpus.articles)
    problems = {p.source: p.reason for p in corpus.problems}
    assert problems["escape.txt"] == "a symbolic link out of the corpus folder"
    assert "leads nowhere" in problems["loop.txt"] and "leads nowhere" in problems["dangling.txt"]


def test_an_article_over_the_size_limit_is_skipped_by_name(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Um artigo\n\nA Meta comprou 49% da Scale AI.\n", encoding="utf-8")
    (folder / "huge.txt").write_text("Uma frase. " * 200_000, encoding="utf-8")  # 2.2 MB
    corpus = load_corpus(folder, max_bytes=1_000_000)
    assert [a.source for a in corpus.articles] == ["a.txt"]
    (problem,) = corpus.problems
    assert problem.source == "huge.txt" and "over the 1 MB limit per article" in problem.reason
    assert [a.source for a in load_corpus(folder).articles] == ["a.txt", "huge.txt"]  # no limit given


def _three_articles(tmp_path):
    """A corpus folder with three seed articles, and where its cleaning cache goes."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.txt"))[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder, tmp_path / "cleaning.json"


def _calls(monkeypatch, name: str) -> list:
    """The argument of each call of the one-argument function ingest.<name> from now on."""
    import assistant.ingest as ingest

    calls, real = [], getattr(ingest, name)
    monkeypatch.setattr(ingest, name, lambda arg: calls.append(arg) or real(arg))
    return calls


def test_the_cleaning_cache_skips_unchanged_files_and_never_changes_an_article(tmp_path, monkeypatch):
    folder, cache = _three_articles(tmp_path)
    cleaned = _calls(monkeypatch, "clean")
    plain = load_corpus(folder)
    assert len(cleaned) == 3
    assert load_corpus(folder, cache=cache).articles == plain.articles and len(cleaned) == 6
    assert load_corpus(folder, cache=cache).articles == plain.articles and len(cleaned) == 6  # nothing cleaned
    # a changed file, and a title declared for another, are read again; the rest comes from the cache
    victim, titled = sorted(folder.glob("*.txt"))[:2]
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nUma frase nova.\n", encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({titled.name: {"title": "Declared"}}), encoding="utf-8")
    again = load_corpus(folder, cache=cache)
    assert len(cleaned) == 8 and again.articles == load_corpus(folder).articles
    assert again.get(titled.name).title == "Declared"
    # a damaged cache, or entries that do not fit the text, are an empty cache, not an error
    for damage in ("{not json", json.dumps({"cleaning_version": 1, "entries": {k: [1, 2, [[[0, 10**9]]], []]
                                                                                 for k in json.loads(
                                                                                     cache.read_text())["entries"]}})):
        cache.write_text(damage, encoding="utf-8")
        assert load_corpus(folder, cache=cache).articles == again.articles


def test_unchanged_files_are_not_read_again_until_their_text_is_asked_for(tmp_path, monkeypatch):
    import os

    import assistant.ingest as ingest

    folder, cache = _three_articles(tmp_path)
    reads = _calls(monkeypatch, "_read")
    load_corpus(folder, cache=cache)
    load_corpus(folder, cache=cache)
    assert len(reads) == 6  # files changed a moment ago are read every time
    monkeypatch.setattr(ingest, "SETTLED_NS", 0)
    first = load_corpus(folder, cache=cache)
    assert len(reads) == 9
    again = load_corpus(folder, cache=cache)
    assert len(reads) == 9 and again.articles == first.articles  # not read: same titles, spans, fingerprints
    one = again.articles[1]
    assert one.text == first.articles[1].text and one.content == first.articles[1].content and len(reads) == 10
    # a change that keeps the size and the modification time is seen (the change time moves)
    victim = sorted(folder.glob("*.txt"))[0]
    st = victim.stat()
    victim.write_bytes(victim.read_bytes().replace(b"Meta", b"Mota", 1))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    changed = load_corpus(folder, cache=cache)
    assert reads[-1].name == victim.name and changed.get(victim.name).fingerprint != first.get(victim.name).fingerprint
    # a title declared in manifest.json is a new reading of the file
    (folder / "manifest.json").write_text(json.dumps({one.source: {"title": "Declared"}}), encoding="utf-8")
    assert load_corpus(folder, cache=cache).get(one.source).title == "Declared" and reads[-1].name == one.source
    # a file changed after the corpus was loaded: its text is refused in one line, not read wrong
    loaded = load_corpus(folder, cache=cache)
    late = loaded.articles[2]
    (folder / late.source).write_text("Outra coisa.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"{late.source} changed since the corpus was loaded"):
        late.text
