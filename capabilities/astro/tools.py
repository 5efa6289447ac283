"""The astro tools. Scope is enforced twice: pushed into the query, checked on every result.

Backend failures (:class:`SourceError`, stray transport errors) become gateway errors in
:func:`_fetch`, the one place they are mapped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import httpx

from gateway.capability import ToolContext, tool
from gateway.errors import (
    Denied,
    InvalidArguments,
    NotFound,
    UpstreamError,
    UpstreamFailure,
    UpstreamTimeout,
    UpstreamUnavailable,
)

from .frames import AstroBackend, FrameBatch, FrameQuery, FrameSource, SourceError
from .ids import (
    decode_cursor,
    decode_session_id,
    encode_cursor,
    encode_older_than,
    encode_session_id,
    fingerprint,
)
from .schemas import (
    AstroConfig,
    AstroScope,
    GetSessionArgs,
    ListSessionsArgs,
    SessionDetail,
    SessionList,
    SessionSummary,
    TargetTotals,
    TargetTotalsArgs,
)
from .sessions import (
    Session,
    calibration_stats,
    filter_stats,
    gaps,
    group_sessions,
    night_bounds,
    night_of,
    quality,
    target_totals,
    temp_stats,
)

__all__ = ["TOOLS", "get_session", "list_sessions", "totals"]

MAX_FILES = 10


#: What an astro tool gets: its config and its rule's scope, typed.
Ctx = ToolContext[AstroConfig, AstroScope]


def _scope(ctx: Ctx) -> AstroScope:
    """The rule's scope; a rule without one limits nothing beyond the config."""
    return ctx.scope if ctx.scope is not None else AstroScope()


def _light(c: AstroConfig) -> str:
    return c.wide.light_value if c.layout == "wide" else c.nina.light_value


def _check_window(ctx: Ctx, start: date, end: date) -> None:
    c, scope = ctx.config, _scope(ctx)
    allowed = min(c.max_window_days, scope.max_window_days or c.max_window_days)
    if (end - start).days + 1 > allowed:
        ctx.notes["scope_violation"] = "window-too-long"
        raise Denied(f"The window may span at most {allowed} nights; narrow start/end.")


def _check_target(ctx: Ctx, target: str | None) -> None:
    if target is not None and not _scope(ctx).allows(target):
        ctx.notes["scope_violation"] = "target-not-allowed"
        raise Denied("This target is not permitted by policy.")


async def _fetch(ctx: Ctx, query: FrameQuery) -> FrameBatch:
    c = ctx.config
    source: FrameSource = ctx.client(AstroBackend).source
    try:
        batch = await source.fetch(query)
    except SourceError as e:
        note = "credentials rejected" if e.kind == "credentials" else e.internal
        raise UpstreamError(c.upstream, internal=f"{e.kind}: {note}") from None
    except UpstreamFailure:
        raise
    except httpx.TimeoutException:
        raise UpstreamTimeout(c.upstream, internal="timeout") from None
    except httpx.TransportError as e:
        raise UpstreamUnavailable(c.upstream, internal=type(e).__name__) from None
    ctx.notes["statements"] = ctx.notes.get("statements", 0) + batch.statements
    ctx.notes["rows"] = ctx.notes.get("rows", 0) + len(batch.frames)
    if batch.partial:
        ctx.partial = True
    return batch


def _in_scope(ctx: Ctx, sessions: list[Session]) -> list[Session]:
    scope = _scope(ctx)
    kept = [s for s in sessions if scope.allows(s.target)]
    if len(kept) != len(sessions):
        ctx.notes["scope_dropped"] = ctx.notes.get("scope_dropped", 0) + len(sessions) - len(kept)
    return kept


def _sessions(ctx: Ctx, batch: FrameBatch, target: str | None) -> list[Session]:
    """In-scope sessions of the asked target (re-checked: the query already asked for it)."""
    c = ctx.config
    tz = ZoneInfo(c.timezone)
    found = group_sessions(batch.frames, _light(c), tz, c.night_offset_hours)
    return [s for s in _in_scope(ctx, found) if target is None or s.target == target]


