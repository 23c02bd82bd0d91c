from livestream.errors import BadRequest, Conflict, Forbidden, NotFound


class CannotFollowSelf(BadRequest):
    code = "CANNOT_FOLLOW_SELF"
    message = "You cannot follow yourself"


class AlreadyFollowing(Conflict):
    code = "ALREADY_FOLLOWING"
    message = "You already follow this user"


class FollowNotFound(NotFound):
    code = "FOLLOW_NOT_FOUND"
    message = "Follow not found"


class NotYourFollow(Forbidden):
    code = "FORBIDDEN"
    message = "Only the follower can remove this follow"
