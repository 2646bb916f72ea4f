//! Master secrets of TLS ≤ 1.2 sessions remembered across the connections of a capture, so that
//! resumed handshakes (by session id or ticket) can be decrypted.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Master secrets of TLS ≤ 1.2 sessions, by session id and by session ticket, shared between
/// the [`Session`]s of one capture so that resumed handshakes (which log nothing new in some
/// key logs) can be decrypted. Bounded: the oldest entries are evicted.
#[derive(Debug, Default)]
pub struct ResumptionCache {
    by_id: BTreeMap<Vec<u8>, [u8; 48]>,
    /// Keyed by SHA-256 of the ticket, so that huge tickets cost 32 bytes.
    by_ticket: BTreeMap<[u8; 32], [u8; 48]>,
    order: VecDeque<CacheKey>,
    max_entries: usize,
}

#[derive(Debug, Clone)]
enum CacheKey {
    Id(Vec<u8>),
    Ticket([u8; 32]),
}

impl ResumptionCache {
    /// Default capacity.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// An empty cache holding at most `max_entries` secrets.
    pub fn new(max_entries: usize) -> Self {
        ResumptionCache {
            max_entries,
            ..Default::default()
        }
    }

    /// A cache to share between the sessions of a capture.
    pub fn shared() -> Arc<Mutex<ResumptionCache>> {
        Arc::new(Mutex::new(Self::new(Self::DEFAULT_MAX_ENTRIES)))
    }

    fn evict(&mut self) {
        let max = if self.max_entries == 0 {
            Self::DEFAULT_MAX_ENTRIES
        } else {
            self.max_entries
        };
        while self.by_id.len() + self.by_ticket.len() > max {
            match self.order.pop_front() {
                Some(CacheKey::Id(k)) => {
                    self.by_id.remove(&k);
                }
                Some(CacheKey::Ticket(k)) => {
                    self.by_ticket.remove(&k);
                }
                None => break,
            }
        }
    }

    /// Remember the master secret of a session id (ids are 1..=32 bytes).
    pub fn insert_session_id(&mut self, id: &[u8], master: [u8; 48]) {
        if id.is_empty() || id.len() > 32 {
            return;
        }
        if self.by_id.insert(id.to_vec(), master).is_none() {
            self.order.push_back(CacheKey::Id(id.to_vec()));
            self.evict();
        }
    }

    /// Remember the master secret of a session ticket.
    pub fn insert_ticket(&mut self, ticket: &[u8], master: [u8; 48]) {
        if ticket.is_empty() {
            return;
        }
        let k: [u8; 32] = Sha256::digest(ticket).into();
        if self.by_ticket.insert(k, master).is_none() {
            self.order.push_back(CacheKey::Ticket(k));
            self.evict();
        }
    }

    /// Master secret of a session id.
    pub fn by_session_id(&self, id: &[u8]) -> Option<[u8; 48]> {
        self.by_id.get(id).copied()
    }

    /// Master secret of a session ticket.
    pub fn by_ticket(&self, ticket: &[u8]) -> Option<[u8; 48]> {
        let k: [u8; 32] = Sha256::digest(ticket).into();
        self.by_ticket.get(&k).copied()
    }

    /// Number of secrets held.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_ticket.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The cache, even if another session panicked while holding it (its maps stay consistent).
pub(crate) fn lock(c: &Mutex<ResumptionCache>) -> std::sync::MutexGuard<'_, ResumptionCache> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
