"""The Pusher signatures against the official ``pusher`` library's own signing (property
tests: any channel/data the library signs is accepted; any change to the body, secret or
signature is refused)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pusher
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.platform.sim.signing import channel_auth, channel_auth_ok, check_request

channel_names = st.from_regex(r"\A[A-Za-z0-9_\-=@,.;]{1,60}\Z")
texts = st.text(max_size=200)


def signed(client: pusher.Pusher, channel: str, data: str) -> tuple[str, dict[str, str], bytes]:
    request = client._pusher_client.trigger.make_request(channel, "command-received", data)
    url = urlsplit(request.url)
    return url.path, dict(parse_qsl(url.query)), request.body


@settings(max_examples=60, deadline=None)
@given(channel=channel_names, data=texts, secret=st.text(min_size=1, max_size=40))
def test_official_signatures_verify(channel: str, data: str, secret: str) -> None:
    client = pusher.Pusher(app_id="9", key="k", secret=secret, host="h", port=1, ssl=False)
    path, params, body = signed(client, channel, data)
    now = float(params["auth_timestamp"])
    assert check_request(app_key="k", app_secret=secret, method="POST", path=path,
                         params=params, body=body, now=now) is None
    assert check_request(app_key="k", app_secret=secret + "x", method="POST", path=path,
                         params=params, body=body, now=now) == "invalid auth_signature"
    assert check_request(app_key="k", app_secret=secret, method="POST", path=path,
                         params=params, body=body + b" ", now=now) == (
        "body_md5 does not match the body")
    assert check_request(app_key="k", app_secret=secret, method="POST", path=path,
                         params=params, body=body, now=now + 601) is not None


@given(socket_id=st.from_regex(r"\A\d{1,9}\.\d{1,9}\Z"), channel=channel_names)
def test_channel_auth_matches_the_library_and_binds_socket_and_channel(
        socket_id: str, channel: str) -> None:
    client = pusher.Pusher(app_id="9", key="k", secret="s3cr3t")
    private = f"private-{channel}"
    auth = client.authenticate(private, socket_id)["auth"]
    assert auth == channel_auth("k", "s3cr3t", socket_id, private)
    assert channel_auth_ok("k", "s3cr3t", socket_id, private, auth)
    assert not channel_auth_ok("k", "s3cr3t", socket_id + "1", private, auth)
    assert not channel_auth_ok("k", "s3cr3t", socket_id, private + "x", auth)
    assert not channel_auth_ok("k", "s3cr3t", socket_id, private, None)
