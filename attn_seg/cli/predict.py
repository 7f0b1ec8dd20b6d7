"""``attn-seg predict``: segment a file, a folder or a datalist with a bundle; results in each input's geometry.

Finished cases (all their outputs present) are skipped unless ``--overwrite``; every file is written under a
temporary name and renamed into place, so a killed run leaves no half-written output and a rerun completes the
rest. A case that fails is reported and the others go on; the exit status is 1 when any case failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from attn_seg.cli import options

__all__ = ["PRECISIONS", "add_parser", "run"]

#: ``--precision`` choices: :data:`attn_seg.engines.PRECISIONS`, written out so that parsing loads nothing heavy
#: (a test keeps the two equal).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "predict", help="segment images with a bundle (sliding window, outputs in the input's geometry)",
        description="INPUT: an image file, a folder of images, or a datalist (dataset.json, JSON list, CSV). "
        "Writes <case>_seg.nii.gz per image (and _probs, _attn_g<k> on request) into OUTPUT.",
    )
    p.add_argument("--bundle", required=True, help="bundle folder or name (configs/inference.json, models/)")
    p.add_argument("-i", "--input", required=True, help="image file, folder or datalist")
    p.add_argument("-o", "--output", required=True, help="output folder (created when missing)")
    p.add_argument("--weights", default=None, help="model.pt (state dict), model.ts or model.onnx "
                   "(default: the bundle's models/model.pt, .ts, .onnx in that order)")
    p.add_argument("--set", dest="overrides", type=options.setting, action="append", default=[], metavar="ID=VALUE",
                   help="override a setting of the bundle's inference.json, as the bundle runner's --ID VALUE "
                   "(repeatable; e.g. --set overlap=0.25); settings recorded at training time beside the weights "
                   "are used otherwise, and an override that contradicts them is refused")
    p.add_argument("--device", type=options.device, default=None,
                   help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--output-device", type=options.device, default=None,
                   help="where the full-size output is blended (default: --device); cpu for volumes larger than GPU "
                   "memory")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help="network precision (default: auto, "
                   "bf16 on CPUs with a native bf16 unit (AVX512-BF16, AMX) and on GPUs that have it, fp16 on "
                   "other GPUs, else fp32)")
    tta = p.add_mutually_exclusive_group()
    tta.add_argument("--tta", nargs="?", const="all", default=None, metavar="AXES", type=options.tta_axes,
                     help="flip test-time augmentation over every combination of the given spatial axes "
                     "(comma-separated, e.g. 0,1; alone: all axes; 2**n passes; default: the bundle's tta_axes)")
    tta.add_argument("--no-tta", dest="tta", action="store_const", const=[],
                     help="no test-time augmentation, whatever the bundle's default (the polyp bundle flips both axes)")
    p.add_argument("--sw-batch-size", type=options.positive_int, default=None,
                   help="windows per network call (default: bundle)")
    p.add_argument("--overlap", type=options.fraction, default=None, help="window overlap in [0, 1) (default: bundle)")
    p.add_argument("--save-probs", action="store_true", help="also write <case>_probs.nii.gz")
    p.add_argument("--save-attention", action="store_true", help="also write <case>_attn_g<k>.nii.gz per gate")
    p.add_argument("--largest-component", action="store_true", help="keep the largest component of each class")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs instead of skipping cases")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace, out: Path, device: str) -> dict[str, object]:
    """The bundle settings the options set (``--set`` ones last, so that they win)."""
    every_axis = "$list(range(@network_def#spatial_dims))"  # --tta alone: every spatial axis of the network
    given = {"sw_batch_size": args.sw_batch_size, "overlap": args.overlap, "output_device": args.output_device,
             "tta_axes": every_axis if args.tta == "all" else args.tta}
    overrides: dict[str, object] = {key: value for key, value in given.items() if value is not None}
    overrides.update(output_dir=str(out), device=device, precision=args.precision, save_probs=args.save_probs,
                     save_attention=args.save_attention, largest_component=args.largest_component)
    return {**overrides, **dict(args.overrides)}


def run(args: argparse.Namespace) -> int:
    """Segment every input; print a summary, and the failures on stderr. 0 when all succeeded, else 1."""
    import torch

    from attn_seg.bundles import find_bundle
    from attn_seg.inference import list_inputs, load_model, predict_files, read_bundle, resolve_precision

    images = list_inputs(args.input)
    out = Path(args.output).expanduser().absolute()
    source = Path(args.input).expanduser().absolute()
    if out in {source, *images, *(p.parent for p in images)}:  # an image may be a DICOM series folder
        raise ValueError(f"output folder {out} holds the inputs; choose another folder so that inputs stay apart")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = read_bundle(find_bundle(args.bundle), _overrides(args, out, device), weights=args.weights)
    network = load_model(settings, args.weights, device=device, attention=args.save_attention)
    start = time.perf_counter()
    report = predict_files(images, network, settings, overwrite=args.overwrite, progress=not args.no_progress)
    print(f"predict: {len(report.written)} written, {len(report.skipped)} skipped (outputs exist), "
          f"{len(report.failed)} failed, of {len(images)} in {time.perf_counter() - start:.1f} s "
          f"({resolve_precision(settings.inferer.precision, torch.device(device))}, {device}) -> {out}")
    if report.failed:
        print(f"attn-seg predict: {len(report.failed)} case(s) failed:", file=sys.stderr)
        for _path, cause in report.failed:
            print(f"  {cause}", file=sys.stderr)
        return 1
    return 0
