"""The MONAI Label app for attn-seg's bundles: the ``monaibundle`` sample app's tasks and strategies, with
:class:`~attn_seg.monai_label.tasks.TrainTask` and :class:`~attn_seg.monai_label.tasks.InferTask`.

An app folder holds a ``main.py`` that imports :class:`App` and a ``model/`` folder with the bundles (see
:func:`attn_seg.monai_label.folder.make_app`). Unlike the ``monaibundle`` app it never looks for bundles online: the
bundles in ``model/`` are the models (``--conf models a,b`` picks some; all by default), so it needs neither
``--conf zoo_source`` nor a network.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import monailabel
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.utils.others.generic import strtobool

from attn_seg.monai_label.tasks import InferTask, TrainTask

__all__ = ["App", "app_bundles"]

_LOGGER = logging.getLogger(__name__)


def app_bundles(app_dir: str | Path, models: str = "all") -> dict[str, str]:
    """The bundles in ``app_dir/model/`` (folders with ``configs/``) by folder name.

    Args:
        app_dir: the app folder.
        models: ``all``, or the bundle names to serve, comma-separated (the app's ``--conf models``).

    Raises:
        FileNotFoundError: a named bundle is not in ``model/``, or there is no bundle at all.
    """
    root = Path(app_dir) / "model"
    found = {p.name: str(p) for p in sorted(root.glob("*")) if (p / "configs").is_dir()}
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models and models != "all" else list(found)
    missing = [m for m in wanted if m not in found]
    if missing or not wanted:
        raise FileNotFoundError(
            f"--conf models {models!r}: no bundle {', '.join(missing) or '(none at all)'} in {root} "
            f"(bundles there: {', '.join(found) or 'none'}); copy each bundle folder into it"
        )
    return {m: found[m] for m in wanted}


class App(MONAILabelApp):
    """The app; MONAI Label constructs it from the app folder's ``main.py``."""

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        self.models = app_bundles(app_dir, conf.get("models", "all"))
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"attn-seg Attention U-Net bundles (MONAI Label {monailabel.__version__})",
            description="attn-seg's MONAI bundles: segmentation and training from the datastore",
            version=monailabel.__version__,
        )

    def init_infers(self) -> dict[str, Any]:
        """One :class:`InferTask` per bundle."""
        infers = {}
        for name, path in self.models.items():
            task = InferTask(path, self.conf)
            if task.is_valid():
                infers[name] = task
            else:
                _LOGGER.warning("bundle %s: no models/model.pt to serve yet (train it first)", name)
        return infers

    def init_trainers(self) -> dict[str, Any]:
        """One :class:`TrainTask` per bundle (none with ``--conf skip_trainers true``); run folders go to
        ``<app>/runs``."""
        if strtobool(self.conf.get("skip_trainers", "false")):
            return {}
        runs = Path(self.app_dir) / "runs"
        trainers = {name: TrainTask(path, self.conf, runs_root=runs) for name, path in self.models.items()}
        return {name: task for name, task in trainers.items() if task.is_valid()}

    def init_strategies(self) -> dict[str, Any]:
        """The ``monaibundle`` app's active-learning strategies."""
        return {"random": Random(), "first": First()}
