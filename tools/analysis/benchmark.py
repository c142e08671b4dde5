"""Speed and memory of our UniFormer against the official computation.

Every comparison runs in this one process, side by side: the same module
(same weights) built twice,

* ``eager``: the official computation -- ``softmax(q @ k^T * scale) @ v``
  with a materialised attention map over explicitly copied window
  partitions, contiguous NCHW maps with a copy at every map <-> token move,
  autograd keeping every MLP activation, a new tensor for every residual
  sum (``fast_paths='reference'``);
* ``ours``: the defaults (fused attention, windows gathered straight from
  the qkv projection, channels-last maps, GELU recomputed in backward,
  residuals and GELU in place in inference, the depth-wise convolutions'
  CPU backward as forward convolutions, BatchNorm outputs recomputed in
  backward);

and, with ``--ablation``, ``+fused``: eager with fused attention only.
The ``official`` section (``--official-repo``) runs the official code
itself beside ours instead, and MMAction2's port for video.
Repeats alternate between the builds, so a busy machine slows both alike,
and the table prints ratios (eager / ours for time, ours / eager for
memory). This is a benchmark, not a test: nothing asserts a time.

Measured per case and build: forward latency (eval, no grad), forward +
backward latency (train mode), peak training memory (growth over the
baseline during one forward + backward: ``torch.cuda.max_memory_allocated``
on GPU; on CPU the peak RSS, reset through ``/proc/self/clear_refs`` after
returning freed memory with ``malloc_trim``).

Sections (``--sections``, default all):
  backbone  UniFormer-S 224 batch 8; S-h14 / B-h14 800x1216 batch 2 with
            gradient checkpointing off and on (``-cp``: the detection
            configs' with_cp); S global 512x512; UniFormer3D-S 16x224x224.
  model     the full Mask R-CNN S-h14 (800x1216, batch 2), UperNet S-h14
            (512x512, batch 2) and the Kinetics-400 S 16x4 recognizer
            (16x224x224, batch 1) from configs/: loss + backward.
  scaling   the hybrid detector backbone at short side 512 / 800 / 1333
            (forward time, training memory); global attention's training
            memory vs tokens, with the growth exponent (1 = linear).
  amp       bf16 (CPU; fp16 and bf16 on CUDA) by autocast and with the
            weights cast: finite, error vs fp32, inference speed-up over our
            fp32 (S-h14 800x1216), and the device's matmul speed per dtype
            (the ceiling of that speed-up). On a CPU without native bf16
            (AVX512-BF16 or AMX) bf16 is skipped, printing the CPU's
            capability and the measured slowdown.
  compile   ``torch.compile`` of the backbone: same outputs as eager mode,
            first-call (compile) and steady-state times.
  throughput  images/s (batch 32, 224x224) and clips/s (batch 4,
            8x160x160) of the hourglass XXS / XS beside UniFormer-S, and
            each with every prune ratio set to 1 (same weights).
  train-profile
            where one training step (fwd + bwd, our build) spends its time:
            self CPU time by operator (torch.profiler) and by block part
            (each attention, MLP, convolution, norm and embedding module
            timed alone, forward + backward, on the input it got in the
            step; ``rest`` is the step minus their sum: residual sums,
            reshapes, drop path). Cases: --profile-cases.
  onnx      our PyTorch build vs ONNX Runtime (CPU) on the exported
            dynamic-shape graph: S-h14 at 800x1216 and UniFormer3D-S at
            16x224x224, batch 1, with the CPU capability and the outputs'
            largest relative difference.

Usage:
    python tools/analysis/benchmark.py                       # everything
    python tools/analysis/benchmark.py --sections backbone --cases s-h14
    python tools/analysis/benchmark.py --device cuda --repeats 10
"""
import argparse
import contextlib
import ctypes
import gc
import logging
import math
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BUILDS = {
    'eager':
    dict(fast_paths='reference'),
    '+fused':
    dict(
        fast_paths=dict(
            fused_attn=True,
            channels_last=False,
            recompute_gelu=False,
            in_place=False,
            depthwise_backward=False,
            recompute_norm=False)),
    'ours':
    dict(),
}

# name -> (backbone type, kwargs, input shape)
BACKBONE_CASES = {
    's-224': ('UniFormer', dict(arch='small'), (8, 3, 224, 224)),
    's-h14': ('UniFormer', dict(arch='small',
                                attn_mode='hybrid'), (2, 3, 800, 1216)),
    's-h14-cp':
    ('UniFormer', dict(arch='small', attn_mode='hybrid',
                       with_cp=[0, 0, 8, 0]), (2, 3, 800, 1216)),
    'b-h14': ('UniFormer', dict(arch='base',
                                attn_mode='hybrid'), (2, 3, 800, 1216)),
    'b-h14-cp':
    ('UniFormer', dict(arch='base', attn_mode='hybrid',
                       with_cp=[0, 0, 20, 0]), (2, 3, 800, 1216)),
    's-global-512': ('UniFormer', dict(arch='small'), (1, 3, 512, 512)),
    'video-s-16x224':
    ('UniFormer3D', dict(arch='small'), (1, 3, 16, 224, 224)),
    'light-xs-16x160':
    ('UniFormerLight3D', dict(arch='xs'), (2, 3, 16, 160, 160)),
}

