# ShuffleNetV1 (the KD benchmark's CIFAR variant, g = 3) on CIFAR-100 without
# distillation: the student of the WRN-40-2 -> ShuffleNetV1 configs (lr 0.01,
# the benchmark's lr for ShuffleNet/MobileNet students) and the plain
# classifier a distilled ShuffleNetV1 is deployed with.
_base_ = ['./resnet32x4_1xb64_240e_cifar100.py']

model = dict(
    backbone=dict(_delete_=True, type='CIFARShuffleNetV1'),
    head=dict(in_channels=960))
optim_wrapper = dict(optimizer=dict(lr=0.01))
