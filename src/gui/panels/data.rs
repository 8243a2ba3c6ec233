//! The Data panel: a virtualised table of every loaded bar.

use egui_extras::{Column, TableBuilder};

use crate::{domain::format_ts_nanos, ingest::LoadedBars};

/// Draws the table; only visible rows are laid out, so millions of bars scroll smoothly.
pub fn ui(ui: &mut egui::Ui, dataset: Option<&LoadedBars>) {
    let Some(data) = dataset else {
        ui.label("No data loaded.");
        return;
    };
    let bars = &data.bars;
    ui.horizontal(|ui| {
        ui.label(format!("{} — {} rows ({})", data.source.display(), bars.len(), data.format));
        if data.dropped_rows > 0 {
            ui.colored_label(crate::gui::theme::WARNING, format!("{} invalid rows dropped", data.dropped_rows));
        }
        let warnings = data.findings.iter().filter(|f| !f.is_error()).count();
        if warnings > 0 {
            ui.colored_label(crate::gui::theme::WARNING, format!("{warnings} warnings (see Log)"));
        }
    });
    let digits = data.price_digits();
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::auto().at_least(50.0))
        .column(Column::auto().at_least(170.0))
        .columns(Column::auto().at_least(80.0), 4)
        .column(Column::remainder())
        .header(20.0, |mut header| {
            for title in ["#", "time (UTC)", "open", "high", "low", "close", "volume"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, bars.len(), |mut row| {
                let i = row.index();
                let Some(bar) = bars.get(i) else { return };
                let cells = [
                    (i + 1).to_string(),
                    format_ts_nanos(bar.ts_nanos),
                    format!("{:.digits$}", bar.open),
                    format!("{:.digits$}", bar.high),
                    format!("{:.digits$}", bar.low),
                    format!("{:.digits$}", bar.close),
                    bar.volume.to_string(),
                ];
                for text in cells {
                    row.col(|ui| {
                        ui.monospace(text);
                    });
                }
            });
        });
}
