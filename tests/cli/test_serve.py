"""`loragate serve` as a real process: every refusal is a plain line with exit 1 or 2
(never a traceback, never uvicorn's 3), made before the web app is imported; a server
that started stops on Ctrl-C with exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from app.settings import REPO_ROOT, Settings
from tests.cli.conftest import CliRunner, cli_env, run_probe


def refused(result: subprocess.CompletedProcess[str], status: int, says: str) -> None:
    assert result.returncode == status, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr and "serving at" not in result.stdout


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("port", "says"),
    [
        ("99999", "99999 is not a port: choose one from 1 to 65535"),
        ("-1", "-1 is not a port"),
        ("0", "0 is not a port"),
        ("abc", "“abc” is not a port number"),
    ],
)
def test_a_port_out_of_range_is_a_usage_error(cli: CliRunner, port: str, says: str) -> None:
    refused(cli("serve", f"--port={port}"), 2, says)


def test_a_port_in_the_environment_that_is_not_a_number(cli: CliRunner) -> None:
    result = cli("serve", env={"LORAGATE_PORT": "abc"})
    refused(result, 2, "LORAGATE_PORT is “abc”: it must be a whole number from 1 to 65535.")
    refused(cli("serve", env={"LORAGATE_PORT": "70000"}), 2, "LORAGATE_PORT is “70000”")


def test_a_port_in_use_exits_1(cli: CliRunner, taken_port: int) -> None:
    refused(
        cli("serve", "--port", str(taken_port)),
        1,
        f"port {taken_port} is already in use on 127.0.0.1",
    )


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("no-such-host.invalid", "cannot listen on “no-such-host.invalid”: no such address"),
        ("192.0.2.1", "192.0.2.1 is not an address of this computer"),  # TEST-NET-1
    ],
)
def test_a_host_that_cannot_be_bound_is_a_usage_error(cli: CliRunner, host: str, says: str) -> None:
    refused(cli("serve", "--host", host, "--token", "a-long-secret"), 2, says)


def test_a_public_bind_without_a_token_is_refused_before_the_app_is_imported(
    settings: Settings,
) -> None:
    probe = (
        "import sys\n"
        "from app.cli import main\n"
        "status = main(['serve', '--host', '0.0.0.0'])\n"
        "heavy = ('app.main', 'app.web', 'app.gates', 'app.dataset', 'app.captions', 'app.workspace',"
        " 'uvicorn')\n"
        "print(status, [name for name in heavy if name in sys.modules])\n"
    )
    result = run_probe(settings, probe)
    assert result.stdout.strip() == "2 []", result.stderr
    assert "Refusing to listen on 0.0.0.0" in result.stderr


def test_a_server_answers_and_ctrl_c_stops_it_with_exit_0(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert _first_answer(server, port) == 200
            server.send_signal(signal.SIGINT)
            out, err = server.communicate(timeout=60)
        finally:
            server.kill()
    assert server.returncode == 0, err
    assert f"serving at http://127.0.0.1:{port}" in out
    assert "Traceback" not in err and "interrupted" not in err


def _first_answer(server: subprocess.Popen[str], port: int) -> int | None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                return int(page.status)
        except OSError:
            time.sleep(0.2)
    return None
