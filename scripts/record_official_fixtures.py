"""Record the outputs of the official UniFormer backbones as test fixtures.

Maintainer tool, not part of the package or the tests. It runs the official
code itself (github Sense-X/UniFormer) -- the detection 2D backbone (global,
window and hybrid stage 3), the SlowFast video backbone (also loading a 2D
file through the official inflation), and the hourglass light 2D and 3D
backbones -- at tiny sizes with fixed-seed weights, in float64, and writes
per model the input, the weights in the official checkpoint layout, every
stage's output (eval mode, then train mode) and the gradient of every
parameter for a fixed scalar loss to ``tests/fixtures/official/``.

Only the official files' framework imports (timm layers, the mmdet / mmcv
registries and loaders, SlowFast's registry and logging) are replaced by the
stand-ins of scripts/official_code.py; the model code runs as published.

    python scripts/record_official_fixtures.py OFFICIAL_REPO [--out DIR]

``OFFICIAL_REPO`` is a checkout of the official repository or a bare git
mirror of it (files read with ``git show COMMIT:PATH``; ``--commit``,
default HEAD). The tests (tests/models/test_official_outputs.py) read only
the files written here; they never import the official code.
"""
import argparse
import math
import shutil
import tempfile
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
from official_code import (DET_2D, DET_LIGHT, VIDEO, VIDEO_LIGHT,
                           VIDEO_LIGHT_LS, Source, slowfast_cfg)

OUT = Path(__file__).resolve().parents[1] / 'tests' / 'fixtures' / 'official'

# Tiny sizes. head_dim 8 gives 1-4 heads per stage; mlp_ratio 3 (not the
# default 4) shows the ratio is honoured.
DIMS = [8, 16, 24, 32]
HEAD_DIM = 8
MLP_RATIO = 3.
WINDOW = 3  # a 4x4 stage-3 map: windows pad to 6x6
NUM_CLASSES = 5


# ------------------------------------------------------------- the weights
def randomize_(model: nn.Module, seed: int) -> None:
    """Fixed-seed values for every parameter and statistic, float32-exact
    (the fixtures store float32), of a size that keeps activations O(1):
    norm weights near 1, layer scales near 0.5 (not the 1e-6 init, which
    would hide the blocks), kernels ~ N(0, 1/fan_in), running variances in
    [0.5, 1.5]."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            shape = tensor.shape
            noise = torch.randn(shape, generator=gen, dtype=torch.float64)
            leaf = name.rsplit('.', 1)[-1]
            if leaf == 'running_var':
                value = 0.5 + torch.rand(
                    shape, generator=gen, dtype=torch.float64)
            elif leaf.startswith('gamma'):
                value = 0.5 + 0.1 * noise
            elif leaf == 'weight' and tensor.dim() == 1:
                value = 1 + 0.1 * noise
            elif tensor.dim() <= 1 or leaf == 'cls_token':
                value = 0.1 * noise if tensor.dim() else noise
                if leaf == 'cls_token':
                    value = 0.5 * noise
            else:
                value = noise / math.sqrt(tensor[0].numel())
            tensor.copy_(value.float().double())


def _f32(tree):
    if isinstance(tree, torch.Tensor):
        return tree.detach().float().clone() if tree.is_floating_point(
        ) else tree.detach().clone()
    if isinstance(tree, dict):
        return {k: _f32(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_f32(v) for v in tree]
    return tree


# ----------------------------------------------------------------- running
def run(model: nn.Module, x: torch.Tensor, stages, seed: int) -> dict:
    """Eval outputs (no grad), then train-mode outputs, the gradients of
    ``sum_i <stage_i, w_i>`` for fixed random ``w_i``, and the BatchNorm
    statistics after that training forward."""
    model.eval()
    with torch.no_grad():
        eval_outputs = stages(model, x)
    model.train()
    outputs = stages(model, x)
    gen = torch.Generator().manual_seed(seed + 1)
    loss_weights = [
        torch.randn(o.shape, generator=gen, dtype=torch.float64).float()
        for o in outputs
    ]
    loss = sum((o * w.double()).sum() for o, w in zip(outputs, loss_weights))
    loss.backward()
    grads = {
        n: p.grad
        for n, p in model.named_parameters() if p.grad is not None
    }
    stats = {
        n: b
        for n, b in model.state_dict().items()
        if n.endswith(('running_mean', 'running_var'))
    }
    return dict(
        eval_outputs=eval_outputs,
        train_outputs=outputs,
        loss_weights=loss_weights,
        grads=grads,
        stats_after_train=stats)


def returned_stages(model, x):
    return list(model(x))


def hooked_stages(final_norm):
    """Stage outputs of a video model: what leaves the last block of stages
    1-3, and the final norm's output (SlowFast models return logits)."""

    def stages(model, x):
        found = []
        hooks = [
            getattr(model, f'blocks{i}')[-1].register_forward_hook(
                lambda m, i, o: found.append(o[1]
                                             if isinstance(o, tuple) else o))
            for i in (1, 2, 3)
        ]
        hooks.append(
            getattr(model, final_norm).register_forward_hook(
                lambda m, i, o: found.append(o)))
        try:
            model([x])
        finally:
            for h in hooks:
                h.remove()
        return found

    return stages


