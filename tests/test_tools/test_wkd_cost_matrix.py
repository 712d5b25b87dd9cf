"""tools/misc/wkd_cost_matrix.py on the smoke CIFAR-100 with a tiny teacher,
against the distances computed directly from the teacher."""
import importlib.util
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from torch.utils.data import DataLoader

import mmext  # noqa: F401
from mmext.models.utils import cka_distance_matrix
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'misc', 'wkd_cost_matrix.py')

CONFIG = """
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CIFARKDResNet', arch='resnet8'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64))
data_preprocessor = dict(num_classes=100, mean=[128.] * 3, std=[64.] * 3)
train_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(type='SmokeCIFAR100', data_root='{root}', split='train',
                 pipeline=[dict(type='RandomFlip', prob=1.0),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(type='SmokeCIFAR100', data_root='{root}', split='test',
                 pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""


def load_script():
    spec = importlib.util.spec_from_file_location('wkd_cost_matrix', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_cifar100_format(smoke_data):
    folder = osp.join(smoke_data, 'cifar100', 'cifar-100-python')
    with open(osp.join(folder, 'train'), 'rb') as f:
        entry = pickle.load(f, encoding='latin1')
    assert entry['data'].dtype == np.uint8 and entry['data'].shape[1] == 3072
    assert sorted(set(entry['fine_labels'])) == list(range(100))
    with open(osp.join(folder, 'meta'), 'rb') as f:
        assert len(pickle.load(f)['fine_label_names']) == 100


def test_cost_matrix_tool(smoke_data, tmp_path):
    root = osp.join(smoke_data, 'cifar100')
    cfg_path = tmp_path / 'teacher.py'
    cfg_path.write_text(CONFIG.replace('{root}', root))
    init_default_scope('mmpretrain')
    teacher = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='CIFARKDResNet', arch='resnet8'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=100, in_channels=64),
            data_preprocessor=dict(
                num_classes=100, mean=[128.] * 3, std=[64.] * 3)))
    teacher.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint({'state_dict': teacher.state_dict()}, ckpt)
    tool = load_script()

    out = str(tmp_path / 'fc.pth')
    assert tool.main([str(cfg_path), ckpt, out, '--method', 'fc']) == 0
    w = teacher.head.fc.weight.detach()
    w = w / w.norm(dim=1, keepdim=True)
    torch.testing.assert_close(torch.load(out), 1 - w @ w.t())

    out = str(tmp_path / 'cka.pth')
    assert tool.main([str(cfg_path), ckpt, out]) == 0
    dist = torch.load(out)
    # reference: the last stage's maps of the un-augmented training images,
    # grouped per class (the smoke labels cycle 0..99, 2 images each)
    from mmext.datasets import SmokeCIFAR100
    ds = SmokeCIFAR100(data_root=root, split='train', pipeline=[])
    imgs = torch.from_numpy(np.stack([d['img'] for d in ds])).permute(
        0, 3, 1, 2).float()
    labels = [d['gt_label'] for d in ds]
    teacher.eval()
    with torch.no_grad():
        feats = teacher.backbone((imgs - 128) / 64)[-1]
    per_class = [
        torch.cat([
            feats[i].flatten(1).t() for i in range(len(labels))
            if labels[i] == k
        ]) for k in range(100)
    ]
    ref = cka_distance_matrix(torch.stack(per_class))
    torch.testing.assert_close(dist, ref, rtol=1e-4, atol=1e-5)
    assert dist.shape == (100, 100) and (dist.diagonal() == 0).all()


@pytest.mark.parametrize('num_samples,seed', [(7, 0), (100, 0), (1000, 3)])
def test_shuffled_order_is_the_authors_loader(num_samples, seed):
    # the authors' loader: DataLoader(shuffle=True, generator seeded `seed`)
    generator = torch.Generator()
    generator.manual_seed(seed)
    loader = DataLoader(
        list(range(num_samples)),
        batch_size=16,
        shuffle=True,
        generator=generator)
    expected = torch.cat(list(loader)).tolist()
    assert load_script().shuffled_order(num_samples, seed) == expected


def _numpy_linear_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(y.T @ x)**2 / (
        np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


DIGITS_CONFIG = """
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CIFARKDResNet', arch='resnet8'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
data_preprocessor = dict(num_classes=10, mean=[128.] * 3, std=[64.] * 3)
train_dataloader = dict(
    batch_size=64, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}',
                 data_prefix='train', indices=list(range(0, 1300, 5)),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='RandomFlip', prob=1.0),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=64, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}', data_prefix='val',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""


