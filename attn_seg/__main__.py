"""Entry point for ``python -m attn_seg``."""

from __future__ import annotations

import sys

from attn_seg.cli import main

if __name__ == "__main__":
    sys.exit(main())
