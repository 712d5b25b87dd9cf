# TCP on TSN with the pre-activation ResNet-152 of MXNet's model zoo
# (ImageNet-11K then 1K), 8 frames, Kinetics-400: the authors'
# script/K400/train_K400_TCP_TSN_8f_R152.sh (4 GPUs x 13 videos, lr
# 0.0008125, x0.1 at epochs 20 and 30, 40 epochs, gradient norm clipped at
# 60, lr_x_factor 50). The network takes raw 0-255 pixels (its input BN
# `bn_data` normalizes them) and the authors freeze that BN's weight.
# Initialisation: their ImageNet GCP R152, converted with
#   python tools/model_converters/tcp2mmext.py \
#       ImgeNet11K_1K_preact_R152_GCP.pth.tar \
#       checkpoints/tcp_gcp-preact-r152_in11k-in1k.pth
_base_ = ['./tcp_tsn-r50_4xb24-1x1x8-50e_kinetics400-rgb.py']

gcp_checkpoint = 'checkpoints/tcp_gcp-preact-r152_in11k-in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        # 'mmpretrain.' tells Recognizer2D the backbone returns a tuple
        type='mmpretrain.PreActResNet',
        depth=152,
        strides=(1, 2, 2, 1),
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='backbone.')),
    cls_head=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='cls_head.')),
    data_preprocessor=dict(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0]))

train_dataloader = dict(batch_size=13)
val_dataloader = dict(batch_size=13)

train_cfg = dict(max_epochs=40)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=40,
        by_epoch=True,
        milestones=[20, 30],
        gamma=0.1)
]
lr_x_factor = 50
scratch = dict(lr_mult=lr_x_factor)
scratch_bias = dict(lr_mult=lr_x_factor, decay_mult=0.0)
optim_wrapper = dict(
    optimizer=dict(lr=0.0008125),
    clip_grad=dict(max_norm=60),
    paramwise_cfg=dict(
        custom_keys={
            'backbone.bn_data.weight': dict(lr_mult=0.0, decay_mult=0.0),
            'cls_head.attention': scratch,
            'cls_head.attention.tsa.conv_prev1.bias': scratch_bias,
            'cls_head.attention.tsa.conv_prev2.bias': scratch_bias,
            'cls_head.attention.tsa.conv_cur.bias': scratch_bias,
            'cls_head.attention.tca.fc1.bias': scratch_bias,
            'cls_head.attention.tca.fc2.bias': scratch_bias,
            'cls_head.attention.temporal_conv.bias': scratch_bias,
            'cls_head.fc_cls.weight': scratch,
            'cls_head.fc_cls.bias': dict(
                lr_mult=2 * lr_x_factor, decay_mult=0.0),
        }))
auto_scale_lr = dict(enable=False, base_batch_size=52)
