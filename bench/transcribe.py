"""Speech-to-text benchmark: Castfive's defaults against faster-whisper out of the box, same run.

    python bench/transcribe.py            # 5+ minute podcast-like episode, both configurations
    python bench/transcribe.py --sweep    # also beam / batch / thread variants of the defaults
    python bench/transcribe.py --long     # also a 2-hour episode (defaults only): memory and RTF

Needs espeak-ng and ffmpeg to build the audio (into bench/out/, gitignored); without them it says
so in one line and exits 2. Every configuration
runs in a fresh child process, so each peak memory figure (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from _needs import require, tool  # bench/_needs.py: this script's folder is on sys.path

REPO = Path(__file__).resolve().parent.parent
NEEDS = (tool("espeak-ng"), tool("ffmpeg"))  # to speak the scripts and encode the episode
OUT = REPO / "bench" / "out"
RATE = 22050  # espeak-ng's rate; the MP3 is 16 kHz like most speech podcasts' decoders see it

LISTENER_QUESTIONS = "\n".join((
    "[chapter: Listener questions]",
    "HOST: Now it is time for listener questions. Our first question comes from Alex in Toronto, "
    "who asks how to keep a side project alive.",
    "GUEST: Pick one evening a week and protect it. Small regular sessions beat rare long weekends, "
    "because you never lose the thread of what you were doing.",
    "HOST: Our second question is about hiring. Jordan wants to know when to hire the first support person.",
    "GUEST: Earlier than you think. When the founders spend more than a day a week on support email, "
    "the product stops getting better.",
    "HOST: That is all the time we have for questions. Thanks to everyone who wrote in.",
))


# --- building the episode ---------------------------------------------------------


def _make_demo() -> Any:
    spec = importlib.util.spec_from_file_location("make_demo", REPO / "examples/demo/make_demo.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["make_demo"] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def music(seconds: float, seed: int = 7) -> np.ndarray:
    """A music-like bed: a chord progression with harmonics, a kick drum and a little hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    for i, start in enumerate(np.arange(0, seconds, 2.0)):
        span = (t >= start) & (t < start + 2.0)
        local = t[span] - start
        envelope = np.minimum(local / 0.05, 1) * np.exp(-local * 0.8)
        for freq in chords[i % 4]:
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                out[span] += weight * envelope * np.sin(2 * np.pi * freq * harmonic * local)
    for beat in np.arange(0, seconds, 0.5):
        span = (t >= beat) & (t < beat + 0.15)
        local = t[span] - beat
        out[span] += 2.0 * np.exp(-local * 30) * np.sin(2 * np.pi * (60 + 80 * np.exp(-local * 40)) * local)
    out += 0.02 * rng.standard_normal(t.size)
    return (out / np.abs(out).max() * 0.5 * 32767).astype("<i2")


def build_episode(dest: Path) -> str:
    """Synthesize the three demo scripts plus listener questions, with music and silence."""
    make_demo = _make_demo()
    scripts = [(REPO / f"examples/demo/scripts/episode-{n}.txt").read_text() for n in (1, 2, 3)]
    scripts.append(LISTENER_QUESTIONS)
    silence = lambda s: np.zeros(int(s * RATE), dtype="<i2")  # noqa: E731
    parts = [music(12.0)]
    spoken: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, text in enumerate(scripts, 1):
            episode = make_demo.parse_script(n, text)
            pcm = make_demo.synthesize(episode, Path(tmp))
            parts.append(np.frombuffer(pcm, dtype="<i2"))
            spoken += [item.spoken for item in episode.items if not isinstance(item, tuple)]
            parts.append([silence(20.0), music(25.0, seed=n), silence(3.0), music(15.0, seed=9)][n - 1])
        wav = Path(tmp) / "episode.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(np.concatenate(parts).tobytes())
        _encode(["-i", str(wav)], dest)
    return " ".join(spoken)


def _encode(inputs: list[str], dest: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *inputs, "-ac", "1", "-ar", "16000",
         "-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", "1", str(dest)],
        check=True,
    )


def build_long(source: Path, dest: Path, hours: float = 2.0) -> None:
    """Loop the episode to `hours` (re-encoded, so the header declares the true length)."""
    seconds = hours * 3600
    _encode(["-stream_loop", "-1", "-i", str(source), "-t", str(seconds)], dest)


