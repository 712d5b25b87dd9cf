# WKD-L, resnet32x4 -> resnet8x4 on CIFAR-100, with the authors' settings
# (configs/cifar100/wkd_l/res32x4_res8x4.yaml, after their "Update config"
# commit, which lowered gamma from 800): T = 8, gamma = 600, cost
# 1 - exp(-d) of d = 1 - linear CKA of the teacher's per-class features,
# Sinkhorn lambda 0.05 x 10 iterations, gamma cosine-decayed from epoch 150.
# Generate the cost matrix from the teacher first:
#   python tools/misc/wkd_cost_matrix.py \
#       configs/kd/resnet32x4_1xb64_240e_cifar100.py \
#       checkpoints/resnet32x4_1xb64_240e_cifar100.pth \
#       checkpoints/wkd_cost_matrix/cifar100_resnet32x4_linear_cka.pth
_base_ = ['../kd/kd_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    distill_losses=dict(
        _delete_=True,
        loss_wkd_l=dict(
            type='WKDLogitLoss',
            temperature=8.0,
            gamma=600.0,
            cost_matrix_file='checkpoints/wkd_cost_matrix/'
            'cifar100_resnet32x4_linear_cka.pth',
            kappa=1.0,
            sinkhorn_lambda=0.05,
            sinkhorn_iters=10,
            gamma_decay_begin_epoch=150)),
    loss_inputs=dict(
        _delete_=True,
        loss_wkd_l=dict(
            preds_S='student.logits',
            preds_T='teacher.logits',
            gt_label='gt_label')))
