"""The distillation chain end to end on the smoke CIFAR-100 (issue 5, §4).

Train a tiny teacher with SnapshotHook; build the EEKD ensemble from its
snapshots and distil a student; generate WKD-L's cost matrix from the
teacher with tools/misc/wkd_cost_matrix.py and distil with WKD-L and with
WKD-F; evaluate each; strip the teacher from each checkpoint and evaluate
the deployed student in the plain classifier config. The repository's
configs are used, shrunk by ``shrink_config`` and narrowed to resnet8
networks (64 channels) so that the whole chain takes seconds.
"""
import importlib.util
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmext  # noqa: F401
from mmext.testing import shrink_config
from mmext.utils import safe_torch_load

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ARCH, CHANNELS = 'resnet8', 64
NUM_SNAPSHOTS = 3
TOP1 = 'accuracy/top1'


def _script(path):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _narrow(classifier):
    """Make a resnet32x4 / resnet8x4 classifier config a resnet8."""
    classifier['backbone']['arch'] = ARCH
    classifier['head']['in_channels'] = CHANNELS


def _config(path, smoke_data, work_dir, name, num_samples=32,
            batch_size=16):
    cfg = shrink_config(
        Config.fromfile(osp.join(REPO, path)), smoke_data, work_dir,
        num_samples=num_samples, batch_size=batch_size)
    cfg.experiment_name = name
    return cfg


def _train_and_test(cfg):
    init_default_scope('mmpretrain')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert metrics[TOP1] == metrics[TOP1]
    return runner, metrics


def test_teacher_snapshots_eekd_wkd_deploy(smoke_data, tmp_path):
    # 1. the teacher, 3 epochs, one snapshot per epoch
    cfg = _config('configs/eekd/eekd-teacher_resnet32x4_1xb64_240e_'
                  'cifar100.py', smoke_data, str(tmp_path / 'teacher'),
                  'chain_teacher')
    _narrow(cfg.model)
    cfg.train_cfg.max_epochs = 3
    cfg.custom_hooks[0]['num_snapshots'] = NUM_SNAPSHOTS
    _train_and_test(cfg)
    snap_dir = osp.join(str(tmp_path), 'teacher', 'snapshots')
    snapshots = [
        osp.join(snap_dir, f'snapshot_epoch_{e}.pth') for e in (1, 2, 3)
    ]
    assert all(osp.isfile(p) for p in snapshots)
    # 2. WKD-L's cost matrix from the final teacher, on all 200 training
    # images (every class needs samples); 1 - CKA of the per-class logits
    # (the authors' ImageNet choice; their CIFAR choice, the features,
    # takes longer on 100 classes)
    cfg.train_dataloader.dataset.pop('indices')
    teacher_cfg = str(tmp_path / 'teacher_config.py')
    cfg.dump(teacher_cfg)
    cost_file = str(tmp_path / 'cost.pth')
    assert _script('tools/misc/wkd_cost_matrix.py').main(
        [teacher_cfg, snapshots[-1], cost_file, '--method', 'cka-logit']) == 0
    cost = torch.load(cost_file)
    assert cost.shape == (100, 100) and torch.isfinite(cost).all()

    # 3. the students
    runs = {}
    cfg = _config('configs/eekd/eekd_resnet32x4-resnet8x4_1xb64_240e_'
                  'cifar100.py', smoke_data, str(tmp_path / 'eekd'),
                  'chain_eekd')
    _narrow(cfg.model.student)
    _narrow(cfg.model.teacher.model)
    cfg.model.attention.update(student_channels=CHANNELS,
                               teacher_channels=CHANNELS)
    cfg.model.update(teacher_ckpts=snap_dir, num_teachers=NUM_SNAPSHOTS)
    runner, metrics = _train_and_test(cfg)
    runs['eekd'] = (runner.model, metrics)
    # the ensemble holds the snapshots, in training order
    model = runner.model
    assert model.teacher_ckpts == snapshots
    for teacher, path in zip(model.teachers.values(), snapshots):
        ref = safe_torch_load(path, map_location='cpu')['state_dict']
        for k, v in teacher.state_dict().items():
            torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    # the attention weights were logged
    weights = [
        runner.message_hub.get_scalar(f'train/eekd_weight_{m}').current()
        for m in range(NUM_SNAPSHOTS)
    ]
    assert abs(sum(weights) - 1) < 1e-5

    for name, path in (
            ('wkd-l', 'configs/wkd/wkd-l_resnet32x4-resnet8x4_1xb64_240e_'
             'cifar100.py'),
            ('wkd-f', 'configs/wkd/wkd-f_resnet32x4-resnet8x4_1xb64_240e_'
             'cifar100.py')):
        cfg = _config(path, smoke_data, str(tmp_path / name),
                      f'chain_{name}')
        _narrow(cfg.model.student)
        teacher = cfg.model.teachers.teacher
        _narrow(teacher.model)
        teacher.teacher_ckpt = snapshots[-1]
        if name == 'wkd-l':
            cfg.model.distill_losses.loss_wkd_l.cost_matrix_file = cost_file
        else:
            cfg.model.connectors.proj.update(in_channels=CHANNELS,
                                             out_channels=CHANNELS)
        runner, metrics = _train_and_test(cfg)
        runs[name] = (runner.model, metrics)

    # 4. deploy: the stripped student, loaded strictly into the plain
    # classifier config, gives the distiller's outputs and test metrics
    strip = _script('tools/model_converters/strip_teacher.py').strip_teacher
    cfg = _config('configs/kd/resnet8x4_1xb64_240e_cifar100.py', smoke_data,
                  str(tmp_path / 'deploy'), 'chain_deploy')
    _narrow(cfg.model)
    init_default_scope('mmpretrain')
    runner = Runner.from_cfg(cfg)
    inputs = torch.randn(4, 3, 32, 32)
    for name, (distiller, metrics) in runs.items():
        deployed = str(tmp_path / f'{name}_student.pth')
        strip(str(tmp_path / name / 'epoch_1.pth'), deployed)
        runner.load_checkpoint(deployed, strict=True)
        assert runner.test()[TOP1] == metrics[TOP1], name
        distiller.eval()
        runner.model.eval()
        with torch.no_grad():
            torch.testing.assert_close(
                runner.model(inputs, mode='tensor'),
                distiller(inputs, mode='tensor'),
                rtol=0, atol=0, msg=name)
