"""What the compiler makes of programs: kernel counts, passes, buffer reuse."""
import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.compiler import passes


def _x(shape=(16, 32), seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def kernels(f, *args, **kw):
    return jax.jit(f, **kw).lower(*args).compile().kernels


def check(f, *args, rtol=1e-5):
    got, want = jax.jit(f)(*args), f(*args)
    for g, w in zip(jax.tree_leaves(got), jax.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=1e-6)


def softmax(x):
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    s = x - jnp.max(x, axis=-1, keepdims=True)
    return s - jnp.log(jnp.sum(jnp.exp(s), axis=-1, keepdims=True))


def layernorm(x, g, b):
    m = jnp.mean(x, -1, keepdims=True)
    v = jnp.mean((x - m) ** 2, -1, keepdims=True)
    return (x - m) * lax.rsqrt(v + 1e-5) * g + b


def test_elementwise_chain_is_one_kernel():
    def chain(x, y):
        for k in range(10):
            x = jnp.sin(x) * y + float(k)
        return x
    x, y = _x(), _x(seed=1)
    assert len(jax.make_jaxpr(chain)(x, y).eqns) >= 20
    ks = kernels(chain, x, y)
    assert len(ks) == 1 and len(ks[0]['prims']) >= 20
    check(chain, x, y)


def test_sum_of_squares_is_one_kernel():
    assert len(kernels(lambda x: jnp.sum(x * x), _x())) == 1
    check(lambda x: jnp.sum(x * x), _x())


def test_row_patterns_at_most_two_kernels():
    x, g, b = _x(), _x((32,), 1), _x((32,), 2)
    assert len(kernels(softmax, x)) <= 2
    assert len(kernels(log_softmax, x)) <= 2
    assert len(kernels(layernorm, x, g, b)) <= 2
    check(softmax, x)
    check(log_softmax, x)
    check(layernorm, x, g, b, rtol=1e-4)


def test_mlp_forward_is_matmuls_plus_one_kernel_per_layer():
    rng = np.random.default_rng(0)
    sizes = [32, 64, 64, 10]
    params = [(jnp.asarray(rng.standard_normal((a, b)).astype(np.float32) * 0.1),
               jnp.asarray(rng.standard_normal(b).astype(np.float32)))
              for a, b in zip(sizes, sizes[1:])]

    def mlp(params, x):
        for w, b in params[:-1]:
            x = jnp.tanh(x @ w + b)
        w, b = params[-1]
        return x @ w + b
    x = _x((8, 32))
    lowered = jax.jit(mlp).lower(params, x)
    steps = lowered.program.steps
    assert [s.kind for s in steps] == ['dot', 'kernel'] * 3
    check(mlp, params, x)


def test_transposed_operands_of_a_product_are_read_in_place():
    """`x @ w.T`, `x.T @ y`, `q @ k.swapaxes(-1, -2)`: the transpose goes into the dot's
    dimension numbers (no transpose step); a transpose that would reorder the product's
    free axes stays. Results against float64 NumPy, values and gradients."""
    rng = np.random.default_rng(5)
    arr = lambda *s: jnp.asarray(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    x, w, y = arr(6, 5), arr(7, 5), arr(6, 7)
    q, k, r = arr(3, 4, 5), arr(3, 6, 5), arr(5, 2, 3)
    cases = [
        (lambda x, w: x @ w.T, (x, w), lambda x, w: x @ w.T),
        (lambda x, y: x.T @ y, (x, y), lambda x, y: x.T @ y),
        (lambda q, k: q @ jnp.swapaxes(k, -1, -2), (q, k),
         lambda q, k: q @ np.swapaxes(k, -1, -2)),
        # rhs (5, 2, 3) -> (5, 3, 2): its free axes swap, so the transpose must stay
        (lambda x, r: lax.dot_general(x, jnp.transpose(r, (0, 2, 1)), (((1,), (0,)), ((), ()))),
         (x, r), lambda x, r: np.einsum('ik,kab->iba', x, r)),
    ]
    with jax.default_matmul_precision('highest'):      # a GPU's default is TF32
        _check_products(cases)


def _check_products(cases):
    for i, (f, args, ref) in enumerate(cases):
        steps = jax.jit(f).lower(*args).program.steps
        kinds = [s.kind for s in steps]
        assert kinds == (['dot'] if i < 3 else ['kernel', 'dot']), (i, kinds)
        want = ref(*[np.asarray(a, np.float64) for a in args])
        np.testing.assert_allclose(np.asarray(jax.jit(f)(*args)), want, rtol=1e-5, atol=1e-5)
        g = jax.jit(jax.grad(lambda *a: jnp.sum(jnp.sin(f(*a))), argnums=(0, 1)))(*args)
        h = 1e-3
        for n, (ga, a) in enumerate(zip(g, args)):
            e = np.zeros(a.shape, np.float32)
            e.flat[0] = h
            shifted = [a + e if m == n else b for m, b in enumerate(args)]
            less = [a - e if m == n else b for m, b in enumerate(args)]
            fd = (float(jnp.sum(jnp.sin(f(*shifted)))) - float(jnp.sum(jnp.sin(f(*less))))) / (2 * h)
            assert abs(float(np.asarray(ga).flat[0]) - fd) < 2e-2, (i, n)


def test_multi_output_and_siblings_share_a_kernel():
    def f(x):
        a = jnp.exp(x)
        return a, a * 2, jnp.sin(x), jnp.cos(x) + 1
    assert len(kernels(f, _x())) == 1
    check(f, _x())


def test_reductions_over_same_rows_share_a_kernel():
    f = lambda x: (jnp.sum(x, 1), jnp.max(x, 1), jnp.mean(x * x, 1))   # noqa: E731
    assert len(kernels(f, _x())) == 1
    check(f, _x())


def test_transposed_and_broadcast_reads_fuse():
    f = lambda x, y: jnp.tanh(x.T * y[:, None] + x.T[::-1])   # noqa: E731
    x, y = _x((8, 16)), _x((16,), 3)
    assert len(kernels(f, x, y)) == 1
    check(f, x, y)


def test_unfused_is_one_kernel_per_primitive():
    x = _x()
    n = len(jax.make_jaxpr(softmax)(x).eqns)
    ks = kernels(softmax, x, fuse=False)
    assert len(ks) == n - sum(e.prim.name == 'reshape' for e in jax.make_jaxpr(softmax)(x).eqns) \
        or len(ks) <= n
    assert all(len(k['prims']) == 1 for k in ks)


def test_grad_program_runs_and_fuses():
    x, g, b = _x(), _x((32,), 1), _x((32,), 2)
    loss = lambda x, g, b: jnp.sum(layernorm(x, g, b) ** 2)   # noqa: E731
    gfun = jax.grad(loss, argnums=(0, 1, 2))
    got = jax.jit(gfun)(x, g, b)
    want = gfun(x, g, b)
    for a, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(w), rtol=2e-3, atol=2e-3)
    n_unfused = len(kernels(gfun, x, g, b, fuse=False))
    assert len(kernels(gfun, x, g, b)) < n_unfused / 3


def test_passes():
    x = _x((4,))

    def f(x):
        a = x * 1.0 + 0.0
        b = jnp.sin(x)
        c = jnp.sin(x)                        # CSE
        dead = jnp.exp(x) * 3                 # noqa: F841  (DCE)
        k = jnp.float32(2) * jnp.float32(3)   # constant folding
        t = x.reshape(2, 2).T.T.reshape(4)    # double transpose, reshape chain
        return a + b + c + k + t
    g = jax.make_jaxpr(f)(x).jaxpr
    opt = passes.optimize(g)
    names = [e.prim.name for e in opt.eqns]
    assert names.count('sin') == 1
    assert 'exp' not in names and 'transpose' not in names and 'reshape' not in names
    assert len(opt.eqns) < len(g.eqns)
    check(f, x)


def test_intermediate_buffers_are_reused():
    def f(x, w):
        for _ in range(4):
            x = jnp.tanh(x @ w)      # dot outputs and kernel outputs alternate
            x = jnp.exp(x) @ w
        return x
    x, w = _x((32, 32)), _x((32, 32), 1) * 0.1
    prog = jax.jit(f).lower(x, w).program
    n_kernel_outputs = sum(len(s.outs) for s in prog.steps if s.kind == 'kernel')
    assert len(prog.slot_sizes) < n_kernel_outputs
    check(f, x, w, rtol=1e-4)


def test_nn_softmax_is_one_kernel_despite_stop_gradient():
    # jax.nn.softmax subtracts a stop_gradient'ed max; compiled graphs drop stop_gradient
    # (differentiation is over), so it fuses like a hand-written softmax.
    x = np.random.default_rng(0).standard_normal((64, 100)).astype(np.float32)
    for f in (jax.nn.softmax, jax.nn.log_softmax):
        prog = jax.jit(f).lower(x).program
        assert [s.kind for s in prog.steps] == ['kernel'], [s.kind for s in prog.steps]
    ref = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(jax.jit(jax.nn.softmax)(x)),
                               ref / ref.sum(-1, keepdims=True), rtol=1e-6, atol=1e-7)
    g = jax.jit(jax.grad(lambda v: jax.nn.softmax(v)[:, 0].sum()))(x)
    np.testing.assert_allclose(np.asarray(g),
                               np.asarray(jax.grad(lambda v: jax.nn.softmax(v)[:, 0].sum())(x)),
                               rtol=1e-5, atol=1e-7)


