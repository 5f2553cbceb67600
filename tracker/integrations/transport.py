"""HTTP POST to a checked address: no proxies from the environment, no redirects, a timeout
and a cap on how much of the answer is read."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from tracker.integrations.platforms import OutgoingRequest
from tracker.integrations.ssrf import CheckedURL, normalise_host

MAX_ANSWER_BYTES = 64 * 1024


@dataclass
class HttpAnswer:
    status: int
    headers: httpx.Headers
    text: str


def post_checked(request: OutgoingRequest, target: CheckedURL, *, timeout: float) -> HttpAnswer:
    """POST `request` to the first reachable address of `target`, never to a fresh DNS answer.

    The URL's host is replaced by the checked address; the Host header and the TLS server name
    (SNI and certificate check) keep the original name. Raises httpx.TransportError (timeouts,
    refused connections) when no address answers.
    """
    parts = urlsplit(request.url)
    if normalise_host(parts.hostname or "") != target.host:
        raise ValueError("The prepared request goes to another host than the checked one.")
    headers = {**request.headers, "Host": target.host_header, "User-Agent": "Milepost"}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    last_error: httpx.TransportError | None = None
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
        for address in target.addresses:
            literal = f"[{address}]" if ":" in address else address
            url = urlunsplit(
                (target.scheme, f"{literal}:{target.port}", parts.path or "/", parts.query, "")
            )
            try:
                with client.stream(
                    "POST", url, content=request.body, headers=headers, extensions=extensions
                ) as response:
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= MAX_ANSWER_BYTES:
                            break
                    body = b"".join(chunks)[:MAX_ANSWER_BYTES]
                    return HttpAnswer(
                        status=response.status_code,
                        headers=response.headers,
                        text=body.decode(response.encoding or "utf-8", errors="replace"),
                    )
            except httpx.ConnectError as exc:
                last_error = exc  # try the next address (e.g. IPv6 first, unreachable)
    assert last_error is not None
    raise last_error
