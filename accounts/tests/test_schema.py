import pytest
import yaml


@pytest.mark.django_db
def test_the_schema_documents_every_auth_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in [
        "/api/auth/register",
        "/api/auth/register/confirm",
        "/api/auth/login",
        "/api/auth/token",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/auth/profile/questionnaire",
        "/api/auth/profile/starting-cash",
        "/api/auth/onboarding/complete",
        "/api/auth/password",
        "/api/auth/password-reset",
        "/api/auth/password-reset/confirm",
        "/api/auth/sessions",
        "/api/auth/sessions/revoke-others",
    ]:
        assert path in paths, path
    assert "429" in paths["/api/auth/login"]["post"]["responses"]
    assert set(paths["/api/auth/profile/questionnaire"]) >= {"get", "put", "post"}
    assert "knoxApiToken" in schema["components"]["securitySchemes"]
