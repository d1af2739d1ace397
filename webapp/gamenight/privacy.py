"""What game nights hold about a member, for "Download my data" and "Delete my account" (webapp/accounts/privacy.py):
their player profile, availability, link codes, calendar feeds, planning rooms, suggestions and votes, campaigns
promoted and received, weekly schedules set, and what a delivery of a campaign job was about. Registered by
create_app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from webapp.accounts.privacy import PrivacyHook, iso
from webapp.extensions import db
from webapp.gamenight.models import (
    Availability,
    CalendarFeed,
    Campaign,
    CampaignAnswer,
    CampaignJob,
    CampaignRecipient,
    LinkCode,
    NightSchedule,
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PlayerProfile,
    SuggestionVote,
    TeamSuggestion,
)


def export(uid: int, wid: int) -> dict[str, Any]:
    """The member's game-night rows in one workspace; never a teammate, another voter or another recipient."""
    profile = db.session.scalar(select(PlayerProfile).where(PlayerProfile.workspace_id == wid,
                                                            PlayerProfile.user_id == uid))
    return {
        "player_profile": None if profile is None else {
            "display_name": profile.display_name, "aliases": list(profile.aliases or []),
            "created_at": iso(profile.created_at)},
        "availability": [
            {"day": iso(a.day), "status": a.status.value, "updated_at": iso(a.updated_at)}
            for a in db.session.scalars(select(Availability).where(Availability.workspace_id == wid,
                                                                   Availability.user_id == uid)
                                        .order_by(Availability.day))],
        "link_codes": [
            {"created_at": iso(code.created_at), "expires_at": iso(code.expires_at), "used_at": iso(code.used_at)}
            for code in db.session.scalars(select(LinkCode).where(LinkCode.workspace_id == wid,
                                                                  LinkCode.user_id == uid)
                                           .order_by(LinkCode.created_at))],
        "calendar_feeds": [  # times and the prefix, never the token's hash
            {"prefix": f.prefix, "created_at": iso(f.created_at), "last_used_at": iso(f.last_used_at),
             "revoked_at": iso(f.revoked_at)}
            for f in db.session.scalars(select(CalendarFeed).where(CalendarFeed.workspace_id == wid,
                                                                   CalendarFeed.user_id == uid)
                                        .order_by(CalendarFeed.created_at, CalendarFeed.id))],
        "planning_rooms": [  # the team they were on, never who else was
            {"day": iso(day), "joined_at": iso(joined_at), "team": team}
            for day, joined_at, team in db.session.execute(
                select(PlanningRoom.day, PlanningMember.joined_at, PlanningTeam.name)
                .join(PlanningMember, PlanningMember.room_id == PlanningRoom.id)
                .outerjoin(PlanningTeam, PlanningTeam.id == PlanningMember.team_id)
                .where(PlanningRoom.workspace_id == wid, PlanningMember.user_id == uid)
                .order_by(PlanningRoom.day))],
        "team_name_suggestions": [
            {"day": iso(day), "name": name, "created_at": iso(created_at)}
            for day, name, created_at in db.session.execute(
                select(PlanningRoom.day, TeamSuggestion.name, TeamSuggestion.created_at)
                .join(PlanningRoom, PlanningRoom.id == TeamSuggestion.room_id)
                .where(PlanningRoom.workspace_id == wid, TeamSuggestion.created_by_id == uid)
                .order_by(TeamSuggestion.created_at, TeamSuggestion.id))],
        "votes": [
            {"day": iso(day), "suggestion": name, "created_at": iso(created_at)}
            for day, name, created_at in db.session.execute(
                select(PlanningRoom.day, TeamSuggestion.name, SuggestionVote.created_at)
                .join(TeamSuggestion, TeamSuggestion.id == SuggestionVote.suggestion_id)
                .join(PlanningRoom, PlanningRoom.id == TeamSuggestion.room_id)
                .where(PlanningRoom.workspace_id == wid, SuggestionVote.user_id == uid)
                .order_by(SuggestionVote.created_at, TeamSuggestion.id))],
        "campaigns_promoted": [
            {"campaign_id": c.id, "day": iso(c.local_day), "start_at": iso(c.start_at), "status": c.status.value,
             "dry_run": c.dry_run, "created_at": iso(c.created_at), "cancelled_at": iso(c.cancelled_at)}
            for c in db.session.scalars(select(Campaign).where(Campaign.workspace_id == wid,
                                                               Campaign.promoter_id == uid)
                                        .order_by(Campaign.local_day, Campaign.id))],
        "weekly_schedules": [
            {"schedule_id": s.id, "weekdays": list(s.weekdays), "start_time": s.start_time,
             "lead_minutes": s.lead_minutes, "statuses": list(s.statuses), "min_ready": s.min_ready,
             "hours_ahead": s.hours_ahead, "paused": s.paused, "created_at": iso(s.created_at)}
            for s in db.session.scalars(select(NightSchedule).where(NightSchedule.workspace_id == wid,
                                                                    NightSchedule.promoter_id == uid)
                                        .order_by(NightSchedule.id))],
        "campaigns_received": [  # their own recipient row only
            {"campaign_id": campaign_id, "day": iso(day), "status_when_promoted": status.value}
            for campaign_id, day, status in db.session.execute(
                select(Campaign.id, Campaign.local_day, CampaignRecipient.status)
                .join(CampaignRecipient, CampaignRecipient.campaign_id == Campaign.id)
                .where(Campaign.workspace_id == wid, CampaignRecipient.user_id == uid)
                .order_by(Campaign.local_day, Campaign.id))],
        "campaign_answers": [  # what they answered a reminder
            {"campaign_id": a.campaign_id, "answer": a.answer.value, "late_minutes": a.late_minutes,
             "source": a.source, "answered_at": iso(a.answered_at)}
            for a in db.session.scalars(select(CampaignAnswer).join(Campaign).where(
                Campaign.workspace_id == wid, CampaignAnswer.user_id == uid).order_by(CampaignAnswer.answered_at))],
    }


def campaign_jobs(job_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What a delivery of each campaign job was: its kind and campaign (None for a job no longer there)."""
    found = {job_id: (kind, campaign_id) for job_id, kind, campaign_id in db.session.execute(
        select(CampaignJob.id, CampaignJob.kind, CampaignJob.campaign_id).where(CampaignJob.id.in_(job_ids)))}
    return {job_id: {"kind": found[job_id][0].value if job_id in found else None,
                     "campaign_id": found[job_id][1] if job_id in found else None} for job_id in job_ids}


HOOK = PrivacyHook(
    "gamenight",
    removed=(SuggestionVote.user_id, PlanningMember.user_id, CampaignRecipient.user_id, CampaignAnswer.user_id,
             Availability.user_id, LinkCode.user_id, CalendarFeed.user_id, PlayerProfile.user_id,
             NightSchedule.promoter_id),
    kept=(Campaign.promoter_id, TeamSuggestion.created_by_id, PlanningRoom.created_by_id),
    export=export,
    delivery_sources={"campaign_job": campaign_jobs},
)
