"""Hosts simulated with Linux network namespaces, for tests of a cluster across hosts.

A bridge in the root namespace plays the network's switch and carries its one root-side address
(where the test's fakes and PostgreSQL listen); each host is a namespace joined to the bridge by
a veth pair, with no route but its own /24, so nothing it sends leaves the test's network. A
host's path to one address and port can be cut with a drop rule in its own namespace: packets
vanish, as in a real partition, rather than being refused. Names carry the test's pid; what a
killed earlier run left behind (its pid gone) is removed before a new network is made.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

PREFIX = "ibn"  # every namespace and link these tests make: ibn<pid><suffix>, at most 15 chars
# Private addresses used by nothing else here (podman takes 10.88/16 and up from 10.89): each
# run takes one /24 of it, chosen by pid among those no route or address on the machine uses.
RANGE = ipaddress.IPv4Network("10.237.0.0/16")
NEEDS = "root and iproute2's `ip netns` with nftables' `nft` (apt-get install iproute2 nftables)"
_OURS = re.compile(rf"^{PREFIX}(\d+)[a-z0-9]*$")


def run(*argv: str) -> str:
    """Run one command, raising with its error output if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None if they can)."""
    if os.geteuid() != 0:
        return f"needs {NEEDS}: not running as root"
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    if missing:
        return f"needs {NEEDS}: {', '.join(missing)} not found"
    probe = f"{PREFIX}{os.getpid()}p"
    try:
        run("ip", "netns", "add", probe)
        run("ip", "netns", "exec", probe, "nft", "list", "ruleset")
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"needs {NEEDS}: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=60)
    return None


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def remove_stale() -> None:
    """Remove the namespaces (and the processes in them) and links of runs that are gone."""
    for line in run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        found = _OURS.match(name)
        if found and not _alive(int(found.group(1))):
            _delete_namespace(name)
    for line in run("ip", "-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        found = _OURS.match(name)
        if found and not _alive(int(found.group(1))):
            subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=60)


def _delete_namespace(name: str) -> None:
    """Kill what runs in it (a namespace lives on while a process does), then remove it."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=60)
    for pid in pids.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=60)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of RANGE that no address or route on this machine overlaps."""
    taken = [
        ipaddress.ip_network(word, strict=False)
        for command in (
            ("ip", "-4", "-o", "addr", "show"),
            ("ip", "-4", "route", "show", "table", "all"),
        )
        for word in run(*command).split()
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+(/\d+)?", word)
    ]
    subnets = list(RANGE.subnets(new_prefix=24))
    start = os.getpid() % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise RuntimeError(f"no free /24 in {RANGE}")


@dataclass
class Host:
    """One namespace on the network: run commands in it, cut or mend its path to an address."""

    namespace: str
    address: ipaddress.IPv4Interface
    _cuts: set[str] = field(default_factory=set)

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self, address: ipaddress.IPv4Address, port: int) -> None:
        """Drop every packet between this host and ``address:port``, both ways."""
        table = f"cut{port}"
        script = (
            f"table inet {table} {{\n"
            "  chain out { type filter hook output priority 0; policy accept;\n"
            f"    ip daddr {address} tcp dport {port} drop\n  }}\n"
            "  chain in { type filter hook input priority 0; policy accept;\n"
            f"    ip saddr {address} tcp sport {port} drop\n  }}\n"
            "}\n"
        )
        done = subprocess.run(
            self.command(["nft", "-f", "-"]),
            input=script,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"nft in {self.namespace} failed: {done.stderr.strip()}")
        self._cuts.add(table)

    def mend(self) -> None:
        """Take back every cut: packets flow again on the connections that survived."""
        for table in sorted(self._cuts):
            run(*self.command(["nft", "delete", "table", "inet", table]))
        self._cuts.clear()


@dataclass
class Network:
    """The bridge (with the root side's address) and the hosts on it."""

    subnet: ipaddress.IPv4Network
    tag: str
    hosts: dict[str, Host] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)

    @property
    def root(self) -> ipaddress.IPv4Interface:
        """The root namespace's address on the network: where the test's servers listen."""
        return ipaddress.IPv4Interface(f"{self.subnet[1]}/{self.subnet.prefixlen}")

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    def create(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        run("ip", "addr", "add", str(self.root), "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    def add_host(self, label: str) -> Host:
        """A namespace ``<tag><label>`` joined to the bridge, with the next address."""
        namespace = f"{self.tag}{label}"
        address = ipaddress.IPv4Interface(
            f"{self.subnet[2 + len(self.hosts)]}/{self.subnet.prefixlen}"
        )
        outside = f"{namespace}0"
        run("ip", "netns", "add", namespace)
        host = self.hosts[label] = Host(namespace, address)
        run(
            "ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace
        )
        self.links.append(outside)
        run("ip", "link", "set", outside, "master", self.bridge, "up")
        inside = host.command
        run(*inside(["ip", "link", "set", "lo", "up"]))
        run(*inside(["ip", "addr", "add", str(address), "dev", "eth0"]))
        run(*inside(["ip", "link", "set", "eth0", "up"]))
        return host

    def remove(self) -> None:
        """Everything made, in reverse: namespaces (and their processes), then links."""
        for host in reversed(list(self.hosts.values())):
            _delete_namespace(host.namespace)
        for link in reversed(self.links):
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=60)
        self.hosts.clear()
        self.links.clear()


@contextlib.contextmanager
def network(*labels: str) -> Iterator[Network]:
    """A network with one host per label (``net.hosts[label]``), torn down at the end."""
    remove_stale()
    net = Network(_free_subnet(), f"{PREFIX}{os.getpid()}")
    try:
        net.create()
        for label in labels:
            net.add_host(label)
        yield net
    finally:
        net.remove()