def test_logit_cka_pairs_in_the_authors_shuffled_order(smoke_data, tmp_path):
    root = osp.join(smoke_data, 'digits')
    cfg_path = tmp_path / 'teacher.py'
    cfg_path.write_text(DIGITS_CONFIG.replace('{root}', root))
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(cfg_path))
    teacher = MODELS.build(
        dict(**cfg.model, data_preprocessor=cfg.data_preprocessor))
    teacher.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint({'state_dict': teacher.state_dict()}, ckpt)
    tool = load_script()
    out = str(tmp_path / 'logit.pth')
    assert tool.main([str(cfg_path), ckpt, out, '--method', 'cka-logit']) == 0
    dist = torch.load(out)

    # reference: logits of the un-augmented training images, each class's
    # rows in the order of the authors' seeded shuffled loader
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(
        data_root=root,
        data_prefix='train',
        indices=list(range(0, 1300, 5)),
        pipeline=[dict(type='LoadImageFromFile')])
    samples = [ds[i] for i in range(len(ds))]
    imgs = torch.from_numpy(np.stack([s['img'] for s in samples])).permute(
        0, 3, 1, 2).float()
    labels = np.array([s['gt_label'] for s in samples])
    teacher.eval()
    with torch.no_grad():
        logits = teacher((imgs - 128) / 64, mode='tensor').numpy()
    generator = torch.Generator()
    generator.manual_seed(0)
    order = torch.cat(
        list(
            DataLoader(
                list(range(len(ds))),
                batch_size=7,
                shuffle=True,
                generator=generator))).numpy()

    def per_class(indices):
        rows = [[i for i in indices if labels[i] == k] for k in range(10)]
        n = min(len(r) for r in rows)
        return [logits[r[:n]] for r in rows]

    shuffled, in_file = per_class(order), per_class(range(len(ds)))
    ref = np.array([[1 - _numpy_linear_cka(a, b) for b in shuffled]
                    for a in shuffled])
    file_ref = np.array([[1 - _numpy_linear_cka(a, b) for b in in_file]
                         for a in in_file])
    np.testing.assert_allclose(dist.numpy(), ref, rtol=1e-4, atol=1e-5)
    # the pairing matters: file order gives another matrix
    assert np.abs(ref - file_ref).max() > 1e-3
    out = str(tmp_path / 'logit_file.pth')
    assert tool.main([
        str(cfg_path), ckpt, out, '--method', 'cka-logit', '--order', 'file'
    ]) == 0
    np.testing.assert_allclose(
        torch.load(out).numpy(), file_ref, rtol=1e-4, atol=1e-5)


def test_wrn_features_before_the_final_bn_relu(smoke_data, tmp_path):
    root = osp.join(smoke_data, 'cifar100')
    cfg_path = tmp_path / 'wrn.py'
    cfg_path.write_text(
        CONFIG.replace('{root}', root).replace(
            "dict(type='CIFARKDResNet', arch='resnet8')",
            "dict(type='CIFARWideResNet', arch='wrn-16-1')"))
    init_default_scope('mmpretrain')
    teacher = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='CIFARWideResNet', arch='wrn-16-1'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=100, in_channels=64),
            data_preprocessor=dict(
                num_classes=100, mean=[128.] * 3, std=[64.] * 3)))
    teacher.init_weights()
    # a non-trivial final BN, so that before/after it differ
    with torch.no_grad():
        teacher.backbone.norm_out.weight.uniform_(0.5, 2)
        teacher.backbone.norm_out.bias.uniform_(-1, 1)
    ckpt = str(tmp_path / 'wrn.pth')
    save_checkpoint({'state_dict': teacher.state_dict()}, ckpt)
    out = str(tmp_path / 'cka.pth')
    assert load_script().main([str(cfg_path), ckpt, out]) == 0

    from mmext.datasets import SmokeCIFAR100
    ds = SmokeCIFAR100(data_root=root, split='train', pipeline=[])
    imgs = torch.from_numpy(np.stack([d['img'] for d in ds])).permute(
        0, 3, 1, 2).float()
    labels = [d['gt_label'] for d in ds]
    backbone = teacher.eval().backbone
    with torch.no_grad():
        # the last block's output, called directly (the authors' feats[-1])
        x = backbone.conv1((imgs - 128) / 64)
        feats = backbone.layer3(backbone.layer2(backbone.layer1(x)))
    per_class = [
        torch.cat([
            feats[i].flatten(1).t() for i in range(len(labels))
            if labels[i] == k
        ]).numpy() for k in range(100)
    ]
    ref = np.array([[1 - _numpy_linear_cka(a, b) for b in per_class[:5]]
                    for a in per_class[:5]])
    np.testing.assert_allclose(
        torch.load(out)[:5, :5].numpy(), ref, rtol=1e-4, atol=1e-5)
