"""Save, and compare bit for bit, the outputs of every backbone preset.

For a refactoring that must not change a single number: run ``save`` on the
code before and after, then ``compare`` the two files. Every preset (and
alias) of the arch zoos -- UniFormer 2D (global / window / hybrid
attention), UniFormer3D, the hourglass UniFormerLight / UniFormerLight3D
(pruned and unpruned) -- is built with fixed weights (each tensor seeded by
its name, so the build order does not matter) and run on fixed inputs:

* ``eval``: float32 inference, no autograd;
* ``train``: training mode with stochastic depth, the gradients of a fixed
  loss w.r.t. every parameter and the input;
* ``bf16``: bf16 inference with the blocked CPU attention forced on (a
  CPU without native bf16 would otherwise never take it);

each under every fast-path setting: all on, all off, and each one off
alone. Aliases of a preset run the ``eval`` case of the default setting.

Usage::

    PYTHONPATH=$PWD python tools/analysis/compare_outputs.py save OUT.pt
    PYTHONPATH=$PWD python tools/analysis/compare_outputs.py compare A.pt B.pt
"""
import argparse
import dataclasses
import sys
import zlib
from typing import Dict, Iterator, Tuple

import torch

from uniformer_mm.models.ops import FastPaths

# The backbones' fast-path switches, each True by default (all of them:
# 'reference' must turn every one off).
FLAGS = tuple(f.name for f in dataclasses.fields(FastPaths))
SETTINGS = {
    'fast': {},
    'reference': {
        flag: False
        for flag in FLAGS
    },
    **{
        f'no-{flag}': {
            flag: False
        }
        for flag in FLAGS
    },
}


def _cases() -> Iterator[Tuple[str, str, dict, tuple, bool]]:
    """(name, backbone type, kwargs, input shape, canonical) per preset."""
    from uniformer_mm.models.arch import (ARCH_ZOO_2D, ARCH_ZOO_3D,
                                          ARCH_ZOO_LIGHT_2D, ARCH_ZOO_LIGHT_3D,
                                          preset_aliases, unpruned_arch)
    zoos = [
        ('UniFormer', ARCH_ZOO_2D, (2, 3, 64, 64)),
        ('UniFormer3D', ARCH_ZOO_3D, (2, 3, 4, 32, 32)),
        ('UniFormerLight', ARCH_ZOO_LIGHT_2D, (2, 3, 64, 64)),
        ('UniFormerLight3D', ARCH_ZOO_LIGHT_3D, (2, 3, 4, 64, 64)),
    ]
    for kind, zoo, shape in zoos:
        for canonical, aliases in preset_aliases(zoo).items():
            variants = [dict()]
            if kind == 'UniFormer':
                # window 3 pads the 4x4 stage-3 map of a 64 px input
                variants = [
                    dict(attn_mode=mode, window_size=3)
                    for mode in ('global', 'window', 'hybrid')
                ]
            for extra in variants:
                suffix = f"/{extra['attn_mode']}" if extra else ''
                for name in [canonical] + aliases:
                    yield (f'{kind}/{name}{suffix}', kind,
                           dict(arch=name, **extra), shape, name == canonical)
            if kind.startswith('UniFormerLight'):
                yield (f'{kind}/{canonical}/unpruned', kind,
                       dict(arch=unpruned_arch(canonical, zoo)), shape, True)


