"""DAPL: unsupervised domain adaptation by prompt learning on a frozen CLIP.

`Domain Adaptation via Prompt Learning <https://arxiv.org/abs/2202.06687>`_
(Ge et al., 2022); authors' code: LeapLabTHU/DAPrompt
(``trainers/dapl.py``). CLIP comes from open_clip (``open_clip.create_model``),
so any open_clip architecture with CLIP's text tower works (RN50, RN101 and
ViT-B/16 in ``configs/dapl``).

One prompt per (domain ``d``, class ``c``)::

    [SOS] [ctx_1 .. ctx_M] [dom^d_1 .. dom^d_N] <class name> , a <domain> image.. [EOS]

``ctx`` is shared by all classes (or class-specific, the authors' VisDA-17
setting), ``dom^d`` belongs to domain ``d``; both are the only trained
parameters. The frozen zero-shot prompts ``a photo of a <class name>.`` give
the target pseudo-labels (Sec. 3.3).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.structures import DataSample

from mmext.datasets.uda_dataset import DOMAIN_ID_KEY, DOMAIN_NAMES_KEY
from mmext.registry import MODELS
from mmext.utils.validation import ArgumentError, check_arg

#: CLIP's normalisation (the authors' ``INPUT.PIXEL_MEAN/STD``), 0-255 scale
CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]
#: the placeholder word of a learned token (one BPE token, replaced by the
#: learned vector after embedding), as the authors' CoOp-style prompt
PLACEHOLDER = 'X'


def domain_prompt(classname: str, domain: str, num_learned: int) -> str:
    """The text of one domain prompt before embedding, as the authors build
    it (``prompt_prefix + " " + name + " " + ", a {domain} image." + "."``;
    the class name's underscores become spaces, the domain's do not)."""
    prefix = ' '.join([PLACEHOLDER] * num_learned)
    name = classname.replace('_', ' ')
    return f'{prefix} {name} , a {domain} image..'


def zero_shot_prompt(classname: str, template: str) -> str:
    """A frozen zero-shot prompt, e.g. ``'a photo of a {}.'``."""
    return template.format(classname.replace('_', ' '))


class _TextTower:
    """The pieces of open_clip's text tower that encode token embeddings.

    ``open_clip.CLIP`` keeps them on the model itself, ``CustomTextCLIP``
    under ``model.text`` (a ``TextTransformer``). Towers from Hugging Face
    (``hf_model_name``) or with a class token have another input path and
    are refused.
    """

    def __init__(self, clip: nn.Module) -> None:
        tower = getattr(clip, 'text', None) or clip
        needed = ('token_embedding', 'positional_embedding', 'transformer',
                  'ln_final', 'text_projection')
        if any(not hasattr(tower, name) for name in needed) or \
                getattr(tower, 'cls_emb', None) is not None:
            raise ArgumentError(
                f'DAPL: clip_cfg builds a {type(clip).__name__} whose text '
                "tower is not CLIP's transformer (token_embedding, "
                'positional_embedding, transformer, ln_final, '
                'text_projection, no class token); expected an open_clip '
                'CLIP-style model such as RN50 or ViT-B-16')
        self.tower = tower
        self.pool_type = getattr(tower, 'text_pool_type', None) or getattr(
            tower, 'pool_type', 'argmax')
        self.eos_id = getattr(tower, 'text_eos_id', None)
        if self.eos_id is None:
            self.eos_id = getattr(tower, 'eos_id', None)

    @property
    def width(self) -> int:
        return self.tower.positional_embedding.shape[-1]

    @property
    def context_length(self) -> int:
        return self.tower.positional_embedding.shape[0]

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, L)`` token ids -> ``(N, L, D)`` token embeddings."""
        return self.tower.token_embedding(tokens)

    def encode(self, embeddings: torch.Tensor,
               tokens: torch.Tensor) -> torch.Tensor:
        """``open_clip``'s ``encode_text`` from the token embeddings.

        Args:
            embeddings: ``(N, L, D)`` prompt embeddings (learned vectors in
                place of the placeholders).
            tokens: ``(N, L)`` the prompts' token ids; they locate the
                pooled token (the end-of-text token for CLIP's
                ``argmax`` pooling).

        Returns:
            ``(N, E)`` text features (not normalised).
        """
        tower = self.tower
        cast_dtype = tower.transformer.get_cast_dtype()
        x = embeddings.to(cast_dtype) + tower.positional_embedding.to(
            cast_dtype)
        x = tower.transformer(x, attn_mask=tower.attn_mask)
        x = tower.ln_final(x)
        from open_clip.transformer import text_global_pool
        x = text_global_pool(x, tokens, self.pool_type, eos_token_id=self.eos_id)
        proj = tower.text_projection
        if proj is not None:
            x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
        return x