MODEL_CASES = {
    'mask-rcnn-s-h14':
    ('configs/detection/'
     'mask-rcnn_uniformer-s-h14_fpn_1x_coco.py', (2, 800, 1216)),
    'upernet-s-h14':
    ('configs/segmentation/'
     'upernet_uniformer-s-h14_8xb2-160k_ade20k-512x512.py', (2, 512, 512)),
    'recognizer-s-16x224':
    ('configs/video/uniformer-s_imagenet1k-pre_'
     '8xb4-16x4x1-110e_kinetics400-rgb.py', (1, 16, 224, 224)),
}


# ----------------------------------------------------------------- memory
def _glibc():
    """The C library's handle for ``malloc_trim`` / ``mallopt``, or None
    where it is not glibc."""
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:
        return None


class PeakMemory:
    """Peak memory growth of a block of code, in bytes."""

    def __init__(self, device: str):
        self.device = device
        self.libc = _glibc() if device == 'cpu' else None
        self.available = self._can_reset_peak()

    @staticmethod
    def _status(field: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
        raise OSError(f'{field} not in /proc/self/status')

    def _can_reset_peak(self) -> bool:
        if self.device != 'cpu':
            return True
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            return True
        except OSError:
            return False

    @contextlib.contextmanager
    def measure(self, result: dict, key: str = 'peak'):
        import torch
        gc.collect()
        if self.device == 'cpu':
            if self.libc is not None:
                self.libc.malloc_trim(0)
            base = self._status('VmRSS')
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # VmHWM := VmRSS
        else:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        yield
        if self.device == 'cpu':
            result[key] = self._status('VmHWM') - base
        else:
            torch.cuda.synchronize()
            result[key] = torch.cuda.max_memory_allocated() - base


# ------------------------------------------------------------------ timing
def _sync(device):
    import torch
    if device == 'cuda':
        torch.cuda.synchronize()


def _median_time(fn, repeats: int, device: str) -> float:
    return statistics.median(_timed(fn, device) for _ in range(repeats))


def _timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def compare(runners: dict,
            repeats: int,
            device: str,
            memory: PeakMemory,
            with_train: bool = True,
            spread: bool = False) -> dict:
    """Median times / peak memory of each build, repeats interleaved.

    ``runners``: build name -> (forward fn, train-step fn). With ``spread``
    also the minima (``forward_min``, ``train_min``).
    """
    import torch
    results = {name: dict(forward=[], train=[]) for name in runners}
    for forward, train in runners.values():  # warm-up, grads allocated
        with torch.no_grad():
            forward()
        if with_train:
            train()
    for _ in range(repeats):
        for name, (forward, train) in runners.items():
            with torch.no_grad():
                results[name]['forward'].append(_timed(forward, device))
            if with_train:
                results[name]['train'].append(_timed(train, device))
    out = {}
    for name, (forward, train) in runners.items():
        row = {k: statistics.median(v) for k, v in results[name].items() if v}
        if spread:
            row.update(
                {f'{k}_min': min(v)
                 for k, v in results[name].items() if v})
        if with_train and memory.available:
            with memory.measure(row):
                train()
        out[name] = row
    return out


def _fmt_ratio(num, den) -> str:
    return f'{num / den:5.2f}x' if num and den else '   n/a'


# (title, case, builds) of every table printed, for --markdown
_TABLES = []


def print_table(title: str, rows: dict) -> None:
    """rows: case -> build -> {forward, train, peak}."""
    _TABLES.extend((title, case, builds) for case, builds in rows.items())
    print(f'\n## {title}')
    print(f'{"case":22} {"build":7} {"fwd s":>8} {"fwd+bwd s":>10} '
          f'{"peak MiB":>9}')
    for case, builds in rows.items():
        for name, r in builds.items():
            peak = r.get('peak')
            print(f'{case:22} {name:7} {r["forward"]:8.3f} '
                  f'{r.get("train", float("nan")):10.3f} '
                  f'{peak / 2**20 if peak else float("nan"):9.0f}')
    print('ratios vs eager (speed-up; memory as a fraction):')
    for case, builds in rows.items():
        eager = builds['eager']
        for name, r in builds.items():
            if name == 'eager':
                continue
            print(
                f'{case:22} {name:7} forward '
                f'{_fmt_ratio(eager["forward"], r["forward"])}  '
                f'forward+backward '
                f'{_fmt_ratio(eager.get("train"), r.get("train"))}  '
                f'peak training memory '
                f'{_fmt_ratio(r.get("peak"), eager.get("peak"))}',
                flush=True)


# ---------------------------------------------------------------- builders
def build_backbone(case: str, build: dict, device: str, **overrides):
    import torch

    import uniformer_mm
    kind, kwargs, shape = BACKBONE_CASES[case]
    torch.manual_seed(0)
    model = getattr(uniformer_mm, kind)(**{**kwargs, **build, **overrides})
    model.init_weights()
    return model.to(device), shape


def _loss_of(outs):
    outs = outs if isinstance(outs, (tuple, list)) else (outs, )
    return sum(o.float().mean() for o in outs)


def backbone_runners(model, x):

    def forward():
        model.eval()(x)

    def train():
        model.train()
        model.zero_grad(set_to_none=False)
        _loss_of(model(x)).backward()

    return forward, train


def _fake_batch(scope: str, shape, num_classes: int):
    """Random uint8 inputs and training targets in each codebase's format."""
    import torch
    g = torch.Generator().manual_seed(0)
    if scope == 'mmdet':
        from mmdet.testing import demo_mm_inputs
        n, h, w = shape
        return demo_mm_inputs(
            batch_size=n,
            image_shapes=[(3, h, w)] * n,
            num_items=[5] * n,
            num_classes=num_classes,
            with_mask=True)
    if scope == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        n, h, w = shape
        samples = []
        for _ in range(n):
            s = SegDataSample(
                metainfo=dict(
                    img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            s.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, h, w), generator=g))
            samples.append(s)
        inputs = [
            torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
            for _ in range(n)
        ]
        return dict(inputs=inputs, data_samples=samples)
    from mmaction.structures import ActionDataSample
    n, t, h, w = shape
    inputs = [
        torch.randint(0, 256, (1, 3, t, h, w), generator=g, dtype=torch.uint8)
        for _ in range(n)
    ]
    samples = [
        ActionDataSample().set_gt_label(i % num_classes) for i in range(n)
    ]
    return dict(inputs=inputs, data_samples=samples)


