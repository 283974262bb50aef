"""A ranked timeline's snapshot: what the first page keeps for the next
ones survives packing, in order, at 33 bytes a place."""
import math

from hypothesis import given
from hypothesis import strategies as st

from chalicelib import settings
from chalicelib.home import ranked
from chalicelib.storage.ids import MAX_ID

ids = st.integers(1, MAX_ID)
places = st.builds(ranked._Kept, tweet_id=ids, original_id=st.one_of(st.just(0), ids), author_id=ids,
                   score=st.floats(0, 1e6, allow_nan=False), affinity=st.floats(0, 1e4, allow_nan=False),
                   kind=st.sampled_from([None, *settings.AFFINITY_WEIGHTS]))


@given(st.lists(places, max_size=200))
def test_a_snapshot_unpacks_to_what_was_packed_in_order(kept):
    data = ranked._pack(kept)
    assert len(data) == 33 * len(kept)
    back = ranked._unpack(data)
    assert [(k.tweet_id, k.original_id, k.author_id, k.kind) for k in back] == \
        [(k.tweet_id, k.original_id, k.author_id, k.kind) for k in kept]
    for before, after in zip(kept, back, strict=True):  # scores and affinities as float32
        assert math.isclose(after.score, before.score, rel_tol=1e-6, abs_tol=1e-30)
        assert math.isclose(after.affinity, before.affinity, rel_tol=1e-6, abs_tol=1e-30)


def test_the_rest_of_the_candidates_fits_in_7_write_units():
    rest = [ranked._Kept(MAX_ID, MAX_ID, MAX_ID, 1.0, 1.0, "like")] * (settings.RANKED_CANDIDATES - 1)
    assert len(ranked._pack(rest)) <= 7 * 1024 - 100  # leaving room for the keys and attribute names
