from livestream.errors import BadRequest, Conflict, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"
    message = "Wrong username, email or password"


class InvalidToken(Unauthorized):
    code = "INVALID_TOKEN"
    message = "The access token is missing, expired or revoked"


class InvalidRefreshToken(Unauthorized):
    code = "INVALID_REFRESH_TOKEN"
    message = "The session has ended; log in again"


class RefreshTokenReused(Unauthorized):
    code = "REFRESH_TOKEN_REUSED"
    message = "This refresh token was already used; every session of its family has been ended"
    keeps_changes = True


# --- account emails: each way a link can fail has its own code, so the page can say what to do next -----


class InvalidVerificationToken(BadRequest):
    code = "INVALID_VERIFICATION_TOKEN"
    message = "This confirmation link is not valid; ask for a new one"


class VerificationTokenExpired(BadRequest):
    code = "VERIFICATION_TOKEN_EXPIRED"
    message = "This confirmation link has expired; ask for a new one"


class VerificationTokenUsed(BadRequest):
    code = "VERIFICATION_TOKEN_USED"
    message = "This confirmation link was already used"


class InvalidResetToken(BadRequest):
    code = "INVALID_RESET_TOKEN"
    message = "This password reset link is not valid; ask for a new one"


class ResetTokenExpired(BadRequest):
    code = "RESET_TOKEN_EXPIRED"
    message = "This password reset link has expired; ask for a new one"


class ResetTokenUsed(BadRequest):
    code = "RESET_TOKEN_USED"
    message = "This password reset link was already used"


class EmailAlreadyVerified(Conflict):
    code = "EMAIL_ALREADY_VERIFIED"
    message = "Your email address is already confirmed"


class EmailDisabled(Conflict):
    """A 409, not a 503: the server is not failing, it is set up without email, and asking again will not help."""

    code = "EMAIL_DISABLED"
    message = "This server sends no email (no SMTP server is configured); ask its administrator"
