//! The [`Background`](crate::CompressionPolicy::Background) policy: one
//! worker thread per [`Fs`] compresses files that stayed closed past the
//! delay, and [`Fs::settle`] waits for it.
//!
//! The last close of a file bumps the file's close count and queues a job
//! `(weak inode, close count, due time)`; with one delay per `Fs` the queue
//! is in due order, so it is a plain FIFO. The worker packs a job's file
//! only if, under the file's lock, it is still closed, still linked and its
//! close count is the job's: a reopen (or a later close, which queues its own
//! job) makes the job stale, so a reopen before the delay finds the region
//! still raw and pays nothing. The worker is started by the first job and
//! holds an `Arc` of its [`Packer`] (the content side, which holds no `Fs`
//! table, so no cycle);
//! dropping the last `Fs` clone stops and joins it, leaving queued files raw
//! (they are freed with the `Fs` anyway).
//!
//! Lock order: a file's lock, then the queue (a last close queues under the
//! file's lock); the worker never holds the queue while it takes a file's lock.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex, Ordering, lock, wait, wait_timeout, write};
use crate::types::inode::{Body, Content, Inode};

/// One file waiting for its delay to pass.
/// What the worker works for: the store's content side, which owns the
/// [`Background`] and knows how to pack a file. A trait so this module
/// knows nothing of what it serves (the content lifecycle implements it).
pub(crate) trait Packer: Send + Sync + 'static {
    /// The queue this packer's worker serves.
    fn background(&self) -> &Background;
    /// Compresses the content of file `ino` (its lock held by the caller).
    fn pack(&self, ino: u64, content: &mut Content);
    /// The queue just drained: drop what only packing needs (called
    /// without the queue's lock).
    fn idle(&self);
}

#[derive(Debug)]
struct Job {
    inode: Weak<Inode>,
    /// The file's close count when it was queued.
    closes: u32,
    due: Instant,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The worker is packing a job it has taken off the queue.
    busy: bool,
    /// Callers inside `settle`: the worker ignores due times meanwhile.
    settling: usize,
    /// Set when the `Fs` goes away: the worker exits, new jobs are dropped.
    stop: bool,
    started: bool,
}

/// The queue, its condition variables and the worker's handle.
#[derive(Debug, Default)]
pub(crate) struct Background {
    queue: Mutex<Queue>,
    /// Wakes the worker: a job, a `settle`, or the stop.
    work: Condvar,
    /// Wakes `settle` callers when the queue drains.
    idle: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What became of a job handed to [`Background::schedule`].
pub(crate) enum Scheduled {
    /// Queued for the worker.
    Queued,
    /// The `Fs` is going away: nothing to do.
    Stopped,
    /// No worker could be started: the caller compresses now instead.
    NoWorker,
}

impl Background {
    /// Queues `inode` (closed for the `closes`-th time) to be packed after
    /// `delay`, starting the worker of `shared` if needed.
    pub fn schedule<P: Packer>(
        &self,
        shared: &Weak<P>,
        inode: &Arc<Inode>,
        closes: u32,
        delay: Duration,
    ) -> Scheduled {
        let mut q = lock(&self.queue);
        if q.stop {
            return Scheduled::Stopped;
        }
        if !q.started {
            let Some(shared) = shared.upgrade() else {
                return Scheduled::Stopped;
            };
            let spawned = std::thread::Builder::new()
                .name("ermfs-compress".into())
                .spawn(move || run(&*shared));
            match spawned {
                Ok(handle) => *lock(&self.thread) = Some(handle),
                Err(_) => return Scheduled::NoWorker,
            }
            q.started = true;
        }
        // Clamped (to 136 years) so that the due time cannot overflow.
        let now = Instant::now();
        let delay = delay.min(Duration::from_secs(1 << 32));
        let first = q.jobs.is_empty();
        q.jobs.push_back(Job {
            inode: Arc::downgrade(inode),
            closes,
            due: now.checked_add(delay).unwrap_or(now),
        });
        // The delay is the store's one policy, so due times only grow: a
        // worker waiting for an earlier job wakes in time for this one too,
        // and waking it for each close of a burst costs two context
        // switches a file (half the create/stat/unlink storm on the mount).
        if first {
            self.work.notify_one();
        }
        Scheduled::Queued
    }

