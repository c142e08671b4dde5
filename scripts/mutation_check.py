"""Targeted mutation check: does the test suite catch a wrong model?

Each mutation below is one small, plausible fault (a swapped convolution, a
no-op option, an off-by-one, a skipped key rename ...), written as an exact
source edit. The script applies one at a time, runs a test subset
(``pytest -x``: the first failure is enough), restores the file, and
reports each mutant as *caught* (some test failed) or *survived* (every test
passed). The sources are restored even when interrupted.

    python scripts/mutation_check.py                 # every mutation
    python scripts/mutation_check.py -k conv1 -k scale   # by id substring
    python scripts/mutation_check.py --tests tests/models \\
        --ignore tests/models/test_official_outputs.py      # a subset
    python scripts/mutation_check.py --list

Not run in CI (each mutant costs a test run); see docs/en/testing.md.
A mutant that survives either needs a test or is equivalent (it changes no
behaviour); say which when adding one here.
"""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = ['tests/models', 'tests/checkpoints']
# end-to-end runs of the tools in subprocesses (5 of the subset's 7 minutes),
# left out by default: the unit tests around them see the same code
DEFAULT_SELECT = ('not (variant_from_training_config or import_changes_no_'
                  'loader or converter_tool or hourglass_official_backbone_'
                  'keys or plain_mmengine_checkpoint or config_found_from_'
                  'the_file or mask_rcnn_official or torch_compile or '
                  'fresh_process or without_mmcv)')


class Mutation(NamedTuple):
    id: str
    path: str
    old: str
    new: str
    what: str
    occurrence: int = 0  # which match of ``old`` to edit (0: the first)
    # the tests this mutant is run against (pytest node ids or paths) and a
    # -k expression; empty: the run's --tests / --select
    tests: tuple = ()
    select: str = ''


M = 'uniformer_mm/models/'
C = 'uniformer_mm/checkpoints/'
D = 'uniformer_mm/deploy/'
E = 'uniformer_mm/engine/'
ENGINE_SCHEDULE = 'tests/engine/test_schedule.py'
ENGINE_HOOKS = ('tests/engine/test_engine.py::'
                'test_train_script_adds_the_hook_once')
