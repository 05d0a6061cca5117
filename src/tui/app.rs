//! The dashboard's whole state. The UI thread owns it; keys and snapshots
//! change it ([`super::keys`], [`App::apply`]); drawing only reads it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::analyze::finding::SubjectKey;
use crate::analyze::history::History;
use crate::analyze::leaks::{self, LeakThresholds};
use crate::analyze::netns::{self, NetnsTrouble};
use crate::analyze::summary::{self, ProcessSummary};
use crate::analyze::{Analysis, Finding, FindingKind, Severity, Subject, Thresholds};
use crate::model::pace::Pace;
use crate::model::{Snapshot, Socket, Sysctls};

use super::rows::{self, ConnectionSort, GroupBy, ListenerSort, ProcessSort};

/// The screens, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tab {
    Overview,
    Listeners,
    Connections,
    Processes,
    Sysctls,
}

pub(crate) const TABS: [Tab; 5] =
    [Tab::Overview, Tab::Listeners, Tab::Connections, Tab::Processes, Tab::Sysctls];

impl Tab {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Listeners => "Listeners",
            Tab::Connections => "Connections",
            Tab::Processes => "Processes",
            Tab::Sysctls => "Sysctls",
        }
    }

    /// A title for narrow terminals.
    pub(crate) fn short_title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Listeners => "Listen",
            Tab::Connections => "Conns",
            Tab::Processes => "Procs",
            Tab::Sysctls => "Sysctl",
        }
    }

    pub(crate) fn index(self) -> usize {
        TABS.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What the detail pane shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    Finding(usize),
    Listener(u64),
    Process(u32),
    Socket(usize),
}

/// A selection and the first visible row of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

impl Cursor {
    /// Moves by `delta` rows within `len`, keeping the selection visible in `page` rows.
    pub(crate) fn step(&mut self, delta: isize, len: usize, page: usize) {
        let last = len.saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
        self.keep_visible(page);
    }

    pub(crate) fn keep_visible(&mut self, page: usize) {
        let page = page.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
    }
}

/// The sockets a detail pane lists: found once per snapshot or pane, never
/// per frame (at a million sockets a scan costs tens of milliseconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DetailRows {
    /// How many there are (a process's sockets; a listener's accepted connections).
    pub count: usize,
    /// A listener's connections waiting in its accept queue, and how many
    /// of those the client already closed.
    pub waiting: usize,
    pub gave_up: usize,
    /// A listener's local clients still in SYN-SENT towards it.
    pub syn_sent: usize,
    /// The ones the pane can scroll through (copies, at most
    /// [`MAX_LISTED`](super::view::MAX_LISTED) records).
    pub first: Vec<Socket>,
}

/// A listener's connections: those waiting for `accept()` first, then the
/// accepted ones (half-open ones are counted on the listener itself).
fn listener_rows(snap: &Snapshot, l: &crate::analyze::Listener) -> DetailRows {
    let conns = crate::analyze::listeners::connections_of(snap, l);
    let (waiting, accepted): (Vec<&Socket>, Vec<&Socket>) = conns
        .into_iter()
        .filter(|s| s.state != crate::model::State::SynRecv)
        .partition(|s| s.waits_for_accept());
    let gave_up = waiting.iter().filter(|s| s.state == crate::model::State::CloseWait).count();
    DetailRows {
        count: accepted.len(),
        waiting: waiting.len(),
        gave_up,
        syn_sent: crate::analyze::listeners::syn_sent_towards(snap, l),
        first: waiting
            .iter()
            .chain(accepted.iter())
            .take(super::view::MAX_LISTED)
            .map(|s| (*s).clone())
            .collect(),
    }
}

/// Socket counts per protocol, per state.
pub(crate) type StatesByProto = std::collections::BTreeMap<crate::model::Proto, summary::StateCounts>;

