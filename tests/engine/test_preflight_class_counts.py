"""The data set's class / keypoint / label count against the heads."""
from types import SimpleNamespace

import pytest
import torch.nn as nn

from uniformer_mm.engine.preflight import (ClassCountMismatchError,
                                           check_class_counts)


def _head(kind, **attrs):
    module = type(kind, (nn.Module, ), {})()
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def _detector(classes):
    model = nn.Module()
    model.rpn_head = _head('RPNHead', num_classes=1)  # class-agnostic
    model.roi_head = nn.Module()
    model.roi_head.bbox_head = _head('Shared2FCBBoxHead', num_classes=classes)
    model.roi_head.mask_head = _head('FCNMaskHead', num_classes=classes)
    return model


def _data(**meta):
    return SimpleNamespace(metainfo=meta, data_list=[])


def test_matching_counts_pass():
    check_class_counts(_detector(3), _data(classes=('a', 'b', 'c')))
    pose = nn.Module()
    pose.head = _head('HeatmapHead', out_channels=17)
    check_class_counts(pose, _data(num_keypoints=17))
    video = nn.Module()
    video.cls_head = _head('I3DHead', num_classes=400)
    # a label list need not use every class
    check_class_counts(
        video,
        SimpleNamespace(metainfo={}, data_list=[dict(label=3),
                                                dict(label=7)]))


@pytest.mark.parametrize('head', [2, 5])  # smaller: IndexError; larger: silent
def test_head_of_another_class_count_is_named(head):
    with pytest.raises(ClassCountMismatchError) as error:
        check_class_counts(_detector(head), _data(classes=('a', 'b', 'c')))
    message = str(error.value)
    assert '3 classes' in message
    assert f'model.roi_head.bbox_head.num_classes = {head}' in message
    assert 'model.roi_head.mask_head.num_classes' in message
    assert 'rpn' not in message


def test_keypoints_and_video_labels():
    pose = nn.Module()
    pose.head = _head('HeatmapHead', out_channels=17)
    with pytest.raises(ClassCountMismatchError, match='5 keypoints'):
        check_class_counts(pose, _data(num_keypoints=5))
    video = nn.Module()
    video.cls_head = _head('I3DHead', num_classes=3)
    data = SimpleNamespace(
        metainfo={}, data_list=[dict(label=0), dict(label=3)])
    with pytest.raises(
            ClassCountMismatchError,
            match=r'4 labels .*cls_head.num_classes = 3'):
        check_class_counts(video, data)
