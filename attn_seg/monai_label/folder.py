"""Lay out a MONAI Label app folder for attn-seg's bundles (``attn-seg label-app``); needs no ``monailabel``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from attn_seg.bundles import find_bundle
from attn_seg.files import atomic_write_text

__all__ = ["MAIN_PY", "make_app"]

#: The app's ``main.py``: MONAI Label loads the app class from it.
MAIN_PY = '''"""MONAI Label app serving attn-seg bundles (written by `attn-seg label-app`)."""

from attn_seg.monai_label.app import App

__all__ = ["App"]
'''

#: What a bundle folder may hold that the app does not need (local runs and generated data).
_SKIP = shutil.ignore_patterns("runs", "data", "eval", "__pycache__", ".partial-*")


def make_app(app_dir: str | os.PathLike[str], bundles: Sequence[str]) -> list[Path]:
    """Write ``app_dir/main.py`` (when missing) and copy each bundle into ``app_dir/model/``.

    Args:
        app_dir: the app folder, new or one made by this function earlier.
        bundles: bundle names (see :func:`attn_seg.bundles.find_bundle`) or bundle folders.

    Returns:
        The bundle folders in the app.

    Raises:
        ValueError: no bundle is named.
        FileExistsError: ``app_dir/main.py`` is another app's, or a bundle of that name is in the app already
            (nothing is overwritten; the app is left as it was).
        FileNotFoundError: a bundle is not found.
    """
    if not bundles:
        raise ValueError("`bundles`: name at least one bundle to serve")
    root = Path(app_dir).absolute()
    main = root / "main.py"
    if main.is_file() and main.read_text() != MAIN_PY:
        raise FileExistsError(f"`app_dir` {root}: its main.py is not an attn-seg app's; pick a new folder")
    sources = [find_bundle(b) for b in bundles]
    targets = [root / "model" / s.name for s in sources]
    taken = [str(t) for t in targets if t.exists()]
    if taken:
        raise FileExistsError(f"`bundles`: {', '.join(taken)} exists already; remove it to replace that bundle")
    atomic_write_text(main, MAIN_PY)
    for source, target in zip(sources, targets, strict=True):
        partial = target.with_name(f".partial-{os.getpid()}-{target.name}")
        shutil.copytree(source, partial, ignore=_SKIP)
        partial.rename(target)
    return targets
