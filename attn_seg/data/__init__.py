"""Data: synthetic data sets, datalists and their splits."""

from __future__ import annotations

from attn_seg.data.datalist import list_images, load_datalist, split_datalist
from attn_seg.data.synthesize import DATASET_JSON, ensure_dataset, write_synthetic_dataset
from attn_seg.data.synthetic import SyntheticCase, SyntheticSpec, make_case

__all__ = [
    "DATASET_JSON",
    "SyntheticCase",
    "SyntheticSpec",
    "ensure_dataset",
    "list_images",
    "load_datalist",
    "make_case",
    "split_datalist",
    "write_synthetic_dataset",
]
