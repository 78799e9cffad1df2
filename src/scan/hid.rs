//! USB HID "keyboard wedge" scanners, read from their Linux input event device.
//!
//! Such a scanner types each code like a keyboard and presses Enter. Read through the desktop,
//! those keystrokes would land in whatever field of the touchscreen UI has focus, so the kiosk
//! opens the scanner's own event device (`/dev/input/by-id/usb-...-event-kbd`) and takes it
//! exclusively with `EVIOCGRAB`: its keystrokes then reach only this reader.
//!
//! Key codes are turned into text by [`KeyDecoder`], which is pure and tested without a
//! device; [`HidScanner`] feeds it the raw `struct input_event` records.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::serial::StopHandle;
use super::{CodeSource, SourceError};

/// The longest code accepted, in characters. Anything longer is dropped up to its terminator.
pub const MAX_CODE: usize = 4096;

// Key codes from linux/input-event-codes.h.
const KEY_1: u16 = 2;
const KEY_9: u16 = 10;
const KEY_0: u16 = 11;
const KEY_MINUS: u16 = 12;
const KEY_EQUAL: u16 = 13;
const KEY_TAB: u16 = 15;
const KEY_Q: u16 = 16;
const KEY_W: u16 = 17;
const KEY_E: u16 = 18;
const KEY_R: u16 = 19;
const KEY_T: u16 = 20;
const KEY_Y: u16 = 21;
const KEY_U: u16 = 22;
const KEY_I: u16 = 23;
const KEY_O: u16 = 24;
const KEY_P: u16 = 25;
const KEY_LEFTBRACE: u16 = 26;
const KEY_RIGHTBRACE: u16 = 27;
const KEY_ENTER: u16 = 28;
const KEY_LEFTCTRL: u16 = 29;
const KEY_A: u16 = 30;
const KEY_S: u16 = 31;
const KEY_D: u16 = 32;
const KEY_F: u16 = 33;
const KEY_G: u16 = 34;
const KEY_H: u16 = 35;
const KEY_J: u16 = 36;
const KEY_K: u16 = 37;
const KEY_L: u16 = 38;
const KEY_SEMICOLON: u16 = 39;
const KEY_APOSTROPHE: u16 = 40;
const KEY_GRAVE: u16 = 41;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_BACKSLASH: u16 = 43;
const KEY_Z: u16 = 44;
const KEY_X: u16 = 45;
const KEY_C: u16 = 46;
const KEY_V: u16 = 47;
const KEY_B: u16 = 48;
const KEY_N: u16 = 49;
const KEY_M: u16 = 50;
const KEY_COMMA: u16 = 51;
const KEY_DOT: u16 = 52;
const KEY_SLASH: u16 = 53;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_KPASTERISK: u16 = 55;
const KEY_LEFTALT: u16 = 56;
const KEY_SPACE: u16 = 57;
const KEY_CAPSLOCK: u16 = 58;
const KEY_KP7: u16 = 71;
const KEY_KP8: u16 = 72;
const KEY_KP9: u16 = 73;
const KEY_KPMINUS: u16 = 74;
const KEY_KP4: u16 = 75;
const KEY_KP5: u16 = 76;
const KEY_KP6: u16 = 77;
const KEY_KPPLUS: u16 = 78;
const KEY_KP1: u16 = 79;
const KEY_KP2: u16 = 80;
const KEY_KP3: u16 = 81;
const KEY_KP0: u16 = 82;
const KEY_KPDOT: u16 = 83;
const KEY_KPENTER: u16 = 96;
const KEY_RIGHTCTRL: u16 = 97;
const KEY_KPSLASH: u16 = 98;
const KEY_RIGHTALT: u16 = 100;
const KEY_KPEQUAL: u16 = 117;
const KEY_KPCOMMA: u16 = 121;
const KEY_LEFTMETA: u16 = 125;
const KEY_RIGHTMETA: u16 = 126;

/// What a key types on a US layout.
#[derive(Debug, Clone, Copy)]
enum Key {
    /// A letter: upper case when exactly one of Shift and CapsLock is on.
    Letter(char),
    /// A digit, punctuation or space: (plain, with Shift). CapsLock does not apply.
    Symbol(char, char),
    /// A keypad key, read as if NumLock were on (how scanners in keypad mode expect it).
    Keypad(char),
}

