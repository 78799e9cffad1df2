//! Getting ESC/POS bytes to the printer, and its status back.
//!
//! Four ports implement [`PrinterPort`]:
//!
//! * [`UsbLp`]: a USB printer through the kernel's `usblp` driver (`/dev/usb/lpN`). Writes never
//!   block for longer than the write timeout; status requests are answered by printers with a
//!   bidirectional interface, and a printer that does not answer the first one is used as a
//!   one-way printer.
//! * [`SerialPrinter`]: an RS-232 or USB-serial printer, with the configured speed and flow
//!   control. Two-way.
//! * [`TcpPrinter`]: a network printer on its raw port (9100). Two-way.
//! * [`FilePrinter`]: bytes appended to a file. One-way.
//!
//! [`Printer`] wraps a port: it opens it when first needed, and when a write or a status
//! request fails on a port opened earlier (the printer was switched off and on, the network
//! connection went stale, the USB cable was replugged) it drops the port and opens it again
//! once before reporting the error. [`Printer::print`] asks a two-way printer for its status
//! before a job, so nothing is sent into a printer without paper, and again after it, so a
//! badge cut short by the paper running out is reported as not printed.
//!
//! Every wait is bounded: connecting, writing (the device accepted nothing for the write
//! timeout) and each status answer have their own [`Timeouts`].

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{FlowControl, PrinterConfig, PrinterTransport};

use super::status::{check_answer, status_request, PrinterProblem, PrinterStatus, StatusError};
use super::status::{OFFLINE_CAUSE, PRINTER_STATUS, ROLL_PAPER};

/// Why the printer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The port could not be opened: no device, nothing listening, no permission, or no port
    /// configured.
    #[error("{0}")]
    NotConnected(String),
    /// Reading or writing failed on an open port.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The printer took no data, or gave no answer, in time.
    #[error("{0}")]
    Timeout(String),
    /// The printer answered, and cannot print.
    #[error("{0}")]
    Status(PrinterProblem),
    /// The printer answered something that is not a status byte (wrong speed on a serial
    /// line, or not an ESC/POS printer).
    #[error("{0}")]
    BadAnswer(#[from] StatusError),
}

impl PrintError {
    /// The problem to show: the printer's own report, or [`PrinterProblem::Unreachable`] with
    /// this error's text.
    pub fn problem(&self) -> PrinterProblem {
        match self {
            PrintError::Status(problem) => problem.clone(),
            other => PrinterProblem::Unreachable(other.to_string()),
        }
    }

    /// Whether the port is no longer trustworthy: it is dropped and opened again.
    fn breaks_connection(&self) -> bool {
        matches!(
            self,
            PrintError::Io { .. } | PrintError::Timeout(_) | PrintError::BadAnswer(_)
        )
    }

    fn io(what: impl Into<String>, source: io::Error) -> PrintError {
        PrintError::Io {
            what: what.into(),
            source,
        }
    }
}

/// How long to wait for the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To establish a network connection.
    pub connect: Duration,
    /// Longest time the printer may accept no data while a job is sent. A busy printer takes
    /// data at its printing speed, so this is a stall limit, not a limit on the whole job.
    pub write: Duration,
    /// For each one-byte answer to a status request.
    pub answer: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(3),
            write: Duration::from_secs(10),
            answer: Duration::from_millis(500),
        }
    }
}

/// A connection to a printer.
pub trait PrinterPort: Send {
    /// Sends all bytes, or fails.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError>;
    /// Asks the printer for its status (`DLE EOT` 1, 2 and 4); `None` when the port is one-way.
    fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError>;
    /// The port for logs and the staff screen, e.g. `tcp 192.168.1.50:9100`.
    fn name(&self) -> String;
    /// Called before the port is dropped after an error: discard whatever is still queued
    /// for the device, so closing it does not wait for a printer that takes nothing.
    fn abandon(&mut self) {}
}

