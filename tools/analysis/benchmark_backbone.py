"""Speed and memory of our UniFormer backbone against an eager-attention build.

The reference is the same module built with ``fused_attn=False``: the
official computation ``softmax(q @ k^T * scale) @ v`` with a materialised
attention map. Both run in this one invocation, alternating, each
measurement in a fresh subprocess so that peak memory is its own; the table
reports ratios. This is a benchmark, not a test: nothing asserts a time.

Measured per case and implementation:
  * forward latency (eval, no grad), median of ``--repeats`` runs;
  * forward+backward latency (train mode), median of ``--repeats`` runs;
  * peak training memory: the growth of peak memory over the process
    baseline (CPU: peak RSS via getrusage; CUDA: max_memory_allocated)
    during one forward+backward pass.

Usage:
    python tools/analysis/benchmark_backbone.py
    python tools/analysis/benchmark_backbone.py --cases small-224 --repeats 5
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

# name -> (backbone kwargs, input shape)
CASES = {
    'small-224': (dict(arch='small'), (8, 3, 224, 224)),
    'hybrid-800x1216': (dict(arch='small', attn_mode='hybrid'),
                        (2, 3, 800, 1216)),
    'hybrid-800x1216-cp': (dict(arch='small', attn_mode='hybrid',
                                with_cp=[0, 0, 8, 0]), (2, 3, 800, 1216)),
    'global-512': (dict(arch='small'), (1, 3, 512, 512)),
    'video-small-16x224': (dict(arch='small', video=True),
                           (1, 3, 16, 224, 224)),
}


def _build(case: str, fused: bool, device: str):
    import torch

    import uniformer_mm
    kwargs, shape = CASES[case]
    kwargs = dict(kwargs)
    cls = uniformer_mm.UniFormer3D if kwargs.pop('video', False) else (
        uniformer_mm.UniFormer)
    torch.manual_seed(0)
    model = cls(**kwargs, fused_attn=fused).to(device)
    model.init_weights()
    return model, torch.randn(*shape, device=device)


def _train_step(model, x):
    model.zero_grad(set_to_none=False)
    outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs, )
    sum(o.float().mean() for o in outs).backward()


def measure_time(case: str, fused: bool, repeats: int, device: str) -> dict:
    """Median forward and forward+backward latency (and CUDA peak memory)."""
    import torch
    model, x = _build(case, fused, device)

    def timed(fn):
        fn()  # warm-up (also allocates the .grad buffers)
        times = []
        for _ in range(repeats):
            if device == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == 'cuda':
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with torch.no_grad():
        forward = timed(lambda: model.eval()(x))
    result = dict(forward=forward)
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    result['train'] = timed(lambda: _train_step(model.train(), x))
    if device == 'cuda':
        result['peak'] = torch.cuda.max_memory_allocated() - base
    return result


def measure_memory_cpu(case: str, fused: bool) -> dict:
    """Growth of peak RSS over the baseline (weights, grads, input) during
    one training step, in this fresh process."""
    import torch
    model, x = _build(case, fused, 'cpu')
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _train_step(model.train(), x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(peak=(peak - baseline) * 1024)


def run_child(args: argparse.Namespace, case: str, fused: bool,
              what: str) -> dict:
    cmd = [
        sys.executable, __file__, '--child', what, '--cases', case,
        '--repeats',
        str(args.repeats), '--device', args.device
    ] + (['--fused'] if fused else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'measuring {case} ({what}) failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--cases',
        default='small-224,hybrid-800x1216',
        help=f'comma-separated, from {list(CASES)}')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--child', choices=['time', 'memory'])
    parser.add_argument('--fused', action='store_true')
    args = parser.parse_args()
    cases = args.cases.split(',')
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f'unknown cases {unknown}; choose from {list(CASES)}')

    if args.child:
        if args.child == 'memory':
            result = measure_memory_cpu(cases[0], args.fused)
        else:
            result = measure_time(cases[0], args.fused, args.repeats,
                                  args.device)
        print(json.dumps(result))
        return

    import torch
    print(f'torch {torch.__version__}, device {args.device}, '
          f'{torch.get_num_threads()} threads, {args.repeats} repeats')
    header = (f'{"case":22} {"impl":6} {"fwd s":>8} {"fwd+bwd s":>10} '
              f'{"peak MiB":>9}')
    print(header, flush=True)
    rows, ratios = [header], []
    for case in cases:
        result = {}
        for fused in (False, True):
            timing = run_child(args, case, fused, 'time')
            memory = (run_child(args, case, fused, 'memory')
                      if args.device == 'cpu' else timing)
            result[fused] = dict(timing, peak=memory['peak'])
            rows.append(f'{case:22} {"ours" if fused else "eager":6} '
                        f'{timing["forward"]:8.3f} {timing["train"]:10.3f} '
                        f'{memory["peak"] / 2**20:9.0f}')
            print(rows[-1], flush=True)
        eager, ours = result[False], result[True]
        ratios.append(
            f'{case:22} forward {eager["forward"] / ours["forward"]:.2f}x  '
            f'forward+backward {eager["train"] / ours["train"]:.2f}x  '
            f'peak training memory {ours["peak"] / eager["peak"]:.2f}x')
    print('\nours vs eager attention (speed-up; memory as a fraction):')
    print('\n'.join(ratios))


if __name__ == '__main__':
    main()
