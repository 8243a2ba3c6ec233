//! The Library panel: datasets and strategies stored in the SQLite library.

use std::path::PathBuf;

use crate::{domain::format_ts_nanos, store::DatasetRecord};

/// What the user asked the library panel to do.
#[derive(Debug, Clone, PartialEq)]
pub enum LibraryAction {
    /// Re-read the library.
    Refresh,
    /// Open a dataset's source file.
    Open(PathBuf),
}

/// Draws the panel from the last snapshot of the library.
pub fn ui(
    ui: &mut egui::Ui,
    library_path: Option<&std::path::Path>,
    datasets: &[DatasetRecord],
    error: Option<&str>,
    actions: &mut Vec<LibraryAction>,
) {
    ui.horizontal(|ui| {
        ui.heading("Datasets");
        if ui.button("Refresh").clicked() {
            actions.push(LibraryAction::Refresh);
        }
    });
    match library_path {
        Some(p) => ui.weak(p.display().to_string()),
        None => ui.weak("no library"),
    };
    if let Some(err) = error {
        ui.colored_label(crate::gui::theme::ERROR, err);
    }
    if datasets.is_empty() {
        ui.label("No datasets yet: files you open or import are registered here.");
    }
    egui::ScrollArea::vertical().id_salt("library_datasets").max_height(ui.available_height() * 0.6).show(ui, |ui| {
        for d in datasets {
            let v = &d.dataset;
            ui.horizontal(|ui| {
                if ui.button("Open").on_hover_text(&v.source_path).clicked() {
                    actions.push(LibraryAction::Open(PathBuf::from(&v.source_path)));
                }
                ui.strong(v.symbol.as_deref().unwrap_or("?"));
                ui.label(v.timeframe.as_deref().unwrap_or("?"));
                ui.weak(format!(
                    "{} rows, {} … {}",
                    v.rows,
                    &format_ts_nanos(v.first_ts_nanos)[..10],
                    &format_ts_nanos(v.last_ts_nanos)[..10]
                ));
            });
        }
    });
    ui.separator();
    ui.heading("Strategies");
    ui.label("Strategies appear here once an analysis or a backtest stores one.");
}
