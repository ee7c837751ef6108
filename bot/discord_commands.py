"""The `/castfive` slash command group: each handler parses, calls the service API, renders.

Changing a subscription or its podcasts needs Manage Server on a server, checked on every call
(default member permissions are only a hint admins can override). In a direct message the member
manages their own personal subscription ("discord:<dm channel id>").
"""

from __future__ import annotations

import functools
import io
from datetime import date
from typing import Any

import discord
from discord import app_commands

from bot.discord_library import LIBRARY_COMMANDS
from bot.discord_replies import api_of, chat_of, chat_subscriber_id, reply, thinking, user_key
from bot.discord_views import SearchChoices, insight_view
from bot.render_discord import (
    NO_PODCASTS,
    added_text,
    answer_chunks,
    candidates_text,
    choice_label,
    discord_time,
    feeds_text,
    import_text,
    item_embed,
    item_header,
    schedule_text,
    shorten,
    subscribed_text,
    unsubscribed_text,
)
from bot.render_import import FAILURES_FILENAME, failures_file
from bot.render_sharing import export_caption, today_pointer
from core.cadence import DAY_NAMES, schedule_change
from core.chat_cooldown import PostedRecentlyError
from core.errors import CastfiveError, PermissionDeniedError, ValidationError
from core.models import Cadence
from core.ports import MessageRef
from core.timeutil import zone_names

MAX_OPML_BYTES = 1024 * 1024
NOTHING_TODAY = "Nothing new worth your time today: no fresh insights yet. Try again later."
Interaction = discord.Interaction[Any]
Channel = discord.TextChannel | None


def _manages_server(interaction: Interaction) -> bool:
    if interaction.guild_id is None:
        return True  # a DM: the member's own subscription
    if interaction.permissions.manage_guild:
        return True
    raise app_commands.MissingPermissions(["manage_guild"])


manage_server = app_commands.check(_manages_server)


def _target(interaction: Interaction, channel: Channel) -> tuple[str, str, str]:
    """(chat id, title, how to name it) of the channel given, this channel, or this DM."""
    if interaction.guild is None:
        return str(interaction.channel_id), f"DM with {interaction.user.name}", "this chat"
    chosen = channel or interaction.channel
    if not isinstance(chosen, discord.TextChannel):
        raise ValidationError("Pick a text channel for Castfive (not a thread or a voice channel).")
    return str(chosen.id), f"#{chosen.name} ({interaction.guild.name})", chosen.mention


def _target_id(interaction: Interaction, channel: Channel) -> str:
    return chat_subscriber_id(_target(interaction, channel)[0])


def _check_bot_can_post(interaction: Interaction, channel: Channel) -> None:
    chosen = channel or interaction.channel
    if interaction.guild is None or not isinstance(chosen, discord.TextChannel):
        return
    perms = chosen.permissions_for(interaction.guild.me)
    if not (perms.view_channel and perms.send_messages and perms.embed_links):
        raise PermissionDeniedError(
            f"I cannot post in {chosen.mention}: give me View Channel, Send Messages and Embed Links there.")


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zone_names().values()))  # only the names /time accepts


async def zone_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Time zones containing what the member typed."""
    typed = current.strip().lower().replace(" ", "_")
    return [app_commands.Choice(name=z, value=z) for z in _zones() if typed in z.lower()][:25]


async def insight_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Recent insights of this chat whose id starts with what the member typed."""
    try:
        chat_id = chat_of(interaction)
        items = await api_of(interaction).recent_insights(chat_id, current)
    except CastfiveError:
        return []
    return [app_commands.Choice(name=choice_label(i), value=i.insight.id) for i in items[:25]]


