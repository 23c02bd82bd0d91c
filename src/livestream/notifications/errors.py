from livestream.errors import BadRequest, NotFound


class NotificationNotFound(NotFound):
    code = "NOTIFICATION_NOT_FOUND"
    message = "Notification not found"


class UnsubscribeTokenInvalid(BadRequest):
    code = "UNSUBSCRIBE_TOKEN_INVALID"
    message = "This unsubscribe link is not valid; switch email off in your notification settings instead"


class UnsubscribeTokenMissing(BadRequest):
    code = "UNSUBSCRIBE_TOKEN_MISSING"
    message = 'No unsubscribe token: send it as ?token= or in a JSON body {"token": ...}'
