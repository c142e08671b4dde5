"""tests/conftest.py restores what a test changes globally."""
import torch
from conftest import _restore_global_state
from mmengine.registry import DefaultScope, init_default_scope


def test_threads_and_default_scope_are_restored():
    threads = torch.get_num_threads()
    scopes = list(DefaultScope._instance_dict)
    # the fixture's body, run by hand around a test that changes both
    restore = _restore_global_state.__wrapped__()
    next(restore)
    torch.set_num_threads(threads + 1)
    init_default_scope('mmseg')
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'
    for _ in restore:
        pass
    assert torch.get_num_threads() == threads
    assert list(DefaultScope._instance_dict) == scopes
