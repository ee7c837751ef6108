"""build_services(settings, **overrides) -> Services: wires real or fake implementations."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from core.catalogue import sync_catalogue
from core.config import Settings
from core.delivery.service import DeliveryService
from core.digests import DigestBuilder
from core.feeds.poller import FeedPoller
from core.insights.paraphrase import ParaphraseJudge
from core.jobs.pipeline import CrashHook, EpisodePipeline
from core.library.index import INDEX_FILE, SearchIndex
from core.library.indexing_store import IndexingStore
from core.library.service import LibraryService
from core.ports import LLM, ChatPort, Clock, Embedder, Extractor, Fetcher, Store, Transcriber
from core.qa import Answerer
from core.service import CastfiveService
from core.store.repos import Repos
from core.timeutil import SystemClock

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the CLI and the runtime use, built once."""

    settings: Settings
    clock: Clock
    store: Store
    fetcher: Any  # a Fetcher with start()/close()
    repos: Repos
    poller: FeedPoller
    transcriber: Transcriber
    extractor: Extractor
    llm: LLM | None
    pipeline: EpisodePipeline
    builder: DigestBuilder
    delivery: DeliveryService
    api: CastfiveService

    async def start(self) -> None:
        """Open the store and the HTTP session, add the operator's feeds, clean up leftovers."""
        await self.store.start()
        self.api.library.start()
        if hasattr(self.fetcher, "start"):
            await self.fetcher.start()
        await sync_catalogue(self.poller, self.repos, self.settings)
        await self.pipeline.start()
        await self.delivery.start()

    async def close(self) -> None:
        """Close the HTTP session and flush the store."""
        await self.api.library.stop()
        if hasattr(self.fetcher, "close"):
            await self.fetcher.close()
        await self.store.close()

    def add_port(self, port: ChatPort) -> None:
        """Register a chat adapter for outbound delivery."""
        self.delivery.ports[port.platform] = port


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    fetcher: Fetcher | None = None,
    transcriber: Transcriber | None = None,
    llm: LLM | None = None,
    extractor: Extractor | None = None,
    ports: dict[str, ChatPort] | None = None,
    crash_hook: CrashHook | None = None,
    index: SearchIndex | None = None,
) -> Services:
    """Build the core with real implementations unless a test passes its own; does no I/O."""
    clock = clock or SystemClock()
    if index is None:  # beside the data; for a test's own store, in memory
        index = SearchIndex(settings.data_dir / INDEX_FILE if store is None else None)
    if store is None and settings.distributed.mode == "distributed":
        from core.store.postgres_store import PostgresStore

        store = PostgresStore(settings.secrets.database_url)
    if store is None:
        from core.store.tinydb_store import TinyDBStore

        store = TinyDBStore(settings.data_dir)
    store = IndexingStore(store, index)  # insights and transcripts are indexed as they are stored
    if fetcher is None:
        from core.adapters.http import SafeFetcher

        fetcher = SafeFetcher(settings.http)
    if transcriber is None:
        from core.adapters.whisper import WhisperTranscriber

        transcriber = WhisperTranscriber(settings.transcription)
    if llm is None and settings.llm.model:
        from core.adapters.llm_litellm import LiteLLMClient

        llm = LiteLLMClient(settings.llm, settings.secrets.llm_api_key)
    if llm is not None:
        from core.insights.budget import BudgetedLLM, LLMBudget

        # one budget for extraction and answers: questions cost money too
        llm = BudgetedLLM(llm, LLMBudget(store, clock, settings.llm))
    embedder = None
    if settings.insights.embeddings:
        from core.adapters.minilm import MiniLMEmbedder

        embedder = MiniLMEmbedder()  # loads on first use; shared by the ranker, insights and topics
    if extractor is None:
        extractor = _extractor(settings, llm, store, clock, embedder)
        if embedder is not None:
            from core.insights.embedded import EmbeddingExtractor

            extractor = EmbeddingExtractor(extractor, embedder)
    repos = Repos(store)
    poller = FeedPoller(fetcher, store, clock, settings)
    pipeline = EpisodePipeline(
        repos, fetcher, transcriber, extractor, clock, settings,
        crash_hook=crash_hook or crash_hook_from_env(),
    )
    builder = DigestBuilder(repos, settings, ParaphraseJudge(embedder))
    delivery = DeliveryService(repos, builder, clock, settings, ports or {})
    library = LibraryService(repos, clock, delivery, store, embedder)
    api = CastfiveService(repos, clock, settings, poller, fetcher, delivery, builder,
                          Answerer(llm, settings.llm), embedder=embedder, library=library)
    return Services(
        settings=settings, clock=clock, store=store, fetcher=fetcher, repos=repos, poller=poller,
        transcriber=transcriber, extractor=extractor, llm=llm, pipeline=pipeline, builder=builder,
        delivery=delivery, api=api,
    )


def _extractor(settings: Settings, llm: LLM | None, store: Store, clock: Clock,
               embedder: Embedder | None) -> Extractor:
    if llm is not None:
        from core.insights.llm_extract import LLMExtractor

        return LLMExtractor(llm, store, clock, settings.llm, settings.insights)
    from core.insights.offline import OfflineExtractor

    return OfflineExtractor(settings.insights, embedder=embedder)


def crash_hook_from_env() -> CrashHook | None:
    """Test seam for the crash tests: CASTFIVE_CRASH_AT=<point> SIGKILLs at that point."""
    point = os.environ.get("CASTFIVE_CRASH_AT", "")
    if not point:
        return None

    def hook(reached: str) -> None:
        if reached == point:
            log.warning("crash injected at %s", point)
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
