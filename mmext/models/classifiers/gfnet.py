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
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmext.models.heads.gfnet_policy import discounted_returns, ppo_loss
from mmext.models.utils.multi_exit import MultiExitMixin
from mmext.models.utils.patch_crop import crop_patches, patch_corners
from mmext.registry import MODELS
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
_BN_COUNTER = 'num_batches_tracked'


def _match_by_order(src: Dict[str, Tensor], target: Dict[str, Tensor],
                    what: str) -> Dict[str, Tensor]:
    """Map ``src`` onto ``target``'s keys by position.

    The authors' encoders (torchvision ResNet, timm MobileNetV3) register
    their tensors in the order of mmpretrain's counterparts, under other
    names; each pair is shape-checked (a 1x1 convolution's weight fills a
    linear one: timm's ``conv_head``). Batch-norm counters are left out.
    """
    src = [(k, v) for k, v in src.items() if not k.endswith(_BN_COUNTER)]
    target = [(k, v) for k, v in target.items()
              if not k.endswith(_BN_COUNTER)]
    if len(src) != len(target):
        raise ValueError(f'{what}: {len(src)} tensors in the checkpoint, '
                         f'{len(target)} in the model; not its architecture')
    out = {}
    for (src_key, value), (key, ref) in zip(src, target):
        if value.shape != ref.shape:
            if value.numel() != ref.numel() or value.dim() < ref.dim():
                raise ValueError(
                    f'{what}: {src_key!r} {tuple(value.shape)} does not fit '
                    f'{key!r} {tuple(ref.shape)}; not the architecture of '
                    'the model')
            value = value.reshape(ref.shape)
        out[key] = value
    return out


def checkpoint_filter_fn(checkpoint: dict, model: GFNet) -> Dict[str, Tensor]:
    """The state dict of ``model`` from the authors' checkpoint.

    Args:
        checkpoint (dict): A release (``model_prime_state_dict``,
            ``model_state_dict``, ``fc``, ``policy``, ...) or a checkpoint
            of their ``train.py`` (the same keys, without ``module.``).
        model (GFNet): The model it is for (its encoders' key order is
            the target of the positional mapping).

    Returns:
        dict: ``global_encoder.*``, ``local_encoder.*``, ``classifier.*``
        and ``policy.*`` tensors (the classifier and the policy keep the
        authors' names).

    Raises:
        KeyError: a part of the release is missing.
        ValueError: a part does not fit the model.
    """
    state_dict = {}
    for src_key, part in _RELEASE_PARTS:
        src = checkpoint.get(src_key)
        if not isinstance(src, dict):
            raise KeyError(f'no {src_key!r} (the {part}): not a GFNet '
                           'checkpoint')
        src = {k[len('module.'):] if k.startswith('module.') else k: v
               for k, v in src.items()}
        target = getattr(model, part).state_dict()
        if part.endswith('encoder'):
            src = _match_by_order(src, target, src_key)
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
