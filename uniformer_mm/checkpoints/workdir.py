"""The checkpoints of a work dir: written atomically, found again on resume.

A checkpoint file and ``last_checkpoint`` are written to a temporary file in
the same directory, flushed to disk and renamed over the final name
(:func:`replace_atomically`), so a kill at any moment leaves either the old
file or the complete new one, never a partial file under a checkpoint's
name. :func:`find_resumable_checkpoint` picks the newest checkpoint that can
be read, whatever ``last_checkpoint`` says.
"""
import logging
import os
import os.path as osp
import re
from typing import Callable, List, Optional, Tuple

from mmengine.logging import print_log

from .io import load_checkpoint_file

LAST_CHECKPOINT = 'last_checkpoint'
# what MMEngine's CheckpointHook names its files (filename_tmpl defaults)
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')
TEMP_PREFIX = '.tmp-'  # temporary files: hidden, never a checkpoint's name


class NoResumableCheckpointError(RuntimeError):
    """The work dir holds checkpoints, but none of them can be read."""


def temp_path(path: str) -> str:
    """A temporary name beside ``path`` (same file system, so the rename
    is atomic), unique per process."""
    folder, name = osp.split(path)
    return osp.join(folder, f'{TEMP_PREFIX}{os.getpid()}-{name}')


def replace_atomically(tmp: str, path: str) -> None:
    """Flush ``tmp`` to disk and rename it to ``path`` in one step."""
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(osp.dirname(osp.abspath(path)) or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, then
    rename it to ``path``; on any error the temporary file is removed and
    ``path`` is left as it was."""
    tmp = temp_path(path)
    try:
        write(tmp)
        replace_atomically(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomically(path: str, text: str) -> None:
    """``path`` holding ``text``, written atomically."""

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    write_atomically(path, write)


def remove_stale_temp_files(folder: str) -> List[str]:
    """Remove the temporary checkpoint files of processes that died while
    saving (named by :func:`temp_path`; live processes' are kept)."""
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in os.listdir(folder):
        match = re.match(rf'^{re.escape(TEMP_PREFIX)}(\d+)-', name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid != os.getpid():
            try:
                os.kill(pid, 0)
                continue  # alive: perhaps another run saving right now
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        os.remove(osp.join(folder, name))
        removed.append(name)
    return removed


def list_checkpoints(work_dir: str) -> List[str]:
    """The checkpoints (``iter_N.pth`` / ``epoch_N.pth``) in ``work_dir``,
    newest (highest N) first."""
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        match = CHECKPOINT_NAME.match(name)
        if match and osp.isfile(osp.join(work_dir, name)):
            found.append((int(match.group(2)), name))
    return [osp.join(work_dir, name) for _, name in sorted(found)[::-1]]


def read_last_checkpoint(work_dir: str) -> Tuple[Optional[str], str]:
    """The path ``last_checkpoint`` names, or None and why it cannot be
    used ('' when the file does not exist)."""
    path = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(path):
        return None, ''
    try:
        with open(path, encoding='utf-8') as f:
            named = f.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        return None, f'{path} is unreadable ({type(error).__name__})'
    if not named:
        return None, f'{path} is empty'
    if '\n' in named or not osp.isfile(named):
        return None, (f'{path} names {named[:200]!r}, which is not an '
                      'existing file')
    return named, ''


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None when it can."""
    try:
        checkpoint = load_checkpoint_file(path)
    except Exception as error:  # any unreadable file is skipped, with why
        return f'{type(error).__name__}: {str(error)[:300]}'
    if not isinstance(checkpoint, dict) or not isinstance(
            checkpoint.get('state_dict'), dict) or 'meta' not in checkpoint:
        return 'not a training checkpoint (no state_dict / meta)'
    return None


def find_resumable_checkpoint(work_dir: str,
                              logger='current') -> Optional[str]:
    """The checkpoint to resume from: the one ``last_checkpoint`` names if
    it is readable, else the newest readable ``iter_*/epoch_*.pth``.

    Each file passed over is named in a WARNING with the reason.

    Returns:
        str | None: The file; None only when ``work_dir`` holds no
        checkpoint at all (a fresh run).

    Raises:
        NoResumableCheckpointError: checkpoints exist, none is readable.
    """
    named, why = read_last_checkpoint(work_dir)
    if why:
        print_log(
            f'resume: {why}; looking for the newest readable checkpoint '
            f'in {work_dir}',
            logger=logger,
            level=logging.WARNING)
    candidates = list_checkpoints(work_dir)
    if named is not None:
        candidates = [named] + [
            c for c in candidates if osp.abspath(c) != osp.abspath(named)
        ]
    skipped = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            if skipped:
                print_log(
                    f'resume: resuming from {path}, the newest readable '
                    'checkpoint',
                    logger=logger,
                    level=logging.WARNING)
            return path
        skipped.append(f'{path}: {problem}')
        print_log(
            f'resume: skipping unreadable checkpoint {path} ({problem})',
            logger=logger,
            level=logging.WARNING)
    if skipped:
        raise NoResumableCheckpointError(
            f'--resume: {work_dir} holds checkpoints but none can be read, '
            'so the run stops rather than start from scratch over them:\n  ' +
            '\n  '.join(skipped) +
            '\nRestore a good checkpoint into the work dir, pass one with '
            '--resume PATH, or use another --work-dir to start afresh.')
    return None
