//! How namespaces read in tables: the NETNS column, the tag on a finding,
//! and the summary table of namespaces by trouble (`dump --all-netns`).
//!
//! Labels come from cgroup paths, directory names and `ip netns` names,
//! which anyone who can create them chooses: every one is escaped here.

use std::io::{self, Write};

use super::escape;
use super::style::{Paint, Style};
use super::table::{Align, Cell, Table};
use crate::analyze::Report;
use crate::analyze::netns::NetnsTrouble;
use crate::model::{Namespace, NetnsStatus, Snapshot};

/// Namespace rows the report shows (worst first; `--json` lists all).
const NAMESPACE_ROWS: usize = 20;

/// The NETNS column: pod name, else container short id, else `ip netns`
/// name, else inode.
pub(crate) fn column(snap: &Snapshot, inode: u64) -> String {
    match snap.namespace(inode) {
        Some(ns) => escape::text(&ns.display_name()).into_owned(),
        None => "?".to_string(),
    }
}

/// Who a namespace belongs to, in a few words: `pod shop/cart-7f9`,
/// `docker 4f1c8e2b9a7d`, `ip netns blue`, or `-`.
pub(crate) fn owner(ns: &Namespace) -> String {
    let labels = &ns.labels;
    let short_id = labels.container_id.as_ref().map(|id| id.chars().take(12).collect::<String>());
    let text = match (&labels.pod, &short_id) {
        (Some(pod), _) => match (&pod.namespace, &pod.name) {
            (Some(space), Some(name)) => format!("pod {space}/{name}"),
            _ => format!("pod uid {}", pod.uid),
        },
        (None, Some(id)) => format!("{} {id}", labels.runtime.map_or("container", |r| r.name())),
        (None, None) => match &labels.name {
            Some(name) => format!("ip netns {name}"),
            None if ns.own => "sockscope's own".to_string(),
            None => "-".to_string(),
        },
    };
    escape::text(&text).into_owned()
}

/// The tag a finding carries: `pod shop/cart-7f9`, `container 4f1c8e2b9a7d`,
/// `netns blue` or `netns 4026532177`.
pub(crate) fn tag(snap: &Snapshot, inode: u64) -> String {
    let Some(ns) = snap.namespace(inode) else { return format!("netns {inode}") };
    match (&ns.labels.pod, &ns.labels.container_id) {
        (Some(_), _) | (None, Some(_)) => owner(ns),
        (None, None) => format!("netns {}", escape::text(&ns.display_name())),
    }
}

/// The NAMESPACES section: every namespace, worst trouble first.
pub(crate) fn write_namespaces(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    let snap = report.snapshot;
    let rows = &report.namespaces;
    let shown = rows.len().min(NAMESPACE_ROWS);
    let more = match rows.len() > shown {
        true => format!(", {shown} in most trouble shown; --json lists all"),
        false => String::new(),
    };
    let title = format!("NAMESPACES ({}{more})", rows.len());
    writeln!(out, "{}", style.paint(Paint::Heading, &title))?;
    let mut table = Table::new(&[
        ("NETNS", Align::Left),
        ("Inode", Align::Right),
        ("Belongs to", Align::Left),
        ("Status", Align::Left),
        ("Sockets", Align::Right),
        ("Listeners", Align::Right),
        ("Full", Align::Right),
        ("Crit", Align::Right),
        ("Warn", Align::Right),
        ("Info", Align::Right),
        ("somaxconn", Align::Right),
        ("Worst finding", Align::Left),
    ]);
    for t in &rows[..shown] {
        if let Some(ns) = snap.namespace(t.inode) {
            table.push(namespace_row(ns, t));
        }
    }
    table.write(out, style)
}

fn namespace_row(ns: &Namespace, t: &NetnsTrouble) -> Vec<Cell> {
    let count = |n: u32, paint: Paint| Cell::painted(n.to_string(), (n > 0).then_some(paint));
    let status = match &ns.status {
        NetnsStatus::Collected => Cell::from("ok"),
        NetnsStatus::Failed(why) => {
            Cell::painted(format!("failed: {}", escape::text(why)), Some(Paint::Warning))
        }
        other => Cell::painted(other.name(), Some(Paint::Warning)),
    };
    vec![
        escape::text(&ns.display_name()).into_owned().into(),
        ns.inode.to_string().into(),
        owner(ns).into(),
        status,
        t.sockets.to_string().into(),
        t.listeners.to_string().into(),
        count(t.full_listeners, Paint::Critical),
        count(t.critical, Paint::Critical),
        count(t.warning, Paint::Warning),
        t.info.to_string().into(),
        ns.sysctls.get("net.core.somaxconn").map_or("?".to_string(), |v| v.to_string()).into(),
        t.worst.map_or("-", |k| k.name()).into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetnsLabels, Pod, Runtime};

    fn ns(labels: NetnsLabels) -> Namespace {
        Namespace::new(4, 4026532177, labels)
    }

    #[test]
    fn owners_and_tags_name_pods_containers_and_names() {
        let id = "4f1c8e2b9a7d6c5b4a39281706f5e4d3".to_string();
        let pod = Pod { namespace: Some("shop".into()), name: Some("cart-7f9".into()), uid: "u".into() };
        let in_pod =
            ns(NetnsLabels { pod: Some(pod), container_id: Some(id.clone()), ..NetnsLabels::default() });
        assert_eq!(owner(&in_pod), "pod shop/cart-7f9");
        let docker = ns(NetnsLabels {
            container_id: Some(id),
            runtime: Some(Runtime::Docker),
            ..NetnsLabels::default()
        });
        assert_eq!(owner(&docker), "docker 4f1c8e2b9a7d");
        let named = ns(NetnsLabels { name: Some("blue\u{1b}[31m".into()), ..NetnsLabels::default() });
        assert_eq!(owner(&named), "ip netns blue\\x1b[31m", "names are escaped");
        assert_eq!(owner(&ns(NetnsLabels::default())), "-");
        let mut snap = Snapshot::empty();
        snap.namespaces = vec![named];
        assert_eq!(tag(&snap, 4026532177), "netns blue\\x1b[31m");
        assert_eq!(column(&snap, 4026532177), "blue\\x1b[31m");
        assert_eq!(tag(&snap, 1), "netns 1");
    }
}
