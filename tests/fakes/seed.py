"""Seed a store with feeds, episodes and insights for delivery and service tests."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import Episode, EpisodeState, Feed, Insight, InsightKind
from core.store.repos import Repos

TOPICS = [
    "Teams that deploy daily see half the change failure rate because each change is small enough to review",
    "Battery prices fell ninety percent in a decade which makes grid storage cheaper than new gas peakers",
    "Most startups die from building something nobody wants rather than from competition or funding",
    "Sleeping seven hours improves recall by twenty percent compared with cramming all night before exams",
    "Cities that removed parking minimums saw housing permits rise by a third within five years",
    "Open source maintainers burn out when issue volume grows faster than contributor count",
    "Rust adoption cut memory safety bugs in Android to a quarter of their former share",
    "Remote teams that write decisions down ship faster because context no longer lives in meetings",
    "Index funds beat most active managers over fifteen years after fees are counted",
    "Solar panels now generate the cheapest electricity ever recorded in sunny regions",
]


async def seed(
    repos: Repos, *, feeds: int = 3, per_feed: int = 4, created: datetime | None = None
) -> list[Insight]:
    """Operator feeds, one episode each, `per_feed` distinct insights per episode."""
    created = created or datetime(2026, 11, 27, 12, tzinfo=UTC)
    insights: list[Insight] = []
    for f in range(feeds):
        feed = Feed(id=f"feed{f}", url=f"https://example.org/{f}.xml", title=f"Show {f}", origin="operator")
        episode = Episode(
            id=f"ep{f}", feed_id=feed.id, identity=f"guid{f}", title=f"Episode {f}", published_at=created,
            duration_s=600, audio_url=f"https://example.org/{f}.mp3", audio_type="audio/mpeg",
            page_url=f"https://example.org/{f}", description="", state=EpisodeState.DONE,
        )
        await repos.feeds.put(feed)
        await repos.episodes.put(episode)
        for k in range(per_feed):
            text = TOPICS[(f * per_feed + k) % len(TOPICS)] + f" (show {f} point {k})"
            insight = Insight(
                id=f"i{f}{k}", episode_id=episode.id, feed_id=feed.id, text=text + ".", quote=text,
                start=30.0 * k, end=30.0 * k + 20, kind=InsightKind.CLAIM, score=0.9 - 0.05 * k,
                created_at=created,
            )
            await repos.insights.put(insight)
            insights.append(insight)
    return insights
