"""Several processes, one pmap: `tinyjax.distributed.initialize` as in JAX.

    tinyjax.distributed.initialize('127.0.0.1:1234', num_processes=2, process_id=0)
    tinyjax.distributed.initialize()      # under srun or mpirun: found from the environment

Process 0 starts the coordinator (backends/coordinator.py, a key-value store over TCP)
in a thread on the given address; every process connects to it, publishes its local
devices and reads everyone's. Afterwards `devices()` spans all processes (global ids,
process 0's first; other processes' devices are `RemoteDevice`s), `local_devices()` is
this process's, and a pmap over `devices()` runs each process's shards locally while its
collectives combine all of them: NCCL across processes on GPUs (the unique id passes
through the coordinator), the coordinator itself on the CPU.

Launched by MPI (mpirun/mpiexec) with mpi4py installed, `initialize()` takes the job from
MPI's world communicator instead: its rank and size, the coordinator's address broadcast
by rank 0 (which serves on a free port, so jobs never collide), and NCCL's unique ids sent
point to point over MPI. Without mpi4py it reads the launcher's variables as JAX does.
"""
import atexit
import json
import os
import re
import socket

from tinyjax import backends
from tinyjax.backends import coordinator, cpu, cuda, collectives

_state = {}


def initialize(coordinator_address=None, num_processes=None, process_id=None,
               local_device_ids=None, *, initialization_timeout=300):
    if backends.topology() is not None:
        raise RuntimeError('distributed.initialize should only be called once.')
    world = None
    if coordinator_address is None and num_processes is None and process_id is None:
        world = mpi_world()
    server = None
    if world is not None:
        num_processes, process_id = world.Get_size(), world.Get_rank()
        if process_id == 0:     # a free port on this host, told to the others through MPI
            server = coordinator.CoordinatorServer('0.0.0.0', 0)
            coordinator_address = f'{socket.gethostname()}:{server.address[1]}'
        coordinator_address = world.bcast(coordinator_address, root=0)
    found = cluster_env()
    coordinator_address = coordinator_address or found.get('coordinator_address')
    num_processes = int(num_processes if num_processes is not None
                        else found.get('num_processes', 1))
    process_id = int(process_id if process_id is not None else found.get('process_id', 0))
    if local_device_ids is None and 'local_device_id' in found and \
            backends.default_backend() == 'gpu':
        local_device_ids = [found['local_device_id']]
    if coordinator_address is None:
        raise ValueError('distributed.initialize needs coordinator_address ("host:port"), '
                         'or a launcher it recognises (Slurm srun, Open MPI mpirun), or '
                         'JAX_COORDINATOR_ADDRESS/JAX_NUM_PROCESSES/JAX_PROCESS_ID')
    if not 0 <= process_id < num_processes:
        raise ValueError(f'process_id {process_id} is not in [0, {num_processes})')
    host, port = coordinator.parse_address(coordinator_address)
    if process_id == 0 and server is None:
        server = coordinator.CoordinatorServer(host, port)
    try:
        client = coordinator.CoordinatorClient(host, port, timeout=initialization_timeout)
        mine = backends.process_devices()
        if local_device_ids is not None:
            ids = [local_device_ids] if isinstance(local_device_ids, int) else list(local_device_ids)
            mine = [mine[i] for i in ids]
        platform = mine[0].platform
        client.set(f'init/devices/{process_id}', json.dumps(
            {'platform': platform, 'kind': mine[0].device_kind, 'count': len(mine)}).encode())
        infos = [json.loads(client.get(f'init/devices/{p}')) for p in range(num_processes)]
        if any(i['platform'] != platform for i in infos):
            raise RuntimeError(f'processes disagree on the platform: {[i["platform"] for i in infos]}')
        local, every = _global_devices(mine, infos, process_id)
        topo = backends.Topology(process_id, num_processes, platform, local, every)
        topo.client, topo.mpi = client, world
        client.barrier('initialize', process_id, num_processes)
    except BaseException:
        if server is not None:
            server.close()
        raise
    backends.set_topology(topo)
    _state.update(client=client, server=server)
    atexit.register(shutdown)


