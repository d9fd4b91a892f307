"""The OpenAI-compatible backend against a real HTTP server on loopback that misbehaves: every way is one clear
ModelError line, never a crash or a silent fallback."""

import http.server
import threading

import pytest

from assistant import Config, ModelError
from assistant.generate import Abstention, OpenAIGenerator

REPLIES = {
    "/good/chat/completions": ("text/event-stream", 'data: {"choices":[{"delta":{"content":"49% "}}]}\n\n'
                                                    'data: {"choices":[{"delta":{"content":"[1]."}}]}\n\n'
                                                    "data: [DONE]\n\n"),
    "/lists/chat/completions": ("text/event-stream", "data: [1, 2, 3]\n\ndata: [DONE]\n\n"),
    "/strings/chat/completions": ("text/event-stream", 'data: "hello"\n\ndata: [DONE]\n\n'),
    "/html/chat/completions": ("text/html", "<html><body>" + "<p>a page</p>" * 500 + "</body></html>"),
    "/binary/chat/completions": ("application/octet-stream", "\x00\x01\x02"),
    "/empty/chat/completions": ("text/event-stream", ""),
    "/garbage/chat/completions": ("text/event-stream", "data: {not json\n\n"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/error/chat/completions":
            self.send_response(500)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(("<html>" + "x" * 5000 + "</html>").encode())
            return
        kind, body = REPLIES[self.path]
        self.send_response(200)
        self.send_header("content-type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def reader(server, path):
    return OpenAIGenerator(Config(generator="openai", server_url=f"{server}/{path}", server_timeout=5.0))


def test_a_good_stream(server):
    abstain = Abstention("NONE", 0.5)
    assert "".join(reader(server, "good").stream([{"role": "user", "content": "x"}], 8, abstain)) == "49% [1]."
    assert abstain.probability is None  # a server's reply is taken as written


@pytest.mark.parametrize("path", ["lists", "strings", "html", "binary", "empty", "garbage", "error"])
def test_a_misbehaving_server_is_one_clear_line(server, path):
    with pytest.raises(ModelError) as err:
        "".join(reader(server, path).stream([{"role": "user", "content": "x"}], 8))
    message = str(err.value)
    assert "\n" not in message and len(message) < 400 and ("OpenAI" in message or "answered 500" in message)
