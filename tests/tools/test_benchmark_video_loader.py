"""tools/analysis/benchmark_video_loader.py runs on the zoo's K400 config
(it broke once when the config's frame sampling started to need the frame
rate, which MMAction2's PyAVInit does not give)."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_video_loader_benchmark_runs_every_variant():
    # a fresh interpreter: the tool sets torch and OpenCV to one thread
    proc = subprocess.run([
        sys.executable, 'tools/analysis/benchmark_video_loader.py', '--clips',
        '1', '--passes', '1', '--seconds', '3', '--size', '160x96'
    ],
                          cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    decoders = dict(
        re.findall(
            r'^\| ([A-Za-z(][^|]*?) +\| +[\d.]+ \| +[\d.]+ \| +([\d.]+) \|$',
            out, re.M))
    assert len(decoders) == 4, out
    # seeking to a key frame never decodes more than decoding from the start
    assert float(decoders['CheckedPyAVDecode (seeks to an IDR frame)']) <= \
        float(decoders['CheckedPyAVDecode, from the start'])
    rows = re.findall(r'^\| ([12]) \| ([^|]+?) \| ', out, re.M)
    assert [(int(n), label)
            for n, label in rows] == [(1, 'PyAVDecode, PIL RandAugment'),
                                      (1, 'before (from start, PIL)'),
                                      (2, 'before (from start, PIL)'),
                                      (1, 'now (IDR seek, clip ops)'),
                                      (2, 'now (IDR seek, clip ops)')]
    assert re.search(
        r'now \(IDR seek, clip ops\): two repeats cost '
        r'[\d.]+ / [\d.]+x one', out), out
