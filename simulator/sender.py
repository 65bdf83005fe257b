"""Sends simulated events to the ingest service, retrying on 503 and 429 as the API asks."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator

import requests
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tqdm import tqdm


class RetryableResponse(Exception):
    """The service asked to come back later (503, 429) or could not be reached."""


def batches(events: Iterable[dict], size: int, single_every: int) -> Iterator[list[dict]]:
    """Groups of `size` events; every `single_every`-th request carries a single event."""
    group: list[dict] = []
    requests_made = 0
    for event in events:
        group.append(event)
        single = single_every and (requests_made % single_every == single_every - 1)
        if single or len(group) >= size:
            yield group
            group = []
            requests_made += 1
    if group:
        yield group


class Sender:
    """Posts events to `POST /v1/events`, one or a batch per request, gzip for batches."""

    def __init__(self, base_url: str, api_key: str | None = None, attempts: int = 8):
        self.url = base_url.rstrip("/") + "/v1/events"
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.post = retry(
            retry=retry_if_exception_type((RetryableResponse, requests.ConnectionError)),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_attempt(attempts),
            reraise=True,
        )(self._post_once)

    def _post_once(self, events: list[dict]) -> list[str]:
        if len(events) == 1:
            response = self.session.post(self.url, data=json.dumps(events[0]), timeout=10)
        else:
            body = gzip.compress(json.dumps(events).encode())
            headers = {"Content-Encoding": "gzip"}
            response = self.session.post(self.url, data=body, headers=headers, timeout=30)
        if response.status_code in (429, 503):
            raise RetryableResponse(f"{response.status_code}: {response.text[:200]}")
        if response.status_code != 202:
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
        return response.json()["event_ids"]

    def send_all(
        self, events: Iterable[dict], batch_size: int, single_every: int, total: int | None = None
    ) -> int:
        """Send every event (retries keep each event_id, so the lake counts it once)."""
        sent = 0
        with tqdm(total=total, unit="ev", desc="sending", mininterval=1.0) as progress:
            for group in batches(events, batch_size, single_every):
                accepted = self.post(group)
                if accepted != [e["event_id"] for e in group]:
                    raise RuntimeError("the service answered other event_ids than were sent")
                sent += len(group)
                progress.update(len(group))
        return sent
