"""Conversations of the web UI, kept in SQLite in the index folder (`conversations.sqlite3`).

Each browser has an owner id, a random token the server makes and the browser keeps in its local storage; every
query here is scoped to it, so one browser never sees another's conversations (the token is the only key: whoever
holds it holds them). A conversation is a title (its first question, until renamed) and its turns, each stored as
the JSON the UI re-renders it from. `markdown` writes one out: questions, answers and, for each citation, the
article's title, date, URL or file, page, and the cited sentence.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from .errors import AssistantError

__all__ = ["Conversations", "new_owner", "markdown"]

_TITLE_CHARS = 80
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE, n INTEGER NOT NULL,
    turn TEXT NOT NULL, PRIMARY KEY (conversation, n));
"""


def new_owner() -> str:
    """A new browser's random id: the only key to its conversations."""
    return secrets.token_urlsafe(24)


def _valid(owner: str) -> bool:
    return isinstance(owner, str) and 16 <= len(owner) <= 64 and owner.replace("-", "").replace("_", "").isalnum()


class Conversations:
    """The conversations database. Every method takes the owner id; an invalid one owns nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AssistantError(f"cannot open the conversations database {self.path}: {exc}") from None

    def _db(self):
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA foreign_keys = ON")
        return closing(db)

    def _run(self, sql: str, args: tuple = (), many: bool = False) -> list:
        with self._lock, self._db() as db:
            try:
                rows = db.execute(sql, args).fetchall()
                db.commit()
                return rows
            except sqlite3.Error as exc:
                raise AssistantError(f"the conversations database failed: {exc}") from None

    def list(self, owner: str) -> list[tuple[str, str]]:
        """(id, title) of the owner's conversations, the most recent first."""
        if not _valid(owner):
            return []
        return [(i, t) for i, t in self._run(
            "SELECT id, title FROM conversations WHERE owner = ? ORDER BY updated DESC", (owner,))]

    def turns(self, owner: str, conversation: str) -> list[dict]:
        """The turns of one of `owner`'s conversations, oldest first ([] for another's)."""
        rows = self._run("SELECT t.turn FROM turns t JOIN conversations c ON c.id = t.conversation "
                         "WHERE c.owner = ? AND c.id = ? ORDER BY t.n", (owner, conversation))
        return [json.loads(turn) for (turn,) in rows]

    def title(self, owner: str, conversation: str) -> str:
        """The title of one of `owner`'s conversations ("" for another's)."""
        rows = self._run("SELECT title FROM conversations WHERE owner = ? AND id = ?", (owner, conversation))
        return rows[0][0] if rows else ""

    def append(self, owner: str, conversation: str | None, turn: dict) -> str:
        """Add a turn to the owner's conversation (a new one when None or not the owner's); returns its id."""
        if not _valid(owner):
            raise AssistantError("this browser has no conversation id; reload the page")
        now = time.time()
        if not conversation or not self.title(owner, conversation):
            conversation = secrets.token_urlsafe(12)
            title = " ".join(str(turn.get("question", "")).split())[:_TITLE_CHARS] or "Conversation"
            self._run("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", (conversation, owner, title, now, now))
        (n,) = self._run("SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation,))[0]
        self._run("INSERT INTO turns VALUES (?, ?, ?)", (conversation, n, json.dumps(turn, ensure_ascii=False)))
        self._run("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation))
        return conversation

    def rename(self, owner: str, conversation: str, title: str) -> None:
        """Rename one of `owner`'s conversations (nothing for another's)."""
        title = " ".join(title.split())[:_TITLE_CHARS]
        if title:
            self._run("UPDATE conversations SET title = ? WHERE owner = ? AND id = ?", (title, owner, conversation))

    def delete(self, owner: str, conversation: str) -> None:
        """Delete one of `owner`'s conversations (nothing for another's)."""
        self._run("DELETE FROM conversations WHERE owner = ? AND id = ?", (owner, conversation))


def markdown(title: str, turns: list[dict], articles: dict[str, dict]) -> str:
    """A conversation as Markdown. `turns`: the stored turns (question, text, citations); `articles`: what the
    corpus manifest says of each cited file (title, date, url)."""
    out = [f"# {title}", ""]
    for turn in turns:
        out += [f"**Q:** {turn.get('question', '')}", "", f"**A:** {turn.get('text', '')}", ""]
        for c in turn.get("citations", []):
            meta = articles.get(c["source"], {})
            where = meta.get("url") or c["source"]
            parts = [c.get("title") or meta.get("title") or c["source"]]
            if meta.get("date"):
                parts.append(meta["date"])
            if c.get("page"):
                parts.append(f"page {c['page']}")
            parts.append(where)
            out += [f"- [{c['number']}] {', '.join(parts)}", f"  > {' '.join(c['text'].split())}"]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
