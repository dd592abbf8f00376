//! Streams on madsim's TCP connections, with the node contract on top.
//!
//! madsim's `TcpStream` is reliable and in order (it waits out a clogged link and retries),
//! but it has no receive window (a write is always taken), and a peer that crashed looks
//! like one that closed (both end in EOF). So each connection carries small frames:
//!
//! - `Hello(stream id)` first, from the connector: both ends name the stream by the same id;
//! - `Data(bytes)`: what the node wrote (never more than its credit);
//! - `Credit(n)`: the reader's node consumed `n` bytes, so the writer may send `n` more:
//!   faultline's flow control (a full window refuses writes, `Writable` when room comes
//!   back, `pause_reading` holds data back and so stops the credit), carried in band;
//! - `Close`: a graceful close. EOF without it is a reset (the peer crashed or was killed).
//!
//! Gaps against faultline's streams: the window is enforced by the writing node's credit,
//! but madsim itself buffers without bound; a connect to a crashed node is refused at once
//! (madsim has no connect timeout to wait out); stream resets cannot be injected (madsim has
//! no such control), only caused by killing a node.

use crate::runtime::{index_of, ip_of, Input, STREAM_PORT};
use faultline::{CloseReason, Node, StreamId};
use madsim::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// One frame on a connection.
#[derive(Debug)]
pub(crate) enum Frame {
    Hello(StreamId),
    Data(Vec<u8>),
    Credit(u32),
    Close,
}

const HELLO: u8 = 0;
const DATA: u8 = 1;
const CREDIT: u8 = 2;
const CLOSE: u8 = 3;

impl Frame {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Hello(id) => {
                out.push(HELLO);
                out.extend_from_slice(&8u32.to_le_bytes());
                out.extend_from_slice(&id.0.to_le_bytes());
            }
            Frame::Credit(n) => {
                out.push(CREDIT);
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
            }
            Frame::Data(d) => {
                out.push(DATA);
                out.extend_from_slice(&(d.len() as u32).to_le_bytes());
                out.extend_from_slice(d);
            }
            Frame::Close => {
                out.push(CLOSE);
                out.extend_from_slice(&0u32.to_le_bytes());
            }
        }
    }

    /// The next frame, or `None` at EOF or on a malformed frame.
    async fn read(r: &mut ReadHalf<TcpStream>) -> Option<Frame> {
        let mut head = [0u8; 5];
        r.read_exact(&mut head).await.ok()?;
        let len = u32::from_le_bytes(head[1..5].try_into().ok()?) as usize;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await.ok()?;
        match head[0] {
            HELLO => Some(Frame::Hello(StreamId(u64::from_le_bytes(
                body.get(..8)?.try_into().ok()?,
            )))),
            DATA => Some(Frame::Data(body)),
            CREDIT => Some(Frame::Credit(u32::from_le_bytes(
                body.get(..4)?.try_into().ok()?,
            ))),
            CLOSE => Some(Frame::Close),
            _ => None,
        }
    }
}

/// A stream as its node's task keeps it.
pub(crate) struct LocalStream {
    out: UnboundedSender<Frame>,
    /// The node paused reading: data waits here, and no credit goes back.
    pub paused: bool,
    pub waiting: Vec<u8>,
}

impl LocalStream {
    pub fn new(out: UnboundedSender<Frame>) -> LocalStream {
        LocalStream {
            out,
            paused: false,
            waiting: Vec::new(),
        }
    }

    pub fn send(&self, frame: Frame) {
        // The writer is gone only if the connection is: its Closed notice is on the way.
        let _ = self.out.send(frame);
    }

    /// The node is handed `bytes`: they go back to the writer as credit.
    pub fn credit(&self, bytes: usize) {
        self.send(Frame::Credit(bytes as u32));
    }
}

/// Write frames until the node closes the stream (or drops it), or the connection fails.
async fn write_frames(mut w: WriteHalf<TcpStream>, mut frames: UnboundedReceiver<Frame>) {
    let mut buf = Vec::new();
    while let Some(first) = frames.recv().await {
        buf.clear();
        let mut closing = matches!(first, Frame::Close);
        first.encode(&mut buf);
        // Batch what is already queued into one write.
        while !closing {
            let Ok(more) = frames.try_recv() else { break };
            closing = matches!(more, Frame::Close);
            more.encode(&mut buf);
        }
        if w.write_all(&buf).await.is_err() || w.flush().await.is_err() || closing {
            return;
        }
    }
}

/// Read frames and hand them to the node's task until the peer closes or the connection
/// ends.
async fn read_frames<N: Node>(
    mut r: ReadHalf<TcpStream>,
    stream: StreamId,
    inbox: UnboundedSender<Input<N>>,
) {
    loop {
        let input = match Frame::read(&mut r).await {
            Some(Frame::Data(data)) => Input::Data { stream, data },
            Some(Frame::Credit(n)) => Input::Credit {
                stream,
                bytes: n as usize,
            },
            Some(Frame::Close) => {
                let _ = inbox.send(Input::Closed {
                    stream,
                    reason: CloseReason::PeerClosed,
                });
                return;
            }
            Some(Frame::Hello(_)) | None => {
                let _ = inbox.send(Input::Closed {
                    stream,
                    reason: CloseReason::Reset,
                });
                return;
            }
        };
        if inbox.send(input).is_err() {
            return;
        }
    }
}

/// Open `stream` to node `to`: `Connected` or `Refused`, then its frames both ways.
pub(crate) async fn connect<N: Node + 'static>(
    to: u32,
    stream: StreamId,
    frames: UnboundedReceiver<Frame>,
    inbox: UnboundedSender<Input<N>>,
) {
    let Ok(conn) = TcpStream::connect(SocketAddr::new(ip_of(to), STREAM_PORT)).await else {
        let _ = inbox.send(Input::Closed {
            stream,
            reason: CloseReason::Refused,
        });
        return;
    };
    let (r, mut w) = tokio::io::split(conn);
    let mut hello = Vec::new();
    Frame::Hello(stream).encode(&mut hello);
    if w.write_all(&hello).await.is_err() || w.flush().await.is_err() {
        let _ = inbox.send(Input::Closed {
            stream,
            reason: CloseReason::Refused,
        });
        return;
    }
    let _ = inbox.send(Input::Connected { stream });
    madsim::task::spawn_local(read_frames(r, stream, inbox));
    write_frames(w, frames).await;
}

/// Accept streams for a node until it dies.
pub(crate) async fn accept<N: Node + 'static>(
    listener: TcpListener,
    inbox: UnboundedSender<Input<N>>,
) {
    while let Ok((conn, peer)) = listener.accept().await {
        madsim::task::spawn_local(accepted(conn, peer, inbox.clone()));
    }
}

async fn accepted<N: Node + 'static>(
    conn: TcpStream,
    peer: SocketAddr,
    inbox: UnboundedSender<Input<N>>,
) {
    let Some(from) = index_of(peer) else { return };
    let (mut r, w) = tokio::io::split(conn);
    let Some(Frame::Hello(stream)) = Frame::read(&mut r).await else {
        return;
    };
    let (out, frames) = unbounded_channel();
    if inbox.send(Input::Accepted { stream, from, out }).is_err() {
        return;
    }
    madsim::task::spawn_local(read_frames(r, stream, inbox));
    write_frames(w, frames).await;
}
