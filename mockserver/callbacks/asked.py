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
from .settings import Settings

NAMES = ("callback_url", "notify_hook", "webhook")  # ours, some gateways', Replicate's
FIELDS = frozenset((*NAMES, "callback_events", "webhook_events_filter"))
EVERY_CHANGE = frozenset({"start", "output", "logs"})  # Replicate's events other than "completed"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a checked callback URL is POSTed, parsed once, by the parser the allow-list judged it with.

    Delivery connects to exactly this: a second parse of the URL's text (``urlsplit`` reads odd ports,
    backslashes and IDNA hosts otherwise than httpx) would let the check approve one host and the POST
    reach another.
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
    """A submit's callback: the URL as given (shown and stored), where it is POSTed, whether on every state
    change, and a fault chosen for it (0: none)."""

    url: str
    target: Target
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
    target = check_url(named[0], url, settings.allow_hosts)
    if "callback_events" in given:
        every = given["callback_events"] == "all"
    elif "webhook_events_filter" in given:
        every = not EVERY_CHANGE.isdisjoint(given["webhook_events_filter"])
    else:
        every = settings.events == "all"
    return Asked(url, target, every)


def check_url(name: str, url: str, allowed: tuple[str, ...]) -> Target:
    """Where an absolute http or https URL with a host the allow-list names is POSTed; ``Refusal`` naming
    ``name`` if it is not one."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port  # raises for a port past 65535
        host, named = _canonical(parsed.raw_host.decode("ascii")), parsed.host  # .host decodes IDNA, and may raise
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refusal(name, f"{name}: {contract.quote(url)} is not a usable URL ({exc}).") from exc
    if parsed.scheme not in ("http", "https") or not host or (port is not None and not 0 < port < 65536):
        raise Refusal(name, f"{name}: {contract.quote(url)} is not an http or https URL with a host.")
    if not allowed_host(host, allowed) and not allowed_host(named, allowed):  # its IDNA or Unicode form
        raise Refusal(
            name,
            f"{name}: host {contract.quote(named)} is not in callbacks.allow_hosts {list(allowed)[:8]}; "
            "add it to the config to let the mock call it.",
        )
    tls = parsed.scheme == "https"
    return Target(tls, host, port or (443 if tls else 80), parsed.raw_path.decode("ascii"))


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
