//! What people see: `wait`'s live line and its line per change, the table of
//! `status` and `list`. The same figures as the JSON, laid out for reading;
//! colour only on a terminal, and never under NO_COLOR.

use crate::engine::step::position;
use crate::model::{UtcTime, Weight};
use crate::policy::Policy;
use crate::report::{GroupResult, Reported, TargetResult};
use crate::wait::{End, GroupPoll, Poll, Seen, Stage};

/// Colour or none: <https://no-color.org> (set and not empty: none), and
/// none for a dumb terminal or anything not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub fn for_terminal(is_terminal: bool, no_color: Option<&str>, term: Option<&str>) -> Self {
        let refused = no_color.is_some_and(|v| !v.is_empty()) || term == Some("dumb");
        Style {
            colour: is_terminal && !refused,
        }
    }

    fn paint(self, tone: Tone, s: &str) -> String {
        if !self.colour || s.is_empty() {
            return s.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Waiting => "33",
            Tone::Quiet => "2",
            Tone::Strong => "1",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }
}

#[derive(Debug, Clone, Copy)]
enum Tone {
    Good,
    Bad,
    Waiting,
    Quiet,
    Strong,
}

fn decision_tone(d: Reported) -> Tone {
    match d.label() {
        "promoted" | "advanced" | "started" | "approved" | "resumed" | "watch_passed"
        | "check_passed" => Tone::Good,
        "rolled_back" | "reverted" | "error" | "conflict" => Tone::Bad,
        "idle" => Tone::Quiet,
        _ => Tone::Waiting,
    }
}

fn end_tone(end: &End) -> Tone {
    match end.exit_code() {
        0 => Tone::Good,
        4 | 5 => Tone::Waiting,
        _ => Tone::Bad,
    }
}

/// `▕█████░░░░░▏`: `width` cells, filled to the weight.
pub fn bar(weight: Weight, width: usize) -> String {
    let filled = ((weight.fraction() * width as f64).round() as usize).min(width);
    let filled = if filled == 0 && !weight.is_zero() {
        1
    } else {
        filled
    };
    format!("▕{}{}▏", "█".repeat(filled), "░".repeat(width - filled))
}

/// The weight green has as a percent: "25%", "0.5%".
fn percent(w: Weight) -> String {
    format!("{}%", crate::model::number(w.percent()))
}

/// "step 2/4", or what stands in for a step.
fn step(stage: Stage, weight: Weight, policy: &Policy) -> String {
    match stage {
        Stage::Checking(c) => c.to_string(),
        Stage::Watching => "watching after the promotion".to_string(),
        Stage::NotStarted { .. } => "not started".to_string(),
        _ => {
            let (at, of) = position(&policy.steps, weight);
            format!("step {at}/{of}")
        }
    }
}

fn hhmmss(t: UtcTime) -> String {
    let s = t.to_string();
    s.get(11..19).unwrap_or(&s).to_string()
}

/// Cuts `s` to `max` characters (not bytes), marking the cut.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The parts of a poll every layout shows.
struct Parts {
    stage: Option<Stage>,
    weight: Weight,
    decision: Option<Reported>,
    said: String,
    estimate: Option<String>,
}

fn parts(p: &Poll) -> Parts {
    let stage = match p.seen {
        Some(Seen::Going(s)) => Some(s),
        _ => None,
    };
    match &p.status {
        Some(r) => Parts {
            stage,
            weight: r.weight_before,
            decision: Some(r.decision),
            said: r.reason.clone(),
            estimate: r
                .estimate
                .as_ref()
                .and_then(|e| e.promotion_in_minutes.map(|m| format!("~{m}m left"))),
        },
        None => Parts {
            stage,
            weight: Weight::ZERO,
            decision: None,
            said: p.note.clone(),
            estimate: None,
        },
    }
}