def _summary(ctx: Ctx, s: Session, fp: str) -> SessionSummary:
    c, hidden = ctx.config, _scope(ctx).hidden_fields
    found = gaps(s.frames, c.gap_minutes)
    per_filter = filter_stats(s.frames, detail=False)
    return SessionSummary(
        id=encode_session_id(s.night, s.target),
        night=s.night,
        target=s.target,
        filters=[f.filter for f in per_filter if f.filter is not None],
        frames=len(s.frames),
        integration_s=round(s.integration_s, 3),
        integration_by_filter=per_filter,
        first_frame=s.first_frame,
        last_frame_end=s.last_frame_end,
        interruptions=len(found),
        lost_minutes=round(sum(g.lost_minutes for g in found), 1),
        quality=quality(s.frames, c.rms_unit),
        camera=None if "camera" in hidden else s.camera,
        resume_cursor=encode_cursor(ctx, s.sort_key(), fp),
    )


@tool("astro_list_sessions", title="List imaging sessions", output=SessionList)
async def list_sessions(args: ListSessionsArgs, ctx: Ctx) -> SessionList:
    """Imaging sessions (one target on one night) between two nights, newest first, with
    frames, integration per filter, interruptions and a quality summary."""
    c, scope = ctx.config, _scope(ctx)
    _check_window(ctx, args.start, args.end)
    _check_target(ctx, args.target)
    page = args.limit
    if scope.max_sessions is not None and page > scope.max_sessions:
        ctx.notes["scope_violation"] = "too-many-sessions"
        raise Denied(f"At most {scope.max_sessions} sessions per call; lower limit.")
    fp = fingerprint(args.start, args.end, args.target, args.filter, page)
    last_night, after = _resume_point(ctx, args, fp)
    if last_night < args.start:
        return SessionList(items=[], next_cursor=None, partial=False)
    tz = ZoneInfo(c.timezone)
    start, end = night_bounds(args.start, last_night, tz, c.night_offset_hours)
    globs = tuple(scope.targets) if scope.targets is not None else None
    query = FrameQuery(start, end, args.target, globs, detail=True, limit=c.max_rows)
    batch = await _fetch(ctx, query)
    sessions = [s for s in _sessions(ctx, batch, args.target) if after is None or _key(s) < after]
    if args.filter is not None:
        sessions = [s for s in sessions if any(f.filter == args.filter for f in s.frames)]
    items, cursor = _page(ctx, batch, sessions, args, fp)
    return SessionList(
        items=[_summary(ctx, s, fp) for s in items], next_cursor=cursor, partial=batch.partial
    )


def _key(s: Session) -> tuple[date, int, str]:
    return (s.night, int(s.first_frame.timestamp() * 1000), s.target)


def _resume_point(
    ctx: Ctx, args: ListSessionsArgs, fp: str
) -> tuple[date, tuple[date, int, str] | None]:
    """(last night to fetch, key every returned session must sort before)."""
    if args.cursor is None:
        return args.end, None
    night, first_ms, target = decode_cursor(ctx, args.cursor, fp)
    if not args.start <= night <= args.end:
        raise InvalidArguments("Invalid cursor; use next_cursor from the previous page.")
    if (first_ms, target) == (0, ""):  # "older than night": that night is done
        return night - timedelta(days=1), (night, 0, "")
    return night, (night, first_ms, target)


def _page(
    ctx: Ctx,
    batch: FrameBatch,
    sessions: list[Session],
    args: ListSessionsArgs,
    fp: str,
) -> tuple[list[Session], str | None]:
    """One page and the cursor after it. When the row cap cut the answer, only nights newer
    than the cut are complete: serve those, and resume with the cut night. A cut inside the
    newest night fetched (one night has more rows than the cap) serves that night's sessions
    (the answer is marked partial) and resumes with the nights before it."""
    c = ctx.config
    tz = ZoneInfo(c.timezone)
    cut = batch.complete_after
    if not batch.partial:
        items = sessions[: args.limit]
        more = len(sessions) > args.limit
        return items, encode_cursor(ctx, items[-1].sort_key(), fp) if more else None
    if cut is None:  # cut somewhere unknown: nothing is known complete, stop here
        ctx.notes["cut_unknown"] = True
        return sessions[: args.limit], None
    cut_night = night_of(cut, tz, c.night_offset_hours)
    newest = max((night_of(f.start, tz, c.night_offset_hours) for f in batch.frames), default=None)
    if newest is not None and newest > cut_night:
        complete = [s for s in sessions if s.night > cut_night]
        items = complete[: args.limit]
        if len(complete) > args.limit:
            return items, encode_cursor(ctx, items[-1].sort_key(), fp)
        return items, encode_older_than(ctx, cut_night + timedelta(days=1), fp)
    ctx.notes["night_over_row_cap"] = cut_night.isoformat()
    items = sessions[: args.limit]
    if len(sessions) > args.limit:
        return items, encode_cursor(ctx, items[-1].sort_key(), fp)
    return items, encode_older_than(ctx, cut_night, fp) if cut_night > args.start else None


