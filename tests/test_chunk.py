import pytest

from assistant.chunk import chunk_article, split_sentences
from assistant.ingest import load_corpus, read_article
from conftest import CORPUS


def sentences(text, language):
    return [text[s:e] for s, e in split_sentences(text, 0, len(text), language)]


@pytest.mark.parametrize("max_chars,overlap", [(400, 0), (200, 1), (1000, 0), (50, 0)])
def test_offsets_point_into_the_article(max_chars, overlap):
    for a in load_corpus(CORPUS).articles:
        passages = chunk_article(a, max_chars, overlap)
        assert passages
        for p in passages:
            assert a.text[p.start:p.end] == p.text
            assert (p.source, p.title, p.language) == (a.source, a.title, a.language)
            assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
            for s, e in p.sentences:
                assert a.text[s:e].strip() == a.text[s:e] and a.text[s:e]
            # a passage only exceeds the limit when a single sentence does
            assert len(p.text) <= max_chars or len(p.sentences) == 1 + overlap or len(p.sentences) == 1


def test_every_sentence_is_in_some_passage_exactly_once_without_overlap():
    for a in load_corpus(CORPUS).articles:
        spans = [s for p in chunk_article(a, 400, 0) for s in p.sentences]
        assert len(spans) == len(set(spans))
        expected = [s for ps, pe in a.paragraphs for s in split_sentences(a.text, ps, pe, a.language)]
        assert spans == sorted(spans)
        for s, e in expected:  # each sentence is in exactly one span
            assert sum(ss <= s and e <= se for ss, se in spans) == 1
        for ss, se in spans:  # a span is one sentence, or a lead-in ending in a colon with the sentence after it
            inner = [(s, e) for s, e in expected if ss <= s and e <= se]
            assert inner == [(ss, se)] or (len(inner) == 2 and a.text[inner[0][0]:inner[0][1]].endswith(":"))


def test_overlap_repeats_the_last_sentence():
    a = load_corpus(CORPUS).get("002_4bcb00fcb896a42c.txt")
    passages = chunk_article(a, 300, 1)
    repeats = sum(1 for x, y in zip(passages, passages[1:]) if x.sentences[-1] == y.sentences[0])
    assert repeats >= len(passages) // 2


@pytest.mark.parametrize("language,text,expected", [
    ("fr", "Il a acheté 49% pour environ 14 000 millions de dollars. Ensuite il a signé.",
     ["Il a acheté 49% pour environ 14 000 millions de dollars.", "Ensuite il a signé."]),
    ("pt", "Um modelo de US$ 10 bilhões. O Sr. Zuckerberg disse isso.",
     ["Um modelo de US$ 10 bilhões.", "O Sr. Zuckerberg disse isso."]),
    ("pt", "O Llama 3.1 custa 50% do custo. A meta subiu 2,71% hoje.",
     ["O Llama 3.1 custa 50% do custo.", "A meta subiu 2,71% hoje."]),
    ("fr", "Selon M. Clegg, le modèle change. Mme Dupont n'est pas d'accord.",
     ["Selon M. Clegg, le modèle change.", "Mme Dupont n'est pas d'accord."]),
    ("en", "Rivals, e.g. OpenAI, were ahead. Dr. Smith agreed! Did U.S. officials? Yes.",
     ["Rivals, e.g. OpenAI, were ahead.", "Dr. Smith agreed!", "Did U.S. officials?", "Yes."]),
    ("pt", "Mas o meta deve se beneficiar da lhama… eventualmente", ["Mas o meta deve se beneficiar da lhama… eventualmente"]),
    ("pt", "“Estamos planejando continuar”, disse o porta-voz. “Não lançamos tudo.” Depois saiu.",
     ["“Estamos planejando continuar”, disse o porta-voz.", "“Não lançamos tudo.”", "Depois saiu."]),
    ("pt", "provavelmente o motivo. maçã (AAPL 0,22%) Os planos fracassaram.",
     ["provavelmente o motivo.", "maçã (AAPL 0,22%) Os planos fracassaram."]),
    ("en", "J. R. R. Tolkien wrote it. Then he left.", ["J. R. R. Tolkien wrote it.", "Then he left."]),
    # a piece with nothing but punctuation closes the sentence before it (French quotation marks after the period)
    ("fr", "« Le premier directeur fut Pierre Giustiniani, auquel succéda le colonel Buti. » Toutefois, rien. …",
     ["« Le premier directeur fut Pierre Giustiniani, auquel succéda le colonel Buti. »", "Toutefois, rien. …"]),
    ("fr", "Elle dit « non ! ». Puis elle part.", ["Elle dit « non ! ».", "Puis elle part."]),
])
def test_sentence_rules(language, text, expected):
    assert sentences(text, language) == expected


