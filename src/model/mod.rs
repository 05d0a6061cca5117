//! Plain data types shared by collection, analysis and every front-end.

mod host;
mod netns;
pub(crate) mod pace;
mod process;
mod selection;
mod snapshot;
mod socket;
pub(crate) mod source;
mod state;

pub use host::{Counters, HostInfo, NetnsInfo, SYSCTLS, SysctlValue, Sysctls};
pub use netns::{Namespace, NetnsLabels, NetnsStatus, Pod, Runtime, SocketNetns};
pub use process::{FdLimit, FdRef, OwnerIndex, Process, ProcessTable, RunState, ScanStats};
pub use selection::Selection;
pub use snapshot::{Snapshot, Timings, Warning, WarningKind};
pub use socket::{Endpoint, Family, Proto, SkMem, Socket, SocketExtra, TcpInfo, Timer, TimerKind};
pub use source::{Replay, Source, SourceError};
pub use state::{ALL_STATES, State, StateSet};
