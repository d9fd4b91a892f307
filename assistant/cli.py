"""Command line: `assistant index`, `assistant retrieve "..."`, `assistant ask "..."`, `assistant serve`, and the
articles: `assistant add PATH_OR_URL...`, `assistant remove ID`, `assistant list [--json]`.

A thin shell over `Assistant`: it parses arguments, prints results (plain or `--json`), and turns library errors
into a one-line message and a non-zero exit code (1: a problem the user can fix; 2: bad command line;
3: an unexpected internal error, whose traceback only `--debug` shows; 130: interrupted).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

from .answer import EXTRACTIVE, withheld_line
from .api import Assistant
from .config import RETRIEVAL_MODES, Config
from .errors import AssistantError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Grounded multilingual Q&A over news articles.")
    parser.add_argument("--config", help="a TOML config file (default: assistant.toml in the current folder, if any)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print results and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    p.add_argument("--rebuild", action="store_true", help="re-embed every article")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("retrieve", help="print the passages that best match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="number of passages (default from config: 5)")
    p.add_argument("--mode", choices=RETRIEVAL_MODES, default=None)
    p.add_argument("--json", action="store_true", help="print the passages as JSON")

    p = sub.add_parser("ask", help="answer a question with verified citations, or say the articles don't")
    p.add_argument("question")
    p.add_argument("--history", action="append", default=[], metavar="QUESTION",
                   help="a previous question of the conversation (repeatable, oldest first)")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")

    p = sub.add_parser("add", help="add articles (files or web addresses) to the corpus and index them")
    p.add_argument("items", nargs="+", metavar="PATH_OR_URL", help=".txt .md .html .pdf .docx files, or http(s) URLs")
    p.add_argument("--no-index", action="store_true", help="only add the files; the next index or question indexes")

    p = sub.add_parser("remove", help="remove an article (by the id `assistant list` shows) and update the index")
    p.add_argument("id")

    p = sub.add_parser("list", help="list the articles: id, title, language, date, size, status")
    p.add_argument("--json", action="store_true", help="print a list of objects (id, title, language, date, size, "
                                                       "status, reason, url)")

    p = sub.add_parser("models", help="list the readers, or prepare one (assemble or fetch its model file)")
    p.add_argument("action", nargs="?", choices=("list", "prepare"), default="list")
    p.add_argument("name", nargs="?", help="the reader to prepare (default: the configured one)")

    p = sub.add_parser("config", help="every setting: its value, range or choices, what it does, whether it "
                                      "rebuilds the index")
    p.add_argument("--json", action="store_true", help="print a list of objects")

    p = sub.add_parser("serve", help="serve the web UI (builds or loads the index and loads the model first)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=7860, help="1-65535 (default 7860)")
    p.add_argument("--share", action="store_true", help="also make a temporary public link through gradio.live")
    p.add_argument("--read-only", action="store_true", help="no adding or removing articles from the browser")
    p.add_argument("--auth", metavar="FILE", help="a password file of user:password lines: the browser logs in "
                                                  "first (needed to add articles on an address other than this "
                                                  "machine's)")
    p.add_argument("--also-load", action="append", default=[], metavar="READER",
                   help="load another reader too, for sessions to pick in the settings (repeatable)")
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 1 to 65535, not {text!r}")
    return port


def must_be_read_only(host: str, share: bool, auth, read_only: bool) -> bool:
    """Adding and removing articles is off when asked, or when others can reach the server (an address other than
    loopback, or a public link) and nobody has to log in."""
    loopback = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
    return read_only or (not auth and (share or not loopback))


def _print_passages(passages) -> None:
    for rank, p in enumerate(passages, start=1):
        print(f"[{rank}] {p.source} ({p.language}) chars {p.start}-{p.end}  score {p.score:.4f}")
        print(f"    {p.title}")
        print(textwrap.indent(textwrap.fill(p.text, 100), "    "))
        print()


def _print_answer(answer) -> None:
    print(answer.text)
    if answer.note:
        print(answer.note)
    if answer.citations:
        print()
        for c in answer.citations:
            page = f"page {c.page}, " if c.page else ""
            print(f"[{c.number}] {c.source} — {c.title} ({page}chars {c.start}-{c.end})")
            print(textwrap.indent(textwrap.fill(f"“{c.text}”", 100), "    "))
    if answer.withheld:
        print()
        print(withheld_line([w.source for w in answer.withheld]))


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit status (library errors are raised to `main`)."""
    config = Config.from_file(args.config) if args.config else Config.load()
    if args.command == "config":  # no assistant needed
        return _config(config, args)
    assistant = Assistant(config, progress=not args.quiet)
    return _COMMANDS[args.command](assistant, args) or 0


