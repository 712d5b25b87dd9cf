"""GFNet: glance and focus, a multi-exit image classifier.

Wang et al., "Glance and Focus: a Dynamic Approach to Reducing Spatial
Redundancy in Image Classification", NeurIPS 2020 (Sec. 3), following the
authors' ``train.py`` / ``inference.py`` where the paper leaves a choice.

Step 1 (glance): the whole image, downsampled to the patch size ``P``
(``F.interpolate``, ``align_corners=True``), goes through the global encoder
``f_G``. Steps ``2..T`` (focus): the patch policy ``pi``
(:class:`~mmext.models.heads.GFNetPolicy`) reads the previous step's last
feature map and picks the top-left corner ``floor(a (H - P))`` of a ``P x P``
patch of the full image (:func:`~mmext.models.utils.crop_patches`), which
goes through the local encoder ``f_L`` (same architecture, own weights). The
classifier ``f_C`` (:class:`~mmext.models.heads.GFNetHead`) classifies the
pooled features of the steps so far. The encoders are mmpretrain
``ImageClassifier`` configs: the policy state is the backbone's last output,
the pooled feature is the head's ``pre_logits`` (MobileNetV3: after the
1280-channel layer), and each encoder's own linear layer ``head.fc`` gives
the deep-supervision logits.

Training stages (``stage``; Sec. 3.4):

1. the focus patches are uniformly random; encoders and classifier learn
   ``(sum_t CE(f_C) + dsn_ratio * sum_t CE(head.fc)) / T``;
2. only the policy learns, by PPO (:func:`~mmext.models.heads.ppo_loss`,
   ``ppo_epochs`` updates per batch) with the reward
   ``p_t(y) - p_{t-1}(y)``, the gain of the classifier's true-class
   probability; ``frozen`` must hold both encoders and the classifier (kept
   in eval mode);
3. as stage 1 with patches sampled from the learned (frozen) policy.

At test time the policy gives the mean of its Gaussian (stage 1: random
patches, as the authors' validation). The model implements
:class:`~mmext.models.utils.MultiExitMixin`, so
:func:`~mmext.models.utils.early_exit_predict` and
``tools/analysis_tools/adaptive_inference.py`` run it with real early exit.
"""
import copy
import math
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks.conv2d_adaptive_padding import Conv2dAdaptivePadding
from mmengine.model import BaseModel
from mmpretrain.models.utils import InvertedResidual
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmext.models.heads.gfnet_policy import discounted_returns, ppo_loss
from mmext.models.utils.multi_exit import MultiExitMixin
from mmext.models.utils.patch_crop import crop_patches, patch_corners
from mmext.registry import MODELS
from mmext.utils.converter import (RenameRule, check_converted,
                                   rename_by_rules, strip_prefix)
from mmext.utils.validation import check_arg

__all__ = ['GFNet', 'checkpoint_filter_fn', 'released_calibration']

#: the parts of the model that ``frozen`` may name
PARTS = ('global_encoder', 'local_encoder', 'classifier', 'policy')