class DAPLPromptLearner(nn.Module):
    """The learned context of DAPL's prompts (the authors' ``PromptLearner``
    parameters ``ctx`` and ``domain_vectors``).

    Both are initialised from N(0, ``init_std``) (no word initialisation).
    With ``class_specific=False`` it holds ``(n_ctx + n_domains * n_dmx) *
    width`` parameters: 24,576 for 16 + 2 x 16 tokens of width 512; with
    ``class_specific=True`` ``(n_cls * n_ctx + n_domains * n_dmx) * width``.

    Args:
        num_classes (int): Number of classes.
        width (int): Text token width (CLIP's ``ln_final`` width, 512 for
            RN50, RN101 and ViT-B/16).
        n_ctx (int): Domain-agnostic tokens. Defaults to 16.
        n_dmx (int): Domain-specific tokens per domain. Defaults to 16.
        num_domains (int): Domains (source + target). Defaults to 2.
        class_specific (bool): One context per class (CSC). Defaults to
            False.
        init_std (float): Std of the normal initialisation. Defaults to
            0.02.

    Shapes:
        - ctx: ``(n_ctx, width)`` or ``(num_classes, n_ctx, width)``
        - domain_vectors: ``(num_domains, n_dmx, width)``
        - output: ``(num_domains * num_classes, n_ctx + n_dmx, width)``,
          domain-major (row ``d * num_classes + c``)
    """

    def __init__(self,
                 num_classes: int,
                 width: int,
                 n_ctx: int = 16,
                 n_dmx: int = 16,
                 num_domains: int = 2,
                 class_specific: bool = False,
                 init_std: float = 0.02) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_domains = num_domains
        self.n_ctx = n_ctx
        self.n_dmx = n_dmx
        self.class_specific = class_specific
        shape = (num_classes, n_ctx, width) if class_specific else (n_ctx,
                                                                    width)
        self.ctx = nn.Parameter(torch.empty(shape))
        self.domain_vectors = nn.Parameter(
            torch.empty(num_domains, n_dmx, width))
        nn.init.normal_(self.ctx, std=init_std)
        nn.init.normal_(self.domain_vectors, std=init_std)

    def forward(self) -> torch.Tensor:
        """The learned tokens of every (domain, class) prompt."""
        ctx = self.ctx
        if not self.class_specific:
            ctx = ctx.unsqueeze(0).expand(self.num_classes, -1, -1)
        ctx = ctx.unsqueeze(0).expand(self.num_domains, -1, -1, -1)
        dmx = self.domain_vectors.unsqueeze(1).expand(
            -1, self.num_classes, -1, -1)
        learned = torch.cat([ctx, dmx], dim=2)
        return learned.reshape(self.num_domains * self.num_classes,
                               self.n_ctx + self.n_dmx, -1)


