//! The SLA engine's durable timers with a million pending: scheduling one by one and in
//! batches, the store's size and the process's memory, the time to open the store and
//! start the timer task, the CPU the task costs while nothing is due, and firing.
//!
//! `cargo bench -p okno-tests --bench sla_timers` (`OKNO_BENCH_TIMERS=1000000` sets the
//! count; `OKNO_BENCH_IDLE_S=10` the idle window). Everything goes through the hub's own
//! API: `Store::open`, `Sla::open` (the `sla_timers` tree), `Timers::schedule`,
//! `Timers::schedule_batch` and `Timers::run`, the task the hub runs. Firing here only
//! counts: what a real timer sends (a reminder or escalation journaled through the
//! pipeline) costs what any ingest costs, measured by the pipeline bench. Figures in
//! README.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use okno_hub::sla::{Sla, Timer, TimerKind};
use okno_hub::store::Store;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    okno_hub::sla::now_millis()
}

/// Resident memory of this process, MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time (user + system) this process has used, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Clock ticks are 100 per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn dir_mib(dir: &Path) -> f64 {
    fn size(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| size(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    size(dir) as f64 / (1 << 20) as f64
}

/// Timer `i` of a spread: appeal ids like the hub's, an answer-missed timer each.
fn timer(i: usize, due: i64) -> Timer {
    Timer {
        due,
        appeal: format!("{:012x}{:08x}", 1_790_000_000_000i64 + i as i64, i),
        kind: TimerKind::AnswerMissed,
        deadline: due,
        before: None,
    }
}

/// The store open with its flusher running, as the hub has it.
struct Open {
    store: Store,
    sla: Sla,
    flusher: tokio::task::JoinHandle<()>,
}

fn open(dir: &Path) -> Open {
    let store = Store::open(dir).expect("opening the store");
    let sla = Sla::open(&store).expect("opening the SLA trees");
    let flusher = tokio::spawn(store.durability.clone().run());
    Open {
        store,
        sla,
        flusher,
    }
}

/// Flushed to disk and every handle dropped, so that the directory can be opened again.
async fn close(open: Open) {
    open.store.durability.wait().await.expect("flushing");
    open.flusher.abort();
    let _ = open.flusher.await;
    drop(open.sla);
    drop(open.store);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("OKNO_BENCH_TIMERS", 1_000_000);
    let idle_s = env_usize("OKNO_BENCH_IDLE_S", 10) as u64;
    let root = tempfile::tempdir().unwrap();
    let (single_dir, batched_dir) = (root.path().join("single"), root.path().join("batched"));
    println!("SLA timers: {n} pending; RSS at start {:.0} MiB", rss_mib());

    // 1. One by one, as the hub schedules an appeal's timers, all already due (for the
    //    firing below), 1 ms apart.
    let s = open(&single_dir);
    let base = now_ms() - n as i64 - 60_000;
    let started = Instant::now();
    for i in 0..n {
        s.sla.timers.schedule(&timer(i, base + i as i64)).unwrap();
    }
    s.store.durability.wait().await.unwrap();
    let single = started.elapsed();
    println!(
        "schedule one by one: {n} in {:.1} s = {:.0}/s (flushed); RSS {:.0} MiB",
        single.as_secs_f64(),
        n as f64 / single.as_secs_f64(),
        rss_mib()
    );
    close(s).await;

    // 2. In batches of 1,000, spread over the next 30 days: pending, none due.
    let b = open(&batched_dir);
    let now = now_ms();
    let spread = 30 * 86_400_000 / n.max(1) as i64;
    let started = Instant::now();
    let mut chunk = Vec::with_capacity(1000);
    for i in 0..n {
        chunk.push(timer(i, now + 3_600_000 + i as i64 * spread.max(1)));
        if chunk.len() == 1000 || i + 1 == n {
            b.sla.timers.schedule_batch(&chunk).unwrap();
            chunk.clear();
        }
    }
    b.store.durability.wait().await.unwrap();
    let batched = started.elapsed();
    println!(
        "schedule in batches of 1,000: {n} in {:.1} s = {:.0}/s (flushed); RSS {:.0} MiB",
        batched.as_secs_f64(),
        n as f64 / batched.as_secs_f64(),
        rss_mib()
    );
    close(b).await;
    println!(
        "on disk: {:.0} MiB (one by one), {:.0} MiB (batched); RSS after closing both {:.0} MiB",
        dir_mib(&single_dir),
        dir_mib(&batched_dir),
        rss_mib()
    );

    // 3. Start with a million pending: open the store and the SLA trees, read the next
    //    due time (what the task does first), and sleep until then.
    let rss_before = rss_mib();
    let started = Instant::now();
    let b = open(&batched_dir);
    let opened = started.elapsed();
    let next = b.sla.timers.next_due().unwrap();
    let fired = Arc::new(AtomicU64::new(0));
    let f = fired.clone();
    let timers = b.sla.timers.clone();
    let task = tokio::spawn(timers.clone().run(move |_| {
        f.fetch_add(1, Ordering::Relaxed);
        async { Ok(()) }
    }));
    // The task's first pass: it reads the due timers (none) and goes to sleep.
    while timers.wakeups.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ready = started.elapsed();
    println!(
        "start with {n} pending: store open {:.0} ms, task asleep after {:.0} ms (next due in {:.0} min); RSS {:.0} MiB (+{:.0})",
        opened.as_secs_f64() * 1000.0,
        ready.as_secs_f64() * 1000.0,
        (next.unwrap_or(0) - now_ms()) as f64 / 60_000.0,
        rss_mib(),
        rss_mib() - rss_before
    );

    // 4. Idle: nothing due for an hour. The whole process's CPU (sled's own threads
    //    included) over the window, and the task's wake-ups.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, wake0, t0) = (
        cpu_time(),
        timers.wakeups.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(idle_s)).await;
    let (cpu, wakeups, window) = (
        cpu_time() - cpu0,
        timers.wakeups.load(Ordering::Relaxed) - wake0,
        t0.elapsed(),
    );
    println!(
        "idle with {n} pending: {:.0} ms CPU in {:.0} s = {:.2}% of one core; {wakeups} wake-ups; {} fired",
        cpu.as_secs_f64() * 1000.0,
        window.as_secs_f64(),
        cpu.as_secs_f64() / window.as_secs_f64() * 100.0,
        fired.load(Ordering::Relaxed)
    );
    task.abort();
    let _ = task.await;
    drop(timers);
    close(b).await;

    // 5. Firing: the store whose million timers are all due, opened and run by the task
    //    until every one has fired and been removed.
    let started = Instant::now();
    let s = open(&single_dir);
    let opened = started.elapsed();
    let fired = Arc::new(AtomicU64::new(0));
    let f = fired.clone();
    let timers = s.sla.timers.clone();
    let fire_started = Instant::now();
    let task = tokio::spawn(timers.clone().run(move |_| {
        f.fetch_add(1, Ordering::Relaxed);
        async { Ok(()) }
    }));
    while timers.fired.load(Ordering::Relaxed) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let firing = fire_started.elapsed();
    s.store.durability.wait().await.unwrap();
    let flushed = fire_started.elapsed();
    println!(
        "fire {n} due on start (store open {:.0} ms): {:.1} s = {:.0}/s; flushed after {:.1} s; {} left; RSS {:.0} MiB",
        opened.as_secs_f64() * 1000.0,
        firing.as_secs_f64(),
        n as f64 / firing.as_secs_f64(),
        flushed.as_secs_f64(),
        timers.next_due().unwrap().map_or(0, |_| 1),
        rss_mib()
    );
    assert_eq!(fired.load(Ordering::Relaxed), n as u64, "each fired once");
    task.abort();
    let _ = task.await;
    drop(timers);
    close(s).await;
}