def mmdet_checkpoint(state_dict, config: str) -> dict:
    """An MMDetection 2.x whole-model file: ``meta`` with the config text,
    the backbone under ``backbone.``, and (one tensor of) a neck."""
    weights = {f'backbone.{k}': v for k, v in state_dict.items()}
    weights['neck.lateral_convs.0.conv.weight'] = torch.zeros(4, DIMS[0], 1, 1)
    return dict(
        meta=dict(mmdet_version='2.11.0', config=config), state_dict=weights)


def slowfast_checkpoint(state_dict, config: str) -> dict:
    """A SlowFast file: ``model_state`` with the head, the cfg dump."""
    return dict(epoch=1, model_state=dict(state_dict), cfg=config)


def _cfg(depth, **uniformer):
    return slowfast_cfg(depth, DIMS, HEAD_DIM, MLP_RATIO, NUM_CLASSES, 32,
                        **uniformer)


def record(name, model, x, stages, checkpoint, arch, kwargs, seed, **extra):
    result = run(model.double(), x.double(), stages, seed)
    fixture = dict(
        model=name,
        arch=arch,
        kwargs=kwargs,
        input=x,
        checkpoint=checkpoint,
        **result,
        **extra)
    return _f32(fixture)


def image_input(seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 64, 64, generator=gen)


def video_input(seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 4, 32, 32, generator=gen)


def record_2d(src, attn_mode, depths, seed):
    det = src.load(DET_2D, 'official.det.backbones', 'uniformer')
    torch.manual_seed(seed)
    model = det.UniFormer(
        layers=depths,
        embed_dim=DIMS,
        head_dim=HEAD_DIM,
        mlp_ratio=MLP_RATIO,
        windows=attn_mode == 'window',
        hybrid=attn_mode == 'hybrid',
        window_size=WINDOW)
    randomize_(model, seed)
    config = (f"model = dict(backbone=dict(type='UniFormer', layers="
              f"{depths}, embed_dim={DIMS}, head_dim={HEAD_DIM}, "
              f"mlp_ratio={MLP_RATIO}, windows={attn_mode == 'window'}, "
              f"hybrid={attn_mode == 'hybrid'}, window_size={WINDOW}))")
    return record(
        f'UniFormer {attn_mode} ({DET_2D})', model, image_input(seed),
        returned_stages, mmdet_checkpoint(model.state_dict(), config),
        dict(
            depths=depths,
            embed_dims=DIMS,
            head_dim=HEAD_DIM,
            mlp_ratios=MLP_RATIO),
        dict(attn_mode=attn_mode, window_size=WINDOW), seed)


def record_video(src, seed):
    video = src.load(VIDEO, 'official.video', 'uniformer')
    depths = [1, 1, 2, 1]
    torch.manual_seed(seed)
    model = video.Uniformer(_cfg(depths))
    randomize_(model, seed)
    config = f'UNIFORMER:\n  DEPTH: {depths}\n  HEAD_DIM: {HEAD_DIM}\n'
    return record(
        f'Uniformer ({VIDEO})', model, video_input(seed),
        hooked_stages('norm'), slowfast_checkpoint(model.state_dict(), config),
        dict(
            depths=depths,
            embed_dims=DIMS,
            head_dim=HEAD_DIM,
            mlp_ratios=MLP_RATIO), dict(), seed)


def record_video_inflated(src, seed, tmp: Path):
    """The video model started from a 2D (ImageNet-shaped) file through the
    official ``get_pretrained_model`` (average inflation), plus the
    official ``inflate_weight`` of one kernel in both modes."""
    video = src.load(VIDEO, 'official.video', 'uniformer_inflate')
    depths = [1, 1, 1, 1]
    torch.manual_seed(seed)
    model = video.Uniformer(_cfg(depths, PRETRAIN_NAME='fixture_in1k'))
    gen = torch.Generator().manual_seed(seed)
    image_model = {}
    randomize_(model, seed)
    for key, value in model.state_dict().items():
        if value.dim() == 5:  # a 2D kernel where the video has a 3D one
            shape = value.shape[:2] + value.shape[3:]
            value = (torch.randn(shape, generator=gen, dtype=torch.float64) /
                     math.sqrt(value[0].numel())).float().double()
        elif key.startswith('head.'):  # 1000 ImageNet classes, here 7
            value = torch.randn(
                (7, ) + value.shape[1:], generator=gen,
                dtype=torch.float64).float().double()
        image_model[key] = value
    path = tmp / 'fixture_in1k.pth'
    torch.save(dict(model=image_model), path)
    video.model_path['fixture_in1k'] = str(path)
    model.double()  # the inflated kernels as computed, not rounded
    converted = model.get_pretrained_model(
        _cfg(depths, PRETRAIN_NAME='fixture_in1k'))
    model.load_state_dict(converted, strict=False)
    kernel = image_model['blocks1.0.attn.weight'][:2]
    inflation = dict(
        kernel_2d=kernel,
        time_dim=5,
        average=model.inflate_weight(kernel, 5),
        center=model.inflate_weight(kernel, 5, center=True))
    return record(
        f'Uniformer from a 2D file ({VIDEO}: get_pretrained_model)',
        model,
        video_input(seed),
        hooked_stages('norm'),
        dict(model=image_model),
        dict(
            depths=depths,
            embed_dims=DIMS,
            head_dim=HEAD_DIM,
            mlp_ratios=MLP_RATIO),
        dict(),
        seed,
        inflation=inflation)


