"""The celebrity (pull) path: authors with very many followers are not
fanned out; their readers pull their recent tweets at read time.

An author's `celebrity_state` moves None -> "promoting" -> "celebrity" when
followers reach CELEBRITY_THRESHOLD, and back to None below
CELEBRITY_EXIT_RATIO of it (hysteresis: an author near the line does not
flap). Each move pages through the author's followers in jobs, and is
ordered so that every timeline stays complete throughout:

- promotion: mark "promoting" (fan-out goes on), add the author to every
  follower's `celebrity_followees`, then mark "celebrity" (fan-out stops);
- demotion: clear the state (fan-out resumes), then for every follower
  backfill the author's recent tweets and remove them from the set.

While both paths apply, reads merge and de-duplicate by tweet id. Jobs wait
TRANSITION_DELAY_SECONDS before paging, so follows written just before the
state changed are visible in the (eventually consistent) followers index.

Jobs are at least once and may run late, so transitions are numbered: the
update that starts one adds 1 to `celebrity_epoch` (conditional on the
state and epoch just read), and its jobs carry the number. A page runs only
while its state and epoch are still the author's, and a promotion's last
page sets "celebrity" on the same condition. Why every follower F ends
right, with T the author's latest transition:

- T is never overtaken, so its pages reach F, each after T began. Pages of
  older transitions stop at their check, except those that passed it before
  T began and are still running: only they can write to F after T.
- T a promotion: T's pages add F. A lingering demotion page's removal of F
  is followed by that page's own read of the state; the removal came after
  T's add, so the read sees T and puts F back. Only T's own chain ends it,
  after its earlier pages have added every follower, so a stale page of an
  older promotion (same "promoting" state, another epoch) cannot set
  "celebrity" early.
- T a demotion: fan-out is back on, so F gets the tweets whatever the list
  says; T's pages backfill F and remove the author. A lingering page (an
  older promotion's, or a demotion page's put-back that read an older
  promotion) can leave the author in F's list: F then also pulls an author
  that is fanned out, merged by tweet id, as `feed.merge` racing a demotion
  can leave it too. Extra pulls, never missing tweets.

T's pages reach F only if T's first job goes out, and whatever fails after
T's move has landed (the send; the read of the move's own marker after it
landed behind a 500) can lose it. So once that job is sent, its epoch is
recorded on the author (`celebrity_job_epoch`; the move that starts T sets
it to T's predecessor's, "not yet"), and any check or stale page that finds
the current transition without its job sends it again (`_send_if_lost`):
the record that raised is retried, so its check comes back. The state is
never taken back: a move stands once landed. Two chains of one epoch (two
checks resending at once, or one resending between another's send and its
record) page the same followers; each page is idempotent and the state
check stops the slower chain once the faster has ended, so a duplicate
costs work, never correctness. Normal follows during a transition find its
job recorded and send nothing. Authors whose transition began before job
epochs were recorded have none: a promotion still under way is sent once
more (a duplicate chain at worst), a demotion is taken as done (which it
almost always is).

A job without an epoch (sent before transitions were numbered) is checked
on the state alone, as before.
"""
from chalicelib import settings
from chalicelib.accounts import activity, follows
from chalicelib.home import entries
from chalicelib.storage import batches, jobs, moves
from chalicelib.storage.tables import UserModel
from chalicelib.tweets import tweets

PROMOTING, CELEBRITY = "promoting", "celebrity"
PULLED = (PROMOTING, CELEBRITY)  # readers merge these authors' tweets
START_ATTEMPTS = 3  # reads of the state by one check that lost its move to another's


def state_of(author_id: int) -> str | None:
    author = UserModel.get(author_id, consistent_read=True, attributes_to_get=["id", "celebrity_state"])
    return author.celebrity_state


def pulled_authors(author_ids: list[int]) -> set[int]:
    """The ones among `author_ids` on the celebrity path (BatchGetItem)."""
    table = UserModel.Meta.table_name
    found = batches.get({table: [batches.number_key("id", a) for a in author_ids]},
                        projections={table: "id, celebrity_state"})[table] if author_ids else []
    return {int(u["id"]["N"]) for u in found if u.get("celebrity_state", {}).get("S") == CELEBRITY}


def add_followee(reader_id: int, author_id: int) -> None:
    moves.update_if_exists(UserModel, reader_id, [UserModel.celebrity_followees.add({author_id})])


def remove_followee(reader_id: int, author_id: int) -> None:
    moves.update_if_exists(UserModel, reader_id, [UserModel.celebrity_followees.delete({author_id})])


def check_transition(author_id: int) -> None:
    """Starts a promotion or demotion if the author's follower count has
    crossed the line, or sends again the job of one under way whose job
    never went out. The state change is conditional, so concurrent checks
    start one transition."""
    for attempt in range(START_ATTEMPTS):
        author = UserModel.get(author_id, consistent_read=True, attributes_to_get=[
            "id", "followers_count", "celebrity_state", "celebrity_epoch", "celebrity_job_epoch"])
        count, state = int(author.followers_count or 0), author.celebrity_state
        epoch = None if author.celebrity_epoch is None else int(author.celebrity_epoch)
        if state is None and count >= settings.CELEBRITY_THRESHOLD:
            kind, move = "promote", UserModel.celebrity_state.set(PROMOTING)
            condition = UserModel.celebrity_state.does_not_exist()
        elif state == CELEBRITY and count < settings.CELEBRITY_THRESHOLD * settings.CELEBRITY_EXIT_RATIO:
            kind, move = "demote", UserModel.celebrity_state.remove()
            condition = UserModel.celebrity_state == CELEBRITY
        else:
            if attempt == 0:  # later attempts read another check's move: its job is that check's to send
                _send_if_lost(author_id, state, epoch, author.celebrity_job_epoch)
            return
        if _start(author_id, kind, move, condition, epoch):
            return
        # Someone else moved the state (or the epoch) since the read: look again.


