//! Watch output: compact human lines, or NDJSON events (`sample`,
//! `finding`, `resolved`, `pace`, `netns_changed`, `summary`) with the field
//! names of `dump --json`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;

use super::summary::Summary;
use super::track::{Changes, Escalation, ListenerChange, ProcessChange, Reason};
use crate::analyze::Finding;
use crate::model::pace::PaceChange;
use crate::model::{NetnsInfo, Snapshot};
use crate::output::escape::{self, endpoint_text};
use crate::output::json::{self, FindingJson, NetnsJson};
use crate::output::style::{Paint, Style};
use crate::output::wording::{hint, message, subject_text};
use crate::output::{evidence, time};

/// Where and how events are written.
pub(super) struct Printer<'a> {
    pub out: &'a mut dyn Write,
    pub json: bool,
    pub style: Style,
    /// Labels of every namespace seen (`--all-netns`), kept so a finding
    /// that resolves after its namespace is gone is still named.
    pub labels: HashMap<u64, NetnsJson<'static>>,
}

#[derive(Serialize)]
struct Event<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    time: String,
    #[serde(flatten)]
    body: &'a T,
}

fn clock(t: SystemTime) -> String {
    let stamp = time::rfc3339(t);
    stamp.get(11..19).unwrap_or(&stamp).to_string()
}

fn signed(d: i64) -> String {
    format!("{d:+}")
}

