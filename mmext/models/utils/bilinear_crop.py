"""Differentiable square patches at continuous positions.

AdaFocusV2 (Wang et al., CVPR 2022, Sec. 3.2) trains its patch policy end to
end: the patch is read by bilinear interpolation, so the classification loss
has a gradient with respect to the patch position. The authors build the
grid with ``F.affine_grid`` (scale ``P / H``, ``align_corners=False``),
which reads pixel ``(r + i, c + j)``, ``i, j = 0..P-1``, for a patch whose
top-left corner is ``(r, c)``. Here the same pixel positions go through the
suite's bilinear sampling op :func:`mmext.ops.deform_sample`. At integer
corners the patch equals plain slicing (an integer-aligned crop without
gradient is :func:`~mmext.models.utils.crop_patches`).
"""
import torch
from torch import Tensor

from mmext.ops import deform_sample

__all__ = ['bilinear_patches']


def bilinear_patches(images: Tensor, centres: Tensor,
                     patch_size: int) -> Tensor:
    """Sample one ``P x P`` patch per image around a continuous centre.

    Args:
        images (Tensor): ``(N, C, H, W)`` images.
        centres (Tensor): ``(N, 2)`` patch centres ``(row, column)`` in
            pixels (pixel ``k`` is at ``k``); the patch reads pixels
            ``centre - (P - 1) / 2 + i``, ``i = 0..P-1``, and zeros outside
            the image.
        patch_size (int): ``P``.

    Returns:
        Tensor: ``(N, C, P, P)`` patches, differentiable with respect to
        ``images`` and ``centres``.
    """
    n, _, height, width = images.shape
    if centres.shape != (n, 2):
        raise ValueError(f'bilinear_patches: centres of shape '
                         f'{tuple(centres.shape)}; expected ({n}, 2)')
    offsets = torch.arange(
        patch_size, dtype=centres.dtype,
        device=centres.device) - (patch_size - 1) / 2
    rows = centres[:, 0, None] + offsets  # (N, P)
    cols = centres[:, 1, None] + offsets
    # deform_sample's normalisation: -1 / 1 are the first / last pixel
    # centres (align_corners=True); a one-pixel side maps to 0
    y = rows * (2 / max(height - 1, 1)) - 1
    x = cols * (2 / max(width - 1, 1)) - 1
    grid = torch.stack(
        (x[:, None, :].expand(n, patch_size, patch_size),
         y[:, :, None].expand(n, patch_size, patch_size)),
        dim=-1)
    return deform_sample(images, grid.to(images.dtype))
