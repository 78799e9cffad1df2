//! ESC/POS real-time status: the `DLE EOT n` requests and what the printer answers.
//!
//! A printer answers each `DLE EOT n` (0x10 0x04 n) with one byte, even while it is offline or
//! busy printing. Every answer has fixed bits (bit 1 and bit 4 set, bits 0 and 7 clear), which
//! tells a status byte from stray data; an answer without them is refused. The kiosk asks for:
//!
//! | n | answer            | bits used                                                     |
//! |---|-------------------|---------------------------------------------------------------|
//! | 1 | printer status    | 3: offline                                                    |
//! | 2 | offline cause     | 2: cover open, 5: printing stopped at paper end, 6: error     |
//! | 4 | roll paper sensor | 2-3: paper near end, 5-6: paper end (no paper)                |
//!
//! The reference gives bits 2-3 and 5-6 of n=4 as pairs that are both set or both clear;
//! some printers set only one of each pair, so either bit counts.
//!
//! Pure: no I/O here. [`PrinterProblem`] carries the words shown to visitors and to staff.

use std::fmt;

use crate::config::Lang;

/// DLE, the first byte of a real-time command.
pub const DLE: u8 = 0x10;
/// EOT, the second byte of a real-time status request.
pub const EOT: u8 = 0x04;

/// `n` of the printer status request (online or offline).
pub const PRINTER_STATUS: u8 = 1;
/// `n` of the offline cause request (cover, paper end stop, error).
pub const OFFLINE_CAUSE: u8 = 2;
/// `n` of the error cause request (cutter, unrecoverable, auto-recoverable errors).
pub const ERROR_CAUSE: u8 = 3;
/// `n` of the roll paper sensor request (near end, paper end).
pub const ROLL_PAPER: u8 = 4;

/// The requests whose answers make a [`PrinterStatus`], in the order they are sent.
pub const STATUS_REQUESTS: [u8; 3] = [PRINTER_STATUS, OFFLINE_CAUSE, ROLL_PAPER];

/// Bits every status answer has set.
const FIXED_ON: u8 = 0x12;
/// Bits every status answer has clear.
const FIXED_OFF: u8 = 0x81;

const OFFLINE: u8 = 0x08;
const COVER_OPEN: u8 = 0x04;
const PAPER_END_STOP: u8 = 0x20;
const ERROR: u8 = 0x40;
const NEAR_END: u8 = 0x0C;
const PAPER_END: u8 = 0x60;

/// The bytes of `DLE EOT n`.
pub fn status_request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

/// Why a status answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The byte lacks the fixed bits of a status answer: it is not one.
    #[error("the printer's answer {byte:#04x} to status request {n} is not a status byte")]
    Malformed { n: u8, byte: u8 },
    /// Only n = 1 to 4 are status requests with a one-byte answer.
    #[error("{0} is not a real-time status request (1 to 4)")]
    UnknownRequest(u8),
}

/// Checks that `byte` is a well-formed answer to `DLE EOT n` and returns it.
pub fn check_answer(n: u8, byte: u8) -> Result<u8, StatusError> {
    if !(1..=4).contains(&n) {
        return Err(StatusError::UnknownRequest(n));
    }
    if byte & FIXED_ON != FIXED_ON || byte & FIXED_OFF != 0 {
        return Err(StatusError::Malformed { n, byte });
    }
    Ok(byte)
}

/// What the printer reported about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    /// Ready to print (n=1, bit 3 clear).
    pub online: bool,
    /// The paper cover is open (n=2, bit 2).
    pub cover_open: bool,
    /// No paper: printing stopped at paper end (n=2, bit 5) or the roll sensor sees no paper
    /// (n=4, bits 5-6).
    pub paper_out: bool,
    /// The roll is nearly used up (n=4, bits 2-3); printing still works.
    pub paper_near_end: bool,
    /// A cutter, head or other error stopped the printer (n=2, bit 6).
    pub error: bool,
}

impl PrinterStatus {
    /// A printer that is online with paper and nothing wrong.
    pub const READY: PrinterStatus = PrinterStatus {
        online: true,
        cover_open: false,
        paper_out: false,
        paper_near_end: false,
        error: false,
    };

