from livestream.errors import BadRequest, NotFound


class InvalidSubscription(BadRequest):
    code = "INVALID_PUSH_SUBSCRIPTION"
    message = "The push subscription is not valid"


class EndpointNotAllowed(BadRequest):
    code = "PUSH_ENDPOINT_NOT_ALLOWED"
    message = "Push endpoints must be https URLs on public hosts"


class SubscriptionNotFound(NotFound):
    code = "PUSH_SUBSCRIPTION_NOT_FOUND"
    message = "No push subscription of yours has this endpoint"
