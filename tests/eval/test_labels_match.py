"""Every passage of every label file is found, as words, in its transcript through the eval loader."""

from __future__ import annotations

import json

import pytest

from tests.eval.dataset import LABELS, SHARED, load_case, locate, passage_text
from tests.eval.fit_keeper_probe import VERDICTS
from tests.eval.harness import SECOND_READER, second_reader

_REAL = sorted(
    p for p in LABELS.glob("*.json")
    if str(json.loads(p.read_text(encoding="utf-8"))["transcript"]).startswith("corpus:eval-transcripts/")
)
KINDS = {"claim", "finding", "advice", "prediction", "contrarian"}


def test_plain_string_and_kind_insights_are_both_accepted():
    assert passage_text("a passage") == "a passage"
    assert passage_text({"text": "a passage", "kind": "claim"}) == "a passage"


@pytest.mark.parametrize("path", _REAL, ids=lambda p: p.stem)
def test_real_label_file_follows_the_labelling_rule(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert 8 <= len(doc["insights"]) <= 15
    assert len(doc["filler"]) >= 5
    assert all(isinstance(i, dict) and i["kind"] in KINDS for i in doc["insights"])
    assert doc["split"] in ("dev", "test") and doc["license"] and doc["source"]["commit"]


@pytest.mark.skipif(not (SHARED / "eval-transcripts").is_dir(), reason="../shared/corpus absent")
@pytest.mark.parametrize("path", _REAL, ids=lambda p: p.stem)
def test_every_real_label_passage_is_found_in_its_transcript(path):
    case = load_case(path)  # raises LabelError naming the passage that is not found
    assert case is not None and case.insight_spans and case.filler_spans


@pytest.mark.skipif(not (SHARED / "eval-transcripts").is_dir(), reason="../shared/corpus absent")
@pytest.mark.parametrize("path", sorted(SECOND_READER.glob("*.json")), ids=lambda p: p.stem)
def test_every_second_reader_pick_is_found_in_its_transcript(path):
    case = load_case(LABELS / path.name)
    assert case is not None
    picks = second_reader(case)
    assert len(picks) == 5 and all(locate(case, quote, start) for quote, start in picks)


@pytest.mark.parametrize("path", sorted(VERDICTS.parent.glob("*.json")), ids=lambda p: p.stem)
def test_judge_verdicts_are_dev_only_and_quote_no_more_than_an_anchor(path):
    verdicts = json.loads(path.read_text(encoding="utf-8"))["verdicts"]
    splits = {p.stem: json.loads(p.read_text(encoding="utf-8"))["split"] for p in LABELS.glob("*.json")}
    assert len(verdicts) >= 100
    assert all(splits[v["case"]] == "dev" for v in verdicts)  # the probe never sees held-out cases
    assert all(v["verdict"] in ("keeper", "weak", "filler") for v in verdicts)
    assert all(len(v["anchor"].split()) <= 8 and v["start"] < v["end"] for v in verdicts)
    assert len({(v["case"], v["start"], v["end"]) for v in verdicts}) == len(verdicts)
