"""Snowflake-style 64-bit ids: time-ordered, so sorting by id sorts by time.

Layout (most significant first): 1 unused sign bit, 41 bits of milliseconds
since EPOCH_MS, 10 bits of worker id, 12 bits of sequence. A Lambda container
has no stable worker number, so each process picks a random one; writes that
create ids use `attribute_not_exists` conditions, so the rare clash of two
containers on the same worker, millisecond and sequence is caught and retried
rather than overwriting anything.
"""
import random
import threading
import time
from datetime import UTC, datetime

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
TIMESTAMP_BITS = 41
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << (TIMESTAMP_BITS + WORKER_BITS + SEQUENCE_BITS)) - 1


class IdGenerator:
    """Hands out strictly increasing ids within this process.

    If the clock steps back, or a millisecond's 4096 sequence numbers run out,
    the generator keeps counting on from the last millisecond it used instead
    of going backwards: ids stay monotonic and run at most briefly ahead of
    the wall clock.
    """

    def __init__(self, worker_id: int | None = None, clock_ms=None):
        if worker_id is None:
            worker_id = random.SystemRandom().randint(0, MAX_WORKER)
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker_id must be in 0..{MAX_WORKER}")
        self.worker_id = worker_id
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = self._clock_ms() - EPOCH_MS
            if now > self._last_ms:
                self._last_ms, self._sequence = now, 0
            elif self._sequence < MAX_SEQUENCE:
                self._sequence += 1
            else:
                self._last_ms, self._sequence = self._last_ms + 1, 0
            return (
                (self._last_ms << (WORKER_BITS + SEQUENCE_BITS))
                | (self.worker_id << SEQUENCE_BITS)
                | self._sequence
            )


_default = IdGenerator()


def new_id() -> int:
    return _default.next_id()


def id_timestamp_ms(snowflake: int) -> int:
    """Unix milliseconds at which `snowflake` was made."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


def id_created_at(snowflake: int) -> str:
    """ISO 8601 UTC time of an id, as the API shows `created_at`."""
    moment = datetime.fromtimestamp(id_timestamp_ms(snowflake) / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def min_id_at(unix_ms: int) -> int:
    """The smallest id that can be made at `unix_ms` (for time-range queries)."""
    return max(0, unix_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)


def parse_id(text: str) -> int | None:
    """An id from its decimal string, or None if it is not a valid id."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
