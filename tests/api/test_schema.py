import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_openapi_schema_documents_the_contract(api_client):
    api_client.force_login(UserFactory())
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/milestones/",
        "/api/v1/milestones/{id}/history/",
        "/api/v1/projects/{id}/board/",
        "/api/v1/projects/{id}/baseline/",
        "/api/v1/reports/weekly/",
        "/api/v1/reports/monthly/",
        "/api/v1/departments/",
        "/api/v1/users/",
        "/api/v1/templates/",
    ]:
        assert path in schema["paths"], path
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_page_serves_its_assets_locally(api_client):
    api_client.force_login(UserFactory())
    html = api_client.get("/api/v1/docs/").content.decode()
    assert "swagger" in html.lower()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_the_schema_shows_the_projects_version_which_the_changelog_lists(api_client):
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    api_client.force_login(UserFactory())
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.json()["info"]["version"] == version
    assert f"## [{version}]" in (root / "CHANGELOG.md").read_text()
