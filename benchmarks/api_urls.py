"""Milepost's routes, plus `bench-floor/`: a bare Django JSON view that runs the very SQL the
milestone list page ran (captured by `bench_api` into the file BENCH_API_FLOOR_SQL names) and
returns the rows as JSON, with no authentication, no serializer, no framework."""

import json
import os
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as milepost_urlpatterns

STATEMENTS = json.loads(Path(os.environ["BENCH_API_FLOOR_SQL"]).read_text())


def floor(request):
    results = []
    with connection.cursor() as cursor:
        for sql in STATEMENTS:
            cursor.execute(sql)
            results.append(cursor.fetchall())
    return JsonResponse({"results": results}, encoder=DjangoJSONEncoder)


urlpatterns = [path("bench-floor/", floor), *milepost_urlpatterns]