def _plain_bn(node) -> None:
    """SyncBN -> BN in place: SyncBN needs a process group, and on one
    device both compute the same."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _plain_bn(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _plain_bn(item)


def build_model(case: str, build: dict, device: str):
    """A full detector / segmentor / recognizer and its fake batch."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    import uniformer_mm  # noqa: F401
    from uniformer_mm.analysis.build import build_model_from_config
    config, shape = MODEL_CASES[case]
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.backbone.update(build)
    _plain_bn(cfg.model)
    torch.manual_seed(0)
    model, scope = build_model_from_config(cfg)
    model.to(device)
    # init_weights logs every parameter at INFO: keep the table readable
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    num_classes = {'mmdet': 80, 'mmseg': 150, 'mmaction': 400}[scope]
    return model, _fake_batch(scope, shape, num_classes)


def model_runners(model, batch):

    def forward():
        model.eval()
        data = model.data_preprocessor(batch, training=False)
        model(**data, mode='tensor')

    def train():
        model.train()
        model.zero_grad(set_to_none=False)
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        sum(v.sum() for k, v in losses.items()
            if 'loss' in k and not isinstance(v, list)).backward()

    return forward, train


# ----------------------------------------------------------------- sections
def section_backbone(args, memory):
    import torch
    rows = {}
    for case in args.cases:
        runners = {}
        for name in args.builds:
            model, shape = build_backbone(case, BUILDS[name], args.device)
            x = torch.randn(*shape, device=args.device)
            runners[name] = backbone_runners(model, x)
        rows[case] = compare(runners, args.repeats, args.device, memory)
        print_table('backbone', {case: rows[case]})
        del runners
    return rows


def section_model(args, memory):
    rows = {}
    for case in args.model_cases:
        runners = {}
        for name in args.builds:
            model, batch = build_model(case, BUILDS[name], args.device)
            runners[name] = model_runners(model, batch)
        rows[case] = compare(runners, args.repeats, args.device, memory)
        print_table('full model', {case: rows[case]})
        del runners
    return rows


