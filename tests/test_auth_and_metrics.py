"""API keys, /health and the Prometheus /metrics endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import SMOL, RunningServer, start_server, stop_server


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(SMOL, tmp_path_factory.mktemp("keyed") / "server.log",
                          "--parallel", "1", "--ctx-size", "256",
                          env={"KAIYUAN_API_KEY": "sk-one,sk-two"})
    yield server
    stop_server(server)


def test_key_required_when_configured(keyed: RunningServer) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        keyed.client(api_key="wrong").models.list()
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    missing = httpx.post(f"{keyed.base_url}/chat/completions", json={})
    assert missing.status_code == 401
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_any_configured_key_works(keyed: RunningServer) -> None:
    for key in ("sk-one", "sk-two"):
        reply = keyed.client(api_key=key).chat.completions.create(
            model=SMOL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        assert reply.choices[0].message.content is not None


def test_health_needs_no_key(keyed: RunningServer) -> None:
    assert httpx.get(f"{keyed.url}/health").json() == {"status": "ok"}


def test_metrics(smol: RunningServer) -> None:
    smol.client().chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3, stream=False)
    list(smol.client().chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3, stream=True))
    httpx.post(f"{smol.base_url}/chat/completions", json={"model": "nope"})
    response = httpx.get(f"{smol.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'kaiyuan_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'kaiyuan_requests_total{route="/v1/chat/completions",status="400"}' in text
    for name in ("kaiyuan_prompt_tokens_total", "kaiyuan_completion_tokens_total",
                 "kaiyuan_queue_depth", "kaiyuan_running_sequences",
                 "kaiyuan_time_to_first_token_seconds_bucket",
                 "kaiyuan_inter_token_latency_seconds_bucket"):
        assert name in text, name
    count = [line for line in text.splitlines()
             if line.startswith("kaiyuan_time_to_first_token_seconds_count")]
    assert float(count[0].split()[-1]) >= 2
