//! Serial (RS-232 / USB CDC) barcode and QR scanners.
//!
//! A serial scanner sends each code as a line of bytes. Scanners are configurable, so a code may
//! end with CR, LF or CRLF, or with no suffix at all: then the code ends when the scanner has
//! been quiet for [`IDLE_END`]. The line splitting lives in [`LineAssembler`], which is pure and
//! tested without a device; [`SerialScanner`] feeds it from the port.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits};

use super::{CodeSource, SourceError};

/// The longest code accepted, in bytes (after control characters are stripped). Anything longer
/// is line noise or a wrong baud rate and is dropped.
pub const MAX_LINE: usize = 4096;

/// A code with no terminator ends once the scanner has been quiet this long.
pub const IDLE_END: Duration = Duration::from_millis(300);

/// How long one read waits for data before the reader looks at the stop flag and the idle
/// timer again. Shorter than [`IDLE_END`] so an unterminated code is delivered promptly.
const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// Asks a blocked scanner read to give up: after [`StopHandle::stop`], the scanner's
/// `next_code` returns [`SourceError::Ended`] within one read timeout (about 100 ms).
///
/// Cloning shares the flag. It dereferences to the underlying [`AtomicBool`], and converts to
/// and from `Arc<AtomicBool>`, for supervisors that keep one flag for several sources.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A fresh, not yet stopped handle.
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// Requests the stop. Idempotent.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Deref for StopHandle {
    type Target = AtomicBool;

    fn deref(&self) -> &AtomicBool {
        &self.0
    }
}

impl From<Arc<AtomicBool>> for StopHandle {
    fn from(flag: Arc<AtomicBool>) -> StopHandle {
        StopHandle(flag)
    }
}

impl From<StopHandle> for Arc<AtomicBool> {
    fn from(handle: StopHandle) -> Arc<AtomicBool> {
        handle.0
    }
}

/// Splits the byte stream of a serial scanner into codes.
///
/// * CR, LF and CRLF end a code; empty lines (such as the LF of a CRLF) are ignored.
/// * NUL, DEL and every other control character are stripped.
/// * A line longer than [`MAX_LINE`] bytes is dropped whole, up to its terminator.
/// * Bytes are decoded as UTF-8, lossily: invalid sequences become U+FFFD.
/// * [`LineAssembler::idle`] ends an unterminated code after a pause of [`IDLE_END`].
#[derive(Debug, Default)]
pub struct LineAssembler {
    line: Vec<u8>,
    /// Set while dropping an over-long line: how many bytes were dropped so far.
    dropping: Option<usize>,
}

impl LineAssembler {
    /// An assembler with nothing pending.
    pub fn new() -> LineAssembler {
        LineAssembler::default()
    }

    /// Takes bytes as they arrive and returns the codes they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut codes = Vec::new();
        for &byte in bytes {
            match byte {
                b'\r' | b'\n' => codes.extend(self.finish()),
                // C0 controls (NUL, BEL, ESC, TAB, ...) and DEL.
                0x00..=0x1f | 0x7f => {}
                _ => self.keep(byte),
            }
        }
        codes
    }

    /// Tells the assembler the line has been quiet for `quiet`. Once that reaches
    /// [`IDLE_END`], a pending unterminated code is complete and returned.
    pub fn idle(&mut self, quiet: Duration) -> Option<String> {
        if quiet >= IDLE_END {
            self.finish()
        } else {
            None
        }
    }

    /// Whether part of a line is waiting for its terminator or a pause.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.dropping.is_some()
    }

    /// Forgets any partial line.
    pub fn clear(&mut self) {
        self.line.clear();
        self.dropping = None;
    }

    fn keep(&mut self, byte: u8) {
        if let Some(dropped) = self.dropping.as_mut() {
            *dropped += 1;
        } else if self.line.len() >= MAX_LINE {
            self.dropping = Some(self.line.len() + 1);
            self.line.clear();
        } else {
            self.line.push(byte);
        }
    }

    fn finish(&mut self) -> Option<String> {
        if let Some(dropped) = self.dropping.take() {
            tracing::debug!(
                bytes = dropped,
                limit = MAX_LINE,
                "serial scanner: dropped an over-long line"
            );
            self.line.clear();
            return None;
        }
        if self.line.is_empty() {
            return None;
        }
        // Lossy decoding can produce C1 controls from valid UTF-8; strip those too.
        let code: String = String::from_utf8_lossy(&self.line)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        self.line.clear();
        if code.trim().is_empty() {
            None
        } else {
            Some(code)
        }
    }
}

