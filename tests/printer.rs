//! Badge printing end to end with real ports: a serial line and a USB-style device on
//! pseudo-terminals, a network printer on 127.0.0.1, files, the preview directory, and the
//! store's print queue. The printers are played by threads that answer `DLE EOT n` the way
//! an ESC/POS printer does. Every wait is bounded.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lobby_kiosk::config::{Config, FlowControl, Lang, PrinterConfig, PrinterTransport};
use lobby_kiosk::domain::walkin::ValidWalkIn;
use lobby_kiosk::print::queue::{
    ConfiguredBadges, Delivery, JobContext, PrintOutcome, PrintQueue, PrintRequest, PrintTarget,
    PrintWorker,
};
use lobby_kiosk::print::status::{PrinterProblem, PrinterStatus};
use lobby_kiosk::print::transport::{self, Printer, Timeouts};
use lobby_kiosk::store::{HostRecord, Store, VisitRecord};

/// Answers to DLE EOT 1, 2 and 4.
type Answers = [u8; 3];
const READY: Answers = [0x12, 0x12, 0x12];
const NEAR_END: Answers = [0x12, 0x12, 0x1E];
/// Offline, stopped at paper end, roll empty.
const PAPER_OUT: Answers = [0x1A, 0x32, 0x7E];
const COVER_OPEN: Answers = [0x1A, 0x16, 0x12];

/// Longest any fake printer thread lives.
const FAKE_LIFETIME: Duration = Duration::from_secs(60);

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(1),
        write: Duration::from_secs(2),
        answer: Duration::from_millis(500),
    }
}

// ---------------------------------------------------------------------------------------------
// A fake ESC/POS printer
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct FakeState {
    answers: Option<Answers>,
    /// The paper runs out after this many more job bytes.
    paper_lasts: Option<usize>,
    /// Job bytes received (status requests left out).
    job: Vec<u8>,
    status_requests: usize,
    /// Answer nothing at all.
    mute: bool,
    /// Close the current connection (a network printer switched off and on).
    hang_up: bool,
    connections: usize,
    parse: Parse,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Parse {
    #[default]
    Data,
    Dle,
    DleEot,
}

impl FakeState {
    /// Takes bytes from the host; returns the answers to send back.
    fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in input {
            self.parse = match (self.parse, b) {
                (Parse::Data, 0x10) => Parse::Dle,
                (Parse::Data, b) => {
                    self.job_byte(b);
                    Parse::Data
                }
                (Parse::Dle, 0x04) => Parse::DleEot,
                (Parse::Dle, b) => {
                    self.job_byte(0x10);
                    self.job_byte(b);
                    Parse::Data
                }
                (Parse::DleEot, n) => {
                    self.status_requests += 1;
                    let answers = self.answers.unwrap_or(READY);
                    let answer = match n {
                        1 => Some(answers[0]),
                        2 => Some(answers[1]),
                        3 => Some(0x12),
                        4 => Some(answers[2]),
                        _ => None,
                    };
                    if let (Some(a), false) = (answer, self.mute) {
                        out.push(a);
                    }
                    Parse::Data
                }
            };
        }
        out
    }

    fn job_byte(&mut self, b: u8) {
        self.job.push(b);
        if let Some(left) = self.paper_lasts.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.answers = Some(PAPER_OUT);
                self.paper_lasts = None;
            }
        }
    }
}

struct FakePrinter {
    state: Arc<Mutex<FakeState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePrinter {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    fn set(&self, answers: Answers) {
        self.state().answers = Some(answers);
    }

    fn job(&self) -> Vec<u8> {
        self.state().job.clone()
    }

    /// The job bytes once at least `len` have arrived (a one-way port does not wait for the
    /// printer), or what arrived within two seconds.
    fn job_of_len(&self, len: usize) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.state().job.len() < len && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.job()
    }

