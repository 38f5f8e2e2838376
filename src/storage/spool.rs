//! The on-disk log an accepted event is written to before its 202.
//!
//! One thread appends: it takes every request waiting, writes them as one
//! group, calls `fdatasync` once and only then answers them (group commit).
//! A segment file is sealed after `segment_rows` events or `segment_period`,
//! and handed to the shipper, which deletes it once ClickHouse confirmed it.
//!
//! File layout: an 8-byte magic, the creation time (u64 ms, little endian),
//! then records `len: u32 | crc32: u32 | postcard(Vec<Event>)`. One record is
//! one request's events, so a torn record loses a request that was never
//! answered, and never half of one. Reading stops at the first record that is
//! short or fails its checksum.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, oneshot};

use super::rows::Event;

const MAGIC: &[u8; 8] = b"TPSPOOL1";
const HEADER: u64 = 16;
/// A sealed segment is named `<seq>.seg`; the one being written `<seq>.open`.
const SEALED: &str = "seg";
const OPEN: &str = "open";
/// Requests written in one group at most; bounds the latency of the first.
const GROUP_MAX: usize = 4096;

/// Where and how the spool writes.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    /// Bytes on disk past which new events are refused (503).
    pub max_bytes: u64,
    /// How long the appender waits after the first request of a group for
    /// more before it syncs; zero syncs at once (groups still form while a
    /// sync runs).
    pub commit_window: Duration,
    pub segment_rows: u64,
    pub segment_period: Duration,
    /// Requests waiting for the appender; more are refused (503).
    pub capacity: usize,
}

/// Why an event was not accepted; every reason is a 503 for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many requests are waiting for the disk")]
    Busy,
    #[error("the spool has reached its disk cap")]
    DiskCap,
    #[error("the spool cannot write to disk")]
    Io,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Busy => "busy",
            Refused::DiskCap => "disk_cap",
            Refused::Io => "io",
        }
    }
}

pub(crate) struct Append {
    pub events: Vec<Event>,
    pub done: oneshot::Sender<Result<(), Refused>>,
}

/// A sealed segment waiting for the shipper.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub path: PathBuf,
    pub bytes: u64,
    pub created_ms: u64,
    /// Found at start, or an INSERT of it failed: some of its rows may be in
    /// ClickHouse already, so the shipper asks before inserting.
    pub maybe_stored: bool,
}

/// What the appender and the shipper share.
#[derive(Default)]
pub struct Shared {
    pub sealed: Mutex<VecDeque<Sealed>>,
    /// Bytes of every segment on disk, the open one included.
    pub bytes: AtomicU64,
    /// Creation time (ms) of the open segment once it holds events; 0 before.
    pub open_ms: AtomicU64,
    /// Requests handed to the appender and not yet answered.
    pub waiting: AtomicUsize,
    /// The appender has stopped: what is sealed is all there will be.
    pub closed: AtomicBool,
    pub notify: Notify,
}

impl Shared {
    /// Creation time (ms) of the oldest segment holding events; `None` when
    /// everything accepted is in ClickHouse.
    pub fn oldest_ms(&self) -> Option<u64> {
        let sealed = self.sealed.lock().unwrap_or_else(|p| p.into_inner());
        let open = self.open_ms.load(Ordering::Relaxed);
        sealed.front().map(|s| s.created_ms).or((open > 0).then_some(open))
    }
}

/// Opens the spool directory: every segment left by an earlier run is
/// queued for shipping (marked maybe-stored), and the appender thread starts.
pub(crate) fn open(
    options: SpoolOptions,
) -> io::Result<(mpsc::SyncSender<Append>, Arc<Shared>, std::thread::JoinHandle<()>)> {
    fs::create_dir_all(&options.dir)?;
    let shared = Arc::new(Shared::default());
    let mut next = 0;
    let mut found = Vec::new();
    for entry in fs::read_dir(&options.dir)? {
        let path = entry?.path();
        let Some(seq) = sequence(&path) else { continue };
        next = next.max(seq + 1);
        found.push((seq, path));
    }
    found.sort();
    {
        let mut sealed = shared.sealed.lock().unwrap_or_else(|p| p.into_inner());
        for (_, path) in found {
            // An `.open` segment of a run that crashed: everything before its
            // first bad record was synced, so it ships like a sealed one.
            let bytes = fs::metadata(&path)?.len();
            let created_ms = read_header(&path).unwrap_or(0);
            shared.bytes.fetch_add(bytes, Ordering::Relaxed);
            sealed.push_back(Sealed { path, bytes, created_ms, maybe_stored: true });
        }
    }
    let (tx, rx) = mpsc::sync_channel(options.capacity);
    let appender = Appender { options, shared: shared.clone(), next, open: None };
    let thread = std::thread::Builder::new().name("spool-appender".into()).spawn(move || appender.run(rx))?;
    Ok((tx, shared, thread))
}

