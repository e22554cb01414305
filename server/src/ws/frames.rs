//! Writing the server's data frames: each is a header of 2 to 10 bytes
//! (RFC 6455, section 5.2; a server's frames are not masked) and then its
//! payload, which the room encoded once and shares among every receiver.
//!
//! tungstenite's writer copies each payload into the connection's own
//! buffer before writing it. In a room where everybody sees everybody a
//! `cursors` frame is tens of kilobytes, sent to hundreds of receivers, and
//! that copy was a sixth of the server's CPU. So the connection task
//! writes its data frames itself: headers and payloads go to the socket
//! in vectored writes (up to eight frames each), straight from where they
//! are. tungstenite still reads the socket and writes the control frames
//! (pings, pongs, close); `ws.rs` keeps the two writers apart.

use std::io::{self, IoSlice};

use axum::extract::ws::Message;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// The longest header: two bytes and a 64-bit length.
const LONGEST_HEADER: usize = 10;
/// Frames sent by one vectored write at most (a header and a payload
/// each); the mailbox rarely holds more than two.
const FRAMES_PER_WRITE: usize = 8;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;

/// Where the socket's byte stream stands after a write: between two
/// frames, or inside one. The caller keeps it, outside the write's future,
/// so that it is still known when a stuck write is given up half-way: a
/// close frame may follow only at a frame boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamPosition {
    #[default]
    BetweenFrames,
    InsideFrame,
}

/// The header of a final, unmasked frame with `opcode` and a payload of
/// `length` bytes, and how many of the array's bytes it uses.
pub fn header(opcode: u8, length: usize) -> ([u8; LONGEST_HEADER], usize) {
    let mut bytes = [0; LONGEST_HEADER];
    bytes[0] = 0x80 | opcode;
    let used = match u16::try_from(length) {
        Ok(short) if short < 126 => {
            bytes[1] = short as u8;
            2
        }
        Ok(medium) => {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&medium.to_be_bytes());
            4
        }
        Err(_) => {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(length as u64).to_be_bytes());
            10
        }
    };
    (bytes, used)
}

