"""Two processes on one machine running one pmap: each owns 2 CPU devices, psum spans 4.

    python -m tinyjax.examples.launch_two_processes            # launches both, checks them
    python -m tinyjax.examples.launch_two_processes --process-id 1 --port 12345   # one of them
    python -m tinyjax.examples.launch_two_processes --program sharded   # a sharded jit step
    python -m tinyjax.examples.launch_two_processes --program mesh2d    # a 2-d mesh

`--program sharded` runs a data-parallel train step the way JAX's docs write it: a mesh
over every process's devices, the batch assembled from each process's rows
(make_array_from_process_local_data), parameters replicated, one jit; plus a shard_map
psum and a process_allgather of the global batch.

`--program mesh2d` lays a ('data', 'model') mesh over the processes' devices (each
process a row when it has two): shard_map collectives along each axis and both, and a
jit step of an MLP whose batch is sharded over 'data' and whose hidden layer is sharded
over 'model' (tensor parallelism), its gradients gathered with process_allgather.

The launcher picks a free loopback port, starts both processes with
`tinyjax.distributed.initialize('127.0.0.1:<port>', 2, process_id)`, and checks that each
got the global psum of all four shards. On GPUs the same program runs its collectives
over NCCL (the unique id travels through the coordinator).
"""
import argparse
import functools
import hashlib
import json
import os
import socket
import subprocess
import sys

import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import backends, lax
from tinyjax.backends import collectives
from tinyjax.experimental import multihost_utils
from tinyjax.sharding import NamedSharding, PartitionSpec as P


def _initialize(process_id, port, num_processes, local_devices):
    jax.config.update('jax_num_cpu_devices', local_devices)
    if port is None:        # started by mpiexec: MPI tells each process its place
        jax.distributed.initialize(initialization_timeout=60)
    else:
        jax.distributed.initialize(f'127.0.0.1:{port}', num_processes, process_id,
                                   initialization_timeout=60)


def unique_id_worker(process_id, port, num_processes, local_devices):
    """Every process gets the same NCCL-style unique id for a communicator over all
    devices (through MPI point to point under mpiexec, else the coordinator)."""
    _initialize(process_id, port, num_processes, local_devices)
    made = []
    uid = collectives.share_unique_id(backends.topology(), jax.devices(),
                                      lambda: made.append(os.urandom(128)) or made[0])
    print(json.dumps({'process_index': jax.process_index(), 'made': bool(made),
                      'uid': hashlib.sha1(bytes(uid)).hexdigest(),
                      'mpi': backends.topology().mpi is not None}), flush=True)
    jax.distributed.shutdown()


def worker(process_id, port, num_processes, local_devices):
    _initialize(process_id, port, num_processes, local_devices)
    n_local = jax.local_device_count()
    # Process p holds rows [p*n_local, (p+1)*n_local) of a global (n_global, 3) array.
    start = jax.process_index() * n_local
    x = np.arange(start * 3, (start + n_local) * 3, dtype=np.float32).reshape(n_local, 3)
    total = jax.pmap(lambda v: lax.psum(v, 'i'), axis_name='i')(x)
    index = jax.pmap(lambda v: lax.axis_index('i'), axis_name='i')(x)
    gathered = jax.pmap(lambda v: lax.all_gather(v, 'i'), axis_name='i')(x)
    # Results are global arrays: this process holds its own rows; a second pmap takes one
    # back as its shards; process_allgather fetches the whole.
    local = lambda a: np.concatenate([np.asarray(sh.data) for sh in a.addressable_shards])
    again = jax.pmap(lambda v: lax.psum(v, 'i'), axis_name='i')(total)
    print(json.dumps({'process_index': jax.process_index(), 'process_count': jax.process_count(),
                      'devices': jax.device_count(), 'local_devices': n_local,
                      'psum': local(total).tolist(), 'axis_index': local(index).tolist(),
                      'all_gather_rows': int(gathered.shape[1]),
                      'global_shape': list(total.shape),
                      'every_index': np.asarray(
                          multihost_utils.process_allgather(index, tiled=True)).tolist(),
                      'psum_again': local(again).tolist()}), flush=True)
    jax.distributed.shutdown()


def sharded_worker(process_id, port, num_processes, local_devices):
    _initialize(process_id, port, num_processes, local_devices)
    mesh = jax.make_mesh((jax.device_count(),), ('data',))
    W, x, y = sharded_problem()
    rows = len(x) // jax.process_count()
    mine = slice(jax.process_index() * rows, (jax.process_index() + 1) * rows)
    batch = NamedSharding(mesh, P('data'))
    xs = jax.make_array_from_process_local_data(batch, x[mine])
    ys = jax.make_array_from_process_local_data(batch, y[mine])
    params = jax.device_put(W, NamedSharding(mesh, P()))

    def loss(w, x, y):
        return jnp.mean((jnp.tanh(x @ w) - y) ** 2)
    value, grad = jax.jit(jax.value_and_grad(loss))(params, xs, ys)
    total = jax.shard_map(lambda a: lax.psum(a.sum(), 'data'), mesh=mesh, in_specs=P('data'),
                          out_specs=P())(xs)
    whole = multihost_utils.process_allgather(xs)
    print(json.dumps({'process_index': jax.process_index(), 'loss': float(value),
                      'grad': np.asarray(grad).tolist(), 'psum': float(total),
                      'local_rows': [s.data.shape[0] for s in xs.addressable_shards],
                      'allgather': np.asarray(whole).tolist()}), flush=True)
    jax.distributed.shutdown()


