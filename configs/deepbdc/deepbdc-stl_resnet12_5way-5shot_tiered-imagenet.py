# STL DeepBDC 5-way 5-shot meta-test on tieredImageNet: logistic regression
# C = 30 (see the 1-shot config).
_base_ = ['./deepbdc-stl_resnet12_pretrain-1xb64-90e_tiered-imagenet.py']
num_shots = 5
lr_penalty = 30.0
val_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
test_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
