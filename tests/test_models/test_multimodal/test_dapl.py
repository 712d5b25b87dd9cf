"""DAPL (mmext/models/multimodal/dapl.py) on small random open_clip models.

References are independent of the code under test: open_clip's own
tokenizer and ``encode_text``, loops over samples with explicit cosine
similarities, the closed-form parameter counts of the authors' prompt
learner (16 x 512 shared or n_cls x 16 x 512 class-specific context plus
2 x 16 x 512 domain tokens).
"""
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.multimodal.dapl import DAPL, _TextTower
from mmext.registry import MODELS

TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)
RN = dict(
    model_name='RN50',
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=[1, 1, 1, 1], width=8,
                    patch_size=None),
    text_cfg=TEXT)
VIT = dict(
    model_name='ViT-B-16',
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=TEXT)
CLASSES = ['alarm_clock', 'bed', 'tv']
DOMAINS = ('art', 'real_world')


def build(clip_cfg=RN, **kwargs):
    cfg = dict(type='DAPL', clip_cfg=clip_cfg, classnames=CLASSES)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build(domains=DOMAINS)


def samples(domain_ids, labels, domains=DOMAINS):
    return [
        DataSample(metainfo=dict(domain_id=d, domain_names=domains))
        .set_gt_label(y) for d, y in zip(domain_ids, labels)
    ]


def test_prompt_tokens_against_open_clip_tokenizer(model):
    tok = open_clip.get_tokenizer('RN50')
    sot, eot = tok.sot_token_id, tok.eot_token_id
    x = tok.encode('X')
    assert len(x) == 1  # one placeholder token per learned vector
    tokens = model.prompt_tokens(DOMAINS)
    assert tokens.shape == (2 * len(CLASSES), 77)
    for d, domain in enumerate(DOMAINS):
        for c, name in enumerate(CLASSES):
            # the authors' text: 32 placeholders, the class name with
            # spaces, then ", a <domain> image." and one more "."
            expected = ([sot] + x * 32 + tok.encode(name.replace('_', ' ')) +
                        tok.encode(f', a {domain} image..') + [eot])
            row = tokens[d * len(CLASSES) + c]
            assert row[:len(expected)].tolist() == expected
            assert not row[len(expected):].any()
            # CLIP pools the end-of-text token, the largest id
            assert int(row.argmax()) == len(expected) - 1
    # the domain word keeps its underscore, the class name does not
    assert tok.encode('real_world') != tok.encode('real world')


def test_assembled_embeddings(model):
    """SOS, ctx (16), the domain's vectors (16), then the fixed words."""
    pl = model.prompt_learner
    captured = {}
    tower = model._text
    original = tower.encode

    def spy(embeddings, tokens):
        captured['emb'], captured['tok'] = embeddings, tokens
        return original(embeddings, tokens)

    tower.encode = spy
    try:
        model.text_features(DOMAINS)
    finally:
        tower.encode = original
    emb, tok = captured['emb'], captured['tok']
    fixed = model.clip.token_embedding(tok)
    for row in range(emb.shape[0]):
        d = row // len(CLASSES)
        torch.testing.assert_close(emb[row, 0], fixed[row, 0])
        torch.testing.assert_close(emb[row, 1:17], pl.ctx)
        torch.testing.assert_close(emb[row, 17:33], pl.domain_vectors[d])
        torch.testing.assert_close(emb[row, 33:], fixed[row, 33:])


@pytest.mark.parametrize('clip_cfg', [RN, VIT], ids=['rn', 'vit'])
def test_text_tower_equals_encode_text(clip_cfg):
    torch.manual_seed(0)
    clip = open_clip.create_model(**clip_cfg).eval()
    tokens = open_clip.get_tokenizer('RN50')(['a photo of a bed.', 'tv'])
    tower = _TextTower(clip)
    with torch.no_grad():
        ours = tower.encode(tower.embed(tokens), tokens)
        ref = clip.encode_text(tokens)
    torch.testing.assert_close(ours, ref)


def test_logits_and_prediction_use_target_prompts(model):
    torch.manual_seed(1)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        img = model.clip.encode_image(x)
        out = model.predict(x, samples([1, 1, 1], [0, 1, 2]))
        text = model.text_features(DOMAINS)
    scale = model.clip.logit_scale.exp()
    c = len(CLASSES)
    for i in range(3):
        logits = torch.stack([
            scale * F.cosine_similarity(img[i], text[c + k], dim=0)
            for k in range(c)
        ])
        torch.testing.assert_close(out[i].pred_score, logits.softmax(0))
        assert int(out[i].pred_label) == int(logits.argmax())


def test_pseudo_label_mask(model):
    """Confident zero-shot predictions (max softmax >= 0.5) only; checked
    with hand-made features whose zero-shot probabilities are known."""
    zs = model.zero_shot_features()
    scale = float(model.clip.logit_scale.exp())
    # a feature equal to a class's zero-shot text feature, and the mean of
    # all (ambiguous); probabilities by an explicit softmax
    feats = F.normalize(torch.stack([zs[0], zs[2], zs.mean(0)]), dim=-1)
    labels, mask = model.pseudo_labels(feats)
    for i in range(3):
        logits = [scale * float(feats[i] @ zs[k]) for k in range(len(zs))]
        m = max(logits)
        probs = [math.exp(v - m) for v in logits]
        probs = [p / sum(probs) for p in probs]
        assert int(labels[i]) == max(range(len(probs)), key=probs.__getitem__)
        assert float(mask[i]) == float(max(probs) >= 0.5)
    model.tau = 0.0
    try:
        assert model.pseudo_labels(feats)[1].all()
    finally:
        model.tau = 0.5


