# GCP ShuffleNetV2 1.0x, LRfast: the authors' LRnorm recipe with the linear
# decay to 0 over 60 epochs (src/main_shufflenet.py).
_base_ = ['./gcp_shufflenet-v2-1x_16xb64_lrnorm_in1k.py']

param_scheduler = dict(end=60)
train_cfg = dict(max_epochs=60)
