import math

import pytest
import torch

from mmext.models.utils import crop_patches


def test_crop_matches_slicing_loop():
    torch.manual_seed(0)
    images = torch.randn(5, 3, 20, 20)
    actions = torch.rand(5, 2)
    actions[0] = torch.tensor([0., 1.])
    patches = crop_patches(images, actions, 7)
    for n in range(5):
        r = math.floor(actions[n, 0].item() * 13)
        c = math.floor(actions[n, 1].item() * 13)
        assert torch.equal(patches[n], images[n, :, r:r + 7, c:c + 7])


def test_crop_rejects_small_images():
    with pytest.raises(ValueError, match='patch'):
        crop_patches(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2), 9)
