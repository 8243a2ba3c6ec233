//! The Download dialog: pick a Dukascopy instrument (with search), a date range, a timeframe, the price side and
//! the data kind; the download itself runs on the loader thread and opens as a chart.

use serde::{Deserialize, Serialize};

use crate::{
    domain::{InstrumentRegistry, Timeframe},
    ingest::dukascopy::{self, DataKind, FetchRequest, PriceSide},
};

/// The dialog's fields; they persist across runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadDialog {
    /// Whether the window is shown.
    #[serde(skip)]
    pub open: bool,
    /// Instrument search text.
    #[serde(skip)]
    pub search: String,
    /// The chosen symbol.
    pub symbol: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (included), `YYYY-MM-DD`.
    pub to: String,
    /// Bar timeframe.
    pub timeframe: Timeframe,
    /// Quote side of the bars.
    pub side: PriceSide,
    /// Tick files or minute candles.
    pub kind: DataKind,
    /// Datafeed base URL; empty uses `$AIO_DUKASCOPY_BASE_URL` or the public datafeed.
    pub base_url: String,
    /// Cache folder of raw files; empty uses the platform cache dir's `aio/dukascopy`.
    pub cache_dir: String,
}

impl Default for DownloadDialog {
    fn default() -> Self {
        Self {
            open: false,
            search: String::new(),
            symbol: "EURUSD".into(),
            from: "2024-01-15".into(),
            to: "2024-01-19".into(),
            timeframe: Timeframe::M1,
            side: PriceSide::Bid,
            kind: DataKind::Ticks,
            base_url: String::new(),
            cache_dir: String::new(),
        }
    }
}

/// A validated download.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadChoice {
    /// What to fetch.
    pub request: FetchRequest,
    /// Bars to build.
    pub timeframe: Timeframe,
    /// Base URL override.
    pub base_url: Option<String>,
}

impl DownloadDialog {
    /// The download the fields describe, or what is wrong with them.
    pub fn choice(&self) -> Result<DownloadChoice, String> {
        let instrument = InstrumentRegistry::builtin().get(&self.symbol).map_err(|e| e.to_string())?;
        let from_nanos = dukascopy::parse_bound(&self.from, false).map_err(|e| format!("From: {e}"))?;
        let to_nanos = dukascopy::parse_bound(&self.to, true).map_err(|e| format!("To: {e}"))?;
        if to_nanos <= from_nanos {
            return Err("To must not be before From".into());
        }
        if self.kind == DataKind::MinuteCandles && self.timeframe.approx_duration_nanos() < 60_000_000_000 {
            return Err(format!("minute candles cannot make {} bars; choose Ticks", self.timeframe));
        }
        let base_url = Some(self.base_url.trim().to_string()).filter(|s| !s.is_empty());
        Ok(DownloadChoice {
            request: FetchRequest {
                symbol: instrument.symbol.clone(),
                from_nanos,
                to_nanos,
                kind: self.kind,
                side: self.side,
            },
            timeframe: self.timeframe,
            base_url,
        })
    }

