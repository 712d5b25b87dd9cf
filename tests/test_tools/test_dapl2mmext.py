"""tools/model_converters/dapl2mmext.py against a re-creation of the
authors' prompt-learner checkpoint (LeapLabTHU/DAPrompt trainers/dapl.py:
``PromptLearner`` buffers and forward, ``TextEncoder``, and the trainer's
``{'state_dict', 'epoch', 'optimizer', 'scheduler'}`` file with torch's SGD
and CosineAnnealingLR objects pickled inside)."""
import importlib.util
import os.path as osp
from collections import OrderedDict, defaultdict

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'model_converters', 'dapl2mmext.py')
CLIP = dict(
    model_name='RN50',
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=[1, 1, 1, 1], width=8,
                    patch_size=None),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                  layers=1))
CLASSES = ['aeroplane', 'bicycle', 'motor_cycle']
DOMAINS = ['synthetic', 'real']


def load_script():
    spec = importlib.util.spec_from_file_location('dapl2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def authors_text_features(clip, ctx, domain_vectors, csc):
    """The authors' PromptLearner + TextEncoder on an open_clip CLIP (their
    permute to sequence-first dropped: open_clip is batch-first)."""
    tokenizer = open_clip.get_tokenizer('RN50')
    n_ctx, n_dmx, n_cls, n_dm = 16, 16, len(CLASSES), len(DOMAINS)
    prompt_prefix = ' '.join(['X'] * (n_ctx + n_dmx))
    domainnames = [', a {} image.'.format(d) for d in DOMAINS]
    names = [name.replace('_', ' ') for name in CLASSES]
    prompts = [
        prompt_prefix + ' ' + name + ' ' + domain + '.'
        for domain in domainnames for name in names
    ]
    tokenized = tokenizer(prompts)
    with torch.no_grad():
        embedding = clip.token_embedding(tokenized)
    token_prefix = embedding[:, :1, :]
    token_suffix = embedding[:, 1 + n_ctx + n_dmx:, :]
    # forward()
    c = ctx
    if c.dim() == 2:
        c = c.unsqueeze(0).expand(n_dm, -1, -1)
        if not csc:
            c = c.unsqueeze(1).expand(-1, n_cls, -1, -1)
    else:
        c = c.unsqueeze(0).expand(n_dm, -1, -1, -1)
    dmx = domain_vectors.unsqueeze(1).expand(-1, n_cls, -1, -1)
    ctxdmx = torch.cat([c, dmx], dim=2).reshape(n_cls * n_dm, n_ctx + n_dmx,
                                                 -1)
    x = torch.cat([token_prefix, ctxdmx, token_suffix], dim=1)
    # TextEncoder
    x = x + clip.positional_embedding
    x = clip.transformer(x, attn_mask=clip.attn_mask)
    x = clip.ln_final(x)
    x = x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)] @ \
        clip.text_projection
    return x, token_prefix, token_suffix


@pytest.mark.parametrize('csc', [False, True])
def test_converted_prompts_give_the_authors_text_features(csc, tmp_path):
    torch.manual_seed(0)
    clip = open_clip.create_model(**CLIP).eval()
    clip_path = str(tmp_path / 'clip.pt')
    torch.save(clip.state_dict(), clip_path)
    width = 32
    ctx = torch.randn(len(CLASSES), 16, width) * 0.02 if csc else \
        torch.randn(16, width) * 0.02
    domain_vectors = torch.randn(2, 16, width) * 0.02
    with torch.no_grad():
        ref, prefix, suffix = authors_text_features(clip, ctx, domain_vectors,
                                                    csc)
    # the trainer's file, optimizer and scheduler objects included
    param = torch.nn.Parameter(ctx.clone())
    sgd = torch.optim.SGD([param], lr=3e-3, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=25)
    src = str(tmp_path / 'model-best.pth.tar')
    torch.save(
        {
            'state_dict':
            OrderedDict(
                domain_vectors=domain_vectors,
                ctx=ctx,
                token_prefix=prefix,
                token_suffix=suffix),
            'epoch': 2,
            'optimizer': {
                'state':
                defaultdict(dict, {0: {
                    'momentum_buffer': torch.zeros_like(ctx)
                }}),
                'param_groups': sgd.state_dict()['param_groups']
            },
            'scheduler': {
                'successor': sched,
                'last_epoch': 9523,
                'min_lr': 1e-5
            },
        }, src)
    dst = str(tmp_path / 'dapl_mmext.pth')
    assert load_script().main([src, dst]) == 0

    model = MODELS.build(
        dict(
            type='DAPL',
            clip_cfg=dict(CLIP, pretrained=clip_path),
            classnames=CLASSES,
            domains=DOMAINS,
            class_specific_ctx=csc))
    load_checkpoint(model, dst, map_location='cpu', strict=False)
    with torch.no_grad():
        ours = model.text_features(DOMAINS)
    torch.testing.assert_close(ours, F.normalize(ref, dim=-1))


def test_bad_checkpoints(tmp_path, capsys):
    script = load_script()
    src = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {'ctx': torch.zeros(16, 8),
                               'prompt.weight': torch.zeros(1)}}, src)
    assert script.main([src, str(tmp_path / 'out.pth')]) == 1
    assert "'prompt.weight'" in capsys.readouterr().err
    torch.save({'state_dict': {'ctx': torch.zeros(16, 8)}}, src)
    assert script.main([src, str(tmp_path / 'out.pth')]) == 1
    assert "lacks 'domain_vectors'" in capsys.readouterr().err
