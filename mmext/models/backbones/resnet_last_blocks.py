"""mmdet's ResNet returning the outputs of the last blocks of each stage
(MLKP's ResNet-101 fuses ``res3b2`` with ``res3b3`` and ``res4b21`` with
``res4b22``)."""
from typing import Tuple

from mmdet.models.backbones import ResNet
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class ResNetLastBlocks(ResNet):
    """:class:`mmdet.models.backbones.ResNet` whose outputs are, for each
    stage in ``out_indices``, the outputs of its last ``num_last_blocks``
    blocks in block order.

    For the C4 ResNet-101 of MLKP (``num_stages=3``, ``out_indices=(1, 2)``,
    ``num_last_blocks=2``) an ``(N, 3, H, W)`` input gives
    ``(res3b2, res3b3, res4b21, res4b22)``: two ``(N, 512, H/8, W/8)`` and
    two ``(N, 1024, H/16, W/16)`` maps. All other arguments are ResNet's.

    Args:
        num_last_blocks: Blocks returned per stage (at most the stage's
            smallest block count).
    """

    def __init__(self, *args, num_last_blocks: int = 2, **kwargs) -> None:
        check_arg(self, 'num_last_blocks', num_last_blocks, int, low=1)
        super().__init__(*args, **kwargs)
        check_arg(self, 'num_last_blocks', num_last_blocks, int, low=1,
                  high=min(self.stage_blocks[i] for i in self.out_indices))
        self.num_last_blocks = num_last_blocks

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``(N, C, H, W)`` -> ``num_last_blocks`` maps per output stage."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            blocks = getattr(self, layer_name)
            first_kept = len(blocks) - self.num_last_blocks
            for j, block in enumerate(blocks):
                x = block(x)
                if i in self.out_indices and j >= first_kept:
                    outs.append(x)
        return tuple(outs)
