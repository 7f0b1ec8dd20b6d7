"""Study files: parsing, checks with the key named, replicates, trial configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from attn_seg.studies import check_study, load_study, parse_study, trial_config
from attn_seg.studies.spec import setting_label

BASE: dict[str, Any] = {"name": "s", "bundle": "bundles/attention_unet_2d", "parameters": {"loss_name": ["dice"]}}


def _spec(**keys: Any) -> dict[str, Any]:
    return {**BASE, **keys}


def test_parameter_forms() -> None:
    spec = parse_study(_spec(parameters={
        "loss_name": ["dice", "dice_ce"],
        "gating": {"key": "network_def#gating", "values": ["grid", "same_scale"]},
        "levels": {"key": "network_def#gated_levels", "values": [None, [1, 2, 3]]},
        "loss": {"choices": {"tv": "configs/losses/tversky.json",
                             "two": ["configs/losses/dice.json", "configs/precision/bf16_cpu.json"],
                             "mixed": {"config_files": "configs/losses/dice.json", "class_weights": [1, 2]}}},
    }))
    by_name = {p.name: p for p in spec.parameters}
    assert [c.label for c in by_name["loss_name"].choices] == ["dice", "dice_ce"]
    assert by_name["gating"].choice("same_scale").overrides == {"network_def#gating": "same_scale"}
    assert [c.label for c in by_name["levels"].choices] == ["null", "[1, 2, 3]"]
    assert by_name["loss"].choice("tv").config_files == ("configs/losses/tversky.json",)
    assert len(by_name["loss"].choice("two").config_files) == 2
    assert by_name["loss"].choice("mixed").overrides == {"class_weights": [1, 2]}


def test_replicates_cover_seeds_and_folds() -> None:
    spec = parse_study(_spec(seeds=[0, 5], folds=3))
    reps = spec.replicates
    assert [(r.seed, r.fold) for r in reps] == [(0, 0), (0, 1), (0, 2), (5, 0), (5, 1), (5, 2)]
    assert reps[4].overrides(spec.folds) == {"seed": 5, "fold": 1, "num_folds": 3}
    assert parse_study(_spec(seeds=[1])).replicates[0].overrides(None) == {"seed": 1}


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"name": "a b"}, r"study\.name"),
        ({"epochs": 0}, r"study\.epochs: must be > 0"),
        ({"epoch": 3}, r"unknown keys \['epoch'\]"),
        ({"seeds": []}, r"study\.seeds"),
        ({"seeds": [1, 1]}, r"study\.seeds: has repeated"),
        ({"parameters": {}}, r"study\.parameters: must be a non-empty dict"),
        ({"parameters": {"lr": {"low": 1e-4, "high": 1e-2}}}, r"ranges \['lr'\] need a sampled search"),
        ({"parameters": {"lr": {"low": 1.0, "high": 0.1}}, "sampler": "tpe", "n_settings": 2}, r"low < high"),
        ({"parameters": {"lr": {"low": 0.0, "high": 1.0, "log": True}}, "sampler": "random", "n_settings": 2},
         r"log range needs low > 0"),
        ({"sampler": "tpe"}, r"needs the number of settings"),
        ({"sampler": "grid", "n_settings": 3}, r"study\.n_settings: is for sampled"),
        ({"parameters": {"x": [1, 2], "y": {"key": "k", "low": 1, "high": 3, "int": True}}, "sampler": "tpe",
          "n_settings": 7}, r"study\.n_settings: asks for 7 distinct settings, but the parameters allow only 6"),
        ({"sampler": "gird"}, r"gird"),
        ({"folds": 1}, r"study\.folds: k-fold cross-validation needs at least 2"),
        ({"parameters": {"seed": [1, 2]}}, r"parameters\.seed"),
        ({"parameters": {"x": {"choices": {"a": 3}}}}, r"parameters\.x\.choices\.a: an option must be"),
        ({"parameters": {"x": ["a", "a"]}}, r"parameters\.x: has repeated values"),
        ({"direction": "up"}, r"up"),
    ],
)
def test_invalid_study_names_the_key(keys: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_study(_spec(**keys))


def test_load_study_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: invalid JSON"):
        load_study(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        load_study(tmp_path / "missing.json")
    bad.write_text(json.dumps(_spec(parameters={"loss": {"choices": {"x": "configs/losses/nope.json"}}})))
    with pytest.raises(FileNotFoundError, match=r"parameters\.loss\.choices\.x: configs/losses/nope\.json"):
        load_study(bad)
    bad.write_text(json.dumps(_spec(bundle=str(tmp_path / "nobundle"))))
    with pytest.raises(FileNotFoundError, match=r"has no configs/train\.json"):
        load_study(bad)


def test_study_files_in_the_repository_load_and_check() -> None:
    files = sorted(Path("configs/experiments/studies").glob("*.json"))
    assert len(files) >= 4
    for file in files:
        check_study(load_study(file))


def test_trial_config_merges_in_order() -> None:
    spec = parse_study(_spec(
        config_files=["configs/datasets/isbi2012_em_2d.json"],
        overrides={"learning_rate": 0.01, "loss_name": "dice"},
        parameters={"loss": {"choices": {"tv": {"config_files": ["configs/losses/tversky.json"], "loss_name": "x"}}},
                    "gating": {"key": "network_def#gating", "values": ["same_scale"]}},
        seeds=[4], folds=2, epochs=7,
    ))
    files, overrides = trial_config(spec, {"loss": "tv", "gating": "same_scale"}, 1)
    assert [Path(f).name for f in files] == ["train.json", "isbi2012_em_2d.json", "tversky.json"]
    assert all(Path(f).is_absolute() for f in files)
    assert overrides == {"learning_rate": 0.01, "loss_name": "x", "network_def#gating": "same_scale",
                         "seed": 4, "fold": 1, "num_folds": 2, "epochs": 7}
    assert setting_label({"loss": "tv", "gating": "same_scale"}, spec.parameters) == "loss=tv, gating=same_scale"


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"overrides": {"epoch": 3}}, r"overrides: config id\(s\) \['epoch'\] are not in the bundle"),
        ({"parameters": {"net": {"choices": {"bad": {"network_def#gatting": "grid"}}}}},
         r"parameters\.net\.choices\.bad: network_def does not build"),
        ({"parameters": {"net": {"choices": {"bad": {"nettwork_def#gating": "grid"}}}}},
         r"parameters\.net\.choices\.bad: config id\(s\) \['nettwork_def#gating'\]"),
    ],
)
def test_check_study_catches_typos_before_training(keys: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_study(parse_study(_spec(**keys)))
