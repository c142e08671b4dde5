"""Repeated augmentation for video training: decode once, augment N times.

The official SlowFast loader behind every UniFormer video run sets
``AUG.NUM_SAMPLE 2``: ``Kinetics.__getitem__`` (and ``Sth``, ``HMDB``)
samples and decodes one clip, runs the random augmentation (RandAugment,
random-resized crop, flip, random erasing) ``NUM_SAMPLE`` times on those
frames with independent draws, and returns the list; the collate
(``multiple_samples_collate``) flattens the lists, so a GPU that loads
``TRAIN.BATCH_SIZE / NUM_GPUS`` clips trains on twice as many samples, and
mixup / cutmix act on that whole batch. An epoch still visits every video
once (the dataset length is the number of videos).

:class:`RepeatAugVideoDataset` does the same for any MMAction2 dataset
(``VideoDataset`` with PyAV or decord, ``RawframeDataset``): its pipeline is
split after its last decoding transform (a class named ``*Decode``:
``PyAVDecode``, ``CheckedPyAVDecode``, ``RawFrameDecode``, ...). The part up
to there (open, sample the frame indices, decode) runs once per clip; the
rest runs ``num_repeats`` times, each time on its own copy of the decoded
frames. Batch it with MMAction2's ``repeat_pseudo_collate``, which flattens
the repeats clip by clip as the official collate does::

    train_dataloader = dict(
        batch_size=4,  # clips per GPU: the step sees 4 x num_repeats
        collate_fn=dict(type='repeat_pseudo_collate'),
        dataset=dict(
            type='RepeatAugVideoDataset', num_repeats=2,
            dataset=dict(type='VideoDataset', ann_file=..., pipeline=...)))

MMAction2's own ``RepeatAugDataset`` is not used: it accepts only a
``DecordInit, SampleFrames, DecordDecode`` pipeline (asserted), while the
zoo reads PyAV videos and JPEG frames.
"""
import copy
from typing import List, Optional, Union

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset, Compose


def decode_split_index(transforms: list) -> int:
    """How many leading transforms make the decode-once part: everything up
    to and including the last transform whose class name ends in
    ``Decode``.

    Raises:
        ValueError: no decoding transform, or nothing after it.
    """
    names = [type(t).__name__ for t in transforms]
    decoders = [i for i, name in enumerate(names) if name.endswith('Decode')]
    if not decoders:
        raise ValueError(
            'RepeatAugVideoDataset: the pipeline has no decoding transform '
            '(a class named *Decode, e.g. PyAVDecode, DecordDecode, '
            f'RawFrameDecode): {names}. It decodes once up to that step and '
            'repeats the rest; add the decoder to the pipeline')
    split = decoders[-1] + 1
    if split == len(transforms):
        raise ValueError(
            'RepeatAugVideoDataset: nothing follows the decoding transform '
            f'{names[-1]}, so there is no augmentation to repeat; the '
            'pipeline needs its augmentations and PackActionInputs after it')
    return split


@DATASETS.register_module()
class RepeatAugVideoDataset:
    """Each item is ``num_repeats`` augmentations of one decoded clip.

    Args:
        dataset (dict | BaseDataset): The training dataset (config or
            object). Its pipeline must decode (see
            :func:`decode_split_index`); its own ``max_refetch`` and
            ``test_mode`` govern retries as in ``BaseDataset``.
        num_repeats (int): Augmented samples per decoded clip (the official
            ``AUG.NUM_SAMPLE``). Defaults to 2.
        lazy_init (bool): Build the data list on first use (as
            MMEngine's dataset wrappers). Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 num_repeats: int = 2,
                 lazy_init: bool = False):
        if not isinstance(num_repeats, int) or num_repeats < 1:
            raise ValueError('RepeatAugVideoDataset: num_repeats must be an '
                             f'int >= 1, got {num_repeats!r}')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if not isinstance(dataset, BaseDataset):
            raise TypeError('RepeatAugVideoDataset: dataset must be a '
                            'BaseDataset or its config, got '
                            f'{type(dataset).__name__}')
        if dataset.test_mode:
            raise ValueError(
                'RepeatAugVideoDataset is for training: the wrapped dataset '
                'has test_mode=True (evaluation would count every clip '
                'num_repeats times); use the plain dataset for val/test')
        self.dataset = dataset
        self.num_repeats = num_repeats
        transforms = dataset.pipeline.transforms
        split = decode_split_index(transforms)
        self.decode = Compose(transforms[:split])
        self.augment = Compose(transforms[split:])
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        if not self._fully_initialized:
            self.dataset.full_init()
            self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __len__(self) -> int:
        # one item per video: the epoch decodes each video once
        return len(self.dataset)

    def prepare_data(self, idx: int) -> Optional[List[dict]]:
        """Decode clip ``idx`` once and augment it ``num_repeats`` times;
        None when a transform drops it (then another clip is drawn)."""
        decoded = self.decode(self.get_data_info(idx))
        if decoded is None:
            return None
        samples = []
        for repeat in range(self.num_repeats):
            # transforms may change the frames in place: each repeat gets
            # its own copy (the last one takes the original)
            results = (
                decoded if repeat == self.num_repeats -
                1 else copy.deepcopy(decoded))
            sample = self.augment(results)
            if sample is None:
                return None
            samples.append(sample)
        return samples

    def __getitem__(self, idx: int) -> List[dict]:
        if not self._fully_initialized:
            self.full_init()
        for _ in range(self.dataset.max_refetch + 1):
            samples = self.prepare_data(idx)
            if samples is not None:
                return samples
            # as BaseDataset does for a dropped training sample
            idx = self.dataset._rand_another()
        raise RuntimeError(
            f'RepeatAugVideoDataset: no valid sample after '
            f'{self.dataset.max_refetch + 1} tries; the pipeline dropped '
            'every clip it drew (see the warnings about unreadable files)')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_repeats={self.num_repeats}, '
                f'decode={[type(t).__name__ for t in self.decode.transforms]},'
                f' dataset={type(self.dataset).__name__})')
