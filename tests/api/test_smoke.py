async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


async def test_readyz(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}


async def test_create_location(partner):
    loc = await partner.create("/location", {"name": "Main", "timeZone": "America/New_York"})
    assert loc["timeZone"] == "America/New_York"
    r = await partner.get("/location")
    assert [x["id"] for x in r.json()["locations"]] == [loc["id"]]
