//! The print queue: jobs from the store, printed oldest first.
//!
//! [`PrintQueue`] owns its own [`Store`] connection, a [`PrintTarget`] (a [`Printer`] or the
//! preview directory) and a [`BadgeSource`] that turns a job into ESC/POS bytes, so it can run
//! on a worker thread of its own ([`PrintWorker`]) beside the screen's store connection.
//!
//! * [`PrintQueue::print_queued`] prints the jobs waiting for their first attempt; this is what
//!   runs after every check-in.
//! * [`PrintQueue::retry_failed`] also prints the jobs that failed before, on staff request
//!   (after loading paper, closing the cover, ...).
//!
//! Each attempt ends in [`Store::finish_print_job`]: a printed badge becomes the visit's
//! `badge_printed` event, a failed one keeps its job in the queue with the reason as its last
//! error. The visit itself is never changed by a failure. Once the printer reports a problem
//! the rest of the pass is left waiting ([`PrintOutcome::Deferred`]) rather than sent into a
//! printer that cannot print.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use uuid::Uuid;

use crate::config::{Config, Lang, PrinterConfig, PrinterTransport};
use crate::domain::Timestamp;
use crate::store::{PrintJob, Store, StoreError, VisitRecord};

use super::escpos::{self, PrinterProfile};
use super::layout::{self, BadgeInput, BadgeTemplate, Paper};
use super::render::{self, RenderOptions, TextEncoding};
use super::status::{PrinterProblem, PrinterStatus};
use super::transport::{PrintError, Printer};

/// What a [`BadgeSource`] gets to build one job.
pub struct JobContext<'a> {
    pub job: &'a PrintJob,
    /// The job's visit; `None` for a job that belongs to no visit (the roster).
    pub visit: Option<&'a VisitRecord>,
    /// The queue's store, for jobs that need more than their visit.
    pub store: &'a Store,
    /// The time of this attempt.
    pub now: Timestamp,
}