def mpi_world():
    """mpi4py's world communicator when an MPI launcher started this process and mpi4py is
    installed, else None."""
    if not any(k in os.environ for k in ('OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_RANK')):
        return None
    try:
        from mpi4py import MPI  # lazy: optional (mpi4py), used only under an MPI launcher
    except ImportError:
        return None
    return MPI.COMM_WORLD


def _port_for(job_id):
    # A port from the job id in the top 4096 ports, so that jobs sharing a node differ
    # (the same choice as JAX's cluster detection, so both agree on a node).
    return int(job_id) % 2 ** 12 + (65535 - 2 ** 12 + 1)


def first_host(nodelist):
    """The first host of a Slurm node list: 'gpu[003-005,9],cpu1' -> 'gpu003'."""
    m = re.match(r'([^,\[]+)(\[([^\]]+)\])?', nodelist.strip())
    if m is None:
        raise ValueError(f'cannot read the Slurm node list {nodelist!r}')
    prefix, ranges = m.group(1), m.group(3)
    if not ranges:
        return prefix
    first = ranges.split(',')[0].split('-')[0]
    return prefix + first


def cluster_env(environ=None):
    """What the environment says about this process's place in a multi-process job: the
    JAX_* variables first, then Slurm (srun), then Open MPI (mpirun); {} when none."""
    env = os.environ if environ is None else environ
    if 'JAX_COORDINATOR_ADDRESS' in env:
        return {'coordinator_address': env['JAX_COORDINATOR_ADDRESS'],
                'num_processes': int(env.get('JAX_NUM_PROCESSES', 1)),
                'process_id': int(env.get('JAX_PROCESS_ID', 0))}
    if 'SLURM_JOB_ID' in env and 'SLURM_STEP_NODELIST' in env and 'SLURM_NTASKS' in env:
        return {'coordinator_address': f'{first_host(env["SLURM_STEP_NODELIST"])}:'
                                       f'{_port_for(env["SLURM_JOB_ID"])}',
                'num_processes': int(env['SLURM_NTASKS']),
                'process_id': int(env['SLURM_PROCID']),
                'local_device_id': int(env.get('SLURM_LOCALID', 0))}
    if 'OMPI_MCA_orte_hnp_uri' in env and 'OMPI_COMM_WORLD_SIZE' in env:
        uri = env['OMPI_MCA_orte_hnp_uri']        # "<job id>.<vpid>;tcp://<ip>[,<ip>]:<port>"
        m = re.search(r'tcp6?://\[?([^,\]:;]+)', uri)
        if m is None:
            raise ValueError(f'cannot read the launcher address from OMPI_MCA_orte_hnp_uri={uri!r}')
        return {'coordinator_address': f'{m.group(1)}:{_port_for(uri.split(".")[0])}',
                'num_processes': int(env['OMPI_COMM_WORLD_SIZE']),
                'process_id': int(env['OMPI_COMM_WORLD_RANK']),
                'local_device_id': int(env.get('OMPI_COMM_WORLD_LOCAL_RANK', 0))}
    return {}


def _global_devices(mine, infos, process_id):
    """This process's devices renumbered with global ids, and the full list."""
    every, local, gid = [], [], 0
    for p, info in enumerate(infos):
        for i in range(info['count']):
            if p == process_id:
                d = mine[i]
                d = cpu.CpuDevice(gid, process_index=p) if d.platform == 'cpu' else \
                    cuda.CudaDevice(gid, physical_id=d.physical_id, process_index=p)
                local.append(d)
            else:
                d = backends.RemoteDevice(gid, p, info['platform'], info['kind'])
            every.append(d)
            gid += 1
    return local, every


def shutdown(timeout=60):
    """Wait for every process, then close the connection (process 0: the coordinator)."""
    topo = backends.topology()
    if topo is None:
        return
    client, server = _state.pop('client', None), _state.pop('server', None)
    try:
        # Process 0 serves the others: it must not close the store while they still use it.
        client.barrier('shutdown', topo.process_index, topo.process_count, timeout)
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        client.close()
        if server is not None:
            server.close()
        backends.set_topology(None)
        collectives._chosen.clear()


def is_initialized():
    return backends.topology() is not None


process_index = backends.process_index
process_count = backends.process_count
