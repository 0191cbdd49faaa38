"""A TCP proxy on loopback in front of a store emulator, whose faults a test switches.

It forwards bytes both ways between its clients and the emulator, and can stop
(connections refused, open ones cut) and start again on the same port, or hang:
connections are accepted and requests read, but nothing is forwarded until
released. The emulator keeps its data meanwhile, as a real store would.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FaultyProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._release = threading.Event()
        self._release.set()  # set: bytes flow
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        #: Connections open now, and the most open at once (how parallel a client is).
        self.open_connections = 0
        self.most_open_connections = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        assert self._listener is not None
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def hang(self) -> None:
        self._release.clear()

    def unhang(self) -> None:
        self._release.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
                self.open_connections += 1
                self.most_open_connections = max(self.most_open_connections, self.open_connections)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                # A hang holds every byte until released (at most a minute, so
                # that a test that forgets to release cannot block forever).
                self._release.wait(timeout=60)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side closed: close both (the other pump then ends too).
            with self._lock:
                if source in self._sockets:
                    self.open_connections -= 1
                self._sockets.difference_update((source, sink))
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