fn us_layout(code: u16) -> Option<Key> {
    const SHIFTED_DIGITS: [char; 9] = ['!', '@', '#', '$', '%', '^', '&', '*', '('];
    let key = match code {
        KEY_1..=KEY_9 => {
            let index = usize::from(code - KEY_1);
            let digit = char::from(b'1' + (code - KEY_1) as u8);
            Key::Symbol(digit, *SHIFTED_DIGITS.get(index)?)
        }
        KEY_0 => Key::Symbol('0', ')'),
        KEY_MINUS => Key::Symbol('-', '_'),
        KEY_EQUAL => Key::Symbol('=', '+'),
        KEY_LEFTBRACE => Key::Symbol('[', '{'),
        KEY_RIGHTBRACE => Key::Symbol(']', '}'),
        KEY_SEMICOLON => Key::Symbol(';', ':'),
        KEY_APOSTROPHE => Key::Symbol('\'', '"'),
        KEY_GRAVE => Key::Symbol('`', '~'),
        KEY_BACKSLASH => Key::Symbol('\\', '|'),
        KEY_COMMA => Key::Symbol(',', '<'),
        KEY_DOT => Key::Symbol('.', '>'),
        KEY_SLASH => Key::Symbol('/', '?'),
        KEY_SPACE => Key::Symbol(' ', ' '),
        KEY_Q => Key::Letter('q'),
        KEY_W => Key::Letter('w'),
        KEY_E => Key::Letter('e'),
        KEY_R => Key::Letter('r'),
        KEY_T => Key::Letter('t'),
        KEY_Y => Key::Letter('y'),
        KEY_U => Key::Letter('u'),
        KEY_I => Key::Letter('i'),
        KEY_O => Key::Letter('o'),
        KEY_P => Key::Letter('p'),
        KEY_A => Key::Letter('a'),
        KEY_S => Key::Letter('s'),
        KEY_D => Key::Letter('d'),
        KEY_F => Key::Letter('f'),
        KEY_G => Key::Letter('g'),
        KEY_H => Key::Letter('h'),
        KEY_J => Key::Letter('j'),
        KEY_K => Key::Letter('k'),
        KEY_L => Key::Letter('l'),
        KEY_Z => Key::Letter('z'),
        KEY_X => Key::Letter('x'),
        KEY_C => Key::Letter('c'),
        KEY_V => Key::Letter('v'),
        KEY_B => Key::Letter('b'),
        KEY_N => Key::Letter('n'),
        KEY_M => Key::Letter('m'),
        KEY_KP0 => Key::Keypad('0'),
        KEY_KP1 => Key::Keypad('1'),
        KEY_KP2 => Key::Keypad('2'),
        KEY_KP3 => Key::Keypad('3'),
        KEY_KP4 => Key::Keypad('4'),
        KEY_KP5 => Key::Keypad('5'),
        KEY_KP6 => Key::Keypad('6'),
        KEY_KP7 => Key::Keypad('7'),
        KEY_KP8 => Key::Keypad('8'),
        KEY_KP9 => Key::Keypad('9'),
        KEY_KPDOT => Key::Keypad('.'),
        KEY_KPMINUS => Key::Keypad('-'),
        KEY_KPPLUS => Key::Keypad('+'),
        KEY_KPASTERISK => Key::Keypad('*'),
        KEY_KPSLASH => Key::Keypad('/'),
        KEY_KPEQUAL => Key::Keypad('='),
        KEY_KPCOMMA => Key::Keypad(','),
        _ => return None,
    };
    Some(key)
}

/// Turns key events into codes, as a US keyboard layout would.
///
/// Feed it the `(code, value)` of every `EV_KEY` event: value 1 is a press, 0 a release and
/// 2 an autorepeat (ignored). Left and right Shift and CapsLock are tracked. Enter, keypad
/// Enter and Tab end a code. Keys with no character (function keys, arrows, ...) are ignored,
/// and so are characters typed while Ctrl, Alt or Meta is held: those are commands, not text.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    text: String,
    left_shift: bool,
    right_shift: bool,
    caps_lock: bool,
    /// Ctrl, Alt and Meta keys currently held, one bit each.
    commands: u8,
    /// The code in progress is being dropped up to its terminator (too long, or events lost).
    discarding: bool,
}

impl KeyDecoder {
    /// A decoder with no keys held and CapsLock off.
    pub fn new() -> KeyDecoder {
        KeyDecoder::default()
    }

