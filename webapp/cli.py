"""`flask --app wsgi …` commands. Scripts and deployments rely on their names and flags."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select

from webapp.accounts import services as accounts
from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE
from webapp.errors import DomainError


def _fail(exc: DomainError) -> None:
    raise click.ClickException(exc.message)


def _fail_listing(exc: DomainError) -> None:
    """A refusal that lists its reasons (`details` problems, conflicts or refusals): one line each."""
    details = exc.details if isinstance(exc.details, dict) else {}
    listed = [str(item) for name in ("problems", "conflicts", "refusals") for item in details.get(name) or []]
    if not listed:
        _fail(exc)
    raise click.ClickException("Nothing was changed:\n" + "\n".join(f"  - {item}" for item in listed))


def register_cli(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--workspace", required=True, help="Workspace name; created if it does not exist.")
    @click.option("--role", default="viewer", show_default=True,
                  type=click.Choice(["viewer", "editor", "promoter", "admin"]))
    @click.option("--operator/--no-operator", default=None,
                  help="Grant (or revoke) the installation's operator role: the RQ dashboard at /rq.")
    def create_user(email: str, password: str, workspace: str, role: str, operator: bool | None) -> None:
        """Create a user (or find them) and grant a role in a workspace."""
        try:
            user, membership = accounts.create_user(email, password, workspace, role, operator=operator)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"{user.email} is {membership.role.name} in {membership.workspace.name}"
                   + (" and an operator" if user.is_operator else ""))

    @app.cli.command("set-operator")
    @click.option("--email", required=True)
    @click.option("--revoke", is_flag=True, help="Take the operator role away instead.")
    def set_operator(email: str, revoke: bool) -> None:
        """Grant an existing user the installation's operator role (the RQ dashboard), or revoke it."""
        try:
            user = accounts.set_operator(email, not revoke)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"{user.email} is {'no longer ' if revoke else ''}an operator")

    @app.cli.command("create-token")
    @click.option("--email", required=True)
    @click.option("--workspace", required=True)
    @click.option("--name", default="cli")
    def create_token(email: str, workspace: str, name: str) -> None:
        """Print a new personal access token (only the token, shown once)."""
        from webapp.accounts.models import User
        from webapp.extensions import db

        try:
            ws = accounts.workspace_by_slug(workspace)
            user = db.session.scalar(select(User).where(User.email == accounts.normalise_email(email)))
            if user is None:
                raise click.ClickException(f"No user {email}.")
            _, token = accounts.create_personal_token(accounts.actor_for_user(user, ws.id), name)
        except DomainError as exc:
            _fail(exc)
        click.echo(token)

    @app.cli.command("create-key")
    @click.option("--workspace", required=True)
    @click.option("--environment", required=True, type=click.Choice(["sandbox", "production"]))
    @click.option("--name", default="")
    def create_key(workspace: str, environment: str, name: str) -> None:
        """Print a new environment key for the serving API (only the key, shown once)."""
        try:
            ws = accounts.workspace_by_slug(workspace)
            _, key = accounts.create_environment_key(accounts.system_actor(ws.id), environment, name)
        except DomainError as exc:
            _fail(exc)
        click.echo(key)

    @app.cli.command("world-import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--workspace", required=True)
    @click.option("--format", "fmt", type=click.Choice(["json", "ev"]), default=None,
                  help="What FILE is; by default its extension says (.ev: an Evennia batch file, else JSON).")
    def world_import(file: Path, workspace: str, fmt: str | None) -> None:
        """Import a JSON export or an Evennia batch file into the live world: all of it, or nothing and the list
        of what clashes."""
        from webapp.worlds import live_import, transfer

        fmt = fmt or ("ev" if file.suffix.lower() == ".ev" else "json")
        try:
            ws = accounts.workspace_by_slug(workspace)
            document = transfer.read_transfer(file.read_bytes(), fmt)
            result = live_import.import_live(accounts.system_actor(ws.id), document, fmt=fmt)
        except DomainError as exc:
            _fail_listing(exc)
        click.echo(f"Imported {len(result.rooms)} rooms and {len(result.exits)} exits into the live world of "
                   f"{ws.name}.")

    @app.cli.command("world-room-create")
    @click.option("--workspace", required=True)
    @click.option("--key", required=True, help="Letters, digits, _ or -; the handle is made from it (limbo → limbo#01).")
    @click.option("--name", required=True)
    @click.option("--description", default="")
    @click.option("--attributes", default="{}", help="A JSON object, kept exactly as given.")
    @click.option("--tags", default="", help="key or key:category, comma separated.")
    def world_room_create(workspace: str, key: str, name: str, description: str, attributes: str, tags: str) -> None:
        """Create a live room; prints its handle and id."""
        from webapp.worlds import design, live
        from webapp.worlds.commands import parse_tag_text

        try:
            ws = accounts.workspace_by_slug(workspace)
            room = live.add_live_room(accounts.system_actor(ws.id),
                                      design.room_fields(key, name, description, attributes, parse_tag_text(tags)))
        except DomainError as exc:
            _fail(exc)
        click.echo(f"{room.handle} (room {room.id})")

    @app.cli.command("world-exit-create")
    @click.option("--workspace", required=True)
    @click.option("--from", "source", required=True, help="The live room it leaves: its handle (limbo#01) or id.")
    @click.option("--to", "destination", required=True, help="The live room it leads to: its handle or id.")
    @click.option("--direction", required=True, help="north, n, up, … (any case).")
    @click.option("--aliases", default="", help="Extra names, comma separated.")
    @click.option("--both-ways", is_flag=True, help="Also the way back, in the opposite direction.")
    def world_exit_create(workspace: str, source: str, destination: str, direction: str, aliases: str,
                          both_ways: bool) -> None:
        """Add an exit between two live rooms (and with --both-ways the way back)."""
        from webapp.commands import parse
        from webapp.worlds import live
        from webapp.worlds.commands import LiveExit

        try:
            actor = accounts.system_actor(accounts.workspace_by_slug(workspace).id)
            command = parse(LiveExit, {"source_id": live.find_live_room(actor, source).id,
                                       "destination_id": live.find_live_room(actor, destination).id,
                                       "direction": direction, "aliases": aliases, "both_ways": both_ways})
            exits = live.add_live_exit(actor, command)
        except DomainError as exc:
            _fail_listing(exc)
        for row in exits:
            click.echo(f"exit {row.id}: {row.key} ({', '.join(row.aliases)}) from room {row.source_id} to room "
                       f"{row.destination_id}")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo workspace, users and processes once; print the demo login."""
        from webapp.seed import seed_demo as run

        created = run(DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE)
        click.echo(("Seeded the demo workspace." if created else "Demo workspace already seeded.")
                   + f"\n  Sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    def worker(burst: bool) -> None:
        """Run an RQ worker with the scheduler, inside this app (freeing the scheduler lock of a dead worker)."""
        from webapp.outbox.worker import run_worker

        run_worker(current_app._get_current_object(), burst=burst)  # type: ignore[attr-defined]

    @app.cli.command("reconcile")
    @click.option("--every", type=float, default=0, help="Repeat every N seconds (0: one pass).")
    def reconcile(every: float) -> None:
        """Re-enqueue side effects and campaign jobs that are due and not done (Redis may have lost them, or no
        scheduler is moving them)."""
        from webapp.outbox import services as outbox

        while True:
            try:
                counts = outbox.reconcile()
                if not every or any(counts.values()):  # a repeating reconciler speaks when it acts
                    click.echo("reconcile: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
            except Exception as exc:
                if not every:
                    raise
                click.echo(f"reconcile failed, will retry: {type(exc).__name__}: {exc}", err=True)
            if not every:
                return
            time.sleep(every)
