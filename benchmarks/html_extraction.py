"""Web-page extraction: trafilatura (what extract.py uses) against the standard-library parser the corpus used
before, on the news pages of tests/fixtures/pages (navigation, consent banners, related links, adverts, comments).

For each page: the share of its body sentences (`<page>.expected.txt`) that the extracted text holds, and the words
of the extracted text that are not in the body (boilerplate kept).

    python -m benchmarks.html_extraction
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from assistant.extract import extract
from assistant.chrome import clean

PAGES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pages"


class StdlibText(HTMLParser):
    """The baseline: visible block text of a page, one block per line, without script, style, nav, header, footer,
    aside, figcaption, noscript, form and button (ingest.py until 2026-12-07), then ingest's chrome cleaning."""

    _SKIP = {"script", "style", "nav", "header", "footer", "aside", "figcaption", "noscript", "form", "button"}
    _BLOCK = {"p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "li", "br", "tr", "blockquote",
              "title", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in self._SKIP
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def stdlib(raw: bytes) -> str:
    parser = StdlibText()
    parser.feed(raw.decode("utf-8"))
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line and line != parser.parts[0])
    sections, _ = clean(text)
    return "\n".join(text[s:e] for section in sections for s, e in section)


def trafilatura(raw: bytes) -> str:
    text = extract(raw, ".html").text
    sections, _ = clean(text)
    return "\n".join(text[s:e] for section in sections for s, e in section)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def main() -> None:
    totals = {}
    print(f"{'page':22} {'extractor':12} {'body kept':>9} {'other words':>11}")
    for page in sorted(PAGES.glob("*.html")):
        raw = page.read_bytes()
        body = [line for line in page.with_suffix(".expected.txt").read_text(encoding="utf-8").split("\n") if line]
        body_words = set(_words(" ".join(body)))
        for name, extractor in (("stdlib", stdlib), ("trafilatura", trafilatura)):
            flat = " ".join(extractor(raw).split())
            kept = sum(" ".join(line.split()) in flat for line in body)
            other = sum(w not in body_words for w in _words(flat))
            print(f"{page.name:22} {name:12} {kept:>4}/{len(body):<4} {other:>11}")
            k, n, o = totals.get(name, (0, 0, 0))
            totals[name] = (k + kept, n + len(body), o + other)
    for name, (k, n, o) in totals.items():
        print(f"{'all':22} {name:12} {k:>4}/{n:<4} {o:>11}")


if __name__ == "__main__":
    main()
