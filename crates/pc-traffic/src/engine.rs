//! The engine's entry points: [`Engine`] (one run's matcher, key log and GeoIP), the streams it
//! opens per input, and [`analyze`], the batch run over files that `phonecert traffic` is.
//!
//! Dependencies go one way: this module drives `stream.rs` (packets) and `har.rs` (HAR
//! entries), which use `ctx.rs` and `result.rs`; `report.rs` puts the results together.

use crate::ctx::Ctx;
use crate::event::EventSink;
use crate::model::*;
use crate::result::CaptureResult;
use crate::stream::CaptureStream;
use pc_case::Consent;
use pc_detect::{Identifier, Matcher, ScanOptions};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// One capture to analyse, with the phase it belongs to.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub phase: String,
    pub consent: Consent,
    /// NSS key logs (`SSLKEYLOGFILE`) for this capture's TLS connections.
    pub keylogs: Vec<PathBuf>,
}

impl Input {
    /// Every capture of every phase of a case, with the phase's key logs.
    pub fn from_case(case: &pc_case::Case) -> Vec<Input> {
        let mut out = Vec::new();
        for p in &case.phases {
            for c in &p.captures {
                out.push(Input {
                    path: case.resolve(c),
                    phase: p.name.clone(),
                    consent: p.consent,
                    keylogs: p.keylogs.iter().map(|k| case.resolve(k)).collect(),
                });
            }
        }
        out
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show identifiers in evidence snippets instead of masking them.
    pub reveal: bool,
    /// A MaxMind `.mmdb` to use for countries instead of the embedded database.
    pub geoip: Option<PathBuf>,
    /// Decoding depth and budget of the matcher.
    pub scan: ScanOptions,
    /// Limits of the flow table and reassembly.
    pub net: pc_net::Limits,
    /// NSS key logs for every input (in addition to each input's own).
    pub keylogs: Vec<PathBuf>,
    /// Threads to use (0: one per core). Inputs are analysed side by side; the threads left
    /// over go to sharing large captures between workers (see `stream.rs`). The report is the
    /// same whatever the number.
    pub threads: usize,
}

/// Errors that stop the whole analysis (per-input errors are reported in `inputs` instead).
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("GeoIP database: {0}")]
    Geo(#[from] pc_detect::geo::GeoError),
    #[error("{path}: cannot read key log: {source}")]
    KeyLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One run: the identifiers to look for, the key material and the GeoIP database, ready to
/// analyse inputs, whether read from files or pushed packet by packet (live capture).
pub struct Engine {
    ctx: Arc<Ctx>,
    geo: pc_detect::geo::GeoDb,
    /// The ASN tables, read on a thread of their own while the inputs are analysed (reading
    /// them is most of a small run's time); taken when the report is built.
    asn: std::sync::Mutex<Asn>,
}

enum Asn {
    Loading(
        std::thread::JoinHandle<Option<pc_detect::geo::AsnTable>>,
        Arc<std::sync::atomic::AtomicBool>,
    ),
    Ready(Option<pc_detect::geo::AsnTable>),
}

impl Engine {
    /// Build the matcher, read the key logs of `opts`, open the GeoIP database.
    pub fn new(ids: &[Identifier], opts: &Options) -> Result<Engine, TrafficError> {
        let geo = match &opts.geoip {
            Some(p) => pc_detect::geo::GeoDb::open(p)?,
            None => pc_detect::geo::GeoDb::embedded()?,
        };
        let ctx = Ctx {
            keylog: read_keylogs(&opts.keylogs)?,
            matcher: Matcher::new(ids),
            ids: ids.to_vec(),
            scan: opts.scan,
            reveal: opts.reveal,
            net: opts.net.clone(),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let asn = match std::thread::Builder::new()
            .name("pc-traffic-asn".into())
            .spawn(move || pc_detect::geo::AsnTable::embedded_unless(&flag))
        {
            Ok(h) => Asn::Loading(h, stop),
            Err(_) => Asn::Ready(None),
        };
        Ok(Engine {
            ctx: Arc::new(ctx),
            geo,
            asn: std::sync::Mutex::new(asn),
        })
    }

    /// A stream for one packet input (a capture file read by the caller, or a live capture):
    /// push its packets, then [`CaptureStream::finish`]. `workers` threads share it (0 or 1:
    /// the caller's thread only); `events` receives facts as they are decided. The input's own
    /// key logs are read here; a key log that cannot be read is an error of this input.
    pub fn stream(
        &self,
        input: &Input,
        workers: usize,
        events: Option<EventSink>,
    ) -> CaptureStream<'_> {
        let mut result = new_result(input);
        let mut keys = self.ctx.keylog.clone();
        match read_keylogs(&input.keylogs) {
            Ok(k) => keys.merge(k),
            Err(e) => result.input.errors.push(e.to_string()),
        }
        CaptureStream::new(&self.ctx, result, keys, workers, events)
    }

    /// The report over the results of every input.
    pub fn report(&self, results: Vec<CaptureResult>) -> TrafficReport {
        let mut asn = self
            .asn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Loaded by now (a long run): one pass over the table. Not yet (a short run): the
        // streaming lookup, which stops early, is quicker than waiting; the load is stopped.
        if let Asn::Loading(h, stop) = &*asn {
            if h.is_finished() {
                if let Asn::Loading(h, _) = std::mem::replace(&mut *asn, Asn::Ready(None)) {
                    *asn = Asn::Ready(h.join().ok().flatten());
                }
            } else {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let table = match &*asn {
            Asn::Ready(Some(t)) => Some(t),
            _ => None,
        };
        let lookup = |ips: &[std::net::IpAddr]| match table {
            Some(t) => t.lookup(ips),
            None => pc_detect::geo::asn_lookup(ips).unwrap_or_default(),
        };
        crate::report::build_report(
            results,
            &self.ctx.matcher,
            &self.ctx.ids,
            &self.geo,
            &lookup,
        )
    }

    /// Analyse one input file: a HAR, or a capture read as a stream and pushed through
    /// [`Engine::stream`].
    pub fn analyze_file(
        &self,
        input: &Input,
        workers: usize,
        progress: &(dyn Fn(u64) + Sync),
    ) -> CaptureResult {
        let mut result = new_result(input);
        let format = match pc_capture::sniff_format(&input.path) {
            Ok(f) => f,
            Err(e) => {
                result.input.errors.push(e.to_string());
                result.input.failed = true;
                return result;
            }
        };
        if format == pc_capture::CaptureFormat::Har {
            result.input.format = "har".into();
            crate::har::analyze(&self.ctx, &input.path, &mut result);
            progress(result.input.bytes);
            for d in result.destinations.values_mut() {
                d.phases.insert(input.phase.clone());
                d.captures.insert(result.input.path.clone());
            }
            result
        } else {
            self.read_packets(input, workers, progress)
        }
    }

    fn read_packets(
        &self,
        input: &Input,
        workers: usize,
        progress: &(dyn Fn(u64) + Sync),
    ) -> CaptureResult {
        let mut reader = match pc_capture::CaptureReader::open(&input.path) {
            Ok(r) => r,
            Err(e) => {
                let mut result = new_result(input);
                result.input.errors.push(e.to_string());
                result.input.failed = true;
                return result;
            }
        };
        let mut stream = self.stream(input, workers, None);
        let format = match reader.format() {
            pc_capture::CaptureFormat::Pcap => "pcap",
            pc_capture::CaptureFormat::PcapNg => "pcapng",
            pc_capture::CaptureFormat::Har => "har",
        };
        stream.set_format(format, reader.compressed());
        let mut reported = 0u64;
        let mut packets = 0u64;
        let mut stopped = None;
        loop {
            match reader.next_packet() {
                Ok(Some(pkt)) => stream.push_record(&pkt),
                Ok(None) => break,
                Err(e) => {
                    // What came before the bad record was analysed; what follows never will.
                    stopped = Some((e.offset, e.to_string()));
                    break;
                }
            }
            packets += 1;
            if packets.is_multiple_of(4096) {
                let now = reader.bytes_read();
                progress(now.saturating_sub(reported));
                reported = now;
            }
        }
        let mut result = stream.finish();
        progress(reader.bytes_read().saturating_sub(reported));
        if let Some((offset, e)) = stopped {
            result.input.stopped_at = Some(offset);
            result.input.errors.push(e);
        }
        result
    }
}

/// An empty result for `input`.
fn new_result(input: &Input) -> CaptureResult {
    CaptureResult {
        input: InputSummary {
            path: input.path.display().to_string(),
            phase: input.phase.clone(),
            consent: input.consent,
            bytes: std::fs::metadata(&input.path).map(|m| m.len()).unwrap_or(0),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Analyse every input and build the report. Inputs run side by side; when there are fewer
/// inputs than threads, each capture is shared by the threads left over.
///
/// `progress` is called with the number of input bytes consumed since the last call, from any
/// thread; it drives the progress bar.
pub fn analyze(
    inputs: &[Input],
    ids: &[Identifier],
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TrafficReport, TrafficError> {
    let engine = Engine::new(ids, opts)?;
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let side_by_side = inputs.len().clamp(1, threads);
    let workers = threads / side_by_side;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(side_by_side)
        .build()
        .ok();
    let run = || {
        inputs
            .par_iter()
            .map(|input| engine.analyze_file(input, workers, progress))
            .collect::<Vec<_>>()
    };
    let results = match &pool {
        Some(p) => p.install(run),
        None => run(),
    };
    Ok(engine.report(results))
}

/// Key log files are small text files; anything larger is not a key log.
const MAX_KEYLOG_BYTES: u64 = 256 << 20;

/// Read and merge NSS key log files.
fn read_keylogs(paths: &[PathBuf]) -> Result<pc_tlsdec::keylog::KeyLog, TrafficError> {
    let mut all = pc_tlsdec::keylog::KeyLog::default();
    for p in paths {
        let mut text = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_KEYLOG_BYTES), &mut text)
            })
            .map_err(|source| TrafficError::KeyLog {
                path: p.clone(),
                source,
            })?;
        all.merge(pc_tlsdec::keylog::KeyLog::parse(&text));
    }
    Ok(all)
}
