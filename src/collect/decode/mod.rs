//! Pure decoders from netlink bytes to [`Socket`](crate::model::Socket) records.
//!
//! Nothing here performs I/O: recorded dumps decode exactly like live ones,
//! which is how the parser tests feed hostile bytes without a kernel.

pub mod frames;
pub mod inet;
pub mod raw;
pub mod unix;

use crate::model::Socket;

/// A decoded socket and the number of its attributes that were malformed and
/// left out (the socket itself is kept).
#[derive(Debug)]
pub struct Decoded {
    pub socket: Socket,
    pub bad_attributes: u32,
}
