//! The Analysis panel: **Analyze** (Ctrl+Enter) reads the visible chart on the analysis workers; the panel shows
//! the stage with a progress bar (and Cancel), the model's streamed text, the reading and every pattern as cards
//! with strength and confidence bars, the chart image the analyst saw, the strategy with its rationale,
//! assumptions and risk, and the in-sample and out-of-sample metrics side by side. It says plainly which analyst
//! answered and why a model fell back.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        mpsc::{Receiver, TryRecvError},
    },
    time::Instant,
};

use crate::{
    ai::orchestrator::{
        AnalysisError, AnalysisEvent, AnalysisResult, AnalystChain, RULE_BASED_ID, Stage, pool::AnalysisTicket,
    },
    gui::theme,
};

/// A finished analysis as the panel keeps it.
pub struct FinishedAnalysis {
    /// The result.
    pub result: Arc<AnalysisResult>,
    /// Library rows, when stored.
    pub stored: Option<crate::store::AnalysisRunIds>,
    /// Why it was not stored, when it was not.
    pub store_error: Option<String>,
    /// The chart image as an egui texture (made on first draw).
    pub texture: Option<egui::TextureHandle>,
}

/// An analysis in flight.
pub struct RunningAnalysis {
    /// Its ticket (events, cancel, outcome).
    pub ticket: AnalysisTicket,
    /// The stage it is in.
    pub stage: Option<Stage>,
    /// Streamed model text.
    pub text: String,
    /// Tokens streamed.
    pub tokens: usize,
    /// Fallbacks so far, as `analyst: reason`.
    pub fallbacks: Vec<String>,
    /// When it was submitted.
    pub started: Instant,
}

/// A model being loaded on the `aio-model-load` thread.
pub struct ModelLoad {
    /// What is being loaded.
    pub name: String,
    /// The chain, once loaded (or failed: the chain then records why).
    pub rx: Receiver<AnalystChain>,
}

/// What the panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisAction {
    /// Analyse the visible chart.
    Analyze,
    /// Cancel the running analyses.
    Cancel,
    /// Load this model folder (or hub id) as the first analyst.
    LoadModel(String),
    /// Back to the rule-based analyst alone.
    UnloadModel,
    /// Bring bars `[from, to]` into view.
    Focus(usize, usize),
}

/// Panel state.
#[derive(Default)]
pub struct AnalysisPanel {
    /// Analyses in flight, oldest first.
    pub running: Vec<RunningAnalysis>,
    /// The latest finished analysis.
    pub last: Option<FinishedAnalysis>,
    /// The latest failure.
    pub error: Option<String>,
    /// The trader's instruction for the next analysis.
    pub instruction: String,
    /// Ids of the analysts in the chain, in order.
    pub analysts: Vec<String>,
    /// A model load in flight.
    pub model_load: Option<ModelLoad>,
    /// The loaded local model, if any.
    pub model: Option<crate::ai::orchestrator::ModelSummary>,
    /// The Model panel's folder or hub id field.
    pub model_name: String,
}

