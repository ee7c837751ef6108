"""What kind of words would answer a question, so a passage that lacks them is not an answer.

"How many pages does the book have?" shares "pages" and "book" with a passage about the book's
print date; only a passage that also holds a number can answer it. Likewise "Who wrote the book?"
needs a name that the question does not already hold.
"""

from __future__ import annotations

import re

_QUANTITY = re.compile(
    r"\bhow (?:many|much|long|far(?: away)?|old|big|large|often|fast|high|tall)\b|"
    r"\bwhat (?:percentage|percent|share|fraction|number|proportion|price)\b|"
    # "What is the mass of...", "what was their revenue": a measure, so a number answers it
    r"\bwhat(?:'s| is| was| are| were) (?:the|its|their|his|her|your) (?:\w+ ){0,2}?(?:mass|weight|size|"
    r"cost|price|length|speed|distance|temperature|height|depth|population|revenue|salary|budget|"
    r"valuation|age|capacity|latency|throughput)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"^\W*when\b|\bwhat (?:year|date|day|month|time)\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\d|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
    r"billions?|trillions?|dozens?|half|twice|double|triple|percent)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\d|\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|"
    r"tomorrow|tonight|ago|soon|later|next (?:week|month|year)|last (?:week|month|year)|"
    r"spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)

# Questions answered by a name: who, where, which company, "what is the name of".
_BY_NAME = re.compile(
    r"^\W*(?:who|whom|whose|where)\b|\bwhich (?:company|companies|firm|organi[sz]ation|person|people|"
    r"city|country|countries|author|university|school)\b|\bwhat (?:is|was|are|were) the names?\b|"
    r"\bnames? of\b|\bwhat company\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NOT_NAMES = frozenset({"I", "I'm", "I've", "I'd", "I'll", "OK", "Okay"})


def question_phrase(question: str) -> str:
    """The question without its asking words ("how many", "when"), which no passage answers with."""
    return _WHEN.sub(" ", _QUANTITY.sub(" ", question))


def answer_words(question: str) -> re.Pattern[str] | None:
    """The kind of words an answer to `question` must hold (a number, a time); None for open ones."""
    if _QUANTITY.search(question):
        return _NUMBER
    if _WHEN.search(question):
        return _TIME
    return None


def can_answer(question: str, text: str) -> bool:
    """Whether `text` holds the kind of words the question asks for (any text, for open ones)."""
    if _BY_NAME.search(question) and not _names_beyond(question, text):
        return False
    wanted = answer_words(question)
    return wanted is None or bool(wanted.search(text))


def _names_beyond(question: str, text: str) -> bool:
    """Whether `text` names something the question does not: a capitalised word inside a sentence
    (a capital that starts one names nothing) that is not one of the question's words."""
    asked = {w.lower() for w in _WORD.findall(question)}
    for sentence in _SENTENCE.split(text):
        for word in _WORD.findall(sentence)[1:]:
            if word[0].isupper() and word not in _NOT_NAMES and word.lower() not in asked:
                return True
    return False
