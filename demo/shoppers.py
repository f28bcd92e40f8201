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


class Shopper:
    """One phone: its own device id, in one province."""

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
