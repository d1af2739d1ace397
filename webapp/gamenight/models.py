"""Game nights: player profiles, one-time link codes, availability, and the workspace's bot token."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.extensions import CreatedAt, IntPk, UpdatedAt, UserId, UTCDateTime, WorkspaceId, db, utcnow

# The ready-check runs this many minutes after the start call (a workspace setting).
READY_CHECK_DELAY_MIN, READY_CHECK_DELAY_MAX, READY_CHECK_DELAY_DEFAULT = 0, 30, 5
# "late N": N minutes, 1 to 2 hours (later than that is a different night).
LATE_MINUTES_MIN, LATE_MINUTES_MAX = 1, 120
# A campaign's optional quorum: at least this many players still coming at the reminder.
MIN_PLAYERS_MIN, MIN_PLAYERS_MAX = 1, 500


class Status(enum.StrEnum):
    available = "available"
    maybe = "maybe"
    looking = "looking"
    not_available = "not_available"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class PlayerProfile(db.Model):
    """A member's player: display name and game aliases. At most one per member and workspace."""

    __tablename__ = "player_profiles"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_player_profiles_workspace_user"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    user_id: Mapped[UserId]
    display_name: Mapped[str] = mapped_column(String(80))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[CreatedAt]


class LinkCode(db.Model):
    """A short-lived one-time code the dashboard shows and a bot sends back with the chat identity."""

    __tablename__ = "link_codes"

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    user_id: Mapped[UserId]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]


class Availability(db.Model):
    """A member's status for one local date of the workspace. One row per member and date."""

    __tablename__ = "availability"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id", "day", name="uq_availability_member_day"),
        # A day's statuses counted from the index alone, and each status's first members read in the order they
        # said so, stopping after the few the page names (webapp/gamenight/availability.py `_days`).
        Index("ix_availability_workspace_day_status", "workspace_id", "day", "status", "id"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    user_id: Mapped[UserId]
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=16))
    updated_at: Mapped[UpdatedAt]

    user: Mapped[User] = relationship()


class GamenightSettings(db.Model):
    """The workspace's game-night settings beside its time zone: game start, reminder lead, the bot."""

    __tablename__ = "gamenight_settings"
    __table_args__ = (CheckConstraint(f"ready_check_delay >= {READY_CHECK_DELAY_MIN} AND ready_check_delay <= "
                                      f"{READY_CHECK_DELAY_MAX}", name="ck_gamenight_settings_ready_check_delay"),)

    workspace_id: Mapped[WorkspaceId] = mapped_column(primary_key=True)
    game_start: Mapped[str] = mapped_column(String(5), default="21:00")  # local HH:MM
    lead_minutes: Mapped[int] = mapped_column(default=15)
    # Minutes from the start call to the ready-check (0: at the start call itself).
    ready_check_delay: Mapped[int] = mapped_column(default=READY_CHECK_DELAY_DEFAULT,
                                                   server_default=str(READY_CHECK_DELAY_DEFAULT))
    bot_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    bot_token_prefix: Mapped[str | None] = mapped_column(String(24))
    bot_token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary_target_sealed: Mapped[str | None] = mapped_column(Text)  # Apprise URL of the summary channel
    summary_target_hint: Mapped[str] = mapped_column(String(80), default="")
    # Today's planning room unlocks once this many members are available or looking.
    planning_threshold: Mapped[int] = mapped_column(default=6, server_default="6")
    # Where a new planning room is announced (an Apprise URL, e.g. a Discord webhook or thread); sealed.
    planning_post_target_sealed: Mapped[str | None] = mapped_column(Text)
    planning_post_target_hint: Mapped[str] = mapped_column(String(80), default="", server_default="")
    # A Discord bot (its token sealed, only a hint shown again) and the channel where each planning room gets its
    # thread; with both set the thread replaces the webhook announcement above.
    discord_bot_token_sealed: Mapped[str | None] = mapped_column(Text)
    discord_bot_token_hint: Mapped[str] = mapped_column(String(80), default="", server_default="")
    discord_channel_id: Mapped[str] = mapped_column(String(30), default="", server_default="")


class CampaignStatus(enum.StrEnum):
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    partial = "partial"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def active(self) -> bool:
        """Scheduled or sending: it can still be cancelled, and it holds its promoter's day."""
        return self in (CampaignStatus.scheduled, CampaignStatus.sending)


class JobKind(enum.StrEnum):
    reminder = "reminder"
    start = "start"
    ready_check = "ready_check"
    called_off = "called_off"  # made when the promoter calls the night off: one message to each recipient

    @property
    def label(self) -> str:
        return _JOB_LABELS[self]


