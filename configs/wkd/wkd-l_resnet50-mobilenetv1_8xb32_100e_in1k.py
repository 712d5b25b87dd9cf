# WKD-L, ResNet-50 -> MobileNetV1 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r50_mv1/wkd_l.yaml): T = 2, gamma = 25,
# cost 1 - exp(-2 d) (kappa = COST_MATRIX_SHARPEN 2) of d = 1 - linear CKA
# of the teacher's per-class logits, Sinkhorn 0.05 x 10, gamma
# cosine-decayed over the whole run (COSINE_DECAY_EPOCH left at 0); schedule
# as in wkd-l_resnet34-resnet18_8xb32_100e_in1k.py. The teacher is
# torchvision's pretrained ResNet-50 (../kd/resnet50_8xb32_in1k.py).
# Generate the cost matrix from the teacher first:
#   python tools/misc/wkd_cost_matrix.py configs/kd/resnet50_8xb32_in1k.py \
#       checkpoints/resnet50_torchvision_in1k.pth \
#       checkpoints/wkd_cost_matrix/in1k_resnet50_logit_linear_cka.pth \
#       --method cka-logit
_base_ = ['./wkd-l_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='MobileNetV1'),
        head=dict(in_channels=1024)),
    teachers=dict(
        teacher=dict(
            model=dict(backbone=dict(depth=50), head=dict(in_channels=2048)),
            teacher_ckpt='checkpoints/resnet50_torchvision_in1k.pth')),
    distill_losses=dict(
        loss_wkd_l=dict(
            gamma=25.0,
            kappa=2.0,
            cost_matrix_file='checkpoints/wkd_cost_matrix/'
            'in1k_resnet50_logit_linear_cka.pth')))
