"""Turn a checkpoint you trust into one that loads weights-only.

uniformer_mm reads every checkpoint with ``torch.load(weights_only=True)``
and refuses files that pickle other objects (numpy arrays, arbitrary
classes, ``getattr``...), because unpickling them can run code. If a refused
file comes from a source you trust -- typically one you trained yourself --
this tool loads it ONCE with full unpickling and writes a copy that holds
only tensors, numbers, strings and containers. Numpy scalars/arrays and
``argparse.Namespace`` are converted; anything else is dropped and listed.

Never run it on a file from a source you do not trust: loading it here is
exactly the code execution the refusal protects you from.

    python tools/checkpoint/strip_checkpoint.py IN.pth OUT.pth --trust-source
"""
import argparse
import os.path as osp
import sys

import torch

from uniformer_mm.checkpoints import load_checkpoint_file, to_weights_only


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the weights-only copy')
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='required: you confirm the file comes from a trusted source')
    args = parser.parse_args(argv)
    if not args.trust_source:
        parser.error('refusing to fully unpickle without --trust-source: '
                     'only convert files from a source you trust')
    if not osp.isfile(args.src):
        parser.error(f'{args.src!r} does not exist')
    if osp.abspath(args.src) == osp.abspath(args.dst):
        parser.error('write to a new file; the source is left as it is')
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    clean, dropped = to_weights_only(checkpoint)
    torch.save(clean, args.dst)
    load_checkpoint_file(args.dst)  # proves the copy loads weights-only
    for path in dropped:
        print(f'dropped {path}', file=sys.stderr)
    print(f'wrote {args.dst} ({len(dropped)} non-weight entries dropped)')


if __name__ == '__main__':
    main()
