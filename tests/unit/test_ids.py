"""Snowflake ids: layout, monotonicity whatever the clock does, threads,
parsing and created_at."""
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.storage import ids
from chalicelib.storage.ids import (
    EPOCH_MS,
    MAX_ID,
    MAX_SEQUENCE,
    MAX_WORKER,
    SEQUENCE_BITS,
    WORKER_BITS,
    IdGenerator,
    id_created_at,
    id_timestamp_ms,
    min_id_at,
    parse_id,
)
from tests import profiles

NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def fields(snowflake):
    """(milliseconds since EPOCH_MS, worker, sequence) of an id."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS),
            (snowflake >> SEQUENCE_BITS) & MAX_WORKER,
            snowflake & MAX_SEQUENCE)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, ms=NOW_MS):
        self.ms = ms

    def __call__(self):
        return self.ms


def test_layout_constants():
    assert (WORKER_BITS, SEQUENCE_BITS) == (10, 12)
    assert MAX_WORKER == 1023 and MAX_SEQUENCE == 4095
    assert MAX_ID == 2**63 - 1  # 1 unused sign bit + 41 + 10 + 12
    assert int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000) == EPOCH_MS


def test_id_packs_timestamp_worker_and_sequence():
    clock = Clock()
    generator = IdGenerator(worker_id=517, clock_ms=clock)
    first, second = generator.next_id(), generator.next_id()
    assert fields(first) == (NOW_MS - EPOCH_MS, 517, 0)
    assert fields(second) == (NOW_MS - EPOCH_MS, 517, 1)
    assert first == ((NOW_MS - EPOCH_MS) << 22) | (517 << 12)
    clock.ms += 5
    assert fields(generator.next_id()) == (NOW_MS - EPOCH_MS + 5, 517, 0)  # sequence restarts


def test_ids_are_positive_63_bit_and_timestamped_now():
    snowflake = ids.new_id()
    assert 0 < snowflake <= MAX_ID
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert abs(id_timestamp_ms(snowflake) - now_ms) < 5_000


@pytest.mark.parametrize("worker", [-1, MAX_WORKER + 1, 5000])
def test_worker_id_out_of_range_is_refused(worker):
    with pytest.raises(ValueError):
        IdGenerator(worker_id=worker)


@pytest.mark.parametrize("worker", [0, MAX_WORKER])
def test_worker_id_bounds_are_accepted(worker):
    snowflake = IdGenerator(worker_id=worker, clock_ms=Clock()).next_id()
    assert fields(snowflake)[1] == worker


def test_random_worker_is_in_range():
    workers = {IdGenerator().worker_id for _ in range(50)}
    assert all(0 <= w <= MAX_WORKER for w in workers)
    assert len(workers) > 1  # really random, not a constant


def test_clock_stepping_back_keeps_ids_increasing():
    clock = Clock()
    generator = IdGenerator(worker_id=1, clock_ms=clock)
    before = generator.next_id()
    clock.ms -= 10_000  # NTP steps the clock back ten seconds
    after = [generator.next_id() for _ in range(3)]
    assert before < after[0] < after[1] < after[2]
    # It keeps counting in the last millisecond it used rather than going back.
    assert [fields(a)[0] for a in after] == [NOW_MS - EPOCH_MS] * 3
    assert [fields(a)[2] for a in after] == [1, 2, 3]
    clock.ms = NOW_MS + 1  # once the clock passes it again, time wins
    assert fields(generator.next_id()) == (NOW_MS - EPOCH_MS + 1, 1, 0)


def test_sequence_overflow_borrows_the_next_millisecond():
    generator = IdGenerator(worker_id=3, clock_ms=Clock())
    made = [generator.next_id() for _ in range(MAX_SEQUENCE + 3)]
    assert made == sorted(set(made))
    assert fields(made[MAX_SEQUENCE]) == (NOW_MS - EPOCH_MS, 3, MAX_SEQUENCE)
    assert fields(made[MAX_SEQUENCE + 1]) == (NOW_MS - EPOCH_MS + 1, 3, 0)
    assert fields(made[MAX_SEQUENCE + 2]) == (NOW_MS - EPOCH_MS + 1, 3, 1)


def test_borrowed_millisecond_is_not_reused_when_the_clock_reaches_it():
    clock = Clock()
    generator = IdGenerator(worker_id=3, clock_ms=clock)
    made = [generator.next_id() for _ in range(MAX_SEQUENCE + 2)]  # borrows NOW+1
    clock.ms += 1  # the wall clock reaches the borrowed millisecond
    made.append(generator.next_id())
    assert made[-1] > made[-2]
    assert fields(made[-1]) == (NOW_MS - EPOCH_MS + 1, 3, 1)


# Clock readings from 2020 onwards, jumping forwards and backwards.
clock_readings = st.lists(
    st.one_of(st.integers(EPOCH_MS + 1, EPOCH_MS + 2**40),
              st.integers(NOW_MS - 50, NOW_MS + 50)),
    min_size=1, max_size=300)


@settings(max_examples=profiles.examples(200))
@given(readings=clock_readings, worker=st.integers(0, MAX_WORKER))
def test_ids_strictly_increase_for_any_clock_sequence(readings, worker):
    ticks = iter(readings)
    last = [readings[0]]

    def clock():
        last[0] = next(ticks, last[0])
        return last[0]

    generator = IdGenerator(worker_id=worker, clock_ms=clock)
    made = [generator.next_id() for _ in readings]
    assert all(a < b for a, b in zip(made, made[1:], strict=False))
    assert all(fields(m)[1] == worker for m in made)
    assert all(0 < m <= MAX_ID for m in made)
    # Never behind the clock's high-water mark, never far ahead of it.
    high = max(readings) - EPOCH_MS
    assert fields(made[-1])[0] >= high
    assert fields(made[-1])[0] <= high + len(readings) // (MAX_SEQUENCE + 1) + 1


def test_threads_never_get_the_same_id():
    generator = IdGenerator(worker_id=9, clock_ms=Clock())  # a frozen clock: maximum contention
    per_thread = 2_000
    results = [[] for _ in range(8)]
    start = threading.Barrier(len(results))

    def work(out):
        start.wait()
        out.extend(generator.next_id() for _ in range(per_thread))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for out in results for i in out]
    assert len(everything) == len(set(everything)) == 8 * per_thread
    for out in results:  # and each thread sees its own ids increase
        assert out == sorted(out)
    # 16,000 ids in one frozen millisecond spill over into the next three.
    assert {fields(i)[0] for i in everything} == {NOW_MS - EPOCH_MS + k for k in range(4)}


def test_default_generator_is_monotonic():
    made = [ids.new_id() for _ in range(5_000)]
    assert all(a < b for a, b in zip(made, made[1:], strict=False))


# --- parse_id -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1", 1),
    ("911887782780350464", 911887782780350464),
    (str(MAX_ID), MAX_ID),
])
def test_parse_id_accepts(text, expected):
    assert parse_id(text) == expected


@pytest.mark.parametrize("text", [
    "", "0", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc", "1_000",
    str(MAX_ID + 1), "99999999999999999999", "00000000000000000001",  # 20 characters
    "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, ids say no
    "²", "１２", "\x00", "1\n",
])
def test_parse_id_refuses(text):
    assert parse_id(text) is None


@pytest.mark.parametrize("value", [None, 1, 1.0, b"1", ["1"], {"1": 1}])
def test_parse_id_refuses_non_strings(value):
    assert parse_id(value) is None


@given(st.integers(1, MAX_ID))
def test_parse_id_round_trips_every_valid_id(value):
    assert parse_id(str(value)) == value


@given(st.text(max_size=25))
def test_parse_id_returns_a_valid_id_or_none(text):
    parsed = parse_id(text)
    if parsed is not None:
        assert 0 < parsed <= MAX_ID
        assert text.isascii() and text.isdigit() and int(text) == parsed


# --- created_at -----------------------------------------------------------------

def test_created_at_is_iso_8601_utc_with_milliseconds():
    snowflake = IdGenerator(worker_id=0, clock_ms=Clock(NOW_MS + 123)).next_id()
    assert id_created_at(snowflake) == "2026-01-01T00:00:00.123Z"
    assert id_timestamp_ms(snowflake) == NOW_MS + 123


def test_created_at_ignores_worker_and_sequence_bits():
    base = (NOW_MS - EPOCH_MS) << 22
    assert id_created_at(base) == id_created_at(base | (MAX_WORKER << 12) | MAX_SEQUENCE)
    assert id_created_at(base) == "2026-01-01T00:00:00.000Z"


def test_created_at_at_the_epoch():
    assert id_created_at(1) == "2020-01-01T00:00:00.000Z"


@given(st.integers(EPOCH_MS, EPOCH_MS + 2**41 - 1))
def test_min_id_at_is_the_smallest_id_of_that_millisecond(unix_ms):
    low = min_id_at(unix_ms)
    assert id_timestamp_ms(low) == unix_ms
    assert fields(low)[1:] == (0, 0)
    if low > 0:
        assert id_timestamp_ms(low - 1) == unix_ms - 1


def test_min_id_at_before_the_epoch_is_zero():
    assert min_id_at(EPOCH_MS - 1_000) == 0
