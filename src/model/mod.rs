//! Plain data types shared by collection, analysis and every front-end.

mod host;
mod process;
mod snapshot;
mod socket;
mod state;

pub use host::{Counters, HostInfo, NetnsInfo, SysctlValue, Sysctls};
pub use process::{FdLimit, FdRef, OwnerIndex, Process, ProcessTable, ScanStats};
pub use snapshot::{Snapshot, Timings, Warning, WarningKind};
pub use socket::{Endpoint, Family, Proto, SkMem, Socket, TcpInfo, Timer, TimerKind};
pub use state::{ALL_STATES, State, StateSet};
