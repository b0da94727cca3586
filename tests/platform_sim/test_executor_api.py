"""The executor endpoints of the simulator over real HTTP on loopback: credentials (401/403),
config, Pusher auth, heartbeat pendingCommands, command status reports, active strategies."""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import pytest

from tests.platform_sim.helpers import EXEC1, EXEC2, NO_TLS, PUSHER, headers, strategy_doc
from trademaestro.platform.sim import RunningSimulator

HEARTBEAT = {
    "status": "online", "timestamp": "2026-11-21T10:00:00Z",
    "account": {"balance": 10000.0, "equity": 10010.5, "margin": 120.0, "openPositions": 2},
    "activeStrategies": [{"strategyId": "xau-ema", "symbol": "XAUUSD", "state": "running"}],
    "health": {"cpu": 3.5},
}

PATH_ENDPOINTS = [
    ("POST", "/api/executor/{id}/heartbeat", HEARTBEAT),
    ("PATCH", "/api/executor/{id}/command", {"commandId": "x", "status": "received"}),
    ("GET", "/api/executor/{id}/active-strategies", None),
    ("POST", "/api/executor/{id}/supervisor/evaluate",
     {"context": {}, "policyVersion": "v1", "timeoutMs": 4000}),
]


def client(sim: RunningSimulator) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, timeout=5.0, **NO_TLS)


def test_config_answers_the_contract_shape(sim: RunningSimulator) -> None:
    with client(sim) as c:
        answer = c.get("/api/executor/config", headers=headers(EXEC2))
    assert answer.status_code == 200
    assert answer.json() == {
        "executorId": "exec-2",
        "pusher": {"key": "sim-key", "cluster": "mt1", "host": "127.0.0.1", "port": sim.port,
                   "useTLS": False},
        "heartbeatIntervalSeconds": 5,
        "supervisor": {"mode": "observe", "policyVersion": "v1", "timeoutMs": 4000,
                       "conservativePolicy": "require_confirmation"},
        "autoRestartStrategies": False,
    }


@pytest.mark.parametrize("creds", [
    {},
    {"X-API-Key": "key-1"},
    {"X-API-Key": "key-1", "X-API-Secret": "wrong"},
    {"X-API-Key": "nobody", "X-API-Secret": EXEC1.api_secret},
    {"X-API-Key": "key-1", "X-API-Secret": EXEC2.api_secret},  # another executor's secret
])
def test_wrong_credentials_are_401_everywhere(sim: RunningSimulator,
                                              creds: dict[str, str]) -> None:
    with client(sim) as c:
        answers = [c.get("/api/executor/config", headers=creds),
                   c.post("/api/pusher/auth", headers=creds,
                          data={"socket_id": "1.2", "channel_name": "private-executor-exec-1"})]
        answers += [c.request(m, p.format(id="exec-1"), headers=creds, json=b)
                    for m, p, b in PATH_ENDPOINTS]
    assert [a.status_code for a in answers] == [401] * 6
    assert all(a.json() == {"error": "invalid API key or secret"} for a in answers)
    assert len(sim.state.auth_failures) == 6


@pytest.mark.parametrize(("method", "path", "body"), PATH_ENDPOINTS)
def test_another_executors_id_is_403(sim: RunningSimulator, method: str, path: str,
                                     body: object) -> None:
    with client(sim) as c:
        for other in ("exec-2", "exec-unknown"):
            answer = c.request(method, path.format(id=other), headers=headers(EXEC1), json=body)
            assert answer.status_code == 403
            assert "belong to executor exec-1" in answer.json()["error"]
    assert sim.state.heartbeats() == [] and sim.state.supervisor_requests() == []


def test_pusher_auth_signs_only_the_callers_channel(sim: RunningSimulator) -> None:
    with client(sim) as c:
        ok = c.post("/api/pusher/auth", headers=headers(EXEC1),
                    data={"socket_id": "123.456", "channel_name": "private-executor-exec-1"})
        other = c.post("/api/pusher/auth", headers=headers(EXEC1),
                       data={"socket_id": "123.456", "channel_name": "private-executor-exec-2"})
        bad_socket = c.post("/api/pusher/auth", headers=headers(EXEC1),
                            data={"socket_id": "abc", "channel_name": "private-executor-exec-1"})
    expected = hmac.new(b"sim-pusher-secret", b"123.456:private-executor-exec-1",
                        hashlib.sha256).hexdigest()
    assert ok.status_code == 200 and ok.json() == {"auth": f"sim-key:{expected}"}
    assert other.status_code == 403
    assert bad_socket.status_code == 400 and "socket_id" in bad_socket.json()["error"]


def test_heartbeat_lists_a_command_until_a_status_is_reported(sim: RunningSimulator) -> None:
    doc = strategy_doc()
    cid = sim.push_command("START_STRATEGY", doc, deliver="heartbeat")
    pusher_only = sim.push_command("PAUSE_STRATEGY", {"strategyId": "x"}, deliver="pusher")
    other = sim.push_command("CLOSE_ALL", {}, executor_id="exec-2")
    url = "/api/executor/exec-1/heartbeat"
    with client(sim) as c:
        first = c.post(url, headers=headers(), json=HEARTBEAT).json()
        second = c.post(url, headers=headers(), json=HEARTBEAT).json()
        patch = c.patch("/api/executor/exec-1/command", headers=headers(),
                        json={"commandId": cid, "status": "received", "result": None})
        third = c.post(url, headers=headers(), json=HEARTBEAT).json()
    assert first["ok"] is True and first == second
    assert [p["commandId"] for p in first["pendingCommands"]] == [cid]
    wire = first["pendingCommands"][0]
    assert wire["command"] == "START_STRATEGY" and wire["parameters"] == doc
    assert set(wire) == {"commandId", "command", "parameters", "createdAt"}
    assert patch.status_code == 200 and patch.json() == {"ok": True}
    assert third == {"ok": True, "pendingCommands": []}
    record = sim.state.command(cid)
    assert record is not None and record.heartbeat_sends == 2 and record.statuses == ["received"]
    assert sim.state.command(pusher_only).heartbeat_sends == 0  # type: ignore[union-attr]
    assert sim.state.command(other).pending  # type: ignore[union-attr]
    beats = sim.state.heartbeats("exec-1")
    assert len(beats) == 3 and beats[0].body == HEARTBEAT and beats[0].problems == ()


