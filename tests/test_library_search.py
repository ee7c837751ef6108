"""Library search in the core: what it finds, what it never shows, how it pages and ranks."""

from __future__ import annotations

import base64
import dataclasses
import multiprocessing
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from core.bootstrap import Services, build_services
from core.config import Settings
from core.errors import NotFoundError, StoreError, ValidationError
from core.library import index as index_module
from core.library import search as search_module
from core.library.index import SearchIndex
from core.library.indexing_store import IndexingStore
from core.library.search import LibrarySearch
from core.models import Episode, EpisodeState, Insight, Segment, Transcript
from core.ports import Change
from core.store.blobs import save_transcript
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.library_world import ADA, BOB, SENT_DAY, seed_library, send

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class NoNetwork:
    async def get(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("no network in library tests")


@pytest.fixture
async def services() -> Services:
    built = build_services(Settings(), clock=FakeClock(NOW), store=FakeStore(), fetcher=NoNetwork(),  # type: ignore[arg-type]
                           transcriber=object())  # type: ignore[arg-type]
    await seed_library(built)
    return built


async def test_search_finds_an_insight_by_a_word_only_its_quote_holds(services: Services) -> None:
    i00 = await services.repos.insights.get("i00")
    assert i00 is not None
    await services.repos.insights.put(dataclasses.replace(i00, quote=i00.quote + " on kubernetes clusters"))
    page = await services.api.library.search(ADA, "Kubernetes")
    (hit,) = page.hits
    assert (hit.source, hit.insight_id, hit.show_title, hit.episode_title) == ("insight", "i00", "Show 0",
                                                                               "Episode 0")
    assert "kubernetes" in hit.quote and hit.moment_url == "https://example.org/0.mp3#t=0"


async def test_search_finds_transcript_passages_of_followed_public_shows_with_an_insight_to_ask(
        services: Services) -> None:
    page = await services.api.library.search(ADA, "volcanic eruption")
    assert {(h.source, h.show_title) for h in page.hits} == {("transcript", "Show 0"),
                                                             ("transcript", "Show 1")}
    for hit in page.hits:
        assert hit.start == 900.0 and hit.moment_url and hit.moment_url.endswith("#t=900")
        assert "volcanic eruption" in hit.text
        episode = hit.episode_title[-1]
        assert hit.insight_id == f"i{episode}3"  # the episode's insight nearest the moment


async def test_search_never_shows_what_the_chat_may_not_read(services: Services) -> None:
    # BOB follows show 1 only and was sent nothing: ADA's insights and the other shows stay hidden
    assert (await services.api.library.search(BOB, "battery prices")).hits == ()
    assert (await services.api.library.search(BOB, "index funds")).hits == ()
    assert [h.show_title for h in (await services.api.library.search(BOB, "volcanic")).hits] == ["Show 1"]
    # ADA follows the private show 2: what was sent from it is hers, its transcript is not searched
    assert [h.insight_id for h in (await services.api.library.search(ADA, "index funds")).hits] == ["i20"]
    assert "Show 2" not in {h.show_title for h in (await services.api.library.search(ADA, "volcanic")).hits}
    # a chat that is not subscribed, and another chat's search id, find nothing
    ada = await services.api.library.search(ADA, "battery")
    with pytest.raises(NotFoundError):
        await services.api.library.page(BOB, ada.search_id, 0)
    with pytest.raises(NotFoundError):
        await services.api.library.search("telegram:999", "battery")


async def test_a_private_feeds_hit_never_carries_its_tokened_links(services: Services) -> None:
    await services.repos.episodes.put(dataclasses.replace(
        await services.repos.episodes.get("ep2"), page_url="https://example.org/2?token=s3cret"))  # type: ignore[type-var]
    (hit,) = (await services.api.library.search(ADA, "index funds")).hits
    assert hit.moment_url is None and hit.page_url is None


async def test_search_pages_ten_at_a_time_and_clamps_a_page_out_of_range(services: Services) -> None:
    many = [Insight(id=f"v{n:02d}", episode_id="ep0", feed_id="feed0", text=f"Volcanic ash fact {n}.",
                    quote=f"volcanic ash fact number {n}", start=1000.0 + n, end=1010.0 + n,
                    created_at=NOW) for n in range(25)]
    await services.store.apply(services.repos.insights.changes(many))
    await send(services, ADA, many, "2026-11-29")
    first = await services.api.library.search(ADA, "volcanic")
    assert (first.total, first.pages, len(first.hits), first.first_position) == (27, 3, 10, 1)
    pages = [first] + [await services.api.library.page(ADA, first.search_id, n) for n in (1, 2)]
    assert [len(p.hits) for p in pages] == [10, 10, 7]
    seen = [(h.insight_id, h.source, h.show_title) for p in pages for h in p.hits]
    assert len(set(seen)) == 27
    scores = [h.score for p in pages for h in p.hits]
    assert scores == sorted(scores, reverse=True)
    assert (await services.api.library.page(ADA, first.search_id, 99)).page == 2
    assert (await services.api.library.page(ADA, first.search_id, -5)).page == 0


async def test_autocomplete_preview_is_the_best_hit_rendered_alone_and_never_remembered(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    many = [Insight(id=f"v{n:02d}", episode_id="ep0", feed_id="feed0", text=f"Volcanic ash fact {n}.",
                    quote=f"volcanic ash fact number {n}", start=1000.0 + n, end=1010.0 + n,
                    created_at=NOW) for n in range(25)]
    await services.store.apply(services.repos.insights.changes(many))
    await send(services, ADA, many, "2026-11-29")
    library = services.api.library
    rendered: list[int] = []
    render = library.searcher.render

    async def counting(reader, candidates, query, history):  # type: ignore[no-untyped-def]
        rendered.append(len(candidates))
        return await render(reader, candidates, query, history)

    monkeypatch.setattr(library.searcher, "render", counting)
    preview = await library.preview(ADA, "volcanic ash")
    assert rendered == [1]  # one hit per keystroke, not a page of ten
    best = (await library.search(ADA, "volcanic ash")).hits[0]
    assert preview == best
    assert await library.recent_searches(ADA) == ["volcanic ash"]  # only the search is remembered
    bobs = await library.preview(BOB, "volcanic")
    assert bobs is not None and (bobs.source, bobs.show_title) == ("transcript", "Show 1")
    assert await library.preview(BOB, "battery prices") is None  # ADA's, never BOB's
    assert await library.preview(ADA, "the and of") is None


async def test_an_empty_result_says_so_and_suggests_fewer_words(services: Services) -> None:
    page = await services.api.library.search(ADA, "volcanic zebra")
    assert page.hits == () and page.total == 0 and "fewer words" in page.hint
    assert "too common" in (await services.api.library.search(ADA, "the and of it")).hint


async def test_a_word_in_most_transcripts_searches_only_the_insights_and_says_so(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "COMMON_MATCHES", 1)  # "volcanic" is in 2 of ADA's transcripts
    page = await services.api.library.search(ADA, "volcanic")
    assert page.hits == () and "only the insights sent here were searched" in page.hint
    # with a rarer word beside it, the transcripts are searched for the rarer word
    (hit,) = (await services.api.library.search(ADA, "volcanic battery")).hits
    assert (hit.source, hit.show_title) == ("transcript", "Show 0") and "Battery prices" in hit.text


@pytest.mark.parametrize("words", [
    'battery" OR * NEAR(prices', "battery AND OR NOT ^prices", "battery) -- ; DROP TABLE doc",
    "{body}: battery", "batterie élevée 🔋 батарея", "battery\x00prices",
])
async def test_odd_characters_are_words_never_query_syntax(services: Services, words: str) -> None:
    page = await services.api.library.search(ADA, words)
    assert all(h.insight_id != "i23" for h in page.hits)  # never a private, unsent insight


async def test_a_huge_or_empty_query_is_refused_with_a_sentence(services: Services) -> None:
    with pytest.raises(ValidationError, match="under 200 characters"):
        await services.api.library.search(ADA, "battery " * 5000)
    with pytest.raises(ValidationError, match="a few words"):
        await services.api.library.search(ADA, "   \n ")


async def test_the_index_follows_the_store_as_things_are_stored_and_pruned(services: Services) -> None:
    await services.repos.episodes.put(Episode(
        id="ep9", feed_id="feed1", identity="g9", title="Episode 9", published_at=NOW, duration_s=60,
        audio_url="https://example.org/9.mp3", audio_type="audio/mpeg", page_url=None, description="",
        state=EpisodeState.TRANSCRIBED, transcript_source="test"))
    await save_transcript(services.store, Transcript("ep9", (Segment(5, 9, "A quokka smiled on camera."),),
                                                     "test"))
    (hit,) = (await services.api.library.search(BOB, "quokka")).hits
    assert hit.episode_title == "Episode 9" and hit.insight_id is None  # nothing to ask about yet
    await services.store.apply([Change("insights", "i00", None)])  # as maintenance prunes
    assert "i00" not in {h.insight_id for h in (await services.api.library.search(ADA, "deploy")).hits}


async def test_catch_up_indexes_what_was_stored_while_the_index_was_not_listening() -> None:
    inner = FakeStore()
    first = build_services(Settings(), clock=FakeClock(NOW), store=inner, fetcher=NoNetwork(),  # type: ignore[arg-type]
                           transcriber=object())  # type: ignore[arg-type]
    await seed_library(first)
    # the same data, a fresh (empty) index: what a kill between store and index would leave
    again = build_services(Settings(), clock=FakeClock(NOW), store=inner, fetcher=NoNetwork(),  # type: ignore[arg-type]
                           transcriber=object())  # type: ignore[arg-type]
    again.delivery.history = first.delivery.history
    assert (await again.api.library.search(ADA, "volcanic")).hits == ()
    store = again.store
    assert isinstance(store, IndexingStore)
    assert await store.catch_up() == (12, 3)
    assert len((await again.api.library.search(ADA, "volcanic")).hits) == 2
    assert await store.catch_up() == (0, 0)  # nothing twice


class FixedEmbedder:
    """A fake of the Embedder port: the query's vector is chosen by the test."""

    name = "fake-embedder"

    def __init__(self, vectors: dict[str, bytes]) -> None:
        self.vectors = vectors

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        return [self.vectors.get(t, bytes(4)) for t in texts]


async def test_insight_embeddings_lift_a_hit_close_in_meaning(services: Services) -> None:
    near, far = bytes([127, 0, 0, 0]), bytes([0, 127, 0, 0])
    twins = [Insight(id=name, episode_id="ep0", feed_id="feed0", text=f"Storage {word} matters.",
                     quote=f"storage {word} matters", start=start, end=start + 5, created_at=NOW,
                     vector=base64.b64encode(vector).decode(), vector_model="fake-embedder")
             for name, word, start, vector in (("aa1", "alpha", 300.0, far), ("zz9", "omega", 400.0, near))]
    await services.store.apply(services.repos.insights.changes(twins))
    await send(services, ADA, twins, SENT_DAY)
    store = services.store
    assert isinstance(store, IndexingStore)
    plain = services.api.library.searcher
    by_words = [h.insight_id for h in (await services.api.library.search(ADA, "storage matters")).hits]
    services.api.library.searcher = LibrarySearch(services.repos, store.index,
                                                  FixedEmbedder({"storage matters": near}))
    boosted = [h.insight_id for h in (await services.api.library.search(ADA, "storage matters")).hits]
    services.api.library.searcher = plain
    assert by_words[:2] == ["aa1", "zz9"] and boosted[:2] == ["zz9", "aa1"]


def test_the_index_file_survives_a_reopen(tmp_path) -> None:
    index = SearchIndex(tmp_path / "index.sqlite3")
    index.update_insights([Insight(id="x1", episode_id="e", feed_id="f", text="Quokkas smile.",
                                   quote="quokkas smile", start=1, end=2)])
    index.close()
    again = SearchIndex(tmp_path / "index.sqlite3")
    assert [h.ref for h in again.match(["quokka"], "i", ["f"])] == ["x1"]
    again.close()


def test_an_index_made_with_other_search_terms_is_emptied_to_be_refilled(tmp_path, monkeypatch) -> None:
    index = SearchIndex(tmp_path / "index.sqlite3")
    index.update_insights([Insight(id="x1", episode_id="e", feed_id="f", text="Quokkas smile.",
                                   quote="quokkas smile", start=1, end=2)])
    index.close()
    monkeypatch.setattr(index_module, "INDEX_VERSION", index_module.INDEX_VERSION + 1)
    again = SearchIndex(tmp_path / "index.sqlite3")
    assert again.indexed_insights() == set() and again.match(["quokka"], "i", ["f"]) == []
    again.close()


def _open_index(path: str, start: Any, errors: Any) -> None:
    start.wait()
    try:
        SearchIndex(Path(path)).open()
    except Exception as exc:  # noqa: BLE001 - reported to the test, which names it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_worker_processes_opening_a_new_index_file_together_all_open_it(tmp_path) -> None:
    # Without the open lock 11 of 180 such opens failed here with "database is locked".
    fork = multiprocessing.get_context("fork")  # how `castfive worker --processes` starts them
    errors = fork.Queue()
    for round_ in range(15):
        start = fork.Barrier(4)
        openers = [fork.Process(target=_open_index, args=(str(tmp_path / f"{round_}.sqlite3"), start, errors))
                   for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(60)
        assert [opener.exitcode for opener in openers] == [0, 0, 0, 0]
    assert errors.empty(), errors.get()


def test_an_index_file_another_process_never_lets_go_of_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "OPEN_LOCK_TIMEOUT_S", 0.2)
    path = tmp_path / "index.sqlite3"
    with FileLock(f"{path}.lock"), pytest.raises(StoreError, match="held by another process"):
        SearchIndex(path).open()
    index = SearchIndex(path)  # once it is let go, the file opens
    index.open()
    index.close()
