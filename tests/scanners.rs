//! Hardware scanners through real operating-system parts: a serial scanner on a
//! pseudo-terminal, a keyboard-wedge scanner's event records through a file and a FIFO.
//!
//! Every read runs in its own thread and is awaited with a timeout, so a reader that hangs
//! fails the test instead of hanging it.

#![cfg(target_os = "linux")]

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use lobby_kiosk::scan::hid::HidScanner;
use lobby_kiosk::scan::serial::{SerialScanner, StopHandle};
use lobby_kiosk::scan::{CodeSource, SourceError};

/// Generous: a code normally arrives within milliseconds, an unterminated one within ~400 ms.
const WAIT: Duration = Duration::from_secs(10);

/// Reads codes in a thread until the first error, which is sent too.
fn read_in_thread<S: CodeSource + Send + 'static>(
    mut source: S,
) -> Receiver<Result<String, SourceError>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || loop {
        let result = source.next_code();
        let end = result.is_err();
        if tx.send(result).is_err() || end {
            break;
        }
    });
    rx
}

fn next(rx: &Receiver<Result<String, SourceError>>) -> Result<String, SourceError> {
    match rx.recv_timeout(WAIT) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => panic!("the scanner reader hung for {WAIT:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the scanner reader thread died"),
    }
}

fn assert_quiet(rx: &Receiver<Result<String, SourceError>>, for_: Duration) {
    match rx.recv_timeout(for_) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("expected nothing yet, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Serial scanner on a pseudo-terminal

/// A pseudo-terminal: the master end (the "scanner" side) and the slave's path.
struct Pty {
    master: File,
    slave_path: String,
}

fn open_pty() -> Pty {
    // SAFETY: plain libc calls on a descriptor this function owns; ptsname_r writes at most
    // `buf.len()` bytes, NUL-terminated on success.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = File::from(OwnedFd::from_raw_fd(fd));
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        let mut buf = [0 as libc::c_char; 256];
        assert_eq!(
            libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()),
            0,
            "ptsname_r"
        );
        let slave_path = CStr::from_ptr(buf.as_ptr())
            .to_str()
            .expect("pty path is ASCII")
            .to_owned();
        Pty { master, slave_path }
    }
}

#[test]
fn serial_scanner_on_a_pty_delivers_exactly_the_codes() {
    let Pty {
        mut master,
        slave_path,
    } = open_pty();
    let scanner = SerialScanner::open(&slave_path, 9600).expect("open the pty as a scanner");
    assert_eq!(scanner.name(), format!("serial scanner {slave_path}"));
    let rx = read_in_thread(scanner);

    // CRLF, as most scanners ship.
    master
        .write_all(b"LK1:ABCDEFGHJKMNPQRS23456789\r\n")
        .unwrap();
    assert_eq!(next(&rx).unwrap(), "LK1:ABCDEFGHJKMNPQRS23456789");

    // LF only, and a code split over two writes.
    master.write_all(b"ABCD-").unwrap();
    master.flush().unwrap();
    thread::sleep(Duration::from_millis(50));
    master.write_all(b"EFGH\n").unwrap();
    assert_eq!(next(&rx).unwrap(), "ABCD-EFGH");

    // No suffix at all: the pause ends the code.
    let sent = Instant::now();
    master.write_all(b"NOSUFFIX-42").unwrap();
    assert_eq!(next(&rx).unwrap(), "NOSUFFIX-42");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "an unterminated code must wait for the pause, came after {waited:?}"
    );

    // 10 KB of line noise, then CR only: dropped whole, and the next code is intact.
    let mut rng = fastrand::Rng::with_seed(42);
    let garbage: Vec<u8> = (0..10 * 1024).map(|_| rng.u8(b'!'..=b'~')).collect();
    master.write_all(&garbage).unwrap();
    master.write_all(b"\rAFTER-GARBAGE\r").unwrap();
    assert_eq!(next(&rx).unwrap(), "AFTER-GARBAGE");

    // Control characters, empty lines, invalid UTF-8 and a multi-byte character.
    master.write_all(b"\r\n\r\n\n\0\x07NUL\x1b-OK\r\n").unwrap();
    master.write_all(b"BAD\xff\xfeUTF8\r\n").unwrap();
    master.write_all("Z\u{fc}RICH\n".as_bytes()).unwrap();
    master.write_all(b"LAST\r\n").unwrap();
    assert_eq!(next(&rx).unwrap(), "NUL-OK");
    assert_eq!(next(&rx).unwrap(), "BAD\u{FFFD}\u{FFFD}UTF8");
    assert_eq!(next(&rx).unwrap(), "Z\u{fc}RICH");
    assert_eq!(next(&rx).unwrap(), "LAST");

    // Nothing else came out.
    assert_quiet(&rx, Duration::from_millis(500));

    // The scanner "unplugged": the reader reports it instead of hanging or panicking.
    drop(master);
    match next(&rx) {
        Err(SourceError::Disconnected(why)) => assert!(why.contains(&slave_path), "{why}"),
        other => panic!("expected a disconnection, got {other:?}"),
    }
}

