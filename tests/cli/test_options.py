"""Argument types of the command line: what each accepts, and a refusal that names the value and the expected form."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

import pytest

from attn_seg.cli import options


@pytest.mark.parametrize(
    ("text", "axes"),
    [("0,1,2", [0, 1, 2]), ("[0,1,2]", [0, 1, 2]), ("[0, 1]", [0, 1]), (" 2 ", [2]), ("1,0", [1, 0]), ("all", "all")],
)
def test_tta_axes_accepts_the_comma_form_and_the_bracketed_one(text: str, axes: list[int] | str) -> None:
    assert options.tta_axes(text) == axes


@pytest.mark.parametrize("text", ["x", "", "[]", "0;1", "0,,1", "-1", "0,3", "0,0", "[0,1", "1.0", "(0,1)"])
def test_tta_axes_refuses_junk_with_the_expected_form(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="comma-separated spatial axes like 0,1,2") as info:
        options.tta_axes(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("roi_size=[96,96,64]", ("roi_size", [96, 96, 64])),
        ("overlap=0.25", ("overlap", 0.25)),
        ("save_probs=true", ("save_probs", True)),
        ("save_probs=True", ("save_probs", True)),
        ("output_device=null", ("output_device", None)),
        ("network_def#channels=[4, 8, 16]", ("network_def#channels", [4, 8, 16])),
        ("dataset_dir=/data/my task", ("dataset_dir", "/data/my task")),
        ("hu_window=$[-200, 400]", ("hu_window", "$[-200, 400]")),
        ("expr=a=b", ("expr", "a=b")),
    ],
)
def test_setting_reads_json_then_python_literals_then_strings(text: str, pair: tuple[str, object]) -> None:
    assert options.setting(text) == pair


@pytest.mark.parametrize("text", ["roi_size", "=3", "roi_size=", "roi size=3", " =1"])
def test_setting_refuses_a_malformed_pair(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected ID=VALUE") as info:
        options.setting(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (options.positive_int, {"1": 1, "64": 64}, ["0", "-2", "1.5", "x"]),
        (options.non_negative_int, {"0": 0, "3": 3}, ["-1", "x"]),
        (options.bounded_int(1, 6), {"1": 1, "6": 6}, ["0", "7"]),
        (options.fraction, {"0": 0.0, "0.5": 0.5}, ["1", "-0.1", "nan", "x"]),
        (options.positive_float, {"2": 2.0, "0.5": 0.5}, ["0", "-1", "inf", "nan", "x"]),
        (options.device, {"cpu": "cpu", "cuda": "cuda", "cuda:1": "cuda:1", "mps": "mps"}, ["gpu", "cuda1", ""]),
    ],
)
def test_number_and_device_types(parse: Callable[[str], object], good: dict[str, object], bad: list[str]) -> None:
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
            parse(text)


def test_bounded_int_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError, match="`high` must be at least `low`"):
        options.bounded_int(3, 2)


def test_device_types_are_torchs() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as info:
        torch.device("no_such_device")
    listed = re.search(r"Expected one of (.+) device type", str(info.value))
    assert listed, str(info.value)
    assert set(listed[1].split(", ")) == set(options.DEVICE_TYPES)


def test_synthetic_class_bound_is_the_data_modules() -> None:
    from attn_seg.cli.synth import SYNTHETIC_CLASSES
    from attn_seg.data.synthetic import CLASS_NAMES

    assert len(CLASS_NAMES) == SYNTHETIC_CLASSES
