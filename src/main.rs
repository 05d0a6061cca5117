fn main() {
    let snapshot = sockscope::collect::collect(&Default::default()).unwrap();
    println!(
        "{} sockets, {} processes, {:?}",
        snapshot.sockets.len(),
        snapshot.processes.len(),
        snapshot.timings
    );
    for s in snapshot
        .sockets
        .iter()
        .filter(|s| s.state == sockscope::model::State::Listen)
    {
        println!(
            "{:?} {:?} {}/{} drops={:?} owners={:?}",
            s.proto,
            s.local,
            s.recv_q,
            s.send_q,
            s.drops(),
            snapshot.owner_pids(s.inode)
        );
    }
    println!("{:?}", snapshot.warnings);
    println!("{:?}", snapshot.sysctls);
}
