"""Extra TCP listeners of a CLI node (``ockam-py tcp-listener create``).

A node of this package has one TCP listener in its core; another listening
address forwards each connection it accepts, byte for byte, to that listener,
so a peer that connects to either one talks to the same node.
"""

from __future__ import annotations

import socket
import threading
from typing import List, Set

BUFFER = 65536


class TcpForwarder:
    """Listens at ``bind`` (``host:port``; port 0: a free one) and splices every accepted
    connection to ``target`` until :meth:`close`."""

    def __init__(self, bind: str, target: str) -> None:
        host, port = bind.rsplit(":", 1)
        self.target = target
        self._server = socket.create_server((host.strip("[]"), int(port)), reuse_port=False)
        bound = self._server.getsockname()
        self.address = f"{bound[0]}:{bound[1]}"
        self._conns: Set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name=f"tcp-listener {self.address}", daemon=True).start()

    def __repr__(self) -> str:
        return f"<TcpForwarder {self.address} -> {self.target} ({len(self._conns)} connections)>"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            host, port = self.target.rsplit(":", 1)
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            pumps = [2]  # the pumps of this connection still running: the last one closes it
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pumps), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pumps: List[int]) -> None:
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):  # either side gone: the connection is over (wakes the other pump)
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            pumps[0] -= 1
            if pumps[0]:  # the other pump may still be in recv on these: closing now would race it
                return
            for s in (src, dst):
                if s in self._conns:
                    self._conns.discard(s)
                    s.close()

    def connections(self) -> int:
        """How many connections (both sides counted once) it carries now."""
        with self._lock:
            return len(self._conns) // 2

    def close(self) -> None:
        """Stops listening and closes every connection it carries."""
        with self._lock:
            self._closed = True
            conns: List[socket.socket] = list(self._conns)
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._server.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
