//! Reading ahead on a thread of its own: while the caller parses one block of a capture, the
//! next blocks are read (and, for `.gz` captures, inflated) beside it. On a large capture the
//! copy out of the page cache and the inflate are a third of the reading thread's time; here
//! they overlap with the analysis instead of adding to it.
//!
//! Bounded: at most [`DEPTH`] blocks of [`BLOCK`] bytes wait at once. An error of the stream
//! is handed over in its place, after the bytes before it.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

const BLOCK: usize = 1 << 20;
const DEPTH: usize = 4;

/// A stream read ahead by a thread.
pub(crate) struct Prefetched {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Emptied blocks go back for reuse.
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
    done: bool,
}

/// Start reading `inner` ahead. Returns `inner` itself when no thread can be started.
pub(crate) fn spawn(inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
    let (back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
    // The reader is moved to the thread only once it has started, so a refusal leaves it here.
    let (hand, take) = sync_channel::<Box<dyn Read + Send>>(1);
    let started = std::thread::Builder::new()
        .name("pc-capture-read".into())
        .spawn(move || {
            if let Ok(inner) = take.recv() {
                run(inner, &tx, &spare);
            }
        });
    match started {
        Ok(_) => {
            if let Err(e) = hand.send(inner) {
                return e.0;
            }
            Box::new(Prefetched {
                rx,
                back,
                cur: Vec::new(),
                at: 0,
                done: false,
            })
        }
        Err(_) => inner,
    }
}

/// The thread: read blocks until the end, an error, or the reader being dropped.
fn run(
    mut inner: Box<dyn Read + Send>,
    tx: &SyncSender<io::Result<Vec<u8>>>,
    spare: &Receiver<Vec<u8>>,
) {
    loop {
        let mut block = spare.try_recv().unwrap_or_default();
        block.resize(BLOCK, 0);
        let mut n = 0;
        let mut failed = None;
        while n < BLOCK {
            match inner.read(&mut block[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        block.truncate(n);
        let end = n < BLOCK;
        if n > 0 && tx.send(Ok(block)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    }
}

impl Read for Prefetched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    let old = std::mem::replace(&mut self.cur, block);
                    self.at = 0;
                    let _ = self.back.try_send(old);
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The thread ended: the end of the stream.
                Err(_) => self.done = true,
            }
        }
        let k = buf.len().min(self.cur.len() - self.at);
        buf[..k].copy_from_slice(&self.cur[self.at..self.at + k]);
        self.at += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails after `ok` bytes, like a cut `.gz` file.
    struct Failing {
        left: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt"));
            }
            let k = buf.len().min(self.left).min(4096);
            buf[..k].fill(7);
            self.left -= k;
            Ok(k)
        }
    }

    #[test]
    fn gives_every_byte_in_order() {
        let data: Vec<u8> = (0..3 * BLOCK + 12345).map(|i| (i % 251) as u8).collect();
        let mut r = spawn(Box::new(io::Cursor::new(data.clone())));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let mut r = spawn(Box::new(Failing { left: BLOCK + 100 }));
        let mut out = vec![0u8; 2 * BLOCK];
        let mut n = 0;
        let err = loop {
            match r.read(&mut out[n..]) {
                Ok(0) => panic!("the error was lost"),
                Ok(k) => n += k,
                Err(e) => break e,
            }
        };
        assert_eq!(n, BLOCK + 100);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(r.read(&mut out).unwrap(), 0, "fused after the error");
    }
}