    /// Shows the window when open; returns a download when the user starts one. `busy` disables the button
    /// while another load runs.
    pub fn ui(&mut self, ctx: &egui::Context, busy: bool) -> Option<DownloadChoice> {
        if !self.open {
            return None;
        }
        let mut open = self.open;
        let mut started = None;
        egui::Window::new("Download from Dukascopy")
            .open(&mut open)
            .resizable(false)
            .collapsible(false)
            .default_width(420.0)
            .show(ctx, |ui| {
                started = self.form_ui(ui, busy);
            });
        self.open = open && started.is_none();
        started
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, busy: bool) -> Option<DownloadChoice> {
        let registry = InstrumentRegistry::builtin();
        ui.horizontal(|ui| {
            ui.label("Instrument");
            ui.add(
                egui::TextEdit::singleline(&mut self.search).hint_text("search: EUR, gold, DAX …").desired_width(200.0),
            );
            ui.strong(&self.symbol);
        });
        egui::ScrollArea::vertical().max_height(160.0).id_salt("instrument_list").show(ui, |ui| {
            for inst in registry.search(&self.search).take(200) {
                let label = format!("{:<12} {} — {}", inst.symbol, inst.name, inst.description);
                if ui.selectable_label(inst.symbol == self.symbol, label).clicked() {
                    self.symbol = inst.symbol.clone();
                }
            }
        });
        ui.separator();
        egui::Grid::new("download_grid").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            ui.label("From (UTC)");
            ui.add(egui::TextEdit::singleline(&mut self.from).hint_text("YYYY-MM-DD").desired_width(120.0));
            ui.end_row();
            ui.label("To (included)");
            ui.add(egui::TextEdit::singleline(&mut self.to).hint_text("YYYY-MM-DD").desired_width(120.0));
            ui.end_row();
            ui.label("Timeframe");
            egui::ComboBox::from_id_salt("download_timeframe").selected_text(self.timeframe.to_string()).show_ui(
                ui,
                |ui| {
                    for tf in Timeframe::COMMON {
                        ui.selectable_value(&mut self.timeframe, tf, tf.to_string());
                    }
                },
            );
            ui.end_row();
            ui.label("Side");
            ui.horizontal(|ui| {
                for side in PriceSide::ALL {
                    ui.radio_value(&mut self.side, side, side.name());
                }
            });
            ui.end_row();
            ui.label("Data");
            ui.horizontal(|ui| {
                ui.radio_value(&mut self.kind, DataKind::Ticks, "Ticks (hourly files)");
                ui.radio_value(&mut self.kind, DataKind::MinuteCandles, "Minute candles");
            });
            ui.end_row();
        });
        ui.collapsing("Advanced", |ui| {
            ui.horizontal(|ui| {
                ui.label("Datafeed URL");
                ui.add(
                    egui::TextEdit::singleline(&mut self.base_url)
                        .hint_text(dukascopy::Datafeed::DEFAULT_BASE_URL)
                        .desired_width(300.0),
                );
            });
            ui.horizontal(|ui| {
                ui.label("Cache folder");
                let default = dukascopy::FetchOptions::default_cache_dir().display().to_string();
                ui.add(egui::TextEdit::singleline(&mut self.cache_dir).hint_text(default).desired_width(300.0));
            });
        });
        ui.separator();
        let choice = self.choice();
        match &choice {
            Ok(c) => {
                let files = match c.request.kind {
                    DataKind::Ticks => (c.request.to_nanos - c.request.from_nanos) / dukascopy::HOUR_NANOS,
                    DataKind::MinuteCandles => {
                        let days = (c.request.to_nanos - c.request.from_nanos) / dukascopy::DAY_NANOS;
                        if c.request.side == PriceSide::Mid { days * 2 } else { days }
                    }
                };
                ui.weak(format!("{files} files (cached ones are not downloaded again)"));
            }
            Err(message) => {
                ui.colored_label(super::super::theme::ERROR, message);
            }
        }
        let mut started = None;
        ui.horizontal(|ui| {
            let enabled = choice.is_ok() && !busy;
            let button = ui.add_enabled(enabled, egui::Button::new("Download"));
            if busy {
                ui.weak("another load is running");
            }
            if button.clicked()
                && let Ok(c) = choice
            {
                started = Some(c);
            }
        });
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_validates_before_downloading() {
        let mut d = DownloadDialog::default();
        let c = d.choice().unwrap();
        assert_eq!(c.request.symbol, "EURUSD");
        assert_eq!((c.request.to_nanos - c.request.from_nanos) / dukascopy::HOUR_NANOS, 120);
        d.to = "2024-01-10".into();
        assert!(d.choice().unwrap_err().contains("To must not be before From"));
        d.to = "2024-02-30".into();
        assert!(d.choice().unwrap_err().contains("invalid date"));
        d.to = "2024-01-19".into();
        d.symbol = "NOPE".into();
        assert!(d.choice().unwrap_err().contains("unknown instrument"));
        d.symbol = "usdjpy".into();
        d.kind = DataKind::MinuteCandles;
        d.timeframe = Timeframe::S1;
        assert!(d.choice().is_err());
        d.timeframe = Timeframe::H1;
        assert_eq!(d.choice().unwrap().request.symbol, "USDJPY");
    }
}
