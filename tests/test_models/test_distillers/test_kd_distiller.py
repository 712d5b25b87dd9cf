"""KDDistiller: frozen teachers, recorders, loss wiring, student export."""
import copy
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.distillers import (KDDistiller, ModuleOutputsRecorder,
                                     extract_student_state_dict)
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def classifier(arch='resnet8', num_classes=5):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='CIFARKDResNet', arch=arch),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.LinearClsHead',
            num_classes=num_classes,
            in_channels=64))


def distiller_cfg(teacher_ckpt=None, **overrides):
    cfg = dict(
        type='KDDistiller',
        student=classifier('resnet8'),
        teachers=dict(
            teacher=dict(model=classifier('resnet14'),
                         teacher_ckpt=teacher_ckpt)),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=5),
        recorders=dict(
            student=dict(logits='head.fc', feat='backbone.layer3'),
            teacher=dict(logits='head.fc', feat='backbone.layer3')),
        connectors=dict(
            proj=dict(type='ConvConnector', in_channels=64,
                      out_channels=64)),
        distill_losses=dict(
            loss_kd=dict(type='KDLoss', tau=4.0),
            loss_feat=dict(type='mmdet.MSELoss')),
        loss_inputs=dict(
            loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits'),
            loss_feat=dict(
                pred=dict(source='student.feat', connector='proj'),
                target='teacher.feat')))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    init_default_scope('mmpretrain')
    teacher = MODELS.build(classifier('resnet14'))
    teacher.init_weights()
    # non-trivial BN statistics, to see that training leaves them alone
    for m in teacher.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    save_checkpoint({'state_dict': teacher.state_dict()}, path)
    return path, teacher.state_dict()


def batch(n=4):
    inputs = torch.randint(0, 255, (n, 3, 32, 32)).float()
    samples = [DataSample().set_gt_label(i % 5) for i in range(n)]
    return dict(inputs=list(inputs), data_samples=samples)


def test_teacher_loaded_frozen_and_untouched_by_training(teacher_ckpt):
    path, ref = teacher_ckpt
    model = MODELS.build(distiller_cfg(path))
    model.init_weights()  # must not re-initialize the loaded teacher
    teacher = model.teachers['teacher']
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    assert all(not p.requires_grad for p in teacher.parameters())

    model.train()
    assert model.student.training and not teacher.training
    assert not any(m.training for m in teacher.modules())
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9)))
    student_before = copy.deepcopy(model.student.state_dict())
    proj_before = model.connectors['proj'].conv.conv.weight.detach().clone()
    for _ in range(2):
        model.train_step(batch(), optim)
    for k, v in teacher.state_dict().items():  # weights and BN buffers
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    changed = [
        k for k, v in model.student.state_dict().items()
        if not torch.equal(v, student_before[k])
    ]
    assert any('backbone.conv1.weight' in k for k in changed)
    assert any(k.endswith('running_mean') for k in changed)
    # the connector is trained with the student
    assert not torch.equal(model.connectors['proj'].conv.conv.weight,
                           proj_before)