def _start(author_id: int, kind: str, move, condition, epoch: int | None) -> bool:
    """Moves the author's state, numbering the transition with the next
    epoch, and sends the job that pages the followers; False if another
    move came first.

    The update is conditional on the epoch read with the state, so the new
    number is known without reading it back. The move is marked
    (chalicelib.storage.moves), so one that DynamoDB applied although its
    answer was lost is still this one's and its job goes now. If anything
    raises between the move and the recorded send, the move stands: the
    stream record is retried and its check finds the transition's job
    missing (`_send_if_lost`)."""
    marker, number = UserModel.celebrity_transition, UserModel.celebrity_epoch
    condition &= number.does_not_exist() if epoch is None else number == epoch
    before = int(epoch or 0)
    actions = [move, number.add(1), UserModel.celebrity_job_epoch.set(before)]  # the new one's job: not yet
    if moves.move(UserModel, author_id, marker, actions, condition) is None:
        return False
    _send_first_job(author_id, kind, before + 1)
    return True


def _lost_job(state: str | None, epoch: int | None, job_epoch) -> str | None:
    """The kind of the author's current transition if its first job may
    never have gone out: its epoch is not the one recorded as sent. A
    "celebrity" author needs none (the promotion's last page ran); a state
    of None with no transition yet is an ordinary author. Without any
    record (transitions begun before job epochs were recorded), a promotion
    still under way is sent again, a demotion is taken as done."""
    if state == PROMOTING:
        kind = "promote"
    elif state is None and epoch:
        kind = "demote"
    else:
        return None
    if job_epoch is None:
        return "promote" if kind == "promote" else None
    return kind if int(job_epoch) != int(epoch or 0) else None


def _send_if_lost(author_id: int, state: str | None, epoch: int | None, job_epoch) -> None:
    kind = _lost_job(state, epoch, job_epoch)
    if kind is not None:
        _send_first_job(author_id, kind, epoch)


def _send_first_job(author_id: int, kind: str, epoch: int | None) -> None:
    """Sends the first page of transition `epoch` (None: one begun before
    transitions were numbered), then records that it went out. If the
    record fails, a later check sends the job again: a duplicate chain,
    which the epoch and the state checks make harmless."""
    numbered = {} if epoch is None else {"epoch": epoch}
    jobs.send(kind, delay_seconds=settings.TRANSITION_DELAY_SECONDS, author_id=author_id, **numbered)
    number = UserModel.celebrity_epoch
    moves.update_if_exists(UserModel, author_id, [UserModel.celebrity_job_epoch.set(int(epoch or 0))],
                           number.does_not_exist() if epoch is None else number == epoch)


@jobs.handler("promote")
def promote_page(author_id: int, cursor: int | None = None, epoch: int | None = None) -> None:
    run_transition_page("promote", author_id, cursor, epoch)


@jobs.handler("demote")
def demote_page(author_id: int, cursor: int | None = None, epoch: int | None = None) -> None:
    run_transition_page("demote", author_id, cursor, epoch)


def run_transition_page(kind: str, author_id: int, cursor: int | None, epoch: int | None = None) -> None:
    """One page of a promotion or demotion, of transition number `epoch`
    (None: a job sent before transitions were numbered, checked on the
    state alone). A transition that a later one has overtaken stops: the
    later one pages through every follower itself."""
    author = UserModel.get(author_id, consistent_read=True, attributes_to_get=[
        "id", "celebrity_state", "celebrity_epoch", "celebrity_job_epoch"])
    state, current = author.celebrity_state, author.celebrity_epoch
    if ((kind == "promote" and state != PROMOTING) or (kind == "demote" and state is not None)
            or (epoch is not None and (current is None or int(current) != epoch))):
        # Overtaken. The transition that did it may have lost its job (one
        # this page's own last step started, say, then this page's retry).
        _send_if_lost(author_id, state, None if current is None else int(current), author.celebrity_job_epoch)
        return
    followers, next_cursor = follows.follower_page(author_id, cursor)
    if kind == "promote":
        for follower in followers:
            add_followee(follower, author_id)
    else:
        recent = tweets.recent(author_id, settings.BACKFILL_TWEETS)
        for follower in activity.active_only(followers):
            entries.backfill(follower, recent, author_id)
        for follower in followers:
            remove_followee(follower, author_id)
        if state_of(author_id) in PULLED:
            # A newer promotion began after the check above, and its pages
            # may have added these followers before the removals: put them
            # back (that promotion finishes the paging itself).
            for follower in followers:
                add_followee(follower, author_id)
            return
    if next_cursor is not None:
        numbered = {} if epoch is None else {"epoch": epoch}
        jobs.send(kind, author_id=author_id, cursor=next_cursor, **numbered)
    elif kind == "promote":
        condition = UserModel.celebrity_state == PROMOTING
        if epoch is not None:
            condition &= UserModel.celebrity_epoch == epoch
        moves.update_if_exists(UserModel, author_id, [UserModel.celebrity_state.set(CELEBRITY)], condition)
        check_transition(author_id)  # unfollows during the promotion were not checked
