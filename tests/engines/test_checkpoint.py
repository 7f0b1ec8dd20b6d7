"""Kill-safe checkpoints: atomic writes, the previous file kept until the next is complete, RNG round trip."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from ignite.handlers import Checkpoint
from monai.transforms import Compose, RandFlipd, RandScaleIntensityd

from attn_seg.engines import AtomicDiskSaver, RNGState, latest_checkpoint, resume_checkpoint

_WRITER = textwrap.dedent(
    """
    import sys, torch
    from attn_seg.engines import atomic_torch_save
    path, version = sys.argv[1], 0
    while True:  # rewrite the same checkpoint until killed; each version is 160 MB
        version += 1
        atomic_torch_save({"version": version, "weights": torch.full((40_000_000,), float(version))}, path)
        print(version, flush=True)
    """
)


def test_kill_during_write_leaves_a_complete_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "1"
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".partial-*-checkpoint.pt")) and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until the next write is under way
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    state = torch.load(target, weights_only=True)
    assert state["version"] >= 1
    assert torch.equal(state["weights"], torch.full((40_000_000,), float(state["version"])))


class _Counter:
    """A stateful object whose ``state_dict`` can be made to fail, as a write interrupted half-way."""

    def __init__(self) -> None:
        self.value, self.fail = 0, False

    def state_dict(self) -> dict:
        if self.fail:
            raise RuntimeError("interrupted")
        return {"value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.value = state["value"]


def _checkpointer(folder: Path, counter: _Counter) -> Checkpoint:
    return Checkpoint({"counter": counter, "other": _Counter()}, AtomicDiskSaver(folder), n_saved=1,
                      global_step_transform=lambda engine, _: engine.state.epoch)


def test_previous_checkpoint_is_removed_only_after_the_next_one_is_written(tmp_path: Path) -> None:
    engine, counter = Engine(lambda e, b: None), _Counter()
    checkpointer = _checkpointer(tmp_path, counter)
    engine.state.epoch, counter.value = 1, 11
    checkpointer(engine)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_1.pt"]
    engine.state.epoch, counter.fail = 2, True
    with pytest.raises(RuntimeError, match="interrupted"):
        checkpointer(engine)  # ignite has already asked to remove checkpoint_1.pt here
    assert torch.load(tmp_path / "checkpoint_1.pt", weights_only=True)["counter"] == {"value": 11}
    counter.fail, counter.value = False, 22
    checkpointer(engine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_2.pt"]


def test_fixed_file_name_is_replaced_atomically(tmp_path: Path) -> None:
    saver = AtomicDiskSaver(tmp_path, "model.pt")
    saver({"w": torch.ones(2)}, "ignored_name.pt")
    saver.remove("ignored_name.pt")
    saver({"w": torch.zeros(2)}, "other_name.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    assert torch.equal(torch.load(tmp_path / "model.pt", weights_only=True)["w"], torch.zeros(2))


def test_rng_state_round_trip_restores_every_generator_and_transform() -> None:
    transforms = Compose([RandFlipd("image", prob=0.5), RandScaleIntensityd("image", factors=0.3, prob=0.5)])
    transforms.set_random_state(3)
    rng = RNGState(transforms)
    saved = rng.state_dict()

    def draw() -> tuple:
        data = transforms({"image": torch.arange(8.0).reshape(1, 2, 4)})
        return random.random(), float(np.random.rand()), float(torch.rand(1)), data["image"].tolist()

    first = draw()
    rng.load_state_dict(saved)
    assert draw() == first


def test_rng_state_is_loadable_with_weights_only(tmp_path: Path) -> None:
    torch.save({"rng": RNGState(Compose([RandFlipd("image", prob=0.5)])).state_dict()}, tmp_path / "c.pt")
    assert "rng" in torch.load(tmp_path / "c.pt", weights_only=True)


def test_latest_checkpoint_is_the_highest_epoch(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "absent") is None
    for name in ("checkpoint_epoch=2.pt", "checkpoint_epoch=10.pt", "model.pt", "checkpoint_epoch=x.pt"):
        (tmp_path / name).write_bytes(b"")
    assert Path(str(latest_checkpoint(tmp_path))).name == "checkpoint_epoch=10.pt"


def test_fresh_run_refuses_a_folder_with_earlier_checkpoints(tmp_path: Path) -> None:
    assert resume_checkpoint(tmp_path, resume=False) == ""
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(FileExistsError, match=r"model\.pt.*--resume true"):
        resume_checkpoint(tmp_path, resume=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint_epoch"):
        resume_checkpoint(tmp_path, resume=True)
    assert (tmp_path / "model.pt").read_bytes() == b"x"
