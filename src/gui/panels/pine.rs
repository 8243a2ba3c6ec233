//! The Pine Script panel: the generated Pine Script v5 of the strategy spec with syntax colouring, the
//! validator's diagnostics, and **Copy to TradingView** (clipboard) and Save buttons.

use crate::{
    gui::theme,
    pine::{self, Diagnostic, Severity, TokenClass},
    strategy::StrategySpec,
};

/// Panel state.
#[derive(Default)]
pub struct PinePanel {
    /// The script shown.
    pub source: String,
    /// Its diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// A one-line status (copied, saved, why generation failed).
    pub status: Option<String>,
}

impl PinePanel {
    /// Shows `source` (from a finished run) with its diagnostics.
    pub fn show_script(&mut self, source: String, diagnostics: Vec<Diagnostic>) {
        self.source = source;
        self.diagnostics = diagnostics;
        self.status = None;
    }

    /// Draws the panel; `spec_text` is the Backtest panel's spec, for Generate.
    pub fn ui(&mut self, ui: &mut egui::Ui, spec_text: &str) {
        ui.horizontal(|ui| {
            if ui
                .button("Generate from spec")
                .on_hover_text("Write the Pine Script v5 of the Backtest panel's spec")
                .clicked()
            {
                match StrategySpec::from_json(spec_text) {
                    Ok(spec) => {
                        let source = pine::generate_pine(&spec);
                        let diagnostics = pine::check(&source);
                        self.show_script(source, diagnostics);
                    }
                    Err(e) => self.status = Some(e.to_string()),
                }
            }
            let has_script = !self.source.is_empty();
            if ui.add_enabled(has_script, egui::Button::new("Copy to TradingView")).clicked() {
                ui.ctx().copy_text(self.source.clone());
                self.status = Some("copied: paste it into TradingView's Pine Editor and press Add to chart".into());
            }
            if ui.add_enabled(has_script, egui::Button::new("Save .pine…")).clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("Pine Script", &["pine"])
                    .set_file_name("strategy.pine")
                    .save_file()
            {
                let text = self.source.clone();
                self.status = Some(
                    match crate::ingest::write_atomically(&path, |f| {
                        std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string())
                    }) {
                        Ok(()) => format!("saved {}", path.display()),
                        Err(e) => e.to_string(),
                    },
                );
            }
            if let Some(status) = &self.status {
                ui.weak(status);
            }
        });
        if self.source.is_empty() {
            ui.label("Run a backtest or press Generate to see the strategy's Pine Script v5 here.");
            return;
        }
        let errors = self.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        if self.diagnostics.is_empty() {
            ui.colored_label(theme::BULLISH, "validator: no errors");
        } else {
            for d in &self.diagnostics {
                let color = if d.severity == Severity::Error { theme::ERROR } else { theme::WARNING };
                ui.colored_label(color, d.to_string());
            }
            ui.weak(format!("{errors} error(s)"));
        }
        ui.separator();
        let job = highlighted(ui, &self.source);
        egui::ScrollArea::both().id_salt("pine_source").auto_shrink([false, false]).show(ui, |ui| {
            ui.add(egui::Label::new(job).selectable(true));
        });
    }
}

/// The script as a coloured text layout.
fn highlighted(ui: &egui::Ui, source: &str) -> egui::text::LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let plain = ui.visuals().text_color();
    let mut job = egui::text::LayoutJob::default();
    // Long lines scroll sideways instead of wrapping, as in an editor.
    job.wrap.max_width = f32::INFINITY;
    let mut at = 0;
    let push = |job: &mut egui::text::LayoutJob, text: &str, color: egui::Color32| {
        job.append(text, 0.0, egui::TextFormat::simple(font.clone(), color));
    };
    for (range, class) in pine::highlight(source) {
        if range.start < at
            || range.end > source.len()
            || !source.is_char_boundary(range.start)
            || !source.is_char_boundary(range.end)
        {
            continue;
        }
        push(&mut job, &source[at..range.start], plain);
        let color = match class {
            TokenClass::Keyword => theme::pine::KEYWORD,
            TokenClass::Builtin => theme::pine::BUILTIN,
            TokenClass::Number => theme::pine::NUMBER,
            TokenClass::String => theme::pine::STRING,
            TokenClass::Comment => theme::pine::COMMENT,
            TokenClass::Color => theme::pine::COLOR,
            TokenClass::Operator | TokenClass::Punct => theme::pine::OPERATOR,
            TokenClass::Ident => plain,
        };
        push(&mut job, &source[range.clone()], color);
        at = range.end;
    }
    push(&mut job, &source[at..], plain);
    job
}
