//! The Library panel: datasets, and past analyses searchable by symbol, timeframe, pattern, analyst and date and
//! sortable by a metric; **Open** restores an analysis (its chart view, strategy and Pine Script).

use std::path::PathBuf;

use crate::{
    domain::format_ts_nanos,
    gui::loader::LibrarySnapshot,
    store::{AnalysisId, AnalysisSummary},
};

/// What the user asked the library panel to do.
#[derive(Debug, Clone, PartialEq)]
pub enum LibraryAction {
    /// Re-read the library.
    Refresh,
    /// Open a dataset's source file.
    Open(PathBuf),
    /// Restore a stored analysis.
    OpenAnalysis(AnalysisId),
}

/// How the analyses are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalysisOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Highest confidence first.
    Confidence,
    /// Best in-sample return first.
    InSampleReturn,
    /// Best out-of-sample return first.
    OutOfSampleReturn,
    /// Best out-of-sample Sharpe first.
    OutOfSampleSharpe,
}

impl AnalysisOrder {
    const ALL: [Self; 5] =
        [Self::Newest, Self::Confidence, Self::InSampleReturn, Self::OutOfSampleReturn, Self::OutOfSampleSharpe];

    fn label(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Confidence => "confidence",
            Self::InSampleReturn => "in-sample return",
            Self::OutOfSampleReturn => "out-of-sample return",
            Self::OutOfSampleSharpe => "out-of-sample Sharpe",
        }
    }
}

/// Panel state.
#[derive(Debug, Default)]
pub struct LibraryPanel {
    /// Search text over symbol, timeframe, pattern, analyst and date.
    pub search: String,
    /// Order of the analyses.
    pub order: AnalysisOrder,
}

/// A metric of a stored analysis's report (`part` is `in_sample` or `out_of_sample`), NaN when absent.
pub fn report_metric(a: &AnalysisSummary, part: &str, name: &str) -> f64 {
    a.report[part]["metrics"][name].as_f64().unwrap_or(f64::NAN)
}

/// Whether `a` matches `search` (case-insensitive, every word somewhere in its symbol, timeframe, pattern,
/// analyst or creation date).
pub fn analysis_matches(a: &AnalysisSummary, search: &str) -> bool {
    let text = format!(
        "{} {} {} {} {}",
        a.symbol.as_deref().unwrap_or(""),
        a.timeframe.as_deref().unwrap_or(""),
        a.pattern.as_deref().unwrap_or("").replace('_', " "),
        a.analyst.as_deref().unwrap_or(""),
        format_ts_nanos(a.created_at_nanos)
    )
    .to_lowercase();
    search.to_lowercase().split_whitespace().all(|word| text.contains(word))
}

impl LibraryPanel {
    /// Draws the panel from the last snapshot of the library.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        library_path: Option<&std::path::Path>,
        snapshot: &LibrarySnapshot,
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
        if snapshot.datasets.is_empty() {
            ui.label("No datasets yet: files you open or import are registered here.");
        }
        egui::ScrollArea::vertical().id_salt("library_datasets").max_height(ui.available_height() * 0.35).show(
            ui,
            |ui| {
                for d in &snapshot.datasets {
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
            },
        );
        ui.separator();
        ui.heading(format!("Analyses ({})", snapshot.analyses.len()));
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("search: symbol, pattern, analyst, date")
                    .desired_width(200.0),
            );
            egui::ComboBox::new("analysis_order", "order").selected_text(self.order.label()).show_ui(ui, |ui| {
                for order in AnalysisOrder::ALL {
                    ui.selectable_value(&mut self.order, order, order.label());
                }
            });
        });
        let mut shown: Vec<&AnalysisSummary> =
            snapshot.analyses.iter().filter(|a| analysis_matches(a, &self.search)).collect();
        let key = |a: &AnalysisSummary| match self.order {
            AnalysisOrder::Newest => a.created_at_nanos as f64,
            AnalysisOrder::Confidence => a.confidence.unwrap_or(f64::NAN),
            AnalysisOrder::InSampleReturn => report_metric(a, "in_sample", "return_pct"),
            AnalysisOrder::OutOfSampleReturn => report_metric(a, "out_of_sample", "return_pct"),
            AnalysisOrder::OutOfSampleSharpe => report_metric(a, "out_of_sample", "sharpe"),
        };
        // Descending; undefined values last.
        shown.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            y.is_nan().cmp(&x.is_nan()).reverse().then(y.total_cmp(&x))
        });
        if snapshot.analyses.is_empty() {
            ui.label("No analyses yet: press Analyze and the result is kept here.");
        }
        egui::ScrollArea::vertical().id_salt("library_analyses").show(ui, |ui| {
            for a in shown {
                ui.horizontal(|ui| {
                    if ui.button("Open").on_hover_text("Restore its chart view, strategy and Pine Script").clicked() {
                        actions.push(LibraryAction::OpenAnalysis(a.id));
                    }
                    ui.strong(format!(
                        "{} {}",
                        a.symbol.as_deref().unwrap_or("?"),
                        a.timeframe.as_deref().unwrap_or("")
                    ));
                    ui.label(a.pattern.as_deref().unwrap_or("none").replace('_', " "));
                    ui.weak(format!(
                        "conf {:.2} · IS {:+.1} % · OOS {:+.1} % · {}",
                        a.confidence.unwrap_or(f64::NAN),
                        report_metric(a, "in_sample", "return_pct"),
                        report_metric(a, "out_of_sample", "return_pct"),
                        &format_ts_nanos(a.created_at_nanos)[..16]
                    ));
                })
                .response
                .on_hover_text(a.analyst.as_deref().unwrap_or(""));
            }
        });
    }
}
