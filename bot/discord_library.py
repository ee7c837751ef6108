"""Discord's library commands: `/castfive search` (autocomplete, paging buttons), `/castfive export`.

Paging buttons are DynamicItems (`castfive:search:<search id>:<page>`) so they work after a
restart; the id names a search this channel ran, so a forged or foreign button finds nothing.
"""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands

from bot.discord_replies import answer_error, api_of, chat_of, reply, thinking
from bot.render_discord import md, safe_url
from bot.render_library import choice_label, fitted, heading, shorten
from core.errors import CastfiveError
from core.library.models import SearchPage
from core.timeutil import format_timestamp

Interaction = discord.Interaction[Any]
EMBED_LIMIT = 4000  # an embed description holds 4,096 characters
MAX_FILES_PER_MESSAGE = 10
EXPORT_LIMIT = 25 * 1024 * 1024  # never above the server's own limit (interaction.filesize_limit)
AUTOCOMPLETE_MIN_CHARS = 3


def page_embed(page: SearchPage) -> discord.Embed:
    """A search page as an embed: the query and count as title, one entry per hit."""
    embed = discord.Embed(title=shorten(f"🔎 “{page.query}” · {heading(page)}", 256),
                          colour=discord.Colour.blurple())
    if not page.hits:
        embed.description = f"Nothing found. {page.hint}".rstrip()
        return embed

    def render(text_limit: int) -> str:
        lines = []
        for n, hit in enumerate(page.hits, start=page.first_position):
            mark = "💡" if hit.source == "insight" else "📝"
            lines.append(f"**{n}.** {mark} {md(shorten(hit.text, text_limit))}")
            stamp = f"\\[{format_timestamp(hit.start)}\\]"
            url = safe_url(hit.moment_url or hit.page_url)
            moment = f"[{stamp}]({url})" if url else stamp
            ask = f" · ask: `{hit.insight_id}`" if hit.insight_id else ""
            lines.append(f"🎙 **{md(shorten(hit.show_title, 60))}** — {md(shorten(hit.episode_title, 60))}"
                         f" · {moment}{ask}")
            lines.append("")
        return "\n".join(lines).rstrip()

    embed.description = fitted(render, EMBED_LIMIT)
    return embed


def custom_id(search_id: str, page: int) -> str:
    """'castfive:search:<search id>:<page>'."""
    return f"castfive:search:{search_id}:{page}"


class SearchPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"castfive:search:(?P<search>[a-z0-9]{6}):(?P<page>\d{1,3})",
):
    """◀ or ▶ under a search page; survives restarts."""

    def __init__(self, search_id: str, page: int, label: str = "Page") -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           custom_id=custom_id(search_id, page)))
        self.search_id = search_id
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: discord.ui.Item[Any],
                             match: Any, /) -> SearchPageButton:
        """Rebuild the button from a click on any message, however old."""
        return cls(match["search"], int(match["page"]))

    async def callback(self, interaction: Interaction) -> None:
        """Show that page of the search in the same message."""
        try:
            page = await api_of(interaction).library.page(
                chat_of(interaction), self.search_id, self.page)
            await interaction.response.edit_message(embed=page_embed(page), view=page_view(page))
        except Exception as exc:  # noqa: BLE001 - the one error handler logs and answers
            await answer_error(interaction, exc)


def page_view(page: SearchPage) -> discord.ui.View | None:
    """◀ and ▶ when there is more than one page."""
    if page.pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    if page.page > 0:
        view.add_item(SearchPageButton(page.search_id, page.page - 1, "◀ Previous"))
    if page.page + 1 < page.pages:
        view.add_item(SearchPageButton(page.search_id, page.page + 1, "Next ▶"))
    return view


async def search_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """This channel's recent searches containing what is typed, then the best live match."""
    sub_id = chat_of(interaction)
    typed = " ".join(current.split())[:100]
    try:
        library = api_of(interaction).library
        recent = await library.recent_searches(sub_id, typed)
        choices = [app_commands.Choice(name=shorten(f"🕘 {q}", 100), value=q[:100]) for q in recent]
        if len(typed) >= AUTOCOMPLETE_MIN_CHARS and typed not in recent:
            live = await library.preview(sub_id, typed)
            if live is not None:
                choices.insert(0, app_commands.Choice(name=choice_label(live), value=typed))
    except CastfiveError:
        return []
    return choices[:25]


@app_commands.command(name="search", description="Search the insights sent here and the shows' transcripts")
@app_commands.describe(words="What to look for (every word must match)")
@app_commands.autocomplete(words=search_choices)
async def search(interaction: Interaction, words: app_commands.Range[str, 1, 200]) -> None:
    sub_id = chat_of(interaction)
    async with thinking(interaction):
        page = await api_of(interaction).library.search(sub_id, words)
    view = page_view(page)
    extra: dict[str, Any] = {"view": view} if view else {}  # no view at all, not view=None
    await reply(interaction, embed=page_embed(page), **extra)


@app_commands.command(name="export", description="The insights sent here, as Markdown (Obsidian) and CSV")
@app_commands.describe(since="Only those sent on or after this date, YYYY-MM-DD")
async def export(interaction: Interaction, since: app_commands.Range[str, 0, 10] | None = None) -> None:
    library, sub_id = api_of(interaction).library, chat_of(interaction)
    limit = min(interaction.filesize_limit, EXPORT_LIMIT)
    async with thinking(interaction, ephemeral=True):
        files = [f for fmt in ("markdown", "readwise")
                 for f in await library.export(sub_id, fmt, since=since, max_bytes=limit)]
    for first in range(0, len(files), MAX_FILES_PER_MESSAGE):
        batch = files[first:first + MAX_FILES_PER_MESSAGE]
        text = ("Your insights: the .md file for Obsidian, the .csv for Readwise's import."
                if first == 0 else "More of your insights.")
        await reply(interaction, text, ephemeral=True,
                    files=[discord.File(io.BytesIO(f.data), filename=f.filename) for f in batch])


LIBRARY_COMMANDS: tuple[app_commands.Command[Any, Any, None], ...] = (search, export)
