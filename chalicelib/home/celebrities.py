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
"""
from chalicelib import settings
from chalicelib.accounts import activity, follows
from chalicelib.home import entries
from chalicelib.storage import batches, jobs, moves
from chalicelib.storage.tables import UserModel
from chalicelib.tweets import tweets

PROMOTING, CELEBRITY = "promoting", "celebrity"
PULLED = (PROMOTING, CELEBRITY)  # readers merge these authors' tweets


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
    crossed the line. The state change is conditional, so concurrent checks
    start one transition."""
    author = UserModel.get(author_id, consistent_read=True,
                           attributes_to_get=["id", "followers_count", "celebrity_state"])
    count, state = int(author.followers_count or 0), author.celebrity_state
    if state is None and count >= settings.CELEBRITY_THRESHOLD:
        _start(author_id, "promote", UserModel.celebrity_state.set(PROMOTING),
               UserModel.celebrity_state.does_not_exist(), undo=UserModel.celebrity_state.remove())
    elif state == CELEBRITY and count < settings.CELEBRITY_THRESHOLD * settings.CELEBRITY_EXIT_RATIO:
        _start(author_id, "demote", UserModel.celebrity_state.remove(),
               UserModel.celebrity_state == CELEBRITY, undo=UserModel.celebrity_state.set(CELEBRITY))


def _start(author_id: int, kind: str, move, condition, undo) -> None:
    """Moves the author's state and sends the job that pages the followers.

    The move is marked (chalicelib.storage.moves), so one that DynamoDB
    applied although its answer was lost is still this one's and its job
    still goes; if the job cannot be sent, the move is taken back and the
    error raised, so the stream record is retried and starts afresh.
    Without both, the author could stay "promoting" for good."""
    marker = UserModel.celebrity_transition
    mark = moves.move(UserModel, author_id, marker, [move], condition)
    if mark is None:
        return  # another check moved it first
    try:
        jobs.send(kind, delay_seconds=settings.TRANSITION_DELAY_SECONDS, author_id=author_id)
    except Exception:
        moves.undo(UserModel, author_id, marker, mark, [undo])
        raise


@jobs.handler("promote")
def promote_page(author_id: int, cursor: int | None = None) -> None:
    run_transition_page("promote", author_id, cursor)


@jobs.handler("demote")
def demote_page(author_id: int, cursor: int | None = None) -> None:
    run_transition_page("demote", author_id, cursor)


def run_transition_page(kind: str, author_id: int, cursor: int | None) -> None:
    """One page of a promotion or demotion. A transition that a later one
    has overtaken (the state no longer matches) stops: the later one pages
    through every follower itself."""
    state = state_of(author_id)
    if (kind == "promote" and state != PROMOTING) or (kind == "demote" and state is not None):
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
    if next_cursor is not None:
        jobs.send(kind, author_id=author_id, cursor=next_cursor)
    elif kind == "promote":
        moves.update_if_exists(UserModel, author_id, [UserModel.celebrity_state.set(CELEBRITY)],
                          UserModel.celebrity_state == PROMOTING)
        check_transition(author_id)  # unfollows during the promotion were not checked
