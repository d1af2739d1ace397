"""Preferences: opted out until a member opts in; a bad quiet-hours value is a 400 that saves nothing."""

from __future__ import annotations

from webapp.notify import services as notify
from webapp.notify.models import Preference


def test_members_are_opted_out_until_they_opt_in(factories):
    member = factories.user("viewer", "Acme")
    assert notify.preference(member.workspace_id, member.user_id).opted_in is False


def test_preferences_are_saved_and_a_bad_quiet_hours_value_is_a_400_saving_nothing(auth, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    ok = auth.post("/profile/preferences", data={"opted_in": "on", "channel_order": ["telegram", "discord"],
                                                 "quiet_hours": "23:00-07:30"})
    assert ok.status_code == 303
    pref = db.session.get(Preference, (member.workspace_id, member.user_id))
    assert (pref.opted_in, pref.channel_order, pref.quiet_hours) == (True, ["telegram", "discord"], "23:00-07:30")
    bad = auth.post("/profile/preferences", data={"quiet_hours": "11pm-7am"})
    assert bad.status_code == 400 and "HH:MM-HH:MM" in bad.get_data(as_text=True)
    db.session.expire_all()
    pref = db.session.get(Preference, (member.workspace_id, member.user_id))
    assert (pref.opted_in, pref.quiet_hours) == (True, "23:00-07:30")
