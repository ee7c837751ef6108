"""`castfive` command line: feeds, polling, transcripts, insights, the digest and questions."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.cli_library import LIBRARY_COMMANDS, add_library_commands
from bot.cli_output import ProgressBar, print_answer, print_digest, print_insights, print_transcript
from bot.logging_setup import setup_logging
from bot.scale_cli import SCALE_COMMANDS, add_scale_parsers, queue_scan
from core.access import OPERATOR
from core.bootstrap import Services, build_services
from core.config import Settings, load_settings
from core.dsn import url_secrets
from core.errors import CastfiveError, NotFoundError
from core.netguard import check_url

LOCAL_SUBSCRIBER = ("cli", "local")
log = logging.getLogger("castfive.cli")


def find_config(explicit: str | None) -> Path | None:
    """--config, else $CASTFIVE_CONFIG, else ./config.toml, else ./config.example.toml, else none."""
    if explicit:
        return Path(explicit)
    if os.environ.get("CASTFIVE_CONFIG"):
        return Path(os.environ["CASTFIVE_CONFIG"])
    for name in ("config.toml", "config.example.toml"):
        if Path(name).is_file():
            return Path(name)
    return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="castfive", description="Top podcast insights, daily.")
    parser.add_argument("--config", help="TOML config file (default: ./config.toml or ./config.example.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more, and show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("scan", help="poll feeds, fetch or transcribe new episodes, extract insights")
    sub.add_parser("poll", help="poll all feeds now and list the new episodes")
    feeds = sub.add_parser("feeds", help="manage the operator's feeds").add_subparsers(
        dest="action", required=True
    )
    add = feeds.add_parser("add", help="follow a feed by URL, or search with --search")
    add.add_argument("url", nargs="?")
    add.add_argument("--search", metavar="TERM")
    feeds.add_parser("list")
    remove = feeds.add_parser("remove")
    remove.add_argument("feed_id")
    imp = feeds.add_parser("import")
    imp.add_argument("file")
    feeds.add_parser("export")
    episodes = sub.add_parser("episodes", help="list known episodes with their ids and states")
    episodes.add_argument("feed_id", nargs="?")
    queue = sub.add_parser("queue", help="queue a back-catalogue or failed episode for processing")
    queue.add_argument("episode")
    transcript = sub.add_parser("transcript", help="print an episode's transcript with timestamps")
    transcript.add_argument("episode")
    insights = sub.add_parser("insights", help="print an episode's insights")
    insights.add_argument("episode")
    digest = sub.add_parser("digest", help="scan, then print today's five")
    digest.add_argument("--subscriber", help="subscriber id (default: a local one following every feed)")
    digest.add_argument("--no-scan", action="store_true", help="do not poll or process first")
    ask = sub.add_parser("ask", help="ask a follow-up question about an insight")
    ask.add_argument("insight_id")
    ask.add_argument("question")
    add_scale_parsers(sub)
    add_library_commands(sub)  # search, export: bot/cli_library.py
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(find_config(args.config))
    except CastfiveError as exc:
        print(f"castfive: {exc}", file=sys.stderr)
        return 2
    # `store migrate --to URL` names a database on the command line: its password is masked too
    secrets = (*settings.secrets.for_log_scrubbing(), *url_secrets(getattr(args, "to", None) or ""))
    setup_logging(logging.INFO if args.verbose else logging.WARNING, secrets)
    try:
        if args.command in SCALE_COMMANDS:
            return SCALE_COMMANDS[args.command](args, settings)
        return asyncio.run(_run(args, settings))
    except CastfiveError as exc:
        print(f"castfive: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("castfive: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line; the traceback only when asked for
        if args.verbose:
            log.exception("unexpected error")
        print(f"castfive: unexpected error ({type(exc).__name__}: {exc}); rerun with -v for details",
              file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    services = build_services(settings)
    await services.start()
    try:
        handler = _COMMANDS[args.command]
        return await handler(services, args)
    finally:
        await services.close()


async def cmd_scan(services: Services, args: argparse.Namespace) -> int:
    """Poll, fetch, transcribe and extract, with progress."""
    await _scan(services, quiet=False)
    return 0


async def _scan(services: Services, *, quiet: bool) -> None:
    if services.settings.distributed.mode == "distributed":  # the workers do it (bot/scale_cli.py)
        return await queue_scan(services, quiet=quiet)
    reports = await services.poller.poll_due()
    new = sum(len(r.new_episodes) for r in reports)
    backlog = await services.pipeline.backlog()
    if not quiet or backlog:
        print(f"Polled {len(reports)} feed(s): {new} new episode(s); {len(backlog)} to process.",
              file=sys.stderr)
    bar = ProgressBar(len(backlog))
    report = await services.pipeline.run_pending(progress=bar.update)
    bar.close()
    for episode_id, reason in report.failed:
        print(f"  failed {episode_id}: {reason}", file=sys.stderr)
    for episode_id, reason in report.deferred:
        print(f"  will retry {episode_id}: {reason}", file=sys.stderr)


async def cmd_poll(services: Services, args: argparse.Namespace) -> int:
    """Poll every feed now and list what is new."""
    feeds = await services.poller.list_feeds()
    reports = [await services.poller.poll(f) for f in feeds]
    for report in reports:
        status = report.error or report.status
        print(f"{report.feed.id}  {report.feed.title or '(untitled)'}: "
              f"{len(report.new_episodes)} new ({status})")
        for episode in report.new_episodes:
            print(f"    {episode.id}  {episode.title}")
    return 0


async def cmd_feeds(services: Services, args: argparse.Namespace) -> int:
    """feeds add|list|remove|import|export."""
    poller = services.poller
    if args.action == "add":
        if args.search:
            from core.feeds.search import search_podcasts

            results = await search_podcasts(services.fetcher, services.settings.feeds.search_url, args.search)
            for r in results:
                print(f"{r.title} — {r.author}\n    {r.feed_url}")
            return 0 if results else 1
        if not args.url:
            raise CastfiveError("Give a feed URL, or --search TERM.")
        feed, episodes = await poller.add_feed(check_url(args.url), origin="operator")
        print(f"Added {feed.id}  {feed.title} ({len(episodes)} episodes known)")
    elif args.action == "list":
        for feed in await poller.list_feeds():
            print(f"{feed.id}  {feed.title or '(untitled)'}  [{feed.status}]"
                  + (f"  last error: {feed.last_error}" if feed.last_error else ""))
    elif args.action == "remove":
        if await services.repos.feeds.get(args.feed_id) is None:
            raise NotFoundError(f"No feed with id {args.feed_id!r}.")
        await poller.remove_feed(args.feed_id)
        print(f"Removed {args.feed_id}")
    elif args.action == "import":
        from core.feeds.opml import parse_opml

        for title, url in parse_opml(Path(args.file).read_bytes()):
            try:
                feed, _ = await poller.add_feed(check_url(url), origin="operator")
                print(f"Added {feed.id}  {feed.title}")
            except CastfiveError as exc:
                print(f"Skipped {title or 'a feed'}: {exc}", file=sys.stderr)
    elif args.action == "export":
        from core.feeds.opml import build_opml

        sys.stdout.write(build_opml(await poller.list_feeds()).decode("utf-8"))
    return 0


async def _episode(services: Services, ref: str):
    episodes = await services.repos.episodes.all()
    matches = [e for e in episodes if e.id == ref] or [e for e in episodes if e.id.startswith(ref)]
    if len(matches) != 1:
        raise NotFoundError(f"No single episode matches {ref!r}; see `castfive episodes` for ids.")
    return matches[0]


async def cmd_episodes(services: Services, args: argparse.Namespace) -> int:
    """List episodes, newest first, with id, state and any error."""
    episodes = [
        e for e in await services.repos.episodes.all() if not args.feed_id or e.feed_id == args.feed_id
    ]
    episodes.sort(key=lambda e: (e.published_at is None, e.published_at), reverse=True)
    for episode in episodes:
        when = episode.published_at.date().isoformat() if episode.published_at else "????-??-??"
        error = f"  ({episode.last_error})" if episode.last_error else ""
        print(f"{episode.id}  {when}  {episode.state:<16} {episode.title}{error}")
    return 0


async def cmd_queue(services: Services, args: argparse.Namespace) -> int:
    """Queue one episode by id (or unique prefix); the next scan processes it."""
    episode = await services.poller.queue_episode((await _episode(services, args.episode)).id)
    print(f"{episode.id}  {episode.state}  {episode.title}")
    return 0


async def cmd_transcript(services: Services, args: argparse.Namespace) -> int:
    """Print an episode's transcript."""
    from core.store.blobs import load_transcript

    episode = await _episode(services, args.episode)
    transcript = await load_transcript(services.store, episode.id)
    if transcript is None:
        raise NotFoundError(
            f"Episode {episode.id} has no transcript yet ({episode.state}); run `castfive scan`."
        )
    print_transcript(episode, transcript)
    return 0


