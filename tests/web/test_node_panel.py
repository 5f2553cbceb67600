"""The node side panel and its dependency editor: the panel is the page's body without the
page; dependencies change through milestone_update (cycle named, stale version refused,
permission asked); descriptions render Markdown with no markup of the author's left."""

import pytest
from django.urls import reverse

from tests.factories import DepartmentFactory, MilestoneFactory, UserFactory
from tracker.milestones.models import MilestoneDependency

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def chain(project):
    dept = DepartmentFactory(code="merch", name="Merchandising")
    a = MilestoneFactory(project=project, department=dept, title="Forecast")
    b = MilestoneFactory(project=project, department=dept, title="Pricing")
    c = MilestoneFactory(project=project, department=dept, title="Page build")
    MilestoneDependency.objects.create(milestone=b, depends_on=a)
    MilestoneDependency.objects.create(milestone=c, depends_on=b)
    MilestoneFactory(department=dept, title="Other project's node")
    return a, b, c


def test_the_panel_is_the_node_without_the_page(client_for, owner, chain):
    _a, b, _c = chain
    html = client_for(owner).get(reverse("web:node_detail", args=[b.pk]), headers=HTMX)
    text = html.content.decode()
    assert html.status_code == 200
    assert "<html" not in text and 'id="side-panel-title"' in text
    assert "Open as a page" in text and 'id="history-h"' in text
    assert "Other project" not in text  # choices come from the node's own project


def test_dependencies_change_and_a_cycle_is_refused_with_its_path(client_for, owner, chain):
    a, b, c = chain
    client = client_for(owner)
    url = reverse("web:node_dependencies", args=[a.pk])

    refused = client.post(url, {"depends_on": [c.pk], "version": a.version}, headers=HTMX)
    assert refused.status_code == 400
    assert "would make a cycle" in refused.content.decode()
    assert "Page build" in refused.content.decode()
    assert not MilestoneDependency.objects.filter(milestone=a).exists()

    url = reverse("web:node_dependencies", args=[c.pk])
    saved = client.post(url, {"depends_on": [a.pk, b.pk], "version": c.version})
    assert saved.status_code == 302
    assert set(c.depends_on.values_list("title", flat=True)) == {"Forecast", "Pricing"}


def test_a_stale_or_foreign_or_forbidden_choice_changes_nothing(client_for, owner, chain):
    a, _b, c = chain
    url = reverse("web:node_dependencies", args=[c.pk])
    stale = client_for(owner).post(url, {"depends_on": [a.pk], "version": c.version - 1})
    assert stale.status_code == 409
    junk = client_for(owner).post(url, {"depends_on": ["x"], "version": c.version})
    assert junk.status_code == 400 and "Choose nodes from the list" in junk.content.decode()
    stranger = client_for(UserFactory()).post(url, {"depends_on": [a.pk], "version": c.version})
    assert stranger.status_code in (403, 404)
    assert list(c.depends_on.values_list("title", flat=True)) == ["Pricing"]


def test_a_description_renders_markdown_and_nothing_unsafe(client_for, owner, project):
    node = MilestoneFactory(
        project=project,
        department=DepartmentFactory(),
        description="**Stock** for <script>alert(1)</script> [SKUs](javascript:alert(2))\n\n- one",
    )
    html = client_for(owner).get(reverse("web:node_detail", args=[node.pk])).content.decode()
    body = html[html.index('class="prose"') :]
    assert "<strong>Stock</strong>" in body and "<li>one</li>" in body
    assert "<script>alert(1)" not in html and "javascript:alert" not in html


def test_each_dependency_takes_a_minimum_lead(client_for, owner, chain):
    a, b, c = chain
    client = client_for(owner)
    url = reverse("web:node_dependencies", args=[c.pk])
    response = client.post(
        url,
        {"depends_on": [a.pk, b.pk], f"lead-{a.pk}": "3", f"lead-{b.pk}": "", "version": c.version},
        headers=HTMX,
    )
    assert response.status_code == 200
    leads = dict(
        MilestoneDependency.objects.filter(milestone=c).values_list(
            "depends_on_id", "min_lead_days"
        )
    )
    assert leads == {a.pk: 3, b.pk: None}
    html = response.content.decode()
    assert f'name="lead-{a.pk}" min="0" max="365" step="1" inputmode="numeric" value="3"' in html
    assert "minimum lead 3 working days" in html
    c.refresh_from_db()
    # Only the lead changes: the links stay, the lead goes back to none.
    response = client.post(
        url, {"depends_on": [a.pk, b.pk], f"lead-{a.pk}": "0", "version": c.version}, headers=HTMX
    )
    assert response.status_code == 200
    assert MilestoneDependency.objects.get(milestone=c, depends_on=a).min_lead_days == 0


@pytest.mark.parametrize("lead", ["-1", "2.5", "abc", "366"])
def test_a_bad_lead_is_refused_naming_the_node_and_nothing_changes(client_for, owner, chain, lead):
    a, b, c = chain
    url = reverse("web:node_dependencies", args=[c.pk])
    response = client_for(owner).post(
        url, {"depends_on": [a.pk, b.pk], f"lead-{a.pk}": lead, "version": c.version}, headers=HTMX
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The minimum lead after “Forecast” must be a whole number" in html
    assert f'value="{lead}"' in html  # kept on screen to correct
    assert list(
        MilestoneDependency.objects.filter(milestone=c).values_list("depends_on_id", flat=True)
    ) == [b.pk]
