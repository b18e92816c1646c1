"""Every tinyjax primitive under the attribute name JAX gives it (`add_p`, `scatter_add_p`,
`remat_p`, ...). `tinyjax.lax` re-exports the ones that JAX's `lax` has."""
import importlib
import pkgutil

from tinyjax import ops
from tinyjax.core.primitive import registry

# Importing every module of tinyjax/ops registers all primitives (the elementwise table,
# control flow, collectives, callbacks, custom rules, linear algebra, random bits, ...).
for _module in pkgutil.iter_modules(ops.__path__):
    importlib.import_module(f'{ops.__name__}.{_module.name}')

# Primitives whose JAX attribute is not `<name>_p` (JAX's `checkpoint` primitive is remat_p).
_RENAMED = {'checkpoint': 'remat_p'}

# The primitive names JAX's `lax` module exports a `<name>_p` for (and tinyjax has).
LAX_NAMES = frozenset('''
    abs acos acosh add all_gather all_to_all and argmax argmin asin asinh atan atan2 atanh
    axis_index bitcast_convert_type broadcast_in_dim cbrt ceil clamp clz concatenate cond
    conv_general_dilated convert_element_type copy cos cosh cumlogsumexp cummax cummin
    cumprod cumsum div dot_general dynamic_slice dynamic_update_slice eq erf erf_inv exp
    exp2 expm1 floor gather ge gt integer_pow iota is_finite le log log1p logistic lt max
    min mul ne neg nextafter not or pad pmax pmin population_count pow ppermute psum
    reduce_and reduce_max reduce_min reduce_or reduce_prod reduce_sum reduce_window_max
    reduce_window_min reduce_window_sum rem reshape rev round rsqrt scan scatter scatter-add
    scatter-max scatter-min scatter-mul select_n shift_left shift_right_arithmetic
    shift_right_logical sign sin sinh slice sort sqrt square squeeze stop_gradient sub tan
    tanh transpose while xor'''.split())


def attribute_name(prim_name):
    return _RENAMED.get(prim_name, prim_name.replace('-', '_') + '_p')


def in_lax():
    """{attribute name: primitive} for the primitives `jax.lax` exports."""
    return {attribute_name(n): p for n, p in registry.items() if n in LAX_NAMES}


globals().update({attribute_name(n): p for n, p in registry.items()})
