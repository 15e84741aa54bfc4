"""The managers' dashboard: who may see it, filters in the URL, charts, CSV and JSON exports."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.stats.tests.history import NOW, History

pytestmark = pytest.mark.django_db

URL = reverse("stats:dashboard")
Login = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _at_now() -> object:
    with time_machine.travel(NOW, tick=False):
        yield None


def test_it_is_for_managers_only(login: Login, personas: dict[str, User]) -> None:
    allowed = {name for name, user in personas.items() if login(user).get(URL).status_code == 200}
    assert allowed == {"manager"}
    assert Client().get(URL).status_code == 302  # anonymous: to the login page


def test_it_shows_figures_tables_and_charts_for_the_filters_in_the_url(login: Login, manager: User,
                                                                       history: History) -> None:
    response = login(manager).get(URL, {"year": "2025"})
    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-figure="items".*?<div class="figure">11</div>', page, re.DOTALL)
    assert "Quick Host" in page and 'id="table-workload"' in page
    charts = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="[^"]*" data-chart="(\w+)"', page)
    assert [name for _, name in charts] == ["monthly", "timings", "countries"]
    assert base64.b64decode(charts[2][0]).decode().startswith("<svg")
    assert "sim.test" not in page  # figures only: no URL of any item


def test_it_renders_in_dutch_and_french(login: Login, manager: User, history: History) -> None:
    for prefix in ("/nl", "/fr"):
        response = login(manager).get(prefix + URL, {"year": "2025"})
        assert response.status_code == 200
        assert f'lang="{prefix[1:]}"' in response.content.decode()


def test_it_exports_every_table_as_json(login: Login, manager: User, history: History) -> None:
    response = login(manager).get(URL, {"year": "2025", "verdict": "national", "format": "json"})
    body = json.loads(response.content)
    assert response["Content-Disposition"].startswith("attachment;")
    assert body["filters"] == {"from": "2025-01-01", "to": "2025-12-31", "verdict": ["national"]}
    headline = {row["key"]: row["value"] for row in body["tables"]["headline"]["rows"]}
    assert (headline["items"], headline["illegal"]) == (2, 2)
    assert body["facts"]["items"] == 16


def test_it_exports_one_table_as_csv_with_machine_values(login: Login, manager: User, history: History) -> None:
    response = login(manager).get(URL, {"year": "2025", "table": "timings", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [(r["key"], r["median"], r["within_24h"]) for r in rows] == [
        ("police", "32400", "0.75"), ("notice", "86400", "0.5714"), ("removal", "172800", "0.375")]


def test_it_keeps_provider_names_from_running_as_formulas(login: Login, manager: User, history: History) -> None:
    history.providers["P1"].__class__.objects.filter(pk=history.providers["P1"].pk).update(name="=HYPERLINK(1)")
    response = login(manager).get(URL, {"year": "2025", "table": "providers", "format": "csv"})
    assert "'=HYPERLINK(1)" in response.content.decode()


@pytest.mark.parametrize(("query", "param"), [
    ({"verdict": "awful"}, "verdict"), ({"year": "20x5"}, "year"), ({"from": "2025-02-30"}, "from"),
    ({"table": "nope", "format": "json"}, "table"), ({"colour": "red"}, "colour"), ({"format": "xml"}, "format"),
])
def test_it_refuses_bad_parameters_naming_them(login: Login, manager: User, query: dict[str, str],
                                               param: str) -> None:
    response = login(manager).get(URL, query)
    assert response.status_code == 400
    assert f"{param}: " in response.content.decode()
