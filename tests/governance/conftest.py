"""The members governance tests share: Acme's admin, two promoters (Alice asks, Bob reviews) and an editor."""

from __future__ import annotations

import pytest


@pytest.fixture
def team(factories):
    admin = factories.user("admin", "Acme", email="admin@example.com")
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    bob = factories.user("promoter", "Acme", email="bob@example.com")
    eve = factories.user("editor", "Acme", email="eve@example.com")
    return admin, alice, bob, eve
