"""On/off settings: command-line strings read right, anything else refused with the key named; ``compile`` refused
early where torch.compile cannot work (checked in real child processes with their own locale)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from attn_seg.engines import check_flag, compile_flag, resume_checkpoint


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), (" False ", False)])
def test_flags_from_configs_and_command_lines(value: object, expected: bool) -> None:
    assert check_flag("resume", value) is expected


@pytest.mark.parametrize("value", ["yes", "0", 1, None, ""])
def test_other_values_are_refused_with_the_key(value: object) -> None:
    with pytest.raises(ValueError, match=r"`tensorboard` must be true or false, got"):
        check_flag("tensorboard", value)


def test_resume_false_as_a_string_is_a_fresh_run(tmp_path: object) -> None:
    assert resume_checkpoint(str(tmp_path), "false") == ""  # a truth test would have looked for a checkpoint
    with pytest.raises(FileNotFoundError, match="`resume` is set"):
        resume_checkpoint(str(tmp_path), "true")


def test_compile_off_needs_nothing() -> None:
    assert compile_flag("false") is False
    with pytest.raises(ValueError, match="`compile`"):
        compile_flag("on")


def _compile_flag_in(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "from attn_seg.engines import compile_flag; print(compile_flag(True, 'cpu'))"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                          encoding="utf-8", errors="replace", check=False)


def test_compile_is_refused_under_an_ascii_locale_with_what_to_change() -> None:
    proc = _compile_flag_in({"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"})
    assert proc.returncode != 0
    assert "`compile` is true" in proc.stderr
    assert "PYTHONUTF8=1" in proc.stderr


def test_compile_is_accepted_in_utf8_mode_with_a_compiler() -> None:
    if shutil.which("g++") is None:
        pytest.skip("no g++ on PATH: torch.compile cannot build CPU kernels here")
    proc = _compile_flag_in({"PYTHONUTF8": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"


@pytest.mark.parametrize("bundle", ["attention_unet_3d_ct", "attention_unet_3d_mri", "attention_unet_2d"])
def test_bundles_read_command_line_strings_as_flags(bundle: str) -> None:
    from monai.bundle import ConfigParser
    from monai.losses import DeepSupervisionLoss

    from attn_seg.bundles import find_bundle

    parser = ConfigParser()
    parser.read_config(str(find_bundle(bundle) / "configs" / "train.json"))
    parser.update({"deep_supervision": "true", "device": "$torch.device('cpu')"})  # as `--deep_supervision true`
    assert parser.get_parsed_content("network_def").deep_supervision is True
    assert isinstance(parser.get_parsed_content("loss"), DeepSupervisionLoss)
    parser.update({"deep_supervision": "ture"})
    with pytest.raises(RuntimeError) as info:
        parser.get_parsed_content("network_def", lazy=False)
    assert "`deep_supervision` must be true or false, got 'ture'" in str(info.value.__cause__)
