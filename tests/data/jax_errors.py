"""Bad input raises the error class JAX raises: each expression here was run under JAX
0.10.2, and jax_errors.txt records the class it raised. Regenerate with
/path/to/jax-venv/bin/python tests/data/jax_errors.py jax"""
import sys

SETUP = """
x = jnp.ones((2, 3))
i = jnp.arange(3)
"""

EXPRS = ['x + jnp.ones(4)', 'jnp.reshape(x, (4, 2))', 'jnp.sum(x, axis=2)', 'jnp.transpose(x, (0, 0))', 'jnp.concatenate([x, jnp.ones(3)])',
 'x @ jnp.ones((2, 2))', 'jnp.dot(x, jnp.ones(2))', 'lax.add(x, i)', 'lax.exp(i)', 'jnp.squeeze(x, 0)', 'jnp.stack([x, i])',
 'jnp.zeros((-1,))', 'jnp.ones(2.5)', 'jnp.split(i, 2)', 'jnp.moveaxis(x, 3, 0)', 'jnp.expand_dims(x, 4)', 'jnp.argmax(x, axis=5)',
 'jnp.take_along_axis(x, i, 1)', 'jnp.einsum("ij,jk", x, x)', 'jnp.broadcast_to(x, (3, 3))', 'jnp.linspace(0, 1, -1)',
 'x[0, 0, 0]', 'x["a"]', 'x[1.5]', 'jax.grad(lambda a: a)(x)', 'jax.grad(lambda a: a.sum())(i)', 'jax.vmap(lambda a: a)(jnp.ones(()))',
 'jax.vmap(lambda a, b: a + b)(jnp.ones(2), jnp.ones(3))', 'jax.jit(lambda a: a if a > 0 else -a)(1.0)', 'float(jax.jit(lambda a: a)(x))',
 'jnp.asarray("abc")', 'jnp.asarray([1, [2, 3]])', 'lax.psum(x, "i")', 'jax.random.normal(1.0, (2,))', 'jax.random.choice(jax.random.PRNGKey(0), 3, (5,), replace=False)',
 'jax.jit(lambda a, b: a, static_argnums=1)(x, jnp.ones(2))', 'jax.pmap(lambda a: a)(jnp.ones((99, 2)))', 'jnp.linalg.inv(x)',
 'lax.dynamic_slice(x, (0,), (1,))', 'lax.slice(x, (0, 0), (3, 3))', 'lax.pad(x, 0., ((0, 0, -1), (0, 0, 0)))', 'x.astype("bogus")',
 'jax.jacfwd(lambda a: a)(i)', 'jax.hessian(jnp.sum)(i)', 'jnp.where(x)', 'lax.cond(x, lambda: 1., lambda: 2.)']


def raised(jax, jnp, lax, expr):
    env = {'jax': jax, 'jnp': jnp, 'lax': lax}
    exec(SETUP, env)
    try:
        eval(expr, env)
    except Exception as e:
        return e
    return None


if __name__ == '__main__':
    import jax
    import jax.numpy as jnp
    from jax import lax
    for e in EXPRS:
        err = raised(jax, jnp, lax, e)
        print(f'{e} | {type(err).__name__ if err is not None else "OK"}')