@MODELS.register_module()
class GFNet(BaseModel, MultiExitMixin):
    """Glance-and-focus classifier with early exit.

    Args:
        global_encoder (dict): mmpretrain ``ImageClassifier`` config of
            ``f_G`` (backbone, neck, head with ``pre_logits`` and ``fc``).
        classifier (dict): ``GFNetHead`` config (``f_C``).
        policy (dict): ``GFNetPolicy`` config; ``state_size`` defaults to
            ``ceil(patch_size / 32)``.
        local_encoder (dict, optional): Config of ``f_L``; defaults to a
            copy of ``global_encoder`` (same architecture, own weights).
        patch_size (int): ``P``, the side of the glance image and of the
            patches.
        num_steps (int): ``T``, glance + focus steps (exits).
        stage (int): Training stage, 1, 2 or 3 (module docstring).
        frozen (Sequence[str]): Parts without gradients, kept in eval mode
            (of ``'global_encoder'``, ``'local_encoder'``, ``'classifier'``,
            ``'policy'``); the policy is frozen in stages 1 and 3 anyway.
        glance_interpolation (str): Mode of the glance downsampling
            (authors: ``'bicubic'`` for ResNet / MobileNetV3 / EfficientNet,
            ``'bilinear'`` for DenseNet / RegNet).
        glance_logits (str): Step-1 prediction: ``'classifier'`` (``f_C``)
            or ``'encoder'`` (``f_G``'s own head; needed with a cascade
            classifier, which has no step-1 layer).
        dsn_ratio (float): Weight of the encoders' own heads' losses
            (authors: 1 for ResNet / DenseNet / RegNet, 5 for MobileNetV3 /
            EfficientNet).
        ppo_gamma (float): Discount of the rewards over the steps.
        ppo_clip (float): PPO ratio clip.
        ppo_epochs (int): PPO updates per batch (authors: 1, where the clip
            is inactive).
        ppo_value_coef (float): Weight of the critic's loss.
        ppo_entropy_coef (float): Weight of the entropy bonus.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - inputs: ``(N, 3, H, H)``, ``H >= patch_size``.
        - forward(mode='tensor'): ``(T, N, num_classes)`` logits of every
          step.
    """

    def __init__(self,
                 global_encoder: dict,
                 classifier: dict,
                 policy: dict,
                 local_encoder: Optional[dict] = None,
                 patch_size: int = 96,
                 num_steps: int = 5,
                 stage: int = 1,
                 frozen: Sequence[str] = (),
                 glance_interpolation: str = 'bicubic',
                 glance_logits: str = 'classifier',
                 dsn_ratio: float = 1.0,
                 ppo_gamma: float = 0.7,
                 ppo_clip: float = 0.2,
                 ppo_epochs: int = 1,
                 ppo_value_coef: float = 0.5,
                 ppo_entropy_coef: float = 0.01,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'global_encoder', global_encoder, dict)
        check_arg(self, 'classifier', classifier, dict)
        check_arg(self, 'policy', policy, dict)
        check_arg(self, 'local_encoder', local_encoder, dict, allow_none=True)
        check_arg(self, 'patch_size', patch_size, int, low=1)
        check_arg(self, 'num_steps', num_steps, int, low=1)
        check_arg(self, 'stage', stage, int, low=1, high=3)
        check_arg(self, 'frozen', frozen, (list, tuple))
        for part in frozen:
            check_arg(self, 'frozen[]', part, choices=PARTS)
        check_arg(
            self,
            'glance_interpolation',
            glance_interpolation,
            choices=('bicubic', 'bilinear', 'nearest', 'area'))
        check_arg(
            self,
            'glance_logits',
            glance_logits,
            choices=('classifier', 'encoder'))
        check_arg(self, 'dsn_ratio', dsn_ratio, float, low=0)
        check_arg(self, 'ppo_gamma', ppo_gamma, float, low=0, high=1)
        check_arg(self, 'ppo_clip', ppo_clip, float, low=0, low_open=True)
        check_arg(self, 'ppo_epochs', ppo_epochs, int, low=1)
        check_arg(self, 'ppo_value_coef', ppo_value_coef, float, low=0)
        check_arg(self, 'ppo_entropy_coef', ppo_entropy_coef, float, low=0)
        if stage == 2:
            missing = [p for p in PARTS[:3] if p not in frozen]
            if missing or 'policy' in frozen:
                raise ValueError(
                    'GFNet: stage=2 trains the policy only; model.frozen '
                    "must name 'global_encoder', 'local_encoder' and "
                    f"'classifier' and not 'policy', got {tuple(frozen)} "
                    f'(not frozen: {missing})')
        if classifier.get('mode') == 'cascade' and \
                glance_logits != 'encoder':
            raise ValueError(
                "GFNet: a cascade classifier (model.classifier.mode="
                "'cascade') has no step-1 layer; set "
                "model.glance_logits='encoder'")
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.global_encoder = MODELS.build(global_encoder)
        self.local_encoder = MODELS.build(
            copy.deepcopy(global_encoder if local_encoder is None else
                          local_encoder))
        self.classifier = MODELS.build(classifier)
        policy = dict(policy)
        policy.setdefault('state_size', math.ceil(patch_size / 32))
        self.policy = MODELS.build(policy)
        self.patch_size = patch_size
        self._num_steps = num_steps
        self.stage = stage
        self.frozen = tuple(frozen) + (('policy', ) if stage != 2 else ())
        self.glance_interpolation = glance_interpolation
        self.glance_logits = glance_logits
        self.dsn_ratio = dsn_ratio
        self.ppo_gamma = ppo_gamma
        self.ppo_clip = ppo_clip
        self.ppo_epochs = ppo_epochs
        self.ppo_value_coef = ppo_value_coef
        self.ppo_entropy_coef = ppo_entropy_coef
        for part in self.frozen:
            getattr(self, part).requires_grad_(False)

    @property
    def num_steps(self) -> int:
        return self._num_steps

    def train(self, mode: bool = True) -> 'GFNet':
        """Frozen parts stay in eval mode (batch-norm statistics, dropout)."""
        super().train(mode)
        for part in self.frozen:
            getattr(self, part).eval()
        return self

    @staticmethod
    def _encode(encoder: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(N, 3, P, P)`` -> pooled ``(N, D)`` feature and ``(N, C, h, w)``
        last feature map (detached: the policy state)."""
        feats = encoder.backbone(x)
        state = feats[-1].detach()
        if encoder.with_neck:
            feats = encoder.neck(feats)
        return encoder.head.pre_logits(feats), state

    def _check_inputs(self, inputs: Tensor) -> None:
        if inputs.dim() != 4 or inputs.shape[-1] != inputs.shape[-2]:
            raise ValueError(
                f'GFNet: inputs of shape {tuple(inputs.shape)}; square '
                'images (N, 3, H, H) are needed')
        if inputs.shape[-1] < self.patch_size:
            raise ValueError(
                f'GFNet: model.patch_size={self.patch_size} is larger than '
                f'the {inputs.shape[-1]}x{inputs.shape[-1]} input images; '
                'use a smaller patch_size or larger crops in the pipeline')

    def _act(self, state: Tensor, hidden: Optional[Tensor],
             patches: str) -> Tuple[Tensor, Optional[Tensor], Tensor]:
        """Patch positions (``(N, 2)``), their log-probabilities and the
        policy's hidden state; ``patches`` is ``'random'``, ``'sample'`` or
        ``'mean'``. The rollout never needs the policy's gradients (the PPO
        update re-evaluates the actions)."""
        if patches == 'random':
            return torch.rand(state.shape[0], 2, device=state.device), \
                None, hidden
        with torch.no_grad():
            return self.policy.act(state, hidden, sample=patches == 'sample')

    def _steps(self, inputs: Tensor,
               patches: str) -> Iterator[Tuple[Tensor, dict]]:
        """The steps, as :meth:`forward_steps`, yielding ``(logits,
        record)``: ``record`` holds the step's pooled ``feature`` (N, D) and,
        for focus steps, the policy ``state`` (N, C, h, w), ``action``
        (N, 2) and ``logprob`` (N,) that chose its patch. Receives ``keep``
        (None: everyone)."""
        self._check_inputs(inputs)
        glance = F.interpolate(
            inputs,
            size=(self.patch_size, self.patch_size),
            mode=self.glance_interpolation,
            align_corners=self.glance_interpolation in ('bicubic',
                                                        'bilinear'))
        feature, state = self._encode(self.global_encoder, glance)
        logits, cls_state = self.classifier(feature)
        if self.glance_logits == 'encoder':
            logits = self.global_encoder.head.fc(feature)
        record = dict(feature=feature)
        hidden = None
        for t in range(1, self.num_steps + 1):
            keep = yield logits, record
            if t == self.num_steps:
                return
            if keep is not None:
                inputs, state = inputs[keep], state[keep]
                cls_state = cls_state[:, keep] if \
                    self.classifier.mode == 'gru' else cls_state[keep]
                hidden = None if hidden is None else hidden[:, keep]
            action, logprob, hidden = self._act(state, hidden, patches)
            record = dict(state=state, action=action, logprob=logprob)
            feature, state = self._encode(self.local_encoder,
                                          crop_patches(inputs, action,
                                                       self.patch_size))
            logits, cls_state = self.classifier(feature, cls_state)
            record['feature'] = feature

    def _test_patches(self) -> str:
        return 'random' if self.stage == 1 else 'mean'

    def forward_steps(self, inputs: Tensor):
        """Yield each step's ``(B_t, num_classes)`` logits; receive ``keep``
        (:class:`~mmext.models.utils.MultiExitMixin`)."""
        steps = self._steps(inputs, self._test_patches())
        try:
            logits, _ = next(steps)
            while True:
                keep = yield logits
                logits, _ = steps.send(keep)
        except StopIteration:
            return
        finally:
            steps.close()

    def _rollout(self, inputs: Tensor, patches: str) -> List[tuple]:
        """Every step for every sample: ``[(logits, record), ...]``."""
        return list(self._steps(inputs, patches))

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return torch.stack([
                logits for logits, _ in self._rollout(inputs,
                                                      self._test_patches())
            ])
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    @torch.no_grad()
    def locate(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Where each focus step looks (for drawing the patches).

        Args:
            inputs (Tensor): ``(N, 3, H, H)`` model-ready images.

        Returns:
            tuple[Tensor, Tensor]: ``(T, N, num_classes)`` logits of every
            step and ``(T - 1, N, 2)`` (row, column) top-left corners in
            pixels of the patches of steps ``2..T``.
        """
        rollout = self._rollout(inputs, self._test_patches())
        corners = [
            patch_corners(record['action'], inputs.shape[-1],
                          self.patch_size) for _, record in rollout[1:]
        ]
        logits = torch.stack([logits for logits, _ in rollout])
        return logits, torch.stack(corners) if corners else \
            inputs.new_zeros(0, inputs.shape[0], 2, dtype=torch.long)

    def _own_logits(self, step: int, feature: Tensor) -> Tensor:
        """The deep-supervision logits: the step's encoder's own head."""
        encoder = self.global_encoder if step == 0 else self.local_encoder
        return encoder.head.fc(feature)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """Stages 1 and 3: ``(sum_t CE(f_C) + dsn_ratio sum_t CE(own head))
        / T`` over the steps (authors' ``train.py``)."""
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            inputs.device)
        patches = 'random' if self.stage == 1 else 'sample'
        losses = dict()
        for t, (logits, record) in enumerate(self._rollout(inputs, patches)):
            own = self._own_logits(t, record['feature'])
            losses[f'loss_step{t + 1}'] = F.cross_entropy(
                logits, labels) / self.num_steps
            losses[f'loss_dsn_step{t + 1}'] = self.dsn_ratio * \
                F.cross_entropy(own, labels) / self.num_steps
        return losses

    def train_step(self, data, optim_wrapper) -> dict:
        """Stage 2 runs PPO (``ppo_epochs`` updates on one rollout); stages
        1 and 3 are mmengine's single update of :meth:`loss`."""
        if self.stage != 2:
            return super().train_step(data, optim_wrapper)
        data = self.data_preprocessor(data, True)
        inputs = data['inputs']
        labels = torch.cat([s.gt_label
                            for s in data['data_samples']]).to(inputs.device)
        with torch.no_grad():
            rollout = self._rollout(inputs, 'sample')
        focus = [record for _, record in rollout[1:]]
        # reward: gain of the true-class probability of f_C (Sec. 3.3)
        true_prob = torch.stack([
            logits.softmax(1).gather(1, labels[:, None])[:, 0]
            for logits, _ in rollout
        ])
        rewards = true_prob[1:] - true_prob[:-1]
        returns = discounted_returns(rewards, self.ppo_gamma)
        states = torch.stack([r['state'] for r in focus])
        actions = torch.stack([r['action'] for r in focus])
        old_logprobs = torch.stack([r['logprob'] for r in focus])
        for _ in range(self.ppo_epochs):
            with optim_wrapper.optim_context(self):
                logprobs, values, entropy = self.policy.evaluate(
                    states, actions)
                loss, terms = ppo_loss(logprobs, old_logprobs, values,
                                       returns, entropy, self.ppo_clip,
                                       self.ppo_value_coef,
                                       self.ppo_entropy_coef)
            optim_wrapper.update_params(loss)
        log_vars = dict(loss=loss.detach(), reward=rewards.mean(dim=1).sum())
        log_vars.update({f'ppo_{k}': v for k, v in terms.items()})
        return {k: v.item() for k, v in log_vars.items()}

    @torch.no_grad()
    def predict(self, inputs: Tensor,
                data_samples: List[DataSample]) -> List[DataSample]:
        """Every step's logits as ``step_logits`` ``(T, num_classes)`` (for
        :class:`~mmext.evaluation.metrics.MultiExitAccuracy`), the last
        step's scores as ``pred_score``."""
        logits = self.forward(inputs)
        for sample, sample_logits in zip(data_samples, logits.unbind(1)):
            sample.set_field(sample_logits, 'step_logits')
            sample.set_pred_score(sample_logits[-1].softmax(-1))
        return data_samples


