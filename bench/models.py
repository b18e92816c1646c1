"""The functions the benchmark runs, written once for every library.

Elementwise and row-wise functions take a namespace `m` (numpy, cupy, jax.numpy,
tinyjax.numpy, or the small torch shim below), so every library computes the same
expression on the same inputs. The MLP step takes (jax-like module, its numpy): tinyjax
and JAX run the very same code; PyTorch has its own idiomatic version.
"""
import math

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(m, x):
    # scale * (max(x,0) + min(0, alpha*(exp(x)-1))): the same as the where() form, and
    # made of ufuncs only, so cupy.fuse accepts it too.
    return SELU_SCALE * (m.maximum(x, 0.0) + m.minimum(SELU_ALPHA * (m.exp(x) - 1.0), 0.0))


def gelu_tanh(m, x):
    return 0.5 * x * (1.0 + m.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * (x * x * x))))


def chain16(m, x):
    """Sixteen elementwise primitives (counted in the comments)."""
    y = x * 1.5 + 0.5                 # mul add
    y = m.tanh(y)                     # tanh
    y = y * y - 0.25                  # mul sub
    y = m.exp(-y)                     # neg exp
    y = m.sqrt(y + 1.0)               # add sqrt
    y = m.sin(y) * x                  # sin mul
    y = m.maximum(y, -0.5)            # max
    y = y / (1.0 + m.abs(x))          # abs add div
    return y - x                      # sub


CHAINS = {'selu': selu, 'gelu_tanh': gelu_tanh, 'chain16': chain16}


def softmax(m, x):
    e = m.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layernorm(m, x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / m.sqrt(var + 1e-5) * g + b


class TorchMath:
    """The few numpy-style functions the chains use, for torch tensors."""

    def __init__(self, torch):
        self.t = torch
        for name in ('exp', 'tanh', 'sqrt', 'sin', 'abs'):
            setattr(self, name, getattr(torch, name))

    def maximum(self, a, b):
        return self.t.clamp(a, min=b)

    def minimum(self, a, b):
        return self.t.clamp(a, max=b)


# -- MLP: 784-512-512-10, forward + backward + SGD in one compiled step ---------------------
MLP_SIZES = (784, 512, 512, 10)
LR = 0.01


def mlp_loss(jnp, params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jnp.maximum(h @ w + b, 0.0)
    w, b = params[-1]
    logits = h @ w + b
    mx = jnp.max(logits, axis=1, keepdims=True)
    logp = logits - mx - jnp.log(jnp.sum(jnp.exp(logits - mx), axis=1, keepdims=True))
    return -jnp.mean(jnp.sum(logp * y, axis=1))


def make_mlp_step(jax, jnp):
    """jit(step) for tinyjax or JAX: value_and_grad of the loss, then SGD."""
    def step(params, x, y):
        loss, grads = jax.value_and_grad(lambda p: mlp_loss(jnp, p, x, y))(params)
        new = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
        return new, loss
    return jax.jit(step)


def mlp_params_numpy(rng, sizes=MLP_SIZES):
    import numpy as np
    return [((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32),
             (0.01 * rng.standard_normal(b)).astype(np.float32))
            for a, b in zip(sizes[:-1], sizes[1:])]


def make_torch_mlp_step(torch, params):
    """PyTorch's idiomatic step: autograd.grad, then an in-place SGD update."""
    flat = [p for layer in params for p in layer]

    def step(x, y):
        h = x
        for w, b in params[:-1]:
            h = torch.relu(h @ w + b)
        w, b = params[-1]
        logp = torch.log_softmax(h @ w + b, dim=1)
        loss = -(logp * y).sum(dim=1).mean()
        grads = torch.autograd.grad(loss, flat)
        with torch.no_grad():
            for p, g in zip(flat, grads):
                p.sub_(LR * g)
        return loss
    return step