impl AnalysisPanel {
    /// True while any analysis runs.
    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// Drains events of the running analyses (at most `budget` in all) and collects the finished ones.
    pub fn poll(&mut self, budget: usize) -> Vec<crate::ai::orchestrator::pool::AnalysisOutcome> {
        let mut left = budget;
        for run in &mut self.running {
            while left > 0 {
                match run.ticket.events.try_recv() {
                    Ok(event) => {
                        left -= 1;
                        match event {
                            AnalysisEvent::Stage { stage, .. } => run.stage = Some(stage),
                            AnalysisEvent::Text { piece, tokens } => {
                                run.text.push_str(&piece);
                                run.tokens = tokens;
                            }
                            AnalysisEvent::Fallback { analyst, reason } => {
                                run.fallbacks.push(format!("{analyst}: {reason}"));
                            }
                            AnalysisEvent::Reading { .. } => {}
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        let mut finished = Vec::new();
        let mut k = 0;
        while k < self.running.len() {
            match self.running[k].ticket.outcome.try_recv() {
                Ok(outcome) => {
                    self.running.remove(k);
                    finished.push(outcome);
                }
                Err(TryRecvError::Disconnected) => {
                    self.running.remove(k);
                    finished.push(crate::ai::orchestrator::pool::AnalysisOutcome {
                        result: Err(AnalysisError::Request("the analysis worker stopped".into())),
                        stored: None,
                        store_error: None,
                    });
                }
                Err(TryRecvError::Empty) => k += 1,
            }
        }
        finished
    }

    /// Draws the panel; `has_data` when bars are loaded.
    pub fn ui(&mut self, ui: &mut egui::Ui, has_data: bool, actions: &mut Vec<AnalysisAction>) {
        ui.horizontal(|ui| {
            let analyze = ui
                .add_enabled(has_data, egui::Button::new("Analyze visible chart"))
                .on_hover_text("Read the visible chart and propose a strategy (Ctrl+Enter)");
            if analyze.clicked() {
                actions.push(AnalysisAction::Analyze);
            }
            if self.is_running() && ui.button("Cancel").clicked() {
                actions.push(AnalysisAction::Cancel);
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.instruction)
                    .hint_text("instruction, e.g. long only, tight stops")
                    .desired_width(260.0),
            );
            ui.separator();
            match (&self.model_load, &self.model) {
                (Some(load), _) => ui.weak(format!("loading {} …", load.name)),
                (None, Some(m)) => ui.weak(format!("analyst: {}, then rule-based", m.info.model_type)),
                (None, None) => ui.weak("analyst: rule-based (no model weights loaded; see the Model panel)"),
            };
        });
        if let Some(e) = &self.error {
            ui.colored_label(theme::ERROR, e);
        }
        for run in &self.running {
            let stage = run.stage.unwrap_or(Stage::Render);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.add(egui::ProgressBar::new(stage.progress()).desired_width(220.0).text(format!(
                    "{} · {:.1} s",
                    stage.label(),
                    run.started.elapsed().as_secs_f64()
                )));
                if run.tokens > 0 {
                    ui.weak(format!("{} tokens", run.tokens));
                }
            });
            for f in &run.fallbacks {
                ui.colored_label(theme::WARNING, format!("fell back: {f}"));
            }
            if !run.text.is_empty() {
                egui::CollapsingHeader::new("model output").id_salt(("stream", run.ticket.id)).default_open(true).show(
                    ui,
                    |ui| {
                        egui::ScrollArea::vertical().max_height(120.0).stick_to_bottom(true).show(ui, |ui| {
                            ui.add(egui::Label::new(egui::RichText::new(&run.text).monospace()).wrap());
                        });
                    },
                );
            }
        }
        ui.separator();
        let Some(last) = &mut self.last else {
            ui.label(
                "Press Analyze (Ctrl+Enter) to read the visible chart. Without model weights the rule-based analyst \
                 answers from the detected patterns, the market state and the miner's statistics.",
            );
            return;
        };
        let r = last.result.clone();
        egui::ScrollArea::vertical().id_salt("analysis_scroll").auto_shrink([false, false]).show(ui, |ui| {
            let who = if r.analyst == RULE_BASED_ID {
                "Rule-based analyst (no model answered)".to_string()
            } else {
                format!("Model: {}", r.analyst)
            };
            ui.horizontal(|ui| {
                ui.strong(who);
                ui.weak(format!(
                    "· {} {} · {} bars · first finding {:.0} ms, result {:.0} ms",
                    r.symbol,
                    r.timeframe,
                    r.visible.len(),
                    r.first_finding_secs * 1e3,
                    r.total_secs * 1e3
                ));
                match (last.stored, &last.store_error) {
                    (Some(ids), _) => ui.weak(format!("· stored as analysis #{}", ids.analysis.0)),
                    (None, Some(e)) => ui.colored_label(theme::WARNING, format!("· not stored: {e}")),
                    (None, None) => ui.weak("· not stored"),
                };
            });
            for f in &r.fallbacks {
                ui.colored_label(theme::WARNING, format!("{} fell back: {}", f.analyst, f.reason));
            }
            ui.add_space(4.0);
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_max_width(ui.available_width() * 0.55);
                    reading_card(ui, &r);
                    findings_ui(ui, &r, actions);
                    strategy_ui(ui, &r);
                    ui.add_space(4.0);
                    crate::gui::panels::backtest::metrics_side_by_side_ui(
                        ui,
                        &r.in_sample.report,
                        r.out_of_sample.as_ref().map(|p| &p.report),
                    );
                });
                ui.separator();
                ui.vertical(|ui| {
                    ui.strong("The chart the analyst saw");
                    match &r.chart_png {
                        Some(png) => {
                            if last.texture.is_none() {
                                last.texture = decode_png(png).map(|image| {
                                    ui.ctx().load_texture("analysis_chart", image, egui::TextureOptions::LINEAR)
                                });
                            }
                            if let Some(texture) = &last.texture {
                                let width = ui.available_width().max(120.0);
                                let size = texture.size_vec2();
                                ui.image((texture.id(), egui::vec2(width, width * size.y / size.x.max(1.0))));
                            }
                        }
                        None => {
                            ui.weak(r.chart_note.clone().unwrap_or_else(|| "no image".into()));
                        }
                    }
                });
            });
        });
    }

    /// The Model panel: the analyst chain, the loaded model's architecture, memory, licence and speed, and the
    /// controls to load a folder or hub id or go back to the rule-based analyst.
    pub fn model_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<AnalysisAction>) {
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.model_name)
                    .hint_text("model folder or hub id (openbmb/MiniCPM4.1-8B)")
                    .desired_width(280.0),
            );
            let name = self.model_name.trim().to_string();
            if ui.add_enabled(!name.is_empty() && self.model_load.is_none(), egui::Button::new("Load")).clicked() {
                actions.push(AnalysisAction::LoadModel(name));
            }
            if ui.button("Model folder…").on_hover_text("Choose a MiniCPM model folder (Hugging Face layout)").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                self.model_name = dir.display().to_string();
                actions.push(AnalysisAction::LoadModel(self.model_name.clone()));
            }
            if self.model.is_some() && ui.button("Unload").clicked() {
                actions.push(AnalysisAction::UnloadModel);
            }
        });
        if let Some(load) = &self.model_load {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("loading {} …", load.name));
            });
        }
        ui.separator();
        ui.strong("Analysts, in order");
        for (k, id) in self.analysts.iter().enumerate() {
            ui.label(format!("{}. {id}", k + 1));
        }
        let Some(m) = &self.model else {
            ui.weak(
                "No model weights loaded: the rule-based analyst answers from the detected patterns, the market state \
                 and the miner's statistics. Load a MiniCPM4.1 (text) or MiniCPM-V (chart image) folder above, or \
                 start with $AIO_MODEL set.",
            );
            return;
        };
        let i = &m.info;
        ui.separator();
        egui::Grid::new("model_info").num_columns(2).striped(true).show(ui, |ui| {
            let rows = [
                ("Folder", i.dir.display().to_string()),
                ("Model", format!("{} ({})", i.model_type, i.architecture)),
                ("Weights", i.quantization.clone()),
                ("Parameters", format!("{:.2} B", i.parameters as f64 / 1e9)),
                ("Memory (weights)", format!("{:.2} GB", i.weight_bytes as f64 / 1e9)),
                ("Context", format!("{} positions", i.max_positions)),
                ("Reads chart images", if i.vision { "yes (MiniCPM-V)".into() } else { "no".into() }),
                ("Device", "CPU (candle)".to_string()),
                ("Licence", m.licence.clone().unwrap_or_else(|| "not stated in the model card".into())),
                ("Loaded in", format!("{:.2} s", i.load_secs)),
            ];
            for (name, value) in rows {
                ui.weak(name);
                ui.label(value);
                ui.end_row();
            }
            if let Some(last) = self.last.as_ref().filter(|l| l.result.tokens > 0) {
                let r = &last.result;
                let secs = r
                    .stage_secs
                    .windows(2)
                    .find(|w| w[0].0 == Stage::Analyst)
                    .map_or(r.total_secs, |w| w[1].1 - w[0].1);
                ui.weak("Last answer");
                ui.label(format!(
                    "{} tokens in {secs:.1} s ({:.1} tokens/s)",
                    r.tokens,
                    r.tokens as f64 / secs.max(1e-9)
                ));
                ui.end_row();
            }
        });
    }

    /// Starts loading `name` on the `aio-model-load` thread.
    pub fn load_model(&mut self, name: String, ctx: &egui::Context) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (model, ctx) = (name.clone(), ctx.clone());
        std::thread::Builder::new().name("aio-model-load".into()).spawn(move || {
            let _ = tx.send(AnalystChain::for_model(Some(&model)));
            ctx.request_repaint();
        })?;
        self.model_load = Some(ModelLoad { name, rx });
        Ok(())
    }
}

