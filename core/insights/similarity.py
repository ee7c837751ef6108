"""Cosine similarity of stored int8 sentence vectors."""

from __future__ import annotations

import numpy as np

SCALE = 127.0 * 127.0


def cosine(a: bytes, b: bytes) -> float:
    """Cosine of two int8 unit vectors from the same model (0 when either is missing)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    va = np.frombuffer(a, dtype=np.int8).astype(np.int32)
    vb = np.frombuffer(b, dtype=np.int8).astype(np.int32)
    return float(va @ vb) / SCALE