def _seeded(name: str) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def _fixed_weights(model: torch.nn.Module) -> None:
    """Non-trivial values for every tensor of the state dict, each drawn
    from a generator seeded by its name (fresh norms are identities)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            gen = _seeded(name)
            if name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            else:
                std = 0.1 if tensor.dim() > 1 else 0.5
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * std)


def _outputs(out) -> Tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out, )


def _run(kind: str, kwargs: dict, shape: tuple, mode: str,
         setting: dict) -> Dict[str, torch.Tensor]:
    import uniformer_mm.models as models
    # the flags go through the one switch (the legacy keyword per flag is
    # gone); a setting names only the flags it turns off
    build = dict(kwargs, fast_paths=dict(setting))
    if mode == 'train':
        build['drop_path_rate'] = 0.1
    model = getattr(models, kind)(**build)
    _fixed_weights(model)
    x = torch.randn(shape, generator=_seeded('input'))
    results = {}
    if mode == 'train':
        model.train()
        x.requires_grad_(True)
        torch.manual_seed(0)  # the stochastic-depth draws
        outs = _outputs(model(x))
        loss = sum(
            (out * torch.randn(out.shape, generator=_seeded(str(i)))).sum()
            for i, out in enumerate(outs))
        loss.backward()
        results['grad/input'] = x.grad
        for name, param in model.named_parameters():
            if param.grad is not None:
                results[f'grad/{name}'] = param.grad
        results['loss'] = loss.detach()
    else:
        model.eval()
        if mode == 'bf16':
            model.bfloat16()
            x = x.bfloat16()
        with torch.no_grad():
            outs = _outputs(model(x))
    for i, out in enumerate(outs):
        results[f'out/{i}'] = out.detach()
        # the layout is part of the behaviour (callers get NCHW)
        results[f'contiguous/{i}'] = torch.tensor(out.is_contiguous())
    return results


def _force_blocked_bf16() -> None:
    """Take the blocked bf16 attention as on a CPU with native bf16,
    wherever the code looks the capability up."""
    import importlib
    for module in ('uniformer_mm.models.blocks', 'uniformer_mm.models.ops'):
        mod = importlib.import_module(module)
        if hasattr(mod, 'cpu_bf16_native'):
            mod.cpu_bf16_native = lambda: True


def save(path: str, only: str = '') -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # thread counts change float reductions
    results: Dict[str, Dict[str, torch.Tensor]] = {}
    for name, kind, kwargs, shape, canonical in _cases():
        if only and not any(part in name for part in only.split(',')):
            continue
        runs = [('eval', 'fast')]
        if canonical:
            runs = [(mode, s) for mode in ('eval', 'train') for s in SETTINGS]
            if 'large' not in name:  # emulated bf16 is slow here
                runs += [('bf16', 'fast'), ('bf16', 'reference')]
        for mode, setting in runs:
            if mode == 'bf16':
                _force_blocked_bf16()
            key = f'{name}|{mode}|{setting}'
            results[key] = _run(kind, kwargs, shape, mode, SETTINGS[setting])
            print(key, len(results[key]), flush=True)
    torch.save(results, path)
    print(f'saved {len(results)} runs, '
          f'{sum(map(len, results.values()))} tensors to {path}')


def compare(path_a: str, path_b: str) -> int:
    # memory-mapped: the files hold every gradient of every preset
    a, b = (torch.load(p, mmap=True) for p in (path_a, path_b))
    problems = []
    if set(a) != set(b):
        problems.append(f'runs differ: only in A {sorted(set(a) - set(b))}, '
                        f'only in B {sorted(set(b) - set(a))}')
    tensors = 0
    for run in sorted(set(a) & set(b)):
        if set(a[run]) != set(b[run]):
            problems.append(f'{run}: tensors differ: '
                            f'{sorted(set(a[run]) ^ set(b[run]))}')
        for key in sorted(set(a[run]) & set(b[run])):
            tensors += 1
            ta, tb = a[run][key], b[run][key]
            if ta.dtype != tb.dtype or not torch.equal(ta, tb):
                diff = (ta.float() - tb.float()).abs().max().item() if (
                    ta.shape == tb.shape) else 'shape'
                problems.append(f'{run} {key}: not equal (max diff {diff})')
    for problem in problems:
        print(problem)
    runs = len(set(a) & set(b))
    status = 'BIT-IDENTICAL' if not problems else f'{len(problems)} problems'
    print(f'{status}: {runs} runs, {tensors} tensors compared')
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p_save = sub.add_parser('save', help='run every preset, save outputs')
    p_save.add_argument('out')
    p_save.add_argument(
        '--only',
        default='',
        help='only the presets whose name contains one of these '
        '(comma-separated)')
    p_cmp = sub.add_parser('compare', help='compare two saved files')
    p_cmp.add_argument('a')
    p_cmp.add_argument('b')
    args = parser.parse_args()
    if args.command == 'save':
        save(args.out, args.only)
        return 0
    return compare(args.a, args.b)


if __name__ == '__main__':
    sys.exit(main())