/// The model folder to use by default: `$AIO_MODEL`, when set.
pub fn default_model() -> Option<PathBuf> {
    std::env::var_os("AIO_MODEL").map(PathBuf::from)
}

fn decode_png(png: &[u8]) -> Option<egui::ColorImage> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).ok()?.to_rgba8();
    let size = [image.width() as usize, image.height() as usize];
    Some(egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw()))
}

fn bar(ui: &mut egui::Ui, value: f64, text: String) {
    let v = if value.is_finite() { value.clamp(0.0, 1.0) as f32 } else { 0.0 };
    ui.add(egui::ProgressBar::new(v).desired_width(160.0).text(text));
}

fn reading_card(ui: &mut egui::Ui, r: &AnalysisResult) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        let reading = &r.reading;
        ui.horizontal(|ui| {
            ui.strong(format!("Reading: {}", reading.pattern.replace('_', " ")));
            ui.weak(format!("trend {}, volatility {} · {}", reading.trend, reading.volatility, r.findings_source));
        });
        ui.horizontal(|ui| {
            ui.weak("strength");
            bar(ui, reading.strength, format!("{:.2}", reading.strength));
            ui.weak("confidence");
            bar(ui, reading.confidence, format!("{:.2}", reading.confidence));
        });
        if !reading.support_resistance.is_empty() {
            let levels: Vec<String> = reading.support_resistance.iter().map(|p| format!("{p:.5}")).collect();
            ui.weak(format!("support/resistance: {}", levels.join(", ")));
        }
        ui.label(&reading.notes);
    });
}

