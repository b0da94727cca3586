"""The Pusher side of the simulator over real sockets: protocol 7 WebSocket (connection,
subscription signatures, ping/pong, error codes, faults) and the HTTP events API driven by the
official ``pusher`` library."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pusher
import pytest
from pusher.errors import PusherBadAuth
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.platform_sim.helpers import (
    NO_TLS,
    PUSHER,
    expect_pong_next,
    open_socket,
    recv_json,
    subscribe_own_channel,
)
from trademaestro.platform.sim import RunningSimulator
from trademaestro.platform.sim.signing import channel_auth

CHANNEL = "private-executor-exec-1"
COMMAND = {"commandId": "cmd-pusher-1", "command": "START_STRATEGY",
           "parameters": {"strategyId": "s-1"}}


def official_client(sim: RunningSimulator, **overrides: object) -> pusher.Pusher:
    kwargs = {"app_id": PUSHER.app_id, "key": PUSHER.key, "secret": PUSHER.secret,
              "host": "127.0.0.1", "port": sim.port, "ssl": False, **overrides}
    return pusher.Pusher(**kwargs)


def test_official_library_triggers_a_command_to_the_subscribed_socket(
        sim: RunningSimulator) -> None:
    async def scenario() -> dict[str, object]:
        ws, socket_id = await subscribe_own_channel(sim)
        assert sim.state.subscribers(CHANNEL) == [socket_id]
        answer = await asyncio.to_thread(official_client(sim).trigger, CHANNEL,
                                         "command-received", COMMAND)
        assert answer == {}
        frame = await recv_json(ws)
        await ws.close()
        return frame

    frame = asyncio.run(scenario())
    assert frame["event"] == "command-received" and frame["channel"] == CHANNEL
    assert json.loads(str(frame["data"])) == COMMAND
    record = sim.state.command("cmd-pusher-1")
    assert record is not None and record.source == "events-api" and record.pusher_sends == 1
    assert record.command == "START_STRATEGY" and record.parameters == {"strategyId": "s-1"}
    assert record.pending  # listed by heartbeats until the executor reports a status


def test_a_wrong_channel_signature_is_refused_with_4009(sim: RunningSimulator) -> None:
    async def scenario() -> list[dict[str, object]]:
        ws, socket_id = await open_socket(sim)
        wrong = [channel_auth(PUSHER.key, "not-the-secret", socket_id, CHANNEL),
                 channel_auth(PUSHER.key, PUSHER.secret, "9.9", CHANNEL),  # another socket's
                 None]
        frames = []
        for auth in wrong:
            await ws.send(json.dumps({"event": "pusher:subscribe",
                                      "data": {"channel": CHANNEL, "auth": auth}}))
            frames.append(await recv_json(ws))
        await asyncio.to_thread(official_client(sim).trigger, CHANNEL, "command-received",
                                COMMAND)
        await expect_pong_next(ws)  # the event never reached this socket
        await ws.close()
        return frames

    frames = asyncio.run(scenario())
    assert [f["event"] for f in frames] == ["pusher:error"] * 3
    assert all(f["data"]["code"] == 4009 for f in frames)  # type: ignore[index]
    assert sim.state.subscribers(CHANNEL) == []


def test_public_channel_subscription_and_unsubscription(sim: RunningSimulator) -> None:
    async def scenario() -> None:
        ws, _ = await open_socket(sim)
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "news"}}))
        assert await recv_json(ws) == {"event": "pusher_internal:subscription_succeeded",
                                       "channel": "news", "data": "{}"}
        assert await asyncio.to_thread(sim.trigger, "news", "hello", '{"a": 1}') == 1
        assert await recv_json(ws) == {"event": "hello", "channel": "news", "data": '{"a": 1}'}
        await ws.send(json.dumps({"event": "pusher:unsubscribe",
                                  "data": json.dumps({"channel": "news"})}))
        await expect_pong_next(ws)
        assert sim.state.subscribers("news") == []
        assert await asyncio.to_thread(sim.trigger, "news", "hello", "{}") == 0
        await ws.close()

    asyncio.run(scenario())


def test_connection_established_and_ping_pong_both_ways(sim: RunningSimulator) -> None:
    async def scenario() -> str:
        ws = await connect(sim.ws_url())
        established = await recv_json(ws)
        assert established["event"] == "pusher:connection_established"
        data = json.loads(established["data"])  # a JSON *string*
        assert set(data) == {"socket_id", "activity_timeout"}
        assert data["activity_timeout"] == 120
        await expect_pong_next(ws)
        assert await asyncio.to_thread(sim.ping) == 1  # server -> client ping
        assert await recv_json(ws) == {"event": "pusher:ping", "data": "{}"}
        await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
        await asyncio.to_thread(sim.state.wait_until,
                                lambda: sim.state.client_messages("pusher:pong"), 5, "pong")
        await ws.close()
        return str(data["socket_id"])

    socket_id = asyncio.run(scenario())
    assert [m.socket_id for m in sim.state.client_messages("pusher:pong")] == [socket_id]
    assert len(sim.state.client_messages("pusher:ping")) == 1


def test_server_pings_a_silent_client_and_closes_it_without_pong() -> None:
    from tests.platform_sim.helpers import make_config
    from trademaestro.platform.sim import run_simulator

    with run_simulator(make_config(activity_timeout=1, pong_timeout=0.2)) as sim:
        async def scenario() -> tuple[dict[str, object], dict[str, object], int | None]:
            ws, _ = await open_socket(sim)
            ping = await recv_json(ws, timeout=5)
            error = await recv_json(ws, timeout=5)  # no pong sent
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            return ping, error, closed.value.rcvd.code if closed.value.rcvd else None

        ping, error, code = asyncio.run(scenario())
    assert ping == {"event": "pusher:ping", "data": "{}"}
    assert error == {"event": "pusher:error",
                     "data": {"message": "Pong reply not received", "code": 4201}}
    assert code == 4201


def test_unknown_app_key_and_old_protocol_are_refused(sim: RunningSimulator) -> None:
    async def refused(url: str) -> tuple[dict[str, object], int | None]:
        ws = await connect(url)
        frame = await recv_json(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        return frame, closed.value.rcvd.code if closed.value.rcvd else None

    frame, code = asyncio.run(refused(sim.ws_url("no-such-key")))
    assert frame["event"] == "pusher:error" and code == 4001
    assert frame["data"]["code"] == 4001  # type: ignore[index]
    base = sim.ws_url().split("?")[0]
    frame, code = asyncio.run(refused(base + "?protocol=5"))
    assert frame["data"]["code"] == 4007 and code == 4007  # type: ignore[index]


def test_drop_next_message_then_deliver(sim: RunningSimulator) -> None:
    async def scenario() -> dict[str, object]:
        ws, _ = await subscribe_own_channel(sim)
        async with httpx.AsyncClient(base_url=sim.base_url, **NO_TLS) as client:
            faults = await client.post("/sim/ws/faults", json={"dropNext": 1})
            assert faults.json()["dropNext"] == 1
            first = await client.post("/sim/commands", json={"command": "PAUSE_STRATEGY",
                                                             "parameters": {"strategyId": "a"}})
            assert first.json()["deliveredTo"] == 0
            await expect_pong_next(ws)  # dropped: nothing arrived
            second = await client.post("/sim/commands", json={"command": "RESUME_STRATEGY",
                                                              "parameters": {"strategyId": "a"}})
            assert second.json()["deliveredTo"] == 1
        frame = await recv_json(ws)
        await ws.close()
        return frame

    frame = asyncio.run(scenario())
    assert json.loads(str(frame["data"]))["command"] == "RESUME_STRATEGY"
    dropped, delivered = sim.state.commands()
    assert dropped.pusher_sends == 0 and dropped.pending  # the heartbeat still delivers it
    assert delivered.pusher_sends == 1
    assert sim.state.faults.drop_next == 0


def test_delay_holds_a_message_back(sim: RunningSimulator) -> None:
    delay = 0.4

    async def scenario() -> tuple[dict[str, object], float]:
        ws, _ = await subscribe_own_channel(sim)
        sim.set_faults(delay_seconds=delay)
        started = time.monotonic()
        assert await asyncio.to_thread(sim.push_command, "CLOSE_ALL") is not None
        await expect_pong_next(ws)  # the command is still held back
        frame = await recv_json(ws)
        elapsed = time.monotonic() - started
        await ws.close()
        return frame, elapsed

    frame, elapsed = asyncio.run(scenario())
    assert frame["event"] == "command-received" and elapsed >= delay


def test_kick_sends_the_error_code_and_closes(sim: RunningSimulator) -> None:
    async def scenario() -> tuple[dict[str, object], int | None]:
        ws, _ = await subscribe_own_channel(sim)
        async with httpx.AsyncClient(base_url=sim.base_url, **NO_TLS) as client:
            answer = await client.post("/sim/ws/kick", json={"code": 4200, "message": "go",
                                                             "executorId": "exec-1"})
            assert answer.json() == {"closed": 1}
            bad = await client.post("/sim/ws/kick", json={"code": 1006})
            assert bad.status_code == 400
        frame = await recv_json(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        return frame, closed.value.rcvd.code if closed.value.rcvd else None

    frame, code = asyncio.run(scenario())
    assert frame == {"event": "pusher:error", "data": {"message": "go", "code": 4200}}
    assert code == 4200
    sim.state.wait_until(lambda: sim.state.sockets == [], 5, "socket cleanup")


def test_refused_connections_then_accepted_again(sim: RunningSimulator) -> None:
    sim.set_faults(refuse_connections=True)

    async def handshake() -> None:
        ws = await connect(sim.ws_url())
        await ws.close()

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(handshake())
    assert refused.value.response.status_code == 403
    sim.set_faults(refuse_connections=False)
    asyncio.run(handshake())


def test_unanswered_pings_when_configured(sim: RunningSimulator) -> None:
    sim.set_faults(answer_pings=False)

    async def scenario() -> None:
        ws, _ = await open_socket(sim)
        await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
        with pytest.raises(TimeoutError):
            await recv_json(ws, timeout=0.3)
        await ws.close()

    asyncio.run(scenario())


def test_events_api_rejects_bad_signatures(sim: RunningSimulator) -> None:
    with pytest.raises(PusherBadAuth, match="invalid auth_signature"):
        official_client(sim, secret="wrong-secret").trigger(CHANNEL, "command-received", COMMAND)
    with pytest.raises(PusherBadAuth, match="unknown auth_key"):
        official_client(sim, key="wrong-key").trigger(CHANNEL, "command-received", COMMAND)
    request = official_client(sim)._pusher_client.trigger.make_request(
        CHANNEL, "command-received", COMMAND)
    with httpx.Client(**NO_TLS) as client:
        tampered = client.post(request.url, content=request.body.replace(b"s-1", b"s-2"),
                               headers=request.headers)
        stale_url = request.url.replace(
            f"auth_timestamp={request.query_params['auth_timestamp']}", "auth_timestamp=1000")
        stale = client.post(stale_url, content=request.body, headers=request.headers)
        unsigned = client.post(f"{sim.base_url}/apps/{PUSHER.app_id}/events",
                               content=request.body)
        other_app = client.post(request.url.replace(f"/apps/{PUSHER.app_id}/", "/apps/7/"),
                                content=request.body, headers=request.headers)
    assert (tampered.status_code, tampered.json()) == (401, {
        "error": "body_md5 does not match the body"})
    assert stale.status_code == 401 and "auth_timestamp" in stale.json()["error"]
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["error"]
    assert other_app.status_code == 404
    assert sim.state.commands() == []


def test_batch_events_and_channel_lists(sim: RunningSimulator) -> None:
    async def scenario() -> list[dict[str, object]]:
        ws, _ = await subscribe_own_channel(sim)
        client = official_client(sim)
        await asyncio.to_thread(client.trigger, [CHANNEL, "other"], "note", {"n": 1})
        await asyncio.to_thread(client.trigger_batch, [
            {"channel": CHANNEL, "name": "command-received", "data": {"id": "b-1",
                                                                      "type": "stopStrategy",
                                                                      "payload": {"x": 1}}},
            {"channel": CHANNEL, "name": "note", "data": {"n": 2}},
        ])
        frames = [await recv_json(ws) for _ in range(3)]
        await ws.close()
        return frames

    frames = asyncio.run(scenario())
    assert [f["event"] for f in frames] == ["note", "command-received", "note"]
    record = sim.state.command("b-1")
    assert record is not None
    assert (record.command, record.parameters) == ("stopStrategy", {"x": 1})
    assert record.wire == {"id": "b-1", "type": "stopStrategy", "payload": {"x": 1}}


def test_garbage_frames_do_not_knock_the_socket_over(sim: RunningSimulator) -> None:
    async def scenario() -> dict[str, object]:
        ws, _ = await open_socket(sim)
        for frame in (b"\x00\x01", "not json", json.dumps([1]), json.dumps({"event": 5}),
                      json.dumps({"event": "pusher:subscribe", "data": "{bad"})):
            await ws.send(frame)
        error = await recv_json(ws)
        await expect_pong_next(ws)
        await ws.close()
        return error

    assert asyncio.run(scenario()) == {"event": "pusher:error", "data": {
        "message": "pusher:subscribe without a channel name", "code": 4009}}
