# STL DeepBDC 5-way 1-shot meta-test on miniImageNet: the last distilled
# student (student_final.pth of the third generation) with logistic
# regression C = 0.1 on L2-normalised 8,256-d BDC features; 2,000 episodes
# of 15 queries, 5 runs.
#   python tools/test.py configs/deepbdc/<this>.py <student_final.pth>
_base_ = ['./deepbdc-stl_resnet12_pretrain-1xb64-170e_mini-imagenet.py']
