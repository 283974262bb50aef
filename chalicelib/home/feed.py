"""Home timelines: the one owner of what a reader's home timeline holds.

The verbs are the whole story (after Mastodon's FeedManager):

- `push` a new tweet or retweet to its author's and every active
  follower's timeline, a page of followers at a time (`push_page`);
- `unpush` a deleted one from every timeline it may be in;
- `merge` a newly followed author into the reader's timeline: their
  recent tweets, or, for an author on the celebrity path, a place in the
  reader's list of authors pulled at read time;
- `unmerge` an unfollowed author's entries and pull;
- `populate` the timeline of a reader coming back after ACTIVE_DAYS (fan-out
  skipped them meanwhile), a page of followees at a time (`populate_page`);
- `trim` a timeline to its newest TIMELINE_MAX entries;
- `read` a page, merging in followed celebrities' tweets.

Timelines hold ids only (chalicelib.home.entries); the read path is in
chalicelib.home.reading, the celebrity (pull) path and its transitions in
chalicelib.home.celebrities. Fan-out writes go in BatchWriteItem calls of
25: one page of FANOUT_PAGE_SIZE followers in the stream handler, the rest
one page per job. Every step is idempotent (an entry's key is (reader,
tweet)), so redelivery and retries only rewrite what is already there.
Settings: TIMELINE_MAX, ACTIVE_DAYS, BACKFILL_TWEETS, FANOUT_PAGE_SIZE,
TRIM_EVERY, CELEBRITY_* and HOME_READ_ROUNDS in chalicelib.settings.
"""
import time

from chalicelib import settings
from chalicelib.accounts import activity, follows
from chalicelib.home import celebrities, entries, reading
from chalicelib.observe import metrics, traces
from chalicelib.storage import calls, ids, jobs, moves
from chalicelib.storage.paging import PageRequest
from chalicelib.storage.tables import FollowModel, TweetModel, UserModel
from chalicelib.tweets import tweets
from chalicelib.tweets.tweets import Ref

# --- the verbs ----------------------------------------------------------------

def push(ref: Ref, author_id: int, written_at: float | None = None) -> None:
    """A new tweet or retweet (which travels exactly like a tweet).
    `written_at`: when the tweet was written (epoch seconds), for the lag."""
    author = UserModel.get(author_id, consistent_read=True, attributes_to_get=["id", "celebrity_state"])
    if author.celebrity_state == celebrities.CELEBRITY:
        entries.deliver([author_id], ref, author_id)  # its own entry only, trimmed like any
        metrics.count("FanoutPulled")
        return
    # The author's own entry rides in the first batch: ceil((F + 1) / 25) writes.
    push_page(ref, author_id, cursor=None, carry=[author_id], written_at=written_at)


def push_page(ref: Ref, author_id: int, cursor: int | None, carry: list[int],
              written_at: float | None = None) -> None:
    """Delivers to one page of followers, then hands the next page to a job.

    Recipients that do not fill a batch of 25 are carried into the next
    page's job, so F followers cost exactly ceil(F / 25) BatchWriteItem
    calls however the pages fall.
    """
    with traces.span("fan-out page", tweet_id=ref.tweet_id, first_page=cursor is None):
        _push_page(ref, author_id, cursor, carry, written_at)


def _push_page(ref: Ref, author_id: int, cursor: int | None, carry: list[int],
               written_at: float | None) -> None:
    followers, next_cursor = follows.follower_page(author_id, cursor)
    if not tweets.exists(ref.tweet_id):
        return  # deleted meanwhile: the retraction covers what was written
    recipients = carry + activity.active_only(followers)
    if next_cursor is not None:
        keep = len(recipients) - len(recipients) % settings.BATCH_WRITE_MAX
        recipients, carry = recipients[:keep], recipients[keep:]
    written = entries.deliver(recipients, ref, author_id)
    metrics.count("FanoutRecipients", len(recipients))
    metrics.count("FanoutBatchWrites", written.calls)
    metrics.count("FanoutUnprocessedRetries", written.retries)
    if next_cursor is not None:
        jobs.send("deliver", tweet_id=ref.tweet_id, original_id=ref.original_id, author_id=author_id,
                  cursor=next_cursor, carry=carry, written_at=written_at)
    elif written_at is not None:  # the last page: every follower has the tweet
        metrics.milliseconds("FanoutLag", max(0.0, 1000 * (time.time() - written_at)))


@jobs.handler("deliver")
def _push_job(tweet_id: int, original_id: int | None, author_id: int, cursor: int, carry: list[int],
              written_at: float | None = None) -> None:
    push_page(Ref(tweet_id, original_id), author_id, cursor, carry, written_at)


@jobs.handler("retract")
def unpush(tweet_id: int, author_id: int, cursor: int | None = None) -> None:
    """Removes a deleted tweet from every timeline it may be in: the author's
    and all followers' (active or not: activity may have changed since)."""
    followers, next_cursor = follows.follower_page(author_id, cursor)
    users = ([author_id] if cursor is None else []) + followers
    entries.remove([(user, tweet_id) for user in users])
    if next_cursor is not None:
        jobs.send("retract", tweet_id=tweet_id, author_id=author_id, cursor=next_cursor)


