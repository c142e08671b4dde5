import pytest
import torch
from mmengine.hooks import Hook

import uniformer_mm  # noqa: F401  (registers everything)
from uniformer_mm.engine import install_weights_only_loader

# as our tools do: MMEngine loads local checkpoints weights-only
# (tests/checkpoints/test_safe_loading.py checks the import alone does not)
install_weights_only_loader()


def pytest_configure(config):
    config.addinivalue_line('markers',
                            'slow: end-to-end runs, excluded by `make test`')
    config.addinivalue_line(
        'markers', 'zoo: dry run of every zoo config (`make test-zoo`), '
        'excluded by `make test` and `make test-slow`')


@pytest.fixture(scope='session')
def official_keys():
    """State-dict keys and shapes of every official model (recorded from the
    official code, shipped in uniformer_mm/checkpoints).
    """
    from uniformer_mm.checkpoints import official_state_dict_shapes
    return official_state_dict_shapes()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def randomize_(model: torch.nn.Module) -> torch.nn.Module:
    """Give every parameter and BatchNorm statistic non-trivial values so that
    comparisons exercise them (fresh norms are identities)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 2.0)
            else:
                tensor.normal_(0, 0.1 if tensor.dim() > 1 else 0.5)
    return model


class Killed(Exception):
    """Raised by :class:`KillAfter`: a training job dying mid-run."""


class KillAfter(Hook):
    """Kills training after iteration ``iters``, once its checkpoint exists."""
    priority = 'LOWEST'  # after CheckpointHook of the same iteration

    def __init__(self, iters):
        self.iters = iters

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.iters:
            raise Killed
