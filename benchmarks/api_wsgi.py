"""The API benchmark's WSGI application: Milepost (`config.wsgi`, every middleware) answers
every path but `/bench-floor/`, which a second Django handler with no middleware at all answers,
in the same gunicorn worker. The floor is bare Django (its URL resolver, its request signals, a
view), not Milepost's stack: Milepost's middleware is part of what the figure measures."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.api_settings")

from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from config.wsgi import application as milepost

FLOOR_PATH = "/bench-floor/"


class BareHandler(WSGIHandler):
    """Django's WSGI handler with an empty MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=[]):
            super().load_middleware(is_async)


floor = BareHandler()


def application(environ, start_response):
    handler = floor if environ.get("PATH_INFO") == FLOOR_PATH else milepost
    return handler(environ, start_response)