async def feed_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Podcasts followed here whose title or id contains what the member typed."""
    try:
        feeds = await api_of(interaction).list_feeds(chat_of(interaction))
    except CastfiveError:
        return []
    typed = current.strip().lower()
    return [app_commands.Choice(name=shorten(f.title or f.id, 100), value=f.id) for f in feeds
            if typed in (f.title or "").lower() or f.id.startswith(typed)][:25]


CADENCE_CHOICES = [app_commands.Choice(name=c.value, value=c.value) for c in Cadence]
DAY_CHOICES = [app_commands.Choice(name=f"{date(2026, 1, 5 + n):%A}", value=name)  # 5 Jan: a Monday
               for n, name in enumerate(DAY_NAMES)]

castfive = app_commands.Group(name="castfive",
                              description="Five podcast insights a day, with follow-up questions")
feeds = app_commands.Group(name="feeds", description="The podcasts Castfive follows for this channel",
                           parent=castfive)


@castfive.command(name="today", description="Today's five insights, now")
async def today(interaction: Interaction) -> None:
    api, sub_id = api_of(interaction), chat_of(interaction)
    try:  # in a server channel, once an hour: sooner, a private line points at the last post
        async with thinking(interaction):
            digest = await api.today(sub_id, shared_chat=interaction.guild_id is not None)
    except PostedRecentlyError as hit:
        await reply(interaction, today_pointer_text(interaction, hit), ephemeral=True)
        return
    if digest.follows_nothing:
        await reply(interaction, NO_PODCASTS)
    elif not digest.items:
        await reply(interaction, NOTHING_TODAY)
    try:
        for item in digest.items:  # one message per insight: its buttons and its thread belong to it
            message = await reply(interaction, item_header(item), embed=item_embed(item),
                                  view=insight_view(item.insight.id))
            if message is not None:
                await api.remember_message(sub_id, str(message.id),
                                           MessageRef(item.insight.id, f"{sub_id}:{message.id}"))
                if item is digest.items[0]:
                    await api.note_today_post(sub_id, str(message.id))
    except Exception:  # nothing reached the channel: the hour's turn must not point at nothing
        await api.today_not_posted(sub_id)
        raise


def today_pointer_text(interaction: Interaction, hit: PostedRecentlyError) -> str:
    """Where the last /castfive today post is (a jump link), and when it works again here."""
    link = (f"https://discord.com/channels/{interaction.guild_id}/{interaction.channel_id}/"
            f"{hit.message_id}") if hit.message_id else None
    return today_pointer(link, discord_time(hit.posted_at), discord_time(hit.retry_at),
                         "/castfive today")


@castfive.command(name="ask", description="Ask a follow-up question about an insight")
@app_commands.rename(insight_id="id")
@app_commands.describe(insight_id="The insight's id (start typing to pick a recent one)",
                       question="What you would like to know")
@app_commands.autocomplete(insight_id=insight_choices)
async def ask(interaction: Interaction, insight_id: str, question: app_commands.Range[str, 1, 500]) -> None:
    api, conversation = api_of(interaction), f"discord-ask:{interaction.id}"
    async with thinking(interaction):
        answer = await api.ask(insight_id, question, user_key=user_key(interaction.user),
                               conversation_id=conversation,
                               reader=chat_of(interaction))
    for chunk in answer_chunks(answer):
        message = await reply(interaction, chunk)
        if message is not None:  # replying to the answer continues the conversation
            await api.remember_message(chat_of(interaction), str(message.id),
                                       MessageRef(answer.insight_id, conversation))


@castfive.command(name="subscribe", description="Post the daily five in a channel (in a DM: to you)")
@app_commands.rename(hhmm="time")
@app_commands.describe(channel="Where to post (default: here)", hhmm="Local time, HH:MM",
                       zone="e.g. Europe/Berlin")
@app_commands.autocomplete(zone=zone_choices)
@manage_server
async def subscribe(interaction: Interaction, channel: Channel = None, hhmm: str | None = None,
                    zone: str | None = None) -> None:
    api = api_of(interaction)
    chat_id, title, where = _target(interaction, channel)
    _check_bot_can_post(interaction, channel)
    sub = await api.subscribe("discord", chat_id, title, timezone=zone, delivery_time=hhmm)
    await reply(interaction, subscribed_text(sub, where, await api.next_delivery(sub.id)))


@castfive.command(name="unsubscribe", description="Stop the daily five in a channel")
@app_commands.describe(channel="Which channel (default: here)")
@manage_server
async def unsubscribe(interaction: Interaction, channel: Channel = None) -> None:
    await api_of(interaction).unsubscribe(_target_id(interaction, channel))
    await reply(interaction, unsubscribed_text(_target(interaction, channel)[2]))


@castfive.command(name="time", description="When the five arrive: time, zone, daily/weekdays/weekly")
@app_commands.rename(hhmm="time")
@app_commands.describe(hhmm="Local time, HH:MM", zone="e.g. Europe/Berlin",
                       cadence="Daily, weekdays only, or weekly (the best five of the week)",
                       day="For weekly: which day", channel="Which channel (default: here)")
@app_commands.choices(cadence=CADENCE_CHOICES, day=DAY_CHOICES)
@app_commands.autocomplete(zone=zone_choices)
@manage_server
async def set_time(interaction: Interaction, hhmm: str | None = None, zone: str | None = None,
                   cadence: app_commands.Choice[str] | None = None,
                   day: app_commands.Choice[str] | None = None, channel: Channel = None) -> None:
    api = api_of(interaction)
    change = schedule_change(hhmm, zone, cadence.value if cadence else None, day.value if day else None)
    sub = await api.set_schedule(_target_id(interaction, channel), change)
    await reply(interaction, f"⏰ {schedule_text(sub, await api.next_delivery(sub.id))}")


@feeds.command(name="list", description="The podcasts followed here")
@app_commands.describe(channel="Which channel (default: here)")
@manage_server
async def feeds_list(interaction: Interaction, channel: Channel = None) -> None:
    followed = await api_of(interaction).list_feeds(_target_id(interaction, channel))
    await reply(interaction, feeds_text(followed))


@feeds.command(name="add", description="Follow a podcast by feed URL, or search by name")
@app_commands.describe(url_or_name="A feed URL, or words to search for",
                       channel="Which channel (default: here)")
@manage_server
async def feeds_add(interaction: Interaction, url_or_name: app_commands.Range[str, 1, 300],
                    channel: Channel = None) -> None:
    sub_id = _target_id(interaction, channel)
    async with thinking(interaction):
        result = await api_of(interaction).add_feed(sub_id, url_or_name)
    if result.feed is not None:
        await reply(interaction, added_text(result.feed))
    elif result.candidates:
        await reply(interaction, candidates_text(url_or_name, result.candidates),
                    view=SearchChoices(sub_id, interaction.user.id, result.candidates))
    else:
        await reply(interaction, candidates_text(url_or_name, ()))


@feeds.command(name="remove", description="Stop following a podcast")
@app_commands.describe(feed="The podcast (start typing its name)", channel="Which channel (default: here)")
@app_commands.autocomplete(feed=feed_choices)
@manage_server
async def feeds_remove(interaction: Interaction, feed: str, channel: Channel = None) -> None:
    await api_of(interaction).remove_feed(_target_id(interaction, channel), feed)
    await reply(interaction, f"➖ Removed `{shorten(feed, 40)}` from the podcasts followed here.")


@feeds.command(name="import", description="Follow every podcast of an OPML file")
@app_commands.describe(file="An OPML export from your podcast app", channel="Which channel (default: here)")
@manage_server
async def feeds_import(interaction: Interaction, file: discord.Attachment, channel: Channel = None) -> None:
    if file.size > MAX_OPML_BYTES:
        raise ValidationError("That file is over 1 MiB; an OPML export is far smaller.")
    sub_id = _target_id(interaction, channel)
    async with thinking(interaction):
        result = await api_of(interaction).import_opml(sub_id, await file.read())
    failures = failures_file(result)  # the full list rides along with the report, one message
    files = [] if failures is None else [discord.File(io.BytesIO(failures), filename=FAILURES_FILENAME)]
    await reply(interaction, import_text(result), files=files)


@feeds.command(name="export", description="The podcasts followed here, as an OPML file")
@app_commands.describe(channel="Which channel (default: here)")
@manage_server
async def feeds_export(interaction: Interaction, channel: Channel = None) -> None:
    export = await api_of(interaction).export_opml(_target_id(interaction, channel),
                                                   private_chat=interaction.guild_id is None)
    await reply(interaction, export_caption(export.hidden), ephemeral=True,
                file=discord.File(io.BytesIO(export.data), filename="castfive.opml"))


for _library_command in LIBRARY_COMMANDS:  # search and export: bot/discord_library.py
    castfive.add_command(_library_command)
