"""Process-level memory setting for prediction runs: hand freed memory back to the operating system.

glibc's ``malloc`` raises its mmap threshold each time a large block is freed (up to 32 MiB), after which the
full-resolution activations of every window (tens of MiB each) come from the heap, whose freed holes stay
resident. Fixing the threshold keeps such blocks memory-mapped, so they return to the system when freed and a
long prediction run's peak resident memory stays near its live memory (measured in
``benchmarks/bench_inference.py``). It changes the whole process, so the ``attn-seg predict`` command sets it,
not the :class:`~attn_seg.inference.SegmentationInferer`.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["MMAP_THRESHOLD", "return_freed_memory"]

#: Blocks from this size up are memory-mapped. Full-resolution activations (tens of MiB) are above it; the
#: norms' cache-sized blocks (2 MiB) stay below, on the heap, where reusing them costs no page faults. Measured on
#: the inference benchmark (bf16, one run each): 2 MiB 18.0 s / 680 MB, 4 MiB 14.2 s / 693 MB, 8 MiB 15.2 s /
#: 696 MB, 16 MiB 11.3 s / 729 MB, glibc's default (rising) 9.8 s / 788 MB.
MMAP_THRESHOLD = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h


def return_freed_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process (it trades speed for memory: each
    mapped block is page-faulted afresh).

    Args:
        threshold: allocations of at least this many bytes are memory-mapped (and unmapped when freed).

    Returns:
        Whether the setting took effect: ``False`` where the C library is not glibc (nothing is changed).

    Raises:
        ValueError: when ``threshold`` is not positive.
    """
    if threshold <= 0:
        raise ValueError(f"`threshold` must be positive, got {threshold}")
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt; macOS's libc differs)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
