"""Train a small MLP classifier with tinyjax.grad; the project's main job for now.

    python -m tinyjax.examples.demo [--steps 300] [--hidden 64] [--lr 0.5]

Data: scikit-learn's 8x8 digits when scikit-learn is installed (the `examples` extra),
otherwise three interleaved spirals made with NumPy. Runs on the GPU when tinyjax sees
one (`tinyjax.default_backend()`), else on the CPU; `TINYJAX_PLATFORM=cpu|cuda` forces it.
"""
import argparse
import time

import numpy as np

import tinyjax
import tinyjax.numpy as jnp


def spirals(n_per_class=200, classes=3, seed=0):
    """`classes` interleaved 2-D spirals with a little noise: not linearly separable."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 2 * np.pi / classes, c * 2 * np.pi / classes + 3.5, n_per_class)
        t = t + rng.normal(scale=0.15, size=n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int32), 'spirals'


def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int32), 'sklearn digits'


def load_data():
    try:
        return digits()
    except ImportError:
        return spirals()
    except Exception as e:      # a broken scikit-learn install should not stop the demo
        print(f'scikit-learn digits unavailable ({type(e).__name__}: {e}); using spirals')
        return spirals()


def split(x, y, test_fraction=0.2, seed=0):
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    te, tr = idx[:n_test], idx[n_test:]
    return x[tr], y[tr], x[te], y[te]


def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(scale=np.sqrt(2.0 / n_in), size=(n_in, n_out)).astype(np.float32)
        params.append({'w': jnp.asarray(w), 'b': jnp.zeros((n_out,), jnp.float32)})
    return params


def forward(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer['w'] + layer['b'])
    return x @ params[-1]['w'] + params[-1]['b']


def loss_fn(params, x, onehot):
    logits = forward(params, x)
    shifted = logits - jnp.max(logits, axis=1, keepdims=True)
    log_probs = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
    return -jnp.mean(jnp.sum(onehot * log_probs, axis=1))


def accuracy(params, x, y):
    pred = np.asarray(jnp.argmax(forward(params, x), axis=1))
    return float(np.mean(pred == y))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--hidden', type=int, default=64)
    ap.add_argument('--lr', type=float, default=0.5)
    ap.add_argument('--log-every', type=int, default=50)
    args = ap.parse_args(argv)

    backend = tinyjax.default_backend()
    device = tinyjax.devices()[0]
    print(f'tinyjax {tinyjax.__version__}: backend={backend} device={device} '
          f'({getattr(device, "device_kind", "?")})')

    x, y, name = load_data()
    n_classes = int(y.max()) + 1
    x_tr, y_tr, x_te, y_te = split(x, y)
    print(f'data: {name}, {len(x_tr)} train / {len(x_te)} test, '
          f'{x.shape[1]} features, {n_classes} classes')

    params = init_params([x.shape[1], args.hidden, args.hidden, n_classes])
    xs, onehot = jnp.asarray(x_tr), jnp.asarray(np.eye(n_classes, dtype=np.float32)[y_tr])
    value_and_grad = tinyjax.value_and_grad(loss_fn)

    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss, grads = value_and_grad(params, xs, onehot)
        params = tinyjax.tree_util.tree_map(lambda p, g: p - args.lr * g, params, grads)
        if step == 1 or step % args.log_every == 0 or step == args.steps:
            print(f'step {step:4d}  loss {float(loss):.4f}')
    tinyjax.block_until_ready(params)
    elapsed = time.perf_counter() - t0

    train_acc, test_acc = accuracy(params, x_tr, y_tr), accuracy(params, x_te, y_te)
    print(f'final: train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f} '
          f'({args.steps} steps in {elapsed:.1f}s, {1e3 * elapsed / args.steps:.1f} ms/step '
          f'on {backend})')
    return test_acc


if __name__ == '__main__':
    main()