/// Opens the port `config` describes, with the default [`Timeouts`]. A relative file path
/// resolves against `base` (the directory of the configuration file).
pub fn open(config: &PrinterConfig, base: &Path) -> Result<Box<dyn PrinterPort>, PrintError> {
    open_with(config, base, Timeouts::default())
}

/// [`open`] with explicit timeouts.
pub fn open_with(
    config: &PrinterConfig,
    base: &Path,
    timeouts: Timeouts,
) -> Result<Box<dyn PrinterPort>, PrintError> {
    let device = config.device.trim();
    let device = || {
        if device.is_empty() {
            Err(PrintError::NotConnected(
                "printer.device is empty: no printer is configured".to_owned(),
            ))
        } else {
            Ok(device)
        }
    };
    Ok(match config.transport {
        PrinterTransport::Preview => {
            return Err(PrintError::NotConnected(
                "the preview printer shows badges on screen and has no port".to_owned(),
            ))
        }
        PrinterTransport::Usb => Box::new(UsbLp::open(Path::new(device()?), timeouts)?),
        PrinterTransport::Serial => Box::new(SerialPrinter::open(
            device()?,
            config.baud,
            config.flow_control,
            timeouts,
        )?),
        PrinterTransport::Tcp => {
            let device = device()?;
            let Some((host, port)) = config.tcp_address() else {
                return Err(PrintError::NotConnected(format!(
                    "printer.device {device:?} is not a host or host:port"
                )));
            };
            Box::new(TcpPrinter::connect(&host, port, timeouts)?)
        }
        PrinterTransport::File => {
            let path = Path::new(device()?);
            let path = if path.is_relative() {
                base.join(path)
            } else {
                path.to_path_buf()
            };
            Box::new(FilePrinter::open(&path)?)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Status over a two-way channel
// ---------------------------------------------------------------------------------------------

/// The raw operations a two-way port offers for status requests.
trait AnswerChannel {
    fn send(&mut self, bytes: &[u8]) -> Result<(), PrintError>;
    /// One byte, or `None` when none came within `timeout`.
    fn read_byte(&mut self, timeout: Duration) -> Result<Option<u8>, PrintError>;
    /// Drops bytes that arrived unasked (late answers, automatic status), so the next answer
    /// read is the answer to the next request.
    fn discard_input(&mut self) -> Result<(), PrintError>;
    fn label(&self) -> String;
}

/// Sends `DLE EOT n` and reads its answer; `Ok(None)` when no answer came in time.
fn ask(
    channel: &mut impl AnswerChannel,
    n: u8,
    timeout: Duration,
) -> Result<Option<u8>, PrintError> {
    channel.send(&status_request(n))?;
    match channel.read_byte(timeout)? {
        Some(byte) => Ok(Some(check_answer(n, byte)?)),
        None => Ok(None),
    }
}

/// Asks for the printer status, the offline cause and the roll paper sensor. A printer that
/// does not answer the first request gives `Ok(None)`; one that stops answering halfway is a
/// timeout.
fn ask_status(
    channel: &mut impl AnswerChannel,
    timeout: Duration,
) -> Result<Option<PrinterStatus>, PrintError> {
    channel.discard_input()?;
    let Some(printer) = ask(channel, PRINTER_STATUS, timeout)? else {
        return Ok(None);
    };
    let mut rest = [0u8; 2];
    for (slot, n) in rest.iter_mut().zip([OFFLINE_CAUSE, ROLL_PAPER]) {
        *slot = ask(channel, n, timeout)?.ok_or_else(|| no_answer(&channel.label(), timeout))?;
    }
    Ok(Some(PrinterStatus::from_answers(
        printer, rest[0], rest[1],
    )?))
}

/// [`ask_status`] on a port that must answer.
fn require_status(
    channel: &mut impl AnswerChannel,
    timeout: Duration,
) -> Result<Option<PrinterStatus>, PrintError> {
    match ask_status(channel, timeout)? {
        Some(status) => Ok(Some(status)),
        None => Err(no_answer(&channel.label(), timeout)),
    }
}

fn no_answer(label: &str, timeout: Duration) -> PrintError {
    PrintError::Timeout(format!(
        "the printer on {label} did not answer a status request within {} ms",
        timeout.as_millis()
    ))
}

fn stalled(label: &str, timeout: Duration) -> PrintError {
    PrintError::Timeout(format!(
        "the printer on {label} took no data for {} s",
        timeout.as_secs_f32()
    ))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Waits until `fd` is ready for `events` or `timeout` passes; returns the events seen (0 on
/// timeout).
fn wait_fd(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<libc::c_short> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = libc::c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and the count is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted && !left.is_zero() {
                continue;
            }
            return Err(e);
        }
        return Ok(if rc == 0 { 0 } else { pfd.revents });
    }
}

// ---------------------------------------------------------------------------------------------
// USB (usblp)
// ---------------------------------------------------------------------------------------------

/// A USB printer through `/dev/usb/lpN`, opened for reading and writing without blocking;
/// every wait goes through `poll()` with a timeout.
pub struct UsbLp {
    file: File,
    path: PathBuf,
    timeouts: Timeouts,
    /// Whether the printer answers status requests: unknown until first asked.
    answers: Option<bool>,
}

impl UsbLp {
    pub fn open(path: &Path, timeouts: Timeouts) -> Result<UsbLp, PrintError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::PermissionDenied {
                    " (the kiosk user needs to be in the group that owns it, usually lp)"
                } else {
                    ""
                };
                PrintError::NotConnected(format!("cannot open {}: {e}{hint}", path.display()))
            })?;
        Ok(UsbLp {
            file,
            path: path.to_path_buf(),
            timeouts,
            answers: None,
        })
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    fn write_error(&self, e: io::Error) -> PrintError {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            // usblp reports a printer out of paper this way.
            PrintError::Status(PrinterProblem::PaperOut)
        } else {
            PrintError::io(format!("cannot write to {}", self.label()), e)
        }
    }

    /// Waits until the device takes data; fails after the write timeout or on a hang-up.
    fn wait_writable(&self) -> Result<(), PrintError> {
        let revents = wait_fd(self.file.as_raw_fd(), libc::POLLOUT, self.timeouts.write)
            .map_err(|e| PrintError::io(format!("cannot wait for {}", self.label()), e))?;
        if revents == 0 {
            return Err(stalled(&self.label(), self.timeouts.write));
        }
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && revents & libc::POLLOUT == 0
        {
            return Err(PrintError::io(
                format!("{} went away", self.label()),
                io::Error::from(io::ErrorKind::BrokenPipe),
            ));
        }
        Ok(())
    }
}

impl AnswerChannel for UsbLp {
    fn send(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        PrinterPort::write_all(self, bytes)
    }

    fn read_byte(&mut self, timeout: Duration) -> Result<Option<u8>, PrintError> {
        let deadline = Instant::now() + timeout;
        let mut byte = [0u8; 1];
        loop {
            match self.file.read(&mut byte) {
                Ok(1) => return Ok(Some(byte[0])),
                // A device without a read channel may report end of data: try until the
                // deadline without spinning.
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    let revents =
                        wait_fd(self.file.as_raw_fd(), libc::POLLIN, left).map_err(|e| {
                            PrintError::io(format!("cannot wait for {}", self.label()), e)
                        })?;
                    if revents & libc::POLLIN == 0
                        && revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
                    {
                        return Err(PrintError::io(
                            format!("{} went away", self.label()),
                            io::Error::from(io::ErrorKind::BrokenPipe),
                        ));
                    }
                }
                // A printer whose interface is one-way refuses reads (usblp: EINVAL).
                Err(e) if self.answers != Some(true) => {
                    tracing::debug!(device = %self.label(), error = %e, "no read channel");
                    return Ok(None);
                }
                Err(e) => {
                    return Err(PrintError::io(
                        format!("cannot read from {}", self.label()),
                        e,
                    ))
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn discard_input(&mut self) -> Result<(), PrintError> {
        let mut buf = [0u8; 64];
        for _ in 0..16 {
            match self.file.read(&mut buf) {
                Ok(n) if n > 0 => continue,
                _ => break,
            }
        }
        Ok(())
    }

    fn label(&self) -> String {
        UsbLp::label(self)
    }
}

impl PrinterPort for UsbLp {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.file.write(rest) {
                Ok(0) => {
                    return Err(self.write_error(io::Error::from(io::ErrorKind::WriteZero)));
                }
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_writable()?,
                Err(e) => return Err(self.write_error(e)),
            }
        }
        // usblp completes non-blocking writes in the background: wait for the last one.
        self.wait_writable()
    }

    fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        if self.answers == Some(false) {
            return Ok(None);
        }
        let timeout = self.timeouts.answer;
        if self.answers == Some(true) {
            return require_status(self, timeout);
        }
        let status = ask_status(self, timeout)?;
        self.answers = Some(status.is_some());
        if status.is_none() {
            tracing::info!(
                device = %self.label(),
                "the printer does not answer status requests; printing without status"
            );
        }
        Ok(status)
    }

    fn name(&self) -> String {
        format!("usb {}", self.label())
    }
}

// ---------------------------------------------------------------------------------------------
// Serial
// ---------------------------------------------------------------------------------------------

/// A printer on a serial line.
pub struct SerialPrinter {
    port: Box<dyn serialport::SerialPort>,
    device: String,
    baud: u32,
    timeouts: Timeouts,
}

impl SerialPrinter {
    /// Opens the line with 8 data bits, no parity, one stop bit.
    pub fn open(
        device: &str,
        baud: u32,
        flow_control: FlowControl,
        timeouts: Timeouts,
    ) -> Result<SerialPrinter, PrintError> {
        let flow = match flow_control {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::Hardware => serialport::FlowControl::Hardware,
        };
        let port = serialport::new(device, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(timeouts.write)
            .open()
            .map_err(|e| PrintError::NotConnected(format!("cannot open {device}: {e}")))?;
        Ok(SerialPrinter {
            port,
            device: device.to_owned(),
            baud,
            timeouts,
        })
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), PrintError> {
        self.port.set_timeout(timeout).map_err(|e| {
            PrintError::io(
                format!("cannot set the timeout of {}", self.device),
                e.into(),
            )
        })
    }
}

impl AnswerChannel for SerialPrinter {
    fn send(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        PrinterPort::write_all(self, bytes)
    }

    fn read_byte(&mut self, timeout: Duration) -> Result<Option<u8>, PrintError> {
        self.set_timeout(timeout)?;
        let mut byte = [0u8; 1];
        let result = loop {
            match self.port.read(&mut byte) {
                Ok(1) => break Ok(Some(byte[0])),
                Ok(_) => break Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => break Ok(None),
                Err(e) => {
                    break Err(PrintError::io(
                        format!("cannot read from {}", self.device),
                        e,
                    ))
                }
            }
        };
        self.set_timeout(self.timeouts.write)?;
        result
    }

    fn discard_input(&mut self) -> Result<(), PrintError> {
        self.port
            .clear(serialport::ClearBuffer::Input)
            .map_err(|e| PrintError::io(format!("cannot clear {}", self.device), e.into()))
    }

    fn label(&self) -> String {
        self.device.clone()
    }
}

impl PrinterPort for SerialPrinter {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        // The port's timeout bounds each wait for the line to take more data.
        self.port.write_all(bytes).map_err(|e| {
            if is_timeout(&e) {
                stalled(&self.device, self.timeouts.write)
            } else {
                PrintError::io(format!("cannot write to {}", self.device), e)
            }
        })
    }

    fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        let timeout = self.timeouts.answer;
        require_status(self, timeout)
    }

    fn name(&self) -> String {
        format!("serial {} at {} baud", self.device, self.baud)
    }

    fn abandon(&mut self) {
        // Closing a serial line waits for unsent output; a stalled printer would hold it.
        let _ = self.port.clear(serialport::ClearBuffer::Output);
    }
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

/// A network printer on its raw port.
pub struct TcpPrinter {
    stream: TcpStream,
    peer: String,
    timeouts: Timeouts,
}

impl TcpPrinter {
    /// Connects to `host:port`, trying each address the name resolves to.
    pub fn connect(host: &str, port: u16, timeouts: Timeouts) -> Result<TcpPrinter, PrintError> {
        let peer = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| PrintError::NotConnected(format!("cannot find {peer}: {e}")))?;
        let connect_timeout = timeouts.connect.max(Duration::from_millis(1));
        let mut last: Option<io::Error> = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, connect_timeout) {
                Ok(stream) => {
                    let setup = stream
                        .set_nodelay(true)
                        .and_then(|()| {
                            stream.set_write_timeout(Some(
                                timeouts.write.max(Duration::from_millis(1)),
                            ))
                        })
                        .and_then(|()| {
                            stream.set_read_timeout(Some(
                                timeouts.answer.max(Duration::from_millis(1)),
                            ))
                        });
                    if let Err(e) = setup {
                        last = Some(e);
                        continue;
                    }
                    return Ok(TcpPrinter {
                        stream,
                        peer,
                        timeouts,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(PrintError::NotConnected(match last {
            Some(e) if is_timeout(&e) => format!(
                "cannot connect to {peer}: no answer within {} s",
                connect_timeout.as_secs_f32()
            ),
            Some(e) => format!("cannot connect to {peer}: {e}"),
            None => format!("cannot connect to {peer}: the name has no address"),
        }))
    }

    fn closed(&self) -> PrintError {
        PrintError::io(
            format!("{} closed the connection", self.peer),
            io::Error::from(io::ErrorKind::UnexpectedEof),
        )
    }
}

impl AnswerChannel for TcpPrinter {
    fn send(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        PrinterPort::write_all(self, bytes)
    }

    fn read_byte(&mut self, timeout: Duration) -> Result<Option<u8>, PrintError> {
        let deadline = Instant::now() + timeout;
        let mut byte = [0u8; 1];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| PrintError::io(format!("cannot read from {}", self.peer), e))?;
            match self.stream.read(&mut byte) {
                Ok(0) => return Err(self.closed()),
                Ok(_) => return Ok(Some(byte[0])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) => return Err(PrintError::io(format!("cannot read from {}", self.peer), e)),
            }
        }
    }

    fn discard_input(&mut self) -> Result<(), PrintError> {
        let fail = |e| PrintError::io(format!("cannot read from {}", self.peer), e);
        self.stream.set_nonblocking(true).map_err(fail)?;
        let mut buf = [0u8; 256];
        let mut result = Ok(());
        for _ in 0..64 {
            match self.stream.read(&mut buf) {
                // The printer hung up: this connection is stale.
                Ok(0) => {
                    result = Err(self.closed());
                    break;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    result = Err(fail(e));
                    break;
                }
            }
        }
        self.stream.set_nonblocking(false).map_err(fail)?;
        result
    }

    fn label(&self) -> String {
        self.peer.clone()
    }
}

impl PrinterPort for TcpPrinter {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        self.stream.write_all(bytes).map_err(|e| {
            if is_timeout(&e) {
                stalled(&self.peer, self.timeouts.write)
            } else {
                PrintError::io(format!("cannot send to {}", self.peer), e)
            }
        })
    }

    fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        let timeout = self.timeouts.answer;
        require_status(self, timeout)
    }

    fn name(&self) -> String {
        format!("tcp {}", self.peer)
    }
}