_JOB_LABELS = {JobKind.reminder: "Reminder", JobKind.start: "Start call", JobKind.ready_check: "Ready-check",
               JobKind.called_off: "Called off"}


class JobStatus(enum.StrEnum):
    scheduled = "scheduled"
    running = "running"
    done = "done"
    cancelled = "cancelled"


class Campaign(db.Model):
    """A promoted game night: a snapshot of who opted in, and its three timed jobs."""

    __tablename__ = "campaigns"
    __table_args__ = (
        # One campaign per promoter per workspace-local day (a cancelled one makes room for another).
        Index("uq_campaigns_promoter_day", "workspace_id", "promoter_id", "local_day", unique=True,
              sqlite_where=text("status <> 'cancelled'"), postgresql_where=text("status <> 'cancelled'")),
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_campaigns_idempotency_key"),
        CheckConstraint(f"min_players IS NULL OR (min_players >= {MIN_PLAYERS_MIN} AND min_players <= "
                        f"{MIN_PLAYERS_MAX})", name="ck_campaigns_min_players"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    promoter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # None: deleted
    local_day: Mapped[date] = mapped_column(Date)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lead_minutes: Mapped[int]
    statuses: Mapped[list[str]] = mapped_column(JSON)
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[CampaignStatus] = mapped_column(Enum(CampaignStatus, native_enum=False, length=16),
                                                   default=CampaignStatus.scheduled)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[CreatedAt]
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The quorum: fewer players than this still coming at the reminder, and the promoter is told (None: no quorum).
    min_players: Mapped[int | None] = mapped_column()
    called_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # cancelled with a message to everyone

    promoter: Mapped[User | None] = relationship()
    jobs: Mapped[list[CampaignJob]] = relationship(order_by="CampaignJob.run_at, CampaignJob.id",
                                                   cascade="all, delete-orphan")
    recipients: Mapped[list[CampaignRecipient]] = relationship(cascade="all, delete-orphan")


class CampaignRecipient(db.Model):
    """Who was opted in, and with which status, when the campaign was created."""

    __tablename__ = "campaign_recipients"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=16))


class Answer(enum.StrEnum):
    """A recipient's answer to a reminder: coming, coming late, or not coming."""

    coming = "in"
    late = "late"
    cant = "cant"

    @property
    def label(self) -> str:
        return {"in": "in", "late": "late", "cant": "can't"}[self.value]