/// One collection as the UI received it.
pub(crate) struct Data {
    pub snapshot: Box<Snapshot>,
    pub analysis: Analysis,
    pub processes: Vec<ProcessSummary>,
    /// Sockets by protocol and state (the overview), counted once per snapshot.
    pub by_state: StatesByProto,
    /// `--all-netns`: every namespace, worst trouble first (the order `n` cycles through).
    pub namespaces: Vec<NetnsTrouble>,
}

/// What the collector sends each tick.
pub(crate) struct Update {
    pub snapshot: Box<Snapshot>,
    pub tick_cpu: Option<Duration>,
    /// The collector's pace after this collection (`None`: not measured).
    pub pace: Option<Pace>,
}

#[cfg(test)]
impl Update {
    /// A snapshot with no timing attached (tests, replays).
    pub(crate) fn of(snapshot: Snapshot) -> Update {
        Update { snapshot: Box::new(snapshot), tick_cpu: None, pace: None }
    }
}

pub(crate) struct App {
    pub tab: Tab,
    pub data: Option<Data>,
    pub history: History,
    pub thresholds: Thresholds,
    pub interval: Duration,
    /// The refresh interval in force: `interval`, stretched when refreshes are expensive.
    pub pace: Pace,
    pub paused: bool,
    pub help: bool,
    /// First line of the help box shown (it scrolls on small terminals).
    pub help_scroll: usize,
    pub detail: Option<Detail>,
    /// What the open detail pane lists ([`App::refresh_detail`]).
    pub detail_rows: DetailRows,
    /// The first line the detail pane shows (j/k scroll it).
    pub detail_scroll: usize,
    /// The last line the open pane can scroll to, as last drawn (its
    /// height depends on the terminal's size and on wrapping).
    pub detail_scroll_max: std::cell::Cell<usize>,
    pub filter: String,
    pub editing_filter: bool,
    /// `n`: show only this network namespace (`--all-netns`).
    pub netns: Option<u64>,
    pub cursors: [Cursor; 5],
    pub listener_sort: ListenerSort,
    pub connection_sort: ConnectionSort,
    pub process_sort: ProcessSort,
    pub group: GroupBy,
    /// Indices into `snapshot.sockets`, filtered and sorted.
    pub connection_rows: Vec<usize>,
    pub groups: Vec<(String, u32)>,
    /// Sockets by protocol and state in the namespace chosen with `n`
    /// (without one, `Data::by_state` counts them all).
    pub netns_states: Option<StatesByProto>,
    /// Rows a table shows at the current terminal size.
    pub page: usize,
    /// The terminal's width.
    pub width: u16,
    pub color: bool,
    pub error: Option<String>,
    pub quit: bool,
    /// Findings whose severity rose while the dashboard watched, until they
    /// fall back or go away (marked on screen, as watch re-announces them).
    pub escalated: HashSet<(FindingKind, SubjectKey)>,
    /// Each finding's severity at the previous snapshot.
    severities: HashMap<(FindingKind, SubjectKey), Severity>,
}

impl App {
    pub(crate) fn new(interval: Duration, thresholds: Thresholds, color: bool) -> App {
        App {
            tab: Tab::Overview,
            data: None,
            history: History::new(Duration::from_secs(300)),
            thresholds,
            interval,
            pace: Pace::new(interval),
            paused: false,
            help: false,
            help_scroll: 0,
            detail: None,
            detail_rows: DetailRows::default(),
            detail_scroll: 0,
            detail_scroll_max: std::cell::Cell::new(0),
            filter: String::new(),
            editing_filter: false,
            netns: None,
            cursors: [Cursor::default(); 5],
            listener_sort: ListenerSort::Fill,
            connection_sort: ConnectionSort::State,
            process_sort: ProcessSort::CloseWait,
            group: GroupBy::None,
            connection_rows: Vec::new(),
            groups: Vec::new(),
            netns_states: None,
            page: 10,
            width: 80,
            color,
            error: None,
            quit: false,
            escalated: HashSet::new(),
            severities: HashMap::new(),
        }
    }