/// Turns a print job into the ESC/POS bytes to send. An error means the job cannot be printed
/// at all (not a printer problem); its text is kept as the job's last error.
pub trait BadgeSource: Send {
    fn escpos(&mut self, ctx: &JobContext<'_>) -> Result<Vec<u8>, String>;
}

impl<F> BadgeSource for F
where
    F: FnMut(&JobContext<'_>) -> Result<Vec<u8>, String> + Send,
{
    fn escpos(&mut self, ctx: &JobContext<'_>) -> Result<Vec<u8>, String> {
        self(ctx)
    }
}

/// The kiosk's own slips: badges laid out from `[site]`, `[badge]` and `[printer]`, and the
/// evacuation roster.
pub struct ConfiguredBadges {
    config: Config,
    lang: Lang,
    template: BadgeTemplate,
    profile: PrinterProfile,
}

impl ConfiguredBadges {
    /// Badges whose bilingual labels put `lang` first.
    pub fn new(config: &Config, lang: Lang) -> ConfiguredBadges {
        ConfiguredBadges {
            config: config.clone(),
            lang,
            template: BadgeTemplate::from_config(config),
            profile: PrinterProfile::from_config(&config.printer),
        }
    }
}

impl BadgeSource for ConfiguredBadges {
    fn escpos(&mut self, ctx: &JobContext<'_>) -> Result<Vec<u8>, String> {
        match ctx.job.kind.as_str() {
            "badge" => {
                let visit = ctx
                    .visit
                    .ok_or_else(|| format!("badge job {} belongs to no visit", ctx.job.id))?;
                let input = BadgeInput::from_visit(visit, &self.config, self.lang)
                    .map_err(|e| e.to_string())?;
                let badge = layout::badge(&input, &self.template);
                escpos::encode(&badge, &self.profile).map_err(|e| e.to_string())
            }
            "roster" => {
                let entries = ctx.store.roster().map_err(|e| e.to_string())?;
                escpos::encode_roster(
                    &entries,
                    &self.config.site.name,
                    ctx.now,
                    self.config.timezone(),
                    &self.profile,
                )
                .map_err(|e| e.to_string())
            }
            other => Err(format!("unknown kind of print job {other:?}")),
        }
    }
}

/// Draws ESC/POS bytes as a PNG, for the preview printer.
pub trait SlipRenderer: Send {
    fn png(&mut self, escpos: &[u8]) -> Result<Vec<u8>, String>;
}

impl<F> SlipRenderer for F
where
    F: FnMut(&[u8]) -> Result<Vec<u8>, String> + Send,
{
    fn png(&mut self, escpos: &[u8]) -> Result<Vec<u8>, String> {
        self(escpos)
    }
}

/// The preview printer's renderer: draws the bytes as the configured printer would print them.
pub struct RenderedPreview {
    opts: RenderOptions,
}

impl RenderedPreview {
    /// Paper as wide as `printer.paper_width_mm`, with a Chinese font.
    pub fn for_printer(config: &PrinterConfig) -> RenderedPreview {
        RenderedPreview::new(RenderOptions {
            paper_dots: Paper::from_mm(config.paper_width_mm).dots(),
            chinese_encoding: TextEncoding::Gb18030,
        })
    }

    pub fn new(opts: RenderOptions) -> RenderedPreview {
        RenderedPreview { opts }
    }
}

impl SlipRenderer for RenderedPreview {
    fn png(&mut self, escpos: &[u8]) -> Result<Vec<u8>, String> {
        let slip = render::render(escpos, &self.opts).map_err(|e| e.to_string())?;
        render::to_png(&slip.image).map_err(|e| e.to_string())
    }
}

/// Where printed jobs go.
pub enum PrintTarget {
    /// A real printer.
    Printer(Printer),
    /// No printer: each job is drawn into `dir` as `badge-<visit number>-<job id>.png`
    /// (`<kind>-<job id>.png` for a job without a visit).
    Preview {
        dir: PathBuf,
        renderer: Box<dyn SlipRenderer>,
    },
}

impl PrintTarget {
    /// The configured printer, or for `transport = "preview"` the rendered preview written
    /// into `preview_dir`. A relative printer file path resolves against the configuration
    /// file's directory.
    pub fn from_config(config: &Config, preview_dir: &Path) -> PrintTarget {
        if config.printer.transport == PrinterTransport::Preview {
            return PrintTarget::preview(
                preview_dir,
                RenderedPreview::for_printer(&config.printer),
            );
        }
        let base = config
            .config_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        PrintTarget::Printer(Printer::new(&config.printer, &base))
    }

    /// The preview printer writing into `dir`.
    pub fn preview(dir: &Path, renderer: impl SlipRenderer + 'static) -> PrintTarget {
        PrintTarget::Preview {
            dir: dir.to_path_buf(),
            renderer: Box::new(renderer),
        }
    }
}

/// Where a printed job went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent to the printer; its status after the job, when it reports one.
    Printer { status_after: Option<PrinterStatus> },
    /// Drawn into this PNG file.
    Preview { png: PathBuf },
}

/// What happened to one job in a pass of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    Printed {
        job_id: i64,
        visit_id: Option<Uuid>,
        delivery: Delivery,
    },
    /// The printer could not print it; the job stays queued for a retry.
    Failed {
        job_id: i64,
        visit_id: Option<Uuid>,
        problem: PrinterProblem,
    },
    /// The slip could not be made (not a printer problem); the job stays queued.
    BadgeFailed {
        job_id: i64,
        visit_id: Option<Uuid>,
        reason: String,
    },
    /// Not attempted because an earlier job of the pass met this problem; unchanged in the
    /// store.
    Deferred {
        job_id: i64,
        visit_id: Option<Uuid>,
        problem: PrinterProblem,
    },
}

impl PrintOutcome {
    pub fn job_id(&self) -> i64 {
        match self {
            PrintOutcome::Printed { job_id, .. }
            | PrintOutcome::Failed { job_id, .. }
            | PrintOutcome::BadgeFailed { job_id, .. }
            | PrintOutcome::Deferred { job_id, .. } => *job_id,
        }
    }

    pub fn visit_id(&self) -> Option<Uuid> {
        match self {
            PrintOutcome::Printed { visit_id, .. }
            | PrintOutcome::Failed { visit_id, .. }
            | PrintOutcome::BadgeFailed { visit_id, .. }
            | PrintOutcome::Deferred { visit_id, .. } => *visit_id,
        }
    }

    pub fn is_printed(&self) -> bool {
        matches!(self, PrintOutcome::Printed { .. })
    }

    /// The printer problem to show, if that is why the job did not print.
    pub fn problem(&self) -> Option<&PrinterProblem> {
        match self {
            PrintOutcome::Failed { problem, .. } | PrintOutcome::Deferred { problem, .. } => {
                Some(problem)
            }
            _ => None,
        }
    }
}

/// Why one job did not print.
enum Failure {
    Printer(PrinterProblem),
    Badge(String),
}

/// The print queue; see the module documentation.
pub struct PrintQueue {
    store: Store,
    target: PrintTarget,
    source: Box<dyn BadgeSource>,
    clock: Box<dyn Fn() -> Timestamp + Send>,
}

impl PrintQueue {
    /// A queue working on `store`.
    pub fn new(
        store: Store,
        target: PrintTarget,
        source: impl BadgeSource + 'static,
    ) -> PrintQueue {
        PrintQueue {
            store,
            target,
            source: Box::new(source),
            clock: Box::new(chrono::Utc::now),
        }
    }

