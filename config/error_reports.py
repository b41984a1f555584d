"""Error reports (the debug page and the e-mails to ADMINS) without OAuth secrets.

Django's SafeExceptionReporterFilter hides sensitive settings, POST parameters and local
variables, but shows the GET parameters and the query string as they are. On /oauth/callback
they hold the authorization code and the state; in a webhook or discovery error they could hold
tokens. Those values are replaced here, whatever the view.
"""

from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

SENSITIVE_QUERY_PARAMETERS = frozenset(
    {"code", "state", "access_token", "id_token", "refresh_token", "client_secret", "session_state"}
)


def _cleansed_query(query: str, substitute: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, substitute if k.lower() in SENSITIVE_QUERY_PARAMETERS else v) for k, v in pairs]
    )


class OAuthSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def cleanse_special_types(self, request, value):
        # A request in a frame's local variables prints its full path, query string included.
        if isinstance(value, HttpRequest):
            return f"<{type(value).__name__}: {value.method} {value.path!r}>"
        return super().cleanse_special_types(request, value)

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):
            value = meta.get(key)
            if isinstance(value, str) and value:
                path, sep, query = value.rpartition("?") if "?" in value else ("", "", value)
                meta[key] = path + sep + _cleansed_query(query, self.cleansed_substitute)
        return meta


class OAuthSafeExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            substitute = self.filter.cleansed_substitute
            data["request_GET_items"] = [
                (k, substitute if k.lower() in SENSITIVE_QUERY_PARAMETERS else v)
                for k, v in self.request.GET.items()
            ]
            insecure_uri = data.get("request_insecure_uri")
            if isinstance(insecure_uri, str) and "?" in insecure_uri:
                base, _, query = insecure_uri.partition("?")
                data["request_insecure_uri"] = f"{base}?{_cleansed_query(query, substitute)}"
        return data
