"""What a host name in the config or in a request's ``Host`` header means for who can reach it.

The dashboard decides two things from its host: whether plain HTTP is acceptable (only on a
loopback address, which the station LAN cannot reach) and which ``Host`` headers it accepts
(:mod:`dashboard.hosts`). Both need the same few facts about a name, kept here.
"""

from __future__ import annotations

import ipaddress
import re

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Names of this machine that are always accepted: nothing on the LAN can send them as a
rebound name, and local tools (Prometheus on the station, a browser on its desk) use them."""

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_HOST_HEADER = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::\d{1,5})?$")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_address(host: str) -> bool:
    """``host`` is an IP address (v4, or v6 with or without brackets), not a name."""
    return _address(host) is not None


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host``: ``localhost`` or a loopback address.

    Any other name may resolve to an address on the LAN, so it counts as reachable from it.
    """
    address = _address(host)
    return host.lower() == "localhost" if address is None else address.is_loopback


def is_wildcard(host: str) -> bool:
    """``host`` means every address of the machine (``0.0.0.0``, ``::`` or empty)."""
    address = _address(host)
    return host == "" or (address is not None and address.is_unspecified)


def normal_host(host: str) -> str | None:
    """``host`` as the allowed-host list holds it (lower case, IPv6 without brackets), or
    None if it is neither an address nor a valid DNS name."""
    address = _address(host)
    if address is not None:
        return str(address)
    lowered = host.lower().rstrip(".")
    return lowered if _HOST_NAME.match(lowered) else None


def host_of_header(header: str) -> str | None:
    """The host a ``Host`` header names, without its port: ``Station.lan:8443`` ->
    ``station.lan``, ``[::1]:8000`` -> ``::1``; None for anything else (user info, paths,
    an empty header), which no browser sends."""
    match = _HOST_HEADER.match(header.lower())
    if match is None:
        return None
    return normal_host(match["v6"] or match["name"])