    /// Jobs queued or being packed.
    pub fn pending(&self) -> usize {
        let q = lock(&self.queue);
        q.jobs.len() + usize::from(q.busy)
    }

    /// Packs every queued job now and waits until none is left.
    pub(crate) fn settle(&self) {
        let mut q = lock(&self.queue);
        q.settling += 1;
        self.work.notify_one();
        while (q.busy || !q.jobs.is_empty()) && !q.stop {
            q = wait(&self.idle, q);
        }
        q.settling -= 1;
    }

    /// Stops the worker and waits for it to exit (the job in hand is finished).
    pub fn stop(&self) {
        lock(&self.queue).stop = true;
        self.work.notify_all();
        self.idle.notify_all();
        let handle = lock(&self.thread).take();
        if let Some(handle) = handle {
            // The worker has no panic path; if it had one, its error is
            // nothing the dropping `Fs` could report.
            let _ = handle.join();
        }
    }
}

/// Jobs an idle queue keeps room for.
const IDLE_QUEUE_CAPACITY: usize = 64;

/// The worker: packs jobs as they come due (or at once during `settle`).
fn run<P: Packer>(shared: &P) {
    let bg = shared.background();
    let mut q = lock(&bg.queue);
    loop {
        if q.stop {
            return;
        }
        let Some(job) = q.jobs.front() else {
            // A burst of closes grew the queue (32 bytes a job: 256 KiB
            // after 8,192 files); give that back before the trim below.
            q.jobs.shrink_to(IDLE_QUEUE_CAPACITY);
            bg.idle.notify_all();
            drop(q);
            shared.idle();
            q = lock(&bg.queue);
            // A job or the stop may have come while the lock was free (its
            // wake-up then found nobody waiting): look again first.
            if q.jobs.is_empty() && !q.stop {
                q = wait(&bg.work, q);
            }
            continue;
        };
        let now = Instant::now();
        if q.settling == 0 && job.due > now {
            let left = job.due - now;
            q = wait_timeout(&bg.work, q, left);
            continue;
        }
        let Some(job) = q.jobs.pop_front() else {
            continue;
        };
        q.busy = true;
        drop(q);
        pack_job(shared, &job);
        q = lock(&bg.queue);
        q.busy = false;
    }
}

/// Packs a job's file if it is still closed, linked and not closed again since.
fn pack_job<P: Packer>(shared: &P, job: &Job) {
    let Some(inode) = job.inode.upgrade() else {
        return;
    };
    let mut st = write(&inode.state);
    if st.closes != job.closes || inode.open.load(Ordering::Acquire) != 0 || inode.nlink() == 0 {
        return;
    }
    if let Body::File(content) = &mut st.body {
        shared.pack(inode.ino, content);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::types::inode::{Dir, FileType};
    use std::time::SystemTime;

    /// A packer that packs nothing: the test looks at the queue only.
    struct Idle {
        bg: Background,
    }

    impl Packer for Idle {
        fn background(&self) -> &Background {
            &self.bg
        }
        fn pack(&self, _ino: u64, _content: &mut Content) {}
        fn idle(&self) {}
    }

    #[test]
    fn a_drained_queue_gives_its_burst_capacity_back() {
        let packer = Arc::new(Idle {
            bg: Background::default(),
        });
        let weak = Arc::downgrade(&packer);
        let inode = Arc::new(Inode::new(
            2,
            FileType::Dir,
            0o755,
            Weak::new(),
            Body::Dir(Dir::default()),
            (0, 0),
            SystemTime::now(),
        ));
        for closes in 0..10_000 {
            let queued = packer
                .bg
                .schedule(&weak, &inode, closes, Duration::from_secs(3600));
            assert!(matches!(queued, Scheduled::Queued));
        }
        assert!(lock(&packer.bg.queue).jobs.capacity() >= 10_000);
        packer.bg.settle();
        // The worker shrinks the queue when it finds it empty, which may
        // come just after `settle` returns.
        let shrunk = (0..500).any(|_| {
            let capacity = lock(&packer.bg.queue).jobs.capacity();
            capacity <= IDLE_QUEUE_CAPACITY || {
                std::thread::sleep(Duration::from_millis(10));
                false
            }
        });
        packer.bg.stop();
        assert!(
            shrunk,
            "the idle queue kept room for {} jobs",
            lock(&packer.bg.queue).jobs.capacity()
        );
    }
}
