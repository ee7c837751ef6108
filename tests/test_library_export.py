"""Exported insights parse as Obsidian Markdown with front matter and as Readwise CSV, losslessly."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, datetime

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.bootstrap import Services, build_services
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.library.export import READWISE_COLUMNS
from core.library.models import ExportFile
from core.models import Insight, InsightKind
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.library_world import ADA, BOB, SENT_DAY, seed_library, send

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FRONT = re.compile(r"^---\n(.*?)\n---\n", re.DOTALL | re.MULTILINE)
HOSTILE_TEXT = ('Costs *fell* [90%](javascript:alert(1)) <script>x</script> #tag ==mark== $x$ %%c%% '
                '| a | b | `code` \\ & &amp; ~~gone~~ [[Wiki]] ^block')
HOSTILE_QUOTE = '- "quoted": yes\n---\n> nested\n1. listed\u2028and\x85more \ud800 ✓'


@pytest.fixture
async def services() -> Services:
    built = build_services(Settings(), clock=FakeClock(NOW), store=FakeStore(),
                           fetcher=object(), transcriber=object())  # type: ignore[arg-type]
    await seed_library(built)
    return built


def sections(markdown: str) -> list[tuple[dict, str]]:
    """(front matter, body) of each episode section, in order."""
    starts = [m.start() for m in re.finditer(r"^---\nshow: ", markdown, re.MULTILINE)]
    out = []
    for begin, end in zip(starts, [*starts[1:], len(markdown)], strict=True):
        chunk = markdown[begin:end]
        front = FRONT.match(chunk)
        assert front is not None, chunk[:200]
        out.append((yaml.safe_load(front.group(1)), chunk[front.end():]))
    return out


def inline_text(token: Token) -> str:
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def insights_in(body: str) -> list[dict]:
    """Each `### insight` with its blockquote and the link, tags and id of its line."""
    tokens = MarkdownIt("commonmark").parse(body)
    found: list[dict] = []
    for n, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h3":
            found.append({"text": inline_text(tokens[n + 1]), "quote": "", "links": [], "line": ""})
        elif token.type == "blockquote_open" and found:
            found[-1]["quote"] = inline_text(tokens[n + 2])
        elif token.type == "inline" and found and tokens[n - 1].type == "paragraph_open" \
                and tokens[n - 2].type != "blockquote_open":
            found[-1]["links"] = [c.attrs["href"] for c in token.children or [] if c.type == "link_open"]
            found[-1]["line"] = inline_text(token)  # as shown: escapes undone, code as its text
    return found


def flat(text: str) -> str:
    return " ".join(text.replace("\ud800", "\ufffd").split())


async def export_text(services: Services, fmt: str, **kwargs: object) -> str:
    files = await services.api.library.export(ADA, fmt, **kwargs)  # type: ignore[arg-type]
    assert len(files) == 1
    return files[0].data.decode("utf-8")


async def test_markdown_has_front_matter_per_episode_and_round_trips_every_insight(
        services: Services) -> None:
    later = await services.repos.insights.get("i02")
    assert later is not None
    await send(services, ADA, [later], "2026-11-29")
    parsed = sections(await export_text(services, "markdown"))
    fronts = [f for f, _ in parsed]
    assert [(f["show"], f["episode"]) for f in fronts] == [("Show 0", "Episode 0"), ("Show 1", "Episode 1"),
                                                           ("Show 2", "Episode 2")]
    assert str(fronts[0]["date"]) == "2026-11-29"  # newest first: show 0 had one sent on the 29th
    assert "castfive" in fronts[0]["tags"] and "kind/claim" in fronts[0]["tags"]
    assert fronts[0]["url"] == "https://example.org/0"
    expected = {i.id: i for i in await services.repos.insights.all()}
    seen = []
    for front, body in parsed:
        assert f"## {front['show']} — {front['episode']}" in body
        for entry in insights_in(body):
            insight_id = re.search(r"id (\w+)$", entry["line"]).group(1)  # type: ignore[union-attr]
            insight = expected[insight_id]
            assert entry["text"] == insight.text and entry["quote"] == insight.quote
            audio = f"https://example.org/{insight.feed_id[-1]}.mp3#t={int(insight.start)}"
            # a private feed's audio link is never exported: its (token-free) episode page instead
            assert entry["links"] == (["https://example.org/2"] if insight.feed_id == "feed2" else [audio])
            assert f"[{int(insight.start) // 60:02d}:{int(insight.start) % 60:02d}]" in entry["line"]
            assert "#kind/claim" in entry["line"] and front["show"] in entry["line"]
            assert ("2026-11-29" if insight_id == "i02" else SENT_DAY) in entry["line"]
            seen.append(insight_id)
    assert seen == ["i02", "i00", "i01", "i10", "i20", "i21"]


async def test_readwise_csv_has_its_columns_and_round_trips_every_insight(services: Services) -> None:
    rows = list(csv.DictReader(io.StringIO(await export_text(services, "readwise"))))
    assert rows and tuple(rows[0]) == READWISE_COLUMNS
    by_id = {re.search(r"castfive-id:(\w+)", r["Note"]).group(1): r for r in rows}  # type: ignore[union-attr]
    assert set(by_id) == {"i00", "i01", "i10", "i20", "i21"}
    for insight_id, row in by_id.items():
        insight = await services.repos.insights.get(insight_id)
        assert insight is not None
        assert row["Highlight"] == insight.quote and row["Note"].split("\n\n")[0] == insight.text
        show = insight.feed_id[-1]
        assert row["Author"] == f"Show {show}" and row["Title"] == f"Episode {show}"
        assert row["Location"] == str(int(insight.start)) and row["Date"].startswith(SENT_DAY)
        assert ".kind-claim" in row["Note"]
        link = "https://example.org/2" if insight.feed_id == "feed2" else \
            f"https://example.org/{insight.feed_id[-1]}.mp3#t={int(insight.start)}"
        assert row["URL"] == link  # the private show: its episode page, never its audio


async def test_hostile_text_stays_text_in_both_formats(services: Services) -> None:
    i00 = await services.repos.insights.get("i00")
    assert i00 is not None
    odd = dataclasses.replace(i00, text=HOSTILE_TEXT, quote=HOSTILE_QUOTE, chapter="Money: the *real* story",
                              kind=InsightKind.CONTRARIAN)
    await services.repos.insights.put(odd)
    episode = await services.repos.episodes.get("ep0")
    feed = await services.repos.feeds.get("feed0")
    assert episode is not None and feed is not None
    await services.repos.episodes.put(dataclasses.replace(episode, title='Ep "one": ---\n# not a heading'))
    await services.repos.feeds.put(dataclasses.replace(feed, title="Show: *0* [x](y) \\ 'q'"))
    parsed = sections(await export_text(services, "markdown"))
    front, body = parsed[0]
    assert front["show"] == "Show: *0* [x](y) \\ 'q'" and front["episode"] == 'Ep "one": ---\n# not a heading'
    assert "topic/money-the-real-story" in front["tags"] and "kind/contrarian" in front["tags"]
    first = insights_in(body)[0]
    assert first["text"] == flat(HOSTILE_TEXT) and first["quote"] == flat(HOSTILE_QUOTE)
    tokens = MarkdownIt("commonmark").parse(body)
    assert [t.tag for t in tokens if t.type == "heading_open"][:2] == ["h2", "h3"]
    assert not any(t.type in ("html_block", "html_inline") for t in tokens)
    row = next(csv.DictReader(io.StringIO(await export_text(services, "readwise"))))
    assert row["Highlight"] == HOSTILE_QUOTE.replace("\ud800", "\ufffd")
    assert row["Note"].split("\n\n.")[0] == HOSTILE_TEXT


async def test_an_export_over_the_upload_limit_comes_in_parts_that_each_parse(services: Services) -> None:
    many = [Insight(id=f"m{n:02d}", episode_id="ep1", feed_id="feed1", text=f"Point {n} " + "word " * 40,
                    quote=f"point {n} " + "said " * 40, start=float(n * 10), end=float(n * 10 + 5),
                    created_at=NOW) for n in range(30)]
    await services.store.apply(services.repos.insights.changes(many))
    await send(services, ADA, many, "2026-11-29")
    limit = 4000
    for fmt in ("markdown", "readwise"):
        files: list[ExportFile] = await services.api.library.export(ADA, fmt, max_bytes=limit)
        assert len(files) > 2 and all(len(f.data) <= limit for f in files)
        assert [f.filename for f in files][:1] == [f"castfive-insights-part1of{len(files)}."
                                                   + ("md" if fmt == "markdown" else "csv")]
        ids: list[str] = []
        for file in files:
            text = file.data.decode("utf-8")
            if fmt == "markdown":
                for front, body in sections(text):  # every part opens with an episode's front matter
                    assert front["show"]
                    ids += [re.search(r"id (\w+)$", e["line"]).group(1)  # type: ignore[union-attr]
                            for e in insights_in(body)]
                assert text.startswith("---\nshow: ")
            else:
                rows = list(csv.DictReader(io.StringIO(text)))
                assert tuple(rows[0]) == READWISE_COLUMNS
                ids += [re.search(r"castfive-id:(\w+)", r["Note"]).group(1) for r in rows]  # type: ignore[union-attr]
        assert sorted(ids) == sorted([m.id for m in many] + ["i00", "i01", "i10", "i20", "i21"])


async def test_since_keeps_only_what_was_sent_on_or_after_the_date(services: Services) -> None:
    later = await services.repos.insights.get("i11")
    assert later is not None
    await send(services, ADA, [later], "2026-11-29")
    rows = list(csv.DictReader(io.StringIO(await export_text(services, "readwise", since="2026-11-29"))))
    assert [r["Highlight"] for r in rows] == [later.quote]
    with pytest.raises(NotFoundError, match="since 2026-12-01"):
        await services.api.library.export(ADA, "markdown", since="2026-12-01")
    for bad in ("29/11/2026", "2026-13-01", "yesterday", "2026-11-29; rm -rf /"):
        with pytest.raises(ValidationError, match="YYYY-MM-DD"):
            await services.api.library.export(ADA, "markdown", since=bad)


async def test_a_chat_exports_only_its_own_insights(services: Services) -> None:
    with pytest.raises(NotFoundError, match="nothing to export"):
        await services.api.library.export(BOB, "markdown")
    with pytest.raises(ValidationError):
        await services.api.library.export(ADA, "pdf")
