"""`flask --app wsgi …` commands. Scripts and deployments rely on their names and flags."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from sqlalchemy import select

from webapp.accounts import services as accounts
from webapp.errors import DomainError

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "promote-me"
DEMO_WORKSPACE = "Demo"


def _fail(exc: DomainError) -> None:
    raise click.ClickException(exc.message)


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