    /// Plays a printer on the master side of a pseudo-terminal.
    fn on_pty(master: OwnedFd) -> FakePrinter {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut master = fs::File::from(master);
            let end = Instant::now() + FAKE_LIFETIME;
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::Relaxed) && Instant::now() < end {
                if !readable(master.as_raw_fd(), 20) {
                    continue;
                }
                match master.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let answers = s.lock().unwrap().feed(&buf[..n]);
                        if !answers.is_empty() {
                            let _ = master.write_all(&answers);
                        }
                    }
                    // EIO while no one has the other side open.
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakePrinter {
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Plays a network printer on `listener`, one connection at a time.
    fn on_tcp(listener: TcpListener) -> FakePrinter {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + FAKE_LIFETIME;
            while !st.load(Ordering::Relaxed) && Instant::now() < end {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                {
                    let mut state = s.lock().unwrap();
                    state.connections += 1;
                    state.hang_up = false;
                }
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let mut buf = [0u8; 4096];
                while !st.load(Ordering::Relaxed) && Instant::now() < end {
                    if s.lock().unwrap().hang_up {
                        break;
                    }
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let answers = s.lock().unwrap().feed(&buf[..n]);
                            if !answers.is_empty() && stream.write_all(&answers).is_err() {
                                break;
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => break,
                    }
                }
            }
        });
        FakePrinter {
            state,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn readable(fd: i32, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

/// A pseudo-terminal: (master, slave kept open, slave path). The slave is put in raw mode,
/// as a printer device node would be.
fn pty() -> (OwnedFd, OwnedFd, PathBuf) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: out-pointers to two ints; no name buffer, default termios and window size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two fresh descriptors that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer and its length match.
    let rc = unsafe { libc::ttyname_r(slave.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(rc, 0, "ttyname_r");
    // SAFETY: ttyname_r wrote a NUL-terminated string into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: termios is plain data; tcgetattr fills it before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t), 0);
    }
    (master, slave, PathBuf::from(path))
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

fn open_store(dir: &Path) -> Store {
    let mut store = Store::open_in(dir).unwrap();
    let host = HostRecord {
        id: "h-wang".into(),
        name: "王军 Wang Jun".into(),
        department: Some("R&D".into()),
        email: Some("wang.jun@example.com".into()),
        phone: None,
        search_key: "wang jun wj 王军".into(),
        active: true,
    };
    store.upsert_host(&host, chrono::Utc::now()).unwrap();
    store
}

/// Registers a walk-in, which queues its badge.
fn walk_in(store: &mut Store, name: &str, phone: &str) -> VisitRecord {
    let form = ValidWalkIn {
        name: name.into(),
        phone_e164: Some(phone.into()),
        email: None,
        company: Some("Fabrikam".into()),
        host_id: Some("h-wang".into()),
        purpose: Some("Delivery".into()),
    };
    store
        .register_walk_in(&form, chrono::Utc::now())
        .unwrap()
        .visit
}

/// Stand-in badge bytes: ESC @, the visit number, feed and cut. No DLE inside.
fn test_badge(ctx: &JobContext<'_>) -> Result<Vec<u8>, String> {
    let number = ctx.visit.map(|v| v.number).unwrap_or(0);
    let mut bytes = vec![0x1B, b'@'];
    bytes.extend_from_slice(format!("VISITOR BADGE #{number}\n").as_bytes());
    bytes.extend_from_slice(&[b'.'; 200]);
    bytes.extend_from_slice(&[b'\n', 0x1D, b'V', 0x42, 0x00]);
    Ok(bytes)
}

fn badge_for(visit: &VisitRecord) -> Vec<u8> {
    let mut bytes = vec![0x1B, b'@'];
    bytes.extend_from_slice(format!("VISITOR BADGE #{}\n", visit.number).as_bytes());
    bytes
}

fn events(store: &Store, visit: &VisitRecord) -> Vec<String> {
    store
        .visit_events(visit.id)
        .unwrap()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

fn on_roster(store: &Store, visit: &VisitRecord) -> bool {
    store
        .roster()
        .unwrap()
        .iter()
        .any(|e| e.visit_number == visit.number)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn printer_for(config: PrinterConfig, base: &Path) -> Printer {
    Printer::with_timeouts(&config, base, timeouts()).with_settle_time(Duration::ZERO)
}

fn serial_config(device: &Path) -> PrinterConfig {
    PrinterConfig {
        transport: PrinterTransport::Serial,
        device: device.display().to_string(),
        baud: 19200,
        flow_control: FlowControl::None,
        ..PrinterConfig::default()
    }
}

fn tcp_config(port: u16) -> PrinterConfig {
    PrinterConfig {
        transport: PrinterTransport::Tcp,
        device: format!("127.0.0.1:{port}"),
        ..PrinterConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Serial
// ---------------------------------------------------------------------------------------------

#[test]
fn serial_printer_prints_refuses_without_paper_and_reprints_after_refill() {
    let (master, _slave, device) = pty();
    let fake = FakePrinter::on_pty(master);
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");

    let printer = printer_for(serial_config(&device), data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();

    // First badge prints.
    let out = queue.print_queued().unwrap();
    assert_eq!(out.len(), 1);
    match &out[0] {
        PrintOutcome::Printed {
            visit_id,
            delivery: Delivery::Printer { status_after },
            ..
        } => {
            assert_eq!(*visit_id, Some(anna.id));
            assert_eq!(*status_after, Some(PrinterStatus::READY));
        }
        other => panic!("{other:?}"),
    }
    assert!(store.unprinted_jobs().unwrap().is_empty());
    assert!(events(&store, &anna).contains(&"badge_printed".to_owned()));
    assert!(contains(&fake.job(), &badge_for(&anna)));
    assert_eq!(fake.state().status_requests, 6, "three before, three after");

    // The paper runs out: the next badge is not sent and stays queued.
    fake.set(PAPER_OUT);
    let ben = walk_in(&mut store, "Ben Li", "+8613800138002");
    let sent_before = fake.job().len();
    let out = queue.print_queued().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].problem(), Some(&PrinterProblem::PaperOut));
    assert_eq!(out[0].visit_id(), Some(ben.id));
    assert_eq!(
        fake.job().len(),
        sent_before,
        "nothing sent into an empty printer"
    );
    let waiting = store.unprinted_jobs().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].visit_id, Some(ben.id));
    assert_eq!(waiting[0].status, "failed");
    assert_eq!(waiting[0].attempts, 1);
    let last_error = waiting[0].last_error.clone().unwrap_or_default();
    assert!(last_error.contains("paper"), "{last_error}");
    assert_eq!(
        PrinterProblem::from_error_text(&last_error),
        Some(PrinterProblem::PaperOut)
    );
    assert!(on_roster(&store, &ben), "the visit stands");
    assert!(!events(&store, &ben).contains(&"badge_printed".to_owned()));
    assert_eq!(
        out[0].problem().map(|p| p.visitor_message(Lang::ZhCn)),
        Some("打印机缺纸，请到前台领取访客凭条。")
    );

    // Failed jobs wait for staff: the automatic pass leaves them alone.
    assert!(queue.print_queued().unwrap().is_empty());

    // Paper refilled, staff retries.
    fake.set(READY);
    let out = queue.retry_failed().unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].is_printed(), "{:?}", out[0]);
    assert!(store.unprinted_jobs().unwrap().is_empty());
    assert!(events(&store, &ben).contains(&"badge_printed".to_owned()));
    assert!(contains(&fake.job(), &badge_for(&ben)));
}

#[test]
fn serial_printer_with_the_cover_open_fails_and_later_jobs_wait() {
    let (master, _slave, device) = pty();
    let fake = FakePrinter::on_pty(master);
    fake.set(COVER_OPEN);
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let a = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let b = walk_in(&mut store, "Ben Li", "+8613800138002");
    let printer = printer_for(serial_config(&device), data.path());
    let mut queue = PrintQueue::new(
        Store::open_in(data.path()).unwrap(),
        PrintTarget::Printer(printer),
        test_badge,
    );
    let out = queue.print_queued().unwrap();
    assert_eq!(out.len(), 2);
    assert!(matches!(
        &out[0],
        PrintOutcome::Failed { problem: PrinterProblem::CoverOpen, visit_id, .. } if *visit_id == Some(a.id)
    ));
    assert!(matches!(
        &out[1],
        PrintOutcome::Deferred { problem: PrinterProblem::CoverOpen, visit_id, .. } if *visit_id == Some(b.id)
    ));
    let waiting = store.unprinted_jobs().unwrap();
    assert_eq!(
        waiting
            .iter()
            .map(|j| j.status.as_str())
            .collect::<Vec<_>>(),
        ["failed", "queued"],
        "the deferred job was not attempted"
    );
    fake.set(READY);
    let out = queue.retry_failed().unwrap();
    assert!(out.iter().all(PrintOutcome::is_printed), "{out:?}");
    assert!(store.unprinted_jobs().unwrap().is_empty());
}

#[test]
fn serial_printer_that_does_not_answer_is_unreachable_quickly() {
    let (master, _slave, device) = pty();
    let fake = FakePrinter::on_pty(master);
    fake.state().mute = true;
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let printer = printer_for(serial_config(&device), data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();
    let started = Instant::now();
    let out = queue.print_queued().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    match out[0].problem() {
        Some(PrinterProblem::Unreachable(why)) => assert!(why.contains("did not answer"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(fake.job().is_empty());
}

#[test]
fn a_missing_serial_device_is_unreachable() {
    let data = tempfile::tempdir().unwrap();
    let mut printer = printer_for(serial_config(Path::new("/dev/ttyNOPE9")), data.path());
    match printer.print(b"x") {
        Err(e) => {
            let p = e.problem();
            assert!(
                matches!(&p, PrinterProblem::Unreachable(why) if why.contains("/dev/ttyNOPE9"))
            );
            assert!(p.to_string().starts_with("printer unreachable"));
        }
        Ok(r) => panic!("printed: {r:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// USB (a device node that may or may not answer)
// ---------------------------------------------------------------------------------------------

#[test]
fn usb_device_that_answers_reports_status() {
    let (master, _slave, device) = pty();
    let fake = FakePrinter::on_pty(master);
    fake.set(NEAR_END);
    let config = PrinterConfig {
        transport: PrinterTransport::Usb,
        device: device.display().to_string(),
        ..PrinterConfig::default()
    };
    let mut printer = printer_for(config, Path::new("/"));
    let report = printer.print(b"\x1b@HELLO\n").unwrap();
    let status = report.status_after.unwrap();
    assert!(status.paper_near_end && status.problem().is_none());
    assert!(printer.port_name().unwrap().starts_with("usb "));
    assert_eq!(fake.job(), b"\x1b@HELLO\n");

    fake.set(PAPER_OUT);
    match printer.print(b"\x1b@SECOND\n") {
        Err(e) => assert_eq!(e.problem(), PrinterProblem::PaperOut),
        Ok(r) => panic!("printed: {r:?}"),
    }
}

#[test]
fn usb_device_that_never_answers_is_used_one_way() {
    let (master, _slave, device) = pty();
    let fake = FakePrinter::on_pty(master);
    fake.state().mute = true;
    let config = PrinterConfig {
        transport: PrinterTransport::Usb,
        device: device.display().to_string(),
        ..PrinterConfig::default()
    };
    let mut printer = printer_for(config, Path::new("/"));
    let started = Instant::now();
    let report = printer.print(b"\x1b@ONE\n").unwrap();
    assert_eq!(report.status_after, None);
    // Asked once; after that it is known not to answer.
    let report = printer.print(b"\x1b@TWO\n").unwrap();
    assert_eq!(report.status_after, None);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(fake.state().status_requests, 1);
    assert_eq!(fake.job_of_len(12), b"\x1b@ONE\n\x1b@TWO\n");
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn tcp_printer_running_out_of_paper_during_the_job_keeps_it_queued() {
    let (l, port) = listener();
    let fake = FakePrinter::on_tcp(l);
    // The roll ends 50 bytes into the badge.
    fake.state().paper_lasts = Some(50);
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let printer = printer_for(tcp_config(port), data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();

    let out = queue.print_queued().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].problem(), Some(&PrinterProblem::PaperOut), "{out:?}");
    assert!(contains(&fake.job(), &badge_for(&anna)), "the job was sent");
    let waiting = store.unprinted_jobs().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].visit_id, Some(anna.id));
    assert!(waiting[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("paper"));
    assert!(on_roster(&store, &anna));
    assert!(!events(&store, &anna).contains(&"badge_printed".to_owned()));
    assert!(store.visit(anna.id).unwrap().is_some());

    fake.set(READY);
    let out = queue.retry_failed().unwrap();
    assert!(out[0].is_printed(), "{out:?}");
    assert!(events(&store, &anna).contains(&"badge_printed".to_owned()));
    assert_eq!(
        fake.state().connections,
        1,
        "one connection for both attempts"
    );
}

#[test]
fn tcp_printer_nothing_listening_fails_fast_then_prints_when_it_comes_up() {
    // A port that was just free.
    let (l, port) = listener();
    drop(l);
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let printer = printer_for(tcp_config(port), data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();

    let started = Instant::now();
    let out = queue.print_queued().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let why = match out[0].problem() {
        Some(p @ PrinterProblem::Unreachable(_)) => p.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(why.starts_with("printer unreachable"), "{why}");
    assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
    let waiting = store.unprinted_jobs().unwrap();
    assert_eq!(waiting[0].last_error.as_deref(), Some(why.as_str()));
    assert!(on_roster(&store, &anna));

    // The printer is switched on.
    let fake = FakePrinter::on_tcp(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let out = queue.retry_failed().unwrap();
    assert!(out[0].is_printed(), "{out:?}");
    assert!(contains(&fake.job(), &badge_for(&anna)));
    assert!(store.unprinted_jobs().unwrap().is_empty());
}

#[test]
fn tcp_printer_switched_off_and_on_between_jobs_is_reconnected() {
    let (l, port) = listener();
    let fake = FakePrinter::on_tcp(l);
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let printer = printer_for(tcp_config(port), data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();
    assert!(queue.print_queued().unwrap()[0].is_printed());

    // The printer drops the connection; the kiosk still holds its end.
    fake.state().hang_up = true;
    std::thread::sleep(Duration::from_millis(200));

    let ben = walk_in(&mut store, "Ben Li", "+8613800138002");
    let out = queue.print_queued().unwrap();
    assert!(out[0].is_printed(), "{out:?}");
    assert_eq!(fake.state().connections, 2);
    assert!(contains(&fake.job(), &badge_for(&anna)));
    assert!(contains(&fake.job(), &badge_for(&ben)));
}

#[test]
fn tcp_printer_that_accepts_but_never_answers_times_out() {
    // Connections are accepted by the kernel but no one reads or answers.
    let (l, port) = listener();
    let data = tempfile::tempdir().unwrap();
    let mut printer = printer_for(tcp_config(port), data.path());
    let started = Instant::now();
    let err = printer.print(b"\x1b@X\n").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    match err.problem() {
        PrinterProblem::Unreachable(why) => assert!(why.contains("did not answer"), "{why}"),
        other => panic!("{other:?}"),
    }
    drop(l);
}

// ---------------------------------------------------------------------------------------------
// File, preview, worker
// ---------------------------------------------------------------------------------------------

#[test]
fn file_printer_appends_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let config = PrinterConfig {
        transport: PrinterTransport::File,
        device: "out/badges.bin".into(),
        ..PrinterConfig::default()
    };
    fs::create_dir_all(dir.path().join("out")).unwrap();
    fs::write(dir.path().join("out/badges.bin"), b"EARLIER").unwrap();
    let mut port = transport::open(&config, dir.path()).unwrap();
    assert_eq!(port.query_status().unwrap(), None, "a file is one-way");
    port.write_all(b"ONE").unwrap();
    drop(port);

    let mut printer = printer_for(config, dir.path());
    let report = printer.print(b"TWO").unwrap();
    assert_eq!(report.status_after, None);
    assert_eq!(
        fs::read(dir.path().join("out/badges.bin")).unwrap(),
        b"EARLIERONETWO"
    );
}

#[test]
fn file_printer_through_the_queue() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let a = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let b = walk_in(&mut store, "Ben Li", "+8613800138002");
    let file = data.path().join("badges.bin");
    let config = PrinterConfig {
        transport: PrinterTransport::File,
        device: file.display().to_string(),
        ..PrinterConfig::default()
    };
    let printer = printer_for(config, data.path());
    let mut queue =
        PrintQueue::open(data.path(), PrintTarget::Printer(printer), test_badge).unwrap();
    let out = queue.print_queued().unwrap();
    assert_eq!(
        out.iter().map(PrintOutcome::visit_id).collect::<Vec<_>>(),
        [Some(a.id), Some(b.id)],
        "oldest first"
    );
    assert!(out.iter().all(PrintOutcome::is_printed));
    let bytes = fs::read(&file).unwrap();
    let first = bytes.windows(3).position(|w| w == b"#1\n");
    let second = bytes.windows(3).position(|w| w == b"#2\n");
    assert!(first.is_some() && first < second, "in order");
}

#[test]
fn configured_badges_reach_a_file_printer() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let file = data.path().join("badges.bin");
    let mut config = Config::default();
    config.printer.transport = PrinterTransport::File;
    config.printer.device = file.display().to_string();
    let printer = printer_for(config.printer.clone(), data.path());
    let mut queue = PrintQueue::open(
        data.path(),
        PrintTarget::Printer(printer),
        ConfiguredBadges::new(&config, Lang::En),
    )
    .unwrap();
    let out = queue.print_queued().unwrap();
    assert!(out[0].is_printed(), "{out:?}");
    let bytes = fs::read(&file).unwrap();
    assert!(bytes.starts_with(&[0x1B, b'@']), "starts with ESC @");
    assert!(bytes.len() > 100);
}

#[test]
fn configured_preview_renders_the_real_badge() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let config = Config::default();
    assert_eq!(config.printer.transport, PrinterTransport::Preview);
    let previews = data.path().join("previews");
    let mut queue = PrintQueue::open(
        data.path(),
        PrintTarget::from_config(&config, &previews),
        ConfiguredBadges::new(&config, Lang::ZhCn),
    )
    .unwrap();
    let out = queue.print_queued().unwrap();
    let png = match &out[0] {
        PrintOutcome::Printed {
            delivery: Delivery::Preview { png },
            ..
        } => png.clone(),
        other => panic!("{other:?}"),
    };
    assert!(png
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&format!("badge-{}-", anna.number))));
    let image = image::open(&png).unwrap();
    assert_eq!(image.width(), 576, "80 mm paper");
    assert!(image.height() > 100);
}

fn tiny_png(_: &[u8]) -> Result<Vec<u8>, String> {
    let img = image::GrayImage::from_pixel(8, 4, image::Luma([255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

#[test]
fn preview_writes_one_png_per_badge() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let job = store.unprinted_jobs().unwrap()[0].id;
    let previews = data.path().join("previews");
    let mut queue = PrintQueue::open(
        data.path(),
        PrintTarget::preview(&previews, tiny_png),
        test_badge,
    )
    .unwrap();
    let out = queue.print_queued().unwrap();
    let expected = previews.join(format!("badge-{}-{job}.png", anna.number));
    assert_eq!(
        out,
        vec![PrintOutcome::Printed {
            job_id: job,
            visit_id: Some(anna.id),
            delivery: Delivery::Preview {
                png: expected.clone()
            },
        }]
    );
    assert!(fs::read(&expected).unwrap().starts_with(b"\x89PNG"));
    assert!(events(&store, &anna).contains(&"badge_printed".to_owned()));
    assert_eq!(
        fs::read_dir(&previews).unwrap().count(),
        1,
        "no temporary left"
    );
}

#[test]
fn a_badge_that_cannot_be_made_stays_queued_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let mut queue = PrintQueue::open(
        data.path(),
        PrintTarget::preview(&data.path().join("p"), tiny_png),
        |_: &JobContext<'_>| -> Result<Vec<u8>, String> { Err("no layout".into()) },
    )
    .unwrap();
    let out = queue.print_queued().unwrap();
    assert!(matches!(&out[0], PrintOutcome::BadgeFailed { reason, .. } if reason == "no layout"));
    let waiting = store.unprinted_jobs().unwrap();
    assert_eq!(
        waiting[0].last_error.as_deref(),
        Some("badge could not be made: no layout")
    );
    assert!(on_roster(&store, &anna));
}

#[test]
fn the_worker_thread_prints_on_request() {
    let data = tempfile::tempdir().unwrap();
    let mut store = open_store(data.path());
    let anna = walk_in(&mut store, "Anna Schmidt", "+8613800138001");
    let file = data.path().join("badges.bin");
    let config = PrinterConfig {
        transport: PrinterTransport::File,
        device: file.display().to_string(),
        ..PrinterConfig::default()
    };
    let queue = PrintQueue::open(
        data.path(),
        PrintTarget::Printer(printer_for(config, data.path())),
        test_badge,
    )
    .unwrap();
    let worker = PrintWorker::spawn(queue).unwrap();
    assert!(worker.request(PrintRequest::PrintQueued));
    let report = worker
        .reports()
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(report.len(), 1);
    assert!(report[0].is_printed());
    assert!(events(&store, &anna).contains(&"badge_printed".to_owned()));
    let queue = worker.stop().unwrap();
    assert!(queue.store().unprinted_jobs().unwrap().is_empty());
    assert!(contains(&fs::read(&file).unwrap(), &badge_for(&anna)));
}
