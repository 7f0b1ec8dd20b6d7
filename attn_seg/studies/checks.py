"""Checks of a study against its bundle before any training: config ids that exist, networks that build."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from monai.bundle import ConfigParser
from monai.bundle.utils import ID_SEP_KEY

from attn_seg.studies.runner import trial_config
from attn_seg.studies.spec import StudySpec

__all__ = ["check_study"]



def _missing_ids(parser: ConfigParser, overrides: Mapping[str, Any]) -> list[str]:
    """Override ids whose parent is not in the config (a top-level id must itself exist): likely typos."""
    missing = []
    for key in overrides:
        parts = re.split(r"#|::", key)  # MONAI's id separator, "::" (new) or "#"
        parent = ID_SEP_KEY.join(parts[:-1]) if len(parts) > 1 else None
        if (parent is None and key not in parser) or (parent is not None and parent not in parser):
            missing.append(key)
    return missing


def check_study(spec: StudySpec) -> None:
    """Check every choice against the bundle before any training: override ids exist, ``network_def`` builds.

    Raises:
        ValueError: naming the parameter choice (or ``overrides``) and the offending config id or error.
    """
    probes: list[tuple[str, dict[str, Any]]] = [("overrides", {})]
    for p in spec.parameters:
        probes += [(f"parameters.{p.name}.choices.{c.label}", {p.name: c.label}) for c in p.choices]
        probes += [(f"parameters.{p.name}", {p.name: p.low})] if p.is_range else []
    for where, picked in probes:
        files, overrides = trial_config(spec, picked, 0)
        parser = ConfigParser()
        parser.read_config(files)
        missing = _missing_ids(parser, overrides)
        if missing:
            raise ValueError(f"study {spec.name!r}, {where}: config id(s) {missing} are not in the bundle's configs")
        parser.update(overrides)
        try:
            parser.get_parsed_content("network_def")
        except Exception as err:
            raise ValueError(f"study {spec.name!r}, {where}: network_def does not build: {err}") from err
