//! The streaming reader of one entry's uncompressed bytes: stored or inflated, with the declared
//! size and the CRC32 checked as the bytes go by.

use std::io::{self, Read};

use super::ZipError;
use super::central::io_error;

pub(super) enum Body<'r, R> {
    Stored(io::Take<&'r mut R>),
    Deflate(io::Take<flate2::read::DeflateDecoder<io::Take<&'r mut R>>>),
}

/// The uncompressed bytes of one entry, streamed from the archive's file by [`Archive::open`].
/// Reading past the declared size, ending short of it, a CRC32 mismatch, a corrupt deflate
/// stream or an I/O error fails the read with an `io::Error` whose inner error is the
/// [`ZipError`] ([`EntryReader::error`] gets it back).
pub struct EntryReader<'r, R> {
    pub(super) body: Body<'r, R>,
    /// File offset of the data (for errors).
    pub(super) at: u64,
    pub(super) want: u64,
    pub(super) got: u64,
    pub(super) crc: flate2::Crc,
    pub(super) expected_crc: u32,
    pub(super) done: bool,
}

impl<R> std::fmt::Debug for EntryReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryReader")
            .field("at", &self.at)
            .field("want", &self.want)
            .field("got", &self.got)
            .finish_non_exhaustive()
    }
}

impl<R> EntryReader<'_, R> {
    /// The [`ZipError`] behind an error this reader returned (I/O errors of the file become
    /// [`ZipError::Io`]).
    pub fn error(&self, e: &io::Error) -> ZipError {
        match e.get_ref().and_then(|i| i.downcast_ref::<ZipError>()) {
            Some(z) => z.clone(),
            None => io_error(self.at.saturating_add(self.got), e),
        }
    }

    /// Bytes produced so far.
    pub fn position(&self) -> u64 {
        self.got
    }

    fn fail(&mut self, e: ZipError) -> io::Error {
        self.done = true;
        io::Error::other(e)
    }
}

impl<R: Read> Read for EntryReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let at = self.at;
        let n = match &mut self.body {
            Body::Stored(r) => r.read(buf),
            Body::Deflate(r) => r.read(buf),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let z = match &self.body {
                    // A corrupt stream, whatever flate2 calls it.
                    Body::Deflate(_) => ZipError::Inflate { at },
                    Body::Stored(_) => io_error(at.saturating_add(self.got), &e),
                };
                return Err(self.fail(z));
            }
        };
        self.got += n as u64;
        if self.got > self.want {
            return Err(self.fail(ZipError::Bomb {
                at,
                what: "stream inflates past its declared size",
            }));
        }
        self.crc.update(&buf[..n]);
        if n == 0 {
            self.done = true;
            if self.got < self.want {
                return Err(self.fail(ZipError::SizeMismatch {
                    at,
                    expected: self.want,
                    actual: self.got,
                }));
            }
            if self.crc.sum() != self.expected_crc {
                return Err(self.fail(ZipError::Crc {
                    at,
                    expected: self.expected_crc,
                    actual: self.crc.sum(),
                }));
            }
        }
        Ok(n)
    }
}