    /// Adapts to the terminal size: how many table rows fit on a page.
    pub(crate) fn resize(&mut self, width: u16, height: u16) {
        self.width = width;
        self.page = usize::from(height.saturating_sub(6)).max(1);
        for tab in TABS {
            let page = self.page_of(tab);
            self.cursors[tab.index()].keep_visible(page);
        }
    }

    /// Takes in a new snapshot (ignored while paused).
    pub(crate) fn apply(&mut self, update: Update) {
        if self.paused {
            return;
        }
        if let Some(pace) = update.pace {
            self.pace = pace;
        }
        let keep = self.selected_key();
        // The old snapshot and its rows go before the new ones are built:
        // at a million sockets, two of each at once cost 120 MB more.
        self.data = None;
        self.connection_rows = Vec::new();
        let mut analysis = crate::analyze::analyze(&update.snapshot, &self.thresholds);
        self.history.push(&update.snapshot, &analysis);
        if !update.snapshot.is_all_netns() {
            // What watch knows: leak rates and the time left to the limit.
            let trends = leaks::leaks(&self.history, &update.snapshot, &LeakThresholds::DEFAULT);
            analysis.findings.extend(trends);
            Finding::sort(&mut analysis.findings);
        }
        self.note_escalations(&analysis.findings);
        let processes = summary::by_process(&update.snapshot, update.snapshot.sockets.iter());
        let by_state = summary::by_proto_and_state(update.snapshot.sockets.iter());
        let namespaces = netns::trouble(&update.snapshot, &analysis.listeners, &analysis.findings);
        if self.netns.is_some_and(|n| update.snapshot.namespace(n).is_none()) {
            self.netns = None;
        }
        self.data = Some(Data { snapshot: update.snapshot, analysis, processes, by_state, namespaces });
        self.error = None;
        self.refresh_rows();
        self.restore_selection(keep);
    }

    /// Marks findings whose severity rose since the previous snapshot; a
    /// mark lasts while the finding holds at that severity or worse.
    fn note_escalations(&mut self, findings: &[Finding]) {
        let mut now = HashMap::with_capacity(findings.len());
        let mut escalated = HashSet::new();
        for f in findings {
            let key = (f.kind(), f.subject.key());
            let before = self.severities.get(&key);
            let rose = before.is_some_and(|b| f.severity > *b);
            let fell = before.is_some_and(|b| f.severity < *b);
            if rose || (self.escalated.contains(&key) && !fell) {
                escalated.insert(key.clone());
            }
            now.insert(key, f.severity);
        }
        self.escalated = escalated;
        self.severities = now;
    }

    /// Whether `f` got worse while the dashboard watched.
    pub(crate) fn is_escalated(&self, f: &Finding) -> bool {
        !self.escalated.is_empty() && self.escalated.contains(&(f.kind(), f.subject.key()))
    }

    /// Recomputes the derived row lists after data, sort, filter or grouping changed.
    pub(crate) fn refresh_rows(&mut self) {
        let Some(data) = &self.data else { return };
        self.connection_rows =
            rows::connection_rows(&data.snapshot, (&self.filter, self.netns), self.connection_sort);
        self.groups = rows::groups(&data.snapshot, &self.connection_rows, self.group);
        self.netns_states = self.netns.map(|n| summary::by_proto_and_state(data.snapshot.sockets_in(n)));
        self.refresh_detail();
        for tab in TABS {
            let (len, page) = (self.row_count(tab), self.page_of(tab));
            let cursor = &mut self.cursors[tab.index()];
            cursor.selected = cursor.selected.min(len.saturating_sub(1));
            cursor.keep_visible(page);
        }
    }

    /// Rows one page holds on `tab` (sysctl rows are two or three lines tall).
    pub(crate) fn page_of(&self, tab: Tab) -> usize {
        match tab {
            Tab::Sysctls => (self.page / super::view::sysctl_row_height(self.width)).max(1),
            _ => self.page,
        }
    }

    pub(crate) fn cursor(&self) -> Cursor {
        self.cursors[self.tab.index()]
    }

