"""StudentExportHook: after training, the student alone is written; it
loads strictly into the plain student model with the trained weights."""
import copy
from contextlib import nullcontext

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint, save_checkpoint
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

import mmext  # noqa: F401
from mmext.engine.hooks import StudentExportHook
from mmext.registry import HOOKS, MODELS

NUM_CLASSES = 3


def classifier(arch='resnet8'):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='CIFARKDResNet', arch=arch),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.LinearClsHead',
            num_classes=NUM_CLASSES,
            in_channels=64))


CLS_PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor', num_classes=NUM_CLASSES)


def kd_cfg():
    return dict(
        type='KDDistiller',
        student=classifier(),
        teachers=dict(teacher=dict(model=classifier())),
        data_preprocessor=CLS_PREPROCESSOR,
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


def eekd_cfg(tmp_path):
    ckpts = []
    for i in range(2):
        torch.manual_seed(i)
        teacher = MODELS.build(classifier())
        teacher.init_weights()
        ckpts.append(str(tmp_path / f'snapshot_epoch_{i + 1}.pth'))
        save_checkpoint({'state_dict': teacher.state_dict()}, ckpts[-1])
    return dict(
        type='EEKDDistiller',
        student=classifier(),
        teacher=dict(model=classifier()),
        teacher_ckpts=ckpts,
        data_preprocessor=CLS_PREPROCESSOR,
        attention=dict(type='EnsembleAttention', student_channels=64,
                       teacher_channels=64, embed_dims=8),
        ensemble_loss=dict(type='EnsembleKDLoss', tau=5.0, loss_weight=0.5))


def cls_data():
    return [
        dict(inputs=torch.randint(0, 255, (3, 32, 32)).float(),
             data_samples=DataSample().set_gt_label(i % NUM_CLASSES))
        for i in range(4)
    ]


def tiny_faster_rcnn(width):
    m = get_config(
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').model.to_dict()
    m['backbone'].update(depth=18, base_channels=width, init_cfg=None)
    m['neck'].update(in_channels=[width * 2**i for i in range(4)],
                     out_channels=16)
    m['rpn_head'].update(in_channels=16, feat_channels=16)
    m['roi_head']['bbox_roi_extractor'].update(out_channels=16)
    m['roi_head']['bbox_head'].update(
        in_channels=16, fc_out_channels=16, num_classes=NUM_CLASSES)
    m['train_cfg']['rcnn']['sampler'].update(num=32)
    return ConfigDict(m)


def det_kd_cfg():
    return dict(
        type='DetKDDistiller',
        student=tiny_faster_rcnn(8),
        teachers=dict(teacher=dict(model=tiny_faster_rcnn(8))),
        recorders=dict(
            student=dict(logits='roi_head.bbox_head.fc_cls'),
            teacher=dict(logits='roi_head.bbox_head.fc_cls')),
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=2.0)),
        loss_inputs=dict(
            loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits')))


def det_data():
    packed = demo_mm_inputs(
        2, [[3, 96, 128], [3, 96, 128]], num_items=[2, 3],
        num_classes=NUM_CLASSES)
    return [
        dict(inputs=x, data_samples=s)
        for x, s in zip(packed['inputs'], packed['data_samples'])
    ]


def train(tmp_path, model, data, hooks, name):
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(
            data, batch_size=2, shuffle=False, collate_fn=pseudo_collate),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint=None),
        custom_hooks=hooks,
        experiment_name=f'student_export_{name}_{tmp_path.name}')
    runner.train()
    return runner


def test_registered_and_arguments():
    assert HOOKS.get('StudentExportHook') is StudentExportHook
    with pytest.raises(ValueError, match='filename'):
        StudentExportHook(filename='')
    with pytest.raises(ValueError, match='out_dir'):
        StudentExportHook(out_dir=3)


@pytest.mark.parametrize('kind', ['kd', 'eekd', 'det_kd'])
def test_exported_student_loads_into_plain_model(tmp_path, kind):
    scope = 'mmdet' if kind == 'det_kd' else 'mmpretrain'
    init_default_scope(scope)
    torch.manual_seed(0)
    cfg = dict(kd=kd_cfg, eekd=lambda: eekd_cfg(tmp_path),
               det_kd=det_kd_cfg)[kind]()
    with pytest.warns(UserWarning, match='no teacher_ckpt') \
            if kind != 'eekd' else nullcontext():
        model = MODELS.build(cfg)
    model.init_weights()
    initial = copy.deepcopy(model.student.state_dict())
    data = det_data() if kind == 'det_kd' else cls_data()
    runner = train(tmp_path, model, data,
                   [dict(type='StudentExportHook')], kind)

    path = tmp_path / 'student_final.pth'
    assert path.is_file()
    init_default_scope(scope)
    plain = MODELS.build(cfg['student'])
    ckpt = load_checkpoint(plain, str(path), map_location='cpu', strict=True)
    assert not any(
        k.startswith(('teacher', 'student.', 'connectors', 'attention',
                      'distill_losses')) for k in ckpt['state_dict'])
    assert set(ckpt) == {'state_dict', 'meta'}  # no optimizer state
    trained = runner.model.student.state_dict()
    assert ckpt['state_dict'].keys() == trained.keys()
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(v, trained[k], rtol=0, atol=0)
    # the final weights, not the initial ones
    assert any(not torch.equal(initial[k], trained[k]) for k in trained)
    assert ckpt['meta']['epoch'] == 1
    assert ckpt['meta']['iter'] == len(data) // 2
    assert ckpt['meta']['exported_from'] == type(model).__name__


def test_custom_filename_and_directory(tmp_path):
    init_default_scope('mmpretrain')
    with pytest.warns(UserWarning, match='no teacher_ckpt'):
        model = MODELS.build(kd_cfg())
    out_dir = tmp_path / 'deploy'
    train(tmp_path, model, cls_data(), [
        dict(type='StudentExportHook', filename='r8.pth',
             out_dir=str(out_dir))
    ], 'custom')
    assert (out_dir / 'r8.pth').is_file()
    assert not (tmp_path / 'student_final.pth').exists()


def test_not_a_distiller(tmp_path):
    init_default_scope('mmpretrain')
    model = MODELS.build(
        dict(classifier(), data_preprocessor=CLS_PREPROCESSOR))
    with pytest.raises(TypeError,
                       match='must be a distiller.*ImageClassifier'):
        train(tmp_path, model, cls_data(), [dict(type='StudentExportHook')],
              'plain')
    assert not (tmp_path / 'student_final.pth').exists()
