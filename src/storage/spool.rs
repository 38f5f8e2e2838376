//! The on-disk log an accepted event is written to before its 202.
//!
//! Two durability modes, chosen by `sync_interval`:
//! - interval (the default, a few ms): a request's record is written to the
//!   file (the kernel's page cache) before its 202, so a crash or `kill -9`
//!   of the service loses nothing; a syncer thread calls `fdatasync` every
//!   interval, so a power cut or kernel crash loses at most that window.
//! - zero: `fdatasync` before every 202, by group commit without a thread of
//!   its own: the first request to arrive while nobody is writing becomes the
//!   leader; it takes every record waiting, writes them as one group, syncs
//!   once and answers them all, then hands the lead to the first request that
//!   arrived meanwhile.
//!
//! Segment files are preallocated (zero-filled) by a background tick, so
//! that `fdatasync` only flushes data: an appended file also has its size
//! journalled on every sync (strict mode here: 22k -> 27k ratings/s).
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
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, oneshot};

use super::rows::Event;

const MAGIC: &[u8; 8] = b"TPSPOOL1";
const HEADER: u64 = 16;
/// A sealed segment is named `<seq>.seg`; the one being written `<seq>.open`.
const SEALED: &str = "seg";
const OPEN: &str = "open";
/// Largest preallocated segment; a segment is also at most 1/16 of the cap.
const SEGMENT_BYTES_MAX: u64 = 4 << 20;
const SEGMENT_BYTES_MIN: u64 = 64 << 10;

/// Where and how the spool writes.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Folder of the segment files; one service instance per folder.
    pub dir: PathBuf,
    /// Bytes on disk past which new events are refused (503).
    pub max_bytes: u64,
    /// How often written records are `fdatasync`'d; zero syncs before every
    /// answer (group commit).
    pub sync_interval: Duration,
    /// A segment is sealed (and shipped) once it holds this many events...
    pub segment_rows: u64,
    /// ...or this long after its first record, or when its 4 MiB are full.
    pub segment_period: Duration,
    /// Requests waiting for the disk; more are refused (503).
    pub capacity: usize,
    /// How long the record of which instance stores each event is kept
    /// (`event_claims`): as long as a retry may come, the longest dedupe
    /// window, and a day.
    pub claims_kept: Duration,
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

/// What the writing side and the shipper share.
#[derive(Default)]
pub struct Shared {
    pub sealed: Mutex<VecDeque<Sealed>>,
    /// Bytes of records (and headers) in every segment, the open one included;
    /// the open segment's preallocated tail and the spare are not counted.
    pub bytes: AtomicU64,
    /// Creation time (ms) of the open segment once it holds events; 0 before.
    pub open_ms: AtomicU64,
    /// Requests waiting for their records to be synced.
    pub waiting: AtomicUsize,
    /// The spool is closed: what is sealed is all there will be.
    pub closed: AtomicBool,
    pub notify: Notify,
}

impl Shared {
    /// Creation time (ms) of the oldest segment holding events; `None` when
    /// everything accepted is in ClickHouse.
    /// What the metrics' spool gauges report.
    pub fn reading(&self) -> crate::metrics::SpoolReading {
        crate::metrics::SpoolReading {
            waiting: self.waiting.load(Ordering::Relaxed) as u64,
            bytes: self.bytes.load(Ordering::Relaxed),
            oldest_ms: self.oldest_ms(),
        }
    }

    pub fn oldest_ms(&self) -> Option<u64> {
        let sealed = lock(&self.sealed);
        let open = self.open_ms.load(Ordering::Relaxed);
        sealed.front().map(|s| s.created_ms).or((open > 0).then_some(open))
    }
}

