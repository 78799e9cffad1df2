//! Badge printing: bytes on the wire per badge in every printer mode, and the time from a
//! check-in to the first byte of its badge reaching a network printer (a TCP printer on
//! 127.0.0.1 that answers status queries like a real one). Goal: under 50 ms.
//!
//! `cargo bench --bench print_latency` (add `-- --quick` for a short run).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lobby_kiosk::config::{Config, PrinterEncoding, PrinterTransport};
use lobby_kiosk::domain::walkin::ValidWalkIn;
use lobby_kiosk::print::escpos::{encode, PrinterProfile};
use lobby_kiosk::print::layout::{badge, BadgeInput, BadgeTemplate};
use lobby_kiosk::print::queue::{ConfiguredBadges, PrintQueue, PrintTarget};
use lobby_kiosk::print::transport::Printer;
use lobby_kiosk::store::{HostRecord, Store};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let mut config = Config::embedded().expect("embedded configuration");
    config.site.timezone = "Asia/Shanghai".into();
    config.badge.wifi_ssid = "Guest".into();
    config.badge.wifi_password = "welcome-2026".into();

    // Bytes per badge.
    let now = chrono::Utc::now();
    let input = BadgeInput {
        visit_number: 1042,
        visitor_name: "欧阳娜娜 Nana Ouyang".into(),
        company: Some("Contoso 有限公司".into()),
        host: Some("王军 Wang Jun".into()),
        checked_in_at: now,
        tz: chrono_tz::Asia::Shanghai,
        valid_until: now + chrono::Duration::hours(8),
        checkout_code: lobby_kiosk::domain::shortcode::ShortCode::from_entropy([1, 2, 3, 4, 5]),
        vip: false,
        lang: config.language.default,
    };
    println!("Bytes per badge (bilingual badge with Wi-Fi and areas)");
    println!("{:<8} {:<10} {:<8} {:>8}", "paper", "text", "qr", "bytes");
    for mm in [58, 80] {
        for encoding in [PrinterEncoding::Gb18030, PrinterEncoding::Raster] {
            for native_qr in [true, false] {
                let mut c = config.clone();
                c.printer.paper_width_mm = mm;
                c.printer.encoding = encoding;
                c.printer.native_qr = native_qr;
                let b = badge(&input, &BadgeTemplate::from_config(&c));
                let bytes = encode(&b, &PrinterProfile::from_config(&c.printer)).expect("encode");
                println!(
                    "{:<8} {:<10} {:<8} {:>8}",
                    format!("{mm} mm"),
                    format!("{encoding:?}").to_lowercase(),
                    if native_qr { "native" } else { "image" },
                    bytes.len()
                );
            }
        }
    }

    // Check-in to first byte at a network printer.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    let first_byte: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    {
        let first_byte = first_byte.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 8192];
                loop {
                    let n = match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let chunk = &buf[..n];
                    // Status queries (DLE EOT n) get "online, paper present".
                    let queries = chunk.windows(2).filter(|w| w == &[0x10, 0x04]).count();
                    if queries > 0 && chunk.len() == queries * 3 {
                        let _ = s.write_all(&vec![0x12; queries]);
                        continue;
                    }
                    if let Ok(mut f) = first_byte.lock() {
                        if f.is_none() {
                            *f = Some(Instant::now());
                        }
                    }
                }
            }
        });
    }
    config.printer.transport = PrinterTransport::Tcp;
    config.printer.device = format!("127.0.0.1:{port}");
    config.printer.encoding = PrinterEncoding::Gb18030;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = Store::open_in(dir.path()).expect("store");
    store
        .upsert_host(
            &HostRecord {
                id: "h-wang".into(),
                name: "王军 Wang Jun".into(),
                department: None,
                email: None,
                phone: None,
                search_key: "wang jun".into(),
                active: true,
            },
            now,
        )
        .expect("host");
    let printer =
        Printer::new(&config.printer, dir.path()).with_settle_time(Duration::from_millis(0));
    let mut queue = PrintQueue::open(
        dir.path(),
        PrintTarget::Printer(printer),
        ConfiguredBadges::new(&config, config.language.default),
    )
    .expect("queue");
    let runs = if quick { 20 } else { 200 };
    let mut ms = Vec::new();
    for i in 0..runs {
        if let Ok(mut f) = first_byte.lock() {
            *f = None;
        }
        let form = ValidWalkIn {
            name: format!("访客 Visitor {i}"),
            phone_e164: Some(format!("+86138{:08}", i)),
            email: None,
            company: Some("Contoso".into()),
            host_id: Some("h-wang".into()),
            purpose: None,
        };
        let start = Instant::now();
        store
            .register_walk_in(&form, chrono::Utc::now())
            .expect("check in");
        let outcomes = queue.print_queued().expect("print");
        assert!(outcomes.iter().all(|o| o.is_printed()), "{outcomes:?}");
        let first = first_byte.lock().ok().and_then(|f| *f);
        if let Some(f) = first {
            ms.push(f.duration_since(start).as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    println!();
    println!(
        "Check-in (store transaction) to the first badge byte at a TCP printer, ms, {} runs",
        ms.len()
    );
    println!(
        "p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    );
}
