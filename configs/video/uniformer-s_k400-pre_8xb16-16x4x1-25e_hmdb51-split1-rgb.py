# UniFormer-S 16x4 fine-tuned on HMDB51 split 1 from the Kinetics-400 16x4
# model (exp/uniformer_s16x4_hmdb51_prek400): the UCF101 recipe unchanged
# (rand-m5-n2-mstd0.25, drop path 0.2, 8 GPUs x 16 clips, lr 5e-5, 25
# epochs, 3 crops x 5 clips); only the data and the 51 classes differ.
# The official run read JPEG frames; this reads the videos.
_base_ = ['./uniformer-s_k400-pre_8xb16-16x4x1-25e_ucf101-split1-rgb.py']

num_classes = 51
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])))

data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            ann_file=ann_file_train, data_prefix=dict(video=data_root))))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