#: the parts of a release (``*.pth.tar``) and the GFNet part each fills
_RELEASE_PARTS = (('model_prime_state_dict', 'global_encoder'),
                  ('model_state_dict', 'local_encoder'), ('fc', 'classifier'),
                  ('policy', 'policy'))


def _torchvision_resnet_rules(src: Dict[str, Tensor],
                              backbone: nn.Module) -> List[RenameRule]:
    """torchvision ResNet -> mmpretrain ``ResNet``: the same names
    (``conv1``, ``bn1``, ``layerX.Y.{convK,bnK,downsample.*}``)."""
    return [(r'fc\.', 'head.fc.'),
            (r'(conv1|bn1|layer\d+)\.', r'backbone.\1.')]


def _torchvision_densenet_rules(src: Dict[str, Tensor],
                                backbone: nn.Module) -> List[RenameRule]:
    """torchvision DenseNet (``features.{conv0,norm0,denseblockI,
    transitionI,norm5}``, ``classifier``) -> mmpretrain ``DenseNet``
    (``stem``, ``stages``, ``transitions``): mmpretrain's last transition
    is the final BN (and ReLU), torchvision's ``norm5``."""
    last = len(backbone.transitions) - 1
    return [
        (r'features\.conv0\.', 'backbone.stem.0.'),
        (r'features\.norm0\.', 'backbone.stem.1.'),
        (r'features\.denseblock(\d+)\.denselayer(\d+)\.', lambda m:
         f'backbone.stages.{int(m[1]) - 1}.block.{int(m[2]) - 1}.'),
        (r'features\.transition(\d+)\.',
         lambda m: f'backbone.transitions.{int(m[1]) - 1}.'),
        (r'features\.norm5\.', f'backbone.transitions.{last}.0.'),
        (r'classifier\.', 'head.fc.'),
    ]


