"""The two classifiers of the official hourglass video models (MMAction2).

The official ``Uniformer_light`` video model (``slowfast/models/
uniformer_light.py`` upstream) ends in two linear classifiers: ``head`` on
the average of the final (BatchNorm-ed) patch-token map and ``head_cls`` on
the stage-4 class token after its LayerNorm ``norm_cls``. Training
(``tools/train_net_cls.py``) minimises ``0.5 * CE(head) + 0.5 *
CE(head_cls)``; in eval mode the model returns ``head``'s logits alone, and
``tools/test_net.py`` ensembles those over the views.
:class:`UniFormerLightHead` is that pair: an ``I3DHead`` (``fc_cls`` =
``head``) plus ``norm_cls`` and ``fc_cls_token`` (= ``head_cls``). It takes
``(feature map, class token)`` from ``UniFormerLight3D(out_cls_token=True)``.

This module imports MMAction2; ``import uniformer_mm`` registers the head
into MMAction2's ``MODELS`` when MMAction2 is installed
(``uniformer_mm.models`` itself stays torch-only).
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmaction.models.heads import I3DHead
from mmaction.registry import MODELS
from mmengine.model.weight_init import normal_init


@MODELS.register_module()
class UniFormerLightHead(I3DHead):
    """Patch-token and class-token classifiers, trained together.

    Args:
        num_classes (int): Classes.
        in_channels (int): Channels of the stage-4 map and class token.
        loss_weights (Sequence[float]): Weights of the patch-token and the
            class-token cross-entropy in ``loss_cls``. Defaults to
            (0.5, 0.5), the official ``train_net_cls.py``.
        **kwargs: as for MMAction2's ``I3DHead`` (``loss_cls``,
            ``label_smooth_eps``, ``dropout_ratio``, ``init_std``,
            ``average_clips`` ...). ``init_std`` also initialises the
            class-token classifier.

    ``forward`` gives the patch-token logits: what prediction (and the
    official test) uses. ``loss`` returns ``loss_cls`` (the weighted sum)
    and, for the log only, each term as ``ce_patch_head`` and
    ``ce_token_head`` (their names hold no "loss", so MMEngine does not add
    them again).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss_weights: Sequence[float] = (0.5, 0.5),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        if len(loss_weights) != 2:
            raise ValueError('UniFormerLightHead loss_weights must be two '
                             '(patch-token, class-token) weights, got '
                             f'{loss_weights!r}')
        self.loss_weights = tuple(float(w) for w in loss_weights)
        # official norm_cls = nn.LayerNorm(embed_dim[-1]): default eps 1e-5
        self.norm_cls = nn.LayerNorm(in_channels)
        self.fc_cls_token = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        super().init_weights()
        normal_init(self.fc_cls_token, std=self.init_std)
        self.norm_cls.reset_parameters()

    @staticmethod
    def _split(x) -> Tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(x, (tuple, list)) and len(x) == 2
                and isinstance(x[1], torch.Tensor) and x[1].dim() == 2):
            raise TypeError(
                'UniFormerLightHead needs (feature map, class token) from '
                'the backbone: set backbone=dict(type=\'UniFormerLight3D\', '
                'out_cls_token=True, ...)')
        return x[0], x[1]

    def forward(self, x, **kwargs) -> torch.Tensor:
        """Patch-token logits (the official ``head``)."""
        return super().forward(self._split(x)[0])

    def forward_cls_token(self, x) -> torch.Tensor:
        """Class-token logits (the official ``head_cls(norm_cls(.))``)."""
        return self.fc_cls_token(self.norm_cls(self._split(x)[1]))

    def loss(self, feats, data_samples, **kwargs) -> Dict:
        patch = self.loss_by_feat(self(feats), data_samples)
        token = self.loss_by_feat(self.forward_cls_token(feats), data_samples)
        w_patch, w_token = self.loss_weights
        losses = {k: v for k, v in patch.items() if k != 'loss_cls'}
        losses['loss_cls'] = (
            w_patch * patch['loss_cls'] + w_token * token['loss_cls'])
        losses['ce_patch_head'] = patch['loss_cls'].detach()
        losses['ce_token_head'] = token['loss_cls'].detach()
        return losses
