"""Follows: who follows whom, with exact counts on both users."""
from chalicelib import errors, settings
from chalicelib.accounts import users
from chalicelib.storage.ids import new_id
from chalicelib.storage.paging import PageRequest, query_page
from chalicelib.storage.tables import FollowModel, UserModel
from chalicelib.storage.transactions import ConditionsFailed, delete, save, transact_write, update


def follow(follower_id: int, followee: UserModel) -> bool:
    """Makes follower follow followee; True if it is new. Idempotent: the
    follow item's own condition decides, and the counts move in the same
    transaction, so concurrent follows count exactly once."""
    followee_id = int(followee.id)
    if follower_id == followee_id:
        raise errors.Forbidden("You cannot follow yourself.", "cannot_follow_self")

    try:
        transact_write({
            "follow": save(FollowModel(follower_id=follower_id, followee_id=followee_id, follow_id=new_id()),
                           condition=FollowModel.follower_id.does_not_exist()),
            **_count_steps(follower_id, followee_id, +1),
        })
        return True
    except ConditionsFailed as exc:
        if "follow" in exc.failed:
            return False  # already following
        raise errors.NotFound("User") from None


def unfollow(follower_id: int, followee: UserModel) -> bool:
    """Removes the follow; True if there was one. Idempotent like follow."""
    followee_id = int(followee.id)
    if follower_id == followee_id:  # the transaction below cannot touch one user twice
        raise errors.Forbidden("You cannot follow yourself.", "cannot_follow_self")

    try:
        transact_write({
            "follow": delete(FollowModel(follower_id=follower_id, followee_id=followee_id),
                             condition=FollowModel.follower_id.exists()),
            **_count_steps(follower_id, followee_id, -1),
        })
        return True
    except ConditionsFailed as exc:
        if "follow" in exc.failed:
            return False  # was not following
        raise errors.NotFound("User") from None


def _count_steps(follower_id: int, followee_id: int, delta: int) -> dict:
    return {
        "follower": update(UserModel(id=follower_id), [UserModel.following_count.add(delta)],
                           condition=UserModel.id.exists()),
        "followee": update(UserModel(id=followee_id), [UserModel.followers_count.add(delta)],
                           condition=UserModel.id.exists()),
    }


def is_following(follower_id: int, followee_id: int) -> bool:
    try:
        FollowModel.get(follower_id, followee_id, consistent_read=True, attributes_to_get=["follower_id"])
        return True
    except FollowModel.DoesNotExist:
        return False


def follower_page(user_id: int, cursor: int | None) -> tuple[list[int], int | None]:
    """One page (FANOUT_PAGE_SIZE) of a user's follower ids, newest follow
    first, and the follow id to continue below, or None on the last page."""
    return _id_page(FollowModel.followers_by_time, user_id, cursor, lambda f: int(f.follower_id))


def following_page(user_id: int, cursor: int | None) -> tuple[list[int], int | None]:
    """The same for the ids a user follows."""
    return _id_page(FollowModel.following_by_time, user_id, cursor, lambda f: int(f.followee_id))


def _id_page(index, user_id, cursor, other_id):
    rows, more = _rows(index, user_id, PageRequest(settings.FANOUT_PAGE_SIZE, max_id=cursor))
    return [other_id(r) for r in rows], (int(rows[-1].follow_id) if more else None)


def followers(user_id: int, page: PageRequest) -> tuple[list[UserModel], bool, int | None]:
    """A page of a user's followers, most recent first: one Query on the
    followers index and one BatchGetItem for the users. Also returns whether
    more follow and the page's last follow id (where the next page starts)."""
    return _page(FollowModel.followers_by_time, user_id, page, lambda f: int(f.follower_id))


def following(user_id: int, page: PageRequest) -> tuple[list[UserModel], bool, int | None]:
    """A page of the users a user follows, most recently followed first."""
    return _page(FollowModel.following_by_time, user_id, page, lambda f: int(f.followee_id))


def _page(index, user_id, page, other_id):
    rows, more = _rows(index, user_id, page)
    listed = users.users_by_ids([other_id(r) for r in rows]) if rows else []
    return listed, more, (int(rows[-1].follow_id) if rows else None)


def _rows(index, user_id, page: PageRequest) -> tuple[list[FollowModel], bool]:
    """One Query of a follows index, newest follow first, and whether more follow."""
    return query_page(index, user_id, FollowModel.follow_id, page)