def _pycls_block(m: re.Match, part: str) -> str:
    """mmext ``RegNetY``'s block of pycls' stage ``s<m[1]>`` block
    ``b<m[2]>`` (both 1-based), then ``part``."""
    return f'backbone.layer{m[1]}.{int(m[2]) - 1}.{part}.'


def _pycls_regnet_rules(src: Dict[str, Tensor],
                        backbone: nn.Module) -> List[RenameRule]:
    """pycls AnyNet / RegNet (``pycls/models/anynet.py``: ``stem.{conv,bn}``,
    ``sI.bJ.{proj,bn}`` for the shortcut, ``sI.bJ.f.{a,b,c}[_bn]`` and
    ``sI.bJ.f.se.f_ex.{0,2}`` for the bottleneck, ``fc``) -> mmext
    ``RegNetY`` (mmpretrain's ResNet names plus ``se``)."""
    block = r's(\d+)\.b(\d+)\.'
    return [
        (r'stem\.conv\.', 'backbone.conv1.'),
        (r'stem\.bn\.', 'backbone.bn1.'),
        (block + r'proj\.', lambda m: _pycls_block(m, 'downsample.0')),
        (block + r'bn\.', lambda m: _pycls_block(m, 'downsample.1')),
        (block + r'f\.se\.f_ex\.([02])\.',
         lambda m: _pycls_block(m, f'se.{int(m[3]) + 1}')),
        (block + r'f\.([abc])_bn\.',
         lambda m: _pycls_block(m, f'bn{"abc".index(m[3]) + 1}')),
        (block + r'f\.([abc])\.',
         lambda m: _pycls_block(m, f'conv{"abc".index(m[3]) + 1}')),
        (r'fc\.', 'head.fc.'),
    ]


