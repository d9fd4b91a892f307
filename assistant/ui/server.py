"""Serving the web UI: the request body limit, the password file, and `serve`."""

from __future__ import annotations

from pathlib import Path

from ..errors import AssistantError
from .app import build_app

# The largest request body the server reads: a question is at most max_question_chars, and a long chat history with
# its answers fits many times over. Larger bodies are refused before they are read (a 30 MB question used to be read,
# rejected as too long, and its memory kept).
MAX_REQUEST_BYTES = 1_000_000


class BodyLimit:
    """ASGI middleware: every request body is counted as it arrives, and one over `limit` bytes is answered 413
    before the app reads any of it. A declared Content-Length over the limit is refused unread; a body without one
    (Transfer-Encoding: chunked) is received here first, up to the limit, and handed to the app only once it has
    ended within it, so that a route never starts on a body it cannot finish (Gradio's upload route wrote a temporary
    file and logged a ClientDisconnect traceback for each cut-off body). A client that leaves mid-body is not the
    app's concern either."""

    def __init__(self, app, limit: int = MAX_REQUEST_BYTES, upload_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        self.upload_limit = upload_limit if upload_limit is not None else limit  # the upload route's

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope.get("path", "").endswith("/gradio_api/upload") else self.limit
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await self._refuse(send, limit)
            return await self.app(scope, receive, send)  # the server holds the client to its declared length
        messages, seen = [], 0
        while True:  # no declared length: read it all here, or stop at the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            seen += len(message.get("body", b""))
            if seen > limit:
                return await self._refuse(send, limit)
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send, limit: int) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": f"request body over {limit} bytes".encode()})


def read_auth_file(path) -> list[tuple[str, str]]:
    """`user:password` lines of a password file (blank lines and # comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssistantError(f"cannot read the password file {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    pairs = [tuple(line.split(":", 1)) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise AssistantError(f"the password file {path} must hold user:password lines")
    return [(u.strip(), p.strip()) for u, p in pairs]


def serve(assistant, host: str = "127.0.0.1", port: int = 7860, *, share: bool = False, read_only: bool = False,
          auth: list[tuple[str, str]] | None = None):
    """Build the app and serve it in the background (the caller blocks: `app.block_thread()`); model calls are
    queued one at a time (one model, two cores). `read_only`: no adding or removing articles from the browser;
    `auth`: (user, password) pairs that must log in first."""
    from starlette.middleware import Middleware

    config = assistant.config
    app, css = build_app(assistant, read_only=read_only)
    app.queue(default_concurrency_limit=1, max_size=64)
    try:
        app.launch(server_name=host, server_port=port, share=share, css=css, prevent_thread_lock=True,
                   show_error=False, quiet=True, footer_links=["api"], auth=auth or None,
                   max_file_size=config.max_article_bytes,
                   app_kwargs={"middleware": [Middleware(BodyLimit, upload_limit=config.max_upload_bytes)]})
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise AssistantError(f"cannot serve on {host}:{port}: {exc}") from None
    return app