/// Opens the spool directory: every segment left by an earlier run is
/// queued for shipping, marked maybe-stored.
pub(crate) fn open(options: SpoolOptions) -> io::Result<Arc<Spool>> {
    fs::create_dir_all(&options.dir)?;
    let owner = own(&options.dir)?;
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
    for (_, path) in found {
        // An `.open` segment of a run that died: every record before its
        // first bad one was written before its 202, so it ships like a sealed one.
        let bytes = fs::metadata(&path)?.len();
        let created_ms = read_header(&path).unwrap_or(0);
        shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        lock(&shared.sealed).push_back(Sealed { path, bytes, created_ms, maybe_stored: true });
    }
    let size = (options.max_bytes / 16).clamp(SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
    let strict = options.sync_interval.is_zero();
    let log = Log { dir: options.dir.clone(), shared: shared.clone(), next, size, strict, ..Log::default() };
    let interval = options.sync_interval;
    let spool = Arc::new(Spool { options, shared, pending: Mutex::default(), log: Mutex::new(log), _owner: owner });
    spool.prepare_spare()?;
    if !strict {
        let weak = Arc::downgrade(&spool);
        std::thread::Builder::new()
            .name("spool-sync".into())
            .spawn(move || Spool::sync_every_interval(weak, interval))?;
    }
    Ok(spool)
}

/// Locks the folder for this process: two processes on one spool would ship
/// and delete each other's segments. Waits briefly, for a spool of this
/// process that is closing.
fn own(dir: &Path) -> io::Result<File> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("LOCK"))?;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "another touchpoint process uses this folder"));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The spool's writing end.
pub struct Spool {
    options: SpoolOptions,
    pub(crate) shared: Arc<Shared>,
    pending: Mutex<Pending>,
    log: Mutex<Log>,
    /// Held (locked) while the spool is open.
    _owner: File,
}

/// Records waiting for the next group write.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    events: u64,
    waiters: Vec<oneshot::Sender<Turn>>,
    /// A request is writing a group now.
    leading: bool,
    closed: bool,
}

enum Turn {
    Done(Result<(), Refused>),
    /// Write the next group yourself.
    Lead,
}

