"""A small QMP client for the tests: one socket, replies matched by id, events kept."""
import json
import os
import socket
import time


class QMPError(Exception):
    def __init__(self, reply):
        super().__init__(f"{reply['error']['class']}: {reply['error']['desc']}")
        self.reply = reply


class QMP:
    def __init__(self, path, timeout=30, negotiate=True):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.events = []
        self.next_id = 0
        self.greeting = self.read(timeout)
        if negotiate:
            self.execute("qmp_capabilities")

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def read(self, timeout=30):
        """The next message (reply or event); raises on timeout or a closed socket."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no QMP message in {timeout}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, timeout=30, **arguments):
        """The whole reply ({"return": ...} or {"error": ...}); events meanwhile are kept."""
        self.next_id += 1
        msg = {"execute": name, "id": self.next_id}
        if arguments:
            msg["arguments"] = arguments
        self.send_raw(json.dumps(msg) + "\n")
        while True:
            reply = self.read(timeout)
            if "event" in reply:
                self.events.append(reply)
            elif reply.get("id") == self.next_id:
                return reply

    def execute(self, name, timeout=30, **arguments):
        reply = self.command(name, timeout, **arguments)
        if "error" in reply:
            raise QMPError(reply)
        return reply["return"]

    def wait_event(self, name, timeout=60, match=lambda e: True):
        """The first event NAME (kept or new) for which match(event) holds; it is consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and match(e):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name} event in {timeout}s; events: {self.events}")
            msg = self.read(left)
            if "event" in msg:
                self.events.append(msg)

    def device(self, dev_id):
        """query-memory-devices' data for dev_id."""
        for d in self.execute("query-memory-devices"):
            if d["data"].get("id") == dev_id:
                return d["data"]
        raise KeyError(dev_id)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise KeyError("VmRSS")


def socket_path(name):
    d = os.environ.get("TMPDIR", "/tmp")
    return os.path.join(d, f"tide-test-{os.getpid()}-{name}.sock")
