//! Answers read within a size limit and before a deadline: every body the registry store reads goes
//! through here, so that no answer, however long or slow, holds more memory than its limit or more time
//! than [`RegistryOptions::deadline`](super::RegistryOptions::deadline).

use std::io::{self, Read};
use std::sync::Arc;

use reqwest::Response;
use tokio::time::{Instant, timeout_at};

use super::{Client, error_chain};

/// An answer to one request, with the time by which its body must have arrived.
pub(super) struct Answer {
    pub(super) response: Response,
    pub(super) deadline: Instant,
    /// `METHOD URL` (without the query, which may hold a signature), for messages.
    pub(super) request: String,
}

impl Answer {
    pub(super) fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    pub(super) fn headers(&self) -> &reqwest::header::HeaderMap {
        self.response.headers()
    }
}

/// Why a body could not be read whole.
pub(super) enum BodyFault {
    /// More than `limit` bytes: announced by `Content-Length` (`declared`), or seen arriving.
    TooLarge { limit: u64, declared: Option<u64> },
    /// The deadline passed first.
    Deadline,
    /// The connection failed.
    Transport(reqwest::Error),
}

/// The whole body, refused before reading when its `Content-Length` exceeds `limit`, and as soon as more
/// than `limit` bytes arrive otherwise.
pub(super) async fn read_limited(answer: &mut Answer, limit: u64) -> Result<Vec<u8>, BodyFault> {
    if let Some(declared) = answer.response.content_length()
        && declared > limit
    {
        return Err(BodyFault::TooLarge {
            limit,
            declared: Some(declared),
        });
    }
    let mut body = Vec::new();
    loop {
        match timeout_at(answer.deadline, answer.response.chunk()).await {
            Err(_) => return Err(BodyFault::Deadline),
            Ok(Err(e)) => return Err(BodyFault::Transport(e)),
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                if (body.len() + chunk.len()) as u64 > limit {
                    return Err(BodyFault::TooLarge {
                        limit,
                        declared: None,
                    });
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// At most the first `limit` bytes of the body (an error answer, read for its message): whatever arrived
/// before the end, the limit, a failure or the deadline.
pub(super) async fn read_prefix(answer: &mut Answer, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match timeout_at(answer.deadline, answer.response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    body
}

/// A blob's body as a synchronous reader, blocking on the store's runtime for each block: it fails once
/// more than `limit` bytes arrive, and once the deadline passes.
pub(super) struct BodyReader {
    pub(super) client: Arc<Client>,
    /// `None` once the body has ended.
    pub(super) answer: Option<Answer>,
    pub(super) limit: Option<u64>,
    pub(super) received: u64,
    pub(super) pending: bytes::Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            let Some(answer) = self.answer.as_mut() else {
                return Ok(0);
            };
            // The timer is made inside the runtime (`timeout_at` needs its clock).
            let next = self
                .client
                .runtime
                .block_on(async { timeout_at(answer.deadline, answer.response.chunk()).await });
            match next {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no complete answer to {} within the {:?} deadline",
                            answer.request, self.client.options.deadline
                        ),
                    ));
                }
                Ok(Err(e)) => return Err(io::Error::other(error_chain(&e))),
                Ok(Ok(None)) => {
                    self.answer = None;
                    return Ok(0);
                }
                Ok(Ok(Some(chunk))) => {
                    self.received += chunk.len() as u64;
                    if let Some(limit) = self.limit
                        && self.received > limit
                    {
                        let message = format!(
                            "{} sent more than the {limit} bytes the blob has",
                            answer.request
                        );
                        self.answer = None;
                        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                    }
                    self.pending = chunk;
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}