/// A barcode/QR scanner on a serial port (8N1, no flow control).
pub struct SerialScanner {
    port_name: String,
    port: Box<dyn SerialPort>,
    lines: LineAssembler,
    ready: VecDeque<String>,
    last_data: Instant,
    stop: StopHandle,
    /// Set once the port has failed; every later call reports it again.
    failed: Option<SourceError>,
}

impl fmt::Debug for SerialScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerialScanner")
            .field("port", &self.port_name)
            .field("pending_codes", &self.ready.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl SerialScanner {
    /// Opens `port` (such as `/dev/ttyACM0` or `/dev/serial/by-id/...`) at `baud`, 8 data
    /// bits, no parity, 1 stop bit, no flow control.
    ///
    /// A port that does not exist, is busy or may not be opened is
    /// [`SourceError::Unavailable`].
    pub fn open(port: &str, baud: u32) -> Result<SerialScanner, SourceError> {
        let opened = serialport::new(port, baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(READ_TIMEOUT)
            .open()
            .map_err(|e| {
                SourceError::Unavailable(format!(
                    "cannot open serial scanner {port} at {baud} baud: {e}"
                ))
            })?;
        tracing::info!(port, baud, "serial scanner opened");
        Ok(SerialScanner {
            port_name: port.to_owned(),
            port: opened,
            lines: LineAssembler::new(),
            ready: VecDeque::new(),
            last_data: Instant::now(),
            stop: StopHandle::new(),
            failed: None,
        })
    }

    /// A handle that makes a blocked [`CodeSource::next_code`] return [`SourceError::Ended`].
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    fn fail(&mut self, why: String) -> SourceError {
        if self.lines.has_partial() {
            tracing::debug!(port = %self.port_name, "serial scanner: partial code lost");
            self.lines.clear();
        }
        tracing::warn!(port = %self.port_name, "{why}");
        let error = SourceError::Disconnected(why);
        self.failed = Some(error.clone());
        error
    }
}

impl CodeSource for SerialScanner {
    fn name(&self) -> String {
        format!("serial scanner {}", self.port_name)
    }

    fn stop_flag(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        Some(self.stop_handle().into())
    }

    fn next_code(&mut self) -> Result<String, SourceError> {
        let mut buf = [0u8; 1024];
        loop {
            if self.stop.is_stopped() {
                return Err(SourceError::Ended);
            }
            if let Some(code) = self.ready.pop_front() {
                return Ok(code);
            }
            if let Some(error) = &self.failed {
                return Err(error.clone());
            }
            match self.port.read(&mut buf) {
                Ok(0) => {
                    // Raw mode blocks for at least one byte, so zero means hang-up.
                    let why = format!("serial scanner {} hung up", self.port_name);
                    return Err(self.fail(why));
                }
                Ok(n) => {
                    let now = Instant::now();
                    // A pause longer than IDLE_END before these bytes ended the previous code,
                    // even if no read timed out in between.
                    let quiet = now.duration_since(self.last_data);
                    self.ready.extend(self.lines.idle(quiet));
                    self.last_data = now;
                    self.ready.extend(self.lines.push(&buf[..n]));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    let quiet = self.last_data.elapsed();
                    self.ready.extend(self.lines.idle(quiet));
                }
                Err(e) => {
                    // EIO, broken pipe, "device not configured": the port went away. Retrying
                    // would only spin, so the supervisor decides when to reopen.
                    let why = format!("serial scanner {} disconnected: {e}", self.port_name);
                    return Err(self.fail(why));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_lf_and_crlf_all_end_a_code() {
        let mut lines = LineAssembler::new();
        assert_eq!(
            lines.push(b"ONE\rTWO\nTHREE\r\nFOUR\n\r"),
            ["ONE", "TWO", "THREE", "FOUR"]
        );
        assert!(!lines.has_partial());
    }

    #[test]
    fn a_code_split_across_reads_is_joined() {
        let mut lines = LineAssembler::new();
        assert!(lines.push(b"LK1:AB").is_empty());
        assert_eq!(lines.push(b"CD\r"), ["LK1:ABCD"]);
        assert!(lines.push(b"\nEF").is_empty());
        assert_eq!(lines.push(b"GH\r\n"), ["EFGH"]);
    }

    #[test]
    fn empty_and_blank_lines_are_ignored() {
        let mut lines = LineAssembler::new();
        assert!(lines.push(b"\r\n\r\n\n\n\r\r").is_empty());
        assert!(lines.push(b"   \r\n\t\n\0\0\n").is_empty());
        assert_eq!(lines.push(b"\n\nX\n\n"), ["X"]);
    }

    #[test]
    fn control_characters_are_stripped() {
        let mut lines = LineAssembler::new();
        assert_eq!(lines.push(b"\0\x02AB\x07C\x1bD\x7f\tE\x03\r\n"), ["ABCDE"]);
        // C1 controls arrive as valid two-byte UTF-8.
        assert_eq!(lines.push("A\u{0085}B\n".as_bytes()), ["AB"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut lines = LineAssembler::new();
        assert_eq!(
            lines.push(b"BAD\xff\xfeUTF8\n"),
            ["BAD\u{FFFD}\u{FFFD}UTF8"]
        );
        assert_eq!(lines.push("caf\u{e9}\n".as_bytes()), ["caf\u{e9}"]);
        // A multi-byte character split across reads survives.
        let bytes = "\u{e9}t\u{e9}\n".as_bytes();
        assert!(lines.push(&bytes[..1]).is_empty());
        assert_eq!(lines.push(&bytes[1..]), ["\u{e9}t\u{e9}"]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let mut lines = LineAssembler::new();
        let mut bytes = vec![b'A'; MAX_LINE];
        bytes.push(b'\n');
        let codes = lines.push(&bytes);
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].len(), MAX_LINE);
    }

    #[test]
    fn an_over_long_line_is_dropped_up_to_its_terminator() {
        let mut lines = LineAssembler::new();
        let garbage = vec![b'Z'; MAX_LINE + 1];
        assert!(lines.push(&garbage).is_empty());
        assert!(lines.has_partial());
        // More garbage in later reads is still part of the dropped line.
        assert!(lines.push(&[b'Y'; 10_000]).is_empty());
        assert_eq!(lines.push(b"\r\nNEXT\r\n"), ["NEXT"]);
        assert!(!lines.has_partial());
    }

    #[test]
    fn an_over_long_line_ended_by_a_pause_is_dropped() {
        let mut lines = LineAssembler::new();
        assert!(lines.push(&vec![b'Z'; MAX_LINE * 3]).is_empty());
        assert_eq!(lines.idle(IDLE_END), None);
        assert!(!lines.has_partial());
        assert_eq!(lines.push(b"OK\n"), ["OK"]);
    }

    #[test]
    fn a_pause_ends_an_unterminated_code() {
        let mut lines = LineAssembler::new();
        assert!(lines.push(b"NOSUFFIX").is_empty());
        assert_eq!(lines.idle(Duration::from_millis(100)), None);
        assert_eq!(lines.idle(IDLE_END - Duration::from_millis(1)), None);
        assert!(lines.has_partial());
        assert_eq!(lines.idle(IDLE_END), Some("NOSUFFIX".to_owned()));
        assert!(!lines.has_partial());
        assert_eq!(lines.idle(Duration::from_secs(5)), None);
    }

    #[test]
    fn a_pause_with_nothing_pending_yields_nothing() {
        let mut lines = LineAssembler::new();
        assert_eq!(lines.idle(Duration::from_secs(1)), None);
        assert!(lines.push(b"\0\x07").is_empty());
        assert_eq!(lines.idle(Duration::from_secs(1)), None);
    }

    #[test]
    fn clear_forgets_a_partial_line() {
        let mut lines = LineAssembler::new();
        assert!(lines.push(b"HALF").is_empty());
        lines.clear();
        assert_eq!(lines.push(b"WHOLE\n"), ["WHOLE"]);
    }

    #[test]
    fn random_bytes_never_panic_and_respect_the_limit() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut lines = LineAssembler::new();
        for _ in 0..200 {
            let len = rng.usize(0..6000);
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            for code in lines.push(&bytes) {
                assert!(!code.is_empty());
                assert!(!code.contains(['\r', '\n', '\0']));
                assert!(code.chars().all(|c| !c.is_control()));
                // Each kept byte becomes at most one U+FFFD (3 bytes).
                assert!(code.len() <= MAX_LINE * 3);
            }
            if rng.bool() {
                let _ = lines.idle(IDLE_END);
            }
        }
    }

    #[test]
    fn stop_handle_shares_its_flag() {
        let handle = StopHandle::new();
        let other = handle.clone();
        assert!(!other.is_stopped());
        handle.stop();
        assert!(other.is_stopped());
        let flag: Arc<AtomicBool> = other.into();
        assert!(flag.load(Ordering::SeqCst));
    }
}