// ---------------------------------------------------------------------------------------------
// File
// ---------------------------------------------------------------------------------------------

/// Bytes appended to a file, for printers reached through another program or for checking
/// what would be printed. One-way.
pub struct FilePrinter {
    file: File,
    path: PathBuf,
}

impl FilePrinter {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> Result<FilePrinter, PrintError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                PrintError::NotConnected(format!("cannot open {}: {e}", path.display()))
            })?;
        Ok(FilePrinter {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl PrinterPort for FilePrinter {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        self.file
            .write_all(bytes)
            .and_then(|()| self.file.flush())
            .map_err(|e| PrintError::io(format!("cannot write to {}", self.path.display()), e))
    }

    fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        Ok(None)
    }

    fn name(&self) -> String {
        format!("file {}", self.path.display())
    }
}

// ---------------------------------------------------------------------------------------------
// The printer, reconnecting
// ---------------------------------------------------------------------------------------------

/// Opens a port; called again after the port failed.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn PrinterPort>, PrintError> + Send>;

/// What a printed job left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintReport {
    /// The printer's status after the job; `None` on a one-way port. `paper_near_end` here
    /// is worth a note on the staff screen.
    pub status_after: Option<PrinterStatus>,
}

/// A printer port opened lazily and reopened after a failure.
pub struct Printer {
    opener: Opener,
    port: Option<Box<dyn PrinterPort>>,
    settle: Duration,
}

