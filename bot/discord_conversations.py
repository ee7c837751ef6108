"""Follow-up questions on Discord: answers in a thread on the insight, and the thread carries on.

On a server the first question about an insight opens a public thread on its message (a thread
started from a message has the message's id); the thread is remembered with the core, and every
later message a member writes there is the next question of the same conversation. In a DM,
where threads do not exist, answers are replies and replying to one continues the conversation.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.discord_replies import (
    NO_MENTIONS,
    api_of,
    chat_of,
    chat_subscriber_id,
    error_text,
    log_error,
    user_key,
)
from bot.render_discord import DM_HINT, answer_chunks, question_echo, thread_name
from core.errors import PermissionDeniedError
from core.models import Answer
from core.ports import CastfiveApi, MessageRef

log = logging.getLogger("castfive.discord")

THREAD_EXISTS = 160004  # Discord: "A thread has already been created for this message"


def thread_conversation(thread_id: int) -> str:
    """The conversation id of a thread."""
    return f"discord-thread:{thread_id}"


async def ask_from_modal(interaction: discord.Interaction[Any], insight_id: str,
                         message: discord.Message | None, question: str) -> None:
    """The Ask modal was submitted: answer in a thread on the insight (or as a DM reply)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    api = api_of(interaction)
    if message is None or message.guild is None:
        await _answer_in_dm(interaction, api, insight_id, message, question)
        return
    conversation = thread_conversation(message.id)  # known before the thread exists: same id
    answer = await api.ask(insight_id, question, user_key=user_key(interaction.user),
                           conversation_id=conversation, reader=chat_subscriber_id(message.channel.id))
    thread = await _open_thread(message, thread_name(question))
    await api.remember_message(chat_subscriber_id(message.channel.id), str(thread.id),
                               MessageRef(insight_id, conversation))
    await thread.send(question_echo(interaction.user.mention, question), allowed_mentions=NO_MENTIONS)
    await _post_answer(thread, answer)
    await interaction.followup.send(f"Answered in {thread.mention}; ask more there.", ephemeral=True)


async def _open_thread(message: discord.Message, name: str) -> discord.Thread:
    try:
        return await message.create_thread(name=name, auto_archive_duration=1440)
    except discord.Forbidden:
        raise PermissionDeniedError(
            "I need the Create Public Threads and Send Messages in Threads permissions here to answer."
        ) from None
    except discord.HTTPException as exc:
        if exc.code != THREAD_EXISTS or message.guild is None:
            raise
        existing = message.guild.get_thread(message.id)
        if existing is not None:
            return existing
        channel = await message.guild.fetch_channel(message.id)
        if not isinstance(channel, discord.Thread):
            raise
        return channel


async def _answer_in_dm(interaction: discord.Interaction[Any], api: CastfiveApi, insight_id: str,
                        message: discord.Message | None, question: str) -> None:
    conversation = f"discord-dm:{message.id if message else interaction.id}"
    answer = await api.ask(insight_id, question, user_key=user_key(interaction.user),
                           conversation_id=conversation,
                           reader=chat_of(interaction))
    channel = interaction.channel
    if message is None or not isinstance(channel, discord.abc.Messageable):
        await interaction.followup.send(answer_chunks(answer)[0], ephemeral=True)
        return
    sent = await _post_answer(channel, answer, reply_to=message)
    for posted in sent:
        await api.remember_message(chat_subscriber_id(channel.id), str(posted.id),
                                   MessageRef(insight_id, conversation))
    await interaction.followup.send("Answered below; reply to the answer to ask more.", ephemeral=True)


async def _post_answer(channel: discord.abc.Messageable, answer: Answer,
                       reply_to: discord.Message | None = None) -> list[discord.Message]:
    sent: list[discord.Message] = []
    for n, chunk in enumerate(answer_chunks(answer)):
        reference = reply_to if n == 0 else None
        if reference is not None:
            sent.append(await channel.send(chunk, reference=reference, mention_author=False,
                                           allowed_mentions=NO_MENTIONS))
        else:
            sent.append(await channel.send(chunk, allowed_mentions=NO_MENTIONS))
    return sent


async def continue_conversation(client: discord.Client, api: CastfiveApi, message: discord.Message) -> None:
    """A member wrote in one of our threads, or replied to one of our DMs: the next question."""
    question = _without_mention(message.content, client.user.id) if client.user else ""
    if message.author.bot or client.user is None or not question:
        return
    channel = message.channel
    reply_to: discord.Message | None = None
    if isinstance(channel, discord.Thread):
        if channel.owner_id != client.user.id or channel.parent_id is None:
            return
        subscriber_id, key = chat_subscriber_id(channel.parent_id), str(channel.id)
    elif _replies_to_us(message, client.user.id):
        assert message.reference is not None and message.reference.message_id is not None
        subscriber_id, key = chat_subscriber_id(channel.id), str(message.reference.message_id)
        reply_to = message
    elif message.guild is None:
        await channel.send(DM_HINT, allowed_mentions=NO_MENTIONS)
        return
    else:
        return
    ref = await api.lookup_message(subscriber_id, key)
    if ref is None:
        return
    try:
        async with channel.typing():
            answer = await api.ask(ref.insight_id, question, user_key=user_key(message.author),
                                   conversation_id=ref.conversation_id, reader=subscriber_id)
    except Exception as exc:  # noqa: BLE001 - logged and answered like every other failure
        log_error(exc, f"question in channel={channel.id}")
        await message.reply(error_text(exc), mention_author=False, allowed_mentions=NO_MENTIONS)
        return
    sent = await _post_answer(channel, answer, reply_to=reply_to)
    if reply_to is not None:  # replies to these continue the same conversation
        for posted in sent:
            await api.remember_message(subscriber_id, str(posted.id), ref)


def _without_mention(content: str, bot_id: int) -> str:
    """The question without a leading @bot (needed to be read at all without the content intent)."""
    return re.sub(rf"^\s*<@!?{bot_id}>", "", content).strip()


def _replies_to_us(message: discord.Message, bot_id: int) -> bool:
    ref = message.reference
    if ref is None or ref.message_id is None:
        return False
    resolved = ref.resolved
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id
