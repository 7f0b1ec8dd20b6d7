"""A throw-away PostgreSQL server on 127.0.0.1 for the shared-study tests (the Debian packages' binaries).

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user the packages create.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["missing_reason", "postgres_server"]


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _run_as() -> list[str]:
    """The prefix that runs a command as a non-root user (empty when this process is not root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def missing_reason() -> str | None:
    """Why no server can be started here, or ``None`` when one can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'attn-seg[postgres]')"
    if _bin_dir() is None:
        return "PostgreSQL's server binaries are not installed (Debian: apt install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and 'runuser' is missing"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a fresh data folder; yields its SQLAlchemy URL (psycopg driver); stops it and deletes the
    folder on exit."""
    bin_dir, prefix = _bin_dir(), _run_as()
    if bin_dir is None:
        raise RuntimeError(missing_reason() or "no PostgreSQL binaries")
    root = Path(tempfile.mkdtemp(prefix="attn_seg_pg_"))
    data = root / "data"
    if prefix:
        shutil.chown(root, user="postgres")
    port = _free_port()
    try:
        subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "attn", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        options = f"-h 127.0.0.1 -p {port} -k {root}"
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                        "-w", "start"], check=True, capture_output=True)
        try:
            yield f"postgresql+psycopg://attn@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           check=False, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
