"""The API's JSON renderer writes with orjson the very bytes DRF's JSONRenderer writes."""

import decimal
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer

from tracker.core.api.renderers import JSONRenderer

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    "data",
    [
        {"count": 3, "next": None, "results": [{"id": 1, "ok": True, "x": 1.5}]},
        {"utc": datetime(2026, 12, 3, 11, 4, 5, tzinfo=UTC)},
        {"micro": datetime(2026, 12, 3, 11, 4, 5, 6, tzinfo=UTC)},
        {"shanghai": datetime(2026, 12, 3, 11, 4, 5, 120000, tzinfo=UTC).astimezone(SHANGHAI)},
        {"london winter, zero offset": datetime(2026, 1, 3, 11, tzinfo=UTC).astimezone(LONDON)},
        {"london summer": datetime(2026, 7, 3, 11, tzinfo=UTC).astimezone(LONDON)},
        {"naive": datetime(2026, 12, 3, 11, 4, 5)},
        {"date": date(2026, 12, 3), "time": time(9, 30, 0, 5)},
        {"timedelta": timedelta(days=1, seconds=3)},
        {"decimal": decimal.Decimal("2.50"), "uuid": uuid.UUID(int=7)},
        {"lazy": gettext_lazy("English")},
        {"text": '双十一 \u2028 line \u2029 paragraph "quoted" \\ \n\t'},
        {"tuple": (1, 2), "set": {3}, "nested": [[{}], []]},
        {"big": 2**70, "small": -(2**63)},
        {1: "an integer key"},
        [],
        "a string",
    ],
    ids=lambda data: repr(data)[:40],
)
def test_the_bytes_are_drfs(data):
    assert JSONRenderer().render(data) == DrfJSONRenderer().render(data)


def test_an_indented_answer_is_drfs():
    data = {"a": [1, {"b": None}]}
    media_type = "application/json; indent=4"
    assert JSONRenderer().render(data, media_type) == DrfJSONRenderer().render(data, media_type)
    assert b"\n    " in JSONRenderer().render(data, media_type)


def test_nothing_is_an_empty_body():
    assert JSONRenderer().render(None) == b""


def test_what_json_cannot_write_is_refused_as_drf_refuses_it():
    with pytest.raises(TypeError):
        JSONRenderer().render({"object": object()})
