"""End to end: `assistant serve` on loopback (real index, real bundled model), driven by Debian's Chromium through
Playwright, and by gradio_client.

Chromium comes from the system (`/usr/bin/chromium`, installed by scripts/test.sh), never from a test tool's own
download. Set SCREENSHOT_DIR to also keep the screenshot of a cited answer there (the README's comes from it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root in a container, without the background-networking flags Chromium keeps dialling Google's hosts.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCALE_FR = "Quelle part de Scale AI Meta a-t-elle achetée ?"
PARAMS_EN = "How many parameters does Llama 3.1 have?"
ANSWER_TIMEOUT = 120_000  # ms: the first answer on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Url(str):
    """The server's address, and the pid of its process."""

    def __new__(cls, url, pid, home=None):
        self = super().__new__(cls, url)
        self.pid, self.home = pid, home
        return self


@pytest.fixture(scope="module")
def server(built):
    """The real CLI serving the session's built index; its log is printed if it fails to come up."""
    yield from _serve(built.config.corpus_dir.parent)


@pytest.fixture(scope="module")
def own_server(built, tmp_path_factory):
    """A server over a copy of the built corpus and index, for tests that add and remove articles."""
    home = tmp_path_factory.mktemp("own")
    for folder in ("corpus", "index"):
        shutil.copytree(built.config.corpus_dir.parent / folder, home / folder)
    yield from _serve(home)


def _serve(home: Path, *args: str):
    port = _free_port()
    env = dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(REPO), GRADIO_ANALYTICS_ENABLED="False",
               GRADIO_TEMP_DIR=str(home / "gradio-tmp"))
    log = home / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), *args], cwd=home,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while "serving on" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"assistant serve did not come up:\n{log.read_text()}")
        time.sleep(0.2)
    urllib.request.urlopen(url, timeout=10).read()  # "serving on" is said once the page answers, not before
    yield Url(url, proc.pid, home)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: scripts/test.sh installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def wait_answer(page, n: int):
    """The n-th answer or refusal message in the chat (1-based), once the verified text has replaced the draft."""
    messages = page.locator("#chat .answer, #chat .refusal")
    messages.nth(n - 1).wait_for(timeout=ANSWER_TIMEOUT)
    return messages.nth(n - 1)


