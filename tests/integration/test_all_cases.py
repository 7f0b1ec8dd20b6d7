"""configs/experiments/all_cases.json: train on every case without validation and keep the last epoch's model."""

from __future__ import annotations

from pathlib import Path

import torch
from bundle_helpers import in_place

from attn_seg.engines import bundle_workflow

REPO = Path(__file__).resolve().parents[2]


def test_all_cases_overlay_trains_on_every_case_and_saves_the_last_model(
    bundle_copy: Path, synthetic_3d: Path, tiny_3d: dict
) -> None:
    overlay = str(REPO / "configs" / "experiments" / "all_cases.json")
    overrides = {**tiny_3d, "dataset_dir": str(synthetic_3d), "epochs": 2, "tensorboard": False}
    workflow = bundle_workflow(bundle_copy, ["train.json", overlay], overrides=in_place(bundle_copy, overrides))
    workflow.initialize()
    train, val = workflow.parser.get_parsed_content("split")
    assert (len(train), len(val)) == (4, 0)
    workflow.run()
    workflow.finalize()
    saved = torch.load(bundle_copy / "models" / "model.pt", map_location="cpu", weights_only=True)
    network = workflow.parser.get_parsed_content("network")
    assert all(torch.equal(saved[k], v) for k, v in network.state_dict().items())  # the last epoch's weights
    assert workflow.parser.get_parsed_content("validate#evaluator").state.epoch == 0  # never validated