# prune ratios exercise: no pruning (first block), half the tokens, and
# (stage 4 of the 2D model) a single dropped token, which the official
# code scores as a kept one; trade-offs other than 0.5 tell the old and
# the new score apart.
LIGHT_PRUNE = [[], [], [1, 0.5, 0.5], [0.75, 0.5]]
LIGHT_TRADE = [[], [], [1, 0.3, 0.6], [0.4, 0.7]]


def _light_arch(depths, **extra):
    return dict(
        depths=depths,
        embed_dims=DIMS,
        head_dim=HEAD_DIM,
        mlp_ratios=MLP_RATIO,
        conv_stem=True,
        prune_ratios=LIGHT_PRUNE,
        trade_offs=LIGHT_TRADE,
        **extra)


def record_light_2d(src, seed):
    det = src.load(DET_LIGHT, 'official.det.backbones', 'uniformer_light')
    depths = [1, 1, 3, 2]
    torch.manual_seed(seed)
    model = det.UniFormer_Light(
        depth=depths,
        embed_dim=DIMS,
        head_dim=HEAD_DIM,
        mlp_ratio=[MLP_RATIO] * 4,
        conv_stem=True,
        prune_ratio=LIGHT_PRUNE,
        trade_off=LIGHT_TRADE)
    randomize_(model, seed)
    config = (f"model = dict(backbone=dict(type='UniFormer_Light', depth="
              f"{depths}, embed_dim={DIMS}, head_dim={HEAD_DIM}))")
    return record(f'UniFormer_Light ({DET_LIGHT})', model,
                  image_input(seed), returned_stages,
                  mmdet_checkpoint(model.state_dict(), config),
                  _light_arch(depths), dict(), seed)


def record_light_3d(src, seed, layer_scale: bool):
    path = VIDEO_LIGHT_LS if layer_scale else VIDEO_LIGHT
    cls = 'Uniformer_light_ls_fp32' if layer_scale else 'Uniformer_light_fp32'
    video = src.load(path, 'official.video', cls.lower())
    depths = [1, 1, 3, 2]
    cfg = _cfg(
        depths,
        MLP_RATIO=[MLP_RATIO] * 4,
        PRUNE_RATIO=LIGHT_PRUNE,
        TRADE_OFF=LIGHT_TRADE,
        INIT_VALUE=0.5)
    torch.manual_seed(seed)
    model = getattr(video, cls)(cfg)
    randomize_(model, seed)
    config = f'UNIFORMER:\n  DEPTH: {depths}\n  HEAD_DIM: {HEAD_DIM}\n'
    return record(f'{cls} ({path})', model, video_input(seed),
                  hooked_stages('norm'),
                  slowfast_checkpoint(model.state_dict(), config),
                  _light_arch(depths, layer_scale=layer_scale), dict(), seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        'repo',
        type=Path,
        help='official repository: a '
        'checkout or a bare git mirror')
    parser.add_argument('--commit', default='HEAD')
    parser.add_argument('--out', type=Path, default=OUT)
    args = parser.parse_args()
    src = Source(args.repo, args.commit)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    fixtures = {
        'uniformer_global': partial(record_2d, src, 'global', [1, 1, 2, 1],
                                    10),
        'uniformer_window': partial(record_2d, src, 'window', [1, 1, 2, 1],
                                    11),
        'uniformer_hybrid': partial(record_2d, src, 'hybrid', [1, 1, 4, 1],
                                    12),
        'uniformer_video': partial(record_video, src, 20),
        'uniformer_video_inflated': partial(record_video_inflated, src, 21,
                                            tmp),
        'uniformer_light': partial(record_light_2d, src, 30),
        'uniformer_light_video': partial(record_light_3d, src, 40, False),
        'uniformer_light_video_ls': partial(record_light_3d, src, 41, True),
    }
    for name, make in fixtures.items():
        fixture = make()
        fixture['official_commit'] = src.commit
        path = args.out / f'{name}.pth'
        torch.save(fixture, path)
        print(f'{path}: {path.stat().st_size / 1024:.0f} KiB '
              f'({fixture["model"]})')
    shutil.rmtree(tmp)
    print(f'official commit {src.commit}')


if __name__ == '__main__':
    main()