/// The live line on a terminal, redrawn at every poll; never wider than
/// `width` (a wrapped line could not be redrawn in place).
pub fn live_line(p: &Poll, policy: &Policy, style: Style, width: usize) -> String {
    let x = parts(p);
    let head = format!("{}:{} v{}", p.function, p.alias, p.version);
    let Some(stage) = x.stage else {
        return fit(&format!("{head}  {}", x.said), width);
    };
    let step = step(stage, x.weight, policy);
    let decision = x.decision.map(|d| d.label()).unwrap_or(stage.label());
    // The decision is the one the next tick would make (a dry run), not one
    // made: said so, or "promoted" beside a bar at 50% would mislead.
    let next = if x.decision.is_some() {
        "next tick: "
    } else {
        ""
    };
    let mid = format!(
        " {} {:>5}  {step}  {next}",
        bar(x.weight, 20),
        percent(x.weight)
    );
    let tail = format!(
        "{}  {}",
        x.estimate.map(|e| format!("  {e}")).unwrap_or_default(),
        hhmmss(p.at)
    );
    let fixed = [&head, &mid, decision, &tail]
        .iter()
        .map(|s| s.chars().count())
        .sum::<usize>();
    if fixed > width {
        return fit(&format!("{head}{mid}{decision}{tail}"), width);
    }
    // The reason takes what room is left; colour goes on after the
    // measuring, so escapes never count as width.
    let room = width - fixed;
    let said = if room > 10 {
        format!(": {}", fit(&x.said, room - 2))
    } else {
        String::new()
    };
    let tone = x.decision.map(decision_tone).unwrap_or(Tone::Waiting);
    format!(
        "{}{mid}{}{said}{tail}",
        style.paint(Tone::Strong, &head),
        style.paint(tone, decision)
    )
}

/// One line for a change, for logs and pipelines: whole, self-contained.
pub fn change_line(p: &Poll, policy: &Policy) -> String {
    let head = format!("{} {}:{} v{}", p.at, p.function, p.alias, p.version);
    format!("{head} {}", change(p, policy))
}

/// A change above the live line on a terminal, which already names the
/// target: the time of day, then what changed.
pub fn change_line_short(p: &Poll, policy: &Policy) -> String {
    format!("{}  {}", hhmmss(p.at), change(p, policy))
}

fn change(p: &Poll, policy: &Policy) -> String {
    let x = parts(p);
    match (x.stage, x.decision) {
        (Some(stage), Some(d)) => format!(
            "{} at {} ({}): next tick: {d}: {}",
            stage.label(),
            percent(x.weight),
            step(stage, x.weight, policy),
            x.said
        ),
        (Some(stage), None) => format!("{}: {}", stage.label(), x.said),
        (None, _) => format!("{}: {}", p.state, x.said),
    }
}

/// The last line: how it ended and the exit code.
pub fn end_line(end: &End, last: Option<&Poll>, style: Style) -> String {
    let said = match end {
        End::Finished(_) => last.map(|p| p.note.clone()).unwrap_or_default(),
        End::TimedOut(stage) => {
            let at = last.map(change_tail).unwrap_or_default();
            format!(
                "the timeout ended with the rollout {}{at}",
                stage.label().replace('_', " ")
            )
        }
        End::Failed(e) => e.clone(),
    };
    format!(
        "{} (exit {}): {said}",
        style.paint(end_tone(end), end.label()),
        end.exit_code()
    )
}

fn change_tail(p: &Poll) -> String {
    match &p.status {
        Some(r) => format!(
            " at {}: next tick: {}: {}",
            percent(r.weight_before),
            r.decision,
            r.reason
        ),
        None => format!(": {}", p.note),
    }
}

fn group_tone(state: &str) -> Tone {
    match state {
        "promoted" | "done" => Tone::Good,
        "rolled_back" | "rolling_back" | "reverted" | "error" => Tone::Bad,
        "idle" => Tone::Quiet,
        _ => Tone::Waiting,
    }
}

/// A group's change: its state and reason, then a line for each member
/// that changed since `last` (every member at the first poll).
pub fn group_change_lines(p: &GroupPoll, last: Option<&GroupPoll>, policy: &Policy) -> String {
    let mut out = format!("{} group {} {}: {}", p.at, p.group, p.state, p.reason);
    for (i, m) in p.members.iter().enumerate() {
        let before = last.and_then(|l| l.members.get(i));
        if before.is_none_or(|b| m.differs(b)) {
            out.push_str("\n  ");
            out.push_str(&change_line(m, policy));
        }
    }
    out
}

/// The group's live line: its state, then each member's weight or end.
pub fn group_live_line(p: &GroupPoll, style: Style, width: usize) -> String {
    let head = format!("group {}", p.group);
    let members: Vec<String> = p
        .members
        .iter()
        .map(|m| {
            let x = parts(m);
            let at = match (x.stage, &m.status) {
                (Some(_), Some(_)) => percent(x.weight),
                _ => m.state.replace('_', " "),
            };
            format!("{} v{} {at}", m.function, m.version)
        })
        .collect();
    let tail = format!("  {}", hhmmss(p.at));
    let line = fit(
        &format!("{head}  {}  {}", p.state, members.join(" · ")),
        width.saturating_sub(tail.chars().count()),
    );
    // Paint after fitting, so escapes never count as width.
    let plain_head = format!("{head}  {}", p.state);
    let painted = format!(
        "{}  {}",
        style.paint(Tone::Strong, &head),
        style.paint(group_tone(p.state), p.state)
    );
    format!("{}{tail}", line.replacen(&plain_head, &painted, 1))
}

