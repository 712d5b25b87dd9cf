# WKD-L, ResNet-34 -> ResNet-18 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r34_r18/wkd_l.yaml): CE weight 1, T = 2,
# gamma = 30, cost 1 - exp(-d) (kappa 1) of d = 1 - linear CKA of the
# teacher's per-class logits, Sinkhorn lambda 0.05 x 10 iterations. The
# yaml leaves COSINE_DECAY_EPOCH at its default 0, so gamma decays with a
# cosine over the whole run. 100 epochs, SGD lr 0.1, batch 256, momentum
# 0.9, weight decay 1e-4, lr x0.1 at 30/60/90 (the yaml's SOLVER). The
# teacher is torchvision's pretrained ResNet-34
# (../kd/resnet34_8xb32_in1k.py says how to convert it).
# Generate the cost matrix from the teacher first:
#   python tools/misc/wkd_cost_matrix.py configs/kd/resnet34_8xb32_in1k.py \
#       checkpoints/resnet34_torchvision_in1k.pth \
#       checkpoints/wkd_cost_matrix/in1k_resnet34_logit_linear_cka.pth \
#       --method cka-logit
_base_ = ['../kd/kd_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    distill_losses=dict(
        _delete_=True,
        loss_wkd_l=dict(
            type='WKDLogitLoss',
            temperature=2.0,
            gamma=30.0,
            cost_matrix_file='checkpoints/wkd_cost_matrix/'
            'in1k_resnet34_logit_linear_cka.pth',
            kappa=1.0,
            sinkhorn_lambda=0.05,
            sinkhorn_iters=10,
            gamma_decay_begin_epoch=0)),
    loss_inputs=dict(
        _delete_=True,
        loss_wkd_l=dict(
            preds_S='student.logits',
            preds_T='teacher.logits',
            gt_label='gt_label')))
