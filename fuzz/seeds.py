#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/seed-*): real provider bodies
from the tests and the providers' documentation, in each target's input format
(see fuzz/src/lib.rs `Framed` and each target's doc comment). Re-run after
changing a format; scripts/fuzz.sh reads these and never writes into them."""
import hashlib, hmac, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
MONO_SECRET = "whsec_fuzzing_secret_0123456789abcdef"  # fuzz/src/lib.rs
BELVO_AUTH = "Bearer fuzzing-belvo-webhook-0123456789abcdef"
TPAGA_TOKEN = "fuzzing-tpaga-path-token-0123456789abcdef"
NOW = 1_800_000_000

MONO_CREDITED = json.dumps({"event": {"type": "collection_intent_credited", "data": {
    "id": "cint_5dHsMj4uwhhujcVUTuw1OP", "account_id": "acc_5tgliBmzjZ6mpQPRbQjfKj",
    "amount": {"amount": 10000000, "currency": "COP"}, "external_id": "ext-1",
    "payment": {"provider": "pse", "transaction_id": "3052043"}, "reference": "REF #132ABC",
    "state": "account_credited", "inserted_at": "2023-01-04T17:10:00.000000Z",
    "updated_at": "2023-01-04T17:17:01.101130Z"}}, "timestamp": "2023-01-04T17:17:01.101130Z"}).encode()
MONO_FAILED = MONO_CREDITED.replace(b"collection_intent_credited", b"collection_intent_failed").replace(b"account_credited", b"failed")
MONO_OTHER = b'{"event": {"type": "collection_link_updated", "data": {"id": "clink_5dHsMj4uwhhujcVUTuw1OP"}}}'
BELVO_TX = b'{"webhook_id": "3b9a69f7-0f0a-455b-832d-49ad6fd4905c", "webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED", "object_id": "d2e40773-19f6-48d1-93c3-3590ec0c74df", "data": {}}'
BELVO_PI = b'{"webhook_id": "5e2f1c4a-0b7e-4a8e-9d6f-1f2a3b4c5d6e", "webhook_type": "PAYMENT_INTENTS", "webhook_code": "STATUS_UPDATE", "object_id": "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2", "data": {"status": "SUCCEEDED", "metadata": {}}}'
BELVO_BANK = b'{"webhook_id": "9a8b7c6d-0000-4000-8000-000000000001", "webhook_type": "BANK_ACCOUNTS", "webhook_code": "OBJECT_CREATED", "object_id": "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc", "data": {}}'
TPAGA = b'{"charge_token": "pse-c542f18edadb441d8b4639edbfb566e5"}'
TPAGA_DOC = b"{ {'charge_token': 'pse-c542f18edadb441d8b4639edbfb566e5'} }"  # Tpaga's documented (non-JSON) example

def sign(secret, t, body):
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"

def framed(selector, flags, skew, headers, body):
    head = b"".join(f"{k}: {v}\n".encode() for k, v in headers)
    return bytes([selector, flags]) + struct.pack("<h", skew) + head + b"\n" + body

def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"seed-{name}"), "wb") as f:
        f.write(data)

JSON = ("Content-Type", "application/json")
for target in ("webhook_connectors",):
    # Provider::ALL order: mono 0, belvo 1, tpaga 2.
    write(target, "mono-credited", framed(0, 1, 0, [JSON], MONO_CREDITED))
    write(target, "mono-failed-old-secret", framed(0, 3, -120, [JSON], MONO_FAILED))
    write(target, "mono-forged", framed(0, 0, 0, [JSON, ("Mono-Signature", sign("whsec_wrong", NOW, MONO_CREDITED))], MONO_CREDITED))
    write(target, "mono-stale", framed(0, 1, 301, [JSON], MONO_CREDITED))
    write(target, "mono-ignored-type", framed(0, 1, 5, [JSON], MONO_OTHER))
    write(target, "belvo-transaction", framed(1, 1, 0, [JSON], BELVO_TX))
    write(target, "belvo-payment-intent", framed(1, 1, 0, [JSON], BELVO_PI))
    write(target, "belvo-bank-account", framed(1, 1, 0, [JSON], BELVO_BANK))
    write(target, "belvo-wrong-auth", framed(1, 0, 0, [JSON, ("Authorization", "Bearer guess")], BELVO_TX))
    write(target, "tpaga-charge", framed(2, 1, 0, [JSON], TPAGA))
    write(target, "tpaga-wrong-token", framed(2, 0, 0, [JSON, ("@path", "guess")], TPAGA))
    write(target, "tpaga-documented-example", framed(2, 1, 0, [], TPAGA_DOC))

write("webhook_mono", "credited-signed", framed(0, 1, 0, [("@secret", MONO_SECRET)], MONO_CREDITED))
write("webhook_mono", "rotation-two-v1", framed(0, 0, 0, [("@secret", "whsec_new"), ("@secret", MONO_SECRET),
      ("Mono-Signature", sign(MONO_SECRET, NOW, MONO_FAILED) + ",v1=" + "00" * 32)], MONO_FAILED))
write("webhook_mono", "header-only-garbage", framed(0, 0, 0, [("@secret", "k"), ("Mono-Signature", "t=1,v1=zz,v0=ab")], b"{}"))
# Mono's free-text state holding NUL: PostgreSQL text refuses it (regression seed).
write("webhook_mono", "mono-nul-state", framed(0, 1, 0, [("@secret", MONO_SECRET)], MONO_FAILED.replace(b'"state": "failed"', b'"state": "fail\\u0000ed"')))
write("webhook_mono", "ignored-type", framed(0, 1, -300, [("@secret", MONO_SECRET)], MONO_OTHER))

write("webhook_belvo", "transaction", framed(0, 1, 0, [JSON], BELVO_TX))
write("webhook_belvo", "payment-intent-lowercase", framed(0, 0, 0, [("Authorization", BELVO_AUTH)], BELVO_PI.lower()))
write("webhook_belvo", "bank-account-wrong-auth", framed(0, 0, 0, [("Authorization", "Basic Z3Vlc3M6Z3Vlc3M=")], BELVO_BANK))

write("webhook_tpaga", "charge", framed(0, 1, 0, [JSON], TPAGA))
write("webhook_tpaga", "charge-wrong-token", framed(0, 0, 0, [("@path", TPAGA_TOKEN[:-1])], TPAGA))
write("webhook_tpaga", "documented-example", framed(0, 1, 0, [], TPAGA_DOC))

for name, text in {
    "mono-centavos-nit": "10000000\nNIT\n800197268-4",
    "belvo-pesos-string-cc": '"350000"\nCC\n1033711400',
    "tpaga-decimal-ce": '"10000.00"\nCE\nE-987654321',
    "nit-no-dash": "1\nNIT\n8909039388",
    "pp-alnum": "0\nPP\nAB1234567",
    "ti": "100.5\nTI\n1002003004",
    "negative-unknown-type": "-5\nXX\n123",
}.items():
    write("money_documents", name, text.encode())

MONO_INTENT = json.dumps({"id": "cint_5dHsMj4uwhhujcVUTuw1OP", "account_id": "acc_5tgliBmzjZ6mpQPRbQjfKj",
    "amount": {"amount": 10000000, "currency": "COP"}, "bank_code": "1007", "state": "account_credited",
    "payment": {"provider": "pse", "transaction_id": "3052043", "url": "https://pse.example/x"},
    "reference": "REF #132ABC", "inserted_at": "2023-01-04T17:10:00Z", "updated_at": "2023-01-04T17:17:01Z"}).encode()
MONO_ERROR = b'{"code":"404 Not Found","errors":[{"error_code":"item_not_found","message":"not found","path":null,"url":null}],"id":"log_1","message":"not found"}'
BELVO_INTENT = b'{"id": "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2", "status": "SUCCEEDED", "amount": "350000", "currency": "COP", "failure_code": null, "failure_message": null, "metadata": {}, "charges": [], "customer": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "updated_at": "2020-04-23T21:30:20Z"}'
BELVO_TX_API = b'{"id": "fd0f3303-cafb-47ea-9753-21155cb144ab", "created_at": "2020-04-23T21:30:20.336854+00:00", "amount": "350000", "currency": "COP", "description": "Awesome training Sneaker", "transaction_type": "INFLOW", "beneficiary": "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc", "payer": {"bank_account": "7c2be016-37e3-44e2-8643-db2eb1129a3f"}, "payment_intent": "1c83ead8-6665-429c-a17a-ddc76cb3a95e", "customer": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}'
TPAGA_CHARGE = b'{"token": "pse-c542f18edadb441d8b4639edbfb566e5", "order_id": "abc-123", "amount": "10000.00", "vat_amount": "10.00", "description": "Cobro de prueba 2", "user_type": "NATURAL", "bank_code": "1022", "status": "settled", "traceability_code": "3416207", "return_code": "SUCCESS", "transaction_state": null, "rejected_reason": null}'
# byte 0: 0 Mono intent, 1 Belvo payment intent, 2 Belvo transaction, 3 Tpaga charge; byte 1: status index (0 = 200, 4 = 404, 5 = 401, 6 = 429, 7 = 503)
for name, data in {
    "mono-intent": bytes([0, 0]) + MONO_INTENT,
    "mono-404": bytes([0, 4]) + MONO_ERROR,
    "mono-amount-float": bytes([0, 0]) + MONO_INTENT.replace(b"10000000", b"100000.5"),
    "belvo-intent": bytes([1, 0]) + BELVO_INTENT,
    "belvo-intent-lowercase-int": bytes([1, 0]) + BELVO_INTENT.replace(b"SUCCEEDED", b"processing").replace(b'"350000"', b"350000"),
    "belvo-transaction": bytes([2, 0]) + BELVO_TX_API + b"\n#linked\n" + BELVO_INTENT,
    "belvo-transaction-outflow": bytes([2, 0]) + BELVO_TX_API.replace(b"INFLOW", b"OUTFLOW"),
    "tpaga-charge": bytes([3, 0]) + TPAGA_CHARGE,
    "tpaga-charge-401": bytes([3, 5]) + TPAGA_CHARGE,
    "tpaga-charge-pending-number": bytes([3, 0]) + TPAGA_CHARGE.replace(b'"settled"', b'"pending"').replace(b'"10000.00"', b"10000.5"),
    "tpaga-503": bytes([3, 7]) + b"upstream unavailable",
}.items():
    write("provider_responses", name, data)
