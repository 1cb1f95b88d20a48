"""The dashboard's security edges in a real browser (the app started as ``make run`` does, headless Chromium):
a page rebound by DNS to the dashboard gets nothing, the pages request nothing from another host, the admin token
never comes back from the server, and one session's command result is not shown in another."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

TOKEN = "e2e-admin-token-4f9c2a"
REBOUND = "rebound.test"
PAGES = ["Overview", "Guards", "Trades", "Audit log", "Simulator"]
CHART_WITH_POINTS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => Array.isArray(p._fullData)
    && p._fullData.some(t => t.x && t.x.length))"""


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"PAPERTRADER_ADMIN_TOKEN": TOKEN}


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    return page


def test_a_rebound_host_gets_403_and_the_pages_request_nothing_from_another_host(app, browser: Browser, artifacts: Path) -> None:
    """DNS rebinding: Chromium resolves rebound.test to 127.0.0.1, as an attacker's DNS would once its page is
    loaded; that page's same-origin requests and WebSocket to the dashboard are refused. Then every page of the
    dashboard, opened on localhost, makes requests to its own origin only (icons and fonts included)."""
    port = urlsplit(app.url).port
    rebinding = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
    )
    try:
        page = rebinding.new_page()
        response = page.goto(f"http://{REBOUND}:{port}/")
        assert response is not None and response.status == 403
        assert "not in server.allowedHosts" in page.content()
        probe = page.evaluate(
            """async () => {
                const health = await fetch('/_stcore/health');
                const ws = await new Promise(resolve => {
                    const socket = new WebSocket(`ws://${location.host}/_stcore/stream`, ['streamlit']);
                    socket.onopen = () => resolve('open');
                    socket.onerror = () => resolve('refused');
                });
                return {health: health.status, ws};
            }"""
        )
        assert probe == {"health": 403, "ws": "refused"}
    finally:
        rebinding.close()

    origin = f"http://localhost:{port}"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(origin)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    page.wait_for_function(CHART_WITH_POINTS_JS, timeout=30_000)
    for name in PAGES[1:]:
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(timeout=30_000)
        if name == "Guards":
            page.wait_for_function(CHART_WITH_POINTS_JS, timeout=30_000)
        page.screenshot(path=str(artifacts / f"shared-reads-{name.lower().replace(' ', '-')}.png"), full_page=True)
    page.get_by_role("link", name="Overview").click()
    page.wait_for_function(CHART_WITH_POINTS_JS, timeout=30_000)
    page.screenshot(path=str(artifacts / "overview-uptime.png"), full_page=True)
    expect(page.get_by_text(re.compile(r"Up \d+"))).to_be_visible()
    elsewhere = sorted({url for url in requested if not url.startswith((f"{origin}/", "ws://localhost", "data:", "blob:"))})
    assert len(requested) > 10
    assert elsewhere == [], f"requests to another host: {elsewhere}"


def test_the_token_never_comes_back_and_a_command_result_stays_in_its_session(app, browser: Browser, artifacts: Path) -> None:
    """Two sessions, each with the admin token typed in its sidebar. A pauses: A gets the engine's verdict as a toast,
    B sees the new state but no toast. B flattens through the dialog (its own token field left empty: the sidebar's
    is used) and resumes: B gets both verdicts, A none. No byte the server sent either page holds the token."""
    received: dict[str, list[bytes]] = {"A": [], "B": []}
    responses: list[Response] = []
    pages: dict[str, Page] = {}
    for name in received:
        page = pages[name] = _open(browser, app.url)
        frames = received[name]
        page.on("websocket", lambda ws, frames=frames: ws.on(
            "framereceived", lambda payload, frames=frames: frames.append(payload if isinstance(payload, bytes) else payload.encode())
        ))
        page.on("response", lambda response: responses.append(response))
        page.reload()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
        field = page.get_by_role("textbox", name="Admin token")
        field.fill(TOKEN)
        field.press("Enter")
    a, b = pages["A"], pages["B"]

    a.get_by_role("button", name="Pause trading").click()
    expect(a.get_by_test_id("stToast").filter(has_text="Trading paused")).to_be_visible(timeout=10_000)
    expect(b.get_by_role("button", name="Resume trading")).to_be_visible(timeout=10_000)
    expect(b.get_by_text("PAUSED").first).to_be_visible()
    expect(b.get_by_test_id("stToast")).to_have_count(0)

    b.get_by_role("button", name="Flatten all").click()
    dialog = b.get_by_role("dialog")
    expect(dialog.get_by_role("textbox", name="Admin token")).to_have_value("")
    dialog.get_by_role("button", name="Flatten all positions").click()
    expect(b.get_by_test_id("stToast").filter(has_text=re.compile("Flatten all|FLATTEN"))).to_be_visible(timeout=10_000)
    b.get_by_role("button", name="Resume trading").click()
    expect(b.get_by_test_id("stToast").filter(has_text="Trading resumed")).to_be_visible(timeout=10_000)
    expect(a.get_by_role("button", name="Pause trading")).to_be_visible(timeout=10_000)
    expect(a.get_by_test_id("stToast").filter(has_text=re.compile("resumed|Flatten|FLATTEN"))).to_have_count(0)
    b.screenshot(path=str(artifacts / "overview-session-b.png"), full_page=True)

    secret = TOKEN.encode()
    documents = [r for r in responses if "/static/" not in r.url and r.ok]  # Streamlit's own bundles aside
    assert documents and not any(secret in r.body() for r in documents), "an HTTP response held the admin token"
    for name, frames in received.items():
        assert len(frames) > 20, f"session {name}: too little traffic recorded to judge"
        assert not any(secret in frame for frame in frames), f"session {name} received the admin token"