    /// A queue with its own connection to the store in `data_dir`.
    pub fn open(
        data_dir: &Path,
        target: PrintTarget,
        source: impl BadgeSource + 'static,
    ) -> Result<PrintQueue, StoreError> {
        Ok(PrintQueue::new(Store::open_in(data_dir)?, target, source))
    }

    /// Replaces the clock that dates print attempts.
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + 'static) -> PrintQueue {
        self.clock = Box::new(clock);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn target_mut(&mut self) -> &mut PrintTarget {
        &mut self.target
    }

    /// The printer's status now; `None` for a one-way printer or the preview.
    pub fn printer_status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        match &mut self.target {
            PrintTarget::Printer(printer) => printer.status(),
            PrintTarget::Preview { .. } => Ok(None),
        }
    }

    /// Prints the jobs waiting for their first attempt, oldest first.
    pub fn print_queued(&mut self) -> Result<Vec<PrintOutcome>, StoreError> {
        let jobs: Vec<PrintJob> = self
            .store
            .unprinted_jobs()?
            .into_iter()
            .filter(|j| j.status == "queued")
            .collect();
        self.run(jobs)
    }

    /// Prints the given unprinted jobs now (a reprint or the roster that staff asked for),
    /// ahead of anything else waiting.
    pub fn print_now(&mut self, job_ids: &[i64]) -> Result<Vec<PrintOutcome>, StoreError> {
        let jobs: Vec<PrintJob> = self
            .store
            .unprinted_jobs()?
            .into_iter()
            .filter(|j| job_ids.contains(&j.id))
            .collect();
        self.run(jobs)
    }

    /// Prints every job not printed yet, the failed ones included, oldest first.
    pub fn retry_failed(&mut self) -> Result<Vec<PrintOutcome>, StoreError> {
        let jobs = self.store.unprinted_jobs()?;
        self.run(jobs)
    }

    fn run(&mut self, jobs: Vec<PrintJob>) -> Result<Vec<PrintOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut blocked: Option<PrinterProblem> = None;
        for job in jobs {
            if let Some(problem) = &blocked {
                outcomes.push(PrintOutcome::Deferred {
                    job_id: job.id,
                    visit_id: job.visit_id,
                    problem: problem.clone(),
                });
                continue;
            }
            let outcome = self.attempt(&job)?;
            if let PrintOutcome::Failed { problem, .. } = &outcome {
                blocked = Some(problem.clone());
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    fn attempt(&mut self, job: &PrintJob) -> Result<PrintOutcome, StoreError> {
        let visit = match job.visit_id {
            Some(id) => self.store.visit(id)?,
            None => None,
        };
        let now = (self.clock)();
        let ctx = JobContext {
            job,
            visit: visit.as_ref(),
            store: &self.store,
            now,
        };
        let result = match self.source.escpos(&ctx) {
            Ok(bytes) => deliver(&mut self.target, job, visit.as_ref(), &bytes),
            Err(reason) => Err(Failure::Badge(reason)),
        };
        let done = (self.clock)();
        let outcome = match result {
            Ok(delivery) => {
                self.store.finish_print_job(job.id, Ok(()), done)?;
                tracing::info!(job = job.id, "badge printed");
                PrintOutcome::Printed {
                    job_id: job.id,
                    visit_id: job.visit_id,
                    delivery,
                }
            }
            Err(Failure::Printer(problem)) => {
                self.store
                    .finish_print_job(job.id, Err(&problem.to_string()), done)?;
                tracing::warn!(job = job.id, %problem, "badge not printed");
                PrintOutcome::Failed {
                    job_id: job.id,
                    visit_id: job.visit_id,
                    problem,
                }
            }
            Err(Failure::Badge(reason)) => {
                let text = format!("badge could not be made: {reason}");
                self.store.finish_print_job(job.id, Err(&text), done)?;
                tracing::error!(job = job.id, %reason, "badge could not be made");
                PrintOutcome::BadgeFailed {
                    job_id: job.id,
                    visit_id: job.visit_id,
                    reason,
                }
            }
        };
        Ok(outcome)
    }
}

fn deliver(
    target: &mut PrintTarget,
    job: &PrintJob,
    visit: Option<&VisitRecord>,
    bytes: &[u8],
) -> Result<Delivery, Failure> {
    target.send(&preview_name(job, visit), bytes)
}

impl PrintTarget {
    /// Sends one slip: to the printer, or drawn into `<preview dir>/<preview_name>`.
    fn send(&mut self, preview_name: &str, bytes: &[u8]) -> Result<Delivery, Failure> {
        match self {
            PrintTarget::Printer(printer) => printer
                .print(bytes)
                .map(|report| Delivery::Printer {
                    status_after: report.status_after,
                })
                .map_err(|e| Failure::Printer(e.problem())),
            PrintTarget::Preview { dir, renderer } => {
                let png = renderer.png(bytes).map_err(Failure::Badge)?;
                let path = dir.join(preview_name);
                write_atomically(dir, preview_name, &png)
                    .map_err(|e| {
                        Failure::Printer(PrinterProblem::Unreachable(format!(
                            "cannot write the preview {}: {e}",
                            path.display()
                        )))
                    })
                    .map(|()| Delivery::Preview { png: path })
            }
        }
    }

    /// Prints a slip that is not part of the queue (the printer test page). A printer
    /// problem, or a slip that cannot be drawn, comes back as its message.
    pub fn print_slip(&mut self, preview_name: &str, bytes: &[u8]) -> Result<Delivery, String> {
        self.send(preview_name, bytes).map_err(|f| match f {
            Failure::Printer(p) => p.staff_message(),
            Failure::Badge(reason) => reason,
        })
    }
}

/// `badge-<visit number>-<job id>.png`, or `<kind>-<job id>.png` for a job without a visit.
fn preview_name(job: &PrintJob, visit: Option<&VisitRecord>) -> String {
    match visit {
        Some(v) => format!("badge-{}-{}.png", v.number, job.id),
        None => {
            let kind: String = job
                .kind
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let kind = if kind.is_empty() { "slip".into() } else { kind };
            format!("{kind}-{}.png", job.id)
        }
    }
}

/// Writes `name` in `dir` through a temporary file, so a reader never sees half a picture.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, dir.join(name))
}