def merge(reader_id: int, author_id: int) -> None:
    """The reader now follows the author: an author on the pull path joins
    the reader's pulled list; any other author's recent tweets are copied
    in (a celebrity's older tweets are pulled on read too)."""
    state = celebrities.state_of(author_id)
    if state in celebrities.PULLED:
        celebrities.add_followee(reader_id, author_id)
    if state != celebrities.CELEBRITY:
        _backfill(reader_id, author_id)


def _backfill(reader_id: int, author_id: int) -> None:
    """Copies the author's most recent tweets into the reader's timeline,
    unless the reader has unfollowed again since (the stream may lag)."""
    if follows.is_following(reader_id, author_id):
        recent = tweets.recent(author_id, settings.BACKFILL_TWEETS)
        entries.backfill(reader_id, recent, author_id)


def unmerge(reader_id: int, author_id: int) -> None:
    """The reader no longer follows the author: their entries go, and so does
    the author's place in the reader's pulled list."""
    entries.remove_author(reader_id, author_id)
    celebrities.remove_followee(reader_id, author_id)


def populate(user_id: int) -> None:
    """The user was away: fan-out skipped them, so rebuild their timeline
    from their followees' recent tweets. Reads say `partial` meanwhile.

    Once a day at most, however many containers see the user come back: the
    move that raises the flag is conditional on the last populate being on
    an earlier day. If the job cannot be sent the move is taken back and the
    error raised, so the next request tries again, instead of leaving
    `partial` up with no rebuild coming."""
    day, marker = activity.today(), UserModel.populate_move
    mark = moves.move(UserModel, user_id, marker,
                      [UserModel.timeline_rebuilding.set(True), UserModel.populated_day.set(day)],
                      UserModel.populated_day.does_not_exist() | (UserModel.populated_day < day))
    if mark is None:
        return  # populated today already
    try:
        jobs.send("rebuild", user_id=user_id)
    except Exception:
        moves.undo(UserModel, user_id, marker, mark,
                   [UserModel.timeline_rebuilding.remove(), UserModel.populated_day.remove()])
        raise


@jobs.handler("rebuild")
def populate_page(user_id: int, cursor: int | None = None) -> None:
    """One page of followees of a `populate`; the last page clears the flag
    that makes reads say `partial`."""
    followees, next_cursor = follows.following_page(user_id, cursor)
    pulled = celebrities.pulled_authors(followees)
    for celebrity in pulled:  # normally there already; cheap to make sure
        celebrities.add_followee(user_id, celebrity)
    requests = [entries.put_request(user_id, t, followee) for followee in followees if followee not in pulled
                for t in tweets.recent(followee, settings.BACKFILL_TWEETS)]
    if cursor is None:
        own = tweets.recent(user_id, settings.BACKFILL_TWEETS)
        requests += [entries.put_request(user_id, t, user_id) for t in own]
    newest = sorted(requests, key=lambda r: -int(r["PutRequest"]["Item"]["tweet_id"]["N"]))
    entries.add(newest[: settings.TIMELINE_MAX])
    if next_cursor is not None:
        jobs.send("rebuild", user_id=user_id, cursor=next_cursor)
        return
    trim(user_id)
    UserModel(id=user_id).update(actions=[UserModel.timeline_rebuilding.remove()])


def trim(user_id: int) -> None:
    """Keeps the newest TIMELINE_MAX entries of the user's timeline."""
    entries.trim(user_id)


def read(reader_id: int, page: PageRequest, reader: UserModel | None = None) -> reading.HomePage:
    """A page of the reader's home timeline, newest first (`reader`: their
    item, if read already)."""
    with traces.span("home read", reader_id=reader_id), calls.counting(reading.MODELS) as made:
        home = reading.home_page(reader_id, page, reader=reader)
    metrics.count("HomeReadCalls", made.total())
    return home


# --- the streams ----------------------------------------------------------------

def on_tweet_record(record: dict) -> None:
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        tweet = TweetModel.from_raw_data(change["NewImage"])
        # Streams stamp a record to the second; the tweet's id holds its millisecond.
        push(tweets.ref(tweet), int(tweet.author_id), written_at=ids.id_timestamp_ms(int(tweet.id)) / 1000)
    elif record["eventName"] == "REMOVE":
        tweet = TweetModel.from_raw_data(change["OldImage"])
        unpush(int(tweet.id), int(tweet.author_id))
    # MODIFY only changes counts: timeline entries hold ids, nothing to do.


def on_follow_record(record: dict) -> None:
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        follow = FollowModel.from_raw_data(change["NewImage"])
        merge(int(follow.follower_id), int(follow.followee_id))
        celebrities.check_transition(int(follow.followee_id))
    elif record["eventName"] == "REMOVE":
        follow = FollowModel.from_raw_data(change["OldImage"])
        unmerge(int(follow.follower_id), int(follow.followee_id))
        celebrities.check_transition(int(follow.followee_id))
