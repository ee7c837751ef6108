"""Regenerate the bad-audio fixtures beside this file from the committed demo episodes.

Run: python tests/data/audio/make_fixtures.py   (needs ffmpeg only for speech-clip.mp3)
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[2] / "examples" / "demo"

ERROR_PAGE = b"""<!DOCTYPE html>
<html><head><title>404 Not Found</title></head>
<body><h1>Not Found</h1><p>The requested episode was not found on this server.</p>
<hr><address>nginx</address></body></html>
""" * 4


def main() -> None:
    """Write every fixture; deterministic, so reruns change nothing."""
    episode = (DEMO / "episode-3.mp3").read_bytes()
    (HERE / "truncated.mp3").write_bytes(episode[:24_000])  # ~8 s of a 60 s episode
    (HERE / "empty.mp3").write_bytes(b"")
    (HERE / "error-page.mp3").write_bytes(ERROR_PAGE)
    rng = random.Random(20261128)
    (HERE / "random.mp3").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    # Passes the magic-byte check (an ID3 tag) but holds no decodable audio.
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
    (HERE / "corrupt.mp3").write_bytes(tag + bytes(rng.randrange(256) for _ in range(8192)))
    # A short valid clip (an insight from episode 1) for fast speech-to-text tests.
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-ss", "47.4", "-t", "7.6",
         "-i", str(DEMO / "episode-1.mp3"), "-ac", "1", "-ar", "16000", "-b:a", "24k",
         "-map_metadata", "-1", str(HERE / "speech-clip.mp3")],
        check=True,
    )


if __name__ == "__main__":
    main()