def test_loss_against_per_sample_loop(model):
    torch.manual_seed(2)
    x = torch.randn(6, 3, 32, 32)
    ds = samples([0, 0, 0, 1, 1, 1], [0, 2, 1, -1, -1, -1])
    model.tau = 0.0  # every target sample counts
    try:
        losses = model.loss(x, ds)
    finally:
        model.tau = 0.5
    with torch.no_grad():
        img = F.normalize(model.clip.encode_image(x), dim=-1)
        text = model.text_features(DOMAINS)
        zs = model.zero_shot_features()
    scale = model.clip.logit_scale.exp()
    c = len(CLASSES)
    ce_x, ce_u = [], []
    for i in range(6):
        if i < 3:
            logits = scale * img[i] @ text[:c].T
            ce_x.append(-logits.log_softmax(0)[int(ds[i].gt_label)])
        else:
            y_hat = int((scale * img[i] @ zs.T).argmax())
            logits = scale * img[i] @ text[c:].T
            ce_u.append(-logits.log_softmax(0)[y_hat])
    torch.testing.assert_close(losses['loss_x'], sum(ce_x) / 3)
    torch.testing.assert_close(losses['loss_u'], sum(ce_u) / 3)
    assert float(losses['mask_ratio']) == 1.0


def test_no_confident_target_gives_no_target_term(model):
    x = torch.randn(4, 3, 32, 32)
    model.tau = 1.0 + 1e-6  # nothing is that confident
    try:
        losses = model.loss(x, samples([0, 0, 1, 1], [0, 1, -1, -1]))
    finally:
        model.tau = 0.5
    assert float(losses['loss_u']) == 0.0
    assert torch.isfinite(losses['loss_x'])


@pytest.mark.parametrize('csc', [False, True])
def test_only_prompt_parameters_get_gradients(csc):
    torch.manual_seed(0)
    m = build(class_specific_ctx=csc)
    m.train()
    assert not m.clip.training  # frozen encoders stay in eval mode
    losses = m.loss(
        torch.randn(4, 3, 32, 32), samples([0, 0, 1, 1], [0, 1, -1, -1]))
    (losses['loss_x'] + losses['loss_u'] + 1e-3 *
     m.prompt_learner.domain_vectors[1].sum()).backward()
    with_grad = {n for n, p in m.named_parameters() if p.grad is not None}
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    expected = {'prompt_learner.ctx', 'prompt_learner.domain_vectors'}
    assert with_grad == trainable == expected
    assert m.prompt_learner.ctx.grad.abs().sum() > 0


def _count(num_classes, csc):
    width512 = dict(RN, text_cfg=dict(TEXT, width=512, heads=8))
    m = build(
        width512,
        classnames=[f'class {i}' for i in range(num_classes)],
        class_specific_ctx=csc)
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_parameter_counts_equal_the_authors():
    # Office-Home (65 classes) and VisDA-17 (12), text width 512 as RN50,
    # RN101 and ViT-B/16; 2 domains
    assert _count(65, False) == 16 * 512 + 2 * 16 * 512 == 24576
    assert _count(12, False) == 24576
    assert _count(65, True) == 65 * 16 * 512 + 2 * 16 * 512 == 548864
    assert _count(12, True) == 12 * 16 * 512 + 2 * 16 * 512 == 114688


def test_domains_from_samples_or_config():
    m = build()  # no domains configured
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match="'domains' key"):
        m.predict(x)
    out = m.predict(x, samples([1, 1], [0, 1], ('synthetic', 'real')))
    assert len(out) == 2
    assert ('synthetic', 'real') in m._prompt_cache


def test_too_long_class_name_names_the_key():
    long_name = ' '.join(['word'] * 40)
    with pytest.raises(ValueError) as e:
        build(classnames=['cat', long_name])
    msg = str(e.value)
    assert msg.startswith('DAPL: classnames:') and 'tokens' in msg
    assert 'n_ctx' in msg
    # a name that fits alone, too long with a long domain word
    m = build(classnames=['cat', ' '.join(['word'] * 30)])
    with pytest.raises(ValueError, match='classnames/domains'):
        m.prompt_tokens(('art', ' '.join(['domain'] * 10)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="DAPL: classnames=\\['cat'\\]"):
        build(classnames=['cat'])
    with pytest.raises(ValueError, match='DAPL: domains='):
        build(domains=('only one', ))
    with pytest.raises(ValueError, match="one '\\{\\}'"):
        build(zero_shot_template='a photo')
    with pytest.raises(ValueError, match='model_name'):
        build(clip_cfg=dict(pretrained='openai'))


def test_loss_needs_domain_ids(model):
    with pytest.raises(ValueError, match='UDADataset'):
        model.loss(
            torch.randn(2, 3, 32, 32), [DataSample().set_gt_label(0)] * 2)


def test_locally_saved_weights_load_through_open_clip(tmp_path):
    torch.manual_seed(3)
    clip = open_clip.create_model(**RN)
    path = str(tmp_path / 'clip.pt')
    torch.save(clip.state_dict(), path)
    m = build(dict(RN, pretrained=path))
    for k, v in clip.state_dict().items():
        torch.testing.assert_close(m.clip.state_dict()[k], v)
