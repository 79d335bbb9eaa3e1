"""``matthan user ...``: dashboard accounts from the command line (the first admin, too).

A password is never taken from the command line (it would stay in the shell history and
show in ``ps``): it is read from the environment variable ``MATTHAN_PASSWORD`` when set
(for scripts), else asked for twice at a prompt. Every change is audited with the actor
``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.accounts import AccountError, Accounts, Role
from common.config_loader import ConfigError, is_hub_file, load_hub, load_site
from common.store import Store

PASSWORD_ENV = "MATTHAN_PASSWORD"  # noqa: S105 (the variable's name, not a password)
ACTOR = "cli"


class PasswordPromptError(ValueError):
    """No password could be read: no terminal to ask on, or the two typed differ."""


def read_password() -> str:
    """From ``MATTHAN_PASSWORD``, or typed twice at a prompt without echo."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise PasswordPromptError(f"no terminal to ask for the password on; set {PASSWORD_ENV}")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise PasswordPromptError("the passwords differ")
    return first


@contextmanager
def _accounts(config: Path) -> Iterator[Accounts]:
    """The accounts in the store of the site (or the district hub) at ``config``."""
    if is_hub_file(config):
        database = load_hub(config).hub.database
        database.parent.mkdir(parents=True, exist_ok=True)
    else:
        database = load_site(config).storage.database
    store = Store(database)
    try:
        yield Accounts(store)
    finally:
        store.close()


def add(args: argparse.Namespace) -> None:
    password = read_password()
    with _accounts(args.config) as accounts:
        areas = tuple(args.area or ())
        user = accounts.add_user(
            args.name, password, Role(args.role), actor=ACTOR, areas=areas, language=args.language
        )
    print(f"added {user.username} ({user.role.value})")


def passwd(args: argparse.Namespace) -> None:
    password = read_password()
    with _accounts(args.config) as accounts:
        accounts.set_password(args.name, password, actor=ACTOR)
    print(f"password of {args.name} changed; their sessions are closed")


def disable(args: argparse.Namespace) -> None:
    with _accounts(args.config) as accounts:
        accounts.change_user(args.name, actor=ACTOR, disabled=not args.enable)
    print(f"{args.name} {'enabled' if args.enable else 'disabled'}")


def list_users(args: argparse.Namespace) -> None:
    with _accounts(args.config) as accounts:
        for user in accounts.users():
            areas = ",".join(user.areas) or "*"
            state = " (disabled)" if user.disabled else ""
            print(f"{user.username}\t{user.role.value}\t{areas}{state}")


def run_user_command(args: argparse.Namespace) -> int:
    """Run one ``user`` subcommand; a config, account or prompt problem exits with 2."""
    try:
        args.user_handler(args)
    except (ConfigError, AccountError, PasswordPromptError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def add_user_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``matthan user add|passwd|disable|list``."""
    user = commands.add_parser("user", help="dashboard accounts")
    user.set_defaults(handler=run_user_command)
    actions = user.add_subparsers(dest="user_command", required=True)

    def action(name: str, handler: object, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("-c", "--config", type=Path, required=True)
        parser.set_defaults(user_handler=handler)
        return parser

    add_parser = action("add", add, f"add a user (password from ${PASSWORD_ENV} or a prompt)")
    add_parser.add_argument("name")
    add_parser.add_argument("--role", choices=[role.value for role in Role], required=True)
    add_parser.add_argument("--area", action="append", help="limit to an area (repeatable)")
    add_parser.add_argument("--language", choices=["vi", "en"], default="vi")
    action("passwd", passwd, "set a user's password").add_argument("name")
    disable_parser = action("disable", disable, "disable a user and end their sessions")
    disable_parser.add_argument("name")
    disable_parser.add_argument("--enable", action="store_true", help="enable instead")
    action("list", list_users, "list the users")
