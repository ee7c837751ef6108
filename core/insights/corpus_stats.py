"""Background word statistics: how ordinary a word is, from a bundled common-word list plus the
transcripts seen so far, so that a sentence full of specific words stands out from small talk.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable

# Spoken English by rough frequency, in three tiers; a word's tier is its prior share of documents
# (an episode) that contain it. Conversational words are included on purpose: podcasts are talk.
_TIER_1 = """
the be to of and a in that have i it for not on with he as you do at this but his by from they we
say her she or an will my one all would there their what so up out if about who get which go me when
make can like time no just him know take people into year your good some could them see other than
then now look only come its over think also back after use two how our work first well way even new
want because any these give day most us is are was were been has had did does yeah okay oh um uh right
really very thing things lot going gonna got yes mean kind sort stuff actually pretty much something
here where why let thank thanks sure guess maybe probably today said says too still never always
""".split()
_TIER_2 = """
great little own same big long old high different small large next early young important few public
bad able last part place case week company system program question government number night point home
water room mother area money story fact month lot study book eye job word business issue side kind head
house service friend father power hour game line end member law car city community name president team
minute idea kid body information back parent face others level office door health person art war history
party result change morning reason research girl guy moment air teacher force education foot boy age
policy everything process music market sense nation plan college interest death experience effect class
control care field development role effort rate heart drug show leader light voice wife police mind price
report decision son view relationship town road arm difference value building action model season society
tax director position player record paper space ground form event official matter center couple site
project activity star table need court oil situation cost industry figure street image phone data picture
practice piece land product doctor wall patient worker news test movie north love support technology step
baby computer type attention film tree source organization hair window evidence population site choice
start thought listen listening talk talking talked tell told ask asked feel felt try tried call called
keep kept help seem seemed turn turned show showed hear heard play run move live believe hold bring happen
write provide sit stand lose pay meet include continue set learn lead understand watch follow stop create
speak read allow add spend grow open walk win offer remember consider appear buy wait serve die send expect
build stay fall cut reach kill remain suggest raise pass sell require decide pull already together often
once later less least yet always sometimes usually again away around both each every many more several
such enough quite rather almost else instead however though although whether while during before since
until against among across through between without within along behind toward upon anyway basically
literally honestly totally definitely exactly absolutely super awesome cool interesting amazing nice fun
wow hey hello hi welcome guys folks everybody everyone somebody someone anybody anything nothing nobody
""".split()
_TIER_3 = """
episode episodes podcast podcasts show shows host hosts guest guests listener listeners audience
conversation question questions answer answers topic topics chat minute minutes second seconds hour hours
day days week weeks month months year years today tomorrow yesterday morning evening afternoon weekend
percent half quarter third double twice hundred thousand million billion dozen couple
one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy
eighty ninety first second third last next previous whole entire real true false easy hard simple
clear certain free full special sure possible likely available similar better best worse worst higher
lower bigger smaller faster slower cheaper longer shorter stronger harder easier
mean means meant makes made making takes took taking gets getting gave given goes went gone coming came
says saying thinking thought knows knew known looks looking looked wants wanted uses used using works
worked working needs needed trying starts started finds found find tells puts put keeps lets seems seen
""".split()
COMMON_WORDS: tuple[str, ...] = tuple(dict.fromkeys(_TIER_1 + _TIER_2 + _TIER_3))
_PRIOR_SHARE = {**{w: 0.12 for w in _TIER_3}, **{w: 0.35 for w in _TIER_2}, **{w: 0.9 for w in _TIER_1}}
UNKNOWN_SHARE = 0.01  # a word in no list: assume about one document in a hundred uses it

_TOKEN = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")


def content_words(text: str) -> list[str]:
    """Lowercase word tokens of a text (digits excluded), apostrophe suffixes dropped."""
    out = []
    for tok in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        tok = tok.split("'")[0]
        if tok:
            out.append(tok)
    return out


class BackgroundStats:
    """Document frequencies: a prior from COMMON_WORDS worth `prior_docs` documents, plus what was seen.

    Thread-safe: the offline extractor scores episodes in worker threads.
    """

    def __init__(self, prior_docs: int = 40) -> None:
        self.prior_docs = prior_docs
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @property
    def documents(self) -> int:
        """How many transcripts have been added."""
        return self._docs

    def add_document(self, key: str, words: Iterable[str]) -> bool:
        """Count each distinct word of one transcript once; False if `key` was added before."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._df.update(set(words))
            self._docs += 1
            return True

    def idf(self, word: str) -> float:
        """Inverse document frequency: high for rare words, near zero for the commonest."""
        prior = _PRIOR_SHARE.get(word, UNKNOWN_SHARE) * self.prior_docs
        with self._lock:
            df, docs = self._df.get(word, 0), self._docs
        return math.log((self.prior_docs + docs + 1) / (prior + df + 0.5))

    def max_idf(self) -> float:
        """The idf of a word never seen anywhere: the top of the scale."""
        with self._lock:
            docs = self._docs
        return math.log((self.prior_docs + docs + 1) / (UNKNOWN_SHARE * self.prior_docs + 0.5))

    def is_common(self, word: str) -> bool:
        """Whether the word is in the bundled common-word list."""
        return word in _PRIOR_SHARE