    /// Takes one key event; returns the code it completes, if any.
    pub fn feed(&mut self, code: u16, value: i32) -> Option<String> {
        let held = value != 0;
        let command_bit = match code {
            KEY_LEFTSHIFT => {
                self.left_shift = held;
                return None;
            }
            KEY_RIGHTSHIFT => {
                self.right_shift = held;
                return None;
            }
            KEY_LEFTCTRL => Some(0),
            KEY_RIGHTCTRL => Some(1),
            KEY_LEFTALT => Some(2),
            KEY_RIGHTALT => Some(3),
            KEY_LEFTMETA => Some(4),
            KEY_RIGHTMETA => Some(5),
            _ => None,
        };
        if let Some(bit) = command_bit {
            if held {
                self.commands |= 1 << bit;
            } else {
                self.commands &= !(1 << bit);
            }
            return None;
        }
        // Only presses type: releases and autorepeats do not.
        if value != 1 {
            return None;
        }
        match code {
            KEY_CAPSLOCK => {
                self.caps_lock = !self.caps_lock;
                None
            }
            KEY_ENTER | KEY_KPENTER | KEY_TAB => self.finish(),
            _ => {
                if self.commands == 0 {
                    if let Some(c) = self.character(code) {
                        self.type_char(c);
                    }
                }
                None
            }
        }
    }

    /// Events were lost (the device's buffer overflowed): the code in progress cannot be
    /// trusted and is dropped up to its terminator, and modifier keys are taken as released.
    pub fn events_lost(&mut self) {
        self.text.clear();
        self.discarding = true;
        self.left_shift = false;
        self.right_shift = false;
        self.commands = 0;
    }

    /// Whether part of a code has been typed.
    pub fn has_partial(&self) -> bool {
        !self.text.is_empty() || self.discarding
    }

    fn character(&self, code: u16) -> Option<char> {
        let shift = self.left_shift || self.right_shift;
        match us_layout(code)? {
            Key::Letter(c) if shift != self.caps_lock => Some(c.to_ascii_uppercase()),
            Key::Letter(c) => Some(c),
            Key::Symbol(plain, shifted) => Some(if shift { shifted } else { plain }),
            Key::Keypad(c) => Some(c),
        }
    }

    fn type_char(&mut self, c: char) {
        if self.discarding {
            return;
        }
        if self.text.len() >= MAX_CODE {
            tracing::debug!(
                limit = MAX_CODE,
                "keyboard-wedge scanner: dropping an over-long code"
            );
            self.text.clear();
            self.discarding = true;
        } else {
            self.text.push(c);
        }
    }

    fn finish(&mut self) -> Option<String> {
        if std::mem::take(&mut self.discarding) {
            self.text.clear();
            return None;
        }
        if self.text.trim().is_empty() {
            self.text.clear();
            return None;
        }
        Some(std::mem::take(&mut self.text))
    }
}

/// A keyboard-wedge scanner read from its input event device.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct HidScanner {
    path: PathBuf,
    file: File,
    /// A real device; otherwise (a recording in a file or FIFO) end of file ends the source.
    is_device: bool,
    decoder: KeyDecoder,
    /// Bytes of an incomplete event record, waiting for the rest.
    partial: Vec<u8>,
    ready: VecDeque<String>,
    stop: StopHandle,
    /// Set once the source has ended or failed; every later call reports it again.
    finished: Option<SourceError>,
}

