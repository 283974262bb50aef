"""Users and handles: sign-up, log-in, and finding users."""
import re

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


def find_by_handle(handle: str) -> UserModel | None:
    try:
        claim = HandleModel.get(handle.lower())
    except HandleModel.DoesNotExist:
        return None
    return find_by_id(int(claim.user_id))


def find_by_id(user_id: int) -> UserModel | None:
    try:
        return UserModel.get(user_id)
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