def test_heartbeat_departures_from_the_contract_are_recorded(sim: RunningSimulator) -> None:
    with client(sim) as c:
        answer = c.post("/api/executor/exec-1/heartbeat", headers=headers(),
                        json={"status": "online", "account": {"balance": "a lot"}})
    assert answer.status_code == 200
    problems = sim.state.heartbeats()[0].problems
    assert "timestamp: missing or not an ISO 8601 string" in problems
    assert "account.balance: missing or not a number" in problems
    assert "activeStrategies: missing or not a list" in problems


def test_command_status_history_and_errors(sim: RunningSimulator) -> None:
    cid = sim.push_command("OPEN_POSITION", {"symbol": "XAUUSD", "side": "buy", "volume": 0.1})
    reports = [("received", None), ("executing", None),
               ("executed", {"ticket": 123, "price": 2650.15, "volume": 0.1, "retcode": 10009})]
    url = "/api/executor/exec-1/command"
    with client(sim) as c:
        for status, result in reports:
            answer = c.patch(url, headers=headers(),
                             json={"commandId": cid, "status": status, "result": result})
            assert answer.status_code == 200
        unknown = c.patch(url, headers=headers(), json={"commandId": "nope", "status": "failed"})
        bad_status = c.patch(url, headers=headers(), json={"commandId": cid, "status": "done"})
        bad_json = c.patch(url, headers={**headers(), "Content-Type": "application/json"},
                           content=b"{not json")
        foreign = c.patch("/api/executor/exec-2/command", headers=headers(EXEC2),
                          json={"commandId": cid, "status": "received"})
        listed = c.get(f"/sim/commands/{cid}").json()
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert bad_status.status_code == 400
    assert bad_status.json()["error"] == (
        "status: found 'done'; allowed: received, executing, executed, failed")
    assert bad_json.status_code == 400 and bad_json.json()["error"].startswith("body: not JSON")
    assert foreign.status_code == 404  # exec-1's command is unknown to exec-2
    assert [h["status"] for h in listed["history"]] == ["received", "executing", "executed"]
    assert listed["history"][2]["result"]["ticket"] == 123
    record = sim.state.wait_for_status(cid, "executed", timeout=1)
    assert record.statuses == ["received", "executing", "executed"]


def test_active_strategies_configured_and_tracked(sim: RunningSimulator) -> None:
    doc = strategy_doc("xauusd_m15_rsi_reversion.json")
    url = "/api/executor/exec-1/active-strategies"
    with client(sim) as c:
        empty = c.get(url, headers=headers()).json()
        put = c.put("/sim/active-strategies/exec-1",
                    json={"strategies": [{"parameters": doc, "shouldAutoRestart": False}]})
        configured = c.get(url, headers=headers()).json()
        started = sim.push_command("START_STRATEGY", {"strategy": strategy_doc()})
        c.patch("/api/executor/exec-1/command", headers=headers(),
                json={"commandId": started, "status": "executed", "result": None})
        tracked = c.get(url, headers=headers()).json()
        stopped = sim.push_command("STOP_STRATEGY", {"strategyId": doc["strategyId"]})
        c.patch("/api/executor/exec-1/command", headers=headers(),
                json={"commandId": stopped, "status": "executed", "result": None})
        after_stop = c.get(url, headers=headers()).json()
        exec2 = c.get("/api/executor/exec-2/active-strategies", headers=headers(EXEC2)).json()
    assert empty == {"strategies": []} and put.status_code == 200
    assert configured == {"strategies": [{"strategyId": doc["strategyId"],
                                          "shouldAutoRestart": False, "parameters": doc}]}
    assert [s["strategyId"] for s in tracked["strategies"]] == [
        doc["strategyId"], "xauusd-m15-ema-cross"]
    assert tracked["strategies"][1] == {"strategyId": "xauusd-m15-ema-cross",
                                        "shouldAutoRestart": True,
                                        "parameters": strategy_doc()}
    assert [s["strategyId"] for s in after_stop["strategies"]] == ["xauusd-m15-ema-cross"]
    assert exec2 == {"strategies": []}


def test_secrets_never_reach_the_logs_or_the_state(sim: RunningSimulator,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with client(sim) as c:
        c.get("/api/executor/config", headers={"X-API-Key": "key-1", "X-API-Secret": "bad"})
        c.get("/api/executor/config", headers=headers(EXEC1))
        c.post("/api/executor/exec-2/heartbeat", headers=headers(EXEC1), json=HEARTBEAT)
        snapshot = c.get("/sim/state").text
    text = caplog.text + snapshot
    assert "401 /api/executor/config" in caplog.text
    for secret in (EXEC1.api_secret, EXEC2.api_secret, PUSHER.secret):
        assert secret not in text
    assert "secret" not in repr(EXEC1).lower().replace("api_secret", "")