def test_line_breaks_end_sentences_and_headings_stand_alone(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Vantagens do código aberto\nO software é livre. Os desenvolvedores ganham.\n", encoding="utf-8")
    a = read_article(path)
    passages = chunk_article(a, 400)
    assert [a.text[s:e] for p in passages for s, e in p.sentences] == [
        "Vantagens do código aberto", "O software é livre.", "Os desenvolvedores ganham."]


def test_a_run_of_headings_shares_a_passage_and_the_next_heading_after_text_opens_a_new_one(tmp_path):
    path = tmp_path / "x.txt"
    words = "\n".join(f"palavra{i}" for i in range(400))  # one word per line: 400 headings of 9-11 characters
    path.write_text(f"Meta\nCódigo aberto\nO software é livre.\nOutro título\nFim.\n\n{words}\n", encoding="utf-8")
    a = read_article(path)
    passages = chunk_article(a, 400)
    assert [p.text for p in passages[:2]] == ["Meta\nCódigo aberto\nO software é livre.", "Outro título\nFim."]
    lists = passages[2:]
    assert sum(len(p.sentences) for p in lists) == 400  # every line kept, as its own sentence
    chars = sum(len(p.text) for p in lists)
    # packed (each line is a paragraph, and a passage ends at one once half full), not one passage per line
    assert len(lists) <= 2 * chars // 400 + 1 and all(len(p.text) <= 400 for p in lists)


def test_a_paragraph_ending_in_a_colon_is_joined_with_what_it_introduces(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Meta e o código aberto\nNo verão passado, ele disse:\n\n“Não prometi lançar tudo.” E riu.\n"
                    "Uma lista:\nTítulo seguinte\nFim.\n", encoding="utf-8")
    a = read_article(path)
    spans = [a.text[s:e] for p in chunk_article(a, 400) for s, e in p.sentences]
    assert spans == ["Meta e o código aberto", "No verão passado, ele disse:\n\n“Não prometi lançar tudo.”", "E riu.",
                     "Uma lista:", "Título seguinte", "Fim."]


class _Recording(str):
    """A str that records the length of every slice taken of it."""

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, _ = key.indices(len(self))
            self.slices.append(stop - start)
        return str.__getitem__(self, key)


def test_the_boundary_check_reads_only_near_the_mark():
    # it used to copy the rest of the article at every punctuation mark: quadratic in the article's length
    from assistant.chunk import is_boundary

    text = _Recording("O Dr. Silva chegou. " + "Depois veio outro. " * 5000)
    text.slices = []
    mark = text.index("chegou.") + len("chegou")
    assert is_boundary(text, 0, mark, mark + 1, len(text), "pt")
    dr = text.index("Dr.") + 2
    assert not is_boundary(text, 0, dr, dr + 1, len(text), "pt")  # an abbreviation
    assert max(text.slices) < 100


def test_the_boundary_check_does_not_look_past_its_paragraph():
    from assistant.chunk import is_boundary

    text = "Isto acabou… eventualmente ele voltou."
    pause = text.index("…")
    assert not is_boundary(text, 0, pause, pause + 1, len(text), "pt")  # a pause inside the paragraph
    assert is_boundary(text, 0, pause, pause + 1, pause + 2, "pt")  # the paragraph ends after the mark
