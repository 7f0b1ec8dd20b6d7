"""Inference: one sliding-window inferer and one post-processing (inversion to the input's geometry, atomic
writers) behind the bundles' ``inference.json``/``evaluate.json`` and ``attn-seg predict``."""

from __future__ import annotations

from attn_seg.data.naming import case_name
from attn_seg.inference.export import export_onnx, export_torchscript
from attn_seg.inference.inferer import PRECISIONS, SegmentationInferer, resolve_precision
from attn_seg.inference.inputs import list_inputs
from attn_seg.inference.models import OnnxModule, count_gates, load_model, read_state_dict
from attn_seg.inference.outputs import (
    AtomicNiftiWriter,
    AtomicPILWriter,
    SaveOutputsd,
    SplitOutputsd,
    output_paths,
    output_transforms,
)
from attn_seg.inference.pipeline import RunReport, predict_file, predict_files
from attn_seg.inference.settings import BundleSettings, default_weights, read_bundle

__all__ = [
    "PRECISIONS",
    "AtomicNiftiWriter",
    "AtomicPILWriter",
    "BundleSettings",
    "OnnxModule",
    "RunReport",
    "SaveOutputsd",
    "SegmentationInferer",
    "SplitOutputsd",
    "case_name",
    "count_gates",
    "default_weights",
    "export_onnx",
    "export_torchscript",
    "list_inputs",
    "load_model",
    "output_paths",
    "output_transforms",
    "predict_file",
    "predict_files",
    "read_bundle",
    "read_state_dict",
    "resolve_precision",
]
