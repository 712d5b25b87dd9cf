# Linear evaluation of a UniGrad ResNet-50 (the authors' lineval.py, SimSiam
# protocol): frozen encoder with BN in eval mode, fc initialised N(0, 0.01),
# LARS (trust 0.001) over SGD momentum 0.9 without weight decay, batch 4096
# (8 x 512), lr 0.1 x 4096 / 256 = 1.6, cosine per epoch, 90 epochs.
# Convert the pretrained checkpoint first:
#   python tools/model_converters/unigrad2mmpretrain.py \
#       unigrad_pretrained.pth checkpoints/unigrad_resnet50_in1k.pth
# (or pass an mmext UniGrad checkpoint: its `backbone.` keys load as they are)
_base_ = ['mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/unigrad_resnet50_in1k.pth',
            prefix='backbone.')),
    head=dict(init_cfg=dict(type='Normal', layer='Linear', std=0.01)))
optim_wrapper = dict(
    optimizer=dict(type='LARS', lr=1.6, momentum=0.9, weight_decay=0.,
                   eta=0.001))