def section_scaling(args, memory):
    import torch
    print('\n## cost vs input size: hybrid S-h14 backbone, batch 1, '
          'short side x 1.52 (800x1216-like)')
    print(f'{"short side":>10} {"tokens s3":>9} {"build":7} {"fwd s":>8} '
          f'{"peak MiB":>9}')
    for short in (512, 800, 1333):
        size = (short, int(round(short * 1.52 / 32)) * 32)
        runners = {}
        for name in ('eager', 'ours'):
            model, _ = build_backbone('s-h14', BUILDS[name], args.device)
            x = torch.randn(1, 3, *size, device=args.device)
            runners[name] = backbone_runners(model, x)
        res = compare(runners, max(1, args.repeats // 2), args.device, memory)
        tokens = math.ceil(size[0] / 16) * math.ceil(size[1] / 16)
        for name, r in res.items():
            print(
                f'{short:>10} {tokens:>9} {name:7} {r["forward"]:8.3f} '
                f'{r.get("peak", 0) / 2**20:9.0f}',
                flush=True)
    print('\nglobal attention training memory vs tokens (S global, one '
          'image; growth exponent between consecutive sizes, 1 = linear, '
          '2 = quadratic)')
    print(f'{"size":>9} {"tokens s3":>9} {"eager MiB":>10} {"ours MiB":>9} '
          f'{"eager exp":>9} {"ours exp":>8}')
    prev = None
    for side in (256, 384, 512, 640):
        peaks = {}
        for name in ('eager', 'ours'):
            model, _ = build_backbone('s-global-512', BUILDS[name],
                                      args.device)
            x = torch.randn(1, 3, side, side, device=args.device)
            _, train = backbone_runners(model, x)
            train()
            r = {}
            with memory.measure(r):
                train()
            peaks[name] = r['peak']
        tokens = (side // 16)**2
        exps = ['', '']
        if prev:
            growth = math.log(tokens / prev[0])
            exps = [
                f'{math.log(peaks[n] / prev[1][n]) / growth:.2f}'
                for n in ('eager', 'ours')
            ]
        print(
            f'{side:>4}x{side:<4} {tokens:>9} '
            f'{peaks["eager"] / 2**20:10.0f} {peaks["ours"] / 2**20:9.0f} '
            f'{exps[0]:>9} {exps[1]:>8}',
            flush=True)
        prev = (tokens, peaks)


def _bf16_slowdown(n: int = 512, repeats: int = 3) -> float:
    """How many times slower an n x n bf16 matmul runs than float32 on
    this CPU (small: emulated bf16 takes ~2 s per GFLOP; at 256 oneDNN's
    small-matrix path hides the difference)."""
    import torch
    times = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = (torch.randn(n, n, dtype=dtype) for _ in range(2))
        torch.mm(a, b)
        times[dtype] = _median_time(
            lambda a=a, b=b: torch.mm(a, b), repeats, 'cpu')
    return times[torch.bfloat16] / times[torch.float32]


def section_amp(args, memory):
    import copy

    import torch

    from uniformer_mm.models.ops import cpu_bf16_native, cpu_capability
    if args.device == 'cpu':
        print(f'\n## reduced precision: CPU {cpu_capability()}')
        if not cpu_bf16_native():
            print(
                'skipping bf16: this CPU emulates bf16 '
                f'({torch.backends.cpu.get_cpu_capability()}, no '
                'AVX512-BF16 or AMX); a 512x512 bf16 matmul measured '
                f'{_bf16_slowdown():.0f}x slower than float32 here. The '
                'bf16 figures need a CPU with AVX512-BF16 or AMX.',
                flush=True)
            return
    model, shape = build_backbone('s-h14', {}, args.device)
    model.eval()
    x = torch.randn(*shape, device=args.device)
    dtypes = [torch.bfloat16
              ] + ([torch.float16] if args.device == 'cuda' else [])
    print('\n## reduced precision, S-h14 backbone, '
          f'{"x".join(map(str, shape))}, eval, repeats interleaved; '
          'error = relative L2 vs fp32, worst of the 4 outputs')
    runs = {'fp32': lambda: model(x)}
    for dtype in dtypes:

        def autocast(dtype=dtype):
            with torch.autocast(args.device, dtype=dtype):
                return model(x)

        # weights and input cast once: no per-op casts at all
        cast = copy.deepcopy(model).to(dtype)
        x_cast = x.to(dtype)
        runs[f'autocast {dtype}'] = autocast
        runs[f'{dtype} weights'] = lambda m=cast, xc=x_cast: m(xc)
    with torch.no_grad():
        ref = model(x)
        checks = {}
        for name, run in runs.items():
            outs = run()
            checks[name] = (all(torch.isfinite(o).all().item() for o in outs),
                            max(((o.float() - r).norm() / r.norm()).item()
                                for o, r in zip(outs, ref)))
    times = compare({
        name: (run, None)
        for name, run in runs.items()
    },
                    args.repeats,
                    args.device,
                    memory,
                    with_train=False)
    t32 = times['fp32']['forward']
    for name, row in times.items():
        finite, err = checks[name]
        print(
            f'{name:28} forward {row["forward"]:.3f} s: '
            f'{t32 / row["forward"]:.2f}x fp32; finite {finite}, '
            f'error {err:.2e}',
            flush=True)
    # the ceiling: how much faster this device multiplies in each dtype
    n = 2048
    rates = {}
    for dtype in [torch.float32] + dtypes:
        a, b = (
            torch.randn(n, n, device=args.device, dtype=dtype)
            for _ in range(2))
        torch.mm(a, b)
        rates[dtype] = 2 * n**3 / _median_time(
            lambda a=a, b=b: torch.mm(a, b), args.repeats, args.device)
    print(
        f'{n}x{n} matmul: ' +
        ', '.join(f'{str(d).split(".")[-1]} {r / 1e9:.0f} GFLOP/s '
                  f'({r / rates[torch.float32]:.2f}x fp32)'
                  for d, r in rates.items()),
        flush=True)


def section_compile(args, memory):
    import torch
    model, _ = build_backbone('s-224', {}, args.device)
    model.eval()
    x = torch.randn(2, 3, 224, 224, device=args.device)
    print('\n## torch.compile, UniFormer-S 2x3x224x224, eval')
    with torch.no_grad():
        ref = model(x)
        compiled = torch.compile(model)
        first = _timed(lambda: compiled(x), args.device)
        outs = compiled(x)
        err = max((o - r).abs().max().item() for o, r in zip(outs, ref))
        t_eager = _median_time(lambda: model(x), args.repeats, args.device)
        t_comp = _median_time(lambda: compiled(x), args.repeats, args.device)
    print(
        f'max abs difference vs eager mode {err:.2e}; first call '
        f'(compiles) {first:.1f} s; steady state {t_comp:.3f} s vs '
        f'{t_eager:.3f} s: {t_eager / t_comp:.2f}x',
        flush=True)


def _throughput(models: dict, x, repeats: int, device: str) -> dict:
    """Items per second of each model (eval, no grad), runs interleaved."""
    import torch
    times = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():
            model.eval()(x)  # warm-up
        for _ in range(repeats):
            for name, model in models.items():
                times[name].append(_timed(lambda m=model: m(x), device))
    return {
        name: x.shape[0] / statistics.median(t)
        for name, t in times.items()
    }


def section_throughput(args, memory):
    """The hourglass XXS / XS beside UniFormer-S, and what pruning buys."""
    import torch

    import uniformer_mm
    from uniformer_mm.models import ARCH_ZOO_LIGHT_3D, unpruned_arch
    for video in (False, True):
        dense = uniformer_mm.UniFormer3D if video else uniformer_mm.UniFormer
        light = (
            uniformer_mm.UniFormerLight3D
            if video else uniformer_mm.UniFormerLight)
        zoo = ARCH_ZOO_LIGHT_3D if video else None
        torch.manual_seed(0)
        models = {'small': dense('small', out_indices=(3, ))}
        for preset in ('xxs', 'xs'):
            models[preset] = light(preset, out_indices=(3, ))
            models[f'{preset} unpruned'] = light(
                unpruned_arch(preset, zoo), out_indices=(3, ))
            models[f'{preset} unpruned'].load_state_dict(
                models[preset].state_dict())
        for model in models.values():
            model.to(args.device)
        shape = (4, 3, 8, 160, 160) if video else (32, 3, 224, 224)
        unit = 'clips/s' if video else 'images/s'
        rates = _throughput(models, torch.randn(*shape, device=args.device),
                            args.repeats, args.device)
        kinds = (f'{dense.__name__} / {light.__name__}')
        print(f'\n## throughput, {"x".join(map(str, shape))}, eval, fp32, '
              f'{kinds} backbones')
        for name, rate in rates.items():
            base = name.split()[0]
            note = (f'  pruning: {rate and rates[base] / rate:.2f}x faster '
                    'with the preset\'s ratios' if ' ' in name else
                    f'  {rate / rates["small"]:.2f}x small')
            print(f'{name:14} {rate:8.1f} {unit}{note}', flush=True)


# ------------------------------------------------------- the official code
OFFICIAL_CASES = ('s-h14', 'video-s-16x224', 'light-xs-16x160')


def _official_code(repo: str):
    """scripts/official_code.py (maintainer module, outside the package)."""
    import importlib.util
    path = osp.join(ROOT, 'scripts', 'official_code.py')
    spec = importlib.util.spec_from_file_location('official_code', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.Source(repo)


def _mmaction_port(arch: dict, code):
    """MMAction2's own UniFormer (v1) backbone with ``arch``."""
    from mmaction.models.backbones.uniformer import UniFormer as Port
    return Port(
        depth=arch['depths'],
        embed_dim=arch['embed_dims'],
        head_dim=arch['head_dim'],
        mlp_ratio=code.one_mlp_ratio(arch),
        pretrained2d=False,
        init_cfg=None)


def _load_official_weights(model, official: dict, layout: str) -> None:
    """``model`` (ours) takes the official model's weights through our real
    converter (a file in the official ``layout``), so every build of a case
    computes with the same numbers."""
    import tempfile

    import torch

    from uniformer_mm.checkpoints.backbone import load_pretrained
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'official.pth')
        torch.save({layout: official}, path)
        load_pretrained(model, path)


def official_builds(case: str, src, code, device: str) -> dict:
    """Build name -> model, each called by :func:`official_runners`: the
    official code, MMAction2's port (video), ours -- the same weights."""
    import torch
    kind, _, shape = BACKBONE_CASES[case]
    ours, _ = build_backbone(case, BUILDS['ours'], device)
    arch = ours.arch_settings
    torch.manual_seed(0)
    with contextlib.redirect_stdout(open(os.devnull, 'w')):  # its prints
        if kind == 'UniFormer':
            official = code.det_uniformer(src, arch, ours.attn_mode,
                                          ours.window_size)
            layout = 'state_dict'
        elif kind == 'UniFormer3D':
            official = code.video_uniformer(src, arch, 400, shape[-1])
            layout = 'model_state'
        else:
            official = code.light_video_uniformer(src, arch, 400, shape[-1])
            layout = 'model_state'
    _load_official_weights(ours, official.state_dict(), layout)
    builds = {'official': official.to(device)}
    if kind == 'UniFormer3D':
        port = _mmaction_port(arch, code)
        missing, unexpected = port.load_state_dict(
            official.state_dict(), strict=False)
        assert not missing and all(k.startswith('head.')
                                   for k in unexpected), (missing, unexpected)
        builds['mmaction2'] = port.to(device)
    builds['ours'] = ours
    return builds


def official_runners(name: str, model, x):
    """SlowFast models take ``[clip]`` and return logits (two in training,
    hourglass); the loss is the mean of whatever comes out."""
    slowfast = name == 'official' and x.dim() == 5
    return backbone_runners(model, [x] if slowfast else x)


def section_official(args, memory):
    """Ours against the official code itself and MMAction2's port."""
    import torch
    if not args.official_repo:
        sys.exit('--sections official needs --official-repo: a checkout '
                 'or git mirror of github Sense-X/UniFormer')
    code, src = _official_code(args.official_repo)
    print(f'\n## official code (Sense-X/UniFormer {src.commit[:7]}): '
          f'min / median of {args.repeats} alternated repeats')
    for case in args.official_cases:
        builds = official_builds(case, src, code, args.device)
        x = torch.randn(*BACKBONE_CASES[case][2], device=args.device)
        runners = {
            name: official_runners(name, model, x)
            for name, model in builds.items()
        }
        rows = compare(runners, args.repeats, args.device, memory,
                       spread=True)
        print(f'{case:16} {"build":9} {"fwd min/med s":>15} '
              f'{"train min/med s":>17} {"peak MiB":>9}')
        for name, r in rows.items():
            peak = r.get('peak')
            print(f'{case:16} {name:9} {r["forward_min"]:7.3f}/'
                  f'{r["forward"]:<7.3f} {r["train_min"]:8.3f}/'
                  f'{r["train"]:<8.3f} '
                  f'{peak / 2**20 if peak else float("nan"):9.0f}')
        for base in [b for b in rows if b != 'ours']:
            o, b = rows['ours'], rows[base]
            print(f'{case:16} ours vs {base}: forward '
                  f'{_fmt_ratio(b["forward_min"], o["forward_min"])} (min) '
                  f'{_fmt_ratio(b["forward"], o["forward"])} (median), train '
                  f'step {_fmt_ratio(b["train_min"], o["train_min"])} (min) '
                  f'{_fmt_ratio(b["train"], o["train"])} (median), step '
                  f'memory {_fmt_ratio(o.get("peak"), b.get("peak"))}',
                  flush=True)
        del builds, runners


PROFILE_CASES = ('s-h14', 'video-s-16x224', 'light-xs-16x160')
# operator -> category, first match wins (names of torch.profiler events)
OP_CATEGORIES = (
    ('linear (mm / addmm / bmm)', r'^aten::(mm|addmm|bmm|matmul|linear)$'),
    ('convolution backward', r'convolution_backward|_backward_input'
     r'|_backward_weight|depthwise.*backward'),
    ('convolution forward', r'^aten::(_?convolution|conv\dd|mkldnn_conv'
     r'|_slow_conv|thnn_conv|_nnpack|conv_depthwise)'),
    ('attention (fused, fwd + bwd)', r'scaled_dot_product|_flash_attention'
     r'|_efficient_attention|^aten::_softmax|softmax_backward'),
    ('GELU (fwd + bwd)', r'gelu'),
    ('norms (fwd + bwd)', r'layer_norm|batch_norm|native_norm'),
    ('copies / layout', r'^aten::(copy_|clone|contiguous|_to_copy'
     r'|to_dense|cat)$'),
    ('element-wise / reductions', r'^aten::(add|add_|mul|mul_|sum|div'
     r'|fill_|zero_|mean|sub|neg|where)'),
)


def _block_part(model, module):
    """The block part a module is timed as, or None (timed within a
    parent). Names by what the official code calls them."""
    from torch import nn

    from uniformer_mm.models import blocks
    if isinstance(module, blocks.Attention):
        return 'MHRA attention (qkv, attention, proj)'
    if isinstance(module, blocks.ConvMlp):
        return 'conv MLP (1x1, GELU, 1x1)'
    if isinstance(module, blocks.Mlp):
        return 'token MLP (linear, GELU, linear)'
    if isinstance(module, (blocks.PatchEmbed, blocks.ConvStem)):
        return 'patch embedding'
    if isinstance(module, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
        return 'norms'
    if isinstance(module, (nn.Conv2d, nn.Conv3d)):
        if module.groups > 1:
            kernel = 'x'.join(map(str, module.kernel_size))
            return f'depth-wise conv {kernel} (DPE / local MHRA)'
        return '1x1 conv (local MHRA)'
    return None


def _parts_of(model):
    """(name, module, part) of the modules timed alone: the outermost module
    of each part, so that no time is counted twice."""
    parts, covered = [], []
    for name, module in model.named_modules():
        if any(name.startswith(c + '.') for c in covered):
            continue
        part = _block_part(model, module)
        if part is not None:
            parts.append((name, module, part))
            covered.append(name)
    return parts


_PART = 'part: '
FUSED_NORM_PART = 'BatchNorm -> 1x1 conv (norm1 -> conv1, norm2 -> fc1)'


@contextlib.contextmanager
def _part_ranges(model):
    """Each part's forward inside a profiler range ``part: <name>``."""
    from torch.autograd.profiler import record_function
    open_ranges, hooks = {}, []
    for _, module, part in _parts_of(model):

        def enter(m, args, part=part):
            open_ranges[id(m)] = record_function(_PART + part)
            open_ranges[id(m)].__enter__()

        def leave(m, args, out):
            open_ranges.pop(id(m)).__exit__(None, None, None)

        hooks += [
            module.register_forward_pre_hook(enter),
            module.register_forward_hook(leave)
        ]
    # The fast paths for the depth-wise convolutions and the fused
    # BatchNorm -> 1x1 conv compute without calling the modules' forward:
    # ranges of their own
    from uniformer_mm.models.ops import FastPaths
    plain = FastPaths.depthwise, FastPaths.norm_pointwise

    def depthwise(self, conv, x):
        with record_function(_PART + _block_part(model, conv)):
            return plain[0](self, conv, x)

    def norm_pointwise(self, norm, conv, x):
        with record_function(_PART + FUSED_NORM_PART):
            return plain[1](self, norm, conv, x)

    FastPaths.depthwise, FastPaths.norm_pointwise = depthwise, norm_pointwise
    try:
        yield
    finally:
        FastPaths.depthwise, FastPaths.norm_pointwise = plain
        for hook in hooks:
            hook.remove()


def _part_times(events) -> dict:
    """Part -> CPU seconds (forward + backward) in one profiled step.

    Forward: the time inside the part's ranges. Backward: autograd links
    each backward node to the forward op that made it by a sequence number;
    a node whose forward op ran inside a part's range counts for that part.
    """
    def part_of(event):
        while event is not None:
            if event.name.startswith(_PART):
                return event.name[len(_PART):]
            event = event.cpu_parent
        return None

    seq_part, totals = {}, {}
    for e in events:
        if e.name.startswith(_PART):
            totals[e.name[len(_PART):]] = (
                totals.get(e.name[len(_PART):], 0) + e.cpu_time_total)
        elif e.sequence_nr >= 0 and not e.name.startswith('autograd::'):
            part = part_of(e)
            if part is not None:
                seq_part.setdefault(e.sequence_nr, part)
    for e in events:
        if (e.name.startswith('autograd::engine::evaluate_function')
                and e.sequence_nr in seq_part):
            part = seq_part[e.sequence_nr]
            totals[part] = totals.get(part, 0) + e.cpu_time_total
    return {part: us / 1e6 for part, us in totals.items()}


def section_train_profile(args, memory):
    """Where a training step of our build spends its time."""
    import re

    import torch
    from torch.profiler import ProfilerActivity, profile
    for case in args.profile_cases:
        model, shape = build_backbone(case, BUILDS['ours'], args.device)
        x = torch.randn(*shape, device=args.device)
        _, train = backbone_runners(model, x)
        train()  # warm-up, grads allocated
        step = min(_timed(train, args.device) for _ in range(args.repeats))
        activities = [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if args.device == 'cuda' else [])
        with _part_ranges(model), profile(activities=activities) as prof:
            train()
        events = [
            e for e in prof.key_averages()
            if e.self_cpu_time_total and not e.key.startswith(_PART)
        ]
        total = sum(e.self_cpu_time_total for e in events)
        by_category = {}
        for e in events:
            category = next(
                (c for c, rx in OP_CATEGORIES if re.search(rx, e.key)),
                'other')
            by_category[category] = (
                by_category.get(category, 0) + e.self_cpu_time_total)
        print(f'\n## train-profile {case} '
              f'{"x".join(map(str, shape))}: one step (fwd + bwd, our '
              f'build) {step:.3f} s (min of {args.repeats})')
        print('by operator category (self CPU time, one profiled step):')
        for category, us in sorted(by_category.items(), key=lambda kv: -kv[1]):
            print(f'  {category:32} {us / 1e6:8.3f} s '
                  f'{100 * us / total:5.1f}%')
        print('top operators:')
        for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
            print(f'  {e.key:40} {e.self_cpu_time_total / 1e6:8.3f} s '
                  f'{100 * e.self_cpu_time_total / total:5.1f}%  '
                  f'{e.count} calls')
        parts = _part_times(prof.events())
        profiled = total / 1e6
        print('by block part (forward + backward, CPU time in the profiled '
              'step):')
        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f'  {part:44} {seconds:8.3f} s '
                  f'{100 * seconds / profiled:5.1f}%')
        rest = profiled - sum(parts.values())
        print(f'  {"rest (residuals, reshapes, drop path, loss)":44} '
              f'{rest:8.3f} s {100 * rest / profiled:5.1f}%',
              flush=True)
        del model, x, train


ONNX_CASES = ('s-h14', 'video-s-16x224')


def section_onnx(args, memory):
    """Our PyTorch build (eval, no grad) vs ONNX Runtime (CPU) on the file
    tools/deploy/export_onnx.py writes (dynamic shapes), batch 1."""
    import tempfile

    import torch

    from uniformer_mm.deploy import export_onnx, onnx_session, relative_error
    if args.device != 'cpu':
        print('\n## onnx: skipped (ONNX Runtime runs on the CPU here)')
        return
    threads = torch.get_num_threads()
    print(f'\n## PyTorch vs ONNX Runtime (CPU), batch 1, fp32, {threads} '
          f'threads each; CPU capability '
          f'{torch.backends.cpu.get_cpu_capability()}')
    print(f'{"case":16} {"torch s":>8} {"onnxrt s":>9} {"torch/ort":>9} '
          f'{"max rel diff":>12}')
    for case in ONNX_CASES:
        kind, kwargs, shape = BACKBONE_CASES[case]
        model, _ = build_backbone(case, {}, 'cpu', out_indices=(3, ))
        model.eval()
        x = torch.randn(1, *shape[1:])
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, f'{case}.onnx')
            export_onnx(model, x, path, dynamic=True)
            session = onnx_session(path, threads)
            feed = {'input': x.numpy()}
            with torch.no_grad():
                ref = model(x)
                ref = ref[0] if isinstance(ref, (tuple, list)) else ref
                err = relative_error(ref, session.run(None, feed)[0])
                times = dict(torch=[], ort=[])
                for _ in range(args.repeats):  # interleaved
                    times['torch'].append(_timed(lambda: model(x), 'cpu'))
                    times['ort'].append(
                        _timed(lambda: session.run(None, feed), 'cpu'))
        t_torch, t_ort = (statistics.median(times[k]) for k in times)
        print(
            f'{case:16} {t_torch:8.3f} {t_ort:9.3f} '
            f'{_fmt_ratio(t_torch, t_ort):>9} {err:12.2e}',
            flush=True)


SECTIONS = dict(
    backbone=section_backbone,
    model=section_model,
    scaling=section_scaling,
    amp=section_amp,
    compile=section_compile,
    throughput=section_throughput,
    official=section_official,
    **{'train-profile': section_train_profile},
    onnx=section_onnx)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument(
        '--sections',
        default=','.join(s for s in SECTIONS if s != 'official'),
        help=f'comma-separated, from {list(SECTIONS)} (default: all but '
        'official, which needs --official-repo)')
    parser.add_argument(
        '--cases',
        default=','.join(BACKBONE_CASES),
        help=f'backbone cases, from {list(BACKBONE_CASES)}')
    parser.add_argument(
        '--model-cases',
        default=','.join(MODEL_CASES),
        help=f'full-model cases, from {list(MODEL_CASES)}')
    parser.add_argument(
        '--profile-cases',
        default=','.join(PROFILE_CASES),
        help=f'train-profile cases, from {list(BACKBONE_CASES)}')
    parser.add_argument(
        '--official-cases',
        default=','.join(OFFICIAL_CASES),
        help=f'cases of the official section, from {list(OFFICIAL_CASES)}')
    parser.add_argument(
        '--official-repo',
        metavar='PATH',
        help='a checkout or git mirror of github Sense-X/UniFormer: the '
        'official section runs its code (not shipped, never downloaded)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--ablation',
        action='store_true',
        help='also the eager build with fused attention '
        'only (+fused)')
    parser.add_argument(
        '--threads',
        type=int,
        default=0,
        help='torch CPU threads (default: torch\'s own)')
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help='glibc: serve every allocation from the heap '
        'and never return freed memory to the system, so '
        'large CPU tensors stop paying page faults on each '
        'allocation (what a caching allocator does); shows '
        'how much of a CPU time is page faults')
    parser.add_argument(
        '--markdown',
        metavar='FILE',
        help='also write the backbone / model tables as Markdown, headed by '
        'the machine and the command (e.g. docs/benchmark.md)')
    args = parser.parse_args(argv)
    for key, known in (('sections', SECTIONS), ('cases', BACKBONE_CASES),
                       ('model_cases', MODEL_CASES),
                       ('profile_cases', BACKBONE_CASES),
                       ('official_cases', OFFICIAL_CASES)):
        values = [v for v in getattr(args, key).split(',') if v]
        unknown = [v for v in values if v not in known]
        if unknown:
            parser.error(f'unknown {key.replace("_", "-")} {unknown}; '
                         f'choose from {list(known)}')
        setattr(args, key, values)
    args.builds = ['eager'] + (['+fused'] if args.ablation else []) + ['ours']
    return args


def machine_description(device: str) -> str:
    """The machine a table was measured on, in one line."""
    import platform

    import torch
    if device == 'cuda':
        return (f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
                f', CUDA {torch.version.cuda}')
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return (f'{model}, {os.cpu_count()} cores, {torch.get_num_threads()} '
            f'torch threads, CPU capability '
            f'{torch.backends.cpu.get_cpu_capability()}, torch '
            f'{torch.__version__}')


def markdown_tables(tables, machine: str, command: str, repeats: int) -> str:
    """The printed tables as Markdown, headed by the machine and command."""
    lines = [
        '# Benchmark: ours vs the official computation', '',
        '<!-- Written by tools/analysis/benchmark.py --markdown; '
        're-run it, do not edit. -->', '', f'Machine: {machine}.', '',
        f'Command: `{command}` (median of {repeats} repeats, builds '
        'interleaved, fp32).', ''
    ]
    by_title = {}
    for title, case, builds in tables:
        by_title.setdefault(title, []).append((case, builds))

    def cell(r, key, scale=1.0, fmt='{:.3f}'):
        value = r.get(key)
        return fmt.format(value / scale) if value else 'n/a'

    for title, rows in by_title.items():
        lines += [
            f'## {title}', '',
            '| case | build | forward s | forward+backward s | peak MiB '
            '| speed-up fwd / fwd+bwd | memory vs eager |', '|---|---|---|'
            '---|---|---|---|'
        ]
        for case, builds in rows:
            eager = builds['eager']
            for name, r in builds.items():
                ratios = memory = '-'
                if name != 'eager':
                    ratios = ' / '.join(
                        _fmt_ratio(eager.get(key), r.get(key)).strip()
                        for key in ('forward', 'train'))
                    memory = _fmt_ratio(r.get('peak'),
                                        eager.get('peak')).strip()
                lines.append(f'| {case} | {name} | {cell(r, "forward")} | '
                             f'{cell(r, "train")} | '
                             f'{cell(r, "peak", 2**20, "{:.0f}")} | '
                             f'{ratios} | {memory} |')
        lines.append('')
    return '\n'.join(lines)


def _keep_freed_memory() -> None:
    """glibc ``mallopt``: no mmap below 1 GiB, no trimming below 2 GiB."""
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc = _glibc()
    if libc is None:
        sys.exit('--keep-freed-memory needs glibc (libc.so.6)')
    if not (libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
            and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)):
        sys.exit('--keep-freed-memory: glibc refused mallopt')