#: gen-efficientnet / timm tensors of a unit -> mmpretrain's, by the kind
#: of unit: the stem, a depthwise-separable block (``conv_dw``,
#: ``conv_pw``), an inverted residual (``conv_pw``, ``conv_dw``,
#: ``conv_pwl``), a conv-BN-activation block (``conv``) and EfficientNet's
#: last 1x1 convolution (``conv_head``, ``bn2``)
_GEN_EFFICIENTNET_UNITS = {
    'stem': dict(conv_stem='conv', bn1='bn'),
    'ds': dict(conv_dw='depthwise_conv.conv', bn1='depthwise_conv.bn',
               conv_pw='linear_conv.conv', bn2='linear_conv.bn'),
    'ir': dict(conv_pw='expand_conv.conv', bn1='expand_conv.bn',
               conv_dw='depthwise_conv.conv', bn2='depthwise_conv.bn',
               conv_pwl='linear_conv.conv', bn3='linear_conv.bn'),
    'cba': dict(conv='conv', bn1='bn'),
    'head': dict(conv_head='conv', bn2='bn'),
}
_GEN_EFFICIENTNET_SE = {
    'se.conv_reduce': 'se.conv1.conv',
    'se.conv_expand': 'se.conv2.conv'
}


def _mmpretrain_units(backbone: nn.Module) -> List[str]:
    """The stem, blocks and last convolution of an mmpretrain
    ``EfficientNet`` / ``MobileNetV3`` (or mmext ``GenMobileNetV3``) in
    forward order: its outermost ``ConvModule`` / ``InvertedResidual``
    modules (``layers.I.J``, ``layerK`` or ``layers.K``)."""
    units = []
    for name, module in backbone.named_modules():
        if isinstance(module, (ConvModule, InvertedResidual)) and not any(
                name.startswith(unit + '.') for unit in units):
            units.append(name)
    return units


