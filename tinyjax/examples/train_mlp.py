"""Train an MLP classifier: the whole train step (forward, backward, update) is one jit.

    python -m tinyjax.examples.train_mlp [--dataset digits|mnist] [--hidden 256,256]
        [--epochs 10] [--batch-size 128] [--lr 1e-3] [--optimizer adam] [--seed 0]
        [--devices N] [--no-fuse] [--profile] [--plot PATH] [--save PATH] [--resume PATH]

Runs on the GPU when tinyjax sees one, else on the CPU. The default dataset is
scikit-learn's bundled 8x8 handwritten digits (no download); `--dataset mnist` reads
MNIST from --data-dir (mnist.npz, or the four idx files) and otherwise downloads it once
into ~/.cache/tinyjax/data when the machine has network.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax, nn, optimizers, random, profiler
from tinyjax.examples import checkpoint
from tinyjax.sharding import NamedSharding, PartitionSpec as P
import urllib.request

MNIST_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz'


# --- data -----------------------------------------------------------------------------
def load_digits(seed):
    try:
        from sklearn.datasets import load_digits as sk_digits  # lazy: scikit-learn is optional
    except ImportError:
        raise SystemExit("the digits dataset needs scikit-learn: pip install 'tinyjax[examples]'")
    d = sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(x))
    x, y = x[perm], y[perm]
    n_test = len(x) // 5
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def _read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir):
    data_dir = os.path.expanduser(data_dir or '~/.cache/tinyjax/data')
    npz = os.path.join(data_dir, 'mnist.npz')
    idx = {k: os.path.join(data_dir, f) for k, f in (
        ('xtr', 'train-images-idx3-ubyte'), ('ytr', 'train-labels-idx1-ubyte'),
        ('xte', 't10k-images-idx3-ubyte'), ('yte', 't10k-labels-idx1-ubyte'))}
    found = {k: p if os.path.exists(p) else p + '.gz' for k, p in idx.items()}
    if all(os.path.exists(p) for p in found.values()):
        xtr, ytr, xte, yte = (_read_idx(found[k]) for k in ('xtr', 'ytr', 'xte', 'yte'))
    else:
        if not os.path.exists(npz):
            os.makedirs(data_dir, exist_ok=True)
            print(f'downloading MNIST to {npz} ...', file=sys.stderr)
            tmp = npz + '.part'
            try:
                urllib.request.urlretrieve(MNIST_URL, tmp)
            except OSError as e:
                raise SystemExit(f'MNIST is not in {data_dir} and could not be downloaded ({e}); '
                                 'put mnist.npz or the idx files there, or use --dataset digits')
            os.replace(tmp, npz)
        with np.load(npz) as d:
            xtr, ytr, xte, yte = d['x_train'], d['y_train'], d['x_test'], d['y_test']
    prep = lambda x: (x.reshape(len(x), -1) / 255.0).astype(np.float32)
    return (prep(xtr), ytr.astype(np.int32)), (prep(xte), yte.astype(np.int32))


# --- model ----------------------------------------------------------------------------
def init_params(key, sizes):
    params = []
    keys = random.split(key, len(sizes) - 1)
    for k, (n_in, n_out) in zip(keys, zip(sizes[:-1], sizes[1:])):
        w = nn.initializers.he_normal()(k, (n_in, n_out), jnp.float32)
        params.append({'w': w, 'b': jnp.zeros(n_out)})
    return params


def predict(params, x):
    for layer in params[:-1]:
        x = nn.relu(x @ layer['w'] + layer['b'])
    return x @ params[-1]['w'] + params[-1]['b']


def loss_fn(params, x, y, num_classes):
    logits = predict(params, x)
    logp = nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), logits


def make_data_mesh(spec):
    """--mesh data=N: a 1-D mesh of N devices named 'data'."""
    name, _, n = spec.partition('=')
    if name != 'data' or not n.isdigit() or int(n) < 1:
        raise SystemExit(f"--mesh takes data=N (N devices on a mesh axis 'data'), got {spec!r}")
    if int(n) > jax.device_count():
        raise SystemExit(f'--mesh {spec} but only {jax.device_count()} devices are visible '
                         '(on the CPU: JAX_NUM_CPU_DEVICES; on one GPU: TINYJAX_NUM_GPU_DEVICES)')
    return jax.make_mesh((int(n),), ('data',))


def make_optimizer(name, lr, total_steps):
    schedule = optimizers.warmup_cosine_decay(0.0, lr, max(total_steps // 20, 1), total_steps, lr * 0.05)
    if name == 'adam':
        return optimizers.adam(schedule)
    if name == 'adamw':
        return optimizers.adamw(schedule, weight_decay=1e-4)
    if name == 'sgd':
        return optimizers.sgd(schedule, momentum=0.9, nesterov=True)
    if name == 'rmsprop':
        return optimizers.rmsprop(schedule)
    raise SystemExit(f'unknown optimizer {name!r}: use adam, adamw, sgd or rmsprop')


def make_train_step(opt, num_classes, axis_name=None, fuse=True):
    def step(params, opt_state, x, y):
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y, num_classes)
        acc = jnp.mean(jnp.argmax(logits, axis=1) == y)
        if axis_name is not None:
            grads = lax.pmean(grads, axis_name)
            loss, acc = lax.pmean(loss, axis_name), lax.pmean(acc, axis_name)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optimizers.apply_updates(params, updates), opt_state, loss, acc
    if axis_name is not None:
        return jax.pmap(step, axis_name=axis_name, in_axes=(None, None, 0, 0), out_axes=(None, None, None, None))
    return jax.jit(step, fuse=fuse)


def evaluate(params, x, y, batch=2048):
    correct = 0
    fwd = jax.jit(lambda p, xb: jnp.argmax(predict(p, xb), axis=1))
    for i in range(0, len(x), batch):
        correct += int(np.sum(np.asarray(fwd(params, jnp.asarray(x[i:i + batch]))) == y[i:i + batch]))
    return correct / len(x)


# --- reporting ------------------------------------------------------------------------
def progress(epoch, epochs, i, n, loss, acc, rate, width=24):
    done = int(width * i / n)
    bar = '#' * done + '.' * (width - done)
    end = '\n' if i == n else ''
    sys.stdout.write(f'\repoch {epoch:>3}/{epochs} [{bar}] {i:>4}/{n} loss {loss:.4f} '
                     f'acc {acc:.3f} {rate:7.1f} steps/s{end}')
    sys.stdout.flush()


def plot_curves(path, history):
    try:
        import matplotlib  # lazy: matplotlib is optional (plots only)
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt  # lazy: matplotlib is optional (plots only)
    except ImportError:
        print("--plot needs matplotlib: pip install 'tinyjax[examples]'", file=sys.stderr)
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ep = np.arange(1, len(history['loss']) + 1)
    a1.plot(ep, history['loss'], label='train loss')
    a1.set_xlabel('epoch'), a1.set_ylabel('loss'), a1.legend()
    a2.plot(ep, history['acc'], label='train accuracy')
    a2.plot(ep, history['test_acc'], label='test accuracy')
    a2.set_xlabel('epoch'), a2.set_ylabel('accuracy'), a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f'saved curves to {path}')


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog='python -m tinyjax.examples.train_mlp', description=__doc__.split('\n')[0])
    ap.add_argument('--dataset', default='digits', choices=['digits', 'mnist'])
    ap.add_argument('--data-dir', default=None, help='where MNIST lives or is downloaded to')
    ap.add_argument('--hidden', default='256,256', help='hidden layer sizes, comma separated')
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-2)
    ap.add_argument('--optimizer', default='adam')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--devices', type=int, default=1, help='data parallel over N devices (pmap)')
    ap.add_argument('--mesh', default=None, metavar='data=N',
                    help='data parallel over N devices with sharded jit: the batch split over '
                         "a mesh axis 'data', parameters replicated")
    ap.add_argument('--no-fuse', action='store_true', help='one kernel per primitive')
    ap.add_argument('--profile', action='store_true', help='fused vs unfused report of the step')
    ap.add_argument('--plot', default=None, help='write loss/accuracy curves to this PNG')
    ap.add_argument('--save', default=None, help='write a checkpoint here after training')
    ap.add_argument('--resume', default=None, help='continue from this checkpoint')
    ap.add_argument('--quiet', action='store_true')
    return ap.parse_args(argv)


def main(argv=None):
    """Train, print the report, and return the final test accuracy."""
    return train(argv)['test_acc']


def train(argv=None):
    """Run the trainer; returns {'test_acc', 'history', 'params'}."""
    args = parse_args(argv)
    (xtr, ytr), (xte, yte) = load_digits(args.seed) if args.dataset == 'digits' else load_mnist(args.data_dir)
    num_classes = int(max(ytr.max(), yte.max()) + 1)
    hidden = [int(h) for h in args.hidden.split(',') if h]
    sizes = [xtr.shape[1]] + hidden + [num_classes]
    steps_per_epoch = len(xtr) // args.batch_size
    if steps_per_epoch == 0:
        raise SystemExit(f'--batch-size {args.batch_size} is larger than the training set ({len(xtr)})')
    mesh = make_data_mesh(args.mesh) if args.mesh else None
    if mesh is not None and args.devices > 1:
        raise SystemExit('--mesh and --devices are two ways to split the batch: pick one')
    if mesh is not None and args.batch_size % mesh.size:
        raise SystemExit(f'--batch-size must be divisible by the mesh size ({mesh.size})')
    if args.devices > 1 and args.batch_size % args.devices:
        raise SystemExit(f'--batch-size must be divisible by --devices ({args.devices})')
    if args.devices > jax.device_count():
        raise SystemExit(f'--devices {args.devices} but only {jax.device_count()} devices are '
                         'visible (on the CPU: JAX_NUM_CPU_DEVICES; on one GPU: TINYJAX_NUM_GPU_DEVICES)')
    total = steps_per_epoch * args.epochs
    opt = make_optimizer(args.optimizer, args.lr, total)
    params = init_params(random.PRNGKey(args.seed), sizes)
    opt_state = opt.init(params)
    start_epoch = 0
    if args.resume:
        (params, opt_state), meta = checkpoint.load(args.resume, (params, opt_state))
        start_epoch = int(meta.get('epoch', 0))
        print(f'resumed from {args.resume} at epoch {start_epoch}')
    step = make_train_step(opt, num_classes, 'batch' if args.devices > 1 else None, not args.no_fuse)
    if mesh is not None:       # replicate the state once; each batch is split as it is put
        params, opt_state = jax.device_put((params, opt_state), NamedSharding(mesh, P()))
    dev = jax.devices()[0]
    print(f'tinyjax {jax.__version__} on {jax.default_backend()} ({getattr(dev, "device_kind", dev)}); '
          f'MLP {"-".join(map(str, sizes))}, {args.dataset}: {len(xtr)} train / {len(xte)} test, '
          f'{args.optimizer} lr {args.lr}, batch {args.batch_size}'
          + (f' over {args.devices} devices' if args.devices > 1 else '')
          + (f' over mesh {mesh.shape}' if mesh is not None else ''))
    if args.profile:
        xb, yb = jnp.asarray(xtr[:args.batch_size]), jnp.asarray(ytr[:args.batch_size])
        print(profiler.profile(make_train_step(opt, num_classes), params, opt_state, xb, yb))
    history = {'loss': [], 'acc': [], 'test_acc': []}
    rng = np.random.default_rng(args.seed + start_epoch)
    step_times = []
    for epoch in range(start_epoch + 1, args.epochs + 1):
        perm = rng.permutation(len(xtr))
        t_epoch, losses, accs = time.perf_counter(), [], []
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            xb, yb = xtr[idx], ytr[idx]
            if args.devices > 1:
                xb = xb.reshape(args.devices, -1, xb.shape[1])
                yb = yb.reshape(args.devices, -1)
            xb, yb = jnp.asarray(xb), jnp.asarray(yb)
            if mesh is not None:
                xb, yb = jax.device_put((xb, yb), NamedSharding(mesh, P('data')))
            t = time.perf_counter()
            params, opt_state, loss, acc = step(params, opt_state, xb, yb)
            losses.append(loss)
            accs.append(acc)
            if i % 10 == 0 or i == steps_per_epoch - 1:
                jax.block_until_ready(loss)
                step_times.append((time.perf_counter() - t))
                if not args.quiet:
                    rate = (i + 1) / (time.perf_counter() - t_epoch)
                    progress(epoch, args.epochs, i + 1, steps_per_epoch, float(loss), float(acc), rate)
        history['loss'].append(float(np.mean([float(v) for v in losses])))
        history['acc'].append(float(np.mean([float(v) for v in accs])))
        history['test_acc'].append(evaluate(params, xte, yte))
        if args.quiet:
            print(f'epoch {epoch}: loss {history["loss"][-1]:.4f} test acc {history["test_acc"][-1]:.4f}')
        if args.save:
            checkpoint.save(args.save, (params, opt_state), epoch=epoch)
    test_acc = evaluate(params, xte, yte)
    per_step = float(np.median(step_times[1:] or step_times)) * 1e3 if step_times else float('nan')
    print(f'final test accuracy: {test_acc:.4f}')
    print(f'time per step: {per_step:.2f} ms on {dev}')
    if args.save:
        print(f'saved checkpoint to {args.save}')
    if args.plot:
        plot_curves(args.plot, history)
    return {'test_acc': test_acc, 'history': history, 'params': params}


def run_from_command_line():
    """main() for `python -m tinyjax.examples.train_mlp`: Ctrl-C stops training with one
    line, not a traceback, and exit status 130 (as a shell reports SIGINT). A checkpoint
    on disk is only ever whole (checkpoint.save writes a temporary file, then renames)."""
    try:
        main()
    except KeyboardInterrupt:
        print('\ninterrupted: training stopped (Ctrl-C); the checkpoint, if any, is the '
              'last completed epoch\'s', file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == '__main__':
    run_from_command_line()