def checkpoint_filter_fn(
        state_dict: Dict[str, torch.Tensor],
        model: Optional['DAPL'] = None) -> Dict[str, torch.Tensor]:
    """Map the authors' prompt-learner checkpoint to mmext's keys.

    The authors save ``{'state_dict': {'ctx', 'domain_vectors',
    'token_prefix', 'token_suffix'}, ...}``; their ``load_model`` drops the
    two token buffers (embeddings of the class and domain words, which
    mmext recomputes from ``classnames`` and the domain names), and so does
    this function. ``ctx`` and ``domain_vectors`` become
    ``prompt_learner.ctx`` / ``prompt_learner.domain_vectors``.

    Args:
        state_dict: The authors' ``state_dict`` entry.
        model: When given, the shapes are checked against its prompt
            learner.

    Raises:
        KeyError: A key that is not the authors' (the first one named) or a
            missing ``ctx`` / ``domain_vectors``.
        ValueError: A shape that ``model`` does not have.
    """
    known = {'ctx', 'domain_vectors', 'token_prefix', 'token_suffix'}
    for key in state_dict:
        if key not in known:
            raise KeyError(f'no mmext counterpart for the key {key!r} '
                           "(expected the authors' DAPL prompt learner: "
                           f'{sorted(known)})')
    out = {}
    for key in ('ctx', 'domain_vectors'):
        if key not in state_dict:
            raise KeyError(f"DAPL checkpoint lacks {key!r}")
        out[f'prompt_learner.{key}'] = state_dict[key]
    if model is not None:
        for key, value in out.items():
            expected = model.state_dict()[key].shape
            if tuple(value.shape) != tuple(expected):
                raise ValueError(
                    f'shape of {key!r} is {tuple(value.shape)}, the DAPL '
                    f'model expects {tuple(expected)} (class_specific_ctx, '
                    'n_ctx, n_dmx and the class count must match the '
                    "authors' run)")
    return out


