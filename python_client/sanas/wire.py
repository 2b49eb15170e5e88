"""What the controller and its clients agree on beyond the generated stubs: how a host is
written before ':port', which hosts are loopback, and which study ids are valid.

Part of the shared layer (with sanas.v1, sanas.spaces and sanas.convert; see
docs/architecture.md): it imports only the standard library, and the server imports it.
"""

from __future__ import annotations

import ipaddress
import re

# A study id: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.
# Matched whole (fullmatch): `$` would also accept a trailing newline.
STUDY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
STUDY_ID_RULE = (
    "1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def is_study_id(study_id: str) -> bool:
    """Whether the controller accepts `study_id` as a study's id."""
    return STUDY_ID_PATTERN.fullmatch(study_id) is not None


def bracketed(host: str) -> str:
    """host as it goes before ':port' (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """Whether `host` (a name, an address, or an IPv6 address in brackets) is loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