@tool("astro_get_session", title="Get one imaging session", output=SessionDetail)
async def get_session(args: GetSessionArgs, ctx: Ctx) -> SessionDetail:
    """One session in detail: per-filter frames, integration, HFR, stars, guiding RMS,
    sensor temperatures, gaps with lost minutes, calibration frames seen that night."""
    c, hidden = ctx.config, _scope(ctx).hidden_fields
    night, target = decode_session_id(args.session_id)
    _check_target(ctx, target)
    start, end = night_bounds(night, night, ZoneInfo(c.timezone), c.night_offset_hours)
    scope = _scope(ctx)
    globs = tuple(scope.targets) if scope.targets is not None else None
    query = FrameQuery(start, end, target, globs, calibration=True, detail=True, limit=c.max_rows)
    batch = await _fetch(ctx, query)
    found = [s for s in _sessions(ctx, batch, target) if s.night == night]
    if not found and batch.partial:  # the row cap went to calibration frames: lights alone
        lights = await _fetch(ctx, replace(query, calibration=False))
        found = [s for s in _sessions(ctx, lights, target) if s.night == night]
    if not found:
        raise NotFound("No such session; list sessions again.")
    s = found[0]
    lost = gaps(s.frames, c.gap_minutes)
    files = [f.file for f in s.frames if f.file]
    show_files = "file" not in hidden
    return SessionDetail(
        id=args.session_id,
        night=s.night,
        target=s.target,
        frames=len(s.frames),
        integration_s=round(s.integration_s, 3),
        per_filter=filter_stats(s.frames, detail=True),
        first_frame=s.first_frame,
        last_frame_end=s.last_frame_end,
        quality=quality(s.frames, c.rms_unit),
        sensor_temp=temp_stats(s.frames),
        gaps=lost,
        lost_minutes=round(sum(g.lost_minutes for g in lost), 1),
        calibration=calibration_stats(batch.frames, _light(c)),
        camera=None if "camera" in hidden else s.camera,
        files=files[:MAX_FILES] if show_files else [],
        files_total=len(files) if show_files else 0,
        partial=batch.partial,
    )


@tool("astro_target_totals", title="Integration totals per target", output=TargetTotals)
async def totals(args: TargetTotalsArgs, ctx: Ctx) -> TargetTotals:
    """Integration per target and filter, nights imaged and last night imaged, over a
    window of nights (default: the last year, or what the policy allows)."""
    c, scope = ctx.config, _scope(ctx)
    tz = ZoneInfo(c.timezone)
    end = args.end or night_of(ctx.now, tz, c.night_offset_hours)
    span = min(c.totals_default_days, scope.max_window_days or c.max_window_days)
    start = args.start or end - timedelta(days=span - 1)
    if start > end:
        raise InvalidArguments("start must not be after end.")
    _check_window(ctx, start, end)
    _check_target(ctx, args.target)
    t0, t1 = night_bounds(start, end, tz, c.night_offset_hours)
    globs = tuple(scope.targets) if scope.targets is not None else None
    batch = await _fetch(
        ctx, FrameQuery(t0, t1, args.target, globs, detail=False, limit=c.max_rows)
    )
    items = target_totals(_sessions(ctx, batch, args.target))
    return TargetTotals(items=items, first_night=start, last_night=end, partial=batch.partial)


TOOLS = (list_sessions, get_session, totals)
