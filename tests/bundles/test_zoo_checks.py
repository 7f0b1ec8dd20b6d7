"""The checks the MONAI model zoo's CI runs on a bundle, for every bundle: metadata against the schema (offline),
network input/output shapes, TorchScript and ONNX exports that match the eager network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, onnx_export, verify_metadata, verify_net_in_out

import attn_seg
from attn_seg.data.synthetic import CLASS_NAMES

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "schemas" / "monai_bundle_meta_schema.json"


def _configs(bundle: Path) -> Path:
    return bundle / "configs"


def _meta(bundle: Path) -> dict:
    return json.loads((_configs(bundle) / "metadata.json").read_text(encoding="utf-8"))


def _tiny_network(bundle: Path, tiny: dict) -> tuple[torch.nn.Module, list[int]]:
    """The inference config's network with tiny overrides, seeded weights saved as ``models/model.pt``."""
    parser = ConfigParser()
    parser.read_config(str(_configs(bundle) / "inference.json"))
    parser.update(tiny)
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def").eval()
    torch.save(net.state_dict(), bundle / "models" / "model.pt")
    return net, [1, int(parser["network_def#in_channels"]), *parser["roi_size"]]


def test_metadata_verifies_against_the_schema_offline(bundle: Path, tmp_path: Path) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"the bundle metadata schema {SCHEMA} is absent")
    schema = tmp_path / "schema.json"
    shutil.copy(SCHEMA, schema)  # verify_metadata downloads nothing when the file is already at filepath
    verify_metadata(meta_file=str(_configs(bundle) / "metadata.json"), filepath=str(schema))
    assert schema.read_bytes() == SCHEMA.read_bytes()


def test_metadata_matches_the_configs(bundle: Path) -> None:
    meta = _meta(bundle)
    train = ConfigParser.load_config_file(str(_configs(bundle) / "train.json"))
    assert meta["required_packages_version"]["attn-seg"] == attn_seg.__version__
    assert meta["version"] in meta["changelog"]
    image, pred = meta["network_data_format"]["inputs"]["image"], meta["network_data_format"]["outputs"]["pred"]
    assert image["spatial_shape"] == pred["spatial_shape"] == train["roi_size"]
    assert image["num_channels"] == train["network_def"]["in_channels"]
    assert pred["num_channels"] == train["num_classes"]
    # class_names null: the names come from the data set, the synthetic default's for the metadata
    names = train["class_names"] or list(CLASS_NAMES[: train["num_classes"] - 1])
    assert list(pred["channel_def"].values()) == ["background", *names]
    assert len(image["spatial_shape"]) == train["network_def"]["spatial_dims"]


def test_verify_net_in_out(bundle: Path) -> None:
    """MONAI's check: a random input of the metadata's shape gives an output of its shape and channels."""
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(_configs(bundle) / "metadata.json"),
        config_file=str(_configs(bundle) / "inference.json"),
        device="cpu",
    )


def _export_args(bundle: Path, exported: Path) -> dict[str, str]:
    """The arguments MONAI's ``ckpt_export`` and ``onnx_export`` share: the bundle's network, weights and configs."""
    return {
        "net_id": "network_def",
        "filepath": str(exported),
        "ckpt_file": str(bundle / "models" / "model.pt"),
        "meta_file": str(_configs(bundle) / "metadata.json"),
        "config_file": str(_configs(bundle) / "inference.json"),
    }


def test_ckpt_export_torchscript_matches_eager(bundle: Path, tiny: dict, tmp_path: Path) -> None:
    net, shape = _tiny_network(bundle, tiny)
    exported = tmp_path / "model.ts"
    ckpt_export(
        **_export_args(bundle, exported),
        **tiny,
    )
    extra = {"metadata.json": "", "inference.json": ""}
    scripted = torch.jit.load(str(exported), _extra_files=extra)
    assert json.loads(extra["metadata.json"])["version"] == _meta(bundle)["version"]
    x = torch.randn(*shape[:2], *(s + 3 for s in shape[2:]))  # not a multiple of the network's stride
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x), rtol=1e-4, atol=1e-5)


def test_onnx_export_matches_eager(bundle: Path, tiny: dict, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the `onnx` extra is not installed")
    ort = pytest.importorskip("onnxruntime", reason="the `onnx` extra is not installed")
    net, shape = _tiny_network(bundle, tiny)
    exported = tmp_path / "model.onnx"
    onnx_export(
        **_export_args(bundle, exported),
        input_shape=shape,
        **tiny,
    )
    x = torch.randn(*shape)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), net(x), rtol=1e-3, atol=1e-4)


def test_every_bundle_is_tested(bundle_names: list[str]) -> None:
    shipped = sorted(p.name for p in (REPO / "bundles").iterdir() if (p / "configs").is_dir())
    assert shipped == bundle_names