    pub(crate) fn cursor_mut(&mut self) -> &mut Cursor {
        &mut self.cursors[self.tab.index()]
    }

    /// Rows in a tab's table as currently filtered.
    pub(crate) fn row_count(&self, tab: Tab) -> usize {
        if self.data.is_none() {
            return 0;
        }
        match tab {
            Tab::Overview => self.finding_rows().len(),
            Tab::Listeners => self.listener_rows().len(),
            Tab::Connections if self.group != GroupBy::None => self.groups.len(),
            Tab::Connections => self.connection_rows.len(),
            Tab::Processes => self.process_rows().len(),
            Tab::Sysctls => crate::model::SYSCTLS.len(),
        }
    }

    /// Finding indices (into `analysis.findings`) of the shown namespace.
    pub(crate) fn finding_rows(&self) -> Vec<usize> {
        let Some(d) = &self.data else { return Vec::new() };
        let shown = |i: &usize| self.netns.is_none() || d.analysis.findings[*i].netns == self.netns;
        (0..d.analysis.findings.len()).filter(shown).collect()
    }

    /// Listener indices (into `analysis.listeners`) in display order.
    pub(crate) fn listener_rows(&self) -> Vec<usize> {
        match &self.data {
            Some(d) => rows::listener_rows(
                &d.snapshot,
                &d.analysis.listeners,
                (&self.filter, self.netns),
                self.listener_sort,
            ),
            None => Vec::new(),
        }
    }

    /// Process indices (into `data.processes`) in display order.
    pub(crate) fn process_rows(&self) -> Vec<usize> {
        match &self.data {
            Some(d) => {
                rows::process_rows(&d.snapshot, &d.processes, (&self.filter, self.netns), self.process_sort)
            }
            None => Vec::new(),
        }
    }

    /// `n`: the next namespace by trouble, then all of them again.
    pub(crate) fn cycle_netns(&mut self) {
        let Some(data) = &self.data else { return };
        let order: Vec<u64> = data.namespaces.iter().map(|t| t.inode).collect();
        self.netns = match self.netns.and_then(|n| order.iter().position(|&o| o == n)) {
            None => order.first().copied(),
            Some(i) => order.get(i + 1).copied(),
        };
        for cursor in &mut self.cursors {
            cursor.selected = 0;
        }
        self.refresh_rows();
    }

    /// Sockets by protocol and state as the overview shows them: in the
    /// chosen namespace, or all of them.
    pub(crate) fn states(&self) -> Option<&StatesByProto> {
        self.netns_states.as_ref().or(self.data.as_ref().map(|d| &d.by_state))
    }

    /// The sysctls to show: the chosen namespace's, else the snapshot's.
    pub(crate) fn sysctls(&self) -> Option<&Sysctls> {
        let data = self.data.as_ref()?;
        Some(match self.netns {
            Some(n) => data.snapshot.sysctls_of(n),
            None => &data.snapshot.sysctls,
        })
    }

    /// An identity for the selected row that survives a refresh.
    fn selected_key(&self) -> Option<u64> {
        let data = self.data.as_ref()?;
        let i = self.cursor().selected;
        match self.tab {
            Tab::Listeners => self.listener_rows().get(i).map(|&l| data.analysis.listeners[l].inode),
            Tab::Processes => self.process_rows().get(i).map(|&p| u64::from(data.processes[p].pid)),
            Tab::Connections if self.group == GroupBy::None => {
                self.connection_rows.get(i).map(|&s| data.snapshot.sockets[s].inode).filter(|&n| n != 0)
            }
            _ => None,
        }
    }

    fn restore_selection(&mut self, key: Option<u64>) {
        let (Some(key), Some(data)) = (key, &self.data) else { return };
        let found = match self.tab {
            Tab::Listeners => {
                self.listener_rows().iter().position(|&l| data.analysis.listeners[l].inode == key)
            }
            Tab::Processes => {
                self.process_rows().iter().position(|&p| u64::from(data.processes[p].pid) == key)
            }
            Tab::Connections => {
                self.connection_rows.iter().position(|&s| data.snapshot.sockets[s].inode == key)
            }
            _ => None,
        };
        if let Some(i) = found {
            let page = self.page_of(self.tab);
            let cursor = self.cursor_mut();
            cursor.selected = i;
            cursor.keep_visible(page);
        }
    }

