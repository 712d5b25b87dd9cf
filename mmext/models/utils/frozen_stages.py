"""``train()`` shared by mmext's own backbones with ``frozen_stages`` and
``norm_eval``, as mmpretrain's backbones each write it."""
from torch.nn.modules.batchnorm import _BatchNorm


class FrozenStagesMixin:
    """Keep frozen stages (and, with ``norm_eval``, every BN layer) in eval
    mode whenever the module is put in training mode.

    The backbone defines ``_freeze_stages()`` (eval mode and no gradients
    for its first ``frozen_stages`` stages) and the attribute ``norm_eval``;
    list the mixin before ``BaseBackbone`` among the bases.
    """

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