DEPLOY_ONNX = 'tests/deploy/test_onnx_export.py'
DEPLOY_DET = 'tests/deploy/test_detector_export.py'
DEPLOY_PARTS = 'tests/deploy/test_export_parts.py'
MUTATIONS = [
    Mutation(
        'conv-block-swap-1x1', M + 'blocks.py',
        'y = norm_pointwise(self.norm1, self.conv1, x)\n'
        '        y = self.conv2(depthwise(self.attn, y))',
        'y = norm_pointwise(self.norm1, self.conv2, x)\n'
        '        y = self.conv1(depthwise(self.attn, y))',
        "ConvBlock applies its two 1x1 convolutions in swapped order"),
    Mutation('norm-eval-no-op', M + 'uniformer.py',
             'if mode and self.norm_eval:', 'if False and self.norm_eval:',
             'norm_eval does nothing'),
    Mutation('conv-block-no-pos-residual', M + 'blocks.py',
             'x = add(depthwise(self.pos_embed, x), x)',
             'x = depthwise(self.pos_embed, x)',
             'ConvBlock drops the residual of its position embedding'),
    Mutation(
        'attn-block-no-pos-residual',
        M + 'blocks.py',
        'x = add(self.fast_paths.depthwise(self.pos_embed, x), x)',
        'x = self.fast_paths.depthwise(self.pos_embed, x)',
        'AttentionBlock drops the residual of its position embedding'),
    Mutation('hourglass-no-pos-residual', M + 'uniformer_light.py',
             'x = paths.add(paths.depthwise(block.pos_embed, x), x)',
             'x = paths.depthwise(block.pos_embed, x)',
             'hourglass blocks drop the position-embedding residual'),
    Mutation('depthwise-grad-input-unflipped', M + 'ops.py',
             'conv(grad_out, weight.flip(space),',
             'conv(grad_out, weight,',
             'DepthwiseConv: the input gradient without the kernel flip'),
    Mutation('depthwise-temporal-offsets-reversed', M + 'ops.py',
             'x_t[dt:dt + T]', 'x_t[kernel - 1 - dt:kernel - 1 - dt + T]',
             'DepthwiseConv: 3x3x3 weight gradient with the temporal '
             'offsets reversed'),
    Mutation('depthwise-2d-blocks-misplaced', M + 'ops.py',
             'kernel - 3})', 'kernel - 2})',
             'DepthwiseConv: a 2D block of offsets starts one too far'),
    Mutation('norm-pointwise-no-batch-count', M + 'ops.py',
             '        norm.num_batches_tracked.add_(1)\n', '',
             'NormPointwise: the BatchNorm batch counter is not advanced'),
    Mutation('norm-pointwise-recompute-sign', M + 'ops.py',
             '(bn_bias - mean * invstd * bn_weight)',
             '(bn_bias + mean * invstd * bn_weight)',
             'NormPointwise: the recomputed norm output has a sign error'),
    Mutation('softmax-scale-of-dim', M + 'blocks.py',
             'self.scale = self.head_dim**-0.5', 'self.scale = dim**-0.5',
             'attention scaled by dim**-0.5 instead of head_dim**-0.5'),
    Mutation('frozen-stages-off-by-one', M + 'uniformer.py',
             'for i in range(max(self.frozen_stages, 0)):',
             'for i in range(max(self.frozen_stages - 1, 0)):',
             'frozen_stages=k freezes k - 1 stages'),
    Mutation('class-token-frozen-late', M + 'uniformer_light.py',
             'if self.frozen_stages >= 3:', 'if self.frozen_stages >= 4:',
             'the class token is frozen with stage 4 instead of 3'),
    Mutation('converter-slowfast-head-rename', C + 'video.py',
             "out['cls_head.fc_cls.weight'] = weight.clone()",
             "out['head.weight'] = weight.clone()",
             'SlowFast conversion skips renaming head.weight'),
    Mutation('converter-mmpose-head-rename', C + 'convert.py',
             "'head.' +\n            k[len('keypoint_head.'):]",
             "'keypoint_head.' +\n            k[len('keypoint_head.'):]",
             'MMPose 0.x conversion skips keypoint_head. -> head.'),
    Mutation('converter-class-token-foreign', C + 'video.py',
             "cls_upsample)\\.|cls_token$')", "cls_upsample)\\.')",
             'SlowFast conversion refuses the hourglass cls_token'),
    Mutation('loader-keeps-backbone-prefix', C + 'backbone.py',
             "prefix = 'backbone.'", 'prefix = None',
             'the loader does not strip backbone. from whole-model files'),
    Mutation(
        'window-partition-transposed', M + 'blocks.py',
        'return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size',
        'return x.permute(0, 3, 1, 2, 4, 5).reshape(-1, window_size',
        'window_partition orders the windows column-major (the '
        'reverse still row-major)'),
    Mutation('fused-windows-transposed', M + 'ops.py',
             'qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4,',
             'qkv = qkv.permute(5, 0, 3, 1, 6, 2, 4,',
             'the fused window gather orders the windows column-major'),
    Mutation('pruning-keeps-lowest-scores', M + 'uniformer_light.py',
             'order = scores.argsort(dim=1, descending=True)',
             'order = scores.argsort(dim=1, descending=False)',
             'the hourglass keeps the lowest-scored tokens'),
    Mutation('score-mix-swapped', M + 'uniformer_light.py',
             'return (1 - trade_off) * old + trade_off * new',
             'return trade_off * old + (1 - trade_off) * new',
             'trade_off weights the old score instead of the new one'),
    Mutation('dropped-tokens-not-updated', M + 'uniformer_light.py',
             'ranked = torch.cat([seq[:, 1:-1], dropped + update], dim=1)',
             'ranked = torch.cat([seq[:, 1:-1], dropped], dim=1)',
             "dropped tokens miss the representative token's update"),
    Mutation('scores-pooled-unscaled', M + 'uniformer_light.py',
             'return pooled * (', 'return pooled + 0 * (',
             'the pooled stage-4 scores are not rescaled to the same sum'),
    Mutation('inflate-average-undivided', C + 'backbone.py',
             '.repeat(1, 1, time_dim, 1, 1) / time_dim',
             '.repeat(1, 1, time_dim, 1, 1)',
             "'average' inflation does not divide by T"),
    Mutation('inflate-center-first-step', C + 'backbone.py',
             'weight_3d[:, :, time_dim // 2] = weight_2d',
             'weight_3d[:, :, 0] = weight_2d',
             "'center' inflation puts the kernel at the first step"),
    Mutation('with-cp-bn-stats-twice', M + 'uniformer.py',
             '(contextlib.nullcontext(), _batch_norm_stats_kept(block))',
             '(contextlib.nullcontext(), contextlib.nullcontext())',
             'with_cp recomputation updates BatchNorm statistics again'),
    Mutation(
        'video-no-final-norm', M + 'uniformer.py',
        'if self.ndim == 3 and i == self.num_stages - 1:\n'
        '            x = self.norm(x)',
        'if self.ndim == 3 and i == self.num_stages - 1:\n'
        '            x = x', 'the video models skip their final BatchNorm'),
    Mutation('block-norm-eps', M + 'blocks.py', 'BLOCK_NORM_EPS = 1e-6',
             'BLOCK_NORM_EPS = 1e-5',
             'block LayerNorms use eps 1e-5 instead of 1e-6'),
    Mutation('layer-scale-gamma-swapped', M + 'blocks.py',
             'x = add(x, self.drop_path(_scaled(self.gamma_1, y)))',
             'x = add(x, self.drop_path(_scaled(self.gamma_2, y)))',
             'ConvBlock scales its attention branch by gamma_2'),
    # -- engine/: run-length scaling, reliability hooks, class counts --
    Mutation(
        'schedule-milestones-unscaled',
        E + 'schedule.py',
        "sched['milestones'] = [scaled(m, low=1) for m in sched["
        "'milestones']]",
        "sched['milestones'] = list(sched['milestones'])",
        'scale_schedule leaves MultiStepLR milestones at the old length',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'schedule-no-min-span',
        E + 'schedule.py',
        'if end is not None and end < begin + _MIN_SPAN:',
        'if False:',
        'a warm-up scaled to one step stays at start_factor all run',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'schedule-val-interval-kept',
        E + 'schedule.py',
        "if cfg.train_cfg.get('val_interval', 0) > length:",
        "if False:",
        'a validation interval longer than the scaled run is kept',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'schedule-checkpoint-interval-kept',
        E + 'schedule.py',
        "or checkpoint.get('interval') == old):",
        "or False):",
        'a checkpoint interval of the whole old run is not scaled',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'schedule-length-counts-iter-warmup',
        E + 'schedule.py', "if by_epoch and not sched.get('by_epoch', True):\n"
        "            continue",
        "if False:\n            continue",
        'schedule_length of an epoch run counts the iteration warm-up',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'warmup-end-min-epoch',
        E + 'schedule.py',
        "sched['end'] = max(sched.get('begin', 0) + _MIN_SPAN, "
        "epoch_length)",
        "sched['end'] = min(sched.get('begin', 0) + _MIN_SPAN, "
        "epoch_length)",
        'fit_warmup_to_epoch ends the warm-up after _MIN_SPAN steps',
        tests=(ENGINE_SCHEDULE, )),
    Mutation(
        'reliability-no-safe-checkpoint',
        E + 'cli.py',
        "checkpoint['type'] = 'SafeCheckpointHook'",
        'pass',
        "tools/train.py keeps MMEngine's CheckpointHook",
        tests=(ENGINE_HOOKS, )),
    Mutation(
        'reliability-no-nonfinite-hook',
        E + 'cli.py', "for name in ('PreemptionHook', 'NonFiniteLossHook', "
        "'ClassCountCheckHook'):",
        "for name in ('PreemptionHook', 'ClassCountCheckHook'):",
        'tools/train.py adds no NonFiniteLossHook',
        tests=(ENGINE_HOOKS, )),
    Mutation(
        'reliability-hook-twice',
        E + 'cli.py',
        'if not any(h.get(\'type\') == CHECKPOINT_HOOK for h in hooks):',
        'if True:',
        'the weights-only hook is added again to a config listing it',
        tests=(ENGINE_HOOKS, )),
    Mutation(
        'class-count-labels-superset-refused',
        E + 'preflight.py',
        'if head_count == count or (labels_only and head_count > count):',
        'if head_count == count:',
        'a head with more classes than a label list uses is refused',
        tests=('tests/engine/test_preflight_class_counts.py', )),
    # -- deploy/: the export wrappers and their replacements --
    Mutation(
        'exportable-default-not-restored',
        D + 'exportable.py',
        'delattr(module, attr)',
        'pass',
        'after exportable() a switch keeps its export value',
        tests=(DEPLOY_ONNX, DEPLOY_PARTS),
        select='exportable'),
    Mutation(
        'exportable-train-mode-lost',
        D + 'exportable.py',
        'model.train(training)',
        'model.train(False)',
        'after exportable() a training model stays in eval mode',
        tests=(DEPLOY_ONNX, ),
        select='exportable'),
    Mutation(
        'adaptive-pool-floor-end',
        D + 'exportable.py',
        'return (i * length) // n, ((i + 1) * length + n - 1) // n',
        'return (i * length) // n, ((i + 1) * length) // n',
        'pyramid-pooling bins end at floor instead of ceil',
        tests=(DEPLOY_ONNX, ),
        select='adaptive_pool'),
    Mutation(
        'scale-upsample-nearest',
        D + 'exportable.py',
        'mode=module.mode,',
        "mode='nearest',",
        'the exportable Upsample ignores its interpolation mode',
        tests=(DEPLOY_ONNX, ),
        select='demo_model'),
    Mutation(
        'dynamic-pruned-not-refused',
        D + 'exportable.py',
        'if dynamic and pruned:',
        'if False:',
        'a token-pruning backbone is exported with dynamic shapes',
        tests=(DEPLOY_ONNX, ),
        select='light_backbone'),
    Mutation(
        'class-scores-softmaxed',
        D + 'onnx_export.py',
        'return self.model.cls_head(feats)',
        'return self.model.cls_head(feats).softmax(-1)',
        'the recognizer export gives probabilities, not class scores',
        tests=(DEPLOY_ONNX, ),
        select='recognizer'),
    Mutation(
        'relative-error-absolute',
        D + 'onnx_export.py',
        'return float((out - ref).abs().max() / scale)',
        'return float((out - ref).abs().max())',
        'relative_error is the absolute error',
        tests=(DEPLOY_ONNX, ),
        select='relative_error'),
    Mutation(
        'nms-groups-not-separated',
        D + 'detector.py',
        'boxes = boxes + (groups.to(boxes)[..., None] * (top + 1))',
        'boxes = boxes + (groups.to(boxes)[..., None] * 0)',
        'per-class NMS suppresses boxes across classes',
        tests=(DEPLOY_DET, ),
        select='matches_mmdet_predict'),
    Mutation(
        'decode-wh-unclamped',
        D + 'detector.py',
        'gwh = pwh * d[..., 2:].clamp(min=-max_ratio, max=max_ratio)'
        '.exp()',
        'gwh = pwh * d[..., 2:].exp()',
        "box decoding skips delta2bbox's log-ratio clamp",
        tests=(DEPLOY_PARTS, DEPLOY_DET),
        select='decode or matches_mmdet_predict'),
    Mutation(
        'compare-boxes-unscaled',
        D + 'detector.py',
        'boxes=float((ref[0][..., :4] - out[0][..., :4]).abs().max() / '
        'scale),',
        'boxes=float((ref[0][..., :4] - out[0][..., :4]).abs().max()),',
        'compare_detections reports absolute box differences',
        tests=(DEPLOY_PARTS, DEPLOY_DET),
        select='compare or verify'),
]


