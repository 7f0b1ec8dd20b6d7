"""MONAI Label integration: the ``monaibundle`` app's train and infer tasks with the fixes attn-seg's bundles need.

MONAI Label (an optional package, in its own environment) serves a bundle through ``BundleInferTask`` and trains it
through ``BundleTrainTask``. :mod:`attn_seg.monai_label.tasks` subclasses both:

- training with ``pretrained`` false starts fresh (MONAI Label 0.8.5 crashes on it);
- each training run writes its own run folder outside the app's ``model/`` folder, trains on the datastore's cases
  (never on synthesised data), and promotes each new best model into the bundle's ``models/model.pt`` atomically
  (the model MONAI Label serves), so retraining never deletes what the bundle had;
- results are ``uint8`` label maps, and 2D NIfTI results keep the input's geometry.

:mod:`attn_seg.monai_label.folder` lays out an app folder (``attn-seg label-app``) without needing ``monailabel``.

:mod:`attn_seg.monai_label.app` is the app: the ``monaibundle`` sample app's models, strategies and options with
these tasks. Import it only where ``monailabel`` is installed.
"""
