"""Square patches of a batch of images at per-sample positions.

GFNet (Wang et al., NeurIPS 2020, Sec. 3.2) crops a ``P x P`` patch of the
full-resolution image whose top-left corner is ``floor(a * (H - P))`` for a
continuous action ``a`` in ``[0, 1]^2`` (the authors' ``get_patch``, a loop
over the batch). The crop is an integer-aligned copy, not an interpolation,
so it is one gather here instead of the bilinear sampling of
:func:`mmext.ops.deform_sample` (which would give the same values at
integer positions at several times the cost).
"""
import torch
from torch import Tensor

__all__ = ['patch_corners', 'crop_patches']


def patch_corners(actions: Tensor, image_size: int, patch_size: int) -> Tensor:
    """Top-left corners of the patches chosen by ``actions``.

    Args:
        actions (Tensor): ``(N, 2)`` (row, column) positions in ``[0, 1]``.
        image_size (int): ``H = W`` of the images.
        patch_size (int): ``P``.

    Returns:
        Tensor: ``(N, 2)`` long corners ``floor(a * (H - P))``, in
        ``[0, H - P]``.
    """
    span = image_size - patch_size
    corners = torch.floor(actions.clamp(0, 1) * span).long()
    return corners.clamp_(0, span)


def crop_patches(images: Tensor, actions: Tensor, patch_size: int) -> Tensor:
    """Crop one ``P x P`` patch per image.

    Args:
        images (Tensor): ``(N, C, H, W)`` images, ``H = W >= P``.
        actions (Tensor): ``(N, 2)`` (row, column) positions in ``[0, 1]``.
        patch_size (int): ``P``.

    Returns:
        Tensor: ``(N, C, P, P)`` patches, ``images[n, :, r:r + P, c:c + P]``
        with ``(r, c) = patch_corners(actions, H, P)[n]``.
    """
    n, _, height, width = images.shape
    if height != width or height < patch_size:
        raise ValueError(
            f'crop_patches: images of size {height}x{width} cannot give '
            f'square patches of {patch_size} (square images of at least '
            'patch_size are needed)')
    corners = patch_corners(actions, height, patch_size)
    offsets = torch.arange(patch_size, device=images.device)
    rows = (corners[:, 0, None] + offsets)[:, :, None]  # (N, P, 1)
    cols = (corners[:, 1, None] + offsets)[:, None, :]  # (N, 1, P)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # advanced indices (N, P, P) around the channel slice put it last; the
    # channels-last result would send every convolution after it down a
    # several times slower CPU path, hence the copy
    return images.permute(0, 2, 3, 1)[batch, rows,
                                      cols].permute(0, 3, 1, 2).contiguous()
