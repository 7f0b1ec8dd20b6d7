"""Find the MONAI Bundles shipped with attn-seg and run them with MONAI's own bundle runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["BundleRunError", "bundle_command", "find_bundle", "override_args", "run_bundle"]

_REPO_BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


class BundleRunError(RuntimeError):
    """Raised when ``python -m monai.bundle run`` exits with a non-zero status."""


def find_bundle(name: str, search_dir: str | os.PathLike[str] | None = None) -> Path:
    """Locate a bundle folder by name.

    Args:
        name: bundle folder name, e.g. ``"attention_unet_3d_ct"``, or a path to a bundle folder.
        search_dir: folder holding bundles; defaults to ``$ATTN_SEG_BUNDLES`` or the repository's ``bundles/``.

    Returns:
        The bundle folder (it holds ``configs/``).

    Raises:
        FileNotFoundError: when no bundle of that name is found.
    """
    candidate = Path(name).expanduser()
    if (candidate / "configs").is_dir():
        return candidate.absolute()
    root = Path(search_dir or os.environ.get("ATTN_SEG_BUNDLES") or _REPO_BUNDLES)
    bundle = root / name
    if not (bundle / "configs").is_dir():
        raise FileNotFoundError(
            f"bundle {name!r} not found in {root}; install attn-seg from its repository with `pip install -e .` "
            "or set ATTN_SEG_BUNDLES to the folder that holds the bundles"
        )
    return bundle.absolute()


def bundle_command(
    bundle_dir: Path, config: str | Sequence[str], run_id: str = "run", overrides: Mapping[str, object] | None = None
) -> list[str]:
    """The ``python -m monai.bundle run`` command line for a bundle config.

    Args:
        bundle_dir: the bundle folder.
        config: config file name inside ``configs/`` (e.g. ``"train.json"``), or several names merged in order
            (e.g. ``["train.json", "evaluate.json"]``: later files override earlier ones).
        run_id: the id the runner executes (``"training"``, ``"run"``).
        overrides: config ids and values, passed as ``--id value``.

    Returns:
        The argument vector.
    """
    configs = bundle_dir / "configs"
    cmd = [sys.executable, "-m", "monai.bundle", "run", run_id, "--bundle_root", str(bundle_dir)]
    files = [str(configs / config)] if isinstance(config, str) else [str(configs / c) for c in config]
    cmd += ["--config_file", files[0] if len(files) == 1 else repr(files)]
    cmd += ["--meta_file", str(configs / "metadata.json")]
    cmd += ["--logging_file", str(configs / "logging.conf")]
    return cmd + override_args(overrides or {})


def override_args(overrides: Mapping[str, object]) -> list[str]:
    """Config ids and values as the bundle runner's ``--id value`` arguments (lists and tuples as Python literals).

    Args:
        overrides: config ids and values, e.g. the pairs of ``attn-seg ... --set``.

    Returns:
        The arguments, in the order of ``overrides``.
    """
    args: list[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", repr(value) if isinstance(value, (list, tuple)) else str(value)]
    return args


def run_bundle(
    bundle_dir: Path,
    config: str | Sequence[str],
    run_id: str = "run",
    overrides: Mapping[str, object] | None = None,
    log_file: Path | None = None,
) -> None:
    """Run a bundle config through MONAI's runner in a child process.

    Args:
        bundle_dir: the bundle folder.
        config: config file name inside ``configs/``, or several merged in order.
        run_id: the id to run.
        overrides: config overrides (``--id value``).
        log_file: where the runner's output goes; ``None`` streams it to this process's output.

    Raises:
        BundleRunError: when the runner fails; the message names the command and the log.
    """
    cmd = bundle_command(bundle_dir, config, run_id, overrides)
    if log_file is None:
        status = subprocess.run(cmd, check=False).returncode
    else:
        with open(log_file, "w", encoding="utf-8") as log:
            status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:
        where = f"; see its log {log_file}" if log_file else ""
        raise BundleRunError(f"`{' '.join(cmd)}` failed with exit status {status}{where}")
