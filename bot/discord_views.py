"""Discord components: the Ask, 👍 and 👎 buttons under an insight, the Ask modal, search choices.

The buttons are DynamicItems whose custom_id carries the action and the insight id
(`castfive:ask:<id>`), so a click on a message posted before a restart is still understood.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.discord_conversations import ask_from_modal
from bot.discord_replies import answer_error, api_of, chat_of, reply, user_key
from bot.render_discord import added_text, candidate_label
from core.ports import SearchResult

_LOOKS = {
    "ask": ("Ask", "❓", discord.ButtonStyle.primary),
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
}
VOTES = {"up": 1, "down": -1}
VOTE_ACKS = {1: "👍 Noted: more like this here.", -1: "👎 Noted: fewer like this here."}


def custom_id(action: str, insight_id: str) -> str:
    """'castfive:<action>:<insight id>'."""
    return f"castfive:{action}:{insight_id}"


class InsightButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"castfive:(?P<action>ask|up|down):(?P<insight>[A-Za-z0-9_-]{1,64})",
):
    """One of the three buttons under an insight; survives restarts."""

    def __init__(self, action: str, insight_id: str) -> None:
        label, emoji, style = _LOOKS[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style,
                                           custom_id=custom_id(action, insight_id)))
        self.action = action
        self.insight_id = insight_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: Any, /) -> InsightButton:
        """Rebuild the button from a click on any message, however old."""
        return cls(match["action"], match["insight"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Ask opens the question modal; thumbs record feedback for this channel."""
        try:
            reader = chat_of(interaction)
            if self.action == "ask":
                # the same check a question gets, before the modal: an id this chat may not read
                # is refused at once, exactly like an unknown one
                await api_of(interaction).insight_item(self.insight_id, reader=reader,
                                                       user_key=user_key(interaction.user))
                await interaction.response.send_modal(AskModal(self.insight_id, interaction.message))
                return
            vote = VOTES[self.action]
            await api_of(interaction).feedback(reader, self.insight_id, vote,
                                               user_key=user_key(interaction.user))
            await reply(interaction, VOTE_ACKS[vote], ephemeral=True)
        except Exception as exc:  # noqa: BLE001 - the one error handler logs and answers
            await answer_error(interaction, exc)


def insight_view(insight_id: str) -> discord.ui.View:
    """The persistent row of buttons under an insight."""
    view = discord.ui.View(timeout=None)
    for action in _LOOKS:
        view.add_item(InsightButton(action, insight_id))
    return view


class AskModal(discord.ui.Modal, title="Ask about this insight"):
    """One question about one insight."""

    def __init__(self, insight_id: str, message: discord.Message | None) -> None:
        super().__init__(timeout=900)
        self.insight_id = insight_id
        self.message = message
        self.question: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph, max_length=500, min_length=2,
            placeholder="e.g. What was the source for that number?")
        self.add_item(discord.ui.Label(text="Your question", component=self.question))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Answer in a thread on the insight's message."""
        await ask_from_modal(interaction, self.insight_id, self.message, self.question.value)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        """The one error handler."""
        await answer_error(interaction, error)


class SearchChoices(discord.ui.View):
    """A menu of podcasts found by name; only the admin who searched may pick."""

    def __init__(self, subscriber_id: str, owner_id: int, candidates: Sequence[SearchResult]) -> None:
        super().__init__(timeout=600)
        self.subscriber_id = subscriber_id
        self.owner_id = owner_id
        options = [discord.SelectOption(label=candidate_label(c), value=c.id) for c in candidates[:25]]
        self.menu: discord.ui.Select[SearchChoices] = discord.ui.Select(
            placeholder="Pick the podcast to add", options=options)
        self.menu.callback = self.picked  # type: ignore[method-assign]
        self.add_item(self.menu)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the admin who searched."""
        if interaction.user.id == self.owner_id:
            return True
        await reply(interaction, "Only the person who searched can pick.", ephemeral=True)
        return False

    async def picked(self, interaction: discord.Interaction[Any]) -> None:
        """Follow the chosen podcast."""
        feed = await api_of(interaction).add_search_choice(self.subscriber_id, self.menu.values[0])
        await interaction.response.edit_message(content=added_text(feed), view=None,
                                                allowed_mentions=discord.AllowedMentions.none())
        self.stop()

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception,
                       item: discord.ui.Item[Any], /) -> None:
        """The one error handler."""
        await answer_error(interaction, error)