/// A poisoned lock still guards consistent data here: every critical section
/// only moves values in and out.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Spool {
    /// Returns once `events` are written as one record: synced to disk when
    /// `sync_interval` is zero, else in the page cache and synced within it.
    pub async fn append(&self, events: &[Event]) -> Result<(), Refused> {
        let record = encode(events)?;
        if !self.options.sync_interval.is_zero() {
            return self.write_now(&record, events.len() as u64);
        }
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut pending = lock(&self.pending);
            if pending.closed || pending.waiters.len() >= self.options.capacity {
                return Err(Refused::Busy);
            }
            let queued = (pending.buf.len() + record.len()) as u64 + HEADER;
            if self.shared.bytes.load(Ordering::Relaxed) + queued > self.options.max_bytes {
                return Err(Refused::DiskCap);
            }
            pending.buf.extend_from_slice(&record);
            pending.events += events.len() as u64;
            self.shared.waiting.fetch_add(1, Ordering::Relaxed);
            if pending.leading {
                pending.waiters.push(tx);
                false
            } else {
                pending.leading = true;
                true
            }
        };
        // No await between taking the lead and writing: a dropped request
        // future cannot leave the lead taken and nobody writing.
        if lead {
            return self.lead();
        }
        match rx.await {
            Ok(Turn::Done(result)) => result,
            Ok(Turn::Lead) => self.lead(),
            Err(_) => Err(Refused::Io),
        }
    }

    fn write_now(&self, record: &[u8], events: u64) -> Result<(), Refused> {
        let mut log = lock(&self.log);
        if log.closed {
            return Err(Refused::Busy);
        }
        if self.shared.bytes.load(Ordering::Relaxed) + record.len() as u64 + HEADER > self.options.max_bytes {
            return Err(Refused::DiskCap);
        }
        log.write(record, events, &self.options).map_err(|_| Refused::Io)
    }

    /// Syncs what was written since the last sync, every `sync_interval`,
    /// until the spool is closed or dropped.
    fn sync_every_interval(spool: std::sync::Weak<Spool>, interval: Duration) {
        loop {
            std::thread::sleep(interval);
            let Some(spool) = spool.upgrade() else { return };
            let file = {
                let mut guard = lock(&spool.log);
                let log = &mut *guard;
                if log.closed {
                    return;
                }
                match log.open.as_mut() {
                    Some(open) if std::mem::take(&mut log.dirty) => {
                        open.unmap_pages();
                        Some(open.file.clone())
                    }
                    _ => None,
                }
            };
            if let Some(file) = file
                && let Err(e) = file.sync_data()
            {
                tracing::error!(error = %e, "cannot sync the spool");
            }
        }
    }

    /// Writes every pending record as one group (this request's among them),
    /// answers the others, and passes the lead on if more arrived meanwhile.
    /// Blocks this runtime worker for one write and `fdatasync`.
    fn lead(&self) -> Result<(), Refused> {
        let mut own = None;
        loop {
            let (buf, events, waiters) = {
                let mut pending = lock(&self.pending);
                let taken = (std::mem::take(&mut pending.buf), std::mem::take(&mut pending.events));
                (taken.0, taken.1, std::mem::take(&mut pending.waiters))
            };
            let result = if buf.is_empty() {
                Ok(())
            } else {
                lock(&self.log).write(&buf, events, &self.options).map_err(|_| Refused::Io)
            };
            self.shared.waiting.fetch_sub(waiters.len() + usize::from(own.is_none()), Ordering::Relaxed);
            for waiter in waiters {
                let _ = waiter.send(Turn::Done(result));
            }
            let own = *own.get_or_insert(result);
            let mut pending = lock(&self.pending);
            while !pending.waiters.is_empty() {
                if pending.waiters.remove(0).send(Turn::Lead).is_ok() {
                    return own;
                }
                // That request was dropped (its client went away); its
                // record still goes in the next group.
                self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
            }
            if pending.buf.is_empty() {
                pending.leading = false;
                return own;
            }
            // Only records of dropped requests are left: write them too.
        }
    }

    /// Seals the open segment once it is due, so that a quiet service still
    /// ships within about `segment_period`, and preallocates the next
    /// segment off the request path. Blocking: run it off the runtime.
    pub fn tick(&self) {
        if let Ok(mut log) = self.log.try_lock() {
            log.seal_if_due(&self.options);
        }
        if let Err(e) = self.prepare_spare() {
            tracing::warn!(error = %e, "cannot preallocate the next spool segment");
        }
    }

    fn prepare_spare(&self) -> io::Result<()> {
        let (dir, seq, size) = {
            let mut log = lock(&self.log);
            if log.spare.is_some() {
                return Ok(());
            }
            log.next += 1;
            (log.dir.clone(), log.next - 1, log.size)
        };
        let spare = Segment::prepare(&dir, seq, size)?;
        let mut log = lock(&self.log);
        // `close` takes the log lock after marking the spool closed.
        if log.spare.is_some() || lock(&self.pending).closed {
            spare.discard();
        } else {
            log.spare = Some(spare);
        }
        Ok(())
    }

    /// Refuses new records, waits for the group being written, and seals the
    /// open segment: what is on disk is all the shipper will get.
    pub fn close(&self) {
        loop {
            let mut pending = lock(&self.pending);
            pending.closed = true;
            if !pending.leading {
                break;
            }
            drop(pending);
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut log = lock(&self.log);
        log.closed = true;
        log.seal();
        if let Some(spare) = log.spare.take() {
            spare.discard();
        }
        drop(log);
        self.shared.closed.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }
}

