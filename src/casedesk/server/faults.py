"""Optional fault injection, for testing clients: latency, errors, a rate limit."""

import math
import random
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FaultConfig:
    """Off by default; `casedesk serve --fault-*` turns parts on."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_per_s: float = 0.0
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)
    _buckets: dict[str, tuple[float, float]] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.error_rate or self.rate_limit_per_s)

    def should_fail(self) -> bool:
        with self._lock:
            return self.error_rate > 0 and self._random.random() < self.error_rate

    def retry_after(self, client: str) -> int | None:
        """Seconds the client must wait, or None when it is within its rate (token bucket)."""
        if self.rate_limit_per_s <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, seen = self._buckets.get(client, (self.rate_limit_per_s, now))
            tokens = min(self.rate_limit_per_s, tokens + (now - seen) * self.rate_limit_per_s)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return None
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate_limit_per_s))