def test_losses_and_recorded_values(teacher_ckpt):
    init_default_scope('mmpretrain')
    model = MODELS.build(distiller_cfg(teacher_ckpt[0]))
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_kd', 'loss_feat'}
    # the KD loss equals a direct computation from the two models' logits
    model.eval()
    with torch.no_grad():
        s = model.student(data['inputs'], mode='tensor')
        t = model.teachers['teacher'](data['inputs'], mode='tensor')
    model.train()
    p_t, log_p_s = (t / 4).softmax(1), (s / 4).log_softmax(1)
    # train-mode student BN differs from eval; recompute the student in
    # train mode through the recorder instead
    kd_train = losses['loss_kd']
    s_rec = model.recorders['student'].get('logits').detach()
    ref = 16 * (p_t * (p_t.log() - (s_rec / 4).log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(kd_train.detach(), ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        model.recorders['teacher'].get('logits'), t, rtol=1e-5, atol=1e-6)
    assert log_p_s.shape == (4, 5)
    # predict and tensor modes run the student alone
    preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert len(preds) == 4 and preds[0].pred_score.shape == (5, )


def test_missing_teacher_ckpt_warns():
    init_default_scope('mmpretrain')
    with pytest.warns(UserWarning, match='no teacher_ckpt'):
        MODELS.build(distiller_cfg(None))


def test_recorder_error_names_path_and_close_matches():
    net = torch.nn.Sequential()
    net.add_module('layer1', torch.nn.Linear(2, 2))
    net.add_module('layer2', torch.nn.Linear(2, 2))
    with pytest.raises(KeyError) as e:
        ModuleOutputsRecorder(net, dict(x='layer3'), owner='student')
    assert "'layer3'" in str(e.value) and 'layer1' in str(e.value)
    init_default_scope('mmpretrain')
    bad = distiller_cfg(None, recorders=dict(
        student=dict(logits='head.fcc'), teacher=dict(logits='head.fc')))
    with pytest.warns(UserWarning), pytest.raises(KeyError,
                                                  match="'head.fc'"):
        MODELS.build(bad)


def test_recorder_records_only_while_started():
    lin = torch.nn.Linear(2, 3)
    net = torch.nn.Sequential(lin)
    rec = ModuleOutputsRecorder(net, dict(out='0'), owner='m')
    net(torch.zeros(1, 2))
    with pytest.raises(RuntimeError, match='captured nothing'):
        rec.get('out')
    with rec:
        net(torch.zeros(1, 2))
        net(torch.ones(1, 2))
    torch.testing.assert_close(rec.get('out'), lin(torch.ones(1, 2)))
    torch.testing.assert_close(rec.get('out', 0), lin(torch.zeros(1, 2)))


def test_bad_loss_wiring():
    init_default_scope('mmpretrain')
    cfg = distiller_cfg(None)
    cfg['loss_inputs']['loss_kd']['preds_T'] = 'teacher.logitz'
    with pytest.warns(UserWarning), pytest.raises(KeyError,
                                                  match='names no recorder'):
        MODELS.build(cfg)
    cfg = distiller_cfg(None)
    cfg['loss_inputs']['loss_feat']['pred']['connector'] = 'nope'
    with pytest.warns(UserWarning), pytest.raises(KeyError,
                                                  match='unknown connector'):
        MODELS.build(cfg)


def load_script(path):
    spec = importlib.util.spec_from_file_location('script', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_teacher_tool(teacher_ckpt, tmp_path):
    init_default_scope('mmpretrain')
    model = MODELS.build(distiller_cfg(teacher_ckpt[0]))
    src = str(tmp_path / 'train.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 3},
                     'optimizer': {}}, src)
    tool = load_script(
        osp.join(REPO, 'tools', 'model_converters', 'strip_teacher.py'))
    dst = str(tmp_path / 'student.pth')
    assert tool.main([src, dst]) == 0
    ckpt = torch.load(dst, weights_only=False)
    assert not any(k.startswith(('teachers.', 'connectors.', 'student.'))
                   for k in ckpt['state_dict'])
    # the result loads strictly into the plain student classifier
    plain = MODELS.build(classifier('resnet8'))
    plain.load_state_dict(ckpt['state_dict'], strict=True)
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(v, model.student.state_dict()[k])
    assert ckpt['meta']['epoch'] == 3
    assert extract_student_state_dict(model.state_dict()).keys() == \
        plain.state_dict().keys()
    # a checkpoint without a student is refused with a message
    plain_src = str(tmp_path / 'plain.pth')
    save_checkpoint({'state_dict': plain.state_dict()}, plain_src)
    assert tool.main([plain_src, str(tmp_path / 'x.pth')]) == 1
    assert tool.main([str(tmp_path / 'missing.pth'),
                      str(tmp_path / 'x.pth')]) == 1


def test_needs_a_teacher():
    init_default_scope('mmpretrain')
    with pytest.raises(ValueError, match='at least one teacher'):
        KDDistiller(student=classifier(), teachers={}, recorders={},
                    distill_losses={}, loss_inputs={})


@pytest.mark.parametrize('source', [
    dict(source='student.feat', connector='proj'),  # nested connector dict
    None,  # missing
])
def test_connector_source_must_be_a_string(source):
    init_default_scope('mmpretrain')
    cfg = distiller_cfg(None)
    cfg['loss_inputs']['loss_feat']['pred'] = dict(connector='proj')
    if source is not None:
        cfg['loss_inputs']['loss_feat']['pred']['source'] = source
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match=r'loss_feat\.pred: "source" must be a string'):
        MODELS.build(cfg)
