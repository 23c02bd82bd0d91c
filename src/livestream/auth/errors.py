from livestream.errors import Unauthorized


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
