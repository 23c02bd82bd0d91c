"""The HTTP kit every router builds on: the request's unit of work, providers of app-lifetime objects, error
rendering, pagination parameters and middleware. It imports no domain and not the composition root."""
