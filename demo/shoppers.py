"""Consumers and inspectors in the story: they reach the system only through the verify API,
as a phone or a scanner would."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx


def local_page(api_url: str, label_url: str) -> str:
    """The label's Digital Link served by the local API instead of the printed host."""
    parts = urlsplit(label_url)
    return f"{api_url}{parts.path}?{parts.query}"


def phone_network(address: str, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client sending from its own source address, as a phone on its own network
    does. The verify API tells independent clients apart by source address (device ids and
    places are the client's word), and on Linux every address of 127/8 is this machine's
    loopback, so 127.0.0.2, 127.0.0.3, ... are as many clients."""
    return httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(local_address=address))


class Shopper:
    """One phone: its own device id, in one province, on the network of `client`."""

    def __init__(self, client: httpx.Client, api_url: str, device: str, province: str) -> None:
        self.client = client
        self.api_url = api_url
        self.device = device
        self.province = province

    def scan(self, label_url: str) -> dict[str, Any]:
        # merged, not `params=`: httpx would replace the label's own query with it
        url = httpx.URL(local_page(self.api_url, label_url))
        response = self.client.get(
            url.copy_merge_params({"province": self.province}),
            headers={"Accept": "application/json", "X-Device-Id": self.device},
        )
        if response.status_code != 200:
            raise RuntimeError(f"the API answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body