def _gen_efficientnet_rules(src: Dict[str, Tensor],
                            backbone: nn.Module) -> List[RenameRule]:
    """gen-efficientnet / timm EfficientNet and MobileNetV3 (``conv_stem``,
    ``bn1``, ``blocks.I.J.*``, ``conv_head``, [``bn2``], ``classifier``)
    -> mmpretrain ``EfficientNet`` / ``MobileNetV3`` or mmext
    ``GenMobileNetV3``.

    Both are a stem, a sequence of blocks and a 1x1 convolution; the
    stages are cut differently (mmpretrain's EfficientNet merges stride-1
    stages into the one before), so the ``n``-th block maps to the
    ``n``-th block, and each tensor by its name within the block's kind.
    MobileNetV3's ``conv_head`` (with bias, no BN) is the first layer of
    mmpretrain's ``StackedLinearClsHead``.
    """
    blocks = sorted({(int(m[1]), int(m[2]))
                     for m in map(re.compile(r'blocks\.(\d+)\.(\d+)\.').match,
                                  src) if m})
    units = [('', 'stem')]
    for i, j in blocks:
        block = f'blocks.{i}.{j}.'
        kind = ('ir' if block + 'conv_pwl.weight' in src else
                'ds' if block + 'conv_dw.weight' in src else 'cba')
        units.append((block, kind))
    efficientnet = 'bn2.weight' in src
    if efficientnet:
        units.append(('', 'head'))
    targets = _mmpretrain_units(backbone)
    if len(units) != len(targets):
        raise ValueError(
            f'{len(units)} stem, blocks and last convolution in the '
            f'checkpoint, {len(targets)} in the {type(backbone).__name__} '
            'of the config; not its architecture')
    rules = []
    for (prefix, kind), target in zip(units, targets):
        names = dict(_GEN_EFFICIENTNET_UNITS[kind])
        if kind in ('ds', 'ir'):
            names.update(_GEN_EFFICIENTNET_SE)
        rules += [(re.escape(f'{prefix}{theirs}.'),
                   f'backbone.{target}.{ours}.')
                  for theirs, ours in names.items()]
    if efficientnet:
        return rules + [(r'classifier\.', 'head.fc.')]
    return rules + [(r'conv_head\.', 'head.layers.0.fc.'),
                    (r'classifier\.', 'head.layers.1.fc.')]


