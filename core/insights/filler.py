"""What is not an insight: sponsor reads, intros and outros, greetings, banter, questions, teasers.

`filler_reasons` judges one passage by its cue phrases. Sponsor reads need more than one sentence's
view (an ad is several sentences, most without a cue), so `sponsor_spans` finds whole reads and
`drop_sponsor_segments` removes them before any extractor, offline or LLM, sees the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.insights.sentences import Sentence, split_sentences
from core.models import Segment


def _rx(*patterns: str) -> re.Pattern[str]:
    # Case-sensitive on purpose: cues are matched against lowercased text, which is much faster.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_TLD = r"(?:com|net|org|io|co|fm|dev|show|ai|app|us|uk|tv)"
_URL_PATH = rf"\b[\w-]+\.{_TLD} ?(?:/|slash) ?\w+|\b[\w-]+ dot {_TLD} slash \w+"
_SPONSOR = _rx(
    r"\bbrought to you by\b", r"\bsponsored (?:and hosted )?by\b", r"\b(?:is|are) sponsored\b",
    r"\b(?:our|today'?s|this week'?s|this episode'?s) sponsors?\b", r"\bsupport for (?:this|the) "
    r"(?:podcast|show|episode) comes from\b", r"\b(?:episode|show|podcast|portion of [\w ]{0,30}) is "
    r"(?:supported|made possible|presented) by\b", r"\bthanks? (?:you )?to \w+(?: \w+){0,3} for "
    r"(?:sponsoring|supporting the show)\b", r"\b(?:promo|discount|offer) code\b",
    r"\b(?:use|with|enter) (?:the |my |our )?code \w+", r"\bcode \w+ (?:at|for) \w+",
    r"\d+ ?(?:%|percent) off\b", r"\bsave (?:up to )?\d+ ?(?:%|percent)",
    r"\b(?:twenty|thirty|forty|fifty|fifteen|ten) percent off\b",
    r"\bfree trial\b", r"\brisk[- ]free\b", r"\bmoney[- ]back guarantee\b",
    r"\b(?:your|their) first (?:order|purchase|box)\b", r"\bfor a limited time\b",
    r"\blisteners get\b", r"\bspecial offer\b", r"\bexclusive (?:offer|discount)s?\b",
)
# Each of these also turns up in ordinary talk; two different ones in a sentence make a cue.
_SPONSOR_WEAK = (
    re.compile(_URL_PATH),
    _rx(r"\bvisit \S+(?:\.| dot )(?:com|net|org|io|fm)\b", r"\bgo to \S+(?:\.| dot )(?:com|net|org|io|fm)\b"),
    _rx(r"\bhead (?:over )?to\b", r"\bcheck (?:them|it) out\b", r"\bjoin (?:them|the program)\b"),
    _rx(r"\bsign up\b", r"\bget started\b", r"\bstart your\b"),
    _rx(r"\bdiscounts?\b", r"\bfor free\b", r"\bfree (?:shipping|access|resources|month)\b",
        r"\bmonths? free\b", r"\bplans? (?:start|starting) (?:at|from)\b", r"\bstarting at (?:just|only)\b"),
    _rx(r"\bmade easy\b", r"\b(?:remarkable|award-winning|world-class) (?:customer )?support\b"),
)
_LEAD_IN = _rx(
    r"\ba (?:quick )?word from\b", r"\b(?:quick|short) (?:break|one)\b",
    r"\btake a (?:quick |short )?break\b",
    r"\bbefore we (?:start|begin|continue|get (?:going|started)|dive in|move on)\b",
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "sponsor": _SPONSOR,
    "call_to_action": _rx(
        r"\bpatreon\b", r"\bsupport (?:the|this) (?:show|podcast)\b",
        r"\bbecome a (?:member|supporter|patron)\b",
        r"\bsubscribe to (?:our|the) (?:newsletter|channel)\b",
        r"\bcheck out (?:our|their|the) (?:other|website|course)",
        r"\b(?:follow|find) (?:me|us) on\b", r"\bsign up for (?:our|the)\b",
        r"\bsend (?:it|them|us) (?:in|an email)\b",
        r"\bhit us up\b", r"\blink (?:is )?in the (?:show ?notes|description)\b",
        r"\bin the (?:show ?notes|episode description)\b",
        r"\bjoin (?:our|the) (?:discord|slack|community)\b",
        r"\bwhere can (?:people|listeners|folks) find you\b",
        r"\byou can (?:also )?(?:subscribe|support us|become a|get tickets|grab|follow us|join us|sign up)\b",
        r"\bdon'?t forget (?:to|ours|about our)\b", r"\btickets (?:are )?(?:now )?(?:on sale|available)\b",
        r"\b(?:try|take|grab|buy|get|check out) (?:my|our) (?:[\w-]+ ){0,6}"
        r"(?:course|courses|book|bundle|training|class|workshop)\b",  # the host's own products
        r"\bgive (?:me|us) a (?:call|shout|ring|holler)\b",
    ),
    "intro": _rx(
        r"\bwelcome (?:back )?to (?:the show|\w+)",
        r"\bthis is (?:the )?[\w' ]{0,40}(?:podcast|show|review)\b",
        r"\bi'?m your host\b", r"\bi'?m (?:here )?with (?:my )?co-?hosts?\b",
        r"\b(?:joining me|with me) (?:today|now|as always|live|as well)\b",
        r"\b(?:my|our) guests? (?:today|is|this week)\b", r"\btoday'?s guest\b",
        r"\bepisode (?:number )?\d{2,}\b",
        r"\bepisode (?:one|two|three) hundred\b", r"\bthe last word in\b", r"\bmy name is\b",
        r"\bi'?m joined (?:today |here )?by\b", r"\bplease welcome\b",
        r"^it'?s (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
        r"\bin the chapters today\b",
    ),
    "outro": _rx(
        r"\bthanks? (?:you )?(?:so much |very much )?for listening\b",
        r"\bthat'?s (?:it|all) for (?:this|today)\b",
        r"\bthat'?s (?:our|the) show\b", r"\bthat'?s a wrap\b",
        r"\bsee (?:you|y'?all) (?:next|later|then|soon)\b",
        r"\buntil next time\b", r"\b(?:rate|review) (?:and (?:review|subscribe) )?(?:us|the show)\b",
        r"\bleave (?:us )?a (?:\w+[- ]star )?(?:review|rating)\b",
        r"\bwherever you (?:get|listen to|found) (?:your |this )?podcasts?\b",
        r"\btell (?:a|your) (?:\w+ )?friends?\b",
        r"\bshare this episode\b", r"\bhit subscribe\b", r"\b(?:subscribe|follow) (?:to )?(?:the show|us)\b",
        r"\bkeep listening\b",
        r"\bwill return next week\b", r"\bnext (?:week|time)(?:,)? (?:we'?re|we'?ll|on)\b",
        r"\bin the next episode\b", r"^(?:bye[.! ]*)+$",
    ),
    "greeting": _rx(
        r"^(?:hi|hello|hey|yo|howdy|good (?:morning|afternoon|evening))\b",
        r"\bhow (?:are|is) (?:you|everyone|things)\b",
        r"\bhow'?s it going\b", r"\bthanks? (?:you )?(?:so much )?for having me\b",
        r"\b(?:great|good|happy|glad|stoked) to be (?:here|back|on)\b",
        r"\bthanks? (?:you )?(?:so much )?for (?:coming on|joining|being (?:here|on))\b",
        r"\bwelcome to the show\b",
        r"^(?:[\w-]+, )?welcome[.!]?$", r"\blong[- ]time listener\b",
    ),
    "banter": _rx(
        r"\b(?:ha){2,}\b", r"^ha\b", r"\blol\b", r"\b(?:just |i'?m )kidding\b", r"\bno comment\b",
        r"\btoo kind\b",
        r"\bspeak for yourself\b", r"\bi love (?:that|it)\b",
        r"^(?:oh )?(?:wow|oof|ouch|yikes|whoa|geez|dang|damn)\b",
        r"^(?:that'?s|this is) (?:so )?"
        r"(?:wild|funny|hilarious|brutal|amazing|awesome|great|crazy|fun|weird)\b",
        r"\blaughter\b", r"\blaughs\b", r"\bfair enough\b", r"\bi'?ll allow it\b",
    ),
    # Thanks, fundraising and promotion of other shows: said about the show, never an idea.
    "promo": _rx(
        r"\bshout[- ]?outs?\b", r"\b(?:big|huge|special) thanks? (?:you )?to\b",
        r"\bbehind the show\b", r"\b(?:our|the show'?s) (?:partners?|friends) (?:at|over at)\b",
        r"\bbucks a (?:day|week|month|year)\b", r"\btoss (?:us|them|in)\b", r"\bchip in\b",
        r"\bdonat(?:e|ion|ions|ing) (?:to|at|on|via)\b", r"\b(?:other|sister) (?:shows?|podcasts?)\b",
        r"\bif you (?:donate|pledge|become a (?:member|patron|supporter))\b",
        r"\bon the [\w ]{1,20} network\b", r"\bplus plus\b", r"\w\+\+",
        r"\b(?:go |should )(?:listen to|check out) (?:the|our|that) (?:show|episode|podcast)\b",
        r"\bmerch\b", r"\b(?:ad[- ]free|bonus) (?:feed|episodes?|content)\b",
        r"\bwhat (?:it|something|this|the show)(?:'?s| is) worth to you\b",  # value-for-value pitches
        r"\bthanks? (?:you )?(?:so much |very much )?to (?:everyone|everybody|all of you|all those|"
        r"those of you|anyone|all the people) (?:who|that)\b",
        r"\b(?:light on|looking for|need(?:ing)?(?: more| new)?) sponsors\b",
    ),
    # Talk about the recording itself: where, when, links, audio.
    "housekeeping": _rx(
        r"\b(?:we'?re|we are|i'?m) recording (?:this|on|today|from)\b",
        r"\bwe'?ll (?:put|link|add) (?:it|that|them|a link)\b",
        r"\blinks? (?:to (?:that|it|all of these|them) )?(?:will be |are |is )?in the\b",
        r"\b(?:audio|mic|microphone|connection) (?:is|was|cut|dropped|issues?)\b",
        r"\bcan you hear me\b", r"\byou'?re on mute\b",
        r"\b(?:i|we)(?:'ll| will) be (?:at|speaking at|attending) (?:the )?[\w' ]{0,40}?"
        r"\b(?:conference|summit|expo|meetup|festival|booth|show \d{4})\b",  # where we'll be next
    ),
    "self_reference": _rx(
        r"\b(?:in|on) (?:this|today'?s|the) (?:episode|show)\b",
        r"\btoday,? (?:we'?re|we are|we'?ll|i'?m|i am) (?:going to |gonna )?"
        r"(?:talk|talking|discuss|look|looking|chat|dive|cover|going)",
        r"\b(?:we'?re|we are) (?:going to|gonna) (?:talk|discuss|find out|run through|dive)",
        r"\blet'?s (?:talk|dive|jump|get|start|move|kick|wrap|take a look)\b",
        r"\b(?:we'?ll|we will|i'?ll|i will) (?:talk|be talking|discuss|get) (?:about|into|to)\b",
        r"\btoday'?s (?:topic|episode|show)\b", r"\bthis (?:week|episode) (?:on|we)\b",
        r"\bi (?:want|wanted|'?d love) to (?:talk|ask|start|share|linger)\b",
        r"\bmoving on\b", r"\bi'?m going to be talking\b",
        r"\bthis (?:interview|conversation|episode) is (?:about|what)\b",
        r"\bthis (?:episode|show) is (?:titled|called|named)\b",
        r"\b(?:people|folks|everyone|those|listeners) (?:that|who) (?:listen|listens|tune in) to "
        r"(?:this|the|our) (?:show|podcast)\b",
        r"\blet me (?:just )?"
        r"(?:dive|jump|start|ask|pull (?:this |that |it )?up|share|show|read|play|close)\b",
        r"\b(?:my|the) next question\b",
    ),
    "teaser": _rx(
        r"\bcoming up\b", r"\bafter the break\b", r"\bwhen we come back\b", r"\bstick around\b",
        r"\bstay tuned\b",
        r"\bdon'?t go anywhere\b", r"\blater (?:in|on) (?:the|this) (?:show|episode|podcast)\b",
        r"\bright back\b",
        r"\b(?:quick|short) (?:break|word)\b", r"\b(?:and )?we'?re back\b", r"^welcome back\b",
        r"\bdon'?t miss it\b",
        r"\bmore (?:details )?(?:on|about) that in a\b", r"\bnext week,? (?:we|on)\b",
        r"^(?:okay |ok |alright |all right |so )*back to (?:it|the show|our (?:topic|show))\b",
    ),
}
# "And I'm Amara." / "I'm James Cridland, the editor of Podnews." (case matters: not "I'm sure")
_NAME_INTRO = re.compile(r"^(?:[Aa]nd |[Hh]i,? |[Hh]ey,? )?I'?m (?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2}"
                         r"(?:[,.!]|$| here\b| from\b)")
_QUESTION_START = _rx(
    r"^(?:so |and |but |okay |ok |now |well |um |uh )*(?:what|why|how|when|where|who|which|whose) "
    r"(?:is|are|was|were|do|does|did|can|could|would|should|will|has|have|about|happens|happened|made)\b",
    r"^(?:so |and |but |okay |ok |now |well |um |uh )*"
    r"(?:do|does|did|can|could|would|will|should|is|are|was|were|"
    r"have|has) (?:you|we|they|i|it|he|she|there|that|this|anyone|people)\b",
)
# An interviewer's prompt asks even when it ends with a full stop.
_PROMPT = _rx(
    r"^(?:so |and |now |okay |ok )*(?:tell (?:me|us) (?:about|a (?:little )?bit|more|what|how|why)|"
    r"(?:talk|walk) (?:me|us) through|explain (?:to (?:me|us) )?(?:what|how|why))\b",
)
_TERMINAL = re.compile(r"[.!]\s*[\"')\]]*\s*$")


def is_question(text: str) -> bool:
    """Whether the passage asks rather than tells (a '?' or, without punctuation, its opening)."""
    stripped = text.strip().lower()
    if "?" in stripped or _PROMPT.search(stripped):
        return True
    return not _TERMINAL.search(stripped) and bool(_QUESTION_START.search(stripped))


def filler_reasons(text: str) -> list[str]:
    """Why a passage is not an insight, e.g. ['sponsor'] or ['intro', 'greeting']; [] if none."""
    norm = " ".join(text.replace("\u2019", "'").split())
    lower = norm.lower()
    reasons = [name for name, pattern in _PATTERNS.items() if pattern.search(lower)]
    if "intro" not in reasons and _NAME_INTRO.search(norm):
        reasons.append("intro")
    if "sponsor" not in reasons and _weak_cues(lower) >= 2:
        reasons.insert(0, "sponsor")
    if is_question(norm):
        reasons.append("question")
    return reasons


_BRAND_AFTER = re.compile(
    r"\b(?:brought to you by|sponsored (?:and hosted )?by|supported by|comes from|presented by)"
    r" (?:us over at )?((?:[\w&'-]+ ?){1,4})", re.IGNORECASE)
_BRAND_URL = re.compile(rf"\b([\w-]+)(?:\.| dot ){_TLD}\b", re.IGNORECASE)
_BRAND_STOP = frozenset("the a an our us you your this that listeners like all for and of to by at "
                        "over with today everyone people podcast podcasts show episode".split())
BLOCK_GAP_SENTENCES = 4  # cue sentences this close belong to one read
BLOCK_GAP_SECONDS = 75.0
BRACKET_GAP_SECONDS = 45.0  # cue-less middle of one read between two mentions of its advertiser


def _brands(sentences: Sequence[Sentence], cues: list[int]) -> set[str]:
    """Words naming the advertiser (after 'brought to you by', offer URL hosts), minus topic words."""
    brands: set[str] = set()
    for i in cues:
        text = sentences[i].text
        for m in _BRAND_AFTER.finditer(text):
            brands.update(w.lower() for w in re.findall(r"[\w&'-]+", m.group(1))[:3])
        brands.update(m.group(1).lower() for m in _BRAND_URL.finditer(text))
    brands = {b for b in brands if len(b) >= 4 and b not in _BRAND_STOP}
    # A word the episode uses far from any ad ('python' on a Python show) is its topic, not a brand.
    far = [s.text.lower() for j, s in enumerate(sentences) if all(abs(j - i) > 12 for i in cues)]
    return {b for b in brands if sum(b in text for text in far) <= 3}


def _weak_cues(text: str) -> int:
    lower = text.lower()
    return sum(1 for pattern in _SPONSOR_WEAK if pattern.search(lower))


def _is_cue(sentence: Sentence) -> bool:
    return bool(_SPONSOR.search(sentence.text.lower())) or _weak_cues(sentence.text) >= 2


def sponsor_spans(sentences: Sequence[Sentence]) -> list[tuple[int, int]]:
    """Sponsor reads as [first, last] sentence index ranges, in order."""
    cues = [i for i, s in enumerate(sentences) if _is_cue(s)]
    brands = _brands(sentences, cues)
    near = set(cues)
    for i in cues:  # brand mentions near a cue by the same voice belong to the read
        for j in range(max(0, i - 12), min(len(sentences), i + 13)):
            s = sentences[j]
            if (s.speaker == sentences[i].speaker and abs(s.start - sentences[i].start) <= 90
                    and any(b in s.text.lower() for b in brands)):
                near.add(j)
    blocks: list[list[int]] = []
    for i in sorted(near):
        if blocks and i - blocks[-1][1] <= BLOCK_GAP_SENTENCES and \
                sentences[i].start - sentences[blocks[-1][1]].end <= BLOCK_GAP_SECONDS:
            blocks[-1][1] = i
        else:
            blocks.append([i, i])
    blocks = _bracketed(sentences, blocks, brands)
    spans = []
    for first, last in blocks:
        if first > 0 and _LEAD_IN.search(sentences[first - 1].text.lower()) and \
                sentences[first - 1].speaker == sentences[first].speaker:
            first -= 1
        while (last + 1 < len(sentences) and last - first < 40
               and _continues_read(sentences[last], sentences[last + 1], brands)):
            last += 1
        spans.append((first, last))
    return spans


def _bracketed(sentences: Sequence[Sentence], blocks: list[list[int]], brands: set[str]) -> list[list[int]]:
    """Blocks joined with what lies between them when both name one advertiser, close together and
    in one voice: the middle of a read ("They have 10 data centers across the globe.") has no cue."""
    joined: list[list[int]] = []
    for block in blocks:
        if joined:
            prev = joined[-1]
            a, b = sentences[prev[1]], sentences[block[0]]
            named = any(_names(sentences, prev, w) and _names(sentences, block, w) for w in brands)
            one_voice = all(sentences[k].speaker == a.speaker for k in range(prev[1], block[0] + 1))
            if named and one_voice and b.start - a.end <= BRACKET_GAP_SECONDS:
                prev[1] = block[1]
                continue
        joined.append(list(block))
    return joined


def _names(sentences: Sequence[Sentence], block: list[int], brand: str) -> bool:
    return any(brand in _unspelled(sentences[i].text) for i in range(block[0], block[1] + 1))


def _unspelled(text: str) -> str:
    """Lowercased, with spelled-out words joined up: "L-I-N-O-D-E" reads "linode"."""
    return re.sub(r"\b\w(?:-\w\b)+", lambda m: m.group(0).replace("-", ""), text).lower()


def _continues_read(prev: Sentence, nxt: Sentence, brands: set[str]) -> bool:
    """Ad copy right after a read, by the same voice: names the brand or carries a weak cue."""
    if nxt.speaker != prev.speaker or nxt.start - prev.end > 20:
        return False
    return _weak_cues(nxt.text) > 0 or any(b in _unspelled(nxt.text) for b in brands)


BIO_SENTENCES = 12  # a guest's bio read by the host runs up to about ten sentences before the welcome
_GUEST_INTRO = _rx(r"\b(?:my|our) guests? (?:today|this week|is|are)\b", r"\btoday'?s guest\b",
                   r"\blet me introduce\b",
                   r"\bjoining (?:me|us) (?:today|now|this week)\b", r"\bi'?m joined (?:today |here )?by\b")


def guest_intro_mask(sentences: Sequence[Sentence]) -> list[bool]:
    """The host's reading of a guest's bio: from 'our guest today is' to the 'welcome' that ends it.

    A bio is full of numbers and names ('forty papers', 'fifteen years at Michigan') but is not an
    insight; only the sentences between the cue and a welcome by the same voice are marked.
    """
    mask = [False] * len(sentences)
    for i, s in enumerate(sentences):
        if not _GUEST_INTRO.search(s.text.lower()):
            continue
        for j in range(i, min(i + BIO_SENTENCES, len(sentences))):
            if sentences[j].speaker != s.speaker:
                break
            if "welcome" in sentences[j].text.lower() or "thanks for coming" in sentences[j].text.lower():
                for k in range(i, j + 1):
                    mask[k] = True
                break
    return mask


def sponsor_mask(sentences: Sequence[Sentence]) -> list[bool]:
    """For each sentence, whether it is part of a sponsor read."""
    mask = [False] * len(sentences)
    for first, last in sponsor_spans(sentences):
        for i in range(first, last + 1):
            mask[i] = True
    return mask


def drop_sponsor_segments(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    """The segments without sponsor reads.

    A segment goes when half of it lies inside a read; a longer segment that only contains a read
    (one paragraph of a publisher transcript can run for minutes) keeps its times and loses the
    read's sentences from its text.
    """
    sentences = split_sentences(segments)
    spans = sponsor_spans(sentences)
    if not spans:
        return tuple(segments)
    windows = [(sentences[a].start, sentences[b].end) for a, b in spans]
    reads = [sentences[i] for a, b in spans for i in range(a, b + 1)]
    kept = []
    for seg in segments:
        length = seg.end - seg.start
        if length <= 0:
            inside = any(a <= seg.start <= b for a, b in windows)
        else:
            covered = sum(max(0.0, min(seg.end, b) - max(seg.start, a)) for a, b in windows)
            inside = covered >= 0.5 * length
        if inside:
            continue
        text = seg.text
        for read in reads:
            if seg.start <= read.start and read.end <= seg.end:
                text = _without(text, read.text)
        if text.strip():
            kept.append(seg if text == seg.text else Segment(seg.start, seg.end, text.strip(), seg.speaker))
    return tuple(kept)


def _without(text: str, sentence: str) -> str:
    """`text` with one sentence cut out, matching its words across any whitespace."""
    words = sentence.split()
    if not words:
        return text
    pattern = r"\s+".join(re.escape(w) for w in words)
    return re.sub(r"\s{2,}", " ", re.sub(pattern, " ", text, count=1))