@MODELS.register_module()
class UDADataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that also takes the (source, target) pairs of
    :class:`mmext.datasets.UDADataset`.

    A pair batch (``inputs`` as ``[sources, targets]``, as
    ``pseudo_collate`` groups the pairs) becomes one batch of ``2B`` images,
    the ``B`` source images first; other batches pass unchanged. Arguments
    as ``ClsDataPreprocessor``.

    Shapes:
        - inputs: ``[[B x (3, H, W)], [B x (3, H, W)]]`` or ``B x (3, H, W)``
        - output inputs: ``(2B, 3, H, W)`` or ``(B, 3, H, W)``
    """

    def __init__(self, *args, pad_size_divisor: int = 1, **kwargs) -> None:
        check_arg(self, 'pad_size_divisor', pad_size_divisor, int, low=1)
        super().__init__(*args, pad_size_divisor=pad_size_divisor, **kwargs)

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2 and all(
                isinstance(x, (list, tuple)) for x in inputs):
            samples = data.get('data_samples') or [[], []]
            data = dict(
                data,
                inputs=list(inputs[0]) + list(inputs[1]),
                data_samples=list(samples[0]) + list(samples[1]))
        return super().forward(data, training)


@MODELS.register_module()
class DAPL(BaseModel):
    """Domain Adaptation via Prompt Learning on a frozen open_clip CLIP.

    Logits are CLIP's: ``logit_scale.exp() * cos(image, prompt)``. Training
    (Sec. 3.3, the authors' ``forward_backward``)::

        L = CE(source logits on source prompts, y)
            + target_loss_weight * sum(mask * CE(target logits on target
              prompts, y_hat)) / sum(mask)

    where ``y_hat`` and ``mask = max p >= pseudo_label_threshold`` come from
    ``p = softmax(zero-shot logits / temperature)`` of the frozen prompts
    (``zero_shot_template``). A batch without a confident target sample has
    no target term (the authors' code divides by zero there). Prediction
    uses the target domain's prompts.

    The image and text encoders are frozen and stay in eval mode (the
    authors' CLIP is in eval mode: their trainer only switches the prompt
    learner to training mode), so BatchNorm of the ResNet encoders keeps
    its statistics.

    The domain names enter the prompts as words. They come from the
    samples' metainfo (``domain_names``, set by
    :class:`mmext.datasets.UDADataset` for training and evaluation), or
    from ``domains`` when samples carry none; so one model config serves
    every source -> target pair of a benchmark.

    Args:
        clip_cfg (dict): Keyword arguments of ``open_clip.create_model``:
            ``model_name`` (e.g. ``'RN50-quickgelu'``), ``pretrained`` (a
            tag such as ``'openai'``, resolved through open_clip's cache,
            or a local file), and optionally architecture overrides
            (``embed_dim``, ``vision_cfg``, ``text_cfg``).
        classnames (Sequence[str]): Class names in label order (the
            dataset's ``classes``; underscores are read as spaces).
        domains (Sequence[str], optional): ``(source, target)`` domain
            words used when samples do not name them (e.g.
            ``('synthetic', 'real')``). Defaults to None.
        n_ctx (int): Domain-agnostic context tokens. Defaults to 16.
        n_dmx (int): Domain-specific tokens per domain. Defaults to 16.
        class_specific_ctx (bool): Class-specific context (CSC). Defaults
            to False.
        init_std (float): Std of the context initialisation. Defaults to
            0.02.
        pseudo_label_threshold (float): Confidence ``tau`` of a target
            pseudo-label. Defaults to 0.5.
        temperature (float): Temperature ``T`` of the zero-shot softmax.
            Defaults to 1.0.
        target_loss_weight (float): ``U``, the weight of the target term.
            Defaults to 1.0.
        zero_shot_template (str): The frozen prompt with ``{}`` for the
            class name. Defaults to ``'a photo of a {}.'``.
        data_preprocessor (dict, optional): Defaults to
            :class:`UDADataPreprocessor` with CLIP's mean and std (BGR
            images converted to RGB).
        init_cfg (dict, optional): Initialization config (the CLIP weights
            come from ``clip_cfg``).

    Shapes:
        - inputs: ``(N, 3, H, W)``; in training the source images first,
          then the target images (``metainfo['domain_id']`` 0 / 1)
        - logits: ``(N, num_domains * num_classes)`` domain-major
    """

    def __init__(self,
                 clip_cfg: dict,
                 classnames: Sequence[str],
                 domains: Optional[Sequence[str]] = None,
                 n_ctx: int = 16,
                 n_dmx: int = 16,
                 class_specific_ctx: bool = False,
                 init_std: float = 0.02,
                 pseudo_label_threshold: float = 0.5,
                 temperature: float = 1.0,
                 target_loss_weight: float = 1.0,
                 zero_shot_template: str = 'a photo of a {}.',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'clip_cfg', clip_cfg, dict)
        check_arg(self, 'classnames', classnames, (list, tuple))
        if len(classnames) < 2 or not all(
                isinstance(c, str) and c.strip() for c in classnames):
            raise ArgumentError(
                f'DAPL: classnames={classnames!r} is invalid; expected at '
                'least 2 non-empty class names in label order')
        check_arg(self, 'domains', domains, (list, tuple), allow_none=True)
        if domains is not None:
            self._check_domains(domains, 'domains')
        check_arg(self, 'n_ctx', n_ctx, int, low=0)
        check_arg(self, 'n_dmx', n_dmx, int, low=1)
        check_arg(self, 'class_specific_ctx', class_specific_ctx, bool)
        check_arg(self, 'init_std', init_std, float, low=0)
        check_arg(self, 'pseudo_label_threshold', pseudo_label_threshold,
                  float, low=0, high=1)
        check_arg(self, 'temperature', temperature, float, low=0,
                  low_open=True)
        check_arg(self, 'target_loss_weight', target_loss_weight, float,
                  low=0)
        check_arg(self, 'zero_shot_template', zero_shot_template, str)
        if zero_shot_template.count('{}') != 1:
            raise ArgumentError(
                f'DAPL: zero_shot_template={zero_shot_template!r} (str) is '
                "invalid; expected one '{}' for the class name")
        if 'model_name' not in clip_cfg:
            raise ArgumentError(
                f'DAPL: clip_cfg={clip_cfg!r} (dict) is invalid; expected '
                "the open_clip model_name, e.g. dict(model_name='RN50')")
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='UDADataPreprocessor',
                mean=CLIP_MEAN,
                std=CLIP_STD,
                to_rgb=True)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        import open_clip
        from open_clip.tokenizer import SimpleTokenizer

        self.clip = open_clip.create_model(**clip_cfg)
        self.clip.requires_grad_(False)
        self.clip.eval()
        self._text = _TextTower(self.clip)
        self.tokenizer = open_clip.get_tokenizer(
            clip_cfg['model_name'],
            context_length=self._text.context_length)
        if not isinstance(self.tokenizer, SimpleTokenizer):
            raise ArgumentError(
                f"DAPL: clip_cfg's model_name={clip_cfg['model_name']!r} "
                f'has a {type(self.tokenizer).__name__}; expected CLIP\'s '
                'BPE tokenizer (open_clip SimpleTokenizer)')
        self.classnames = tuple(classnames)
        self.domains = None if domains is None else tuple(domains)
        self.num_classes = len(classnames)
        self.n_ctx, self.n_dmx = n_ctx, n_dmx
        self.tau = pseudo_label_threshold
        self.temperature = temperature
        self.target_loss_weight = target_loss_weight
        self.zero_shot_template = zero_shot_template
        self.prompt_learner = DAPLPromptLearner(
            self.num_classes,
            self._text.width,
            n_ctx=n_ctx,
            n_dmx=n_dmx,
            num_domains=2,
            class_specific=class_specific_ctx,
            init_std=init_std)
        # token ids of the zero-shot prompts, and the class-name part of the
        # domain prompts checked against the context once (the domain
        # words are checked when they are known)
        self._check_lengths(('',), 'classnames')
        self.register_buffer(
            'zero_shot_tokens',
            self._tokenize([
                zero_shot_prompt(c, zero_shot_template) for c in classnames
            ], 'zero_shot_template'),
            persistent=False)
        self._prompt_cache: Dict[Tuple[str, ...], torch.Tensor] = {}

    # ------------------------------------------------------------ prompts
    @staticmethod
    def _check_domains(domains, key: str) -> None:
        if len(domains) != 2 or not all(
                isinstance(d, str) and d.strip() for d in domains):
            raise ArgumentError(
                f'DAPL: {key}={tuple(domains)!r} is invalid; expected '
                '(source, target): two non-empty domain names')

    def _tokenize(self, texts: List[str], key: str) -> torch.Tensor:
        """``(N, context_length)`` token ids; a text that does not fit
        (open_clip would cut its end-of-text token) is an error naming
        ``key``."""
        limit = self._text.context_length - 2  # SOS and EOS
        for text in texts:
            n = len(self.tokenizer.encode(text))
            if n > limit:
                raise ArgumentError(
                    f'DAPL: {key}: the prompt {text!r} has {n} tokens, '
                    f'more than the {limit} that the text context of '
                    f'{self._text.context_length} allows besides the start '
                    'and end tokens (n_ctx + n_dmx learned tokens are '
                    'part of it); shorten the name or reduce n_ctx/n_dmx')
        return self.tokenizer(texts)

    def _check_lengths(self, domains: Sequence[str], key: str) -> None:
        n = self.n_ctx + self.n_dmx
        self._tokenize([
            domain_prompt(c, d, n) for d in domains for c in self.classnames
        ], key)

    def prompt_tokens(self, domains: Sequence[str]) -> torch.Tensor:
        """``(2 * num_classes, context_length)`` token ids of the domain
        prompts (domain-major), built once per pair of domain words."""
        domains = tuple(domains)
        if domains not in self._prompt_cache:
            self._check_domains(domains, 'domains')
            n = self.n_ctx + self.n_dmx
            self._prompt_cache[domains] = self._tokenize([
                domain_prompt(c, d, n) for d in domains
                for c in self.classnames
            ], 'classnames/domains')
        return self._prompt_cache[domains]

    def text_features(self,
                      domains: Sequence[str],
                      domain_index: Optional[int] = None) -> torch.Tensor:
        """L2-normalised features of the learned prompts.

        Args:
            domains: ``(source, target)`` domain words.
            domain_index: Only this domain's prompts (0 source, 1 target).

        Returns:
            ``(2 * num_classes, E)``, or ``(num_classes, E)`` for one
            domain.
        """
        device = self.prompt_learner.ctx.device
        tokens = self.prompt_tokens(domains).to(device)
        n = self.n_ctx + self.n_dmx
        with torch.no_grad():
            fixed = self._text.embed(tokens)
        learned = self.prompt_learner().to(fixed.dtype)
        embeddings = torch.cat([fixed[:, :1], learned, fixed[:, 1 + n:]],
                               dim=1)
        if domain_index is not None:
            rows = slice(domain_index * self.num_classes,
                         (domain_index + 1) * self.num_classes)
            embeddings, tokens = embeddings[rows], tokens[rows]
        return F.normalize(self._text.encode(embeddings, tokens), dim=-1)

    @torch.no_grad()
    def zero_shot_features(self) -> torch.Tensor:
        """``(num_classes, E)`` normalised features of the frozen prompts."""
        tokens = self.zero_shot_tokens
        return F.normalize(
            self._text.encode(self._text.embed(tokens), tokens), dim=-1)

    # ------------------------------------------------------------ images
    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, E)`` normalised image features (the
        frozen encoder, no gradient)."""
        with torch.no_grad():
            return F.normalize(self.clip.encode_image(inputs), dim=-1)

    def logits(self, image_feats: torch.Tensor,
               text_feats: torch.Tensor) -> torch.Tensor:
        """CLIP's logits ``(N, K)`` from normalised features ``(N, E)`` and
        ``(K, E)``."""
        logits = self.clip.logit_scale.exp() * image_feats @ text_feats.t()
        bias = getattr(self.clip, 'logit_bias', None)
        return logits if bias is None else logits + bias

    def _domains_of(self, data_samples: Optional[List[DataSample]]
                    ) -> Tuple[str, str]:
        names = None
        for sample in data_samples or []:
            value = sample.metainfo.get(DOMAIN_NAMES_KEY)
            if value is not None:
                value = tuple(value)
                if names is not None and value != names:
                    raise ValueError(
                        f'DAPL: one batch names two domain pairs, {names} '
                        f'and {value}')
                names = value
        names = names or self.domains
        if names is None:
            raise ValueError(
                'DAPL: the domain names are unknown: wrap the datasets in '
                "UDADataset(domains=(source, target)) or set the model's "
                "'domains' key")
        return names

    # ------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> 'DAPL':
        super().train(mode)
        self.clip.eval()  # frozen encoders, BatchNorm statistics kept
        return self

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            feats = self.extract_feat(inputs)
            domains = self._domains_of(data_samples)
            return self.logits(feats, self.text_features(domains))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def pseudo_labels(self, image_feats: torch.Tensor
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Zero-shot pseudo-labels of ``(N, E)`` normalised target features.

        Returns:
            ``(labels (N,), mask (N,) float)``: the argmax of
            ``softmax(zero-shot logits / temperature)`` and whether its
            probability reaches ``pseudo_label_threshold``.
        """
        with torch.no_grad():
            logits = self.logits(image_feats, self.zero_shot_features())
            probs = torch.softmax(logits.float() / self.temperature, dim=-1)
            max_probs, labels = probs.max(dim=-1)
            return labels, max_probs.ge(self.tau).float()

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        domain_ids = [s.metainfo.get(DOMAIN_ID_KEY) for s in data_samples]
        if any(d not in (0, 1) for d in domain_ids):
            raise ValueError(
                'DAPL trains on (source, target) pairs: wrap the training '
                'datasets in UDADataset (its samples carry domain_id 0 / 1)')
        is_tgt = torch.tensor(domain_ids, device=inputs.device).bool()
        domains = self._domains_of(data_samples)
        feats = self.extract_feat(inputs)
        text = self.text_features(domains)
        c = self.num_classes
        src_feats, tgt_feats = feats[~is_tgt], feats[is_tgt]

        labels = torch.cat([
            s.gt_label for s, t in zip(data_samples, domain_ids) if t == 0
        ]).to(inputs.device)
        loss_x = F.cross_entropy(self.logits(src_feats, text[:c]), labels)
        pseudo, mask = self.pseudo_labels(tgt_feats)
        ce_u = F.cross_entropy(
            self.logits(tgt_feats, text[c:]), pseudo, reduction='none')
        # no confident target sample: no target term (not 0 / 0)
        loss_u = (ce_u * mask).sum() / mask.sum().clamp(min=1)
        return dict(
            loss_x=loss_x,
            loss_u=self.target_loss_weight * loss_u,
            mask_ratio=mask.mean().detach())

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Classify with the target domain's prompts (the authors' slice
        ``[:, -2, :]``, the last domain before the zero-shot prompts)."""
        domains = self._domains_of(data_samples)
        with torch.no_grad():
            logits = self.logits(
                self.extract_feat(inputs), self.text_features(domains, 1))
        scores = torch.softmax(logits.float(), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(scores))]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
