//! `sockscope export` as its clients see it: the real Prometheus server
//! scraping it in a private namespace with a full listener, `promtool` on
//! the exposition and on the shipped alert rules, HTTP errors, and clients
//! that are idle, slow or too many.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, Lab, connect_nonblocking, eventually, local_addr, ss, tcp_listener};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");
const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");

/// The exporter binary, running until dropped.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    /// Starts `sockscope export ARGS` inside the lab and waits for its
    /// "serving" line.
    fn start(lab: &Lab, args: &[&str]) -> Exporter {
        let mut cmd = Command::new(BIN);
        cmd.arg("export").args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = lab.run(|| cmd.spawn().expect("start sockscope export"));
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("read stderr");
        let addr = first
            .strip_prefix("sockscope: serving http://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no serving line from the exporter: {first:?}"));
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Exporter { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply, read until the server closed the connection.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn connect(lab: &Lab, addr: SocketAddr) -> TcpStream {
    let stream = lab.run(|| TcpStream::connect(addr).expect("connect to the exporter"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream
}

fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(Reply { status, head: head.to_string(), body: body.to_string() })
}

fn raw(lab: &Lab, addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = connect(lab, addr);
    stream.write_all(request).expect("send request");
    read_reply(&mut stream).expect("read reply")
}

fn get(lab: &Lab, addr: SocketAddr, path: &str, accept: Option<&str>) -> Reply {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    raw(lab, addr, format!("GET {path} HTTP/1.1\r\nHost: test\r\n{accept}\r\n").as_bytes())
}

/// The value of the first sample of `name` whose labels include `labels`.
fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let matches = (rest.starts_with('{') || rest.starts_with(' '))
            && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        matches.then(|| line.rsplit(' ').next()?.parse().ok()).flatten()
    })
}

fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm").unwrap().trim_end().to_string()
}

/// A listener with backlog 4 and 12 clients: 5 wait in its accept queue.
struct FullListener {
    port: u16,
    _sockets: Vec<socket2::Socket>,
}

