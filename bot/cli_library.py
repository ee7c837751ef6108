"""`castfive search` and `castfive export`: the library from the terminal, as a chat would see it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.render_library import plain_page
from core.bootstrap import Services

LOCAL_SUBSCRIBER = ("cli", "local")  # the one `castfive digest` delivers to
NO_SPLIT = 2**62  # a file on disk has no upload limit


def add_library_commands(sub: argparse._SubParsersAction) -> None:
    """The `search` and `export` subcommands."""
    search = sub.add_parser("search", help="search the insights a chat was sent and its shows' transcripts")
    search.add_argument("words", nargs="+")
    search.add_argument("--page", type=int, default=1, help="which page of ten (default 1)")
    search.add_argument("--subscriber", help="search as this chat (default: the local one)")
    export = sub.add_parser("export", help="export a chat's insights (Markdown for Obsidian, Readwise CSV)")
    export.add_argument("--format", choices=("markdown", "readwise"), default="markdown")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="only insights sent on or after this date")
    export.add_argument("--subscriber", help="export this chat's insights (default: the local one)")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")


async def _reader(services: Services, explicit: str | None) -> str:
    if explicit:
        return explicit
    return (await services.api.subscribe(*LOCAL_SUBSCRIBER, title="this computer")).id


async def cmd_search(services: Services, args: argparse.Namespace) -> int:
    """Print one page of hits; 1 when nothing matched."""
    library = services.api.library
    await library.caught_up()
    page = await library.search(await _reader(services, args.subscriber), " ".join(args.words),
                                page=max(args.page, 1) - 1)
    print(plain_page(page))
    if page.page + 1 < page.pages:
        print(f"\n(more: --page {page.page + 2})")
    return 0 if page.hits else 1


async def cmd_export(services: Services, args: argparse.Namespace) -> int:
    """Write the chat's insights in one file."""
    library = services.api.library
    await library.caught_up()
    (file,) = await library.export(await _reader(services, args.subscriber), args.format,
                                   since=args.since, max_bytes=NO_SPLIT)
    if args.out:
        Path(args.out).write_bytes(file.data)
        print(f"Wrote {args.out} ({len(file.data):,} bytes)", file=sys.stderr)
    else:
        sys.stdout.write(file.data.decode("utf-8"))
    return 0


LIBRARY_COMMANDS: dict[str, Callable[[Services, argparse.Namespace], Awaitable[int]]] = {
    "search": cmd_search, "export": cmd_export}
