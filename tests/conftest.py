import os
import sys

import numpy as np
import pytest


def _gpu_available():
    try:
        from tinyjax.backends import cuda
        return cuda.gpu_count() > 0
    except Exception:
        return False


def _nvrtc_available():
    try:
        from tinyjax.compiler import nvrtc
        return nvrtc.available()
    except Exception:
        return False


def pytest_configure(config):
    # Every module jit builds during the run is also compiled by NVRTC for these arches
    # (tests/test_jit_nvrtc.py checks it happened), so CI proves each generated kernel
    # compiles for the GPU even without one.
    if 'TINYJAX_NVRTC_CHECK' not in os.environ and _nvrtc_available():
        os.environ['TINYJAX_NVRTC_CHECK'] = 'sm_90,sm_80'
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
def eight_cpus():
    """8 devices for pmap and meshes: the emulated GPU's when it presents 8 or more (so
    .ci/emulated_gpu runs these tests on the GPU path), else 8 CPU devices, even where a
    real GPU is the default backend; gpu-marked tests switch the platform back themselves.
    On the GPU matmuls run at full float32 precision: the recorded values are the CPU's,
    which TF32 would miss by ~1e-3."""
    import tinyjax as jax
    platform = jax.config.read('jax_platforms')
    precision = jax.config.read('jax_default_matmul_precision')
    jax.config.update('jax_num_cpu_devices', 8)
    if str(platform or '').startswith('gpu-emulated') and jax.device_count() >= 8:
        jax.config.update('jax_default_matmul_precision', 'float32')
    else:
        jax.config.update('jax_platforms', 'cpu')
    yield
    jax.config.update('jax_num_cpu_devices', 1)
    jax.config.update('jax_platforms', platform)
    jax.config.update('jax_default_matmul_precision', precision)


@pytest.fixture
def x64():
    import tinyjax
    tinyjax.config.update('jax_enable_x64', True)
    yield
    tinyjax.config.update('jax_enable_x64', False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope='module')
def as_jax():
    """tinyjax.install_as_jax() for a test module; sys.modules and the import finders are
    restored afterwards, so the rest of the suite sees no `jax`."""
    import tinyjax
    saved_modules, saved_path = dict(sys.modules), list(sys.meta_path)
    tinyjax.install_as_jax()
    yield
    for name in list(sys.modules):
        if name not in saved_modules:
            del sys.modules[name]
    sys.meta_path[:] = saved_path
