"""Today's parse of every corpus feed matches the recorded snapshot, field by field."""

from __future__ import annotations

import json

import pytest

from tests.feed_snapshot import CORPUS, SNAPSHOT, snapshot_of

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


def _recorded() -> dict:
    return json.loads(SNAPSHOT.read_text())


def test_every_corpus_feed_is_in_the_snapshot() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.xml")) == sorted(_recorded())


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.xml")) if CORPUS.is_dir() else [])
def test_a_corpus_feed_parses_as_recorded_field_by_field(name: str) -> None:
    recorded = _recorded()[name]
    now = json.loads(json.dumps(snapshot_of((CORPUS / name).read_bytes()), default=str))
    for key in recorded:
        if key != "episodes":
            assert now[key] == recorded[key], key
    assert len(now["episodes"]) == len(recorded["episodes"])
    for i, (got, want) in enumerate(zip(now["episodes"], recorded["episodes"], strict=True)):
        for key in want:
            assert got[key] == want[key], f"episode {i} {key}"