fn full_listener(lab: &Lab) -> FullListener {
    let sockets = lab.run(|| {
        let listener = tcp_listener("127.0.0.1:0", 4);
        let mut clients: Vec<_> = (0..12).map(|_| connect_nonblocking(local_addr(&listener))).collect();
        clients.push(listener);
        clients
    });
    let port = local_addr(sockets.last().unwrap()).port();
    eventually("accept queue 5/4", || {
        let rows = ss::rows(lab, "-tu", &[&format!("sport = :{port}")]);
        match rows.iter().find(|r| r.state == "LISTEN").map(|r| (r.recv_q, r.send_q)) {
            Some((5, 4)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    FullListener { port, _sockets: sockets }
}

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        support::loud(
            "SKIPPED promtool checks: promtool not found (apt-get install prometheus); CI installs it",
        );
    }
    found.then_some("promtool")
}

#[test]
fn once_writes_a_valid_exposition_with_the_full_queue() {
    let lab = Lab::new("export_once");
    let full = full_listener(&lab);
    let mut cmd = Command::new(BIN);
    cmd.args(["export", "--once"]).args(lab.netns_args());
    let output = cmd.output().expect("run export --once");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let port = full.port.to_string();
    let mine = [("port", port.as_str()), ("local_address", "127.0.0.1"), ("proto", "tcp")];
    assert_eq!(sample(&text, "sockscope_listen_queued_connections", &mine), Some(5.0), "{text}");
    assert_eq!(sample(&text, "sockscope_listen_backlog_connections", &mine), Some(4.0), "{text}");
    let comm = my_comm();
    let owned = [("port", port.as_str()), ("process", comm.as_str())];
    assert!(sample(&text, "sockscope_listen_queued_connections", &owned).is_some(), "owner named: {text}");
    assert_eq!(sample(&text, "sockscope_scrape_success", &[]), Some(1.0));
    assert!(!text.contains("# EOF"), "text format, not OpenMetrics");
    if let Some(promtool) = promtool() {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let result = check.wait_with_output().unwrap();
        let said =
            String::from_utf8_lossy(&result.stdout).into_owned() + &String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
    }
}

#[test]
fn once_into_a_closed_pipe_exits_quietly() {
    let mut child = Command::new(BIN)
        .args(["export", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("error"));
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let dir = format!("{ASSETS}/prometheus");
    for args in [["check", "rules", "sockscope-alerts.yml"], ["test", "rules", "sockscope-alerts.test.yml"]] {
        let out = Command::new(promtool).args(args).current_dir(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Prometheus server in the lab, until dropped.
struct Prometheus {
    child: Child,
    dir: std::path::PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(lab: &Lab, target: SocketAddr) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("sockscope-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {ASSETS}/prometheus/sockscope-alerts.yml\n\
             scrape_configs:\n  - job_name: sockscope\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let addr: SocketAddr = "127.0.0.1:9090".parse().unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap());
        let child = lab.run(|| cmd.spawn().expect("start prometheus"));
        Prometheus { child, dir, addr }
    }

    /// `GET /api/v1/<path>`, parsed; `None` until the server answers.
    fn api(&self, lab: &Lab, path: &str) -> Option<Value> {
        let mut stream = lab.run(|| TcpStream::connect(self.addr)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let request = format!("GET /api/v1/{path} HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).ok()?;
        let reply = read_reply(&mut stream).ok()?;
        let body = match reply.header("transfer-encoding") {
            Some(te) if te.eq_ignore_ascii_case("chunked") => dechunk(&reply.body),
            _ => reply.body,
        };
        serde_json::from_str(&body).ok()
    }

    /// The value of the single series an instant query returns.
    fn query(&self, lab: &Lab, promql: &str) -> Option<String> {
        let v = self.api(lab, &format!("query?query={}", percent_encode(promql)))?;
        let result = v["data"]["result"].as_array()?;
        (result.len() == 1).then(|| result[0]["value"][1].as_str().map(str::to_string)).flatten()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls for up to a minute: Prometheus needs a few seconds to discover its
/// target and scrape it.
fn within_a_minute<T>(what: &str, mut probe: impl FnMut() -> Option<T>, context: impl Fn() -> String) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn prometheus_scrapes_the_queued_gauge_of_a_full_listener() {
    if support::skip_unless_root("prometheus_scrapes_the_queued_gauge", "a private namespace for fixed ports")
    {
        return;
    }
    if Command::new("prometheus").arg("--version").output().is_err() {
        support::loud(
            "SKIPPED prometheus_scrapes_the_queued_gauge: no prometheus server (apt-get install prometheus); CI installs it",
        );
        return;
    }
    let lab = Lab::new("export_prometheus");
    let full = full_listener(&lab);
    let exporter = Exporter::start(&lab, &[]);
    assert_eq!(exporter.addr, "127.0.0.1:9847".parse().unwrap(), "loopback by default");
    let prometheus = Prometheus::start(&lab, exporter.addr);
    let context = || format!("prometheus log:\n{}\nexporter log:\n{}", prometheus.log(), exporter.log());
    let port = full.port;
    let queued = within_a_minute(
        "Prometheus to have scraped the queued gauge",
        || prometheus.query(&lab, &format!("sockscope_listen_queued_connections{{port=\"{port}\"}}")),
        context,
    );
    assert_eq!(queued, "5");
    let backlog = prometheus.query(&lab, &format!("sockscope_listen_backlog_connections{{port=\"{port}\"}}"));
    assert_eq!(backlog.as_deref(), Some("4"));
    let by_process =
        format!("sockscope_listen_queued_connections{{port=\"{port}\",process=\"{}\"}}", my_comm());
    assert_eq!(prometheus.query(&lab, &by_process).as_deref(), Some("5"));
    assert_eq!(prometheus.query(&lab, "up{job=\"sockscope\"}").as_deref(), Some("1"));
    // A unit comes only from OpenMetrics' `# UNIT` line: Prometheus asked for
    // OpenMetrics and parsed it.
    let metadata = prometheus.api(&lab, "metadata?metric=sockscope_scrape_duration_seconds").unwrap();
    assert_eq!(metadata["data"]["sockscope_scrape_duration_seconds"][0]["unit"], "seconds", "{metadata}");
    // The shipped rules evaluate cleanly on real data, and the full queue
    // sets off the accept-queue alerts (pending for their first minute).
    let alert = within_a_minute(
        "the accept-queue-full alert to be pending",
        || {
            let rules = prometheus.api(&lab, "rules")?;
            let all: Vec<Value> = rules["data"]["groups"][0]["rules"].as_array()?.to_vec();
            assert!(all.iter().all(|r| r["health"] == "ok"), "unhealthy rule: {rules}");
            let full_rule = all.iter().find(|r| r["name"] == "SockscopeAcceptQueueFull")?;
            let ours = |a: &&Value| a["labels"]["port"].as_str() == Some(port.to_string().as_str());
            full_rule["alerts"].as_array()?.iter().find(ours).cloned()
        },
        context,
    );
    assert!(matches!(alert["state"].as_str(), Some("pending" | "firing")), "{alert}");
    // Every query of the Grafana dashboard is valid PromQL on real data.
    for expr in dashboard_queries() {
        let promql = expr
            .replace("$job", ".*")
            .replace("$instance", ".*")
            .replace("$netns", ".*")
            .replace("$__rate_interval", "1m");
        let reply = prometheus.api(&lab, &format!("query?query={}", percent_encode(&promql))).unwrap();
        assert_eq!(reply["status"], "success", "{promql}: {reply}");
    }
    let fill =
        dashboard_queries().into_iter().find(|e| e.starts_with("100 * sockscope_listen_queued")).unwrap();
    let fill = fill.replace("$job", ".*").replace("$instance", ".*").replace("$netns", ".*");
    let ours = format!("({fill}) and on(port) sockscope_listen_queued_connections{{port=\"{port}\"}}");
    assert_eq!(prometheus.query(&lab, &ours).as_deref(), Some("125"), "5 of 4 is 125 %");
}

fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{ASSETS}/grafana/sockscope-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let targets = panels.iter().flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default());
    targets.filter_map(|t| t["expr"].as_str().map(str::to_string)).collect()
}

/// Metric names in a text: every `sockscope_...` word.
fn names_in(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("sockscope_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn rules_dashboard_and_docs_name_exactly_the_metrics_served() {
    let served: std::collections::BTreeSet<String> =
        sockscope::export::metric_names().into_iter().map(str::to_string).collect();
    let rules = std::fs::read_to_string(format!("{ASSETS}/prometheus/sockscope-alerts.yml")).unwrap();
    let dashboard = dashboard_queries().join("\n");
    for (what, text) in [("alert rules", rules), ("dashboard", dashboard)] {
        let unknown: Vec<_> = names_in(&text).into_iter().filter(|n| !served.contains(n)).collect();
        assert!(unknown.is_empty(), "{what} use metrics the exporter does not serve: {unknown:?}");
    }
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let documented = names_in(&docs);
    let undocumented: Vec<_> = served.iter().filter(|n| !documented.contains(*n)).collect();
    assert!(undocumented.is_empty(), "docs/metrics.md misses {undocumented:?}");
    let stale: Vec<_> = documented.iter().filter(|n| !served.contains(*n)).collect();
    assert!(stale.is_empty(), "docs/metrics.md names metrics that do not exist: {stale:?}");
}

#[test]
fn a_namespace_that_vanishes_scrapes_with_success_zero() {
    if support::skip_unless_root("a_namespace_that_vanishes", "ip netns add") {
        return;
    }
    let name = format!("sockscope-export-{}", std::process::id());
    let cleanup = NamedNetns::add(&name);
    let lab = Lab::new("export_vanishing_netns");
    let exporter = Exporter::start(&lab, &["--listen", "127.0.0.1:0", "--netns", &name]);
    let before = get(&lab, exporter.addr, "/metrics", None);
    assert_eq!(before.status, 200);
    assert_eq!(
        sample(&before.body, "sockscope_scrape_success", &[("netns", &name)]),
        Some(1.0),
        "{}",
        before.body
    );
    assert_eq!(sample(&before.body, "sockscope_netns_info", &[("netns", &name), ("name", &name)]), Some(1.0));
    assert!(
        sample(&before.body, "sockscope_tcp_sockets", &[("netns", &name), ("state", "listen")]).is_some()
    );
    drop(cleanup);
    let after = get(&lab, exporter.addr, "/metrics", None);
    assert_eq!(after.status, 200, "a failed namespace does not fail the scrape");
    assert_eq!(
        sample(&after.body, "sockscope_scrape_success", &[("netns", &name)]),
        Some(0.0),
        "{}",
        after.body
    );
    assert!(sample(&after.body, "sockscope_tcp_sockets", &[]).is_none(), "no series of a namespace not seen");
    assert!(sample(&after.body, "sockscope_build_info", &[]).is_some());
    eventually("the failure in the exporter's log", || match exporter.log() {
        log if log.contains(&format!("netns {name}: collection failed")) => Ok(()),
        log => Err(log),
    });
}

/// An `ip netns` namespace, deleted when dropped.
struct NamedNetns(String);

impl NamedNetns {
    fn add(name: &str) -> NamedNetns {
        let add = Command::new("ip").args(["netns", "add", name]).status().expect("ip netns add");
        assert!(add.success(), "ip netns add {name}");
        NamedNetns(name.to_string())
    }

    /// A listener on 0.0.0.0 (any port) inside the namespace.
    fn listener(&self) -> socket2::Socket {
        let file = std::fs::File::open(format!("/run/netns/{}", self.0)).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
                move_into_link_name_space(std::os::fd::AsFd::as_fd(&file), Some(LinkNameSpaceType::Network))
                    .expect("setns");
                tcp_listener("0.0.0.0:0", 8)
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_namespace_created_again_under_its_name_is_collected_anew() {
    if support::skip_unless_root("a_namespace_created_again", "ip netns add") {
        return;
    }
    let name = format!("sockscope-again-{}", std::process::id());
    let first = NamedNetns::add(&name);
    let lab = Lab::new("export_netns_again");
    let exporter = Exporter::start(&lab, &["--listen", "127.0.0.1:0", "--netns", &name]);
    let listen = [("netns", name.as_str()), ("state", "listen")];
    let before = get(&lab, exporter.addr, "/metrics", None);
    assert_eq!(sample(&before.body, "sockscope_tcp_sockets", &listen), Some(0.0), "{}", before.body);
    drop(first);
    let second = NamedNetns::add(&name);
    let listener = second.listener();
    let port = local_addr(&listener).port().to_string();
    let after = get(&lab, exporter.addr, "/metrics", None);
    assert_eq!(
        sample(&after.body, "sockscope_tcp_sockets", &listen),
        Some(1.0),
        "the new namespace: {}",
        after.body
    );
    assert_eq!(sample(&after.body, "sockscope_listen_backlog_connections", &[("port", &port)]), Some(8.0));
}

#[test]
fn http_answers_every_kind_of_request() {
    let lab = Lab::new("export_http");
    let exporter = Exporter::start(&lab, &["--listen", "127.0.0.1:0"]);
    let addr = exporter.addr;

    let landing = get(&lab, addr, "/", None);
    assert_eq!(landing.status, 200);
    assert!(landing.header("content-type").unwrap().starts_with("text/html"));
    assert!(landing.body.contains("href=\"/metrics\""), "{}", landing.body);

    let text = get(&lab, addr, "/metrics", None);
    assert_eq!(text.status, 200);
    assert_eq!(text.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(text.body.contains("# TYPE sockscope_listen_drops_total counter"));
    assert_eq!(text.header("content-length"), Some(text.body.len().to_string().as_str()));

    let om =
        get(&lab, addr, "/metrics?x=1", Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"));
    assert_eq!(om.status, 200);
    assert_eq!(om.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(om.body.contains("# TYPE sockscope_listen_drops counter") && om.body.ends_with("# EOF\n"));

    let head = raw(&lab, addr, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty() && head.header("content-length").is_some_and(|n| n != "0"), "{head:?}");

    let post = raw(&lab, addr, b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(get(&lab, addr, "/metrics/../etc/passwd", None).status, 404);
    assert_eq!(get(&lab, addr, "/favicon.ico", None).status, 404);
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /metrics HTTP/2.0\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        assert_eq!(raw(&lab, addr, garbage).status, 400, "{}", String::from_utf8_lossy(garbage));
    }
    let huge = format!("GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(raw(&lab, addr, huge.as_bytes()).status, 431);
    assert_eq!(get(&lab, addr, "/metrics", None).status, 200, "still serving after all that");
}

#[test]
fn idle_and_trickling_clients_do_not_hold_up_a_scrape() {
    let lab = Lab::new("export_slow_clients");
    let exporter =
        Exporter::start(&lab, &["--listen", "127.0.0.1:0", "--timeout", "3s", "--max-connections", "8"]);
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(&lab, exporter.addr)).collect();
    let mut trickle = connect(&lab, exporter.addr);
    trickle.write_all(b"GET /metr").unwrap();
    let started = Instant::now();
    let scrape = get(&lab, exporter.addr, "/metrics", None);
    let took = started.elapsed();
    assert_eq!(scrape.status, 200);
    assert!(took < Duration::from_secs(3), "a scrape waited {took:?} behind idle clients");
    for stream in &idle {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let still_open =
            matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(still_open, "idle clients are not cut off before their deadline");
        stream.set_nonblocking(false).unwrap();
    }
    // Each idle client is answered 408 at its deadline, not held forever.
    idle.push(trickle);
    for stream in &mut idle {
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let reply = read_reply(stream).expect("a reply by the deadline");
        assert_eq!(reply.status, 408, "{reply:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "deadlines enforced: {:?}", started.elapsed());
}

#[test]
fn connections_beyond_the_limit_are_refused_at_once() {
    let lab = Lab::new("export_connection_limit");
    let exporter =
        Exporter::start(&lab, &["--listen", "127.0.0.1:0", "--timeout", "60s", "--max-connections", "2"]);
    let idle: Vec<TcpStream> = (0..2).map(|_| connect(&lab, exporter.addr)).collect();
    let started = Instant::now();
    let mut third = connect(&lab, exporter.addr);
    third.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    match read_reply(&mut third) {
        Ok(reply) => {
            assert_eq!(reply.status, 503, "{reply:?}");
            assert_eq!(reply.header("retry-after"), Some("1"));
        }
        // The refusal raced the request's arrival: a reset, still at once.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "refused after {:?}", started.elapsed());
    drop(idle);
    eventually("a slot to be free again", || match get(&lab, exporter.addr, "/metrics", None).status {
        200 => Ok(()),
        other => Err(other.to_string()),
    });
}

#[test]
fn concurrent_scrapes_all_get_a_whole_exposition() {
    let lab = Lab::new("export_concurrent");
    let exporter = Exporter::start(&lab, &["--listen", "127.0.0.1:0"]);
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..12).map(|_| s.spawn(|| get(&lab, exporter.addr, "/metrics", None))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for reply in replies {
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .body
                .ends_with(&format!("sockscope_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(sample(&reply.body, "sockscope_scrape_success", &[]), Some(1.0));
    }
}

#[test]
fn bad_arguments_and_a_taken_port_are_reported() {
    let bad = Command::new(BIN).args(["export", "--listen", "localhost"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    let no_netns =
        Command::new(BIN).args(["export", "--once", "--netns", "no-such-namespace-here"]).output().unwrap();
    assert_eq!(no_netns.status.code(), Some(2), "{}", String::from_utf8_lossy(&no_netns.stderr));
    let lab = Lab::new("export_taken_port");
    let taken = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let port = taken.local_addr().unwrap().port().to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["export", "--listen", &format!("127.0.0.1:{port}")]);
    let out = lab.run(|| cmd.output().unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot listen on 127.0.0.1:") && err.contains("--listen"), "{err}");
}
