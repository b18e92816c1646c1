"""Small behaviours recorded from JAX 0.10.2: the weak type of jnp.*_like of Python
scalars, make_jaxpr of a non-callable, conv shape tuples without dimension_numbers,
jacrev's zeros for integer inputs (allow_int), and jax.typeof(x).sharding."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.sharding import AbstractMesh, AxisType, NamedSharding, PartitionSpec as P


@pytest.mark.parametrize('fn', [jnp.zeros_like, jnp.ones_like, jnp.empty_like,
                                lambda v, **k: jnp.full_like(v, 3, **k)])
def test_like_of_python_scalars_is_weak(fn):
    # JAX: (dtype, weak_type) of f(v) for each v.
    want = [(1.0, 'float32', True), (1, 'int32', True), (True, 'bool', False),
            (1j, 'complex64', True), (np.float32(1.0), 'float32', False)]
    for v, dt, weak in want:
        x = fn(v)
        assert (x.dtype.name, jax.typeof(x).weak_type) == (dt, weak), v
    assert jax.typeof(fn(jnp.asarray(1.0))).weak_type           # a weak array stays weak
    assert not jax.typeof(fn(jnp.float32(1.0))).weak_type
    assert not jax.typeof(fn(1.0, dtype=jnp.float32)).weak_type  # a dtype makes it strong
    assert not jax.typeof(fn(1.0, dtype=float)).weak_type
    x = fn(1.0, shape=(2,))
    assert x.shape == (2,) and jax.typeof(x).weak_type
    # Weakness shows in promotion: a weak float32 zero does not widen a bfloat16.
    assert (jnp.zeros_like(1.0) + jnp.ones(2, jnp.bfloat16)).dtype == jnp.bfloat16


def test_like_under_jit_keeps_weak_type():
    out = jax.jit(lambda x: jnp.zeros_like(x) + jnp.ones(2, jnp.float16))(1.0)
    assert out.dtype == jnp.float16


def test_make_jaxpr_of_a_non_callable_raises_type_error():
    for bad in ('abc', 3, None):
        with pytest.raises(TypeError, match='must be callable'):
            jax.make_jaxpr(bad)


def test_conv_shape_tuples_need_dimension_numbers():
    with pytest.raises(TypeError, match='dimension_numbers'):
        lax.conv_general_shape_tuple((1, 3, 8, 8), (4, 3, 3, 3), (1, 1), 'SAME', None)
    with pytest.raises(TypeError, match='dimension_numbers'):
        lax.conv_transpose_shape_tuple((1, 3, 8, 8), (4, 3, 3, 3), (1, 1), 'SAME', None)
    assert lax.conv_general_shape_tuple((1, 3, 8, 8), (4, 3, 3, 3), (1, 1), 'SAME',
                                        ('NCHW', 'OIHW', 'NCHW')) == (1, 4, 8, 8)
    assert lax.conv_general_shape_tuple((1, 8, 8, 3), (3, 3, 3, 4), (1, 1), 'SAME',
                                        ('NHWC', 'HWIO', 'NHWC')) == (1, 8, 8, 4)


def test_jacrev_allow_int_gives_zeros_of_the_input_dtype():
    g = jax.jacrev(lambda x: x * 2., allow_int=True)(3)
    assert (g.dtype, g.shape, jax.typeof(g).weak_type, int(g)) == (np.int32, (), True, 0)
    gi, gf = jax.jacrev(lambda x, y: x * y, argnums=(0, 1), allow_int=True)(3, 2.0)
    assert gi.dtype == np.int32 and gf.dtype == np.float32 and float(gf) == 3.0
    g = jax.jacrev(lambda x: x.sum() * 2., allow_int=True)(jnp.arange(3))
    assert g.dtype == np.int32 and g.shape == (3,)
    g = jax.jacrev(lambda x: x * 2., allow_int=True)(jnp.arange(3))
    assert g.dtype == np.int32 and g.shape == (3, 3) and not np.asarray(g).any()
    # grad keeps float0, as in JAX.
    assert jax.grad(lambda x: x * 2., allow_int=True)(3).dtype == jax.dtypes.float0


def test_typeof_sharding():
    empty = AbstractMesh()
    for x, spec in ((jnp.ones(3), P(None)), (1.0, P()), (np.ones((2, 2)), P(None, None))):
        s = jax.typeof(x).sharding
        assert isinstance(s, NamedSharding) and s.mesh == empty and s.mesh.empty
        assert s.spec == spec and len(s.spec) == np.ndim(x)
    assert repr(jax.typeof(jnp.ones(3)).sharding) == \
        'NamedSharding(mesh=AbstractMesh((), axis_types=()), spec=P(None,))'
    seen = []

    def f(x):
        seen.append(jax.typeof(x).sharding)
        return x
    jax.jit(f)(jnp.ones(3))
    jax.grad(lambda x: f(x).sum())(jnp.ones(3))
    jax.vmap(f)(jnp.ones((2, 3)))
    assert all(s.mesh.empty and s.spec == P(None) for s in seen) and len(seen) == 3


def test_typeof_sharding_of_sharded_arrays(eight_cpus):
    auto = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    a = jax.device_put(jnp.ones((8, 4)), NamedSharding(auto, P('x', 'y')))
    s = jax.typeof(a).sharding
    assert s.mesh == AbstractMesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    assert s.spec == P(None, None)        # Auto axes are not part of the type
    explicit = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Explicit,) * 2)
    b = jax.device_put(jnp.ones((8, 4)), NamedSharding(explicit, P('x', None)))
    s = jax.typeof(b).sharding
    assert s.spec == P('x', None) and s.mesh.shape == {'x': 4, 'y': 2}
    assert s.mesh.axis_types == (AxisType.Explicit,) * 2 and s.mesh == explicit.abstract_mesh
    c = jax.device_put(jnp.ones((8, 4)), NamedSharding(explicit, P(('x', 'y'))))
    assert jax.typeof(c).sharding.spec == P(('x', 'y'), None)


def test_config_with_absl_defines_flags_that_set_the_options():
    # JAX's examples call jax.config.config_with_absl() before absl.app.run(main).
    flags = pytest.importorskip('absl.flags')
    jax.config.config_with_absl()
    jax.config.config_with_absl()            # a second call defines nothing twice
    try:
        flags.FLAGS(['prog', '--jax_enable_x64', '--jax_default_matmul_precision=float32'])
        assert jax.config.jax_enable_x64 and jnp.ones(2).dtype == np.float64
        assert jax.config.jax_default_matmul_precision == 'float32'
    finally:
        flags.FLAGS(['prog', '--nojax_enable_x64', '--jax_default_matmul_precision='])
    assert jax.config.jax_default_matmul_precision is None
    assert not jax.config.jax_enable_x64