#: the authors' encoder layouts: a key only that layout has, its name and
#: the rules from its keys to the mmpretrain ``ImageClassifier``'s
_ENCODER_LAYOUTS = (
    ('features.conv0.weight', 'torchvision DenseNet',
     _torchvision_densenet_rules),
    ('stem.conv.weight', 'pycls RegNet', _pycls_regnet_rules),
    ('conv_stem.weight', 'gen-efficientnet EfficientNet / MobileNetV3',
     _gen_efficientnet_rules),
    ('layer1.0.conv1.weight', 'torchvision ResNet', _torchvision_resnet_rules),
)


def _check_pytorch_conventions(encoder: nn.Module, what: str) -> None:
    """The authors' encoders are PyTorch-trained models (torchvision,
    pycls, gen-efficientnet): batch-norm eps 1e-5 and symmetric padding.
    mmpretrain's ``MobileNetV3`` and ``EfficientNet`` default to eps 1e-3,
    and its ``EfficientNet`` to TF's 'same' padding; loaded as they are,
    the weights would give other outputs.

    Raises:
        ValueError: ``encoder`` uses another eps or padding; the message
            says which ``backbone`` settings the config needs.
    """
    eps = sorted({
        m.eps
        for m in encoder.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.eps != 1e-5
    })
    tf_padding = any(
        isinstance(m, Conv2dAdaptivePadding) for m in encoder.modules())
    found, fix = [], []
    if eps:
        found.append(f'batch-norm eps {eps}')
        fix.append("norm_cfg=dict(type='BN', eps=1e-5)")
    if tf_padding:
        found.append("TF 'same' padding (Conv2dAdaptivePadding)")
        fix.append("conv_cfg=dict(type='Conv2d')")
    if found:
        backbone = type(encoder.backbone).__name__
        raise ValueError(
            f"{what}: the authors' encoders use PyTorch's batch-norm eps "
            f"1e-5 and padding; the config's {backbone} has "
            f"{' and '.join(found)}: set its backbone's {', '.join(fix)}")


