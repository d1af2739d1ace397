"""E-mail contacts: confirmed through the signed link they were mailed; bad, taken or unconfigured addresses
are refused and add nothing. (Chat identities are linked through the bots and Discord: tests/gamenight.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.gamenight import players
from webapp.notify.models import Contact


@pytest.fixture
def mail(app, monkeypatch):
    """MAIL_URL points at a local sink standing in for the SMTP server."""
    from dataclasses import replace

    from tests.sink import Sink

    with Sink() as sink:
        monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], MAIL_URL=sink.target("smtp")))
        yield sink


def _mailed_link(mail) -> str:
    body = mail.received("smtp")[-1]["message"]
    return "/contacts/email/confirm/" + body.split("/contacts/email/confirm/", 1)[1].split()[0]


def test_an_email_contact_is_confirmed_through_the_signed_link_it_was_mailed(auth, client, factories, db, worker,
                                                                             mail):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    answer = auth.post("/profile/email", data={"email": "jana.home@example.org"}, follow_redirects=True)
    assert "We mailed a confirmation link to jana.home@example.org" in answer.get_data(as_text=True)
    contact = db.session.scalar(select(Contact).where(Contact.channel == "email"))
    assert contact.confirmed_at is None and not players.is_linked(member.workspace_id, member.user_id)
    worker()  # the outbox effect mails the link (its job argument is the effect id only)
    link = _mailed_link(mail)
    auth.logout()  # opened from the mailbox: no session needed
    page = client.get(link)
    assert page.status_code == 200 and "Confirm jana.home@example.org" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).confirmed_at is None  # a GET (a mail scanner) confirms nothing
    confirmed = auth.post(link)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.get_data(as_text=True)
    db.session.expire_all()
    contact = db.session.get(Contact, contact.id)
    assert contact.confirmed_at is not None and contact.target_hint == "mailto://j…@example.org"
    assert "smtp" not in contact.target_hint and players.is_linked(member.workspace_id, member.user_id)


def test_a_tampered_or_stale_email_link_is_a_404(auth, client, factories, db, worker, mail):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/email", data={"email": "first@example.org"})
    worker()
    first_link = _mailed_link(mail)
    assert client.get(first_link[:-3] + "xyz").status_code == 404
    auth.post("/profile/email", data={"email": "second@example.org"})  # changed before confirming
    assert client.get(first_link).status_code == 404
    assert db.session.scalar(select(Contact.confirmed_at)) is None


@pytest.mark.parametrize("address", ["", "jana", "jana@", "a b@example.com", "x@example.com?cc=all@example.com"])
def test_a_bad_email_address_is_a_400_and_adds_nothing(auth, factories, db, mail, address):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    assert auth.post("/profile/email", data={"email": address}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_an_address_of_another_member_is_a_409(auth, factories, db, mail):
    factories.user("viewer", "Acme", email="jana@example.com")
    factories.user("viewer", "Acme", email="mojca@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/email", data={"email": "shared@example.org"})
    auth.logout()
    auth.login("mojca@example.com")
    answer = auth.post("/profile/email", data={"email": "Shared@example.org"})
    assert answer.status_code == 409 and "belongs to another member" in answer.get_data(as_text=True)


def test_without_mail_configured_adding_an_email_is_a_409_saying_so(auth, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    answer = auth.post("/profile/email", data={"email": "jana@example.org"})
    assert answer.status_code == 409 and "MAIL_URL" in answer.get_data(as_text=True)