async def cmd_insights(services: Services, args: argparse.Namespace) -> int:
    """Print an episode's insights, best first."""
    episode = await _episode(services, args.episode)
    insights = [i for i in await services.repos.insights.all() if i.episode_id == episode.id]
    print_insights(episode, sorted(insights, key=lambda i: -i.score))
    return 0


async def cmd_digest(services: Services, args: argparse.Namespace) -> int:
    """Scan, then print today's five for a subscriber."""
    if not args.no_scan:
        await _scan(services, quiet=True)
    subscriber_id = args.subscriber
    if not subscriber_id:
        subscriber = await services.api.subscribe(*LOCAL_SUBSCRIBER, title="this computer")
        subscriber_id = subscriber.id
    print_digest(await services.api.today(subscriber_id))
    return 0


async def cmd_ask(services: Services, args: argparse.Namespace) -> int:
    """Answer a question about an insight."""
    answer = await services.api.ask(args.insight_id, args.question, user_key="cli:local",
                                    reader=OPERATOR)
    print_answer(answer)
    return 0


_COMMANDS: dict[str, Callable[[Services, argparse.Namespace], Awaitable[int]]] = {
    "scan": cmd_scan,
    "poll": cmd_poll,
    "feeds": cmd_feeds,
    "episodes": cmd_episodes,
    "queue": cmd_queue,
    "transcript": cmd_transcript,
    "insights": cmd_insights,
    "digest": cmd_digest,
    "ask": cmd_ask,
    **LIBRARY_COMMANDS,
}


if __name__ == "__main__":
    raise SystemExit(main())
