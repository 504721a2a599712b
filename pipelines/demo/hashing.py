"""Keyed random draws: the same seed, keys and stream name always give the same number.

Why not one numpy Generator: a person's address in the drop of day 2 must be the one of day 1
unless they moved, whoever else is in the file that day. So every draw is a pure function of
(seed, keys, stream), computed with the splitmix64 mixer, vectorised over numpy arrays.

    draws = Draws(seed=42)
    key = draws.key(person_ids)              # one uint64 per person
    u = draws.uniform(key, "moves")          # floats in [0, 1)
    k = draws.pick(key, "country", [60, 25, 15])
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_TO_UNIT = 2.0**-53


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective, well-mixing map of uint64 values."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> _S30)) * _MUL1
        z = (z ^ (z >> _S27)) * _MUL2
        return z ^ (z >> _S31)


def _as_uint64(value: np.ndarray | int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == np.uint64:
        return array
    return array.astype(np.int64).view(np.uint64)


class Draws:
    """Deterministic draws keyed by integers (ids, day numbers, versions) and a stream name."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._root = splitmix64(np.asarray([self.seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
        self._streams: dict[str, np.uint64] = {}

    def key(self, *parts: np.ndarray | int) -> np.ndarray:
        """Hash integer parts (broadcast together) into one uint64 key per element."""
        h: np.ndarray = np.asarray(self._root)
        for part in parts:
            h = splitmix64(h ^ _as_uint64(part))
        return np.atleast_1d(h)

    def _stream(self, name: str) -> np.uint64:
        if name not in self._streams:
            self._streams[name] = splitmix64(
                np.asarray([zlib.crc32(name.encode())], dtype=np.uint64)
            )[0]
        return self._streams[name]

    def bits(self, key: np.ndarray, stream: str) -> np.ndarray:
        """64 random bits per key for the named stream."""
        return splitmix64(key ^ self._stream(stream))

    def uniform(self, key: np.ndarray, stream: str) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(key, stream) >> _S11).astype(np.float64) * _TO_UNIT

    def below(self, key: np.ndarray, stream: str, n: np.ndarray | int) -> np.ndarray:
        """Integers in [0, n); n may differ per element."""
        return (self.uniform(key, stream) * n).astype(np.int64)

    def between(self, key: np.ndarray, stream: str, low: int, high: int) -> np.ndarray:
        """Integers in [low, high]."""
        return low + self.below(key, stream, high - low + 1)

    def chance(self, key: np.ndarray, stream: str, p: np.ndarray | float) -> np.ndarray:
        """True with probability p (p may differ per element)."""
        return self.uniform(key, stream) < p

    def pick(self, key: np.ndarray, stream: str, weights: Sequence[float]) -> np.ndarray:
        """Index into `weights`, drawn with those relative weights."""
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        return np.searchsorted(
            cumulative / cumulative[-1], self.uniform(key, stream), side="right"
        ).astype(np.int64)