impl Printer<'_> {
    fn event<T: Serialize>(&mut self, kind: &'static str, at: SystemTime, body: &T) -> io::Result<()> {
        let event = Event { kind, time: time::rfc3339_millis(at), body };
        serde_json::to_writer(&mut *self.out, &event)?;
        writeln!(self.out)
    }

    /// Remembers the labels of the namespaces of this sample.
    pub(super) fn namespaces(&mut self, snapshot: &Snapshot) {
        for ns in &snapshot.namespaces {
            if let Some(labels) = json::netns(snapshot, ns.inode) {
                self.labels.insert(ns.inode, labels.into_owned());
            }
        }
    }

    fn netns_of(&self, f: &Finding) -> Option<&NetnsJson<'static>> {
        self.labels.get(&f.netns?)
    }

    /// The summary as JSON, each finding with its `netns` object.
    fn with_netns(&self, s: &Summary) -> io::Result<serde_json::Value> {
        let mut value = serde_json::to_value(s)?;
        for (key, findings) in [("leaks", &s.leaks), ("findings", &s.findings)] {
            let Some(serde_json::Value::Array(items)) = value.get_mut(key) else { continue };
            for (item, f) in items.iter_mut().zip(findings) {
                if let (Some(netns), serde_json::Value::Object(map)) = (self.netns_of(f), item) {
                    map.insert("netns".into(), serde_json::to_value(netns)?);
                }
            }
        }
        Ok(value)
    }

    /// ` [NETNS]` after a subject, or nothing.
    fn tag(netns: Option<&NetnsJson>) -> String {
        netns.map_or(String::new(), |n| format!(" [{}]", n.column()))
    }

    pub(super) fn start(&mut self, what: &str) -> io::Result<()> {
        match self.json {
            true => Ok(()),
            false => writeln!(self.out, "{}", self.style.paint(Paint::Heading, what)),
        }
    }

    /// One interval: every tracked entity in JSON; changed ones (or a
    /// heartbeat) for humans.
    pub(super) fn sample(&mut self, at: SystemTime, changes: &Changes, heartbeat: bool) -> io::Result<()> {
        if self.json {
            return self.event("sample", at, changes);
        }
        let t = clock(at);
        let mut printed = false;
        for p in changes.processes.iter().filter(|p| p.changed) {
            writeln!(self.out, "{t}  {}{}", process_line(p), Self::tag(p.netns.as_ref()))?;
            printed = true;
        }
        for l in changes.listeners.iter().filter(|l| l.changed) {
            writeln!(self.out, "{t}  {}{}", self.listener_line(l), Self::tag(l.netns.as_ref()))?;
            printed = true;
        }
        for g in &changes.gone_processes {
            let why = match g.reason {
                "exited" => "exited",
                _ => "holds no selected socket any more",
            };
            writeln!(self.out, "{t}  pid {} {} {why}", g.pid, crate::output::escape::text(&g.comm))?;
            printed = true;
        }
        for g in &changes.gone_listeners {
            writeln!(self.out, "{t}  {} {} closed", g.proto, g.local)?;
            printed = true;
        }
        let own = std::iter::once((&changes.counters, None));
        let others = changes.netns_counters.iter().map(|n| (&n.counters, Some(&n.netns)));
        for (counters, netns) in own.chain(others) {
            let moved: Vec<String> = counters
                .values()
                .flat_map(|c| c.iter())
                .filter(|(_, c)| c.delta != 0)
                .map(|(name, c)| format!("{name} {}", signed(c.delta)))
                .collect();
            if !moved.is_empty() {
                writeln!(self.out, "{t}  kernel  {}{}", moved.join("  "), Self::tag(netns))?;
                printed = true;
            }
        }
        if !printed && heartbeat {
            writeln!(self.out, "{t}  {}", self.style.paint(Paint::Dim, "no change"))?;
        }
        Ok(())
    }

    fn listener_line(&self, l: &ListenerChange) -> String {
        let x = &l.listener;
        let mark = if x.full {
            self.style.paint(Paint::Critical, " FULL").into_owned()
        } else if x.near_full {
            self.style.paint(Paint::Warning, " NEAR").into_owned()
        } else {
            String::new()
        };
        let drops = match (x.drops, l.drops_delta) {
            (Some(d), Some(delta)) if delta != 0 => format!("  drops {d} ({})", signed(delta)),
            (Some(d), _) => format!("  drops {d}"),
            _ => String::new(),
        };
        let queue_delta = match l.accept_queue_delta {
            Some(d) if d != 0 => format!(" ({})", signed(d)),
            _ => String::new(),
        };
        format!(
            "{} {}  accept {}/{}{queue_delta}{mark}{drops}  {}",
            x.proto.netid(),
            endpoint_text(&x.local),
            x.accept_queue,
            x.backlog,
            crate::output::escape::text(&l.owners)
        )
    }

    /// The target now names another namespace (deleted and re-created, or
    /// the process moved): what follows is read from the new one.
    pub(super) fn netns_changed(&mut self, at: SystemTime, netns: &NetnsInfo, from: u64) -> io::Result<()> {
        #[derive(Serialize)]
        struct Changed<'a> {
            netns: &'a str,
            from: u64,
            to: Option<u64>,
        }
        let label = netns.label.as_deref().unwrap_or("");
        if self.json {
            return self.event("netns_changed", at, &Changed { netns: label, from, to: netns.inode });
        }
        let to = netns.inode.map_or("?".to_string(), |i| i.to_string());
        let text = format!(
            "NETNS --netns {} now names another namespace: net:[{from}] -> net:[{to}]; history restarts",
            escape::text(label)
        );
        writeln!(self.out, "{}  {}", clock(at), self.style.paint(Paint::Warning, &text))
    }

    /// A finding that starts holding, or (with its escalation) one announced again.
    pub(super) fn finding(
        &mut self,
        at: SystemTime,
        f: &Finding,
        escalation: Option<&Escalation>,
    ) -> io::Result<()> {
        let netns = self.netns_of(f).cloned();
        if self.json {
            #[derive(Serialize)]
            struct Announced<'a> {
                #[serde(flatten)]
                finding: FindingJson<'a>,
                #[serde(skip_serializing_if = "Option::is_none")]
                escalation: Option<&'a Escalation>,
            }
            let finding = FindingJson { netns, ..FindingJson::new(f) };
            return self.event("finding", at, &Announced { finding, escalation });
        }
        let tag = self.style.paint(Paint::of(f.severity), f.severity.label()).into_owned();
        let (kind, subject) = (f.kind().name(), subject_text(&f.subject));
        let again = escalation.map_or(String::new(), |e| format!(" (again: {})", escalation_text(e)));
        let where_ = Self::tag(netns.as_ref());
        writeln!(self.out, "{}  FINDING {tag} {kind} {subject}{where_}: {}{again}", clock(at), message(f))?;
        writeln!(self.out, "          evidence: {}", evidence::text(&f.evidence))?;
        writeln!(self.out, "          {}", self.style.paint(Paint::Dim, &format!("hint: {}", hint(f))))
    }

    pub(super) fn resolved(&mut self, at: SystemTime, f: &Finding, samples: u32) -> io::Result<()> {
        #[derive(Serialize)]
        struct Resolved<'a> {
            kind: &'a str,
            subject: String,
            samples: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            netns: Option<NetnsJson<'static>>,
        }
        let netns = self.netns_of(f).cloned();
        if self.json {
            let body = Resolved { kind: f.kind().name(), subject: subject_text(&f.subject), samples, netns };
            return self.event("resolved", at, &body);
        }
        let (kind, subject) = (f.kind().name(), subject_text(&f.subject));
        let where_ = Self::tag(netns.as_ref());
        let s = crate::output::wording::plural(u64::from(samples));
        writeln!(self.out, "{}  RESOLVED {kind} {subject}{where_} (held {samples} sample{s})", clock(at))
    }

    /// The interval stretched (refreshes got expensive) or came back.
    pub(super) fn pace(&mut self, at: SystemTime, change: PaceChange) -> io::Result<()> {
        #[derive(Serialize)]
        struct PaceJson {
            stretched: bool,
            interval_ms: f64,
            asked_ms: f64,
            cost_ms: f64,
        }
        let (PaceChange::Stretched(p) | PaceChange::Restored(p)) = change;
        let ms = |d: std::time::Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        if self.json {
            let body = PaceJson {
                stretched: p.is_stretched(),
                interval_ms: ms(p.effective),
                asked_ms: ms(p.asked),
                cost_ms: ms(p.cost),
            };
            return self.event("pace", at, &body);
        }
        let cost = time::short_duration(p.cost);
        let line = match change {
            PaceChange::Stretched(_) => format!(
                "interval stretched to {}: a refresh costs {cost}, kept under 20% of one core",
                time::interval_text(p.effective)
            ),
            PaceChange::Restored(_) => {
                format!("interval back to {} (a refresh costs {cost})", time::interval_text(p.effective))
            }
        };
        writeln!(self.out, "{}  {}", clock(at), self.style.paint(Paint::Dim, &line))
    }

    pub(super) fn summary(&mut self, at: SystemTime, s: &Summary) -> io::Result<()> {
        if self.json {
            return self.event("summary", at, &self.with_netns(s)?);
        }
        let head = format!(
            "summary: {} sample{} over {:.0} s",
            s.samples,
            crate::output::wording::plural(s.samples),
            s.duration_s
        );
        writeln!(self.out, "{}", self.style.paint(Paint::Heading, &head))?;
        for g in &s.grew {
            writeln!(self.out, "grew    {}", g.text())?;
        }
        if s.grew.is_empty() {
            writeln!(self.out, "grew    nothing tracked grew")?;
        }
        for d in &s.dropped {
            let (proto, local, where_) =
                (d.proto.netid(), endpoint_text(&d.local), Self::tag(d.netns.as_ref()));
            writeln!(
                self.out,
                "dropped {proto} {local}{where_}  drops {} → {} (+{})",
                d.from,
                d.to,
                d.to - d.from
            )?;
        }
        for f in &s.leaks {
            writeln!(self.out, "leak    {}", finding_line(f, &Self::tag(self.netns_of(f))))?;
        }
        if s.leaks.is_empty() {
            writeln!(self.out, "leaks   none")?;
        }
        for f in s.findings.iter().filter(|f| !crate::analyze::leaks::is_leak(f.kind())) {
            writeln!(self.out, "seen    {}", finding_line(f, &Self::tag(self.netns_of(f))))?;
        }
        for q in &s.peak_queues {
            let full = if q.full { " FULL" } else { "" };
            let (proto, local) = (q.proto.netid(), endpoint_text(&q.local));
            let where_ = Self::tag(q.netns.as_ref());
            writeln!(
                self.out,
                "peak    {proto} {local}{where_}  accept {}/{}{full}",
                q.accept_queue, q.backlog
            )?;
        }
        for p in s.peak_fds.iter().filter(|p| p.fd_limit.is_some_and(|l| u64::from(p.fds) * 2 >= l)) {
            let limit = p.fd_limit.map_or("unlimited".into(), |l| l.to_string());
            writeln!(self.out, "peak    pid {} {}  fds {}/{limit}", p.pid, escape::text(&p.comm), p.fds)?;
        }
        for w in &s.worst {
            writeln!(self.out, "worst   {w}")?;
        }
        Ok(())
    }
}

