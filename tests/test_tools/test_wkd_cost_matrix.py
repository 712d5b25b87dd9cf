"""tools/misc/wkd_cost_matrix.py on the smoke CIFAR-100 with a tiny teacher,
against the distances computed directly from the teacher."""
import importlib.util
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

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
