"""`logwarden user ...` and `logwarden token ...`: the web UI's users and the API's tokens.

Both edit the files under `<data_dir>/auth/` directly (run them on the appliance, with the
same `-c`/`--data-dir` as `up`); a running HTTP process picks the change up on its next
request. A token is printed once, on stdout alone, so `TOKEN=$(logwarden token create ...)`
works; only its hash is kept.
"""
from __future__ import annotations

import sys

import click

from logwarden.auth.store import ROLES, AuthError, Tokens, Users

_config = click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
                       help="logwarden.yml (optional), for data_dir.")
_data_dir = click.option("--data-dir", default=None, help="The appliance's data directory (overrides the config).")
_role = click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True,
                     help="viewer: read only; admin: also changes (acknowledge alerts, ...).")


def _data_path(config_file: str | None, data_dir: str | None):
    from logwarden.cli import resolve

    return resolve(config_file, data_dir=data_dir).data_path


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group()
def user() -> None:
    """Local users of the web UI (argon2id password hashes in <data_dir>/auth/users.json)."""


@user.command("set")
@click.argument("name")
@_role
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of asking.")
@_config
@_data_dir
def user_set(name: str, role: str, password_stdin: bool, config_file: str | None, data_dir: str | None) -> None:
    """Add user NAME, or give an existing one a new password and role."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        Users(_data_path(config_file, data_dir)).set(name, password, role)
    except AuthError as exc:
        _fail(exc)
    click.echo(f"user {name}: {role}")


@user.command("list")
@_config
@_data_dir
def user_list(config_file: str | None, data_dir: str | None) -> None:
    """Users with their role and creation time."""
    for name, u in sorted(Users(_data_path(config_file, data_dir)).all().items()):
        click.echo(f"{name}  {u['role']}  {u.get('created', '')}")


@user.command("remove")
@click.argument("name")
@_config
@_data_dir
def user_remove(name: str, config_file: str | None, data_dir: str | None) -> None:
    """Remove user NAME (its browser sessions end when the HTTP process next checks them)."""
    if not Users(_data_path(config_file, data_dir)).remove(name):
        _fail(AuthError(f"no user {name!r}"))
    click.echo(f"removed {name}")


@click.group()
def token() -> None:
    """API tokens for scripts and `logwarden search|alerts|status --token` (or LOGWARDEN_TOKEN)."""


@token.command("create")
@_role
@click.option("--name", default="", help="What the token is for (shown by `token list`).")
@_config
@_data_dir
def token_create(role: str, name: str, config_file: str | None, data_dir: str | None) -> None:
    """Create a token and print it once: send it as `Authorization: Bearer TOKEN`."""
    tid, secret = Tokens(_data_path(config_file, data_dir)).create(role, name)
    click.echo(secret)
    click.echo(f"token {tid} ({role}) created; it is shown only now", err=True)


@token.command("list")
@_config
@_data_dir
def token_list(config_file: str | None, data_dir: str | None) -> None:
    """Token ids with role, name and creation time (never the tokens)."""
    for tid, t in sorted(Tokens(_data_path(config_file, data_dir)).all().items()):
        click.echo(f"{tid}  {t['role']}  {t.get('created', '')}  {t.get('name', '')}")


@token.command("revoke")
@click.argument("token_id")
@_config
@_data_dir
def token_revoke(token_id: str, config_file: str | None, data_dir: str | None) -> None:
    """Revoke the token with this id (the part after lwt_ and before the next _)."""
    if not Tokens(_data_path(config_file, data_dir)).revoke(token_id):
        _fail(AuthError(f"no token {token_id!r}"))
    click.echo(f"revoked {token_id}")
