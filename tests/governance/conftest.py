"""The governance tests' team (an admin, two promoters: alice asks, bob reviews, and an editor, all of Acme), the
fixture tests/governance/test_requests.py defines, for every governance test module."""

from __future__ import annotations

from tests.governance.test_requests import team  # noqa: F401  (a fixture)
