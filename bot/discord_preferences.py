"""`/castfive topics show|set|clear`: what a channel's digest leans towards (Manage Server to change)."""

from __future__ import annotations

from discord import app_commands

from bot.discord_commands import Channel, Interaction, _target_id, castfive, manage_server
from bot.discord_replies import api_of, reply
from bot.render_topics import topics_md
from core.errors import NotFoundError

topics = app_commands.Group(name="topics", description="Topics the digest here leans towards")


@topics.command(name="show", description="The topics of the digest here")
async def topics_show(interaction: Interaction) -> None:
    sub = await api_of(interaction).get_subscriber(_target_id(interaction, None))
    if sub is None:
        raise NotFoundError("This channel is not subscribed yet: use `/castfive subscribe` first.")
    await reply(interaction, topics_md(sub))


@topics.command(name="set", description="Lean the digest towards topics, e.g. ai, energy, startups")
@app_commands.describe(words="Up to 10 topics, separated by commas", channel="Which channel (default: here)")
@manage_server
async def topics_set(interaction: Interaction, words: app_commands.Range[str, 1, 600],
                     channel: Channel = None) -> None:
    sub = await api_of(interaction).set_topics(_target_id(interaction, channel), words)
    await reply(interaction, topics_md(sub))


@topics.command(name="clear", description="Drop the topics: the digest is simply the best")
@app_commands.describe(channel="Which channel (default: here)")
@manage_server
async def topics_clear(interaction: Interaction, channel: Channel = None) -> None:
    sub = await api_of(interaction).clear_topics(_target_id(interaction, channel))
    await reply(interaction, topics_md(sub))


castfive.add_command(topics)  # imported once, by bot/discord_bot.py
