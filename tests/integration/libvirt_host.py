"""A private libvirtd for the tests: Debian's libvirt 9.0, started by hand (no systemd).

libvirtd running as root reads /etc/libvirt and keeps its state in /run/libvirt,
/var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt. The tests give it copies of
all five in a temporary directory, bind-mounted over the real ones in a mount namespace
of its own (unshare -m), so that nothing on the machine changes and no other libvirtd is
disturbed. virsh reaches it from outside through the socket's real path.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# What the domain's tide needs of libvirt's QEMU driver here: root (/dev/kvm is root's),
# and no confinement libvirt would set up for QEMU (no SELinux/AppArmor, no cgroup
# controllers or private /dev without systemd).
QEMU_CONF = """
user = "root"
group = "root"
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
"""

# Monitor traffic in libvirtd's log: the tests read the events tide sent.
LIBVIRTD_CONF = """
log_filters = "1:qemu.qemu_monitor 1:qemu.qemu_monitor_json 3:*"
log_outputs = "1:file:{log}"
"""

STATE_DIRS = {"run": "/run/libvirt", "lib": "/var/lib/libvirt", "cache": "/var/cache/libvirt",
              "log": "/var/log/libvirt", "etc": "/etc/libvirt"}


def read_text(path):
    """A file's text so far; "" before it exists."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def missing():
    """Why a private libvirtd cannot run here, or None."""
    if os.geteuid() != 0:
        return "libvirtd's QEMU driver needs root here (/dev/kvm is root's)"
    for tool in ("libvirtd", "virtlogd", "virsh", "unshare"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/setup.sh --libvirt installs it; test.sh does)"
    if not os.path.isdir("/etc/libvirt"):
        return "/etc/libvirt is missing (libvirt-daemon-system is not installed)"
    return None


class Libvirtd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tide-libvirt-")
        self.log = os.path.join(self.dir, "libvirtd.log")
        for name in STATE_DIRS:
            os.mkdir(os.path.join(self.dir, name))
        shutil.copytree("/etc/libvirt", os.path.join(self.dir, "etc"), dirs_exist_ok=True)
        with open(os.path.join(self.dir, "etc", "qemu.conf"), "a") as f:
            f.write(QEMU_CONF)
        with open(os.path.join(self.dir, "etc", "libvirtd.conf"), "a") as f:
            f.write(LIBVIRTD_CONF.format(log=self.log))
        mounts = []
        for name, path in STATE_DIRS.items():
            os.makedirs(path, exist_ok=True)  # a mount point; empty where libvirt is unused
            mounts.append(f"mount --bind {self.dir}/{name} {path}")
        script = " && ".join(mounts + [
            f"virtlogd -d -p {self.dir}/virtlogd.pid",
            f"libvirtd -d -p {self.dir}/libvirtd.pid"])
        subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       check=True, timeout=60)
        self.socket = os.path.join(self.dir, "run", "libvirt-sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd did not start: {self.log_text()[-3000:]}")
            time.sleep(0.1)
        self.uri = f"qemu:///system?socket={self.socket}"

    def virsh(self, *args, check=True, timeout=120):
        run = subprocess.run(["virsh", "-c", self.uri] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and run.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)}: {run.stderr}\n"
                                 f"{self.domain_logs()[-3000:]}")
        return run

    def log_text(self):
        return read_text(self.log)

    def domain_logs(self):
        """What libvirt wrote of each domain's start and tide's stderr."""
        text = ""
        qemu_logs = os.path.join(self.dir, "log", "qemu")
        for name in sorted(os.listdir(qemu_logs)) if os.path.isdir(qemu_logs) else []:
            text += f"--- {name}\n{read_text(os.path.join(qemu_logs, name))}"
        return text

    def domain_pid(self, name):
        with open(os.path.join(self.dir, "run", "qemu", f"{name}.pid")) as f:
            return int(f.read().strip())

    def events(self, name):
        """The QMP events libvirt received, as (event name, data text), in order."""
        return re.findall(r'QEMU_MONITOR_RECV_EVENT: .*?"event": "(\w+)"(?:, "data": (\{.*?\}))?',
                          self.log_text())

    def stop(self):
        for domain in self.virsh("list", "--name", check=False).stdout.split():
            self.virsh("destroy", domain, check=False)
        for daemon in ("libvirtd", "virtlogd"):
            try:
                with open(os.path.join(self.dir, f"{daemon}.pid")) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def print_skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)
