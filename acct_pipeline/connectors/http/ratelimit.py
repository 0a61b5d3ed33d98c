"""Client-side pacing: one or more sliding windows (``RateLimiter``) and their one grammar.

The grammar (``acct_pipeline.settings.parse_rate_limit``) is shared by the connectors and the sync:
``100/10``, ``190/10s``, ``25`` (per second), several windows ``3/1,60/3600``, ``none`` (no pacing).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.settings import SettingsError, parse_rate_limit


class RateLimiter:
    """Client-side pacing: at most ``calls`` requests in any ``period`` seconds, per window.

    Several windows can apply at once (Mixpanel: 3 per second and 60 per hour). Sliding window
    over the send times of the last requests; ``acquire`` blocks (through the injected ``sleep``)
    until a slot is free and returns the seconds it waited. Thread-safe.
    """

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not windows or any(n < 1 or p <= 0 for n, p in windows):
            raise ValueError(
                f"rate limit windows must be (calls >= 1, period > 0), got {windows!r}"
            )
        self.windows = [(int(n), float(p)) for n, p in windows]
        self._sent: deque[float] = deque(maxlen=max(n for n, _ in self.windows))
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._skew = 0.0
        self.total_wait = 0.0
        self.waits = 0

    def _now(self) -> float:
        return self._clock() + self._skew

    def _delay(self, now: float) -> float:
        delay = 0.0
        sent = list(self._sent)
        for calls, period in self.windows:
            if len(sent) >= calls:
                oldest = sent[-calls]
                delay = max(delay, oldest + period - now)
        return delay

    def acquire(self) -> float:
        waited = 0.0
        with self._lock:
            while True:
                now = self._now()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    break
                self._sleep(delay)
                waited += delay
                # An injected sleep that returns at once (tests) must still let the window pass:
                # count the time it should have taken.
                elapsed = self._now() - now
                if elapsed < delay:
                    self._skew += delay - elapsed
            if waited:
                self.total_wait += waited
                self.waits += 1
        return waited


def rate_windows(env: Mapping[str, str], name: str, default: str) -> list[tuple[int, float]] | None:
    """The windows configured in ``name`` (``default`` when unset); None for ``none``."""
    try:
        windows = parse_rate_limit(env.get(name) or default, name)
    except SettingsError as exc:
        raise SourceError(str(exc)) from None
    return list(windows) if windows is not None else None


def limiter(
    windows: Sequence[tuple[int, float]] | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RateLimiter | None:
    """A ``RateLimiter`` for ``windows``, or None when pacing is off."""
    return RateLimiter(windows, sleep=sleep, clock=clock) if windows else None
