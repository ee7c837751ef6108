"""Candidate passages (one to three sentences) and the features that tell insight from talk.

Each feature is a number, mostly 0..1; `score` is a logistic of their weighted sum. The weights are a
logistic regression fitted on the dev half of tests/eval (python -m tests.eval.tune), pasted as is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.insights.corpus_stats import BackgroundStats, content_words
from core.insights.filler import filler_reasons
from core.insights.sentences import Sentence

MIN_WORDS, MAX_WORDS = 8, 70
HARD_FILLER = frozenset({"sponsor", "call_to_action", "intro", "outro", "greeting", "teaser",
                         "question", "self_reference", "promo", "housekeeping"})


def _rx(*patterns: str) -> re.Pattern[str]:
    # Case-sensitive on purpose: cues are matched against lowercased text, which is much faster.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_NUMBER_WORD = (r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
                r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
                r"half|quarter|third|double|twice|triple|percent|dozen)")
NUMBER = _rx(r"\d", rf"\b{_NUMBER_WORD}\b")
PERCENT_MONEY = _rx(r"\d\s?%", r"\bpercent\b", r"[$€£]\s?\d", r"\b(?:dollars?|euros?|pounds|bucks)\b",
                    r"\b\d+x\b", r"\b(?:million|billion)\b")
YEAR = _rx(r"\b(?:1[5-9]|20)\d\d\b", r"\b(?:fourteen|fifteen|sixteen|seventeen|eighteen|nineteen) "
           r"(?:hundred|fifty|sixty|seventy|eighty|ninety|twenty|thirty|forty|ten|seventeen)\b")
REASON = _rx(r"\bbecause\b", r"\bso that\b", r"\bwhich means\b", r"\bthat'?s why\b", r"\bwhich is why\b",
             r"\bthe reason\b", r"\bdue to\b", r"\bas a result\b", r"\btherefore\b", r"\bthis means\b",
             r"\bthat means\b", r"\bleads? to\b", r"\bcauses?\b", r"\bdrives?\b",
             r"\bif .{3,60}, (?:then|you|it|the)\b")
CONTRAST = _rx(r"\bbut\b", r"\bhowever\b", r"\bactually\b", r"\binstead\b", r"\brather than\b",
               r"\bwhereas\b",
               r"\balthough\b", r"\beven (?:though|if|when)\b", r"\bin fact\b", r"\bthe catch\b",
               r"\bthe problem\b",
               r"\bnot (?:because|the|a|about)\b.{0,60}\b(?:but|it'?s)\b", r"\bunlike\b", r"\bthe opposite\b")
CONTRARIAN = _rx(r"\bmyth\b", r"\bmisconception\b", r"\b(?:just |is |are |completely )wrong\b",
                 r"\bfolklore\b",
                 r"\bout of date\b", r"\bcounterintuitive\b", r"\bthe opposite\b",
                 r"\bnot (?:true|the case)\b",
                 r"\bmost people (?:think|assume|believe)\b", r"\bpeople (?:think|assume)\b",
                 r"\bunderestimate\b",
                 r"\boverrated\b", r"\bhot take\b", r"\bunpopular opinion\b",
                 r"\bdoesn'?t (?:seal|work|matter)\b")
COMPARATIVE = _rx(r"\b\w+er than\b", r"\bmore than\b", r"\bless than\b", r"\bfewer\b",
                  r"\b(?:the )?(?:most|least|"
                  r"best|worst|biggest|largest|smallest|strongest|highest|lowest)\b",
                  r"\btimes (?:more|as|less)\b",
                  r"\bcompared (?:to|with)\b", r"\b(?:better|worse|faster|slower|cheaper|longer|shorter)\b")
ADVICE = _rx(r"\byou (?:should|shouldn'?t|need to|have to|must|want to|don'?t want|can'?t)\b",
             r"\bmake sure\b",
             r"\bnever\b", r"\balways\b", r"\bthe (?:key|trick|secret|fix|rule|answer) is\b",
             r"\bmy advice\b",
             r"\bi'?d (?:recommend|tell|suggest|build|save)\b", r"\bi (?:recommend|always tell)\b",
             r"\btry to\b", r"\bavoid\b",
             r"\bif you (?:want|only|haven'?t|go|can'?t)\b", r"\bthe best (?:way|thing|strategy|practice)\b",
             r"\brule of thumb\b",
             r"^(?:don'?t|do not|stop|start|use|get|pick|set up|build|check|look at|try|be|"
             r"make|find|keep|put|ask|look|insulate|salt|pat|skip|cut|focus|write|test|measure|save)\b")
PREDICTION = _rx(r"\bwill (?:be|become|have|never|continue|replace|change|grow|fall|make|happen|keep|play|"
                 r"disappear|die|win|lose|shrink|double|overtake)\b", r"\bby (?:20\d\d|the end of)\b",
                 r"\bin (?:\w+ |\d+ )?years? (?:time|from now)\b", r"\bnext (?:year|decade)\b",
                 r"\bin the future\b",
                 r"\b(?:is|are) (?:going|gonna) to "
                 r"(?:become|happen|fold|change|replace|disappear|die|win|lose|grow|"
                 r"shrink|take over|be (?:a|the|huge|big|bigger|dead|gone|over))\b",
                 r"\bi (?:predict|expect|bet)\b",
                 r"\bwon'?t last\b", r"\beventually\b")
# A plain claim's shapes: "the problem is", "it turns out", "what matters", "that's why".
CLAIM = _rx(r"\bthe (?:\w+ )?(?:problem|reason|key|trick|secret|point|thing|lesson|truth|difference|goal|"
            r"issue|challenge|idea|beauty|value|danger|risk|mistake|catch) (?:is|was|with|here)\b",
            r"\bwhat (?:matters|happens|works|changed|makes)\b", r"\bit'?s not (?:about|that|just|only)\b",
            r"\bturns out\b", r"\bthe only way\b", r"\bthat'?s (?:why|how|what makes|the reason)\b",
            r"\b(?:nobody|everybody|everyone|no one)\b", r"\bwhich means\b", r"\bin other words\b",
            r"\b(?:did|does|do|is|are|was|were) not \w+", r"\b(?:doesn'?t|don'?t|didn'?t|isn'?t|aren'?t) "
            r"(?:kill|mean|matter|work|scale|help|solve|need|replace|make)\b",
            r"\b(?:is|are) (?:fundamentally|basically|really|actually) (?:about|a|an|the|just|not)\b",
            r"\bthe (?:best|hardest|biggest|most important|real|main) (?:\w+ )?(?:is|was|thing|way|reason)\b",
            r"\b(?:means|meant) (?:that|you|we|they|it)\b", r"\w; \w",
            r"\bmakes? (?:it|them|us|you|everything) (?:\w+ )?"
            r"(?:explicit|harder|easier|possible|worse|better)\b",
            r"\b(?:never|always) (?:works?|going to|been|be)\b")
ADVICE_KIND = _rx(r"\byou (?:should|shouldn'?t|need to|have to|must|want to|don'?t want)\b", r"\bmake sure\b",
                  r"\bthe (?:key|trick|secret|fix|rule) is\b", r"\bmy advice\b",
                  r"\bi'?d (?:recommend|tell|suggest)\b",
                  r"\bi (?:recommend|always tell)\b", r"\btry to\b", r"\bavoid\b", r"\brule of thumb\b",
                  r"\bif you only\b",
                  r"^(?:don'?t|do not|stop|start|use|get|pick|set up|build|check|look at|try|"
                  r"insulate|salt|pat|skip|focus|measure|save|put|keep)\b")
EVIDENCE = _rx(r"\bstud(?:y|ies)\b", r"\bresearch(?:ers)?\b", r"\bdata\b", r"\bsurvey\b", r"\bfound\b",
               r"\bmeasured?\b",
               r"\bshow(?:s|ed)\b", r"\baccording to\b", r"\bevidence\b", r"\bestimates?\b", r"\btests?\b",
               r"\bon average\b", r"\bturns out\b", r"\bwe (?:learned|found|noticed|tracked|saw)\b",
               r"\bin the lab\b")
GENERAL = _rx(r"\bmost (?:people|of|\w+s)\b", r"\bthe average\b", r"\bevery\b", r"\btypical(?:ly)?\b",
              r"\busually\b", r"\balmost (?:every|all|always)\b", r"\bin general\b", r"\brarely\b",
              r"\boften\b",
              r"\bis (?:the|a|an|not|more|less|usually|almost|exactly|just|about)\b",
              r"\bare (?:the|a|not|more|less|usually|often)\b", r"\bmatters?\b", r"\bworks?\b")
HEDGE = _rx(r"\bi (?:think|guess|mean|don'?t know|dunno|suppose|feel like)\b", r"\bkind of\b", r"\bsort of\b",
            r"\bmaybe\b", r"\bprobably\b", r"\byou know\b", r"\bum+\b", r"\buh+\b", r"\bor something\b",
            r"\band stuff\b", r"\bor whatever\b", r"\bi'?m not sure\b", r"\bi have no idea\b",
            r"\bhonestly\b")
ANECDOTE = _rx(r"\bi (?:was|went|got|had|remember|came|used to|did|tried|just|forgot|thought|saw|said)\b",
               r"\bwe (?:were|went|got|had|did)\b", r"\bi \w+ed\b", r"\byesterday\b",
               r"\blast (?:night|week|weekend)\b",
               r"\bthis (?:morning|week)\b",
               r"\bmy (?:wife|husband|dog|cat|kids?|mom|dad|brother|sister|friend)\b",
               r"\bthe other day\b", r"\bone time\b",
               r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
CHATTER = _rx(r"\b(?:you guys|man|dude|buddy|wow|gosh|oh|yeah|okay|awesome|cool|fantastic|amazing|love|"
              r"exciting|excited|fun|funny|crazy|weird)\b", r"!")
META = _rx(r"\bthis (?:show|podcast|episode|interview|conversation)\b",
           r"\bour (?:show|podcast|episodes?|listeners|"
           r"audience|hosts?|guests?)\b", r"\bthe show\b", r"\bon the (?:show|podcast)\b", r"\blisteners\b",
           r"\by'?all\b", r"\bhosting\b", r"\bco-?hosts?\b", r"\bthe (?:last|first|next) episode\b")
AD_COPY = _rx(r"\brevolutioni[sz]", r"\bworld'?s (?:first|leading|best)\b", r"\bcombines the power\b",
              r"\bunmatched\b",
              r"\bcutting[- ]edge\b", r"\bseamless(?:ly)?\b", r"\ball[- ]in[- ]one\b", r"\bgame[- ]changer\b",
              r"\bmade easy\b", r"\bpowerful tools\b", r"\bnext[- ]level\b", r"\bi'?m (?:skilled|great) at\b",
              r"\btickets\b", r"\bdon'?t forget\b", r"\bsign up\b", r"\bcheck (?:it|them) out\b")
STUTTER = re.compile(r"\b(\w+)(?:,? \1\b)+")
DANGLING = re.compile(r"^(?:it|that|this|these|those|they|them|he|she|him|her|which|who|"
                      r"there(?!'s| is| are| was| were)"
                      r"|then|also|yes|no|exactly|right|true|same)\b", re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:(?:and|so|but|yeah|yes|well|okay|ok|right|now|oh|like|also|plus|um|uh|"
                              r"because|cause|anyway|actually|basically|honestly|look|see|i mean|you know)"
                              r"[,.]?\s+)+",
                              re.IGNORECASE)
NAMED = re.compile(r"(?<=[a-z,;:] )(?:[A-Z][\w&'-]+|[A-Z]{2,})(?: (?:[A-Z][\w&'-]+|[A-Z]{2,}|of|de|&))*")
STOP = frozenset(
    "the a an and or but so of to in on for with is are was were be been being it its it's that this "
    "these those i you he she we they me him her us them my your his our their at as by from not no do "
    "does did have has had just like really very can could would should will there here what which who "
    "when where why how if then than also about into out up down over all any some one get got go going "
    "gonna yeah okay oh um uh know think mean thing things lot kind sort stuff right well now".split())


@dataclass(frozen=True)
class Candidate:
    """One to three consecutive sentences considered as one insight."""

    first: int  # sentence indexes, inclusive
    last: int
    text: str  # verbatim, sentences joined by a space
    start: float
    end: float
    speaker: str | None


@dataclass(frozen=True)
class EpisodeContext:
    """What the features need to know about the whole episode."""

    sentences: Sequence[Sentence]
    cues: Sequence[SentenceCues]
    reasons: Sequence[tuple[str, ...]]  # filler reasons per sentence
    cased: bool  # the transcript has real capitals and punctuation (not raw lowercase ASR)
    turn_words: Sequence[int]  # words in the speaker turn each sentence belongs to (0: no speakers)
    voice_share: dict[str, float]  # each speaker's words over the main speaker's (empty: no speakers)
    topic: Counter[str]  # content-word counts across the episode
    duration: float
    stats: BackgroundStats


def strip_markers(text: str) -> str:
    """The text without leading discourse markers ('So yeah, and ...')."""
    return _LEADING_MARKERS.sub("", text.strip())


_COUNTED: dict[str, re.Pattern[str]] = {
    "numbers": NUMBER, "percent_money": PERCENT_MONEY, "year": YEAR, "reason": REASON,
    "contrast": CONTRAST, "contrarian": CONTRARIAN, "comparative": COMPARATIVE,
    "prediction": PREDICTION, "evidence": EVIDENCE, "general": GENERAL, "hedge": HEDGE,
    "anecdote": ANECDOTE, "chatter": CHATTER, "meta": META, "ad_copy": AD_COPY, "stutter": STUTTER,
}


@dataclass(frozen=True)
class SentenceCues:
    """Cue counts and words of one sentence; a candidate's features add up its sentences' cues."""

    counts: dict[str, int]
    words: int
    content: tuple[str, ...]  # content words (no stop words, longer than two letters)
    dangling: bool
    opens: bool  # starts like a sentence: a capital letter (or a digit, a quote)
    closes: bool  # ends with sentence punctuation

    @property
    def weak(self) -> bool:
        """Says little on its own: short and without a single cue of substance."""
        signal = sum(self.counts[n] for n in ("numbers", "reason", "contrast", "comparative", "general",
                                              "advice", "evidence", "prediction", "contrarian"))
        return self.words <= 12 and (signal == 0 or len(self.content) < 4)


def sentence_cues(sentence: Sentence) -> SentenceCues:
    """Count every cue of one sentence (each regex runs once per sentence, not per candidate)."""
    lower = sentence.text.lower()
    body = strip_markers(lower)
    counts = {name: len(pattern.findall(lower)) for name, pattern in _COUNTED.items()}
    counts["advice"] = len(ADVICE.findall(body))
    counts["named"] = len(NAMED.findall(sentence.text))
    counts["claim"] = len(CLAIM.findall(body))
    content = tuple(w for w in content_words(lower) if w not in STOP and len(w) > 2)
    text = sentence.text.strip()
    return SentenceCues(counts, len(sentence.text.split()), content, bool(DANGLING.match(body)),
                        opens=not text[:1].islower(), closes=text[-1:] in ".!?\"'\u2026")


def features(c: Candidate, ctx: EpisodeContext) -> dict[str, float]:
    """The candidate's features by name, mostly in 0..1."""
    cues = ctx.cues[c.first:c.last + 1]
    total = {name: sum(q.counts[name] for q in cues) for name in cues[0].counts}
    n_words = sum(q.words for q in cues)
    content = [w for q in cues for w in q.content]
    max_idf = ctx.stats.max_idf()
    idfs = [ctx.stats.idf(w) / max_idf for w in content]
    rare = [w for w in content if not ctx.stats.is_common(w)]
    topic_hits = [w for w in set(content) if ctx.topic[w] >= 3]
    banter = any("banter" in ctx.reasons[i] for i in range(c.first, c.last + 1))
    middle = (c.start + c.end) / 2 / ctx.duration if ctx.duration > 0 else 0.5
    turn = max(ctx.turn_words[i] for i in range(c.first, c.last + 1))
    short_member = len(cues) > 1 and any(q.words < 5 for q in cues)
    weak_member = len(cues) > 1 and any(q.weak for q in cues)

    def share(name: str, cap: int = 2) -> float:
        return min(total[name], cap) / cap

    def density(name: str, per: float) -> float:
        return min(total[name] / max(n_words / per, 1), 1.0)

    return {
        "numbers": share("numbers", 3), "percent_money": share("percent_money"),
        "year": share("year", 1), "reason": share("reason"), "contrast": share("contrast"),
        "contrarian": share("contrarian", 1), "comparative": share("comparative"),
        "advice": share("advice"), "prediction": share("prediction", 1), "evidence": share("evidence"),
        # Acronyms ("AI", "API") are a topic's name, not a sign of chatter: they count nowhere.
        "general": share("general", 3), "named": share("named") * 0.5, "claim": share("claim"),
        "distinct": sum(idfs) / len(idfs) if idfs else 0.0,
        "rare_share": len(rare) / max(len(content), 1),
        "density": len(content) / max(n_words, 1),
        "topic": min(len(topic_hits) / 4, 1.0),
        "hedge": density("hedge", 12), "anecdote": share("anecdote"), "chatter": density("chatter", 10),
        "dangling": 1.0 if cues[0].dangling else 0.0,
        # In punctuated text a lowercase start or a missing full stop means a cut mid-clause.
        "fragment": (0.5 * (not cues[0].opens) + 0.5 * (not cues[-1].closes)) if ctx.cased else 0.0,
        "meta": share("meta"), "ad_copy": share("ad_copy"), "stutter": density("stutter", 15),
        "banter": 1.0 if banter else 0.0,
        "short_member": 1.0 if short_member else 0.0,
        "weak_member": 1.0 if weak_member else 0.0,
        "length": min(n_words, 45) / 45,
        "too_long": max(0, n_words - 45) / 25,
        "sentences": (c.last - c.first) / 2,
        "edge": 1.0 if middle < 0.04 or middle > 0.96 else 0.0,
        "turn": min(math.log1p(turn) / math.log1p(400), 1.0) if turn else 0.5,
        # Interviews: the guest, who talks most, states the ideas; hosts ask and frame. Centred on 0.5
        # so that transcripts without speaker names score as before.
        "lead_voice": ctx.voice_share.get(c.speaker, 0.0) - 0.5 if ctx.voice_share and c.speaker else 0.0,
    }