fn sequence(path: &Path) -> Option<u64> {
    let ext = path.extension()?.to_str()?;
    if ext != SEALED && ext != OPEN {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

fn read_header(path: &Path) -> io::Result<u64> {
    let mut header = [0u8; HEADER as usize];
    File::open(path)?.read_exact(&mut header)?;
    if &header[..8] != MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a spool segment"));
    }
    Ok(u64::from_le_bytes(header[8..].try_into().unwrap_or_default()))
}

/// Every event of a segment file, up to its first damaged record; the
/// count of bytes past that point is returned so it can be logged.
pub fn read_segment(path: &Path) -> io::Result<(Vec<Event>, u64)> {
    let data = fs::read(path)?;
    if data.len() < HEADER as usize || &data[..8] != MAGIC {
        return Ok((Vec::new(), data.len() as u64));
    }
    let mut events = Vec::new();
    let mut at = HEADER as usize;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = data.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        match postcard::from_bytes::<Vec<Event>>(payload) {
            Ok(batch) => events.extend(batch),
            Err(_) => break,
        }
        at += 8 + len;
    }
    Ok((events, (data.len() - at) as u64))
}

struct Segment {
    file: File,
    path: PathBuf,
    len: u64,
    events: u64,
    created_ms: u64,
    opened: Instant,
}

struct Appender {
    options: SpoolOptions,
    shared: Arc<Shared>,
    next: u64,
    open: Option<Segment>,
}