def main(argv=None):
    args = parse_args(argv)
    if args.keep_freed_memory:
        _keep_freed_memory()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('--device cuda: no CUDA device here; use --device cpu')
    memory = PeakMemory(args.device)
    print(f'torch {torch.__version__}, device {args.device}' +
          (f' ({torch.cuda.get_device_name()})' if args.device == 'cuda' else
           f', {torch.get_num_threads()} threads, {os.cpu_count()} cores') +
          (f', CPU {torch.backends.cpu.get_cpu_capability()}, load '
           f'average {" / ".join(f"{v:.2f}" for v in os.getloadavg())}'
           if args.device == 'cpu' else '') +
          f', {args.repeats} repeats, fp32 unless stated' +
          (', freed memory kept (glibc mallopt)' if args.
           keep_freed_memory else '') +
          ('' if memory.available else
           '; peak memory not measurable here (/proc/self/clear_refs)'))
    for section in args.sections:
        SECTIONS[section](args, memory)
    if args.markdown:
        if not _TABLES:
            sys.exit('--markdown: the sections run printed no table '
                     '(only backbone and model do)')
        command = ' '.join(['python tools/analysis/benchmark.py'] +
                           list(sys.argv[1:] if argv is None else argv))
        with open(args.markdown, 'w') as f:
            f.write(
                markdown_tables(_TABLES, machine_description(args.device),
                                command, args.repeats))
        print(f'wrote {args.markdown}')


if __name__ == '__main__':
    main()
