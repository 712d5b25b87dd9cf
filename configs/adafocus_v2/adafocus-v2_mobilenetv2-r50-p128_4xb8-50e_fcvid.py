# AdaFocusV2 (MobileNetV2 + ResNet-50, P128) on FCVID (239 classes; videos
# and lists as data/kinetics400: data/fcvid/videos_{train,val},
# fcvid_{train,val}_list_videos.txt); the ActivityNet recipe.
_base_ = ['./adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py']

model = dict(num_classes=239)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/fcvid/fcvid_train_list_videos.txt',
        data_prefix=dict(video='data/fcvid/videos_train')))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/fcvid/fcvid_val_list_videos.txt',
        data_prefix=dict(video='data/fcvid/videos_val')))
test_dataloader = val_dataloader
