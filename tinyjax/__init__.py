"""tinyjax: JAX's grad, jit, vmap and pmap, reimplemented GPU-first in Python."""
from tinyjax.version import __version__  # noqa: F401

from tinyjax import config as _config_module
from tinyjax.config import (  # noqa: F401
    config, default_matmul_precision, enable_x64, debug_nans, debug_infs, default_device,
    disable_jit)
from tinyjax import backends as _backends
from tinyjax.backends import (  # noqa: F401
    devices, local_devices, device_count, local_device_count, default_backend,
    process_index, process_count)
from tinyjax.core.array import Array  # noqa: F401
from tinyjax import errors, tree_util, dtypes  # noqa: F401
from tinyjax import numpy  # noqa: F401
from tinyjax import lax  # noqa: F401
from tinyjax.api import (  # noqa: F401
    make_jaxpr, typeof, eval_shape, device_put, device_get, block_until_ready, ShapeDtypeStruct,
    ensure_compile_time_eval, named_call, named_scope, reshard,
    make_array_from_single_device_arrays, make_array_from_callback,
    make_array_from_process_local_data)
from tinyjax.transforms.grad import (  # noqa: F401
    grad, value_and_grad, jvp, vjp, linearize, jacfwd, jacrev, hessian, linear_transpose)
jacobian = jacrev
from tinyjax.transforms.batching import vmap  # noqa: F401
from tinyjax.transforms.pmap import pmap  # noqa: F401
from tinyjax import sharding  # noqa: F401
from tinyjax.sharding import make_mesh, set_mesh, P, NamedSharding  # noqa: F401
from tinyjax.transforms.shard_map import shard_map  # noqa: F401
from tinyjax.ops import layout as _layout
sharding.auto_axes, sharding.explicit_axes = _layout.auto_axes, _layout.explicit_axes
sharding.reshard = _layout.reshard
from tinyjax.transforms.custom import (  # noqa: F401
    custom_jvp, custom_vjp, checkpoint, remat, custom_gradient)
from tinyjax import test_util  # noqa: F401
from tinyjax.kernels_path import kernels_dir  # noqa: F401
from tinyjax import dlpack  # noqa: F401
from tinyjax.tree_util import tree_map, tree_leaves, tree_structure  # noqa: F401

from tinyjax import tree  # noqa: F401,E402  (jax.tree.map and friends)
from tinyjax.transforms.jit import jit, clear_caches  # noqa: F401,E402
from tinyjax.callback import pure_callback  # noqa: F401,E402
from tinyjax import random  # noqa: F401,E402
from tinyjax import ref  # noqa: F401,E402
from tinyjax.ref import Ref  # noqa: F401,E402
from tinyjax import distributed  # noqa: F401,E402
from tinyjax import nn, scipy, profiler  # noqa: F401,E402
from tinyjax import example_libraries  # noqa: F401,E402
from tinyjax import debug  # noqa: F401,E402
from tinyjax import experimental, extend, typing  # noqa: F401,E402
from tinyjax.as_jax import install_as_jax  # noqa: F401,E402
from tinyjax import ad_checkpoint  # noqa: F401,E402
from tinyjax.ad_checkpoint import checkpoint_policies  # noqa: F401,E402
