"""CSV imports over HTTP (DESIGN §6a): a small shop loads its customer list and a month of
purchases, re-sends the same files, and sends files with mistakes in them."""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from tests.api.conftest import Api, serving

CSV = {"Content-Type": "text/csv"}


def send(api: Api, kind: str, text: str | bytes, headers: dict | None = None, **kw):
    body = text.encode() if isinstance(text, str) else text
    return api.post(f"/v1/imports/{kind}", content=body, headers=headers or CSV, **kw)


def imported(api: Api, kind: str, text: str | bytes) -> dict:
    r = send(api, kind, text)
    assert r.status_code == 200, r.text
    return r.json()


def balance(api: Api, customer: str, asset: str = "USD") -> str | None:
    rows = api.get(f"/v1/customers/{customer}/balances").json()["balances"]
    return next((r["balance"] for r in rows if r["asset"] == asset), None)


def errors_by_row(report: dict) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {}
    for e in report["errors"]:
        out.setdefault(e["row"], []).append((e["field"], e["code"]))
    return out


# -- customers ------------------------------------------------------------------------------------------
CUSTOMERS = """customer_id,name,email,status,tags,birthdate,attr.city,attr.plan
ann@shop.example,Ann,ann@shop.example,active,vip|newsletter,1990-02-03,Paris,gold
bob@shop.example,Bob,,,,,,
"cy@shop.example","Cy, the third",cy@shop.example,inactive, summer ,,Lyon,
"""


def test_customers_import_creates_then_updates_and_a_resend_changes_nothing(shop):
    first = imported(shop, "customers", CUSTOMERS)
    assert first == {"rows": 3, "created": 3, "updated": 0, "duplicates": 0, "failed": 0, "errors": [],
                     "errors_omitted": 0}
    ann = shop.get("/v1/customers/ann@shop.example").json()
    assert ann["name"] == "Ann" and ann["tags"] == ["newsletter", "vip"] and ann["birthdate"] == "1990-02-03"
    assert ann["attributes"] == {"city": "Paris", "plan": "gold"} and ann["status"] == "active"
    bob = shop.get("/v1/customers/bob@shop.example").json()
    assert (bob["email"], bob["status"], bob["tags"], bob["attributes"]) == (None, "active", [], {})
    cy = shop.get("/v1/customers/cy@shop.example").json()
    assert cy["name"] == "Cy, the third" and cy["tags"] == ["summer"] and cy["status"] == "inactive"

    again = imported(shop, "customers", CUSTOMERS)
    assert (again["created"], again["updated"], again["duplicates"]) == (0, 0, 3)
    assert shop.get("/v1/customers/ann@shop.example").json()["updated_at"] == ann["updated_at"]

    # A row is the whole profile, as PUT takes it: Bob gets a name change and a tag; Dee is new.
    changed = "customer_id,name,tags\nbob@shop.example,Robert,regular\ndee@shop.example,Dee,\n"
    report = imported(shop, "customers", changed)
    assert (report["created"], report["updated"], report["duplicates"], report["failed"]) == (1, 1, 0, 0)
    bob = shop.get("/v1/customers/bob@shop.example").json()
    assert bob["name"] == "Robert" and bob["tags"] == ["regular"]
    assert len(shop.get("/v1/customers").json()["data"]) == 4


def test_customer_rows_with_mistakes_fail_alone_naming_line_and_column(shop):
    text = ("customer_id,email,status,birthdate,tags\n"
            "ok@shop.example,ok@shop.example,active,,\n"
            "bad email,nope,active,,\n"            # line 3: bad id (and a bad email)
            "x@shop.example,x-at-example,,,\n"      # line 4: bad email
            "y@shop.example,,sleeping,,\n"          # line 5: bad status
            "z@shop.example,,,1990-02-30,\n"        # line 6: not a real date
            ",,,,\n"                                # line 7: no customer id
            "w@shop.example,,,,\n")
    report = imported(shop, "customers", text)
    assert (report["rows"], report["created"], report["failed"]) == (7, 2, 5)
    rows = errors_by_row(report)
    assert set(rows) == {3, 4, 5, 6, 7}
    assert ("email", "invalid_request") in rows[4] and ("status", "invalid_request") in rows[5]
    assert rows[6] == [("birthdate", "invalid_request")] and rows[7] == [("customer_id", "invalid_request")]
    assert shop.get("/v1/customers/x@shop.example").status_code == 404


