"""The verbatim quote as a reader sees it: no fillers, stutters or restarts, capitalised, punctuated."""

from __future__ import annotations

import re

_DISFLUENCY = re.compile(r"(?:,\s*)?(?<![\w'-])(?:um+|uh+|erm|uhhuh|mm-hmm|hmm+)\b(?:\s*[,.])?",
                         re.IGNORECASE)
_SET_OFF = re.compile(r"(?:,\s*(?:you know|i mean|like)(?=[,.!?]))|(?:\b(?:you know|i mean),\s*)",
                      re.IGNORECASE)
_ANSWER_WORD = re.compile(r"^(?:(?:yes|no|yeah|yep|nope|right|sure|exactly|totally|absolutely|correct|true|"
                          r"okay|ok|so|well|alright)[.!,]\s+)+", re.IGNORECASE)
# One to four words said again straight away ("the the", "that is that is", "I think -- I think").
_REPEAT = re.compile(r"\b([\w'\u2019]+(?:\s+[\w'\u2019]+){0,3}?)"
                     r"(?:(?:\s*,\s*|\s+-+\s+|\s+)\1(?![\w'\u2019+#]))+", re.IGNORECASE)
# A restart always has a word like these in it. Repeats of content words alone are left as said:
# emphasis ("very, very hard", "dozens and dozens") or a name ("Boing Boing", "Conda, Conda Forge").
# "had" is not one of them: "had had" is grammar.
_RESTART_WORDS = frozenset("""
    i me my you your he him his she her it its we us our they them their this that these those there here
    what who which when where how why if i'm i'll i've i'd it's that's there's here's let's what's
    they're we're you're we've they've you've don't doesn't didn't can't isn't wasn't won't
    the a an some any all of in on at to for with from by about into as
    and but or so because cuz cause like just maybe think mean
    is are was were be been am do does did have has can could will would should may might must not
    yeah yes no okay ok right well
""".split())
# A comma can also sit between two clauses that happen to meet on the same words ("went into it, it
# was months", "whatever it was, it was slow", "the question is, is it worth it"). So across a comma
# a repeat is a restart only when no clause can end on its last word.
_OPENS_A_CLAUSE = frozenset("""
    i we they he she i'm i'll i've i'd it's that's there's here's let's what's they're we're you're
    the a an and but or so because cuz cause if of in on at for with from by into to like not
    yeah yes no okay ok right well
""".split())
# Leading words a reader loses nothing without; connectives that carry meaning ("because", "but",
# "also") stay, or a reason would read as a bare assertion.
_DISPLAY_MARKERS = re.compile(r"^(?:(?:and|so|yeah|yes|well|okay|ok|right|now|oh|like|um|uh|anyway|"
                              r"actually|basically|honestly|look|see|i mean|you know)[,.]?\s+)+",
                              re.IGNORECASE)
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "vs.", "etc.", "cf.", "approx.", "a.m.", "p.m."})
_LABEL_INSIDE = re.compile(r"\s[A-Z][\w'-]+(?: [A-Z][\w'-]+)?: ")


def clean_text(quote: str) -> str:
    """The quote as a reader should see it: no 'um', 'you know' or stutters, capitalised, punctuated."""
    text = _LABEL_INSIDE.sub(" ", quote)
    text = _DISFLUENCY.sub(" ", text)
    text = _SET_OFF.sub(" ", text)
    text = _REPEAT.sub(_said_once, text)
    text = _DISPLAY_MARKERS.sub("", _ANSWER_WORD.sub("", _DISPLAY_MARKERS.sub("", text.strip())))
    text = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,;:-")
    text = (re.sub(r"([,.!?])[,.]+", r"\1", text).rstrip(".\u2026 ")
            + ("" if text.endswith(("?", "!")) else "."))
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    text = re.sub(r"(\S+[.!?] )([a-z])", lambda m: m.group(1) + (
        m.group(2) if m.group(1).lower().strip() in _ABBREVIATIONS else m.group(2).upper()), text)
    return re.sub(r"\bi\b(?!\.)", "I", text)


def _said_once(match: re.Match[str]) -> str:
    """A restart said once; emphasis, names, rhetorical runs ("here and here") and clause joins as said."""
    said = match.group(1)
    words = said.lower().replace("\u2019", "'").split()
    across_comma = "," in match.group(0)[len(said):]
    restart = (any(w in _RESTART_WORDS for w in words)
               and not (len(words) > 1 and {words[0], words[-1]} & {"and", "or"})
               and not (across_comma and words[-1] not in _OPENS_A_CLAUSE))
    return said if restart else match.group(0)
