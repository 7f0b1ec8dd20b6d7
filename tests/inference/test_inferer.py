"""The sliding-window inferer: argument checks, MONAI's blend underneath, the streamed label map, flip TTA,
attention maps from the same pass, precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import sliding_window_inference

from attn_seg.inference import SegmentationInferer, resolve_precision
from attn_seg.inference.windows import WindowGrid
from attn_seg.networks import AttentionUNet


def _net(spatial_dims: int = 3, **kwargs: object) -> AttentionUNet:
    torch.manual_seed(0)
    return AttentionUNet(spatial_dims, 1, 3, (4, 8, 16), (2, 2), **kwargs).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sw_batch_size": 0}, "sw_batch_size"),
        ({"overlap": 1.0}, "overlap"),
        ({"precision": "bf61"}, "bf16"),
        ({"tta_axes": (3,)}, "tta_axes"),
        ({"labels_only": True, "attention": True}, "labels_only"),
    ],
)
def test_invalid_arguments_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SegmentationInferer((32, 32, 16), **kwargs)


# odd sizes, 2D and 3D, several overlaps, an image smaller than the window (padded)
BLEND_CASES = [
    ((40, 35, 20), (32, 32, 16), 0.5),
    ((70, 9), (16, 16), 0.25),
    pytest.param((97, 61, 45), (32, 24, 16), 0.7, marks=pytest.mark.slow),  # 0.7 overlap: 36-87 s a test here
    ((20, 20, 8), (32, 32, 16), 0.5),
]


@pytest.mark.parametrize(("size", "roi", "overlap"), BLEND_CASES)
def test_probabilities_are_the_softmax_of_monais_blend(
    size: tuple[int, ...], roi: tuple[int, ...], overlap: float
) -> None:
    net = _net(len(size))
    x = torch.randn(1, 1, *size)
    ours = SegmentationInferer(roi, 2, overlap, precision="fp32")(x, net)
    with torch.no_grad():
        theirs = sliding_window_inference(x, roi, 1, net, overlap=overlap, mode="gaussian")
    torch.testing.assert_close(ours, torch.softmax(torch.as_tensor(theirs), 1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("size", "roi", "overlap"), BLEND_CASES)
def test_streamed_labels_equal_the_argmax_of_the_full_blend(
    size: tuple[int, ...], roi: tuple[int, ...], overlap: float
) -> None:
    x = torch.randn(2, 1, *size)
    net = _net(len(size))
    labels = SegmentationInferer(roi, 2, overlap, labels_only=True, precision="fp32")(x, net)
    assert labels.dtype == torch.uint8
    assert tuple(labels.shape) == (2, 1, *size)
    probs = SegmentationInferer(roi, 2, overlap, precision="fp32")(x, net)
    torch.testing.assert_close(labels.long(), probs.argmax(1, keepdim=True), atol=0, rtol=0)


def test_outputs_carry_the_inputs_metadata_for_inversion() -> None:
    x = MetaTensor(torch.randn(1, 1, 40, 35, 20), meta={"filename_or_obj": "a.nii.gz"})
    for inferer in (SegmentationInferer((32, 32, 16)), SegmentationInferer((32, 32, 16), labels_only=True)):
        out = inferer(x, _net())
        assert isinstance(out, MetaTensor)
        assert out.meta["filename_or_obj"] == "a.nii.gz"


def test_window_grid_is_monais() -> None:
    from monai.data.utils import dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    for size, roi, overlap in [((192, 192, 160), (96, 96, 96), 0.5), ((97, 61, 45), (32, 24, 16), 0.7),
                               ((50, 16), (16, 16), 0.25), ((33,), (32,), 0.0)]:
        ours = sorted(WindowGrid(size, roi, overlap).windows())
        interval = _get_scan_interval(size, roi, len(size), (overlap,) * len(size))
        theirs = sorted(tuple(s.start for s in sl) for sl in dense_patch_slices(size, roi, interval))
        assert ours == theirs, (size, roi, overlap)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_flip_tta_averages_flipped_predictions(spatial_dims: int) -> None:
    roi = (32, 32, 16)[:spatial_dims]
    x = torch.randn(1, 1, *(40, 35, 20)[:spatial_dims])
    net = _net(spatial_dims)
    tta = SegmentationInferer(roi, precision="fp32", tta_axes=(0, 1))(x, net)
    # the logits are averaged: compare in log space (softmax is shift invariant per voxel)
    with torch.no_grad():
        logits = [sliding_window_inference(x.flip(d), roi, 1, net, mode="gaussian").flip(d)
                  for d in [(), (2,), (3,), (2, 3)]]
    torch.testing.assert_close(tta, torch.softmax(sum(logits) / 4, 1), atol=1e-4, rtol=1e-4)


def test_attention_maps_come_with_the_probabilities_in_one_pass() -> None:
    x = torch.randn(1, 1, 40, 35, 20)
    inferer = SegmentationInferer((32, 32, 16), attention=True, precision="fp32")
    probs, maps = inferer.split(inferer(x, _net(return_attention=True)))
    torch.testing.assert_close(probs, SegmentationInferer((32, 32, 16), precision="fp32")(x, _net()))
    assert [tuple(m.shape) for m in maps] == [(1, 1, 40, 35, 20)] * 2
    assert all(float(m.min()) >= 0.0 and float(m.max()) <= 1.0 for m in maps)
    _, maps_two_pass = inferer.split(inferer(x, _net()))  # through attention_maps(), as TorchScript modules
    for a, b in zip(maps, maps_two_pass, strict=True):
        torch.testing.assert_close(a, b)


def test_bf16_labels_agree_with_fp32() -> None:
    x = torch.randn(1, 1, 48, 40, 24)
    fp32 = SegmentationInferer((32, 32, 16), labels_only=True, precision="fp32")(x, _net())
    bf16 = SegmentationInferer((32, 32, 16), labels_only=True, precision="bf16")(x, _net())
    assert (fp32 == bf16).float().mean() > 0.9  # random weights: near-ties flip; trained weights: see the benchmark


def test_auto_precision_on_cpu_is_bf16_only_with_a_native_bf16_unit() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    expected = "bf16" if flags & {"avx512_bf16", "amx_bf16"} else "fp32"  # plain AVX512 only emulates bf16
    assert resolve_precision("auto", torch.device("cpu")) == expected


@pytest.mark.gpu
def test_gpu_windows_with_cpu_output() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    for labels_only in (False, True):
        inferer = SegmentationInferer((32, 32, 16), labels_only=labels_only, precision="fp16", sw_device="cuda",
                                      device="cpu")
        out = inferer(torch.randn(1, 1, 40, 35, 20), _net().cuda())
        assert out.device.type == "cpu"
        assert torch.isfinite(out.float()).all()