/// Default wait between sending a job and asking whether it printed.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(300);

impl Printer {
    /// The printer `config` describes, with the default [`Timeouts`]; nothing is opened yet.
    pub fn new(config: &PrinterConfig, base: &Path) -> Printer {
        Printer::with_timeouts(config, base, Timeouts::default())
    }

    /// [`Printer::new`] with explicit timeouts.
    pub fn with_timeouts(config: &PrinterConfig, base: &Path, timeouts: Timeouts) -> Printer {
        let config = config.clone();
        let base = base.to_path_buf();
        Printer::from_opener(Box::new(move || open_with(&config, &base, timeouts)))
    }

    /// A printer whose port comes from `opener`.
    pub fn from_opener(opener: Opener) -> Printer {
        Printer {
            opener,
            port: None,
            settle: DEFAULT_SETTLE,
        }
    }

    /// How long to wait after sending a job before asking the printer whether it is still
    /// fine. The printer answers status requests the moment they arrive, so without a pause a
    /// printer still working through the end of the job could not yet have noticed that its
    /// paper ran out.
    pub fn with_settle_time(mut self, settle: Duration) -> Printer {
        self.settle = settle;
        self
    }

    /// The open port's name, if one is open.
    pub fn port_name(&self) -> Option<String> {
        self.port.as_ref().map(|p| p.name())
    }

