"""``return_freed_memory``: a freed full-size block goes back to the system (measured in a fresh process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from attn_seg.inference import return_freed_memory

# allocate and free a 24 MiB block twice; print the resident memory (MiB) after the second free
_PROBE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    if sys.argv[1] == "1":
        from attn_seg.inference.memory import return_freed_memory
        assert return_freed_memory()
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    for _ in range(2):
        block = np.ones(24 * 2**20, dtype=np.uint8)
        before_free = rss()
        del block
    print(before_free - rss())
    """
)


def _released_mib(setting: bool) -> float:
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if setting else "0"], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc and /proc are Linux's")
def test_freed_block_is_returned_only_with_the_setting() -> None:
    assert _released_mib(setting=True) > 20  # the second 24 MiB block was mapped and unmapped
    assert _released_mib(setting=False) < 4  # glibc's raised threshold put it on the heap, which keeps it


def test_invalid_threshold_is_named() -> None:
    with pytest.raises(ValueError, match="threshold"):
        return_freed_memory(0)