def test_concatenate_in_a_kernel_computes_only_the_piece_each_element_lies_in():
    # mnist_vae's image grid: a vstack of hstacks of transposed, sampled images. Every
    # piece is fused into the one kernel; each element must take only its own piece's
    # branch (the grid of 6 pieces had cost 6 pieces' random bits per element).
    def grid(key, logits):
        imgs = iter(jax.random.bernoulli(key, jax.nn.sigmoid(logits)).reshape(-1, 4, 5))
        return jnp.vstack([jnp.hstack([next(imgs).T for _ in range(3)][::-1])
                           for _ in range(2)]).T
    key = jax.random.key(3)
    logits = jnp.asarray(np.linspace(-2, 2, 120, dtype=np.float32).reshape(6, 20))
    want = np.asarray(grid(key, logits))
    lowered = jax.jit(grid).lower(key, logits)
    src = lowered.program.source()
    assert src.count('} else {') >= 2 and src.count('} else if (') >= 2
    np.testing.assert_array_equal(np.asarray(jax.jit(grid)(key, logits)), want)
    imgs = np.asarray(jax.random.bernoulli(key, jax.nn.sigmoid(logits))).reshape(-1, 4, 5)
    rows = [np.hstack([imgs[3 * r + c].T for c in range(3)][::-1]) for r in range(2)]
    np.testing.assert_array_equal(want, np.vstack(rows).T)