    /// Closes the port; the next use opens it again.
    pub fn disconnect(&mut self) {
        self.port = None;
    }

    /// Asks the printer for its status; `None` for a one-way printer.
    pub fn status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        self.with_port(true, |p| p.query_status())
    }

    /// Prints one job. On a two-way printer: refuses to send when the printer reports a
    /// problem, and reports a problem that appears by the end of the job (the badge is then
    /// incomplete) as [`PrintError::Status`].
    pub fn print(&mut self, job: &[u8]) -> Result<PrintReport, PrintError> {
        let before = self.status()?;
        if let Some(problem) = before.and_then(|s| s.problem()) {
            return Err(PrintError::Status(problem));
        }
        let two_way = before.is_some();
        // A two-way port has just answered, so a write error now means the printer went away
        // in the middle of this job: it is not sent a second time.
        if let Err(e) = self.with_port(!two_way, |p| p.write_all(job)) {
            if two_way {
                // A printer that stopped taking data may say why (the paper ran out).
                if let Ok(Some(status)) = self.status() {
                    if let Some(problem) = status.problem() {
                        return Err(PrintError::Status(problem));
                    }
                }
            }
            return Err(e);
        }
        if !two_way {
            return Ok(PrintReport { status_after: None });
        }
        if !self.settle.is_zero() {
            std::thread::sleep(self.settle);
        }
        // The whole job was taken. A printer busy printing a long raster badge may be slow to
        // answer: ask again after a while, and if it still says nothing, count the badge as
        // printed (failing it would make a reprint print it twice).
        let after = match self.status() {
            Ok(s) => s,
            Err(PrintError::Timeout(_)) | Err(PrintError::BadAnswer(_)) => {
                std::thread::sleep(self.settle.max(Duration::from_millis(500)));
                match self.status() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "no status after a job that was sent whole");
                        None
                    }
                }
            }
            Err(e) => return Err(e),
        };
        if let Some(problem) = after.and_then(|s| s.problem()) {
            return Err(PrintError::Status(problem));
        }
        Ok(PrintReport {
            status_after: after,
        })
    }

    fn connect(&mut self) -> Result<&mut Box<dyn PrinterPort>, PrintError> {
        if self.port.is_none() {
            let port = (self.opener)()?;
            tracing::debug!(port = %port.name(), "printer port opened");
            self.port = Some(port);
        }
        match self.port.as_mut() {
            Some(port) => Ok(port),
            None => Err(PrintError::NotConnected("no printer port".to_owned())),
        }
    }

    fn drop_port(&mut self) {
        if let Some(mut port) = self.port.take() {
            port.abandon();
        }
    }

    /// Runs `op` on the port. When it fails on a port opened before this call and `retry` is
    /// set, the port is opened again and `op` runs once more.
    fn with_port<T>(
        &mut self,
        retry: bool,
        mut op: impl FnMut(&mut dyn PrinterPort) -> Result<T, PrintError>,
    ) -> Result<T, PrintError> {
        let fresh = self.port.is_none();
        let first = op(self.connect()?.as_mut());
        match first {
            Err(e) if e.breaks_connection() => {
                let name = self.port_name().unwrap_or_default();
                self.drop_port();
                if fresh || !retry {
                    return Err(e);
                }
                tracing::info!(port = %name, error = %e, "printer connection lost; reconnecting");
                let second = op(self.connect()?.as_mut());
                if let Err(e) = &second {
                    if e.breaks_connection() {
                        self.drop_port();
                    }
                }
                second
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    /// A scripted port: each call takes the next result.
    #[derive(Default)]
    struct Script {
        statuses: VecDeque<Result<Option<PrinterStatus>, PrintError>>,
        writes: VecDeque<Result<(), PrintError>>,
        written: Vec<Vec<u8>>,
        opened: usize,
    }

    struct Scripted(Arc<Mutex<Script>>);

    impl PrinterPort for Scripted {
        fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
            let mut s = self.0.lock().unwrap();
            s.written.push(bytes.to_vec());
            s.writes.pop_front().unwrap_or(Ok(()))
        }
        fn query_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
            let mut s = self.0.lock().unwrap();
            s.statuses
                .pop_front()
                .unwrap_or(Ok(Some(PrinterStatus::READY)))
        }
        fn name(&self) -> String {
            "scripted".into()
        }
    }

    fn printer(script: &Arc<Mutex<Script>>) -> Printer {
        let s = Arc::clone(script);
        Printer::from_opener(Box::new(move || {
            s.lock().unwrap().opened += 1;
            Ok(Box::new(Scripted(Arc::clone(&s))) as Box<dyn PrinterPort>)
        }))
        .with_settle_time(Duration::ZERO)
    }

    fn broken() -> PrintError {
        PrintError::io("gone", io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn paper_out() -> PrinterStatus {
        PrinterStatus {
            online: false,
            paper_out: true,
            ..PrinterStatus::READY
        }
    }

    #[test]
    fn the_port_opens_on_first_use_and_stays_open() {
        let script = Arc::new(Mutex::new(Script::default()));
        let mut p = printer(&script);
        assert_eq!(script.lock().unwrap().opened, 0);
        p.print(b"one").unwrap();
        p.print(b"two").unwrap();
        let s = script.lock().unwrap();
        assert_eq!(s.opened, 1);
        assert_eq!(s.written, vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn a_printer_without_paper_is_sent_nothing() {
        let script = Arc::new(Mutex::new(Script::default()));
        script
            .lock()
            .unwrap()
            .statuses
            .push_back(Ok(Some(paper_out())));
        let mut p = printer(&script);
        match p.print(b"badge") {
            Err(PrintError::Status(PrinterProblem::PaperOut)) => {}
            other => panic!("{other:?}"),
        }
        assert!(script.lock().unwrap().written.is_empty());
    }

    #[test]
    fn paper_running_out_during_the_job_fails_it() {
        let script = Arc::new(Mutex::new(Script::default()));
        {
            let mut s = script.lock().unwrap();
            s.statuses.push_back(Ok(Some(PrinterStatus::READY)));
            s.statuses.push_back(Ok(Some(paper_out())));
        }
        let mut p = printer(&script);
        match p.print(b"badge") {
            Err(PrintError::Status(PrinterProblem::PaperOut)) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(script.lock().unwrap().written.len(), 1);
    }

    #[test]
    fn a_stale_port_is_reopened_once() {
        let script = Arc::new(Mutex::new(Script::default()));
        let mut p = printer(&script);
        p.print(b"one").unwrap();
        script.lock().unwrap().statuses.push_back(Err(broken()));
        p.print(b"two").unwrap();
        assert_eq!(script.lock().unwrap().opened, 2);
    }

    #[test]
    fn a_fresh_port_that_fails_is_not_reopened() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().unwrap().statuses.push_back(Err(broken()));
        let mut p = printer(&script);
        assert!(matches!(p.print(b"one"), Err(PrintError::Io { .. })));
        assert_eq!(script.lock().unwrap().opened, 1);
        assert!(p.port_name().is_none(), "the failed port was dropped");
    }

    #[test]
    fn a_one_way_port_retries_a_failed_write_on_a_new_port() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().unwrap().statuses.extend([Ok(None), Ok(None)]);
        let mut p = printer(&script);
        p.print(b"one").unwrap();
        {
            let mut s = script.lock().unwrap();
            s.statuses.extend([Ok(None), Ok(None)]);
            s.writes.push_back(Err(broken()));
        }
        let report = p.print(b"two").unwrap();
        assert_eq!(report.status_after, None);
        let s = script.lock().unwrap();
        assert_eq!(s.opened, 2);
        assert_eq!(s.written.len(), 3, "one, the failed two, two again");
    }

    #[test]
    fn a_two_way_port_does_not_resend_a_job_cut_off_halfway() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().unwrap().writes.push_back(Err(broken()));
        let mut p = printer(&script);
        assert!(p.print(b"badge").is_err());
        assert_eq!(script.lock().unwrap().written.len(), 1);
    }

    #[test]
    fn a_stalled_write_reports_the_printers_reason() {
        let script = Arc::new(Mutex::new(Script::default()));
        {
            let mut s = script.lock().unwrap();
            s.writes
                .push_back(Err(PrintError::Timeout("took no data".into())));
            s.statuses.push_back(Ok(Some(PrinterStatus::READY)));
            s.statuses.push_back(Ok(Some(paper_out())));
        }
        let mut p = printer(&script);
        match p.print(b"badge") {
            Err(PrintError::Status(PrinterProblem::PaperOut)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_map_to_problems() {
        assert_eq!(
            PrintError::Status(PrinterProblem::CoverOpen).problem(),
            PrinterProblem::CoverOpen
        );
        let p = PrintError::NotConnected("cannot open /dev/usb/lp0: No such file".into()).problem();
        assert_eq!(
            p,
            PrinterProblem::Unreachable("cannot open /dev/usb/lp0: No such file".into())
        );
        assert!(p.to_string().starts_with("printer unreachable: "));
    }

    #[test]
    fn preview_and_missing_devices_have_no_port() {
        let base = Path::new("/");
        let preview = PrinterConfig::default();
        assert!(matches!(
            open(&preview, base),
            Err(PrintError::NotConnected(_))
        ));
        let empty = PrinterConfig {
            transport: PrinterTransport::Usb,
            ..PrinterConfig::default()
        };
        assert!(matches!(
            open(&empty, base),
            Err(PrintError::NotConnected(_))
        ));
        let missing = PrinterConfig {
            transport: PrinterTransport::Usb,
            device: "/nonexistent/usb/lp9".into(),
            ..PrinterConfig::default()
        };
        match open(&missing, base) {
            Err(PrintError::NotConnected(why)) => assert!(why.contains("/nonexistent/usb/lp9")),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened a missing device"),
        }
    }
}
