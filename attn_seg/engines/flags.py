"""On/off settings of a bundle run, checked where the config hands them to the engines.

MONAI's runner takes command-line overrides through ``fire``, which passes ``--resume true`` and ``--compile false``
as the *strings* ``"true"`` and ``"false"``; a plain truth test would read ``"false"`` as on.
"""

from __future__ import annotations

import codecs
import locale
import os
import shutil

import torch

__all__ = ["check_flag", "compile_flag"]

_WORDS = {"true": True, "false": False}


def check_flag(name: str, value: object) -> bool:
    """A config flag as a bool.

    Args:
        name: the config key, for the error message.
        value: ``True``/``False``, or the strings ``"true"``/``"false"`` (any case) that command-line overrides give.

    Returns:
        The flag.

    Raises:
        ValueError: for any other value; the message names the key and the value.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    raise ValueError(f"`{name}` must be true or false, got {value!r}")


def _cpp_compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")


def compile_flag(value: object, device: torch.device | str = "cpu") -> bool:
    """The trainer's ``compile`` setting (``SupervisedTrainer(compile=...)``), checked before any data is read.

    ``torch.compile`` (inductor) fails late and obscurely where it cannot work: on a CPU it builds C++ kernels, and
    it reads its own UTF-8 kernel templates in the locale's encoding, so a process with an ASCII locale
    (``LC_ALL=C`` without UTF-8 mode) fails on the first step. Both are checked here.

    Args:
        value: the ``compile`` setting (see :func:`check_flag`).
        device: the training device.

    Returns:
        Whether to compile.

    Raises:
        ValueError: ``value`` is not a flag.
        RuntimeError: ``compile`` is on but this process cannot compile; the message says what to change.
    """
    enabled = check_flag("compile", value)
    if not enabled:
        return False
    encoding = locale.getpreferredencoding(False)
    if codecs.lookup(encoding).name != "utf-8":
        raise RuntimeError(
            f"`compile` is true, but this process reads text files as {encoding}: torch.compile then fails reading "
            "its own UTF-8 kernel templates; run with a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or PYTHONUTF8=1, or set "
            "`compile` false"
        )
    if torch.device(device).type == "cpu" and _cpp_compiler() is None:
        raise RuntimeError(
            "`compile` is true, but no C++ compiler was found (CXX, g++, clang++, c++): torch.compile builds C++ "
            "kernels on a CPU; install one (e.g. `apt install g++`) or set `compile` false"
        )
    return True
