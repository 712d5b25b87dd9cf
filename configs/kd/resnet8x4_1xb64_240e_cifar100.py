# resnet8x4 on CIFAR-100 without distillation (the students' baseline);
# distilled resnet8x4 checkpoints, stripped of the teacher with
# tools/model_converters/strip_teacher.py, load into this config.
_base_ = ['./resnet32x4_1xb64_240e_cifar100.py']

model = dict(backbone=dict(arch='resnet8x4'))