class StaleMutation(Exception):
    """The text a mutation edits is not in the source (any more)."""


def apply(mutation: Mutation) -> str:
    """Edit the file; return its original text."""
    path = ROOT / mutation.path
    text = path.read_text()
    start = -1
    for _ in range(mutation.occurrence + 1):
        start = text.find(mutation.old, start + 1)
        if start < 0:
            raise StaleMutation(
                f'{mutation.old!r} (occurrence {mutation.occurrence}) is no '
                f'longer in {mutation.path}: update the mutation')
    path.write_text(text[:start] + mutation.new +
                    text[start + len(mutation.old):])
    return text


def run_tests(tests, ignore, select, timeout):
    cmd = [
        sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider',
        '-p', 'no:warnings', *(['-k', select] if select else []), *tests
    ] + [f'--ignore={p}' for p in ignore]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    # its own session: an interrupt reaches this script, which ends pytest
    # and restores the source before it stops
    process = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException as error:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            return None, 'timeout'
        raise
    done = subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)
    lines = done.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith(('FAILED', 'ERROR'))]
    return done.returncode, (
        failed[0] if failed else lines[-1] if lines else done.stderr[-300:])


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f'signal {signum}')


def main():
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tests', nargs='+', default=DEFAULT_TESTS)
    parser.add_argument('--ignore', nargs='*', default=[])
    parser.add_argument(
        '-k',
        action='append',
        default=[],
        help='only mutations whose id contains this')
    parser.add_argument(
        '--select',
        default=DEFAULT_SELECT,
        help='pytest -k expression for the tests to run')
    parser.add_argument('--timeout', type=float, default=900)
    parser.add_argument('--list', action='store_true')
    args = parser.parse_args()
    chosen = [
        m for m in MUTATIONS if not args.k or any(k in m.id for k in args.k)
    ]
    if args.list:
        for m in chosen:  # each edit applied and undone: its text is there
            try:
                (ROOT / m.path).write_text(apply(m))
            except StaleMutation as error:
                print(f'{m.id:34} STALE: {error}')
                continue
            print(f'{m.id:34} {m.path}: {m.what}')
        return

    def selection(m):
        # a mutation's own tests, or the run's
        if m.tests:
            return tuple(m.tests), (), m.select
        return tuple(args.tests), tuple(args.ignore), args.select

    for tests, ignore, select in dict.fromkeys(map(selection, chosen)):
        code, summary = run_tests(tests, ignore, select, args.timeout)
        if code != 0:
            raise SystemExit(f'the unmutated sources fail {" ".join(tests)} '
                             f'(-k {select!r}): {summary}')
    caught = []
    for m in chosen:
        try:
            original = apply(m)
        except StaleMutation as error:
            print(f'stale    {m.id:34}        {error}', flush=True)
            continue
        start = time.time()
        try:
            code, summary = run_tests(*selection(m), args.timeout)
        finally:
            (ROOT / m.path).write_text(original)
        verdict = 'survived' if code == 0 else 'caught'
        if code != 0:
            caught.append(m.id)
        print(
            f'{verdict:8} {m.id:34} {time.time() - start:5.0f}s  '
            f'{summary if code else m.what}',
            flush=True)
    print(f'{len(caught)} of {len(chosen)} mutants caught (default tests: '
          f'{" ".join(args.tests)}' +
          (f' ignoring {" ".join(args.ignore)}' if args.ignore else '') +
          '; the deploy/ and engine/ mutations run their own)')


if __name__ == '__main__':
    main()
