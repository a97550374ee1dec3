"""What a submit asks for: a callback URL under one of the names gateways use, and which events.

The fields are the mock's own, checked against ``schemas/mock-callback.json``, never the contract's
``submit-request.json``: the kit builds submits from the contract, and a submit it sends to a real, paid
gateway must never carry a URL for that gateway to call.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import httpx

from .. import contract
from .callback_settings import Allowed, Settings

MAX_URL = contract.schema("mock-callback")["$defs"]["url"]["maxLength"]
NAMES = ("callback_url", "notify_hook", "webhook")  # ours, some gateways', Replicate's
FIELDS = frozenset((*NAMES, "callback_events", "webhook_events_filter"))
EVERY_CHANGE = frozenset({"start", "output", "logs"})  # Replicate's events other than "completed"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a checked callback URL is POSTed, parsed once, by the parser the allow-list judged it with.

    Delivery connects to exactly this: a second parse of the URL's text by another parser (``urlsplit``
    reads odd ports, backslashes and IDNA hosts otherwise than httpx) would let the check approve one host
    and the POST reach another.
    """

    tls: bool
    host: str  # as judged: an IP address, or an ASCII (IDNA) name without a trailing dot
    port: int
    path: str  # path and query, percent-encoded, for the request line

    @property
    def authority(self) -> str:
        """The ``Host`` header: the host, bracketed if IPv6, and the port unless it is the scheme's own."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Asked:
    """A submit's callback: the URL as given (shown and stored), whether on every state change, and a fault
    chosen for it (0: none).

    Only the URL's text is kept, once: where it goes is parsed from it again when it is sent (``check_url``,
    the same parser and checks, so the same ``Target``), so a long URL is not held twice for every task.
    """

    url: str
    every_change: bool
    fault: int = 0  # 1 + an index into settings.FAULTS


class Refusal(Exception):
    """A callback field that cannot be used; answered 400 naming ``param``."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def read(payload: dict[str, Any], settings: Settings) -> Asked | None:
    """The callback a submit body asks for, or None; raises ``Refusal`` for a bad field.

    An empty string or null under a URL's name is no callback: client templates send ``"notify_hook": ""``.
    """
    given = {name: payload[name] for name in FIELDS if name in payload and payload[name] not in ("", None)}
    if not given:
        return None
    problems = contract.errors("mock-callback", given, settings=True)
    if problems:
        first = problems[0]
        raise Refusal(contract.location(first).lstrip("/") or "body", contract.describe(first))
    named = [name for name in NAMES if name in given]
    if not named:
        return None  # events without a URL: nothing to send
    urls = {given[name] for name in named}
    if len(urls) > 1:
        raise Refusal(named[1], f"{named[1]}: names another URL than {named[0]}; give one callback URL.")
    url = given[named[0]]
    check_url(named[0], url, settings.allowed)
    if "callback_events" in given:
        every = given["callback_events"] == "all"
    elif "webhook_events_filter" in given:
        every = not EVERY_CHANGE.isdisjoint(given["webhook_events_filter"])
    else:
        every = settings.events == "all"
    return Asked(url, every)


def check_url(name: str, url: str, allowed: Allowed) -> Target:
    """Where an absolute http or https URL with an allowed host and port is POSTed; ``Refusal`` naming ``name``
    if it is not one."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port  # raises for a port past 65535
        host, named = _canonical(parsed.raw_host.decode("ascii")), parsed.host  # .host decodes IDNA, and may raise
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refusal(name, f"{name}: {contract.quote(url)} is not a usable URL ({exc}).") from exc
    if parsed.scheme not in ("http", "https") or not host or (port is not None and not 0 < port < 65536):
        raise Refusal(name, f"{name}: {contract.quote(url)} is not an http or https URL with a host.")
    tls = parsed.scheme == "https"
    port = port or (443 if tls else 80)
    if local_host(host) or local_host(named):
        if port not in allowed.ports:
            raise Refusal(
                name,
                f"{name}: {contract.quote(url)} is this machine's port {port}, which callbacks.local_ports "
                f"{sorted(allowed.ports)[:8]} does not name; start the mock with --callback-port {port} to let it "
                "call a receiver there (no other local port is called: it could be another service).",
            )
    elif not allowed_host(host, allowed.hosts) and not allowed_host(named, allowed.hosts):  # IDNA or Unicode form
        raise Refusal(
            name,
            f"{name}: host {contract.quote(named)} is not in callbacks.allow_hosts {list(allowed.hosts)[:8]}; "
            "add it to the config to let the mock call it.",
        )
    return Target(tls, host, port, parsed.raw_path.decode("ascii"))


def local_host(host: str) -> bool:
    """Whether ``host`` (as judged) is this machine whatever resolves it: ``localhost`` and its subdomains
    (RFC 6761), a loopback address, or an unspecified one (0.0.0.0 and :: connect to this machine on Linux)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return local_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A loopback or unspecified address, or an IPv6 one that maps such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK:
        return True
    return address.is_loopback or address.is_unspecified


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this host on this network": Linux connects 0.0.0.0 locally


def _canonical(host: str) -> str:
    """The host the allow-list judges and delivery connects to: ``127.0.0.1.`` (which a resolver would look up
    as a name, and a DNS server answer as it likes) is the address 127.0.0.1, ``LocalHost.`` is ``localhost``."""
    host = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def allowed_host(host: str, allowed: tuple[str, ...]) -> bool:
    """``*`` allows any host, ``*.example.com`` its subdomains; IP literals compare as addresses."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        if entry == "*" or entry == host:
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if _same_address(entry, host):
            return True
    return False


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False