/// One record: `len | crc32 | postcard(events)`.
fn encode(events: &[Event]) -> Result<Vec<u8>, Refused> {
    // Room for a rating's record: growing from empty took eight reallocations.
    let mut record = Vec::with_capacity(512);
    record.extend_from_slice(&[0; 8]);
    // Rows hold only strings, numbers and options: encoding does not fail.
    postcard::to_io(events, &mut record).map_err(|_| Refused::Io)?;
    let len = u32::try_from(record.len() - 8).map_err(|_| Refused::Io)?;
    let crc = crc32fast::hash(&record[8..]);
    record[..4].copy_from_slice(&len.to_le_bytes());
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(record)
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
/// count of bytes past that point is returned so it can be logged. A record
/// whose checksum holds but which does not decode is an error.
pub fn read_segment(path: &Path) -> io::Result<(Vec<Event>, u64)> {
    let mut events = Vec::new();
    let damaged = each_event(path, |event| events.push(event))?;
    Ok((events, damaged))
}

/// `read_segment` without collecting: each event goes to `take` as its
/// record is decoded, so a caller that sorts them does not hold two copies.
pub fn each_event(path: &Path, mut take: impl FnMut(Event)) -> io::Result<u64> {
    let data = fs::read(path)?;
    if data.len() < HEADER as usize || &data[..8] != MAGIC {
        return Ok(data.len() as u64);
    }
    let mut at = HEADER as usize;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len == 0 {
            // The zeroed, preallocated tail of a segment that was not sealed.
            if data[at..].iter().all(|b| *b == 0) {
                at = data.len();
            }
            break;
        }
        let Some(payload) = data.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        // An intact record that does not decode was written by another
        // version of the rows: an error, so that the segment is kept, never
        // taken for a torn tail and deleted.
        let batch = postcard::from_bytes::<Vec<Event>>(payload).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: a record of another format: {e}", path.display()))
        })?;
        batch.into_iter().for_each(&mut take);
        at += 8 + len;
    }
    Ok((data.len() - at) as u64)
}

struct Segment {
    /// Shared with the syncer thread, which syncs it outside the log's lock.
    file: Arc<File>,
    /// The preallocated file mapped into memory: a record is copied in
    /// without a system call (the kernel's write path, with its inode
    /// time-stamp updates, was the largest cost a rating added over a bare
    /// handler). The page cache holds it either way, so a killed process
    /// loses nothing; `fdatasync` on `file` writes mapped pages back too.
    /// `None` if the mapping failed: records are then written with `pwrite`.
    map: Option<memmap2::MmapMut>,
    path: PathBuf,
    /// Bytes written: header and records.
    len: u64,
    /// Bytes preallocated; a group that does not fit goes to a new segment.
    size: u64,
    events: u64,
    /// When the first record was written.
    first_write: Option<(Instant, u64)>,
}

