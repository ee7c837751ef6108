"""Ranked, access-checked search over a chat's sent insights and its shows' transcripts.

Candidates come from the index already narrowed to what the chat may read: insights it was sent
(whose feeds still exist) and passages of the public feeds it follows, the same rule as
`core.access.may_read`, which every hit shown passes again. BM25 orders them; when the insights
carry sentence embeddings and an embedder is at hand, an insight close in meaning to the query
gains up to EMBED_BOOST of its score.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.access import may_read, may_search_transcript
from core.digests import SentHistory, moment_url
from core.feeds.fetching import is_private
from core.insights.similarity import cosine
from core.library.index import INSIGHT, PASSAGE, IndexHit, SearchIndex
from core.library.models import SearchHit
from core.models import Feed, Insight, Subscriber
from core.ports import Embedder
from core.retrieval import excerpt
from core.store.repos import Repos

log = logging.getLogger(__name__)

MAX_HITS = 100  # ten pages: past that, fewer or other words serve better than paging
COMMON_MATCHES = 3000  # a term in more passages than this is left out of the transcript search
EMBED_BOOST = 0.5
EXCERPT_CHARS = 300


@dataclass(frozen=True)
class Candidate:
    """An index hit that the chat may read, with its final score."""

    hit: IndexHit
    score: float
    insight: Insight | None = None  # loaded for insight hits


@dataclass(frozen=True)
class Ranked:
    """The candidates of a query, and whether its words were too common to search transcripts."""

    candidates: list[Candidate]
    too_common: bool = False


class LibrarySearch:
    """Finds and renders hits for one chat; the index does the matching."""

    def __init__(self, repos: Repos, index: SearchIndex, embedder: Embedder | None = None) -> None:
        self.repos = repos
        self.index = index
        self.embedder = embedder

    async def rank(self, reader: Subscriber, followed: Sequence[Feed], history: SentHistory,
                   query: Sequence[str], words: str) -> Ranked:
        """Up to MAX_HITS readable candidates, best first."""
        sent = history.sent_ids(reader.id)
        feeds = {f.id: f for f in followed}
        sent_feeds = await asyncio.to_thread(self.index.feeds_of_insights, list(sent))
        for feed_id in set(sent_feeds) - set(feeds):  # a show sent earlier and since unfollowed
            if (feed := await self.repos.feeds.get(feed_id)) is not None:
                feeds[feed_id] = feed
        insight_hits = await asyncio.to_thread(
            self.index.match, query, INSIGHT, [f for f in sent_feeds if f in feeds], MAX_HITS, list(sent))
        candidates = await self._boosted(await self._readable_insights(insight_hits, reader, feeds, history),
                                         words)
        public = [f.id for f in followed if may_search_transcript(reader, f)]
        specific = await asyncio.to_thread(self._specific, query, public)
        passage_hits = await asyncio.to_thread(self.index.match, specific, PASSAGE, public, MAX_HITS)
        shown = {(c.hit.episode_id, c.hit.start) for c in candidates}
        candidates += [Candidate(h, h.score) for h in passage_hits
                       if not any(e == h.episode_id and h.start <= s <= h.end for e, s in shown)]
        candidates.sort(key=lambda c: (-c.score, c.hit.kind, c.hit.ref))
        return Ranked(candidates[:MAX_HITS], too_common=bool(public) and not specific)

    def _specific(self, query: Sequence[str], feed_ids: Sequence[str]) -> list[str]:
        """The query terms that narrow the transcripts: a word in thousands of the chat's passages
        ranks nothing (its IDF is near 0) and would cost a BM25 score for each of them."""
        return [t for t in query if self.index.count([t], PASSAGE, feed_ids) <= COMMON_MATCHES]

    async def _readable_insights(self, hits: Sequence[IndexHit], reader: Subscriber,
                                 feeds: dict[str, Feed], history: SentHistory) -> list[Candidate]:
        out = []
        for hit in hits:
            insight = await self.repos.insights.get(hit.ref)
            if insight is not None and may_read(reader, insight, feeds.get(insight.feed_id), history):
                out.append(Candidate(hit, hit.score, insight))
        return out

    async def _boosted(self, candidates: list[Candidate], words: str) -> list[Candidate]:
        embedder = self.embedder
        if embedder is None or not any(c.insight and c.insight.vector_model == embedder.name
                                       for c in candidates):
            return candidates
        try:
            (vector,) = await asyncio.to_thread(embedder.embed, [words])
        except Exception:  # the boost is a nicety; BM25 alone still ranks
            log.exception("search: the query embedding failed; ranking by words alone")
            return candidates
        boosted = []
        for c in candidates:
            if c.insight is not None and c.insight.vector_model == embedder.name:
                similar = max(0.0, cosine(vector, base64.b64decode(c.insight.vector)))
                c = Candidate(c.hit, c.score * (1.0 + EMBED_BOOST * similar), c.insight)
            boosted.append(c)
        return boosted

    async def render(self, reader: Subscriber, candidates: Sequence[Candidate], query: Sequence[str],
                     history: SentHistory) -> list[SearchHit]:
        """The hits of one page, each with its show, episode, moment link and an insight to ask."""
        hits = []
        for c in candidates:
            feed = await self.repos.feeds.get(c.hit.feed_id)
            # checked when ranked; checked again here, as on every path that shows an insight
            readable = (may_read(reader, c.insight, feed, history) if c.insight
                        else may_search_transcript(reader, feed))
            if not readable or feed is None:
                continue
            episode = await self.repos.episodes.get(c.hit.episode_id)
            page = episode.page_url if episode else None
            if feed.private and page and is_private(page):
                page = None  # a private feed's links usually carry its token
            audio = None if feed.private or episode is None else episode.audio_url
            ask = c.insight or await self._insight_near(reader, c.hit, feed, history)
            start = c.insight.start if c.insight else c.hit.start
            hits.append(SearchHit(
                source="insight" if c.insight else "transcript", show_title=feed.title,
                episode_title=episode.title if episode else "", start=start,
                text=c.insight.text if c.insight else excerpt(c.hit.text, query, EXCERPT_CHARS),
                quote=c.insight.quote if c.insight else "", moment_url=moment_url(audio, start),
                page_url=page, insight_id=ask.id if ask else None, score=c.score))
        return hits

    async def _insight_near(self, reader: Subscriber, hit: IndexHit, feed: Feed,
                            history: SentHistory) -> Insight | None:
        """The episode's readable insight nearest the passage: /ask answers from the whole episode."""
        near = await asyncio.to_thread(self.index.insights_of_episode, hit.episode_id)
        for insight_id, _ in sorted(near, key=lambda n: (abs(n[1] - hit.start), n[0])):
            insight = await self.repos.insights.get(insight_id)
            if insight is not None and may_read(reader, insight, feed, history):
                return insight
        return None