    /// Opens the detail pane for the selected row; from a listener's or a
    /// socket's detail, goes on to its owning process.
    pub(crate) fn open_detail(&mut self) {
        let Some(data) = &self.data else { return };
        let i = self.cursor().selected;
        let next = match (self.tab, &self.detail) {
            (Tab::Listeners, Some(Detail::Listener(inode))) => {
                data.snapshot.owner_pids(*inode).first().copied().map(Detail::Process)
            }
            (Tab::Connections, Some(Detail::Socket(s))) => {
                let inode = data.snapshot.sockets.get(*s).map_or(0, |s| s.inode);
                data.snapshot.owner_pids(inode).first().copied().map(Detail::Process)
            }
            (Tab::Overview, _) => {
                return self.follow_finding(self.finding_rows().get(i).copied().unwrap_or(usize::MAX));
            }
            (Tab::Listeners, _) => {
                self.listener_rows().get(i).map(|&l| Detail::Listener(data.analysis.listeners[l].inode))
            }
            (Tab::Connections, _) if self.group == GroupBy::None => {
                self.connection_rows.get(i).map(|&s| Detail::Socket(s))
            }
            (Tab::Processes, _) => {
                self.process_rows().get(i).map(|&p| Detail::Process(data.processes[p].pid))
            }
            _ => None,
        };
        if let Some(Detail::Process(pid)) = next {
            return self.show_process(pid);
        }
        self.detail = next.or(self.detail.take());
        self.detail_scroll = 0;
        self.refresh_detail();
    }

    /// Finds the sockets the open detail pane lists: a listener's accepted
    /// connections, a process's sockets.
    pub(crate) fn refresh_detail(&mut self) {
        let Some(data) = &self.data else { return };
        let snap = &data.snapshot;
        self.detail_rows = match &self.detail {
            Some(Detail::Listener(inode)) => match data.analysis.listeners.iter().find(|l| l.inode == *inode)
            {
                Some(l) => listener_rows(snap, l),
                None => DetailRows::default(),
            },
            Some(Detail::Process(pid)) => {
                let held: std::collections::HashSet<u64> =
                    snap.owners.iter().filter(|r| r.pid == *pid).map(|r| r.inode).collect();
                let mine: Vec<&Socket> =
                    snap.sockets.iter().filter(|s| s.inode != 0 && held.contains(&s.inode)).collect();
                DetailRows {
                    count: mine.len(),
                    first: mine.into_iter().take(super::view::MAX_LISTED).cloned().collect(),
                    ..DetailRows::default()
                }
            }
            _ => DetailRows::default(),
        };
    }

    /// Enter on a finding: go to its listener or process with details open.
    fn follow_finding(&mut self, index: usize) {
        let Some(data) = &self.data else { return };
        let Some(finding) = data.analysis.findings.get(index) else { return };
        match &finding.subject {
            Subject::Socket { inode, .. } if data.analysis.listeners.iter().any(|l| l.inode == *inode) => {
                let inode = *inode;
                self.filter.clear();
                self.tab = Tab::Listeners;
                self.refresh_rows();
                self.restore_selection(Some(inode));
                self.detail = Some(Detail::Listener(inode));
                self.detail_scroll = 0;
                self.refresh_detail();
            }
            Subject::Process { pid, .. } => self.show_process(*pid),
            _ => self.detail = Some(Detail::Finding(index)),
        }
    }

    fn show_process(&mut self, pid: u32) {
        self.filter.clear();
        self.tab = Tab::Processes;
        self.refresh_rows();
        self.restore_selection(Some(u64::from(pid)));
        self.detail = Some(Detail::Process(pid));
        self.detail_scroll = 0;
        self.refresh_detail();
    }
}
