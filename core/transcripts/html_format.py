"""HTML transcripts (podcast namespace: <cite>speaker</cite><time>0:00</time><p>text</p>) -> segments."""

from __future__ import annotations

from html.parser import HTMLParser

from core.models import Segment
from core.transcripts.cues import clean_speaker, parse_clock, squash
from core.transcripts.merge import Draft, spread_times
from core.transcripts.text_format import parse_text

_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"})


def parse_html(text: str, *, require_timing: bool = False) -> tuple[Segment, ...]:
    """One draft per <p>, timed by the <time> before it; pages without that shape are read as text.

    Only turn starts are timed, so each paragraph runs to the next one's start (the last at
    ~150 words a minute); merging later shares those spans out over the paragraph's sentences.
    """
    reader = _TranscriptReader()
    reader.feed(text)
    reader.close()
    drafts = reader.drafts
    if not any(d.start is not None for d in drafts):
        # Not the namespace shape (or untimed): the page's visible text may still be a transcript.
        return parse_text(reader.visible_text(), require_timing=require_timing)
    return tuple(spread_times(drafts))


class _TranscriptReader(HTMLParser):
    """Collects (time, speaker, paragraph) triples and, as a fallback, the page's visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.drafts: list[Draft] = []
        self._visible: list[str] = []
        self._hidden_depth = 0
        self._field: str | None = None  # "cite", "time" or "p" while inside one
        self._buffer: list[str] = []
        self._speaker: str | None = None
        self._time: float | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        if tag in _BLOCK:
            self._visible.append("\n")
        if tag in ("cite", "time", "p") and self._field is None:
            self._field, self._buffer = tag, []
        elif tag == "br" and self._field is not None:
            self._buffer.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1
        if tag in _BLOCK:
            self._visible.append("\n")
        if tag == self._field:
            self._finish_field()

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        self._visible.append(data)
        if self._field is not None:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        if self._field is not None:  # a truncated file: keep the paragraph it was in
            self._finish_field()

    def visible_text(self) -> str:
        """The page's text with block elements on their own lines."""
        return "".join(self._visible)

    def _finish_field(self) -> None:
        field, content = self._field, squash("".join(self._buffer))
        self._field, self._buffer = None, []
        if field == "cite":
            self._speaker = clean_speaker(content)
        elif field == "time":
            self._time = parse_clock(content)
        elif field == "p" and content:
            # A <p> with no <cite> before it keeps the last speaker: a turn split in paragraphs.
            self.drafts.append(Draft(self._time, content, self._speaker))
            self._time = None
