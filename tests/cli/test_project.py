from __future__ import annotations

from tests.cli.conftest import CliRunner, json_of


def test_create_list_show(cli: CliRunner, model_path: str) -> None:
    created = cli(
        "project",
        "create",
        "Mira",
        "--type",
        "character",
        "--trigger",
        "mirakz",
        "--base-model",
        model_path,
        "--family",
        "sd15",
        "--must-stay",
        "red scarf",
    )
    assert created.returncode == 0, created.stderr
    assert "Describe what changes between images" in created.stdout
    listed = cli("project", "list", "--json")
    assert [p["slug"] for p in json_of(listed)] == ["mira"]  # type: ignore[union-attr]
    shown = json_of(cli("project", "show", "mira", "--json"))
    assert shown["project"]["caption_format"] == "booru"  # type: ignore[index]
    assert shown["gates"] == {
        "dataset": "not_run",
        "config": "not_run",  # type: ignore[index]
        "environment": "not_run",
        "dryrun": "not_run",
    }


def test_create_refusal_exits_1_with_every_problem(cli: CliRunner) -> None:
    result = cli(
        "project",
        "create",
        "",
        "--type",
        "style",
        "--trigger",
        "a,b",
        "--base-model",
        "/nowhere.safetensors",
        "--family",
        "sdxl",
        "--json",
    )
    assert result.returncode == 1
    errors = json_of(result)["errors"]  # type: ignore[index]
    assert set(errors) == {"name", "trigger_word", "base_model"}
    assert json_of(cli("project", "list", "--json")) == []


def test_usage_errors_exit_2(cli: CliRunner) -> None:
    assert cli("project", "create", "x", "--type", "portrait").returncode == 2
    assert cli("project", "show", "nope").returncode == 2
    assert cli("no-such-command").returncode == 2


def test_serve_refuses_non_loopback_without_token(cli: CliRunner) -> None:
    result = cli("serve", "--host", "0.0.0.0", "--port", "1", timeout=60)
    assert result.returncode == 2
    assert "Refusing to listen on 0.0.0.0" in result.stderr