def _config(config: Config, args) -> int:
    rows = Config.describe()
    for row in rows:
        row["value"] = getattr(config, row["key"])
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return 0
    for row in rows:
        bounds = row["range"] and f"{row['range'][0]:g} to {row['range'][1]:g}" or \
            (row["choices"] and " | ".join(row["choices"])) or ""
        rebuilds = "; rebuilds the index" if row["rebuilds"] else ""
        value = f'"{row["value"]}"' if isinstance(row["value"], Path) else repr(row["value"])
        print(f"{row['key']} = {value}\n    {row['help']}{f' ({bounds})' if bounds else ''}{rebuilds}")
        if row["chosen"]:
            print(f"    chosen: {row['chosen']}")
    return 0


def _index(assistant: Assistant, args) -> None:
    report = assistant.index(rebuild=args.rebuild, load=False)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    print(report.summary())
    for problem in report.skipped:
        print(f"skipped {problem}")


def _retrieve(assistant: Assistant, args) -> None:
    passages = assistant.retrieve(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=2))
    else:
        _print_passages(passages)


def _ask(assistant: Assistant, args) -> None:
    answer = assistant.ask(args.question, history=args.history or None)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)


def _add(assistant: Assistant, args) -> int:
    failed = 0
    for item in args.items:
        try:
            info = assistant.add(item, index=False)
            print(f"added {info.id}  {info.title}")
        except AssistantError as exc:  # one bad file does not stop the others
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    if failed < len(args.items) and not args.no_index:
        report = assistant.index(load=False)
        if not args.quiet:
            print(report.summary(), file=sys.stderr)
    return 1 if failed else 0


def _remove(assistant: Assistant, args) -> None:
    assistant.remove(args.id, wait=True)
    print(f"removed {args.id}")


def _list(assistant: Assistant, args) -> None:
    rows = assistant.articles()
    if args.json:
        keys = ("id", "title", "language", "date", "size", "status", "reason", "url")
        print(json.dumps([{k: getattr(r, k) for k in keys} for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        why = f" ({r.reason})" if r.reason else ""
        print(f"{r.id}\t{r.language or '-'}\t{r.date or '-'}\t{r.size}\t{r.status}{why}\t{r.title}")


def _models(assistant: Assistant, args) -> None:
    from . import readers

    config = assistant.config
    if args.action == "prepare":
        name = args.name or config.model
        reader = readers.reader_for(name)
        if reader.parts and not args.quiet:
            print(f"assembling {reader.name} into {config.models_dir} (once; {reader.size / 1e9:.1f} GB)",
                  file=sys.stderr)
        path = readers.model_file(config.replace(model=name))
        print(f"{name}: {path}")
        return
    for name, where, summary in readers.status(config):
        mark = "*" if name == config.model else " "
        print(f"{mark} {name:24} {summary}\n  {'':24} {where}")


def _serve(assistant: Assistant, args) -> None:
    from .ui import read_auth_file, serve

    config = assistant.config
    auth = read_auth_file(args.auth) if args.auth else None
    read_only = must_be_read_only(args.host, args.share, auth, args.read_only)
    if read_only and not args.read_only:
        print(f"serving on {'a public link' if args.share else args.host} without --auth: adding and removing "
              f"articles is off (--read-only); give --auth FILE to allow it", file=sys.stderr)
    report = assistant.index()
    if not args.quiet:
        print(report.summary(), file=sys.stderr)
    if config.answer_mode != EXTRACTIVE:
        assistant.warm()  # load the model once, now, rather than on the first question
        for name in args.also_load:
            assistant.load_reader(name)
    app = serve(assistant, host=args.host, port=args.port, share=args.share,
                read_only=read_only, auth=auth)
    # said once the port answers: building the app takes seconds, and a page opened before that was refused
    print(f"serving on http://{args.host}:{args.port} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    app.block_thread()


_COMMANDS = {"index": _index, "retrieve": _retrieve, "ask": _ask, "add": _add, "remove": _remove, "list": _list,
             "models": _models, "serve": _serve}


def main(argv: list[str] | None = None) -> int:
    """The `assistant` command: library errors are one line and exit status 1, never a traceback."""
    args = _parser().parse_args(argv)
    # Our messages at INFO (WARNING with --quiet); other libraries' only from WARNING up. (llama-index's FAISS
    # store logs "Loading ..." on the root logger at INFO, so the root logger must stay at WARNING.)
    logging.basicConfig(level=logging.WARNING, format="assistant: %(message)s", stream=sys.stderr)
    logging.getLogger("assistant").setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return run(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # an index build keeps what it embedded (checkpoint.py): running it again goes on from there
        resume = "; `assistant index` goes on from what was embedded" if args.command == "index" else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `assistant ask ... | head -1`: the reader of our output left; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not fail again
        return 0
    except Exception as exc:  # the edge: never a traceback unless asked for
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