impl fmt::Debug for HidScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HidScanner")
            .field("path", &self.path)
            .field("is_device", &self.is_device)
            .field("pending_codes", &self.ready.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl HidScanner {
    /// A handle that makes a blocked [`CodeSource::next_code`] return [`SourceError::Ended`].
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

#[cfg(not(target_os = "linux"))]
impl HidScanner {
    /// Keyboard-wedge scanners are read through Linux input devices; elsewhere this is
    /// always [`SourceError::Unavailable`].
    pub fn open(path: &Path) -> Result<HidScanner, SourceError> {
        Err(SourceError::Unavailable(format!(
            "keyboard-wedge scanner {}: only supported on Linux",
            path.display()
        )))
    }
}

#[cfg(not(target_os = "linux"))]
impl CodeSource for HidScanner {
    fn name(&self) -> String {
        format!("keyboard-wedge scanner {}", self.path.display())
    }

    fn stop_flag(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        Some(self.stop_handle().into())
    }

    fn next_code(&mut self) -> Result<String, SourceError> {
        Err(SourceError::Unavailable(
            "keyboard-wedge scanners are only supported on Linux".to_owned(),
        ))
    }
}

#[cfg(target_os = "linux")]
mod evdev {
    use std::mem::{offset_of, size_of};

    pub const EV_SYN: u16 = 0x00;
    pub const EV_KEY: u16 = 0x01;
    pub const SYN_DROPPED: u16 = 3;

    /// `EVIOCGRAB`, `_IOW('E', 0x90, int)` in linux/input.h.
    pub const EVIOCGRAB: libc::Ioctl = libc::_IOW::<libc::c_int>(b'E' as u32, 0x90);

    /// One `struct input_event` record (24 bytes on 64-bit Linux).
    pub const EVENT_SIZE: usize = size_of::<libc::input_event>();
    const TYPE_AT: usize = offset_of!(libc::input_event, type_);
    const CODE_AT: usize = offset_of!(libc::input_event, code);
    const VALUE_AT: usize = offset_of!(libc::input_event, value);

    /// (type, code, value) of one record; `record` is exactly [`EVENT_SIZE`] bytes.
    pub fn parse(record: &[u8]) -> Option<(u16, u16, i32)> {
        let u16_at = |at: usize| -> Option<u16> {
            Some(u16::from_ne_bytes(record.get(at..at + 2)?.try_into().ok()?))
        };
        let value = i32::from_ne_bytes(record.get(VALUE_AT..VALUE_AT + 4)?.try_into().ok()?);
        Some((u16_at(TYPE_AT)?, u16_at(CODE_AT)?, value))
    }
}

/// How long one wait for events lasts before the reader looks at the stop flag again.
#[cfg(target_os = "linux")]
const POLL_TIMEOUT_MS: libc::c_int = 100;

#[cfg(target_os = "linux")]
impl HidScanner {
    /// Opens the scanner's event device read-only and takes it exclusively, so its
    /// keystrokes reach no other reader (the touchscreen UI in particular).
    ///
    /// If the exclusive grab fails (another program holds it, or `path` is not an event
    /// device, such as a recording in a file or FIFO), a warning is logged and reading goes
    /// on. A path that cannot be opened is [`SourceError::Unavailable`].
    pub fn open(path: &Path) -> Result<HidScanner, SourceError> {
        use std::fs::OpenOptions;
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        use std::os::unix::io::AsRawFd;

        let file = OpenOptions::new()
            .read(true)
            // Non-blocking: a FIFO would otherwise block the open until a writer appears, and
            // reads wait in poll() so the stop flag is seen.
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| {
                SourceError::Unavailable(format!(
                    "cannot open keyboard-wedge scanner {}: {e}",
                    path.display()
                ))
            })?;
        let file_type = file.metadata().map(|m| m.file_type()).map_err(|e| {
            SourceError::Unavailable(format!(
                "cannot inspect keyboard-wedge scanner {}: {e}",
                path.display()
            ))
        })?;
        if file_type.is_dir() {
            return Err(SourceError::Unavailable(format!(
                "keyboard-wedge scanner {} is a directory, not an input device",
                path.display()
            )));
        }
        let is_device = file_type.is_char_device();

        // SAFETY: the descriptor is open for the whole call; EVIOCGRAB takes an int by value.
        let grabbed = unsafe { libc::ioctl(file.as_raw_fd(), evdev::EVIOCGRAB, 1 as libc::c_int) };
        if grabbed == 0 {
            tracing::info!(path = %path.display(), "keyboard-wedge scanner opened and grabbed");
        } else {
            let error = std::io::Error::last_os_error();
            if is_device
                && matches!(
                    error.raw_os_error(),
                    Some(libc::ENOTTY) | Some(libc::EINVAL)
                )
            {
                return Err(SourceError::Unavailable(format!(
                    "{} is not an input event device (use /dev/input/by-id/...-event-kbd)",
                    path.display()
                )));
            }
            tracing::warn!(
                path = %path.display(),
                %error,
                "could not take the keyboard-wedge scanner exclusively; \
                 its keystrokes may also reach the screen"
            );
        }
        // Closing the descriptor (on drop) releases the grab.
        Ok(HidScanner {
            path: path.to_owned(),
            file,
            is_device,
            decoder: KeyDecoder::new(),
            partial: Vec::new(),
            ready: VecDeque::new(),
            stop: StopHandle::new(),
            finished: None,
        })
    }

    fn finish(&mut self, error: SourceError) -> SourceError {
        if self.decoder.has_partial() {
            tracing::debug!(path = %self.path.display(), "keyboard-wedge scanner: partial code lost");
        }
        if let SourceError::Disconnected(why) = &error {
            tracing::warn!(path = %self.path.display(), "{why}");
        }
        self.finished = Some(error.clone());
        error
    }

    fn take_records(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let whole = self.partial.len() - self.partial.len() % evdev::EVENT_SIZE;
        for record in self.partial[..whole].chunks_exact(evdev::EVENT_SIZE) {
            let Some((kind, code, value)) = evdev::parse(record) else {
                continue;
            };
            match kind {
                evdev::EV_KEY => self.ready.extend(self.decoder.feed(code, value)),
                evdev::EV_SYN if code == evdev::SYN_DROPPED => {
                    tracing::warn!(
                        path = %self.path.display(),
                        "keyboard-wedge scanner: events lost, dropping the code being typed"
                    );
                    self.decoder.events_lost();
                }
                _ => {}
            }
        }
        self.partial.drain(..whole);
    }
}

#[cfg(target_os = "linux")]
impl CodeSource for HidScanner {
    fn name(&self) -> String {
        format!("keyboard-wedge scanner {}", self.path.display())
    }

    fn next_code(&mut self) -> Result<String, SourceError> {
        use std::io::{ErrorKind, Read};
        use std::os::unix::io::AsRawFd;

        let mut buf = [0u8; 64 * evdev::EVENT_SIZE];
        loop {
            if self.stop.is_stopped() {
                return Err(SourceError::Ended);
            }
            if let Some(code) = self.ready.pop_front() {
                return Ok(code);
            }
            if let Some(error) = &self.finished {
                return Err(error.clone());
            }

            let mut poll_fd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll_fd, 1, POLL_TIMEOUT_MS) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                let why = format!("keyboard-wedge scanner {}: {error}", self.path.display());
                return Err(self.finish(SourceError::Disconnected(why)));
            }
            if ready == 0 {
                continue;
            }
            if poll_fd.revents & libc::POLLNVAL != 0 {
                let why = format!(
                    "keyboard-wedge scanner {}: descriptor no longer valid",
                    self.path.display()
                );
                return Err(self.finish(SourceError::Disconnected(why)));
            }
            // Readable, or an error / hang-up: the read tells which.
            match self.file.read(&mut buf) {
                Ok(0) => {
                    let error = if self.is_device {
                        SourceError::Disconnected(format!(
                            "keyboard-wedge scanner {} stopped sending events",
                            self.path.display()
                        ))
                    } else {
                        SourceError::Ended
                    };
                    return Err(self.finish(error));
                }
                Ok(n) => self.take_records(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(e) => {
                    // ENODEV (unplugged), EIO, ...: retrying would only spin.
                    let why = format!(
                        "keyboard-wedge scanner {} disconnected: {e}",
                        self.path.display()
                    );
                    return Err(self.finish(SourceError::Disconnected(why)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Presses and releases a key, as a scanner does.
    fn tap(decoder: &mut KeyDecoder, code: u16) -> Option<String> {
        let done = decoder.feed(code, 1);
        assert_eq!(decoder.feed(code, 0), None);
        done
    }

    fn shifted(decoder: &mut KeyDecoder, shift: u16, code: u16) -> Option<String> {
        assert_eq!(decoder.feed(shift, 1), None);
        let done = tap(decoder, code);
        assert_eq!(decoder.feed(shift, 0), None);
        done
    }

    /// Types `text` with the key sequence a US keyboard would need, then Enter.
    fn type_line(decoder: &mut KeyDecoder, text: &str) -> Option<String> {
        for c in text.chars() {
            let (code, shift) = key_for(c).unwrap_or_else(|| panic!("no key for {c:?}"));
            let done = if shift {
                shifted(decoder, KEY_LEFTSHIFT, code)
            } else {
                tap(decoder, code)
            };
            assert_eq!(done, None);
        }
        tap(decoder, KEY_ENTER)
    }

    /// The reverse of the layout, for tests: which key (and Shift) types `c`.
    fn key_for(c: char) -> Option<(u16, bool)> {
        (0..=255u16).find_map(|code| match us_layout(code)? {
            Key::Letter(l) if l == c => Some((code, false)),
            Key::Letter(l) if l.to_ascii_uppercase() == c => Some((code, true)),
            Key::Symbol(plain, _) if plain == c => Some((code, false)),
            Key::Symbol(_, upper) if upper == c => Some((code, true)),
            _ => None,
        })
    }

    #[test]
    fn letters_digits_and_shift() {
        let mut d = KeyDecoder::new();
        assert_eq!(tap(&mut d, KEY_A), None);
        assert_eq!(shifted(&mut d, KEY_LEFTSHIFT, KEY_B), None);
        assert_eq!(shifted(&mut d, KEY_RIGHTSHIFT, KEY_C), None);
        assert_eq!(tap(&mut d, KEY_1), None);
        assert_eq!(tap(&mut d, KEY_0), None);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("aBC10".to_owned()));
    }

    #[test]
    fn every_character_of_an_invite_or_url() {
        let text = "LK1:ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz_0123456789\
                    :/.-_=+?&%#@!$*(),;'\"[]{}<>\\|~^` x";
        let mut d = KeyDecoder::new();
        assert_eq!(type_line(&mut d, text), Some(text.to_owned()));
    }

    #[test]
    fn a_url_with_both_shift_keys() {
        let mut d = KeyDecoder::new();
        let url = "https://visit.example/i?t=AbC_9%2F&k=1#Z";
        assert_eq!(type_line(&mut d, url), Some(url.to_owned()));
    }

    #[test]
    fn caps_lock_inverts_letters_only() {
        let mut d = KeyDecoder::new();
        tap(&mut d, KEY_CAPSLOCK);
        tap(&mut d, KEY_A);
        shifted(&mut d, KEY_LEFTSHIFT, KEY_B);
        tap(&mut d, KEY_1);
        shifted(&mut d, KEY_LEFTSHIFT, KEY_1);
        tap(&mut d, KEY_SEMICOLON);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("Ab1!;".to_owned()));
        tap(&mut d, KEY_CAPSLOCK);
        tap(&mut d, KEY_A);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("a".to_owned()));
    }

    #[test]
    fn caps_lock_autorepeat_does_not_toggle_again() {
        let mut d = KeyDecoder::new();
        d.feed(KEY_CAPSLOCK, 1);
        d.feed(KEY_CAPSLOCK, 2);
        d.feed(KEY_CAPSLOCK, 2);
        d.feed(KEY_CAPSLOCK, 0);
        tap(&mut d, KEY_Q);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("Q".to_owned()));
    }

    #[test]
    fn autorepeat_and_releases_type_nothing() {
        let mut d = KeyDecoder::new();
        d.feed(KEY_X, 1);
        d.feed(KEY_X, 2);
        d.feed(KEY_X, 2);
        d.feed(KEY_X, 0);
        d.feed(KEY_Y, 0);
        assert_eq!(d.feed(KEY_ENTER, 2), None);
        assert_eq!(d.feed(KEY_ENTER, 0), None);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("x".to_owned()));
    }

    #[test]
    fn shift_held_through_autorepeat_stays_held() {
        let mut d = KeyDecoder::new();
        d.feed(KEY_LEFTSHIFT, 1);
        d.feed(KEY_LEFTSHIFT, 2);
        tap(&mut d, KEY_M);
        d.feed(KEY_LEFTSHIFT, 0);
        tap(&mut d, KEY_M);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("Mm".to_owned()));
    }

    #[test]
    fn one_shift_released_while_the_other_is_held() {
        let mut d = KeyDecoder::new();
        d.feed(KEY_LEFTSHIFT, 1);
        d.feed(KEY_RIGHTSHIFT, 1);
        d.feed(KEY_LEFTSHIFT, 0);
        tap(&mut d, KEY_K);
        d.feed(KEY_RIGHTSHIFT, 0);
        tap(&mut d, KEY_K);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("Kk".to_owned()));
    }

    #[test]
    fn enter_keypad_enter_and_tab_end_a_code() {
        let mut d = KeyDecoder::new();
        tap(&mut d, KEY_A);
        assert_eq!(tap(&mut d, KEY_KPENTER), Some("a".to_owned()));
        tap(&mut d, KEY_B);
        assert_eq!(tap(&mut d, KEY_TAB), Some("b".to_owned()));
        tap(&mut d, KEY_C);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("c".to_owned()));
    }

    #[test]
    fn empty_codes_are_ignored() {
        let mut d = KeyDecoder::new();
        assert_eq!(tap(&mut d, KEY_ENTER), None);
        assert_eq!(tap(&mut d, KEY_TAB), None);
        tap(&mut d, KEY_SPACE);
        assert_eq!(tap(&mut d, KEY_ENTER), None);
        // Tab after a code's Enter (a scanner with both suffixes) gives nothing extra.
        tap(&mut d, KEY_Z);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("z".to_owned()));
        assert_eq!(tap(&mut d, KEY_TAB), None);
    }

    #[test]
    fn keypad_keys_type_their_digits() {
        let mut d = KeyDecoder::new();
        for code in [KEY_KP1, KEY_KP2, KEY_KPDOT, KEY_KP0, KEY_KPMINUS, KEY_KP9] {
            tap(&mut d, code);
        }
        assert_eq!(tap(&mut d, KEY_KPENTER), Some("12.0-9".to_owned()));
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let mut d = KeyDecoder::new();
        tap(&mut d, KEY_A);
        for code in [0, 1, 14, 59, 69, 103, 0x2ff, u16::MAX] {
            assert_eq!(tap(&mut d, code), None);
        }
        tap(&mut d, KEY_B);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("ab".to_owned()));
    }

    #[test]
    fn characters_typed_with_ctrl_alt_or_meta_are_ignored() {
        let mut d = KeyDecoder::new();
        tap(&mut d, KEY_A);
        for modifier in [
            KEY_LEFTCTRL,
            KEY_RIGHTCTRL,
            KEY_LEFTALT,
            KEY_RIGHTALT,
            KEY_LEFTMETA,
            KEY_RIGHTMETA,
        ] {
            d.feed(modifier, 1);
            tap(&mut d, KEY_J);
            tap(&mut d, KEY_KP5);
            d.feed(modifier, 0);
        }
        tap(&mut d, KEY_B);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("ab".to_owned()));
    }

    #[test]
    fn an_over_long_code_is_dropped_up_to_its_terminator() {
        let mut d = KeyDecoder::new();
        for _ in 0..MAX_CODE {
            tap(&mut d, KEY_1);
        }
        assert_eq!(tap(&mut d, KEY_ENTER).map(|c| c.len()), Some(MAX_CODE));
        for _ in 0..=MAX_CODE + 10 {
            tap(&mut d, KEY_1);
        }
        assert_eq!(tap(&mut d, KEY_ENTER), None);
        tap(&mut d, KEY_0);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("0".to_owned()));
    }

    #[test]
    fn lost_events_drop_the_code_in_progress() {
        let mut d = KeyDecoder::new();
        d.feed(KEY_LEFTSHIFT, 1);
        tap(&mut d, KEY_A);
        d.events_lost();
        assert!(d.has_partial());
        // The shift release was lost with the rest; the tail must not come out as a code.
        tap(&mut d, KEY_B);
        assert_eq!(tap(&mut d, KEY_ENTER), None);
        tap(&mut d, KEY_C);
        assert_eq!(tap(&mut d, KEY_ENTER), Some("c".to_owned()));
    }

    #[test]
    fn random_events_never_panic() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut d = KeyDecoder::new();
        for _ in 0..100_000 {
            let code = rng.u16(0..130);
            let value = rng.i32(-1..4);
            if let Some(text) = d.feed(code, value) {
                assert!(!text.is_empty());
                assert!(text.chars().count() <= MAX_CODE);
                assert!(!text.contains(['\n', '\t', '\r']));
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn event_records_have_the_kernel_layout() {
        // 64-bit Linux: 16-byte timeval, u16 type, u16 code, i32 value.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(evdev::EVENT_SIZE, 24);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(evdev::EVIOCGRAB, 0x4004_4590);
        let mut record = vec![0u8; evdev::EVENT_SIZE];
        let tail = evdev::EVENT_SIZE - 8;
        record[tail..tail + 2].copy_from_slice(&evdev::EV_KEY.to_ne_bytes());
        record[tail + 2..tail + 4].copy_from_slice(&KEY_ENTER.to_ne_bytes());
        record[tail + 4..].copy_from_slice(&(-7i32).to_ne_bytes());
        assert_eq!(evdev::parse(&record), Some((evdev::EV_KEY, KEY_ENTER, -7)));
        assert_eq!(evdev::parse(&record[..3]), None);
    }
}
