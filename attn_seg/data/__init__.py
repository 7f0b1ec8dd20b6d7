"""Data: datalists in the common layouts, readers, validation, fingerprints and synthetic data sets."""

from __future__ import annotations

from attn_seg.data.channels import channel_problem
from attn_seg.data.datalist import image_inputs, list_images, split_datalist
from attn_seg.data.fingerprint import fingerprint, format_fingerprint, suggest_roi_size
from attn_seg.data.layouts import declared_num_classes, load_cases, pair_folders, write_split
from attn_seg.data.readers import (
    ImageHeader,
    ImageReadError,
    MedicalImageReader,
    read_header,
    read_image,
    read_label,
)
from attn_seg.data.sources import bundle_cases, bundle_class_names, class_names_from_dataset, dataset_folder
from attn_seg.data.synthesize import DATASET_JSON, ensure_dataset, write_synthetic_dataset
from attn_seg.data.synthetic import SyntheticCase, SyntheticSpec, make_case
from attn_seg.data.validation import CaseStats, DataValidationError, Inspection, inspect_cases, validate_cases

__all__ = [
    "DATASET_JSON",
    "CaseStats",
    "DataValidationError",
    "ImageHeader",
    "ImageReadError",
    "Inspection",
    "MedicalImageReader",
    "SyntheticCase",
    "SyntheticSpec",
    "bundle_cases",
    "bundle_class_names",
    "channel_problem",
    "class_names_from_dataset",
    "dataset_folder",
    "declared_num_classes",
    "ensure_dataset",
    "fingerprint",
    "format_fingerprint",
    "image_inputs",
    "inspect_cases",
    "list_images",
    "load_cases",
    "make_case",
    "pair_folders",
    "read_header",
    "read_image",
    "read_label",
    "split_datalist",
    "suggest_roi_size",
    "validate_cases",
    "write_split",
    "write_synthetic_dataset",
]
