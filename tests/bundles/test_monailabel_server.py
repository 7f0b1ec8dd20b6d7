"""A real MONAI Label server with attn-seg's app (``attn-seg label-app``) serving the hippocampus bundle with its
shipped weights, driven over HTTP as a client does: list the models, upload images and final labels, segment,
train twice in a row from the shipped model, train from fresh weights, and segment with each new model.

Runs only where ``monailabel`` is installed (``pytest -m monailabel``, in MONAI Label's own environment; see the
README). The server listens on 127.0.0.1 only, every wait is bounded, and the server is stopped by its PID.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from attn_seg.data import SyntheticSpec, write_synthetic_dataset
from attn_seg.monai_label.folder import make_app

pytestmark = pytest.mark.monailabel
requests = pytest.importorskip("requests", reason="monailabel (and requests) are not installed")
pytest.importorskip("monailabel", reason="monailabel is not installed")

BUNDLE = "attention_unet_hippocampus_mri"
START_TIMEOUT_S = 300
TRAIN_TIMEOUT_S = 900
REQUEST_TIMEOUT_S = 300


class Server:
    """A ``monailabel start_server`` process and its address."""

    def __init__(self, app: Path, studies: Path, log: Path) -> None:
        self.app, self.studies, self.log = app, studies, log
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(Path(sys.executable).parent / "monailabel"), "start_server", "--app", str(app),
                   "--studies", str(studies), "--host", "127.0.0.1", "--port", str(self.port),
                   "--conf", "models", BUNDLE]
        with log.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                            cwd=app.parent)

    def wait_ready(self) -> dict:
        """``GET /info/`` once the server answers (bounded by ``START_TIMEOUT_S``)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"monailabel start_server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                return self.get("/info/")
            except requests.ConnectionError:
                time.sleep(2)
        pytest.fail(f"monailabel start_server did not answer in {START_TIMEOUT_S} s:\n{self.tail()}")

    def get(self, path: str) -> dict:
        response = requests.get(self.url + path, timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text()[-chars:]

    def stop(self) -> None:
        """Stop the server's process group by its PID; kill it if it has not ended in 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running server: an app with the hippocampus bundle (shipped weights), an empty datastore."""
    root = tmp_path_factory.mktemp("monailabel")
    app = root / "app"
    make_app(app, [BUNDLE])
    studies = root / "studies"
    studies.mkdir()
    process = Server(app, studies, root / "server.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic T1-like volumes with anterior/posterior-like labels, and one held-out image."""
    root = tmp_path_factory.mktemp("cases")
    write_synthetic_dataset(root, spec=SyntheticSpec(spatial_dims=3, num_classes=2, modality="mri"), num_cases=4,
                            num_test=1, seed=3)
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model(server: Server) -> Path:
    return server.app / "model" / BUNDLE / "models" / "model.pt"


def _upload(server: Server, cases: Path) -> list[str]:
    ids = []
    for image in sorted((cases / "imagesTr").glob("*.nii.gz")):
        case = image.name.removesuffix(".nii.gz")
        with image.open("rb") as f:
            r = requests.put(f"{server.url}/datastore/", params={"image": case}, files={"file": (image.name, f)},
                             timeout=REQUEST_TIMEOUT_S)
        r.raise_for_status()
        with (cases / "labelsTr" / image.name).open("rb") as f:
            r = requests.put(f"{server.url}/datastore/label", params={"image": case, "tag": "final"},
                             files={"label": (image.name, f)}, timeout=REQUEST_TIMEOUT_S)
        r.raise_for_status()
        ids.append(case)
    return ids


def _train(server: Server, pretrained: bool) -> dict:
    """Start a training as MONAI Label's clients do (a background task), then poll its status until it ends."""
    params = {"max_epochs": 2, "val_split": 0.25, "pretrained": pretrained, "device": "cpu", "multi_gpu": False}
    r = requests.post(f"{server.url}/train/{BUNDLE}", json=params, timeout=REQUEST_TIMEOUT_S)
    r.raise_for_status()
    task = r.json()["id"]
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = server.get("/train/")
        if status["id"] == task and status["status"] in ("DONE", "ERROR"):
            details = "\n".join(status.get("details", [])[-40:])
            assert status["status"] == "DONE", f"training ended {status['status']}:\n{details}"
            return status
        time.sleep(3)
    pytest.fail(f"training did not end in {TRAIN_TIMEOUT_S} s:\n{server.tail()}")


def _infer(server: Server, image_id: str, out: Path) -> Path:
    r = requests.post(f"{server.url}/infer/{BUNDLE}", params={"image": image_id, "output": "image"},
                      data={"params": json.dumps({"device": "cpu"})}, timeout=REQUEST_TIMEOUT_S)
    r.raise_for_status()
    out.write_bytes(r.content)
    return out


def _predict(bundle: Path, image: Path, out: Path) -> np.ndarray:
    """The command line's labels for ``image`` with the bundle's current weights."""
    subprocess.run([sys.executable, "-m", "attn_seg", "predict", "--bundle", str(bundle), "-i", str(image), "-o",
                    str(out), "--no-progress"], check=True, timeout=REQUEST_TIMEOUT_S)
    return np.asarray(nib.load(next(out.glob("*.nii.gz"))).dataobj)


def _check_label(result: Path, image: Path, num_labels: int) -> np.ndarray:
    label, source = nib.load(result), nib.load(image)
    assert label.shape == source.shape
    np.testing.assert_allclose(label.affine, source.affine, atol=1e-4)
    values = np.asarray(label.dataobj)
    assert values.dtype == np.uint8
    assert set(np.unique(values).tolist()) <= set(range(num_labels + 1))
    return values


def test_info_lists_the_bundle_with_its_labels(server: Server) -> None:
    info = server.get("/info/")
    model = info["models"][BUNDLE]
    assert model["labels"] == {"anterior": 1, "posterior": 2}
    assert model["dimension"] == 3
    assert BUNDLE in info["trainers"]
    # only the served model is offered, never a run's checkpoints
    assert model["config"]["model_filename"] == ["model.pt"]


def test_label_train_retrain_and_infer(server: Server, cases: Path, tmp_path: Path) -> None:
    ids = _upload(server, cases)
    status = server.get("/datastore/")
    assert status["total"] == len(ids)
    assert status["completed"] == len(ids)
    test_image = next((cases / "imagesTs").glob("*.nii.gz"))
    with test_image.open("rb") as f:
        requests.put(f"{server.url}/datastore/", params={"image": "held_out"},
                     files={"file": (test_image.name, f)}, timeout=REQUEST_TIMEOUT_S).raise_for_status()
    bundle = server.app / "model" / BUNDLE
    shipped = _sha(_model(server))
    shipped_files = sorted(p.name for p in (bundle / "models").iterdir())

    first = _check_label(_infer(server, "held_out", tmp_path / "shipped.nii.gz"), test_image, 2)
    np.testing.assert_array_equal(first, _predict(bundle, test_image, tmp_path / "cli0"))

    hashes = [shipped]
    for k, pretrained in enumerate((True, True, False), start=1):
        start = len(server.log.read_text())
        _train(server, pretrained)
        log = server.log.read_text()[start:]
        loaded = f"Add Checkpoint Loader for Path: {_model(server)}" in log
        assert loaded == pretrained, f"training {k} (pretrained {pretrained}) started from the wrong weights"
        assert ("from fresh weights" in log) != pretrained
        hashes.append(_sha(_model(server)))
        assert hashes[-1] != hashes[-2], f"training {k} did not replace the served model"
        served = _check_label(_infer(server, "held_out", tmp_path / f"run{k}.nii.gz"), test_image, 2)
        np.testing.assert_array_equal(served, _predict(bundle, test_image, tmp_path / f"cli{k}"))

    # the bundle's models/ holds what it shipped with (the served model replaced, its training record beside it),
    # never a run's checkpoints; the run folders are beside model/
    assert sorted(p.name for p in (bundle / "models").iterdir()) == shipped_files
    runs = sorted((server.app / "runs" / BUNDLE).iterdir())
    assert len([r for r in runs if (r / "models").is_dir()]) == 3
    assert not (bundle / "data").exists()
    assert not (bundle / "runs").exists()