    /// Reads the answers to `DLE EOT 1`, `DLE EOT 2` and `DLE EOT 4`.
    pub fn from_answers(
        printer: u8,
        offline_cause: u8,
        roll_paper: u8,
    ) -> Result<PrinterStatus, StatusError> {
        let printer = check_answer(PRINTER_STATUS, printer)?;
        let offline_cause = check_answer(OFFLINE_CAUSE, offline_cause)?;
        let roll_paper = check_answer(ROLL_PAPER, roll_paper)?;
        Ok(PrinterStatus {
            online: printer & OFFLINE == 0,
            cover_open: offline_cause & COVER_OPEN != 0,
            paper_out: offline_cause & PAPER_END_STOP != 0 || roll_paper & PAPER_END != 0,
            paper_near_end: roll_paper & NEAR_END != 0,
            error: offline_cause & ERROR != 0,
        })
    }

    /// What keeps the printer from printing a badge now, the most specific cause first: an
    /// open cover also makes the printer offline and often hides the paper from its sensor.
    /// A roll near its end is not a problem yet.
    pub fn problem(&self) -> Option<PrinterProblem> {
        if self.cover_open {
            Some(PrinterProblem::CoverOpen)
        } else if self.paper_out {
            Some(PrinterProblem::PaperOut)
        } else if self.error {
            Some(PrinterProblem::Error)
        } else if !self.online {
            Some(PrinterProblem::Offline)
        } else {
            None
        }
    }
}

/// Why a badge could not be printed, for the visitor's screen and the staff screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterProblem {
    /// The printer says it is offline and gives no more specific cause.
    Offline,
    CoverOpen,
    PaperOut,
    /// A cutter, head or other error.
    Error,
    /// The printer could not be reached or did not answer; the text says how.
    Unreachable(String),
}

const UNREACHABLE_PREFIX: &str = "printer unreachable: ";

impl fmt::Display for PrinterProblem {
    /// A short reason, stored as the print job's last error; [`PrinterProblem::from_error_text`]
    /// reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterProblem::Offline => f.write_str("printer offline"),
            PrinterProblem::CoverOpen => f.write_str("printer cover open"),
            PrinterProblem::PaperOut => f.write_str("printer out of paper"),
            PrinterProblem::Error => f.write_str("printer error"),
            PrinterProblem::Unreachable(how) => write!(f, "{UNREACHABLE_PREFIX}{how}"),
        }
    }
}

