"""Inference: sliding-window prediction of whole volumes and results written in the input's own geometry."""

from __future__ import annotations

from attn_seg.data.naming import case_name
from attn_seg.inference.export import export_onnx, export_torchscript
from attn_seg.inference.inputs import list_inputs
from attn_seg.inference.memory import return_freed_memory
from attn_seg.inference.models import OnnxModule, count_gates, load_model, read_state_dict
from attn_seg.inference.pipeline import OutputOptions, RunReport, predict_file, predict_files
from attn_seg.inference.predictor import PRECISIONS, Predictor, resolve_precision
from attn_seg.inference.settings import BundleSettings, default_weights, read_bundle
from attn_seg.inference.writing import output_paths

__all__ = [
    "PRECISIONS",
    "BundleSettings",
    "OnnxModule",
    "OutputOptions",
    "Predictor",
    "RunReport",
    "case_name",
    "count_gates",
    "default_weights",
    "export_onnx",
    "export_torchscript",
    "list_inputs",
    "load_model",
    "output_paths",
    "predict_file",
    "predict_files",
    "read_bundle",
    "read_state_dict",
    "resolve_precision",
    "return_freed_memory",
]
