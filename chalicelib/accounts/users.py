"""Users and handles: sign-up, log-in, revoking tokens, changing the
password, and finding users."""
import re

from pynamodb.exceptions import UpdateError

from chalicelib import errors, settings
from chalicelib.accounts import activity, passwords
from chalicelib.storage.ids import new_id
from chalicelib.storage.tables import HandleModel, UserModel
from chalicelib.storage.transactions import ConditionsFailed, save, transact_write

HANDLE_RE = re.compile(rf"[A-Za-z0-9_]{{1,{settings.HANDLE_MAX}}}")


def signup(handle: str, password: str, display_name: str | None) -> UserModel:
    """Creates a user. The handle claim and the user item are written in one
    transaction, each conditional on not existing: two sign-ups racing for
    `Alice` and `alice` cannot both win."""
    password_hash = passwords.hash_password(password)
    for _ in range(settings.ID_CLASH_RETRIES):
        user = UserModel(id=new_id(), handle=handle, display_name=display_name or handle,
                         bio="", password_hash=password_hash, last_active_day=activity.today())
        claim = HandleModel(handle_key=handle.lower(), user_id=user.id)

        try:
            transact_write({
                "handle": save(claim, condition=HandleModel.handle_key.does_not_exist()),
                "user": save(user, condition=UserModel.id.does_not_exist()),
            })
            return user
        except ConditionsFailed as exc:
            if "handle" in exc.failed:
                if _claimed_by(claim.handle_key, int(user.id)):
                    return user  # this very sign-up landed, though its answer was lost
                raise errors.Conflict(f"The handle @{handle} is taken.", "handle_taken") from None
    raise RuntimeError("could not allocate a unique user id")


def _claimed_by(handle_key: str, user_id: int) -> bool:
    try:
        return int(HandleModel.get(handle_key, consistent_read=True).user_id) == user_id
    except HandleModel.DoesNotExist:
        return False


def login(handle: str, password: str) -> UserModel | None:
    """The user if the password matches, else None. An unknown handle costs
    the same scrypt work, so timing does not tell which handles exist."""
    plausible = HANDLE_RE.fullmatch(handle) and len(password) <= settings.PASSWORD_MAX
    user = find_by_handle(handle) if plausible else None
    stored = user.password_hash if user else passwords.dummy_hash()
    if passwords.verify_password(password, stored) and user is not None:
        return user
    return None


def revoke_tokens(user_id: int) -> None:
    """Logs the user out everywhere: every token issued so far carries an
    older version than the one this moves to, so all are refused."""
    try:
        UserModel(id=user_id).update(actions=[UserModel.token_version.add(1)],
                                     condition=UserModel.id.exists())
    except UpdateError as exc:
        if _condition_failed(exc):
            raise errors.NotFound("User") from None
        raise


def change_password(user: UserModel, current: str, new: str) -> int:
    """Sets a new password once the current one is proven, and revokes every
    token issued so far; the new token version, for the caller's new token.

    The update is conditional on the token version the caller was checked
    at, so a log-out-everywhere landing first wins: the token that asked
    was revoked by it, and may not change the password afterwards."""
    if len(current) > settings.PASSWORD_MAX or not passwords.verify_password(current, user.password_hash):
        raise errors.Forbidden("The current password is wrong.", "wrong_password")
    seen = int(user.token_version or 0)
    unchanged = UserModel.token_version == seen
    if seen == 0:  # users from before token versions have none stored
        unchanged = unchanged | UserModel.token_version.does_not_exist()
    try:
        user.update(actions=[UserModel.password_hash.set(passwords.hash_password(new)),
                             UserModel.token_version.add(1)],
                    condition=UserModel.id.exists() & unchanged)
    except UpdateError as exc:
        if not _condition_failed(exc):
            raise
        # The SDK retries a call whose answer was lost: its own first try
        # may be what moved the version on. Then the new password is stored.
        now = find_by_id(int(user.id), consistent=True)
        if now is None or int(now.token_version or 0) != seen + 1 or \
                not passwords.verify_password(new, now.password_hash):
            raise errors.Unauthenticated("This token was revoked; log in again.") from None
        user = now
    return int(user.token_version)


def _condition_failed(exc: UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def find_by_handle(handle: str) -> UserModel | None:
    try:
        claim = HandleModel.get(handle.lower())
    except HandleModel.DoesNotExist:
        return None
    return find_by_id(int(claim.user_id))


def find_by_id(user_id: int, consistent: bool = False) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=consistent)
    except UserModel.DoesNotExist:
        return None


def get_by_handle(handle: str) -> UserModel:
    user = find_by_handle(handle)
    if user is None:
        raise errors.NotFound("User")
    return user


def get_by_id(user_id: int) -> UserModel:
    user = find_by_id(user_id)
    if user is None:
        raise errors.NotFound("User")
    return user


def users_by_ids(user_ids: list[int]) -> list[UserModel]:
    """Users in the order asked, skipping any that no longer exist.
    One BatchGetItem per 100 ids (PynamoDB retries unprocessed keys)."""
    found = {int(u.id): u for u in UserModel.batch_get(list(dict.fromkeys(user_ids)))}
    return [found[i] for i in user_ids if i in found]