/// `SEVERITY kind subject: message`, for the summary.
/// `WARNING kind subject [netns]: message`; `tag` is the namespace part.
fn finding_line(f: &Finding, tag: &str) -> String {
    let (kind, subject) = (f.kind().name(), subject_text(&f.subject));
    format!("{} {kind} {subject}{tag}: {}", f.severity.label(), message(f))
}

/// Why a finding is announced again, for people.
fn escalation_text(e: &Escalation) -> String {
    let expected = e.expected_eta_s.map_or(String::new(), |x| format!(", ~{x:.0} s expected"));
    match e.reason {
        Reason::SeverityRose => format!("was {}", e.was.label()),
        Reason::LimitReached => "the limit is reached".to_string(),
        Reason::EtaChanged => format!("the time to the limit changed{expected}"),
    }
}

fn process_line(p: &ProcessChange) -> String {
    let mut parts = vec![format!("pid {} {}", p.pid, escape::text(&p.comm))];
    if let Some(state) = p.state.filter(|s| s.cannot_run()) {
        parts.push(state.describe().to_uppercase());
    }
    for (state, n) in &p.sockets_by_state {
        match p.deltas.get(state) {
            Some(d) => parts.push(format!("{state} {n} ({})", signed(*d))),
            None if *n > 0 => parts.push(format!("{state} {n}")),
            None => {}
        }
    }
    for (state, d) in p.deltas.iter().filter(|(s, _)| !p.sockets_by_state.contains_key(*s)) {
        parts.push(format!("{state} 0 ({})", signed(*d)));
    }
    let limit = p.fd_limit.and_then(|l| l.value()).map_or("unlimited".to_string(), |l| l.to_string());
    match (p.fds, p.fds_delta) {
        (Some(n), Some(d)) if d != 0 => parts.push(format!("fds {n}/{limit} ({})", signed(d))),
        (Some(n), _) => parts.push(format!("fds {n}/{limit}")),
        (None, _) => parts.push("fds ? (not root)".to_string()),
    }
    parts.join("  ")
}