WEIGHTS: dict[str, float] = {
    "ad_copy": -0.33, "advice": 0.43, "claim": 0.60, "anecdote": -0.90, "banter": -0.17, "chatter": -0.76,
    "comparative": 1.26, "contrarian": 0.30, "contrast": 0.53, "dangling": -0.08, "density": 1.95,
    "distinct": 0.15, "edge": -0.43, "evidence": 0.40, "fragment": -0.45, "general": 0.35,
    "hedge": -0.10, "length": 0.89, "meta": -0.51, "named": -0.49, "numbers": 1.28,
    "percent_money": 1.58, "prediction": -0.25, "rare_share": 0.35, "reason": 0.53, "sentences": 0.24,
    "short_member": -0.19, "stutter": -0.02, "too_long": -0.06, "topic": -0.17, "turn": -0.59,
    "weak_member": -0.42, "year": 0.19, "lead_voice": 1.0,
}
BIAS = -2.80


def score(values: dict[str, float], weights: dict[str, float] | None = None, bias: float = BIAS) -> float:
    """Logistic of the weighted feature sum: 0..1, higher means more insight-like."""
    w = WEIGHTS if weights is None else weights
    return logistic(bias + sum(w.get(name, 0.0) * value for name, value in values.items()))


def logistic(z: float) -> float:
    """0..1 from a log-odds, clamped so that no input overflows."""
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


def log_odds(p: float) -> float:
    """The inverse of `logistic` (a score of exactly 0 or 1 is read as nearly so)."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def sub_scores(values: dict[str, float]) -> tuple[float, float, float]:
    """(novelty, specificity, evidence) in 0..1, for display and for digest ranking."""
    novelty = min(1.0, 0.6 * values["distinct"] + 0.4 * values["rare_share"] + 0.2 * values["contrarian"])
    specificity = min(1.0, 0.35 * values["numbers"] + 0.25 * values["percent_money"] + 0.25 * values["named"]
                      + 0.3 * values["rare_share"] + 0.1 * values["year"])
    evidence = min(1.0, 0.4 * values["reason"] + 0.35 * values["evidence"] + 0.25 * values["numbers"]
                   + 0.15 * values["comparative"])
    return round(novelty, 3), round(specificity, 3), round(evidence, 3)


def sentence_reasons(sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
    """Filler reasons for each sentence."""
    return [tuple(filler_reasons(s.text)) for s in sentences]
