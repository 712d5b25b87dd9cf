# STL DeepBDC 5-way 5-shot meta-test on CUB: logistic regression
# C = 20 (see the 1-shot config).
_base_ = ['./deepbdc-stl_resnet18_pretrain-1xb64-220e_cub.py']
num_shots = 5
lr_penalty = 20.0
val_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
test_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
