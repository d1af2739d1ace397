from webapp.processes import documents


def test_promote_creates_production_version_and_deprecates_previous(app, factories):
    actor = factories.user("admin")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "a"})
    second = factories.production(actor, proc, {"prompt": "b"})
    assert second.number == 4 and second.status.value == "active"
    app.extensions["sqlalchemy"].session.refresh(first)
    assert first.status.value == "deprecated" and first.deprecated_at is not None
    assert documents.current_production(proc.id).id == second.id