class CampaignAnswer(db.Model):
    """A recipient's answer to a campaign (one row per recipient, changed in place). "can't" is final: it
    withdrew the member's remaining pings in the ledger, which nothing gives back."""

    __tablename__ = "campaign_answers"
    __table_args__ = (
        CheckConstraint(f"(answer = 'late' AND late_minutes >= {LATE_MINUTES_MIN} AND late_minutes <= "
                        f"{LATE_MINUTES_MAX}) OR (answer <> 'late' AND late_minutes IS NULL)",
                        name="ck_campaign_answers_late_minutes"),
        CheckConstraint("(answer = 'cant') = (withdrawn_at IS NOT NULL)", name="ck_campaign_answers_withdrawn"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    answer: Mapped[Answer] = mapped_column(Enum(Answer, native_enum=False, length=8))
    late_minutes: Mapped[int | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(16))  # web | telegram | signal | discord
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when "can't" withdrew the pings


class CampaignJob(db.Model):
    """One timed step of a campaign. The row is the truth; RQ only carries its id at `run_at`."""

    __tablename__ = "campaign_jobs"
    __table_args__ = (
        UniqueConstraint("campaign_id", "kind", name="uq_campaign_jobs_campaign_kind"),
        Index("ix_campaign_jobs_status_run_at", "status", "run_at"),
    )

    id: Mapped[IntPk]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[JobKind] = mapped_column(Enum(JobKind, native_enum=False, length=16))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)  # after it, nothing of this job is (re)sent
    status: Mapped[JobStatus] = mapped_column(Enum(JobStatus, native_enum=False, length=16),
                                              default=JobStatus.scheduled)
    runs: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a retry's time (None: `run_at`)
    rq_job_id: Mapped[str | None] = mapped_column(String(64))  # the RQ job of its latest scheduled run
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a running run beats; silence = gone
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class PresenceReport(db.Model):
    """One snapshot from a bot: the voice channel's identities (external ids), or the game server's
    player names. The ready-check reads the snapshots of the last few minutes."""

    __tablename__ = "presence_reports"
    __table_args__ = (Index("ix_presence_reports_workspace_seen", "workspace_id", "seen_at"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    source: Mapped[str] = mapped_column(String(16))  # voice | game_server
    present: Mapped[list[str]] = mapped_column(JSON, default=list)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostStatus(enum.StrEnum):
    off = "off"  # no announcement channel set when the room was created
    pending = "pending"
    sent = "sent"
    retrying = "retrying"  # an attempt failed; RQ runs the next one after a back-off
    failed = "failed"  # the last attempt failed too: given up (the Jobs page can retry it)
    unknown = "unknown"  # the channel may have got it (no answer after sending, a 5xx): never posted again


class PlanningRoom(db.Model):
    """Today's planning room of a workspace: who joins, team-name suggestions and votes, the teams.
    One per workspace and local day; read-only once that day has ended."""

    __tablename__ = "planning_rooms"
    __table_args__ = (UniqueConstraint("workspace_id", "day", name="uq_planning_rooms_workspace_day"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    day: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    seed: Mapped[int] = mapped_column(default=0)  # the auto-draft's default seed
    teams_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    post_status: Mapped[PostStatus] = mapped_column(Enum(PostStatus, native_enum=False, length=16),
                                                    default=PostStatus.off)
    post_error: Mapped[str] = mapped_column(String(300), default="")
    # One more with every change of what the room shows to all (`planning_rooms.changed`), in the change's own
    # transaction: the live page's poll compares it (its ETag) and is answered 304 while it stands.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    discord_thread: Mapped[PlanningThread | None] = relationship(cascade="all, delete-orphan", uselist=False)
    members: Mapped[list[PlanningMember]] = relationship(order_by="PlanningMember.joined_at, PlanningMember.user_id",
                                                         cascade="all, delete-orphan")
    teams: Mapped[list[PlanningTeam]] = relationship(order_by="PlanningTeam.position", cascade="all, delete-orphan")
    suggestions: Mapped[list[TeamSuggestion]] = relationship(cascade="all, delete-orphan")


class PlanningTeam(db.Model):
    """A saved team of a room (the draft is not stored: it lives in the page until it is saved)."""

    __tablename__ = "planning_teams"
    __table_args__ = (UniqueConstraint("room_id", "position", name="uq_planning_teams_room_position"),)

    id: Mapped[IntPk]
    room_id: Mapped[int] = mapped_column(ForeignKey("planning_rooms.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(40))


class PlanningMember(db.Model):
    """A member in the room; `team_id` None is the bench (late joiners land there)."""

    __tablename__ = "planning_members"

    room_id: Mapped[int] = mapped_column(ForeignKey("planning_rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("planning_teams.id", ondelete="SET NULL"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamSuggestion(db.Model):
    """A team name put to the vote; names that differ only in case or spacing are one suggestion."""

    __tablename__ = "team_suggestions"
    __table_args__ = (UniqueConstraint("room_id", "name_key", name="uq_team_suggestions_room_name"),)

    id: Mapped[IntPk]
    room_id: Mapped[int] = mapped_column(ForeignKey("planning_rooms.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    name_key: Mapped[str] = mapped_column(String(40))  # casefolded, spaces collapsed
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]


class SuggestionVote(db.Model):
    """One vote per member per suggestion (voting again withdraws it)."""

    __tablename__ = "suggestion_votes"

    suggestion_id: Mapped[int] = mapped_column(ForeignKey("team_suggestions.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    created_at: Mapped[CreatedAt]


class CalendarFeed(db.Model):
    """A member's private iCalendar URL (the game nights they are invited to). Only a SHA-256 of its token is
    stored; the URL is shown once. One live feed per member and workspace: making a new one revokes the old."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        Index("uq_calendar_feeds_member_live", "workspace_id", "user_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    user_id: Mapped[UserId]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))  # the token's first characters, to tell feeds apart
    created_at: Mapped[CreatedAt]
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a calendar app fetched it (10 min steps)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThreadStatus(enum.StrEnum):
    pending = "pending"
    retrying = "retrying"  # an attempt was refused (a 429, a 5xx, no connection); RQ runs the next after a back-off
    created = "created"  # (the thread) / sent (the teams' post)
    sent = "sent"
    failed = "failed"  # refused for good, or out of attempts (the Jobs page can retry it)
    unknown = "unknown"  # Discord may have taken it (no answer after sending): never sent again


class PlanningThread(db.Model):
    """The Discord thread of a planning room, opened by the workspace's bot in its channel: the starter message
    (the room's link), the thread started from it, and the latest saved teams posted in it. One per room; the
    row is the truth of what Discord has (see `webapp.gamenight.discord_threads`)."""

    __tablename__ = "planning_threads"

    room_id: Mapped[int] = mapped_column(ForeignKey("planning_rooms.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(30))  # the channel set when the room opened
    name: Mapped[str] = mapped_column(String(100))
    nonce: Mapped[str] = mapped_column(String(16))  # the base of the messages' nonces (Discord drops a repeat)
    status: Mapped[ThreadStatus] = mapped_column(Enum(ThreadStatus, native_enum=False, length=16),
                                                 default=ThreadStatus.pending)
    error: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str | None] = mapped_column(String(30))  # the starter message in the channel
    message_tried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its first attempt
    thread_id: Mapped[str | None] = mapped_column(String(30))
    guild_id: Mapped[str | None] = mapped_column(String(30))
    # The teams' post: the save it is for, its round (each save posts once), when it was first tried, and how it went.
    teams_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    teams_round: Mapped[int] = mapped_column(default=0)
    teams_tried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    teams_posted_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    teams_status: Mapped[ThreadStatus | None] = mapped_column(Enum(ThreadStatus, native_enum=False, length=16))
    teams_error: Mapped[str] = mapped_column(String(300), default="")
    # The latest effect of each (a worker lost mid-call turns it `unknown`; the reconciler copies that here).
    effect_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_effects.id", ondelete="SET NULL"))
    teams_effect_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_effects.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]


# A schedule creates each night's campaign this many hours before its start (1 hour to a week; 24 by default).
HOURS_AHEAD_MIN, HOURS_AHEAD_MAX, HOURS_AHEAD_DEFAULT = 1, 168, 24


class NightSchedule(db.Model):
    """A promoter's weekly game night: on the chosen weekdays, at a local start time, its campaign is created
    `hours_ahead` hours before the start through the same service as a hand-made one. Two minimums, apart:
    `min_ready` holds a night back at its creation, `min_players` is the created campaign's quorum."""

    __tablename__ = "night_schedules"
    __table_args__ = (
        CheckConstraint(f"hours_ahead >= {HOURS_AHEAD_MIN} AND hours_ahead <= {HOURS_AHEAD_MAX}",
                        name="ck_night_schedules_hours_ahead"),
        CheckConstraint("min_ready IS NULL OR min_ready >= 1", name="ck_night_schedules_min_ready"),
        CheckConstraint(f"min_players IS NULL OR (min_players >= {MIN_PLAYERS_MIN} AND min_players <= "
                        f"{MIN_PLAYERS_MAX})", name="ck_night_schedules_min_players"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    promoter_id: Mapped[UserId]  # the campaigns are theirs; the schedule goes with them
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday … 6 = Sunday, ascending
    start_time: Mapped[str] = mapped_column(String(5))  # local HH:MM
    lead_minutes: Mapped[int]
    statuses: Mapped[list[str]] = mapped_column(JSON)
    min_ready: Mapped[int | None]  # fewer members available or looking: that night is not promoted
    min_players: Mapped[int | None]  # each night's campaign's quorum, checked at its reminder
    hours_ahead: Mapped[int] = mapped_column(default=HOURS_AHEAD_DEFAULT)
    paused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[CreatedAt]

    promoter: Mapped[User] = relationship()
    nights: Mapped[list[ScheduledNight]] = relationship(order_by="ScheduledNight.local_day",
                                                        cascade="all, delete-orphan", passive_deletes=True)


class NightStatus(enum.StrEnum):
    pending = "pending"  # its campaign is created at `create_at` (or it waits there for enough players)
    created = "created"  # the campaign exists (`campaign_id`)
    skipped = "skipped"  # the promoter skipped it, or the schedule was paused at its time
    too_few = "too_few"  # fewer than `min_ready` were available by the reminder time
    missed = "missed"  # no worker ran between `create_at` and the reminder time: not created late
    refused = "refused"  # a guard of campaigns.create said no (the promoter's day is taken, the role is gone…)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class ScheduledNight(db.Model):
    """One night of a schedule. At most one per schedule and local date: a creation caught up after an outage
    can happen once, never twice."""

    __tablename__ = "scheduled_nights"
    __table_args__ = (
        UniqueConstraint("schedule_id", "local_day", name="uq_scheduled_nights_schedule_day"),
        Index("ix_scheduled_nights_status_create_at", "status", "create_at"),
    )

    id: Mapped[IntPk]
    schedule_id: Mapped[int] = mapped_column(ForeignKey("night_schedules.id", ondelete="CASCADE"))
    workspace_id: Mapped[WorkspaceId]
    local_day: Mapped[date] = mapped_column(Date)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    create_at: Mapped[datetime] = mapped_column(UTCDateTime)  # start − hours_ahead
    status: Mapped[NightStatus] = mapped_column(Enum(NightStatus, native_enum=False, length=16),
                                                default=NightStatus.pending)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(String(300), default="")
    runs: Mapped[int] = mapped_column(default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a re-check's time (None: `create_at`)
    rq_job_id: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign | None] = relationship()