def test_ask_stream_click_citation_follow_up_and_screenshot(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(server)
    ask(page, SCALE_FR)
    page.locator("#chat .draft").first.wait_for(timeout=ANSWER_TIMEOUT)  # the streamed draft shows first
    first = wait_answer(page, 1)
    assert "49%" in first.inner_text()
    assert page.locator("#chat .draft").count() == 0  # replaced by the verified answer
    # the answer copies words of the cited sentence: they are bold inside it in the sources panel
    assert page.locator("#sources mark .answer-words").first.inner_text() == "49%"

    first.locator("a.cite").first.click()
    active = page.locator("#sources .source.active")
    active.wait_for(timeout=10_000)
    cited = active.locator("mark").inner_text()
    assert "49%" in cited and "14 000 millions de dollars" in cited
    assert "Objectif" in active.locator(".source-title").inner_text()  # the French article's title
    mark = page.locator("#article #article-mark")
    mark.wait_for(timeout=20_000)
    assert mark.inner_text() == cited
    assert len(page.context.pages) == 1  # the citation did not open a new tab

    # the whole article is shown, scrolled so that the cited sentence is inside the article box
    box, where = page.locator("#article").bounding_box(), mark.bounding_box()
    assert box["y"] <= where["y"] and where["y"] + where["height"] <= box["y"] + box["height"] + 1
    assert len(page.locator("#article .article-body").inner_text()) > 2000

    ask(page, "And how much did it pay?")
    second = wait_answer(page, 2)
    assert re.search(r"14[ ,.\u202f]?000", second.inner_text())  # "14 000 millions", said in English "14,000 million"
    assert page.locator("#sources .turn-sources").count() == 2
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "answer.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["SCREENSHOT_DIR"]) / "ui-answer.png")

    page.locator("#new-chat").click()
    page.wait_for_function("document.querySelectorAll('#chat .answer, #chat .refusal').length === 0")
    assert page.locator("#sources .source").count() == 0
    page.close()


def test_two_sessions_at_once_get_their_own_answers(server, browser):
    pages = []
    for question in (SCALE_FR, PARAMS_EN):
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        page.goto(server)
        page.locator("#question textarea").fill(question)
        pages.append(page)
    for page in pages:  # both asked before either is answered
        page.locator("#ask").click()
    scale, params = (wait_answer(p, 1).inner_text() for p in pages)
    assert "49%" in scale and "405" not in scale
    assert "405 billion" in params and "49%" not in params  # the reader's English, from "405 bilhões"
    for page in pages:
        assert page.locator("#chat .answer, #chat .refusal").count() == 1  # no history leaks between sessions
        page.context.close()


def test_empty_question_and_markup_in_a_question(server, browser):
    page = browser.new_page()
    page.goto(server)
    page.locator("#ask").click()
    page.get_by_text("Type a question first.").first.wait_for(timeout=20_000)
    assert page.locator("#chat .answer, #chat .refusal").count() == 0
    # a library error (here: over the length limit) is a message too, and the chat is left as it was
    page.locator("#question textarea").fill("Meta? " * 300)
    page.locator("#ask").click()
    page.get_by_text("the limit is 1000").first.wait_for(timeout=20_000)
    assert page.locator("#chat .draft, #chat .answer").count() == 0
    assert page.locator("#question textarea").input_value().startswith("Meta? Meta?")

    page.evaluate("window.__pwned = 0")
    ask(page, 'Quel est le prix mensuel de Meta AI ? <img src=x onerror="window.__pwned=1">')
    wait_answer(page, 1)
    assert page.evaluate("window.__pwned") == 0
    assert page.locator("#chat img[src='x']").count() == 0
    assert "<img" in page.locator("#chat").inner_text()  # shown as text
    page.close()


def test_gradio_client_against_the_running_server(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    result = client.predict(SCALE_FR, ["What share of Scale AI did Meta buy?"], api_name="/answer")
    assert "49%" in result["text"] and result["citations"][0]["number"] == 1
    assert "acheté 49%" in result["citations"][0]["text"] and result["mode"] == "generated"
    # the question box, the chat, the sources, and the conversation list, export file and title box (not kept:
    # a program has no browser id, and need not send one)
    _, chat, sources, *_ = client.predict(PARAMS_EN, [], 5, "hybrid", "extractive", api_name="/ask")
    assert "405 bilhões" in str(chat[-1]["content"]) and 'id="src-1-1"' in sources


def test_serve_on_a_busy_port_says_so(server, built):
    port = int(server.rstrip("/").rsplit(":", 1)[1])
    env = dict(os.environ, ASSISTANT_HOME=str(built.config.corpus_dir.parent), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "assistant", "serve", "--port", str(port)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
    assert "serving on" not in out.stderr


def _rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def test_huge_requests_are_refused_unread_and_memory_stays_flat(server):
    # ten 30 MB questions used to be read, refused as too long, and keep the server's RSS 600 MB higher
    import http.client
    from urllib.parse import urlparse

    before = _rss_mb(server.pid)
    where = urlparse(server)
    body = b'{"data": ["' + b"x" * 30_000_000 + b'", []]}'
    for _ in range(10):
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        try:
            conn.request("POST", "/gradio_api/call/answer", body=body, headers={"content-type": "application/json"})
            response = conn.getresponse()
            assert response.status == 413 and b"request body over" in response.read()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent: refused unread, as wanted
        finally:
            conn.close()
    assert _rss_mb(server.pid) - before < 50
    assert urllib.request.urlopen(server, timeout=10).status == 200  # still serving


def _send_chunked(url, path, total, content_type, stop_after=None):
    """POST `total` bytes to `path` with Transfer-Encoding: chunked, 64 KB a chunk, until the server answers (or,
    with `stop_after`, leave after that many bytes); the status line (None when it never answered) and bytes sent."""
    import select
    import socket
    from urllib.parse import urlparse

    where = urlparse(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=30)
    sent, chunk = 0, b"x" * 65536
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {where.hostname}\r\nTransfer-Encoding: chunked\r\n"
                     f"Content-Type: {content_type}\r\n\r\n".encode())
        while sent < total:
            if stop_after is not None and sent >= stop_after:
                return None, sent
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        if stop_after is not None:
            sock.close()
    try:
        return sock.recv(200).split(b"\r\n")[0].decode(), sent
    except (ConnectionResetError, OSError):
        return None, sent
    finally:
        sock.close()


@pytest.mark.parametrize("path,content_type,limit", [
    ("/gradio_api/call/answer", "application/json", 1_000_000),
    ("/gradio_api/upload", "multipart/form-data; boundary=xyz", 25_000_000),  # max_upload_bytes: files are larger
])
def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(server, path, content_type, limit):
    temp, log = server.home / "gradio-tmp", server.home / "serve.log"
    before, logged = (set(temp.rglob("*")) if temp.exists() else set()), log.stat().st_size  # other tests log too
    status, sent = _send_chunked(server, path, 30_000_000, content_type)
    assert status is not None and " 413 " in status + " " and sent < limit + 7_000_000  # answered at the limit
    status, sent = _send_chunked(server, path, 30_000_000, content_type, stop_after=400_000)  # a client that leaves
    time.sleep(1)
    with open(log, encoding="utf-8", errors="replace") as fh:
        fh.seek(logged)
        said = fh.read()
    assert "Traceback" not in said and "ClientDisconnect" not in said
    assert (set(temp.rglob("*")) if temp.exists() else set()) == before  # no temporary file left
    assert urllib.request.urlopen(server, timeout=10).status == 200


def _statuses(page) -> dict[str, str]:
    """{article id: status} as the panel shows them now (read at once: the panel is redrawn every two seconds)."""
    return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#articles tr[data-id]')]"
                         ".map(row => [row.dataset.id, row.dataset.status]))")


def _wait_statuses(page, want, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _statuses(page)
        if want(found):
            return found
        time.sleep(1)
    pytest.fail(f"the articles panel never showed what was expected: {_statuses(page)}")


def test_upload_ask_reload_export_remove(own_server, browser, tmp_path):
    from conftest import COOPERATIVE_PAGES, PAGES, make_pdf

    pdf = make_pdf(tmp_path / "relatorio.pdf", COOPERATIVE_PAGES, "Relatório anual da Cooperativa Horizonte")
    html_page = tmp_path / "ohio.html"
    html_page.write_bytes((PAGES / "lenta_en.html").read_bytes())
    fake = tmp_path / "notes.docx"
    fake.write_bytes(b"PK\x03\x04 not really a Word document")
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(own_server)
    page.locator("#articles-panel").click()  # open the accordion
    before = _wait_statuses(page, lambda found: len(found) == 5)
    assert set(before.values()) == {"indexed"}

    page.locator("#upload input[type=file]").set_input_files([str(pdf), str(html_page), str(fake)])
    page.get_by_text("not a Word document").first.wait_for(timeout=30_000)  # the refused file says why
    found = _wait_statuses(page, lambda found: len(found) == 7 and set(found.values()) == {"indexed"})
    page.locator('#articles .articles-summary[data-updating="false"]').wait_for(timeout=120_000)
    pdf_id = next(i for i in found if i.endswith(".pdf"))
    assert any(i.endswith(".html") for i in found) and "Cooperativa Horizonte" in page.locator("#articles").inner_text()

    question = "Quem foi reeleito presidente da Cooperativa Horizonte?"
    ask(page, question)
    first = wait_answer(page, 1)
    assert "Joaquim Barros" in first.inner_text()
    first.locator("a.cite").first.click()
    active = page.locator("#sources .source.active")
    active.wait_for(timeout=10_000)
    assert "page 2" in active.locator(".source-file").inner_text() and pdf_id in active.inner_text()
    mark = page.locator("#article #article-mark")
    mark.wait_for(timeout=20_000)
    assert "Joaquim Barros" in mark.inner_text()

    page.reload()  # the conversation comes back: listed, and open with its answer
    page.locator("#conversations").get_by_text(question).wait_for(timeout=30_000)
    assert "Joaquim Barros" in wait_answer(page, 1).inner_text()

    with page.expect_download(timeout=30_000) as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"**Q:** {question}" in exported and "Relatório anual da Cooperativa Horizonte" in exported
    assert "page 2" in exported and "> O presidente da cooperativa, Joaquim Barros, foi reeleito" in exported

    page.locator("#articles-panel").click() if not page.locator("#articles").is_visible() else None
    page.locator("#article-pick input").click()
    page.get_by_role("option", name=re.compile(re.escape(pdf_id))).click()
    page.locator("#remove-article").click()
    _wait_statuses(page, lambda found: pdf_id not in found and len(found) == 6 and set(found.values()) == {"indexed"})
    page.locator('#articles .articles-summary[data-updating="false"]').wait_for(timeout=120_000)  # the new index is live
    ask(page, question)
    second = wait_answer(page, 2)
    assert "Joaquim Barros" not in second.inner_text()
    assert page.locator("#chat .refusal").count() == 1
