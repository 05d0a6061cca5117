//! Netlink framing: splitting one received datagram into messages.
//!
//! A dump arrives as datagrams of up to ~32 KiB, each holding many
//! `nlmsghdr`-framed messages. A message whose header is impossible (length
//! shorter than a header, or running past the datagram) ends the walk of that
//! datagram: nothing after it can be located. A message whose *payload* fails
//! to decode is a different matter, handled by the caller, which skips it by
//! its header length and counts it.

use netlink_packet_core::NetlinkBuffer;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// `NLM_F_DUMP_INTR`: the dump was interrupted by concurrent table changes.
pub const NLM_F_DUMP_INTR: u16 = 0x10;

/// One framed netlink message inside a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Message {
        kind: u16,
        flags: u16,
        payload: &'a [u8],
    },
    /// The rest of the datagram cannot be framed.
    Malformed {
        offset: usize,
    },
}

/// Iterates over the messages of one datagram.
pub fn frames(datagram: &[u8]) -> Frames<'_> {
    Frames { datagram, offset: 0 }
}

pub struct Frames<'a> {
    datagram: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let rest = self.datagram.get(self.offset..)?;
        if rest.is_empty() {
            return None;
        }
        let Ok(buf) = NetlinkBuffer::new_checked(rest) else {
            let offset = self.offset;
            self.offset = self.datagram.len();
            return Some(Frame::Malformed { offset });
        };
        let len = buf.length() as usize;
        self.offset += align4(len);
        Some(Frame::Message { kind: buf.message_type(), flags: buf.flags(), payload: &rest[16..len] })
    }
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// The errno carried by an `NLMSG_ERROR` or `NLMSG_DONE` payload (0 = success).
pub fn status_code(payload: &[u8]) -> i32 {
    payload.get(..4).and_then(|b| b.try_into().ok()).map_or(0, i32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(len as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(payload);
        v.resize(align4(len), 0);
        v
    }

    #[test]
    fn walks_messages_with_padding() {
        let mut d = message(20, &[1, 2, 3]);
        d.extend(message(NLMSG_DONE, &0i32.to_ne_bytes()));
        let got: Vec<_> = frames(&d).collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0], Frame::Message { kind: 20, payload: [1, 2, 3], .. }));
        assert!(matches!(got[1], Frame::Message { kind: NLMSG_DONE, .. }));
    }

    #[test]
    fn truncated_message_stops_the_walk_without_panicking() {
        let mut d = message(20, &[0; 40]);
        d.truncate(30);
        let got: Vec<_> = frames(&d).collect();
        assert_eq!(got, vec![Frame::Malformed { offset: 0 }]);
    }

    #[test]
    fn zero_length_header_is_malformed_not_an_endless_loop() {
        let d = [0u8; 20];
        let got: Vec<_> = frames(&d).collect();
        assert_eq!(got, vec![Frame::Malformed { offset: 0 }]);
    }

    #[test]
    fn error_code_is_read_from_the_payload() {
        assert_eq!(status_code(&(-2i32).to_ne_bytes()), -2);
        assert_eq!(status_code(&[1]), 0);
    }
}