impl Appender {
    fn run(mut self, rx: mpsc::Receiver<Append>) {
        let tick = (self.options.segment_period / 4).max(Duration::from_millis(10));
        let mut group = Vec::new();
        loop {
            match rx.recv_timeout(tick) {
                Ok(first) => {
                    group.push(first);
                    if !self.options.commit_window.is_zero() {
                        std::thread::sleep(self.options.commit_window);
                    }
                    while group.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    self.commit(&mut group);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if self.open.as_ref().is_some_and(|o| self.due(o)) {
                self.seal();
            }
        }
        self.seal();
        self.shared.closed.store(true, Ordering::Release);
        self.shared.notify.notify_one();
        tracing::debug!("spool appender stopped");
    }

    fn due(&self, open: &Segment) -> bool {
        open.events >= self.options.segment_rows
            || (open.events > 0 && open.opened.elapsed() >= self.options.segment_period)
    }

    /// Writes the group, syncs once, answers every request.
    fn commit(&mut self, group: &mut Vec<Append>) {
        let mut buf = Vec::new();
        let mut answers = Vec::with_capacity(group.len());
        let mut events = 0;
        let room = self.options.max_bytes.saturating_sub(self.shared.bytes.load(Ordering::Relaxed));
        for append in group.drain(..) {
            let start = buf.len();
            buf.extend_from_slice(&[0; 8]);
            // Rows hold only strings, numbers and options: encoding cannot fail.
            let Ok(()) = postcard::to_io(&append.events, &mut buf).map(|_| ()) else {
                buf.truncate(start);
                answers.push((append.done, Err(Refused::Io)));
                continue;
            };
            if (buf.len() as u64) + HEADER > room {
                buf.truncate(start);
                answers.push((append.done, Err(Refused::DiskCap)));
                continue;
            }
            let len = (buf.len() - start - 8) as u32;
            let crc = crc32fast::hash(&buf[start + 8..]);
            buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
            buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
            events += append.events.len() as u64;
            answers.push((append.done, Ok(())));
        }
        let written = if buf.is_empty() { Ok(()) } else { self.write(&buf, events) };
        let answered = answers.len();
        for (done, mut result) in answers {
            if written.is_err() && result.is_ok() {
                result = Err(Refused::Io);
            }
            let _ = done.send(result);
        }
        self.shared.waiting.fetch_sub(answered, Ordering::Relaxed);
    }

    fn write(&mut self, buf: &[u8], events: u64) -> io::Result<()> {
        if self.open.is_none() {
            self.open =
                Some(self.create().inspect_err(|e| tracing::error!(error = %e, "cannot open a spool segment"))?);
        }
        let Some(open) = self.open.as_mut() else { return Err(io::ErrorKind::Other.into()) };
        match open.file.write_all(buf).and_then(|()| open.file.sync_data()) {
            Ok(()) => {
                open.len += buf.len() as u64;
                open.events += events;
                self.shared.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                self.shared.open_ms.store(open.created_ms, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // Cut what may have been half written, then seal what was
                // synced before: the next group starts a new segment.
                tracing::error!(error = %e, "cannot write to the spool; the requests get 503");
                let _ = open.file.set_len(open.len);
                self.seal();
                Err(e)
            }
        }
    }

    fn create(&mut self) -> io::Result<Segment> {
        let path = self.options.dir.join(format!("{:020}.{OPEN}", self.next));
        self.next += 1;
        let created_ms =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&created_ms.to_le_bytes());
        let made = file.write_all(&header).and_then(|()| file.sync_data()).and_then(|()| sync_dir(&self.options.dir));
        if let Err(e) = made {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.shared.bytes.fetch_add(HEADER, Ordering::Relaxed);
        Ok(Segment { file, path, len: HEADER, events: 0, created_ms, opened: Instant::now() })
    }

    /// Hands the open segment to the shipper; an empty one is removed.
    fn seal(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.events == 0 {
            if fs::remove_file(&open.path).is_ok() {
                self.shared.bytes.fetch_sub(open.len, Ordering::Relaxed);
            }
            return;
        }
        let sealed = open.path.with_extension(SEALED);
        // A failed rename leaves an `.open` file, which the next start ships.
        let path = match fs::rename(&open.path, &sealed) {
            Ok(()) => sealed,
            Err(_) => open.path.clone(),
        };
        let segment = Sealed { path, bytes: open.len, created_ms: open.created_ms, maybe_stored: false };
        self.shared.sealed.lock().unwrap_or_else(|p| p.into_inner()).push_back(segment);
        self.shared.open_ms.store(0, Ordering::Relaxed);
        self.shared.notify.notify_one();
    }
}

/// A new file's name must survive a power cut too, not only its data.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rows::LetterRow;

    fn letter(id: &str) -> Event {
        Event::Letter(LetterRow {
            event_id: uuid::Uuid::new_v4(),
            letter_id: id.into(),
            received_at: 1,
            acknowledged_at: None,
            answered_at: Some(2),
            updated_at: 3,
            journey: "j".into(),
            stage: "s".into(),
            touchpoint: "email".into(),
            process: String::new(),
            segment: 0,
        })
    }

    fn record(events: &[Event]) -> Vec<u8> {
        let payload = postcard::to_stdvec(events).unwrap();
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn reading_stops_at_a_torn_or_damaged_record_and_keeps_what_precedes_it() {
        let dir = std::env::temp_dir().join(format!("spool-unit-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("1.seg");
        let first = vec![letter("1"), letter("2")];
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend(record(&first));
        let whole = bytes.len();
        let mut damaged = record(&[letter("3")]);
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        bytes.extend(&damaged);
        bytes.extend(record(&[letter("4")]));

        fs::write(&path, &bytes).unwrap();
        let (events, rest) = read_segment(&path).unwrap();
        assert_eq!(events, first, "the damaged record and everything after it are dropped");
        assert_eq!(rest as usize, bytes.len() - whole);

        fs::write(&path, &bytes[..whole + 5]).unwrap();
        assert_eq!(read_segment(&path).unwrap().0, first, "a record cut short is dropped");
        assert_eq!(read_header(&path).unwrap(), 7);
        fs::remove_dir_all(dir).unwrap();
    }
}
