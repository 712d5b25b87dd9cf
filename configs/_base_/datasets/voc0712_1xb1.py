# mmdet's PASCAL VOC07+12 (aspect-preserving resize to 1000 x 600, VOC2007
# test, 11-point mAP) with one image per iteration and an endless sampler,
# for iteration-based schedules such as MLKP's.
_base_ = 'mmdet::_base_/datasets/voc0712.py'

train_dataloader = dict(
    batch_size=1, sampler=dict(type='InfiniteSampler', shuffle=True))
