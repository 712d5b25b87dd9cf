# TAMT 5-way 5-shot, Kinetics-400 -> UCF101 (the authors'
# scripts/ucf101/run_meta_deepbdc/run_metatrain.sh): 25 epochs of 300
# episodes, 150 validation episodes. Split files:
# data/ucf101/{base,val,novel}.json (filelist/ucf101-molo).
_base_ = ['./tamt_vit-small-p16_1xb1-5way-5shot-30e_k400-to-hmdb51.py']
data_root = 'data/ucf101'
train_dataloader = dict(
    dataset=dict(num_episodes=300, dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=25)
val_cfg = dict(num_episodes=150)
