"""unembed.secrets.redact: remembered secrets and anything shaped like a credential leave no trace in what is written."""

import pytest

from unembed.secrets import redact, redact_url, remember


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("HTTP 401: Authorization: Bearer abcdefgh12345 was refused", "HTTP 401: Authorization: [redacted]", "abcdefgh12345"),
        ('{"authorization": "Basic dXNlcjpwYXNzd29yZA==", "ok": 1}', '"ok": 1', "dXNlcjpwYXNzd29yZA"),
        ("GET /v1/models?api_key=s3cr3tvalue&x=1", "&x=1", "s3cr3tvalue"),
        ("the key sk-proj-abcdefghijkl is invalid", "is invalid", "sk-proj-abcdefghijkl"),
        ("no server at http://bob:hunter22@example.org:8000/v1", "http://example.org:8000/v1", "hunter22"),
        ("a dog catching a frisbee on the beach", "a dog catching a frisbee on the beach", "[redacted]"),
    ],
)
def test_credential_shapes_are_taken_out(text, kept, gone):
    assert kept in redact(text) and gone not in redact(text)


def test_a_remembered_secret_is_taken_out_wherever_it_appears():
    remember("plain-token-7f3a9c")
    remember("abc")  # too short to take out of ordinary text: ignored
    assert redact("the server said plain-token-7f3a9c twice: plain-token-7f3a9c") == "the server said [redacted] twice: [redacted]"
    assert redact("abc def") == "abc def"


def test_urls_lose_their_credentials_only():
    assert redact_url("http://user:pw@host:9000/v1") == "http://host:9000/v1"
    assert redact_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"


def test_the_basic_token_made_of_a_urls_credentials_is_redacted_when_echoed_alone():
    """The probe: a server answering `bad key YWxpY2U6czNjcjN0cHc=` (the Basic token httpx made of alice:s3cr3tpw@,
    without the word Basic) had it printed and stored."""
    import base64

    from unembed.secrets import redact, remember_url_credentials

    remember_url_credentials("http://alice:s3cr%40pw@127.0.0.1:8000/v1")
    token = base64.b64encode(b"alice:s3cr@pw").decode()
    said = redact(f"bad key {token} decoded alice:s3cr@pw, as written s3cr%40pw")
    assert token not in said and "s3cr@pw" not in said and "s3cr%40pw" not in said and said.startswith("bad key [redacted]")
