"""The coordinator: a small key-value store over TCP that processes meet through.

Process 0 runs `CoordinatorServer` in a thread on the coordinator address; every process
(0 included) talks to it with a `CoordinatorClient`. The store holds bytes under string
keys; `get` blocks until the key exists (or a timeout passes), which is all a barrier,
a device-list exchange, an NCCL unique-id broadcast or a CPU collective needs.

Messages are a fixed 8-byte length prefix, a JSON header and raw bytes; nothing is
unpickled, so a stray connection cannot run code. Every wait is bounded by a timeout.
"""
import json
import socket
import struct
import threading
import time

_PREFIX = struct.Struct('!II')


def _recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        c = sock.recv(min(n - got, 1 << 20))
        if not c:
            raise ConnectionError('coordinator connection closed')
        chunks.append(c)
        got += len(c)
    return b''.join(chunks)


def _send(sock, header, payload=b''):
    h = json.dumps(header).encode()
    sock.sendall(_PREFIX.pack(len(h), len(payload)) + h + payload)


def _recv(sock):
    hl, pl = _PREFIX.unpack(_recv_exact(sock, _PREFIX.size))
    header = json.loads(_recv_exact(sock, hl))
    return header, _recv_exact(sock, pl) if pl else b''


def parse_address(address):
    host, _, port = str(address).rpartition(':')
    if not host or not port.isdigit():
        raise ValueError(f'coordinator_address must be "host:port", got {address!r}')
    return host.strip('[]'), int(port)


class CoordinatorServer:
    """The store, served to one thread per client connection."""

    def __init__(self, host, port):
        self._data = {}
        self._cond = threading.Condition()
        self._closing = False
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.2)       # so close() is noticed by the accept loop
        self.address = self._sock.getsockname()[:2]
        self._conns = []
        self._thread = threading.Thread(target=self._serve, name='tinyjax-coordinator',
                                        daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            while not self._closing:
                header, payload = _recv(conn)
                op, key = header['op'], header.get('key')
                if op == 'set':
                    with self._cond:
                        self._data[key] = payload
                        self._cond.notify_all()
                    _send(conn, {'ok': True})
                elif op == 'get':
                    with self._cond:
                        found = self._cond.wait_for(
                            lambda: key in self._data or self._closing, header['timeout'])
                        value = self._data.get(key) if found else None
                    _send(conn, {'ok': value is not None}, value or b'')
                elif op == 'delete':
                    with self._cond:
                        self._data.pop(key, None)
                    _send(conn, {'ok': True})
                else:
                    _send(conn, {'ok': False, 'error': f'unknown op {op!r}'})
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            conn.close()

    def close(self):
        self._closing = True
        with self._cond:
            self._cond.notify_all()
        self._sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(timeout=2)


class CoordinatorClient:
    """One connection to the coordinator; calls are serialised by a lock."""

    def __init__(self, host, port, timeout=60.0):
        self.timeout = timeout
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:     # process 0 may not be listening yet: retry until the deadline
            try:
                self._sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise TimeoutError(f'could not reach the coordinator at {host}:{port} '
                                       f'within {timeout:.0f}s: {e}') from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._lock = threading.Lock()

    def _call(self, header, payload=b'', wait=0.0):
        with self._lock:
            self._sock.settimeout(wait + 30.0)
            _send(self._sock, header, payload)
            return _recv(self._sock)

    def set(self, key, value):
        self._call({'op': 'set', 'key': key}, bytes(value))

    def get(self, key, timeout=None):
        t = self.timeout if timeout is None else timeout
        header, value = self._call({'op': 'get', 'key': key, 'timeout': t}, wait=t)
        if not header['ok']:
            raise TimeoutError(f'coordinator: no value for {key!r} after {t:.0f}s (did another '
                               'process fail or take a different path?)')
        return value

    def delete(self, key):
        self._call({'op': 'delete', 'key': key})

    def barrier(self, name, rank, count, timeout=None):
        self.set(f'barrier/{name}/{rank}', b'1')
        for r in range(count):
            self.get(f'barrier/{name}/{r}', timeout)

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
