"""gspread's HTTP client with what a kiosk needs: a base-URL override, a request count,
timeouts and retries with capped exponential backoff and full jitter.

Imported only by ``sync/gsheets.py``, which is imported only when backend = "gsheets".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, MutableMapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import google.auth.exceptions
import requests
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType
from urllib3.exceptions import MaxRetryError, NewConnectionError

from lockerkey.sync.backend import SyncRefused, SyncUnavailable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 32.0
# A Retry-After longer than this is not waited out: the next sync slot comes sooner.
RETRY_AFTER_MAX_S = 300.0


def parse_endpoint(endpoint: str) -> tuple[str, str, str] | None:
    """``http://host:port[/prefix]`` as (scheme, netloc, prefix); None for ""."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SyncRefused(f"api_endpoint {endpoint!r} is not an http(s)://host[:port] address")
    return parts.scheme, parts.netloc, parts.path.rstrip("/")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _reason(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"HTTP {response.status_code} {error.get('status', '')}".rstrip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {response.status_code}"


def _never_sent(err: Exception) -> bool:
    """The request cannot have reached Google (so even a non-idempotent one may be retried)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    cause = err.args[0] if err.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _idempotent(endpoint: str, body: Mapping[str, Any] | None) -> bool:
    """Whether sending the request twice does no harm. An append adds its rows again and an
    addSheet fails the second time, so those are retried only when they provably did not
    happen (429, or no connection); the next sync re-reads the sheet and carries on."""
    if endpoint.endswith(":append"):
        return False
    requests_ = (body or {}).get("requests")
    if isinstance(requests_, list):
        return not any(isinstance(r, dict) and "addSheet" in r for r in requests_)
    return True


class GoogleHTTP(HTTPClient):
    """An ``HTTPClient`` for ``gspread.Client(http_client=GoogleHTTP)``; call ``configure``."""

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.calls = 0  # API requests sent, retries included (OAuth token requests not)
        self.base: tuple[str, str, str] | None = None
        self.retries = 5
        self.sleep: Callable[[float], object] = time.sleep
        self.rand: Callable[[], float] = random.random

    def configure(
        self,
        *,
        api_endpoint: str,
        timeout_s: float,
        retries: int,
        sleep: Callable[[float], object],
        rand: Callable[[], float],
    ) -> None:
        """Set the base-URL override, the per-request timeout and the retry policy."""
        self.base = parse_endpoint(api_endpoint)
        self.set_timeout(timeout_s)
        self.retries = max(0, retries)
        self.sleep = sleep
        self.rand = rand

    def url(self, endpoint: str) -> str:
        """``endpoint`` with the scheme and host replaced when an api_endpoint is set."""
        if self.base is None:
            return endpoint
        parts = urlsplit(endpoint)
        scheme, netloc, prefix = self.base
        return urlunsplit((scheme, netloc, prefix + parts.path, parts.query, parts.fragment))

    def delay(self, failures: int, retry_after: float | None) -> float:
        """How long to wait after the n-th failure in a row."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_MAX_S)
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (failures - 1))
        return self.rand() * ceiling

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with retries; raise ``APIError`` for answers not worth retrying and
        ``SyncUnavailable`` when the retries are used up."""
        url = self.url(endpoint)
        idempotent = _idempotent(endpoint, json)
        tries = 0
        while True:
            tries += 1
            self.calls += 1
            retry_after: float | None = None
            try:
                response = self.session.request(
                    method=method,
                    url=url,
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as err:
                reason = "timed out" if isinstance(err, requests.Timeout) else "no connection"
                safe = idempotent or _never_sent(err)
                cause: Exception = err
            except google.auth.exceptions.TransportError as err:
                # The token endpoint could not be reached: nothing was sent to the API.
                reason, safe, cause = "token endpoint unreachable", True, err
            else:
                if response.ok:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise APIError(response)
                reason = _reason(response)
                retry_after = _retry_after(response)
                safe = idempotent or response.status_code == 429
                cause = APIError(response)
            if not safe:
                raise SyncUnavailable(
                    f"{reason}; the write may or may not have been applied"
                    " (the next sync reads the sheet again)"
                ) from cause
            if tries > self.retries:
                raise SyncUnavailable(f"unavailable after {tries} tries: {reason}") from cause
            self.sleep(self.delay(tries, retry_after))
