"""The README, ``configs/README.md``, ``docs/*.md`` and the model cards as a tested contract.

Every shell block is checked against the code in the default suite: the programs it calls, each ``attn-seg`` command
line as the program parses it, every ``monai.bundle`` config file and override id, every benchmark flag and every
repository path (``doc_blocks.check_block``). Blocks marked ``quick`` also run for real in the default suite; the
``slow`` test runs every block of each file for real, in order, in a fresh copy of the repository, as a new user
would. Blocks that cannot run here are marked ``skip`` in the text, with the reason, and reported skipped by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import REPO, Block, Shell, check_block, doc_files, read_blocks

DOCS = doc_files()
BLOCKS = [b for doc in DOCS for b in read_blocks(doc)]


def _ids(docs: list[Path]) -> list[str]:
    return [str(d.relative_to(REPO)) for d in docs]


def test_the_docs_have_their_blocks() -> None:
    readme = [b for b in BLOCKS if b.doc == "README.md"]
    assert len(readme) >= 15
    assert any(b.mode == "quick" for b in readme), "the README's walk-through should run in the default suite"


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_doc_blocks_match_the_code(doc: Path) -> None:
    """Static: every command of every block that is not skipped parses and names files and ids that exist."""
    shell, problems = Shell(), []
    for block in read_blocks(doc):
        if block.mode != "skip":
            problems += check_block(block, shell)
    assert not problems, "\n".join(problems)


SKIPPED = [b for b in BLOCKS if b.mode == "skip"]


@pytest.mark.parametrize("block", SKIPPED, ids=[b.name for b in SKIPPED])
def test_skipped_block(block: Block) -> None:
    """Each block the text marks as not runnable here, reported by name with its reason."""
    assert block.reason, f"{block.name} is marked skip without a reason"
    pytest.skip(f"{block.name}: {block.reason}")


def test_the_check_fails_when_a_documented_flag_or_file_is_renamed() -> None:
    """The static check is not a rubber stamp: rename a flag, a config id, a file and a script option in a
    README-like block and each is reported."""
    text = "\n".join([
        "B=bundles/attention_unet_3d_ct",
        "python -m monai.bundle run training --bundle_root $B --config_file $B/configs/train.json --epoch 2",
        "python -m monai.bundle run training --bundle_root $B --config_file \"['$B/configs/train.json',"
        "'configs/losses/tverski.json']\"",
        "attn-seg predict --bundle $B -i x -o y --save-attentions",
        "python benchmarks/bench_networks.py --config 3d",
    ]) + "\n"
    problems = check_block(Block("README.md", 1, text), Shell())
    assert any("`epoch` is not an id" in p for p in problems), problems
    assert any("configs/losses/tverski.json" in p for p in problems), problems
    assert any("--save-attentions" in p for p in problems), problems
    assert any("has no option --config" in p for p in problems), problems


def _clone(target: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored ones) in ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run_blocks(blocks: list[Block], clone: Path) -> None:
    """Run the blocks in order in one shell in ``clone``; fail naming the block that failed."""
    script = ["set -eo pipefail"]
    for block in blocks:
        script += [f"echo '### doc-test block {block.name}' >&2", block.text]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(clone)}  # `attn-seg` and `python -m` import the clone's package
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=clone, env=env, capture_output=True,
                          encoding="utf-8", errors="replace", check=False)
    if proc.returncode != 0:
        started = [line for line in proc.stderr.splitlines() if line.startswith("### doc-test block ")]
        failed = started[-1].removeprefix("### doc-test block ") if started else "?"
        pytest.fail(f"block {failed} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


QUICK = sorted({b.doc for b in BLOCKS if b.mode == "quick"})


@pytest.mark.parametrize("doc", QUICK)
def test_quick_blocks_run(doc: str, tmp_path: Path) -> None:
    """The blocks marked quick (the README's walk-through) run as written in a fresh copy."""
    _run_blocks([b for b in BLOCKS if b.doc == doc and b.mode == "quick"], _clone(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_doc_blocks_run_in_order(doc: Path, tmp_path: Path) -> None:
    """Every block of the file that is not skipped runs as written, in order, in a fresh copy (minutes each)."""
    blocks = [b for b in read_blocks(doc) if b.mode != "skip"]
    if not blocks:
        pytest.skip(f"{doc.relative_to(REPO)} has no runnable block")
    _run_blocks(blocks, _clone(tmp_path))