#[test]
fn serial_scanner_unplugged_with_a_partial_code_reports_disconnected() {
    let pty = open_pty();
    let scanner = SerialScanner::open(&pty.slave_path, 115_200).unwrap();
    let rx = read_in_thread(scanner);
    let mut master = pty.master;
    master.write_all(b"COMPLETE\r\nHALF-A-CO").unwrap();
    assert_eq!(next(&rx).unwrap(), "COMPLETE");
    drop(master);
    assert!(matches!(next(&rx), Err(SourceError::Disconnected(_))));
}

#[test]
fn serial_stop_handle_ends_a_blocked_read() {
    let pty = open_pty();
    let scanner = SerialScanner::open(&pty.slave_path, 9600).unwrap();
    let stop: StopHandle = scanner.stop_handle();
    let rx = read_in_thread(scanner);
    assert_quiet(&rx, Duration::from_millis(300));
    let asked = Instant::now();
    stop.stop();
    assert_eq!(next(&rx), Err(SourceError::Ended));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    drop(pty);
}

#[test]
fn serial_missing_port_is_unavailable() {
    match SerialScanner::open("/dev/lobby-kiosk-no-such-scanner", 9600) {
        Err(SourceError::Unavailable(why)) => {
            assert!(why.contains("/dev/lobby-kiosk-no-such-scanner"), "{why}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        HidScanner::open(dir.path()),
        Err(SourceError::Unavailable(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Keyboard-wedge scanner: raw input_event records

// From linux/input-event-codes.h.
const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_MSC: u16 = 0x04;
const SYN_REPORT: u16 = 0;
const MSC_SCAN: u16 = 4;
const KEY_1: u16 = 2;
const KEY_2: u16 = 3;
const KEY_MINUS: u16 = 12;
const KEY_ENTER: u16 = 28;
const KEY_A: u16 = 30;
const KEY_K: u16 = 37;
const KEY_L: u16 = 38;
const KEY_SEMICOLON: u16 = 39;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_B: u16 = 48;
const KEY_RIGHTSHIFT: u16 = 54;

/// Builds `struct input_event` records in the kernel's layout.
#[derive(Default)]
struct Events {
    bytes: Vec<u8>,
    usec: i64,
}

impl Events {
    fn event(&mut self, kind: u16, code: u16, value: i32) {
        let mut event: libc::input_event = unsafe { std::mem::zeroed() };
        self.usec += 1_000;
        event.time.tv_sec = 1_700_000_000 + self.usec / 1_000_000;
        event.time.tv_usec = self.usec % 1_000_000;
        event.type_ = kind;
        event.code = code;
        event.value = value;
        let size = std::mem::size_of::<libc::input_event>();
        // SAFETY: input_event is plain old data with no padding on Linux (timeval, then
        // 2 + 2 + 4 bytes); reading its bytes is sound.
        let raw = unsafe {
            std::slice::from_raw_parts((&event as *const libc::input_event).cast::<u8>(), size)
        };
        self.bytes.extend_from_slice(raw);
    }

    /// A key transition as a USB keyboard reports it: scan code, key, then a sync.
    fn key(&mut self, code: u16, value: i32) {
        self.event(EV_MSC, MSC_SCAN, 0x0007_0000 + i32::from(code));
        self.event(EV_KEY, code, value);
        self.event(EV_SYN, SYN_REPORT, 0);
    }

    fn tap(&mut self, code: u16) {
        self.key(code, 1);
        self.key(code, 0);
    }

    fn shifted(&mut self, shift: u16, code: u16) {
        self.key(shift, 1);
        self.tap(code);
        self.key(shift, 0);
    }

    /// "LK1:AB-12" and Enter, as a scanner types it.
    fn invite_code(&mut self) {
        self.shifted(KEY_LEFTSHIFT, KEY_L);
        self.shifted(KEY_LEFTSHIFT, KEY_K);
        self.tap(KEY_1);
        self.shifted(KEY_RIGHTSHIFT, KEY_SEMICOLON);
        // Shift held across two letters, with an autorepeat of the shift.
        self.key(KEY_LEFTSHIFT, 1);
        self.key(KEY_LEFTSHIFT, 2);
        self.tap(KEY_A);
        self.tap(KEY_B);
        self.key(KEY_LEFTSHIFT, 0);
        // An autorepeat of the minus key must not type a second '-'.
        self.key(KEY_MINUS, 1);
        self.key(KEY_MINUS, 2);
        self.key(KEY_MINUS, 0);
        self.tap(KEY_1);
        self.tap(KEY_2);
        self.tap(KEY_ENTER);
    }
}

fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

#[test]
fn hid_records_in_a_file_decode_and_then_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scanner-events");
    let mut events = Events::default();
    events.invite_code();
    // A second scan, then a few half-written bytes, as a cut-off recording would end.
    events.shifted(KEY_LEFTSHIFT, KEY_B);
    events.tap(KEY_2);
    events.tap(KEY_ENTER);
    events.bytes.extend_from_slice(&[0u8; 5]);
    std::fs::write(&path, &events.bytes).unwrap();

    // Not an event device: the grab fails with a warning, and reading still works.
    let scanner = HidScanner::open(&path).expect("a regular file opens");
    assert!(scanner.name().contains("scanner-events"));
    let rx = read_in_thread(scanner);
    assert_eq!(next(&rx).unwrap(), "LK1:AB-12");
    assert_eq!(next(&rx).unwrap(), "B2");
    // End of a recording: Ended, promptly, instead of spinning at end of file.
    assert_eq!(next(&rx), Err(SourceError::Ended));
}

#[test]
fn hid_ended_stays_ended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    let mut scanner = HidScanner::open(&path).unwrap();
    for _ in 0..3 {
        assert_eq!(scanner.next_code(), Err(SourceError::Ended));
    }
}

#[test]
fn hid_records_through_a_fifo_arrive_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scanner-fifo");
    mkfifo(&path);
    // Open the writing end first (read-write, which does not wait for a reader), so the
    // scanner never sees a FIFO without a writer.
    let mut writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let scanner = HidScanner::open(&path).expect("a FIFO opens");
    let stop = scanner.stop_handle();
    let rx = read_in_thread(scanner);

    let mut events = Events::default();
    events.invite_code();
    // Dribble the records in odd-sized pieces, splitting records across writes.
    for piece in events.bytes.chunks(7) {
        writer.write_all(piece).unwrap();
    }
    assert_eq!(next(&rx).unwrap(), "LK1:AB-12");
    assert_quiet(&rx, Duration::from_millis(300));

    // A second code written at once.
    let mut events = Events::default();
    events.shifted(KEY_RIGHTSHIFT, KEY_K);
    events.tap(KEY_ENTER);
    writer.write_all(&events.bytes).unwrap();
    assert_eq!(next(&rx).unwrap(), "K");

    // The writer still holds the FIFO open, so the reader is blocked: stop ends it.
    let asked = Instant::now();
    stop.stop();
    assert_eq!(next(&rx), Err(SourceError::Ended));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    drop(writer);
}

#[test]
fn hid_fifo_writer_closing_ends_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scanner-fifo");
    mkfifo(&path);
    let mut writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let scanner = HidScanner::open(&path).unwrap();
    let rx = read_in_thread(scanner);
    let mut events = Events::default();
    events.invite_code();
    writer.write_all(&events.bytes).unwrap();
    assert_eq!(next(&rx).unwrap(), "LK1:AB-12");
    drop(writer);
    assert_eq!(next(&rx), Err(SourceError::Ended));
}

#[test]
fn hid_missing_device_is_unavailable() {
    match HidScanner::open(Path::new("/dev/input/by-id/lobby-kiosk-no-such-scanner")) {
        Err(SourceError::Unavailable(why)) => assert!(why.contains("no-such-scanner"), "{why}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        HidScanner::open(dir.path()),
        Err(SourceError::Unavailable(_))
    ));
}

#[test]
fn a_character_device_that_is_not_an_input_device_is_refused() {
    // /dev/null is a character device that knows nothing of input events: reading it as a
    // keyboard would produce nonsense, so it is refused with a hint.
    match lobby_kiosk::scan::hid::HidScanner::open(std::path::Path::new("/dev/null")) {
        Err(lobby_kiosk::scan::SourceError::Unavailable(m)) => {
            assert!(m.contains("not an input event device"), "{m}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("/dev/null was accepted as a scanner"),
    }
}
