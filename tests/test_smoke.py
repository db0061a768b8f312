def test_home_renders_with_a_catalog(client, catalog):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Movie 01" in response.content