def rename_encoder(src: Dict[str, Tensor], encoder: nn.Module,
                    what: str) -> Dict[str, Tensor]:
    """Map an authors' encoder (``src``, without ``module.``) onto
    ``encoder`` (an mmpretrain ``ImageClassifier``) by names.

    The layout is recognised by its keys (:data:`_ENCODER_LAYOUTS`) and
    ``encoder`` must follow PyTorch's conventions
    (:func:`_check_pytorch_conventions`); every key must map to one of
    ``encoder``'s, with its shape (a 1x1 convolution's weight fills a
    linear one: MobileNetV3's ``conv_head``), and every tensor of
    ``encoder`` but the batch-norm counters must be filled.

    Raises:
        KeyError: the layout is unknown, or a key is unmatched or left over
            (named, with ``what``).
        ValueError: a tensor does not fit, the number of blocks differs, or
            ``encoder``'s batch-norm eps or padding is not PyTorch's.
    """
    for marker, layout, rules_of in _ENCODER_LAYOUTS:
        if marker in src:
            break
    else:
        raise KeyError(
            f'{what}: not one of the encoders of the authors (none of the '
            f'keys {[marker for marker, _, _ in _ENCODER_LAYOUTS]})')
    _check_pytorch_conventions(encoder, what)
    target = encoder.state_dict()
    backbone = type(encoder.backbone).__name__
    try:
        rules = rules_of(src, encoder.backbone)
    except ValueError as e:
        raise ValueError(f'{what} ({layout}): {e}') from e
    out, sources = {}, {}
    for key, value in src.items():
        new = rename_by_rules(key, rules, f'{what}, {layout}')
        if new not in target:
            raise KeyError(
                f'{what}: {key!r} ({layout}) would be {new!r}, which the '
                f'{backbone} encoder of the config lacks; not its '
                'architecture')
        if new in out:
            raise KeyError(f'{what}: {sources[new]!r} and {key!r} both map '
                           f'to {new!r}')
        ref = target[new].shape
        if value.shape != ref and value.shape[:len(ref)] == ref and all(
                size == 1 for size in value.shape[len(ref):]):
            value = value.reshape(ref)
        if value.shape != ref:
            raise ValueError(
                f'{what}: {key!r} {tuple(value.shape)} does not fit {new!r} '
                f'{tuple(ref)} of the {backbone} encoder of the config')
        out[new], sources[new] = value, key
    check_converted(out, {k: v.shape for k, v in target.items()},
                    f'{what} ({layout})')
    return out


def checkpoint_filter_fn(checkpoint: dict, model: GFNet) -> Dict[str, Tensor]:
    """The state dict of ``model`` from the authors' checkpoint.

    Args:
        checkpoint (dict): A release (``model_prime_state_dict``,
            ``model_state_dict``, ``fc``, ``policy``, ...) or a checkpoint
            of their ``train.py`` (the same keys, without ``module.``).
        model (GFNet): The model it is for. Its encoders are mmpretrain
            ``ImageClassifier`` s of the authors' encoder: torchvision
            ResNet -> ``ResNet``, torchvision DenseNet -> ``DenseNet``,
            pycls RegNetY -> mmext ``RegNetY``, gen-efficientnet
            EfficientNet -> ``EfficientNet``, gen-efficientnet MobileNetV3
            -> ``MobileNetV3`` / ``GenMobileNetV3`` with a
            ``StackedLinearClsHead`` (the others: ``LinearClsHead``).

    Returns:
        dict: ``global_encoder.*``, ``local_encoder.*``, ``classifier.*``
        and ``policy.*`` tensors (the classifier and the policy keep the
        authors' names).

    Raises:
        KeyError: a part of the release is missing, an encoder's layout is
            unknown, or one of its keys has no counterpart in the model (or
            the reverse); the message names the key.
        ValueError: a tensor does not fit the model.
    """
    state_dict = {}
    for src_key, part in _RELEASE_PARTS:
        src = checkpoint.get(src_key)
        if not isinstance(src, dict):
            raise KeyError(f'no {src_key!r} (the {part}): not a GFNet '
                           'checkpoint')
        src = strip_prefix(src)
        if part.endswith('encoder'):
            src = rename_encoder(src, getattr(model, part), src_key)
        state_dict.update({f'{part}.{k}': v for k, v in src.items()})
    return state_dict


def released_calibration(checkpoint: dict) -> dict:
    """What a release stores besides weights (None where absent: the
    checkpoints of ``train.py`` store none of it).

    Returns:
        dict: ``thresholds`` (39 x T list, one row per ``p = k / 20``,
        ``dynamic_threshold``), ``step_costs`` (T cumulative MACs,
        ``flops``), ``anytime_accuracy`` and ``patch_size``.
    """
    def _list(value):
        if isinstance(value, Tensor):
            return value.tolist()
        return None if value is None else list(value)

    return dict(
        thresholds=_list(checkpoint.get('dynamic_threshold')),
        step_costs=_list(checkpoint.get('flops')),
        anytime_accuracy=_list(checkpoint.get('anytime_classification')),
        patch_size=checkpoint.get('patch_size'))