# --- word error rate ---------------------------------------------------------------------

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell(n: int) -> str:
    """An integer in words, as the scripts spell numbers."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell(n % 100))
    return spell(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + spell(n % 1000))


def normalise(text: str) -> list[str]:
    """Lower case, digits and % spelled out, URL punctuation spoken, other punctuation dropped."""
    text = text.lower().replace("%", " percent ").replace("/", " slash ")
    text = re.sub(r"(?<=\w)\.(?=\w)", " dot ", text)
    text = re.sub(r"\d+", lambda m: " " + spell(int(m.group())) + " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / max(len(ref), 1)


# --- one configuration in a child process --------------------------------------------------


def child(config: dict, audio: Path) -> None:
    """Transcribe once and print JSON figures; the parent reads this process's peak memory."""
    sys.path.insert(0, str(REPO))
    if config["mode"] == "out-of-the-box":
        from faster_whisper import WhisperModel

        from core.adapters.whisper import bundled_model_path

        began = time.perf_counter()
        model = WhisperModel(str(bundled_model_path()))
        loaded = time.perf_counter()
        cpu = time.process_time()
        segments, _ = model.transcribe(str(audio))
        texts = [s.text for s in segments]  # the generator does the work
        text, count = " ".join(texts), len(texts)
    else:
        import asyncio
        from dataclasses import replace

        import core.adapters.whisper as whisper
        from core.config import TranscriptionSettings

        for name, value in config.get("module", {}).items():
            setattr(whisper, name, value)
        settings = replace(TranscriptionSettings(), **config.get("settings", {}))

        async def run() -> tuple[float, float, float, list]:
            transcriber = whisper.WhisperTranscriber(settings)
            began = time.perf_counter()
            await transcriber.start()
            loaded = time.perf_counter()
            cpu = time.process_time()
            return began, loaded, cpu, list(await transcriber.transcribe(audio))

        began, loaded, cpu, segs = asyncio.run(run())
        text = " ".join(s.text for s in segs)
        count = len(segs)
    done = time.perf_counter()
    print(json.dumps({
        "load_s": loaded - began, "wall_s": done - loaded, "cpu_s": time.process_time() - cpu,
        "text": text, "segments": count,
    }))


def measure(
    label: str, config: dict, audio: Path, duration: float, reference: str | None, repeat: int = 1
) -> dict:
    """Run one configuration `repeat` times, each in a fresh process; the fastest run's figures."""
    runs = [_run_child(label, config, audio) for _ in range(max(repeat, 1))]
    result = min(runs, key=lambda r: r["wall_s"])
    result.update(label=label, rtf=result["wall_s"] / duration)
    result["wer"] = word_error_rate(reference, result["text"]) if reference else None
    wer = f"{result['wer'] * 100:5.1f}%" if reference else "    -"
    print(f"{label:<30} RTF {result['rtf']:.4f}  wall {result['wall_s']:6.1f} s  cpu "
          f"{result['cpu_s']:6.1f} s  peak {result['rss_mb']:5.0f} MB  WER {wer}  "
          f"segments {result['segments']:3d}  load avg {os.getloadavg()[0]:.1f}", flush=True)
    return result


def _run_child(label: str, config: dict, audio: Path) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(config), str(audio)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS alone
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{label}: child failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024
    return result


def duration_of(path: Path) -> float:
    """Seconds of audio, as PyAV reads the container."""
    sys.path.insert(0, str(REPO))
    from core.audio import probe_duration

    return probe_duration(path) or 0.0


def main() -> int:
    """Build the audio if needed, then measure each configuration and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="add a 2-hour run (defaults only)")
    parser.add_argument("--sweep", action="store_true", help="add beam/batch/thread variants")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; fastest kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("audio", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child), Path(args.audio))
        return 0

    require(__file__, NEEDS)
    OUT.mkdir(parents=True, exist_ok=True)
    episode, reference_path = OUT / "episode.mp3", OUT / "episode.txt"
    if not episode.exists() or not reference_path.exists():
        reference_path.write_text(build_episode(episode), encoding="utf-8")
    reference = reference_path.read_text(encoding="utf-8")
    duration = duration_of(episode)
    print(f"episode: {duration:.0f} s ({duration / 60:.1f} min), {len(normalise(reference))} "
          f"reference words, {os.cpu_count()} CPUs\n")

    print("(wall and CPU are the fastest of --repeat runs; peak is that run's max RSS)")
    defaults = measure("castfive defaults", {"mode": "defaults"}, episode, duration, reference,
                       args.repeat)
    stock = measure("faster-whisper out of the box", {"mode": "out-of-the-box"}, episode, duration,
                    reference, args.repeat)
    print(f"\nspeed: defaults {stock['wall_s'] / defaults['wall_s']:.1f}x faster (wall), "
          f"{stock['cpu_s'] / defaults['cpu_s']:.1f}x less CPU; WER "
          f"{(defaults['wer'] - stock['wer']) * 100:+.1f} points")

    if args.sweep:
        print("\nvariants of the defaults:")
        variants: dict[str, dict[str, Any]] = {
            "beam 1 (greedy)": {"settings": {"beam_size": 1}},
            "batch 4": {"settings": {"batch_size": 4}},
            "batch 16": {"settings": {"batch_size": 16}},
            "cpu_threads 1": {"settings": {"cpu_threads": 1}},
            "cpu_threads 4": {"settings": {"cpu_threads": 4}},
            "no word timestamps": {"module": {"WORD_TIMESTAMPS": False}},
            "sequential (batch 1)": {"settings": {"batch_size": 1}},
            "float32": {"settings": {"compute_type": "float32"}},
        }
        for label, config in variants.items():
            measure(label, {"mode": "defaults", **config}, episode, duration, reference, args.repeat)

    if args.long:
        long_audio = OUT / "long-2h.mp3"
        if not long_audio.exists():
            build_long(episode, long_audio)
        long_duration = duration_of(long_audio)
        print(f"\nlong episode: {long_duration / 3600:.2f} h")
        measure("castfive defaults, 2 hours", {"mode": "defaults"}, long_audio, long_duration, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