// ---------------------------------------------------------------------------------------------
// Worker thread
// ---------------------------------------------------------------------------------------------

/// What the worker is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintRequest {
    /// [`PrintQueue::print_queued`]: after a check-in.
    PrintQueued,
    /// [`PrintQueue::retry_failed`]: a member of staff asked for it.
    RetryFailed,
}

/// The result of one request, as the worker reports it.
pub type WorkerReport = Result<Vec<PrintOutcome>, String>;

/// A [`PrintQueue`] on a thread of its own. Requests are handled in order; requests that pile
/// up while a pass runs are merged into one pass.
pub struct PrintWorker {
    requests: Option<Sender<PrintRequest>>,
    reports: Receiver<WorkerReport>,
    thread: Option<JoinHandle<PrintQueue>>,
}

impl PrintWorker {
    /// Starts the worker thread.
    pub fn spawn(queue: PrintQueue) -> std::io::Result<PrintWorker> {
        let (request_tx, request_rx) = mpsc::channel::<PrintRequest>();
        let (report_tx, report_rx) = mpsc::channel::<WorkerReport>();
        let thread = std::thread::Builder::new()
            .name("print-queue".into())
            .spawn(move || work(queue, request_rx, report_tx))?;
        Ok(PrintWorker {
            requests: Some(request_tx),
            reports: report_rx,
            thread: Some(thread),
        })
    }

    /// Asks for a pass; `false` when the worker has stopped.
    pub fn request(&self, request: PrintRequest) -> bool {
        self.requests
            .as_ref()
            .is_some_and(|tx| tx.send(request).is_ok())
    }

    /// One report per pass, in order.
    pub fn reports(&self) -> &Receiver<WorkerReport> {
        &self.reports
    }

    /// Stops the worker after its current pass and gives the queue back (`None` if the
    /// thread panicked).
    pub fn stop(mut self) -> Option<PrintQueue> {
        self.requests = None;
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for PrintWorker {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn work(
    mut queue: PrintQueue,
    requests: Receiver<PrintRequest>,
    reports: Sender<WorkerReport>,
) -> PrintQueue {
    while let Ok(first) = requests.recv() {
        let mut request = first;
        while let Ok(more) = requests.try_recv() {
            if more == PrintRequest::RetryFailed {
                request = PrintRequest::RetryFailed;
            }
        }
        let result = match request {
            PrintRequest::PrintQueued => queue.print_queued(),
            PrintRequest::RetryFailed => queue.retry_failed(),
        };
        if reports.send(result.map_err(|e| e.to_string())).is_err() {
            break;
        }
    }
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, kind: &str) -> PrintJob {
        PrintJob {
            id,
            visit_id: None,
            kind: kind.into(),
            status: "queued".into(),
            attempts: 0,
            last_error: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn preview_names_without_a_visit_use_the_kind() {
        assert_eq!(preview_name(&job(7, "roster"), None), "roster-7.png");
        assert_eq!(preview_name(&job(8, "../x"), None), "x-8.png");
        assert_eq!(preview_name(&job(9, "//"), None), "slip-9.png");
    }

    #[test]
    fn the_queue_can_move_to_a_worker_thread() {
        fn send<T: Send>() {}
        send::<PrintQueue>();
        send::<PrintTarget>();
    }
}