impl PrinterProblem {
    /// A stable identifier for logs and screens: `offline`, `cover_open`, `paper_out`, `error`
    /// or `unreachable`.
    pub fn code(&self) -> &'static str {
        match self {
            PrinterProblem::Offline => "offline",
            PrinterProblem::CoverOpen => "cover_open",
            PrinterProblem::PaperOut => "paper_out",
            PrinterProblem::Error => "error",
            PrinterProblem::Unreachable(_) => "unreachable",
        }
    }

    /// The problem a print job's stored last error describes, when it is one of ours.
    pub fn from_error_text(text: &str) -> Option<PrinterProblem> {
        match text {
            "printer offline" => Some(PrinterProblem::Offline),
            "printer cover open" => Some(PrinterProblem::CoverOpen),
            "printer out of paper" => Some(PrinterProblem::PaperOut),
            "printer error" => Some(PrinterProblem::Error),
            other => other
                .strip_prefix(UNREACHABLE_PREFIX)
                .map(|how| PrinterProblem::Unreachable(how.to_owned())),
        }
    }

    /// What the visitor reads: plain words, and where to get the badge instead.
    pub fn visitor_message(&self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, PrinterProblem::PaperOut) => {
                "The badge printer is out of paper. Please collect your badge at the reception desk."
            }
            (Lang::En, PrinterProblem::CoverOpen) => {
                "The badge printer's cover is open. Please collect your badge at the reception desk."
            }
            (Lang::En, PrinterProblem::Offline) => {
                "The badge printer is not ready. Please collect your badge at the reception desk."
            }
            (Lang::En, PrinterProblem::Error) => {
                "The badge printer has a fault. Please collect your badge at the reception desk."
            }
            (Lang::En, PrinterProblem::Unreachable(_)) => {
                "The badge printer is not available. Please collect your badge at the reception desk."
            }
            (Lang::ZhCn, PrinterProblem::PaperOut) => "打印机缺纸，请到前台领取访客凭条。",
            (Lang::ZhCn, PrinterProblem::CoverOpen) => "打印机盖未关好，请到前台领取访客凭条。",
            (Lang::ZhCn, PrinterProblem::Offline) => "打印机未就绪，请到前台领取访客凭条。",
            (Lang::ZhCn, PrinterProblem::Error) => "打印机故障，请到前台领取访客凭条。",
            (Lang::ZhCn, PrinterProblem::Unreachable(_)) => {
                "打印机无法连接，请到前台领取访客凭条。"
            }
        }
    }

    /// What a member of staff should do about it.
    pub fn staff_message(&self) -> String {
        match self {
            PrinterProblem::PaperOut => {
                "The badge printer is out of paper. Open the cover, load a \
                 new roll of thermal paper with the loose end coming out under the cutter, close \
                 the cover, then retry the failed badges."
                    .to_owned()
            }
            PrinterProblem::CoverOpen => {
                "The badge printer's cover is open. Close it firmly until \
                 it clicks, then retry the failed badges."
                    .to_owned()
            }
            PrinterProblem::Offline => "The badge printer is offline. Check that it is switched \
                 on, that the cover is closed and that no button is held down, then retry the \
                 failed badges."
                .to_owned(),
            PrinterProblem::Error => "The badge printer reports an error (paper jam, cutter or an \
                 overheated print head). Switch it off, clear any jammed paper, let it cool for a \
                 minute, switch it on again, then retry the failed badges."
                .to_owned(),
            PrinterProblem::Unreachable(how) => format!(
                "The badge printer cannot be reached ({how}). Check that it is switched on, that \
                 its USB, serial or network cable is plugged in and that printer.device in \
                 kiosk.toml names it, then retry the failed badges."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers of a printer with nothing to report.
    const IDLE: u8 = 0x12;

    fn status(printer: u8, offline_cause: u8, roll_paper: u8) -> PrinterStatus {
        match PrinterStatus::from_answers(printer, offline_cause, roll_paper) {
            Ok(s) => s,
            Err(e) => panic!("answers refused: {e}"),
        }
    }

    #[test]
    fn request_bytes_are_dle_eot_n() {
        assert_eq!(status_request(1), [0x10, 0x04, 0x01]);
        assert_eq!(status_request(ROLL_PAPER), [0x10, 0x04, 0x04]);
        assert_eq!(STATUS_REQUESTS, [1, 2, 4]);
    }

    #[test]
    fn an_idle_printer_is_ready() {
        assert_eq!(status(IDLE, IDLE, IDLE), PrinterStatus::READY);
        assert_eq!(PrinterStatus::READY.problem(), None);
    }

    #[test]
    fn printer_status_bit_3_is_offline() {
        let s = status(IDLE | 0x08, IDLE, IDLE);
        assert!(!s.online);
        assert_eq!(s.problem(), Some(PrinterProblem::Offline));
    }

    #[test]
    fn printer_status_bits_without_meaning_here_are_ignored() {
        // Bit 2 drawer pin, bit 5 waiting for recovery, bit 6 feed button.
        for bit in [0x04, 0x20, 0x40] {
            assert_eq!(
                status(IDLE | bit, IDLE, IDLE),
                PrinterStatus::READY,
                "bit {bit:#x}"
            );
        }
    }

    #[test]
    fn offline_cause_bit_2_is_cover_open() {
        let s = status(IDLE | 0x08, IDLE | 0x04, IDLE);
        assert!(s.cover_open && !s.paper_out && !s.error);
        assert_eq!(s.problem(), Some(PrinterProblem::CoverOpen));
    }

    #[test]
    fn offline_cause_bit_5_is_paper_out() {
        let s = status(IDLE | 0x08, IDLE | 0x20, IDLE);
        assert!(s.paper_out && !s.cover_open && !s.error);
        assert_eq!(s.problem(), Some(PrinterProblem::PaperOut));
    }

    #[test]
    fn offline_cause_bit_6_is_error() {
        let s = status(IDLE | 0x08, IDLE | 0x40, IDLE);
        assert!(s.error && !s.paper_out && !s.cover_open);
        assert_eq!(s.problem(), Some(PrinterProblem::Error));
    }

    #[test]
    fn offline_cause_bit_3_feed_button_is_ignored() {
        assert_eq!(status(IDLE, IDLE | 0x08, IDLE), PrinterStatus::READY);
    }

    #[test]
    fn roll_paper_bits_2_and_3_are_near_end_and_not_a_problem() {
        for bits in [0x0C, 0x04, 0x08] {
            let s = status(IDLE, IDLE, IDLE | bits);
            assert!(s.paper_near_end, "bits {bits:#x}");
            assert!(!s.paper_out);
            assert_eq!(s.problem(), None);
        }
    }

    #[test]
    fn roll_paper_bits_5_and_6_are_paper_out() {
        for bits in [0x60, 0x20, 0x40] {
            let s = status(IDLE, IDLE, IDLE | bits);
            assert!(s.paper_out, "bits {bits:#x}");
            assert_eq!(s.problem(), Some(PrinterProblem::PaperOut));
        }
    }

    #[test]
    fn a_printer_stopped_at_paper_end_reports_everything() {
        // Offline, stopped at paper end, roll near end and empty: 0x1A 0x32 0x7E.
        let s = status(0x1A, 0x32, 0x7E);
        assert!(!s.online && s.paper_out && s.paper_near_end && !s.cover_open && !s.error);
        assert_eq!(s.problem(), Some(PrinterProblem::PaperOut));
    }

    #[test]
    fn cover_open_wins_over_paper_out_and_error_wins_over_offline() {
        let s = status(0x1A, IDLE | 0x04 | 0x20 | 0x40, 0x7E);
        assert_eq!(s.problem(), Some(PrinterProblem::CoverOpen));
        let s = status(0x1A, IDLE | 0x20 | 0x40, IDLE);
        assert_eq!(s.problem(), Some(PrinterProblem::PaperOut));
        let s = status(0x1A, IDLE | 0x40, IDLE);
        assert_eq!(s.problem(), Some(PrinterProblem::Error));
    }

    #[test]
    fn fixed_bits_are_checked_on_every_answer() {
        // Bit 1 clear, bit 4 clear, bit 0 set, bit 7 set.
        for bad in [0x10, 0x02, 0x13, 0x92, 0x00, 0xFF] {
            for n in [1, 2, 3, 4] {
                assert_eq!(
                    check_answer(n, bad),
                    Err(StatusError::Malformed { n, byte: bad }),
                    "n={n} byte={bad:#x}"
                );
            }
            assert!(PrinterStatus::from_answers(bad, IDLE, IDLE).is_err());
            assert!(PrinterStatus::from_answers(IDLE, bad, IDLE).is_err());
            assert!(PrinterStatus::from_answers(IDLE, IDLE, bad).is_err());
        }
        assert_eq!(check_answer(3, IDLE), Ok(IDLE));
    }

    #[test]
    fn only_n_1_to_4_are_status_requests() {
        assert_eq!(check_answer(0, IDLE), Err(StatusError::UnknownRequest(0)));
        assert_eq!(check_answer(5, IDLE), Err(StatusError::UnknownRequest(5)));
    }

    #[test]
    fn a_malformed_answer_names_the_request_and_the_byte() {
        let e = check_answer(2, 0x00).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the printer's answer 0x00 to status request 2 is not a status byte"
        );
    }

    #[test]
    fn every_problem_has_both_messages_in_both_languages() {
        let all = [
            PrinterProblem::Offline,
            PrinterProblem::CoverOpen,
            PrinterProblem::PaperOut,
            PrinterProblem::Error,
            PrinterProblem::Unreachable("connection refused".into()),
        ];
        for p in &all {
            let en = p.visitor_message(Lang::En);
            let zh = p.visitor_message(Lang::ZhCn);
            assert!(en.contains("reception desk"), "{en}");
            assert!(zh.contains("前台"), "{zh}");
            assert!(!p.staff_message().is_empty());
        }
        assert_eq!(
            PrinterProblem::PaperOut.visitor_message(Lang::En),
            "The badge printer is out of paper. Please collect your badge at the reception desk."
        );
        assert_eq!(
            PrinterProblem::PaperOut.visitor_message(Lang::ZhCn),
            "打印机缺纸，请到前台领取访客凭条。"
        );
        assert!(PrinterProblem::PaperOut.staff_message().contains("roll"));
        assert!(PrinterProblem::Unreachable("connection refused".into())
            .staff_message()
            .contains("connection refused"));
    }

    #[test]
    fn the_stored_text_reads_back_as_the_same_problem() {
        let all = [
            PrinterProblem::Offline,
            PrinterProblem::CoverOpen,
            PrinterProblem::PaperOut,
            PrinterProblem::Error,
            PrinterProblem::Unreachable("cannot connect to 10.0.0.9:9100".into()),
        ];
        for p in all {
            assert_eq!(PrinterProblem::from_error_text(&p.to_string()), Some(p));
        }
        assert_eq!(PrinterProblem::from_error_text("badge layout failed"), None);
        assert!(PrinterProblem::PaperOut.to_string().contains("paper"));
        assert_eq!(PrinterProblem::PaperOut.code(), "paper_out");
    }
}