impl Segment {
    /// A zero-filled `<seq>.open` file of `size` bytes, its name synced.
    fn prepare(dir: &Path, seq: u64, size: u64) -> io::Result<Segment> {
        let path = dir.join(format!("{seq:020}.{OPEN}"));
        // Read as well as write: a shared writable mapping needs both.
        let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        let made = (|| {
            let mut header = MAGIC.to_vec();
            header.extend_from_slice(&now_ms().to_le_bytes());
            file.write_all(&header)?;
            let zeros = vec![0u8; 1 << 20];
            let mut left = size.saturating_sub(HEADER);
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            file.sync_all()?;
            sync_dir(dir)
        })();
        if let Err(e) = made {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        // SAFETY: the file is this process's alone (the spool folder is
        // locked) and keeps its preallocated size while mapped: the map is
        // dropped before the file is cut to its length at sealing.
        let map = unsafe { memmap2::MmapMut::map_mut(&file) }
            .inspect_err(|e| tracing::warn!(error = %e, "cannot map a spool segment; writing it with pwrite"))
            .ok();
        Ok(Segment { file: Arc::new(file), map, path, len: HEADER, size, events: 0, first_write: None })
    }

    /// Appends `buf` after what is written: into the mapping when it fits,
    /// else past the preallocated end with `pwrite` (a record larger than a
    /// segment).
    fn put(&mut self, buf: &[u8]) -> io::Result<()> {
        let (start, end) = (self.len as usize, self.len as usize + buf.len());
        match self.map.as_mut() {
            Some(map) if end <= map.len() => {
                map[start..end].copy_from_slice(buf);
                Ok(())
            }
            _ => std::os::unix::fs::FileExt::write_all_at(&*self.file, buf, self.len),
        }
    }

    /// Drops the mapped pages from this process's page tables; they stay in
    /// the page cache, dirty until synced. Called before each interval's
    /// `fdatasync`: writing back a page that is still mapped write-protects
    /// it with a TLB flush of its own, an inter-processor interrupt to every
    /// other core running the service (a VM exit on virtual CPUs; 5 % of the
    /// service's CPU in `perf`). Dropped here, the whole mapping costs one
    /// flush, and the next write maps its page again. The whole mapping, not
    /// only the bytes written since the last sync: a fault may map the
    /// neighbours of its page too (a large folio), behind or ahead of it.
    fn unmap_pages(&self) {
        let Some(map) = self.map.as_ref() else { return };
        // SAFETY: no reference into the mapping outlives `put`, which runs
        // under the log's lock as this does. The mapping is shared with the
        // file, so nothing written is lost: the kernel keeps the pages
        // (marked dirty) in the page cache and maps them again on the next
        // access.
        let dropped = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        if let Err(e) = dropped {
            tracing::debug!(error = %e, "cannot drop spool pages from the mapping");
        }
    }

    fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// The segment files; one write at a time.
#[derive(Default)]
struct Log {
    dir: PathBuf,
    shared: Arc<Shared>,
    next: u64,
    /// Preallocated size of a segment.
    size: u64,
    open: Option<Segment>,
    /// The next segment, preallocated by `Spool::tick`.
    spare: Option<Segment>,
    /// Every write is synced before it is answered (`sync_interval` zero).
    strict: bool,
    /// Written since the syncer last synced.
    dirty: bool,
    closed: bool,
}

impl Log {
    fn write(&mut self, buf: &[u8], events: u64, options: &SpoolOptions) -> io::Result<()> {
        if self.open.as_ref().is_some_and(|o| o.len + buf.len() as u64 > o.size) {
            self.seal();
        }
        if self.open.is_none() {
            let segment = match self.spare.take() {
                Some(spare) => spare,
                None => {
                    self.next += 1;
                    Segment::prepare(&self.dir, self.next - 1, self.size)
                        .inspect_err(|e| tracing::error!(error = %e, "cannot open a spool segment"))?
                }
            };
            self.shared.bytes.fetch_add(HEADER, Ordering::Relaxed);
            self.open = Some(segment);
        }
        let Some(open) = self.open.as_mut() else { return Err(io::ErrorKind::Other.into()) };
        let strict = self.strict;
        match open.put(buf).and_then(|()| if strict { open.file.sync_data() } else { Ok(()) }) {
            Ok(()) => {
                open.len += buf.len() as u64;
                open.events += events;
                let (_, first_ms) = *open.first_write.get_or_insert_with(|| (Instant::now(), now_ms()));
                self.shared.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                self.shared.open_ms.store(first_ms, Ordering::Relaxed);
                self.dirty = !strict;
                self.seal_if_due(options);
                Ok(())
            }
            Err(e) => {
                // Cut what may have been half written, then seal what was
                // synced before: the next group starts a new segment.
                tracing::error!(error = %e, "cannot write to the spool; the requests get 503");
                open.map = None;
                let _ = open.file.set_len(open.len);
                self.seal();
                Err(e)
            }
        }
    }

    fn seal_if_due(&mut self, options: &SpoolOptions) {
        let due = self.open.as_ref().is_some_and(|o| {
            o.events >= options.segment_rows
                || o.first_write.is_some_and(|(at, _)| at.elapsed() >= options.segment_period)
        });
        if due {
            self.seal();
        }
    }

    /// Hands the open segment to the shipper; an empty one is removed.
    fn seal(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.events == 0 {
            self.shared.bytes.fetch_sub(HEADER, Ordering::Relaxed);
            open.discard();
            return;
        }
        // The zeroed tail is of no use once sealed; readers stop before it
        // anyway. Unmapped first: a mapping past the end would fault.
        let mut open = open;
        open.map = None;
        let _ = open.file.set_len(open.len);
        if !self.strict
            && let Err(e) = open.file.sync_data()
        {
            tracing::error!(error = %e, "cannot sync a spool segment");
        }
        self.dirty = false;
        let sealed = open.path.with_extension(SEALED);
        // A failed rename leaves an `.open` file, which the next start ships.
        let path = match fs::rename(&open.path, &sealed) {
            Ok(()) => sealed,
            Err(_) => open.path.clone(),
        };
        let created_ms = open.first_write.map_or_else(now_ms, |(_, ms)| ms);
        let segment = Sealed { path, bytes: open.len, created_ms, maybe_stored: false };
        lock(&self.shared.sealed).push_back(segment);
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
    fn records_go_into_the_mapped_segment_and_past_its_end() {
        let dir = std::env::temp_dir().join(format!("spool-unit-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).unwrap();
        let mut segment = Segment::prepare(&dir, 1, HEADER + 256).unwrap();
        assert!(segment.map.is_some(), "the segment is mapped");
        let (small, large) = (vec![letter("1")], vec![letter(&"2".repeat(300))]);
        for events in [&small, &large] {
            let bytes = record(events);
            segment.put(&bytes).unwrap();
            segment.len += bytes.len() as u64;
        }
        assert!(segment.len > HEADER + 256, "the second record did not fit the mapping");
        segment.map = None;
        segment.file.set_len(segment.len).unwrap();
        let (events, rest) = read_segment(&segment.path).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!((&events[0], &events[1]), (&small[0], &large[0]));
        assert_eq!(rest, 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Resident KiB of the mapping that starts at `start` (`/proc/self/smaps`).
    fn resident_kib(start: *const u8) -> u64 {
        let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
        let head = format!("{:x}-", start as usize);
        let entry = smaps.split('\n').skip_while(|l| !l.starts_with(&head)).skip(1);
        let rss = entry.take_while(|l| !l.contains('-') || l.contains(':')).find(|l| l.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn pages_dropped_from_the_mapping_keep_their_records() {
        let dir = std::env::temp_dir().join(format!("spool-unit-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).unwrap();
        let mut segment = Segment::prepare(&dir, 1, 256 * 1024).unwrap();
        let start = segment.map.as_ref().unwrap().as_ptr();
        let mut written = Vec::new();
        for i in 0..205 {
            let events = vec![letter(&format!("{i:0>300}"))];
            let bytes = record(&events);
            segment.put(&bytes).unwrap();
            segment.len += bytes.len() as u64;
            written.extend(events);
            if i % 7 == 3 {
                segment.unmap_pages();
            }
        }
        assert!(resident_kib(start) > 0, "the records since the last drop are mapped");
        segment.unmap_pages();
        assert_eq!(resident_kib(start), 0, "every written page left the mapping");
        // What a killed process leaves behind: the file as the page cache
        // holds it, never unmapped, cut or synced by the spool.
        let (events, rest) = read_segment(&segment.path).unwrap();
        assert_eq!(events, written, "records written before and after each drop, across page edges");
        assert_eq!(rest, 0, "the zeroed tail after them");
        segment.put(&record(&[letter("last")])).unwrap();
        assert!(resident_kib(start) > 0, "a write after a drop maps its page again");
        fs::remove_dir_all(&dir).unwrap();
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

        let mut other = bytes[..whole].to_vec();
        let payload = [0xff_u8; 5];
        other.extend_from_slice(&5u32.to_le_bytes());
        other.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        other.extend_from_slice(&payload);
        fs::write(&path, &other).unwrap();
        let err = read_segment(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "an intact record of another format is kept: {err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