/// A group's wait's last line: how it ended, the exit code, and the group's
/// last word.
pub fn group_end_line(end: &End, last: Option<&GroupPoll>, style: Style) -> String {
    let said = match end {
        End::Finished(_) => last.map(|p| p.reason.clone()).unwrap_or_default(),
        End::TimedOut(_) => last.map_or(String::new(), |p| {
            format!(
                "the timeout ended with the group {}: {}",
                p.state.replace('_', " "),
                p.reason
            )
        }),
        End::Failed(e) => e.clone(),
    };
    format!(
        "{} (exit {}): {said}",
        style.paint(end_tone(end), end.label()),
        end.exit_code()
    )
}

/// A line for each release group of a `status` or `list`, above the table.
pub fn groups(groups: &[GroupResult], style: Style) -> String {
    let mut out = String::new();
    for g in groups {
        let started = g
            .started
            .map(|t| format!(" (started {t})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {}{started}: {} member{}\n",
            style.paint(Tone::Strong, &format!("group {}", g.group)),
            style.paint(group_tone(g.state), g.state),
            g.members.len(),
            if g.members.len() == 1 { "" } else { "s" }
        ));
        out.push_str(&style.paint(Tone::Quiet, &format!("  {}", g.reason)));
        out.push_str("\n\n");
    }
    out
}

/// The table of `status` and `list`: one row per target, its reason on the
/// line under it.
pub fn table(results: &[TargetResult], style: Style) -> String {
    let grouped = results.iter().any(|r| r.group.is_some());
    let mut header = vec![
        "FUNCTION",
        "ALIAS",
        "DECISION",
        "STABLE",
        "GREEN",
        "WEIGHT",
        "GREEN ERR",
        "BLUE ERR",
        "GREEN LAT",
        "BLUE LAT",
        "ESTIMATE",
    ];
    let mut rows: Vec<Vec<String>> = results.iter().map(|r| row(r).to_vec()).collect();
    // The decision's column, painted: after the group's, when there is one.
    let mut decision_col = 2;
    if grouped {
        header.insert(0, "GROUP");
        decision_col += 1;
        for (cells, r) in rows.iter_mut().zip(results) {
            cells.insert(
                0,
                r.group.as_ref().map_or("-".into(), |g| g.name.to_string()),
            );
        }
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String], paint: &dyn Fn(usize, &str) -> String| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            s.push_str(&paint(i, cell));
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = line(&head, &|_, c| style.paint(Tone::Strong, c));
    out.push('\n');
    for (r, cells) in results.iter().zip(&rows) {
        let tone = decision_tone(r.decision);
        out.push_str(&line(cells, &|i, c| {
            if i == decision_col {
                style.paint(tone, c)
            } else {
                c.to_string()
            }
        }));
        out.push('\n');
        out.push_str(&style.paint(Tone::Quiet, &format!("  {}", r.reason)));
        out.push('\n');
    }
    out
}

