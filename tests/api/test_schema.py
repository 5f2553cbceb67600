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


def schema_document(api_client) -> dict:
    api_client.force_login(UserFactory())
    return api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_request_bodies_are_declared_as_json_only(api_client):
    schema = schema_document(api_client)
    bodies = {
        (path, method): sorted(op["requestBody"]["content"])
        for path, method, op in operations(schema)
        if "requestBody" in op
    }
    assert len(bodies) >= 15
    assert {tuple(types) for types in bodies.values()} == {("application/json",)}


def test_every_operation_declares_its_errors_with_their_bodies(api_client):
    schema = schema_document(api_client)
    components = schema["components"]["schemas"]
    for path, method, op in operations(schema):
        codes = set(op["responses"])
        assert {"401", "429"} <= codes, (method, path)
        if method != "get":
            assert {"400", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        for code, response in op["responses"].items():
            if code >= "400":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in components, (method, path, code)
    node = schema["paths"]["/api/v1/milestones/{id}/"]
    for method in ("put", "patch", "delete"):
        assert {"412", "428"} <= set(node[method]["responses"]), method
        assert node[method]["responses"]["412"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PreconditionFailed"
        }
        if_match = [p for p in node[method]["parameters"] if p["name"] == "If-Match"]
        assert if_match and if_match[0]["required"] and if_match[0]["in"] == "header"
    assert components["PreconditionFailed"]["required"] == ["detail", "current_version"]
    assert "409" in node["delete"]["responses"]
    assert "412" not in schema["paths"]["/api/v1/projects/{id}/baseline/"]["post"]["responses"]


def test_null_and_format_are_declared_as_answered(api_client):
    components = schema_document(api_client)["components"]["schemas"]
    assert components["Milestone"]["properties"]["assignee"]["nullable"] is True
    assert components["MilestoneChange"]["properties"]["actor"]["nullable"] is True
    assert components["Channel"]["properties"]["department"]["nullable"] is True
    assert "milestone_count" in components["Project"]["required"]
    time = components["TemplateNode"]["properties"]["time"]
    assert time["pattern"] == r"^([01]\d|2[0-3]):[0-5]\d$" and "format" not in time