/// A data frame's opcode and payload; `None` for a control frame, which
/// the room never queues.
pub fn data(frame: &Message) -> Option<(u8, &[u8])> {
    match frame {
        Message::Text(text) => Some((TEXT, text.as_bytes())),
        Message::Binary(bytes) => Some((BINARY, bytes)),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

// ANCHOR: write
/// Writes the data frames of `frames`, in order: together, a few to each
/// vectored write, or with `one_write_per_frame` each by itself (the
/// handbook's one `send` per message, which the benchmark compares).
/// `position` says after every write whether it ended on a frame boundary.
pub async fn write<W>(
    socket: &mut W,
    frames: &[Message],
    one_write_per_frame: bool,
    position: &mut StreamPosition,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let per_write = if one_write_per_frame {
        1
    } else {
        FRAMES_PER_WRITE
    };
    for batch in frames.chunks(per_write) {
        // Each data frame's header (its bytes and how many are used) and
        // payload; a batch holds at most FRAMES_PER_WRITE frames.
        let mut parts = [([0; LONGEST_HEADER], 0, &[][..]); FRAMES_PER_WRITE];
        let mut count = 0;
        for (opcode, payload) in batch.iter().filter_map(data) {
            let (bytes, used) = header(opcode, payload.len());
            parts[count] = (bytes, used, payload);
            count += 1;
        }
        let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
        // Where each frame ends, counted from the batch's first byte.
        let mut frame_ends = [0; FRAMES_PER_WRITE];
        let mut batch_bytes = 0;
        for (index, (bytes, used, payload)) in parts[..count].iter().enumerate() {
            slices[2 * index] = IoSlice::new(&bytes[..*used]);
            slices[2 * index + 1] = IoSlice::new(payload);
            batch_bytes += used + payload.len();
            frame_ends[index] = batch_bytes;
        }
        let mut remaining = &mut slices[..2 * count];
        let mut sent = 0;
        while !remaining.is_empty() {
            let written = socket.write_vectored(remaining).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += written;
            *position = if frame_ends[..count].contains(&sent) {
                StreamPosition::BetweenFrames
            } else {
                StreamPosition::InsideFrame
            };
            IoSlice::advance_slices(&mut remaining, written);
        }
    }
    socket.flush().await
}
// ANCHOR_END: write

#[cfg(test)]
mod tests {
    use axum::extract::ws::Utf8Bytes;
    use tokio::io::AsyncReadExt;
    use tungstenite::protocol::frame::{Frame, FrameHeader};

    use super::*;

    #[test]
    fn headers_use_the_shortest_length_encoding() {
        let used = |length| {
            let (bytes, used) = header(TEXT, length);
            bytes[..used].to_vec()
        };
        assert_eq!(used(0), [0x81, 0]);
        assert_eq!(used(125), [0x81, 125]);
        assert_eq!(used(126), [0x81, 126, 0, 126]);
        assert_eq!(used(65_535), [0x81, 126, 0xff, 0xff]);
        assert_eq!(used(65_536), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(header(BINARY, 3).0[0], 0x82);
    }

    /// What tungstenite, the reader every test client uses, makes of bytes.
    fn parse_all(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let mut cursor = io::Cursor::new(bytes);
            let (header, length) = FrameHeader::parse(&mut cursor)
                .expect("a valid header")
                .expect("a whole header");
            let start = cursor.position() as usize;
            let end = start + length as usize;
            let frame = Frame::from_payload(header, bytes[start..end].to_vec().into());
            assert!(frame.header().is_final && frame.header().mask.is_none());
            frames.push((u8::from(frame.header().opcode), frame.payload().to_vec()));
            bytes = &bytes[end..];
        }
        frames
    }

    /// A socket that takes at most `step` bytes per write, as a full
    /// socket buffer does, so writes are partial.
    async fn written_through(step: usize, frames: &[Message], one_each: bool) -> Vec<u8> {
        let (mut socket, mut peer) = tokio::io::duplex(step);
        let frames = frames.to_vec();
        let writer = tokio::spawn(async move {
            let mut position = StreamPosition::InsideFrame;
            write(&mut socket, &frames, one_each, &mut position)
                .await
                .expect("written");
            assert_eq!(position, StreamPosition::BetweenFrames);
        });
        let mut received = Vec::new();
        let reader = peer.read_to_end(&mut received);
        let (written, read) = tokio::join!(writer, reader);
        written.expect("the writer ran");
        read.expect("read");
        received
    }

    #[tokio::test]
    async fn frames_arrive_whole_and_in_order_however_the_socket_splits_them() {
        let big = "x".repeat(70_000);
        let frames: Vec<Message> = (0..20)
            .map(|index| match index % 4 {
                0 => Message::Text(Utf8Bytes::from(format!("frame {index}"))),
                1 => Message::Binary(vec![index as u8; 300].into()),
                2 if index == 2 => Message::Text(Utf8Bytes::from(big.clone())),
                2 => Message::Text(Utf8Bytes::from("y".repeat(200))),
                _ => Message::Text(Utf8Bytes::from("")),
            })
            .collect();
        let expected: Vec<(u8, Vec<u8>)> = frames
            .iter()
            .filter_map(data)
            .map(|(opcode, payload)| (opcode, payload.to_vec()))
            .collect();
        for step in [3, 4096, 1 << 20] {
            for one_each in [false, true] {
                let bytes = written_through(step, &frames, one_each).await;
                assert_eq!(
                    parse_all(&bytes),
                    expected,
                    "step {step}, one each {one_each}"
                );
            }
        }
    }

    #[tokio::test]
    async fn control_frames_are_not_written_this_way() {
        // Between data frames too, so headers and payloads must stay paired.
        let frames = [
            Message::Text(Utf8Bytes::from("a")),
            Message::Ping(Default::default()),
            Message::Binary(vec![7; 300].into()),
            Message::Close(None),
            Message::Text(Utf8Bytes::from("")),
        ];
        let bytes = written_through(64, &frames, false).await;
        assert_eq!(
            parse_all(&bytes),
            [
                (TEXT, b"a".to_vec()),
                (BINARY, vec![7; 300]),
                (TEXT, Vec::new())
            ]
        );
    }

    /// Writes `frames` to a peer that takes `capacity` bytes and then
    /// nothing, gives up after a moment, and says where the stream stopped.
    async fn position_when_stuck(
        capacity: usize,
        frames: &[Message],
        one_each: bool,
    ) -> StreamPosition {
        let (mut socket, _peer) = tokio::io::duplex(capacity);
        let mut position = StreamPosition::BetweenFrames;
        let stuck = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            write(&mut socket, frames, one_each, &mut position),
        )
        .await;
        assert!(stuck.is_err(), "the write cannot finish");
        position
    }

    #[tokio::test]
    async fn a_write_given_up_half_way_says_whether_it_stopped_inside_a_frame() {
        // 2 + 4 bytes, then 2 + 100.
        let frames = [
            Message::Text(Utf8Bytes::from("1234")),
            Message::Text(Utf8Bytes::from("x".repeat(100))),
        ];
        for one_each in [false, true] {
            assert_eq!(
                position_when_stuck(10, &frames, one_each).await,
                StreamPosition::InsideFrame
            );
            // A peer that takes exactly the first frame.
            assert_eq!(
                position_when_stuck(6, &frames, one_each).await,
                StreamPosition::BetweenFrames
            );
        }
    }
}
