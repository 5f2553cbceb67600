"""Milepost's settings, plus the API benchmark's floor view (benchmarks/api_urls.py). Used only
by the gunicorn that `bench_api` starts."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.api_urls"
