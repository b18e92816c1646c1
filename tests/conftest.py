import os

import numpy as np
import pytest


def _gpu_available():
    try:
        from tinyjax.backends import cuda
        return cuda.gpu_count() > 0
    except Exception:
        return False


def pytest_configure(config):
    config.addinivalue_line('markers', 'gpu: needs an NVIDIA GPU (skipped without one)')
    config.addinivalue_line('markers', 'slow: takes more than a few seconds')


def pytest_collection_modifyitems(config, items):
    if _gpu_available():
        return
    skip = pytest.mark.skip(reason='no GPU visible to CuPy')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def x64():
    import tinyjax
    tinyjax.config.update('jax_enable_x64', True)
    yield
    tinyjax.config.update('jax_enable_x64', False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
