# AdaFocusV2 (MobileNetV2 + ResNet-50, P128) on Mini-Kinetics (200 classes
# of Kinetics-400; data/mini-kinetics/videos_{train,val},
# mini-kinetics_{train,val}_list_videos.txt); the authors' recipe: 4 GPUs x
# 12 videos, lr 0.003, otherwise as ActivityNet; reported by top-1.
_base_ = ['./adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py']

train_dataloader = dict(
    batch_size=12,
    dataset=dict(
        ann_file='data/mini-kinetics/mini-kinetics_train_list_videos.txt',
        data_prefix=dict(video='data/mini-kinetics/videos_train')))
val_dataloader = dict(
    batch_size=12,
    dataset=dict(
        ann_file='data/mini-kinetics/mini-kinetics_val_list_videos.txt',
        data_prefix=dict(video='data/mini-kinetics/videos_val')))
test_dataloader = val_dataloader
val_evaluator = dict(average_precision=False)
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.003))
auto_scale_lr = dict(base_batch_size=48)
