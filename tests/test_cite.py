"""Citation verification, with known answers: what is kept, what is dropped, and how markers are renumbered."""

import numpy as np

from assistant.cite import names, numbers, split_answer, supported, verify, with_markers

EVIDENCE = [
    "Dans ce cas, Zuckerberg a répondu comme d'habitude et acheté 49% d'IA à l'échelle pour environ 14 000 millions de dollars.",
    "Outre, il a signé son propre PDG, Alexandr Wang, pour sa propre équipe.",
    "Na semana passada, Mark Zuckerberg e Meta comemoraram o lançamento do modelo Llama 3.1 da Meta com 405 bilhões de parâmetros.",
]


def fake_embed(texts):
    """Unit vectors where a sentence is similar to evidence that shares its numbers or names (deterministic)."""
    vocab = sorted({t for text in EVIDENCE for t in numbers(text) | names(text)} | {"zuckerberg"})
    out = np.zeros((len(texts), len(vocab) + 1), dtype=np.float32)
    for i, text in enumerate(texts):
        keys = numbers(text) | names(text) | ({"zuckerberg"} if "Zuckerberg" in text else set())
        for j, v in enumerate(vocab):
            out[i, j] = 1.0 if v in keys else 0.0
        out[i, -1] = 0.3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_numbers_and_names():
    assert numbers("14 000 millions, 2,71%, 3.1, 1,000 and 49%") == {"14000", "2.71", "3.1", "1000", "49"}
    assert names("Meta hired Alexandr Wang [2].") == {"alexandr", "wang"}


def test_split_answer_attaches_markers():
    assert split_answer("It bought 49% [1]. It paid 14 000 million dollars. [1, 2] Nothing [9].", "en") == [
        ("It bought 49%.", [1]), ("It paid 14 000 million dollars.", [1, 2]), ("Nothing.", [9])]


def test_supported_needs_numbers_names_and_similarity():
    assert supported("Meta bought 49%.", [EVIDENCE[0]], 0.9, 0.8)
    assert not supported("Meta bought 51%.", [EVIDENCE[0]], 0.9, 0.8)  # number not in the evidence
    assert not supported("Meta hired Elon Musk.", [EVIDENCE[1]], 0.9, 0.8)  # names not in the evidence
    assert not supported("Meta bought 49%.", [EVIDENCE[0]], 0.5, 0.8)  # too dissimilar
    assert not supported("Meta bought 49%.", [], 0.9, 0.8)


def test_out_of_range_uncited_and_unsupported_sentences_are_dropped_and_markers_renumbered():
    answer = ("Meta paid about 14 000 million dollars for 49% [1]. Zuckerberg hired Elon Musk [2]. "
              "Llama 3.1 has 405 billion parameters [3]. It was trained on 15 trillion tokens [7]. Meta is big.")
    result = verify(answer, EVIDENCE, "en", fake_embed, 0.5)
    assert result.text == "Meta paid about 14 000 million dollars for 49% [1]. Llama 3.1 has 405 billion parameters [2]."
    assert result.cited == [1, 3]
    assert set(result.dropped) == {"Zuckerberg hired Elon Musk.", "It was trained on 15 trillion tokens.",
                                   "Meta is big."}


def test_nothing_supported_gives_empty_text():
    assert verify("The answer is 12 [1].", EVIDENCE, "en", fake_embed, 0.5).text == ""
    assert verify("", EVIDENCE, "en", fake_embed, 0.5).text == ""


def test_with_markers_goes_before_final_punctuation():
    assert with_markers("Meta bought 49%.", [1, 2]) == "Meta bought 49% [1][2]."
    assert with_markers("Meta bought 49%", [1]) == "Meta bought 49% [1]"
