# TCP on TSM ResNet-50 (temporal shift of 1/8 of the channels in every
# block's first conv, mmaction2's ResNetTSM), 8 frames, Kinetics-400. The
# authors' code base is TSM's (ops/temporal_shift.py) but they publish no TSM
# script; the recipe is that of TCP-TSN-R50 8f. The ImageNet GCP ResNet-50
# is converted for the shifted backbone with
#   python tools/model_converters/tcp2mmext.py ImgeNet1K_GCP_R50.pth.tar \
#       checkpoints/tcp_gcp-r50-tsm_in1k.pth --tsm
_base_ = ['./tcp_tsn-r50_4xb24-1x1x8-50e_kinetics400-rgb.py']

gcp_checkpoint = 'checkpoints/tcp_gcp-r50-tsm_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetTSM',
        depth=50,
        num_segments=8,
        shift_div=8,
        strides=(1, 2, 2, 1),
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='backbone.')),
    cls_head=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='cls_head.')))
