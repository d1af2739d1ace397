"""The governance tests' team: an admin, two promoters (alice asks, bob reviews) and an editor, all of Acme."""

from __future__ import annotations

import pytest


@pytest.fixture
def team(factories):
    admin = factories.user("admin", "Acme", email="admin@example.com")
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    bob = factories.user("promoter", "Acme", email="bob@example.com")
    eve = factories.user("editor", "Acme", email="eve@example.com")
    return admin, alice, bob, eve
