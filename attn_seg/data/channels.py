"""Image channels: whether an image's channels fit a network's ``in_channels``, one message for every command.

One check for every command that reads images for a network: ``attn-seg check-data`` and the bundles' datalist
validation (:func:`~attn_seg.data.validate_cases`), and ``attn-seg predict``. A grey image given to a bundle for
colour pictures, or the reverse, fails there with the file, the channels found and the setting named, instead of
inside the network's first convolution.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IN_CHANNELS_SETTING", "channel_problem"]

#: The setting a bundle reads the number of image channels from.
IN_CHANNELS_SETTING = "network_def#in_channels"


def channel_problem(path: Any, channels: int, in_channels: int, setting: str = IN_CHANNELS_SETTING) -> str:
    """One line when an image's channels do not fit the network's input channels, else ``""``.

    Args:
        path: the image file, named in the line.
        channels: the image's channels (``ImageHeader.channels`` of a picture, or the loaded channel axis).
        in_channels: the channels the network takes.
        setting: where ``in_channels`` is set, named in the line (``network_def#in_channels`` in a bundle).

    Returns:
        The problem, naming the file, the channels found and the setting; ``""`` when they agree.
    """
    if channels == in_channels:
        return ""
    kind = {1: "a grey image", 3: "a colour (RGB) image"}.get(channels, f"an image with {channels} channels")
    wanted = {1: "grey images (1 channel)", 3: "colour RGB images (3 channels)"}.get(
        in_channels, f"images with {in_channels} channels"
    )
    return (
        f"image {path} has {channels} channel(s) but `{setting}` is {in_channels}: {kind} given to a network for "
        f"{wanted}; use a bundle made for {channels}-channel images, or convert the image"
    )
