"""The web UI: a Gradio Blocks chat over `Assistant.stream`, with clickable citations, a sources panel, an article
viewer, stored conversations and an articles panel.

`render` turns answers and articles into escaped HTML (tested without a browser), `app` is the Blocks app and its
handlers, `server` serves it behind a request body limit.
"""

from .app import build_app
from .render import (EXAMPLES, Turn, answer_html, article_html, articles_html, draft_html, sources_html,
                     turn_from_answer)
from .server import MAX_REQUEST_BYTES, BodyLimit, read_auth_file, serve

__all__ = ["Turn", "turn_from_answer", "answer_html", "draft_html", "sources_html", "article_html", "articles_html",
           "build_app", "serve", "read_auth_file", "BodyLimit", "MAX_REQUEST_BYTES", "EXAMPLES"]
