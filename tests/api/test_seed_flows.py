"""The source documents' flows through our API (seeds 002, 003, 000)."""


def test_seed_002_credits_service(shop):
    r = shop.put("/v1/customers/john@example.com", json={"name": "John", "email": "john@example.com"})
    assert r.status_code == 201
    assert shop.get("/v1/customers/john@example.com/balances").json()["balances"] == []
    r = shop.post("/v1/customers/john@example.com/credit", json={"asset": "CREDITS", "amount": "100.00",
                                                                  "reason": "topup"})
    assert r.status_code == 201 and r.json()["balance"] == "100.00"
    assert shop.get("/v1/customers/john@example.com/balances").json()["balances"] == [
        {"asset": "CREDITS", "balance": "100.00", "available": "100.00", "pending": "0.00"}]
    r = shop.post("/v1/customers/john@example.com/debit", json={
        "asset": "CREDITS", "amount": "0.25", "reason": "bill", "metadata": {"description": "Gemini API call"}})
    assert r.status_code == 201 and r.json()["balance"] == "99.75"
    r = shop.post("/v1/customers/john@example.com/debit", json={"asset": "CREDITS", "amount": "99.76"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "insufficient_funds"
    balances = shop.get("/v1/customers/john@example.com/balances").json()["balances"]
    assert balances[0]["balance"] == "99.75"
    moves = shop.get("/v1/customers/john@example.com/movements").json()["data"]
    assert [(m["amount"], m["code"]) for m in moves] == [("-0.25", "bill"), ("100.00", "topup")]


def test_seed_003_earn_creates_the_user_on_first_use(shop):
    r = shop.post("/v1/customers/u1/credit", json={"asset": "CREDITS", "amount": 100})
    assert r.status_code == 201 and r.json()["amount"] == "100.00" and r.json()["code"] == "earn"
    assert shop.get("/v1/customers/u1").json()["customer_id"] == "u1"
    assert shop.get("/v1/customers/u1/balances").json()["balances"][0]["balance"] == "100.00"


def test_seed_000_reward_pending_then_posted(shop):
    r = shop.post("/v1/customers/user_abc123/credit", json={
        "asset": "USD", "amount": "10.50", "reason": "content_created", "pending": True,
        "metadata": {"content_type": "article", "quality_score": 9.2}})
    assert r.status_code == 201
    body = r.json()
    assert (body["status"], body["balance"], body["pending"]) == ("pending", "0.00", "10.50")
    assert body["metadata"] == {"content_type": "article", "quality_score": 9.2}
    posted = shop.post(f"/v1/transfers/{body['transfer_id']}/post", json={})
    assert posted.status_code == 201 and posted.json()["status"] == "posted"
    assert shop.get(f"/v1/transfers/{body['transfer_id']}").json()["status"] == "posted"
    usd = shop.get("/v1/customers/user_abc123/balances").json()["balances"][0]
    assert usd == {"asset": "USD", "balance": "10.50", "available": "10.50", "pending": "0.00"}
    again = shop.post(f"/v1/transfers/{body['transfer_id']}/post", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_resolved"