fn row(r: &TargetResult) -> [String; 11] {
    let v = |x: Option<crate::model::Version>| x.map_or("-".to_string(), |v| v.to_string());
    let health = r.health.as_ref();
    let rate = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x}%"));
    let ms = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x}ms"));
    [
        r.function.clone(),
        r.alias.clone(),
        r.decision.label().to_string(),
        v(r.stable),
        v(r.green),
        match r.green {
            Some(_) if r.weight_before != r.weight_after => {
                format!("{} → {}", percent(r.weight_before), percent(r.weight_after))
            }
            Some(_) => percent(r.weight_before),
            None => "-".to_string(),
        },
        rate(health.and_then(|h| h.green.error_rate)),
        rate(health.and_then(|h| h.blue.error_rate)),
        ms(health.and_then(|h| h.green.latency_ms)),
        ms(health.and_then(|h| h.blue.latency_ms)),
        r.estimate
            .as_ref()
            .and_then(|e| e.promotion_in_minutes)
            .map_or("-".to_string(), |m| format!("~{m}m")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: f64) -> Weight {
        Weight::from_percent(p).unwrap()
    }

    #[test]
    fn no_color_and_dumb_terminals_get_no_escapes() {
        assert!(Style::for_terminal(true, None, Some("xterm-256color")).colour);
        assert!(!Style::for_terminal(true, Some("1"), None).colour);
        // An empty NO_COLOR does not count, as no-color.org says.
        assert!(Style::for_terminal(true, Some(""), None).colour);
        assert!(!Style::for_terminal(true, None, Some("dumb")).colour);
        assert!(!Style::for_terminal(false, None, None).colour);
    }

    #[test]
    fn the_bar_shows_any_weight_and_never_overflows() {
        assert_eq!(bar(w(0.0), 10), "▕░░░░░░░░░░▏");
        assert_eq!(bar(w(0.5), 10), "▕█░░░░░░░░░▏", "a sliver still shows");
        assert_eq!(bar(w(25.0), 20).matches('█').count(), 5);
        assert_eq!(bar(w(100.0), 10), "▕██████████▏");
    }

    #[test]
    fn fitting_counts_characters() {
        assert_eq!(fit("ééé", 3), "ééé");
        assert_eq!(fit("éééé", 3), "éé…");
    }

    fn group_poll() -> GroupPoll {
        let at = UtcTime::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        let member = |f: &str, state: &'static str| Poll {
            at,
            function: f.into(),
            alias: "live".into(),
            version: crate::model::Version::new(2).unwrap(),
            state,
            status: None,
            note: format!("{f} note"),
            seen: None,
        };
        GroupPoll {
            at,
            group: crate::model::GroupName::new("checkout").unwrap(),
            state: "rolling_back",
            reason: "api:live went back".into(),
            members: vec![member("api", "rolled_back"), member("worker", "rolling")],
        }
    }

    #[test]
    fn a_group_line_names_each_member_and_fits_the_terminal() {
        let p = group_poll();
        let plain = group_live_line(&p, Style { colour: false }, 200);
        assert_eq!(
            plain,
            "group checkout  rolling_back  api v2 rolled back · worker v2 rolling  10:00:00"
        );
        for width in [20, 40, 60] {
            let line = group_live_line(&p, Style { colour: true }, width);
            let shown: String = strip_escapes(&line);
            assert!(shown.chars().count() <= width, "{width}: {shown:?}");
        }
        let painted = group_live_line(&p, Style { colour: true }, 200);
        assert!(
            painted.contains("\x1b[31mrolling_back\x1b[0m"),
            "{painted:?}"
        );
    }

    #[test]
    fn a_group_change_shows_only_the_members_that_changed() {
        let p = group_poll();
        let policy = Policy::defaults();
        let first = group_change_lines(&p, None, &policy);
        assert_eq!(first.lines().count(), 3, "{first}");
        assert!(first.starts_with("2026-12-01T10:00:00Z group checkout rolling_back: api:live"));
        let mut next = p.clone();
        next.members[1].state = "rolled_back";
        next.members[1].note = "worker back".into();
        let second = group_change_lines(&next, Some(&p), &policy);
        assert_eq!(second.lines().count(), 2, "{second}");
        assert!(
            second.lines().nth(1).unwrap().contains("worker:live"),
            "{second}"
        );
    }

    #[test]
    fn a_table_of_members_has_the_group_column() {
        let at = UtcTime::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        let t = crate::model::Target::new("api", "live").unwrap();
        let mut r = TargetResult::failed(&t, Reported::Error, None, "why".into(), true);
        r.group = Some(crate::report::MemberOf {
            name: crate::model::GroupName::new("checkout").unwrap(),
            state: "rolling",
        });
        let alone = TargetResult::failed(
            &crate::model::Target::new("solo", "live").unwrap(),
            Reported::Error,
            None,
            "why".into(),
            true,
        );
        let table = table(&[r, alone], Style { colour: false });
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("GROUP     FUNCTION"), "{table}");
        assert!(lines[1].starts_with("checkout  api"), "{table}");
        assert!(lines[3].starts_with("-         solo"), "{table}");
        let groups = groups(
            &[GroupResult {
                group: crate::model::GroupName::new("checkout").unwrap(),
                state: "rolling",
                started: Some(at),
                reason: "all at 10%".into(),
                members: vec!["api:live".into()],
            }],
            Style { colour: false },
        );
        assert_eq!(
            groups,
            "group checkout rolling (started 2026-12-01T10:00:00Z): 1 member\n  all at 10%\n\n"
        );
    }

    fn strip_escapes(s: &str) -> String {
        let mut out = String::new();
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    }
}
