//! The real workstation app driven headlessly by egui_kittest and rendered with wgpu (Mesa lavapipe on a
//! machine without a GPU): it loads the sample, draws candles, keeps its data when a bad file is opened,
//! and the View menu resets the layout.

use std::time::{Duration, Instant};

use aio::gui::{LaunchOptions, LoadSource, LogBuffer, WorkstationApp, theme};
use egui_kittest::{Harness, kittest::Queryable};

fn harness(launch: LaunchOptions) -> Harness<'static, WorkstationApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .wgpu()
        .build_eframe(move |cc| WorkstationApp::new(cc, launch, LogBuffer::default(), false))
}

/// Steps the app until `done` holds, giving the loader thread time to work.
fn step_until(h: &mut Harness<'static, WorkstationApp>, what: &str, done: impl Fn(&WorkstationApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_steps(3);
}

fn count_near(image: &image::RgbaImage, color: egui::Color32) -> usize {
    image
        .pixels()
        .filter(|p| {
            let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
            d(p[0], color.r()) < 12 && d(p[1], color.g()) < 12 && d(p[2], color.b()) < 12
        })
        .count()
}

#[test]
fn workstation_loads_the_sample_and_renders_candles() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    assert_eq!(h.state().dataset().unwrap().bars.len(), 5000);

    // The docked panels and menus are there.
    for label in ["File", "View", "Chart", "Data", "Library", "Log", "Analysis", "Pine Script", "Backtest"] {
        h.get_by_label(label);
    }
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("workstation.png");
    image.save(&out).unwrap();
    eprintln!("saved {}", out.display());
    // Real candles in both colours were drawn.
    assert!(count_near(&image, theme::CANDLE_UP) > 200, "no up candles in {}", out.display());
    assert!(count_near(&image, theme::CANDLE_DOWN) > 200, "no down candles in {}", out.display());
}

#[test]
fn a_bad_file_shows_an_error_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.csv");
    std::fs::write(&bad, "time,open,high,low,close\n2024-01-15 00:00:00,1.1,abc,1.0,1.05\n").unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    let ctx = h.ctx.clone();
    h.state_mut().open(LoadSource::File(bad), Some(ctx));
    step_until(&mut h, "the bad file to fail", |app| !app.is_loading());
    let message = h.state().error_message().expect("an error dialog").to_string();
    assert!(
        message.contains("'abc'")
            && message.contains("'high'")
            && message.contains("row 1")
            && message.contains("broken.csv"),
        "{message}"
    );
    assert_eq!(h.state().dataset().unwrap().bars.len(), 5000, "the sample is kept");
    h.get_by_label("Cannot open the file");
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(h.state().error_message().is_none());
}

#[test]
fn view_menu_resets_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { empty: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    h.run_steps(2);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Reset layout").click();
    h.run_steps(2);
    assert!(h.state().dataset().is_none());
    h.get_by_label("Chart");
}
