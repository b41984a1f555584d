"""A request id for every request: in the logs written while serving it and in the response.

A proxy's `X-Request-ID` is kept when it looks like an id, so that one id follows the request
from the load balancer to our logs; otherwise a fresh one is made.
"""

import re
import uuid

from django.core.signals import request_finished

from config.logging import current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def forget_request_id(**kwargs):
    current_request_id.set(None)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # Forgotten when the response is closed, not when this middleware returns: Django logs
        # 4xx responses ("Not Found: /x") after the whole middleware chain, and those lines
        # should carry the id too.
        request_finished.connect(forget_request_id, dispatch_uid="config.request_id")

    def __call__(self, request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = offered if _ACCEPTABLE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        current_request_id.set(request.request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