def mesh2d_worker(process_id, port, num_processes, local_devices):
    _initialize(process_id, port, num_processes, local_devices)
    mesh = jax.make_mesh((2, jax.device_count() // 2), ('data', 'model'))
    W1, W2, x, y = mesh2d_problem()
    blocks = jax.device_put(x, NamedSharding(mesh, P('data', 'model')))

    def collectives(b):
        i, j = lax.axis_index('data'), lax.axis_index('model')
        return (lax.psum(b.sum(), 'model')[None, None], lax.psum(b.sum(), 'data')[None, None],
                lax.psum(b.sum(), ('data', 'model')), lax.pmax(b, 'data'),
                (10 * i + j + b[:1, :1]))
    outs = jax.shard_map(collectives, mesh=mesh, in_specs=P('data', 'model'),
                         out_specs=(P('data', 'model'), P('data', 'model'), P(),
                                    P(None, 'model'), P('data', 'model')))(blocks)
    xs = jax.device_put(x, NamedSharding(mesh, P('data', None)))
    ys = jax.device_put(y, NamedSharding(mesh, P('data', None)))
    w1 = jax.device_put(W1, NamedSharding(mesh, P(None, 'model')))
    w2 = jax.device_put(W2, NamedSharding(mesh, P('model', None)))
    loss_fn = functools.partial(mlp_loss, out=NamedSharding(mesh, P('data', None)))
    loss, (g1, g2) = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1)))(w1, w2, xs, ys)
    whole = [np.asarray(multihost_utils.process_allgather(o, tiled=True)).tolist()
             for o in (*outs, g1, g2)]
    print(json.dumps({'process_index': jax.process_index(), 'loss': float(loss),
                      'outs': whole[:5], 'g1': whole[5], 'g2': whole[6],
                      'g1_spec': str(g1.sharding.spec), 'g2_spec': str(g2.sharding.spec)}),
          flush=True)
    jax.distributed.shutdown()


def mlp_loss(w1, w2, x, y, out):
    # The second product contracts the hidden axis both operands split over 'model': on
    # an Explicit mesh its layout must be named (JAX's rule), here batch-split.
    return jnp.mean((jnp.matmul(jnp.tanh(x @ w1), w2, out_sharding=out) - y) ** 2)


def mesh2d_problem():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((6, 8)).astype(np.float32),
            rng.standard_normal((8, 3)).astype(np.float32),
            rng.standard_normal((4, 6)).astype(np.float32),
            rng.standard_normal((4, 3)).astype(np.float32))


def sharded_problem():
    """The same small regression problem in every process (and in the test)."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((5, 3)).astype(np.float32),
            rng.standard_normal((8, 5)).astype(np.float32),
            rng.standard_normal((8, 3)).astype(np.float32))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(num_processes=2, local_devices=2, timeout=120, program='pmap', mpiexec=None):
    """Run the workers as subprocesses (or under `mpiexec`, the path of an MPI launcher);
    return their JSON reports (raises on failure)."""
    env = dict(os.environ, TINYJAX_PLATFORM=os.environ.get('TINYJAX_PLATFORM', 'cpu'))
    cmd = [sys.executable, '-m', 'tinyjax.examples.launch_two_processes',
           '--local-devices', str(local_devices), '--program', program]
    if mpiexec is not None:
        procs = [subprocess.Popen([mpiexec, '-n', str(num_processes), '--oversubscribe',
                                   '--allow-run-as-root', *cmd, '--worker'],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)]
    else:
        port = free_port()
        procs = [subprocess.Popen(cmd + ['--process-id', str(p), '--port', str(port),
                                         '--num-processes', str(num_processes)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
                 for p in range(num_processes)]
    reports = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f'worker failed ({p.returncode}):\n{err[-3000:]}')
            lines = [ln for ln in out.strip().splitlines() if ln.startswith('{')]
            reports.extend(json.loads(ln) for ln in (lines if mpiexec else lines[-1:]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return sorted(reports, key=lambda r: r.get("process_index", 0))


WORKERS = {'pmap': worker, 'sharded': sharded_worker, 'mesh2d': mesh2d_worker,
           'unique_id': unique_id_worker}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--process-id', type=int, default=None)
    ap.add_argument('--port', type=int, default=None)
    ap.add_argument('--num-processes', type=int, default=2)
    ap.add_argument('--local-devices', type=int, default=2)
    ap.add_argument('--program', choices=list(WORKERS), default='pmap')
    ap.add_argument('--worker', action='store_true', help='one worker, placed by MPI')
    ap.add_argument('--mpiexec', help='launch the workers with this mpiexec')
    a = ap.parse_args()
    if a.worker:
        WORKERS[a.program](None, None, None, a.local_devices)
        return
    if a.process_id is not None:
        WORKERS[a.program](a.process_id, a.port, a.num_processes, a.local_devices)
        return
    for r in launch(a.num_processes, a.local_devices, program=a.program, mpiexec=a.mpiexec):
        print(r)


if __name__ == '__main__':
    main()