fn findings_ui(ui: &mut egui::Ui, r: &AnalysisResult, actions: &mut Vec<AnalysisAction>) {
    let Some(findings) = r.context.findings.as_array() else { return };
    if findings.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("Patterns in view ({})", findings.len())).default_open(true).show(ui, |ui| {
        for f in findings.iter().rev().take(12) {
            let name = f["pattern"].as_str().unwrap_or("?").replace('_', " ");
            let strength = f["strength"].as_f64().unwrap_or(0.0);
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    let confirmed = f["confirmed"].as_bool().unwrap_or(false);
                    ui.strong(&name);
                    ui.weak(if confirmed { "confirmed" } else { "forming" });
                    bar(ui, strength, format!("{strength:.2}"));
                    if ui.small_button("show").on_hover_text("Bring it into view on the chart").clicked() {
                        let (from, to) = pattern_bars(r, f);
                        actions.push(AnalysisAction::Focus(from, to));
                    }
                });
                ui.weak(format!("{} to {}", f["start"].as_str().unwrap_or(""), f["end"].as_str().unwrap_or("")));
            });
        }
    });
}

/// Bar indices of a finding's start and end (by time, within the visible range).
fn pattern_bars(r: &AnalysisResult, finding: &serde_json::Value) -> (usize, usize) {
    let ts = r.in_sample.report.bars.ts_nanos();
    let index = |key: &str| {
        finding[key]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| t.timestamp_nanos_opt())
            .map_or(r.visible.start, |nanos| ts.partition_point(|&x| x < nanos))
    };
    (index("start"), index("end"))
}

fn strategy_ui(ui: &mut egui::Ui, r: &AnalysisResult) {
    let o = &r.output;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong(format!("Strategy: {}", o.strategy.name));
            ui.weak("confidence");
            bar(ui, o.confidence, format!("{:.2}", o.confidence));
        });
        for line in crate::strategy::describe(&o.strategy) {
            ui.label(format!("- {line}"));
        }
        ui.add_space(2.0);
        ui.label(&o.rationale);
        ui.weak(format!("Risk: {}", o.risk));
        if !o.assumptions.is_empty() {
            egui::CollapsingHeader::new("Assumptions").id_salt("assumptions").show(ui, |ui| {
                for a in &o.assumptions {
                    ui.label(format!("- {a}"));
                }
            });
        }
        ui.weak("Edit its parameters and re-run it in the Backtest panel; copy its Pine Script from the Pine panel.");
    });
}
