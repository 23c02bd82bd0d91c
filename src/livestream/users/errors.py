from livestream.errors import BadRequest, Conflict, Forbidden, NotFound


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "User not found"


class UsernameTaken(Conflict):
    code = "USERNAME_TAKEN"
    message = "That username is taken"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    message = "An account with that email already exists"


class WeakPassword(BadRequest):
    code = "WEAK_PASSWORD"
    message = "That password is too common; choose another"


class CurrentPasswordRequired(BadRequest):
    code = "CURRENT_PASSWORD_REQUIRED"
    message = "Changing the email or password needs the current password"


class WrongPassword(Forbidden):
    code = "WRONG_PASSWORD"
    message = "The current password is not correct"


class NotYourAccount(Forbidden):
    code = "FORBIDDEN"
    message = "You can only change your own account"