# -- events -------------------------------------------------------------------------------------------------
def cashback(amount: str) -> Decimal:
    return (Decimal(amount) * Decimal("0.05")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def purchases(n: int) -> tuple[str, dict[str, Decimal]]:
    """n PURCHASE rows over 40 customers with varied amounts, and each customer's cashback."""
    lines, expected = ["event_id,event_type,customer_id,occurred_at,payload.amount,payload.channel"], {}
    for i in range(n):
        customer = f"c{i % 40}@shop.example"
        amount = f"{(i * 37) % 500 + 1}.{i % 100:02d}"
        occurred = f"2026-01-{i % 28 + 1:02d}T10:00:00Z" if i % 2 else ""
        lines.append(f"order-{i},PURCHASE,{customer},{occurred},{amount},{'web' if i % 3 else ''}")
        expected[customer] = expected.get(customer, Decimal("0.00")) + cashback(amount)
    return "\n".join(lines) + "\n", expected


def test_events_import_earns_cashback_and_a_resend_replays_every_row(shop):
    text, expected = purchases(2000)
    report = imported(shop, "events", text)
    assert report == {"rows": 2000, "created": 2000, "updated": 0, "duplicates": 0, "failed": 0, "errors": [],
                      "errors_omitted": 0}
    for customer in ("c0@shop.example", "c7@shop.example", "c39@shop.example"):
        assert balance(shop, customer) == str(expected[customer])
    event = shop.get("/v1/events/order-1").json()
    assert event["occurred_at"] == "2026-01-02T10:00:00.000Z" and event["status"] == "processed"

    again = imported(shop, "events", text)
    assert (again["created"], again["duplicates"], again["failed"]) == (0, 2000, 0)
    assert balance(shop, "c7@shop.example") == str(expected["c7@shop.example"])
    total = sum(Decimal(balance(shop, f"c{i}@shop.example")) for i in range(40))
    assert total == sum(expected.values())


def test_an_import_row_is_the_same_event_as_the_api_call(shop):
    """The API and the import make the same body: an event sent either way replays the other."""
    assert shop.post("/v1/events", json={"event_id": "e-1", "event_type": "PURCHASE", "customer_id": "ann",
                                         "payload": {"amount": "10.00"}}).status_code == 201
    report = imported(shop, "events", "event_id,event_type,customer_id,occurred_at,payload.amount\n"
                                      "e-1,PURCHASE,ann,,10.00\n")
    assert (report["duplicates"], report["failed"]) == (1, 0)
    assert balance(shop, "ann") == "0.50"


def test_event_rows_with_mistakes_are_each_listed_and_the_good_rows_import(shop):
    text = ("event_id,event_type,customer_id,occurred_at,payload.amount\n"
            "g-1,PURCHASE,ann,,100.00\n"                     # 2: good
            "b-2,PURCHASE,ann,,ten\n"                        # 3: bad amount
            "b-3,NOPE,ann,,5.00\n"                           # 4: unknown event type
            "b-4,PURCHASE,ann,yesterday,5.00\n"              # 5: bad occurred_at
            "b-5,PURCHASE,,,5.00\n"                          # 6: no customer
            "b-6,PURCHASE,ann,,5.00,extra\n"                 # 7: too many cells
            "b-7,PURCHASE,ann\n"                             # 8: too few cells
            "g-1,PURCHASE,ann,,999.00\n"                     # 9: event_id reused with another row
            "\n"                                             # 10: blank, skipped
            'g-2,PURCHASE,"bob",,"20.00"\n')                 # 11: good
    report = imported(shop, "events", text)
    assert (report["rows"], report["created"], report["failed"]) == (9, 2, 7)
    rows = errors_by_row(report)
    assert rows == {3: [("payload.amount", "invalid_amount")], 4: [("event_type", "invalid_request")],
                    5: [("occurred_at", "invalid_request")], 6: [("customer_id", "invalid_request")],
                    7: [(None, "invalid_request")], 8: [(None, "invalid_request")],
                    9: [("payload", "idempotency_key_reused")]}, report["errors"]
    assert all(e["message"] for e in report["errors"])
    assert balance(shop, "ann") == "5.00" and balance(shop, "bob") == "1.00"
    assert shop.get("/v1/events/b-2").status_code == 404
    # A corrected file imports what failed and replays what was there.
    fixed = imported(shop, "events", "event_id,event_type,customer_id,payload.amount\n"
                                     "g-1,PURCHASE,ann,100.00\nb-2,PURCHASE,ann,10.00\n")
    assert (fixed["created"], fixed["duplicates"], fixed["failed"]) == (1, 1, 0)


def test_payload_columns_nest_and_rules_read_them(shop):
    assert shop.post("/v1/rules", json={
        "code": "paris_bonus", "name": "Paris", "event_type": "PURCHASE", "actions": [
            {"type": "credit", "asset": "POINTS", "amount": "10"}],
        "conditions": {"fact": "payload.store.city", "op": "eq", "value": "Paris"}}).status_code == 201
    text = ("event_id,event_type,customer_id,payload.amount,payload.store.city,payload.store.id\n"
            "p-1,PURCHASE,ann,10.00,Paris,7\n"
            "p-2,PURCHASE,ann,10.00,,\n"       # empty cells are absent: no store at all
            "p-3,PURCHASE,ann,10.00,Lyon,8\n")
    assert imported(shop, "events", text)["created"] == 3
    assert balance(shop, "ann", "POINTS") == "10" and balance(shop, "ann") == "1.50"


def test_a_multi_line_cell_and_a_byte_order_mark_keep_line_numbers_true(shop):
    text = ("\ufeffcustomer_id,name\n"
            'ann,"Ann\non two lines"\n'      # lines 2-3
            "bad id,Bob\n")                  # line 4
    report = imported(shop, "customers", text)
    assert report["created"] == 1 and errors_by_row(report) == {4: [("customer_id", "invalid_request")]}
    assert shop.get("/v1/customers/ann").json()["name"] == "Ann\non two lines"


def test_the_error_list_is_bounded_and_says_how_many_it_left_out(shop):
    text = "event_id,event_type,customer_id\n" + "".join(f"x-{i},PURCHASE,\n" for i in range(1100))
    report = imported(shop, "events", text)
    assert report["failed"] == 1100 and len(report["errors"]) == 1000 and report["errors_omitted"] == 100
    assert report["errors"][-1]["row"] == 1001


# -- whole-file refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "text/csv; charset=latin-1"])
def test_a_body_that_is_not_csv_is_415(shop, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = shop.post("/v1/imports/events", content=b"event_id,event_type,customer_id\n", headers=headers)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text


def test_charset_utf8_is_taken(shop):
    r = send(shop, "customers", "customer_id\nann\n", headers={"Content-Type": "text/csv; charset=UTF-8"})
    assert r.status_code == 200 and r.json()["created"] == 1


@pytest.mark.parametrize("kind,header,column", [
    ("events", "event_id,event_type,customer_id,amount", "amount"),
    ("events", "event_id,event_type,customer_id,payload.", "payload."),
    ("events", "event_id,event_type,customer_id,payload.a..b", "payload.a..b"),
    ("customers", "customer_id,nickname", "nickname"),
    ("customers", "customer_id,attr.", "attr."),
])
def test_an_unknown_column_refuses_the_file_before_anything_is_written(shop, kind, header, column):
    r = send(shop, kind, f"{header}\n" + "ok-1,PURCHASE,ann,5\n")
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error["details"]["field"] == column and column in error["message"]
    assert shop.get("/v1/customers").json()["data"] == []


@pytest.mark.parametrize("kind,text,field", [
    ("events", "event_id,event_type\nx,PURCHASE\n", "customer_id"),          # required column missing
    ("customers", "customer_id,name,name\nann,A,B\n", "name"),                # a column twice
    ("events", "event_id,event_type,customer_id,payload.a,payload.a.b\nx,PURCHASE,ann,1,2\n", "payload.a.b"),
])
def test_a_header_that_cannot_be_read_one_way_is_400(shop, kind, text, field):
    r = send(shop, kind, text)
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == field, r.text
    assert shop.get("/v1/customers").json()["data"] == []


@pytest.mark.parametrize("body", [b"", b"\n\n"])
def test_a_file_without_a_header_is_400(shop, body):
    r = send(shop, "events", body)
    assert r.status_code == 400 and "header" in r.json()["error"]["message"]


def test_a_file_that_is_not_utf8_is_400_and_nothing_is_written(shop):
    text = "customer_id,name\nann,Ann\n".encode() + "zoé,Zoé\n".encode("latin-1")
    r = send(shop, "customers", text)
    assert r.status_code == 400 and r.json()["error"]["details"]["line"] == 3, r.text
    assert shop.get("/v1/customers").json()["data"] == []


def test_a_readonly_key_cannot_import_and_an_admin_names_the_brand(live, admin, shop):
    key = admin.post("/v1/api-keys", json={"role": "readonly", "brand": "shop"}).json()["key"]
    assert send(Api(live.url, key=key), "customers", "customer_id\nann\n").status_code == 403
    r = send(admin, "customers", "customer_id\nann\n", brand="shop")
    assert r.status_code == 200 and r.json()["created"] == 1
    assert send(admin, "customers", "customer_id\nann\n").status_code == 400  # no X-Brand


# -- bodies past MAX_BODY_BYTES ----------------------------------------------------------------------------
@pytest.fixture
def small_bodies(tmp_path, clock):
    """A server whose JSON bodies stop at 4 KiB and whose imports stop at 256 KiB."""
    yield from serving(tmp_path, clock, max_body_bytes=4096, import_max_bytes=256 * 1024)


def test_an_import_streams_past_max_body_bytes_up_to_import_max_bytes(small_bodies):
    admin = Api(small_bodies.url)
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Shop"}).status_code == 201
    text, expected = purchases(1500)  # ~70 KiB: past 4 x MAX_BODY_BYTES, spooled to a file
    assert 16 * 1024 < len(text) < 256 * 1024
    report = imported(Api(small_bodies.url, brand="shop"), "events", text)
    assert (report["created"], report["failed"]) == (1500, 0)
    assert balance(Api(small_bodies.url, brand="shop"), "c3@shop.example") == str(expected["c3@shop.example"])

    big = "customer_id,name\n" + "".join(f"c{i},{'n' * 200}\n" for i in range(1500))  # ~300 KiB
    r = send(admin, "customers", big, brand="shop")
    assert r.status_code == 413 and r.json()["error"]["details"]["max_bytes"] == 256 * 1024
    assert admin.get("/v1/customers/c0", brand="shop").status_code == 404
    # The JSON routes keep their own limit.
    r = admin.post("/v1/events/batch", json={"events": [{"pad": "x" * 5000}]}, brand="shop")
    assert r.status_code == 413


def test_a_streamed_body_past_import_max_bytes_is_read_and_answered_413(small_bodies):
    admin = Api(small_bodies.url, brand="shop")
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Shop"}, brand=None).status_code == 201

    def chunks():  # no Content-Length: Transfer-Encoding: chunked
        yield b"customer_id,name\n"
        for i in range(1500):
            yield f"c{i},{'n' * 200}\n".encode()
    r = admin.post("/v1/imports/customers", content=chunks(), headers=CSV)
    assert r.status_code == 413, r.text
    assert admin.get("/v1/customers/c0").status_code == 404
    assert imported(admin, "customers", "customer_id\nann\n")["created"] == 1  # the server is fine


def test_an_overlong_row_fails_alone_and_later_lines_keep_their_numbers(shop):
    text = ("customer_id,name\n"
            "ann,Ann\n"
            + "," * 1_200_000 + "\n"                       # 3: past MAX_ROW_CHARS (a million empty cells)
            + "bob," + "b" * 200_000 + "\n"                # 4: one cell past csv's field limit
            + "dee,Dee\n"                                  # 5
            + "bad id,Eve\n"                               # 6
            # 7-18: twelve quoted cells of 100 kB, each with a line break: past the limit over lines
            + "cy," + ",".join('"' + "y" * 100_000 + '\n"' for _ in range(12)) + "\n")
    report = imported(shop, "customers", text)
    rows = errors_by_row(report)
    assert rows[3] == [(None, "limit_exceeded")] and rows[4] == [(None, "invalid_request")]
    assert rows[6] == [("customer_id", "invalid_request")] and rows[7] == [(None, "limit_exceeded")]
    assert report["created"] == 2 and shop.get("/v1/customers/dee").json()["name"] == "Dee"
