//! The Backtest panel: the strategy spec (JSON, editable), a Run button that backtests it on the loaded data on
//! the `aio-backtest` thread (the run, its Pine script and diagnostics are stored in the library there), then the
//! metrics table, the equity and drawdown curves (egui_plot) and the trade list — click a trade to show it on the
//! chart with its entry and exit markers.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        mpsc::{Receiver, TryRecvError, sync_channel},
    },
};

use egui_extras::{Column, TableBuilder};
use egui_plot::{Line, Plot};

use crate::{
    backtest::{
        BacktestReport, ExitReason, MarketSpec, Side,
        report::{equity_points, report_json, trades_json},
        run_backtest,
    },
    domain::format_ts_nanos,
    ingest::LoadedBars,
    pine,
    store::{Library, NewBacktest, NewDataset},
    strategy::StrategySpec,
};

/// The spec a new panel starts with: the issue's SMA cross.
pub const DEFAULT_SPEC: &str = r#"{
  "version": 1, "name": "SMA cross", "symbol": "EURUSD", "timeframe": "H1",
  "indicators": [
    {"id": "fast", "kind": "sma", "source": "close", "length": 10},
    {"id": "slow", "kind": "sma", "source": "close", "length": 20}
  ],
  "long_entry": {"crosses_above": ["fast", "slow"]},
  "long_exit": {"crosses_below": ["fast", "slow"]},
  "short_entry": null, "short_exit": null,
  "stop_loss": {"pips": 30}, "take_profit": {"atr": {"length": 14, "mult": 3.0}},
  "position": {"units": 10000},
  "costs": {"commission_percent": 0.0, "slippage_ticks": 0, "spread_pips": 0.0},
  "initial_capital": 100000
}"#;

/// A finished run: the report, its Pine script and the validator's verdict.
pub struct BacktestOutcome {
    /// The spec that ran.
    pub spec: StrategySpec,
    /// Trades, equity and metrics (in-sample when `out_of_sample` is set).
    pub report: BacktestReport,
    /// The same strategy on the held-out tail, shown beside `report` (an analysis's backtests).
    pub out_of_sample: Option<BacktestReport>,
    /// The generated Pine Script v5.
    pub pine: String,
    /// Validator diagnostics of `pine`.
    pub diagnostics: Vec<pine::Diagnostic>,
    /// Where it was stored, or why not.
    pub stored: Result<i64, String>,
}

/// A run on the `aio-backtest` thread.
pub struct BacktestJob {
    rx: Receiver<Result<BacktestOutcome, String>>,
}

impl BacktestJob {
    /// Backtests `spec` on `data`, generates and checks its Pine script and stores everything in the library.
    pub fn spawn(
        spec: StrategySpec,
        data: Arc<LoadedBars>,
        library: Option<PathBuf>,
        ctx: egui::Context,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new().name("aio-backtest".into()).spawn(move || {
            let result = run_job(spec, &data, library);
            let _ = tx.send(result);
            ctx.request_repaint();
        })?;
        Ok(Self { rx })
    }

    /// The outcome once the run has finished.
    pub fn poll(&self) -> Option<Result<BacktestOutcome, String>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the backtest thread stopped unexpectedly".into())),
        }
    }
}

fn run_job(spec: StrategySpec, data: &LoadedBars, library: Option<PathBuf>) -> Result<BacktestOutcome, String> {
    let symbol = if spec.symbol.is_empty() { data.symbol.clone().unwrap_or_default() } else { spec.symbol.clone() };
    let report =
        run_backtest(&spec, Arc::new(data.bars.clone()), MarketSpec::for_symbol(&symbol)).map_err(|e| e.to_string())?;
    let pine_source = pine::generate_pine(&spec);
    let diagnostics = pine::check(&pine_source);
    let stored = match library {
        Some(path) => store(&path, &spec, data, &report, &pine_source, &diagnostics).map_err(|e| e.to_string()),
        None => Err("no library".into()),
    };
    if let Err(e) = &stored {
        tracing::warn!("backtest not stored: {e}");
    }
    Ok(BacktestOutcome { spec, report, out_of_sample: None, pine: pine_source, diagnostics, stored })
}

fn store(
    path: &std::path::Path,
    spec: &StrategySpec,
    data: &LoadedBars,
    report: &BacktestReport,
    pine_source: &str,
    diagnostics: &[pine::Diagnostic],
) -> anyhow::Result<i64> {
    let mut lib = Library::open(path)?;
    let spec_json = serde_json::to_value(spec)?;
    let strategy_id = lib.strategy_id_for(&spec.name, &spec_json)?;
    let dataset_id = lib.add_dataset(&NewDataset::from_loaded(data, &data.source)).ok();
    let id = lib.add_backtest(&NewBacktest {
        strategy_id,
        dataset_id,
        metrics: report_json(report, &spec.name),
        equity: equity_points(report),
        trades: trades_json(report),
    })?;
    lib.add_pine_script(strategy_id, pine_source, &pine::diagnostics_json(diagnostics))?;
    Ok(id.0)
}

/// What the panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum BacktestAction {
    /// Run the spec text on the loaded data.
    Run(Box<StrategySpec>),
    /// Bring bars `[from, to]` into view on the chart.
    Focus(usize, usize),
}

/// Panel state.
#[derive(Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BacktestPanel {
    /// The spec being edited.
    pub spec_text: String,
    /// Why the spec text does not parse, if it does not.
    #[serde(skip)]
    pub spec_error: Option<String>,
    /// The last finished run.
    #[serde(skip)]
    pub outcome: Option<Arc<BacktestOutcome>>,
    /// The last run's error.
    #[serde(skip)]
    pub run_error: Option<String>,
    /// The selected trade.
    #[serde(skip)]
    pub selected_trade: Option<usize>,
    /// Show the spec editor instead of the results.
    #[serde(skip)]
    pub editing: bool,
}

impl BacktestPanel {
    /// The spec text, or the default spec when empty.
    pub fn spec_text_mut(&mut self) -> &mut String {
        if self.spec_text.trim().is_empty() {
            self.spec_text = DEFAULT_SPEC.to_string();
        }
        &mut self.spec_text
    }

    /// Draws the panel; `running` while a job is under way, `has_data` when bars are loaded.
    pub fn ui(&mut self, ui: &mut egui::Ui, running: bool, has_data: bool, actions: &mut Vec<BacktestAction>) {
        ui.horizontal(|ui| {
            let run = ui.add_enabled(has_data && !running, egui::Button::new("Run backtest"));
            if run.clicked() {
                match StrategySpec::from_json(self.spec_text_mut()) {
                    Ok(spec) => {
                        self.spec_error = None;
                        self.editing = false;
                        actions.push(BacktestAction::Run(Box::new(spec)));
                    }
                    Err(e) => self.spec_error = Some(e.to_string()),
                }
            }
            let show_results = self.outcome.is_some() && !self.editing;
            if ui.selectable_label(!show_results, "Strategy spec").clicked() {
                self.editing = true;
            }
            if ui.add_enabled(self.outcome.is_some(), egui::Button::selectable(show_results, "Results")).clicked() {
                self.editing = false;
            }
            if running {
                ui.spinner();
                ui.label("backtesting…");
            }
            if !has_data {
                ui.weak("load data first");
            }
            if let Some(outcome) = &self.outcome {
                ui.separator();
                match &outcome.stored {
                    Ok(id) => ui.weak(format!("stored as backtest #{id}")),
                    Err(e) => ui.weak(format!("not stored: {e}")),
                };
            }
        });
        if let Some(e) = self.spec_error.as_ref().or(self.run_error.as_ref()) {
            ui.colored_label(crate::gui::theme::BEARISH, e);
        }
        let outcome = match self.outcome.clone() {
            Some(outcome) if !self.editing => outcome,
            _ => {
                egui::ScrollArea::vertical().id_salt("spec_editor").show(ui, |ui| {
                    ui.add(
                        egui::TextEdit::multiline(self.spec_text_mut())
                            .code_editor()
                            .desired_width(f32::INFINITY)
                            .desired_rows(12),
                    );
                });
                return;
            }
        };
        let report = &outcome.report;
        ui.separator();
        // Metrics and curves on the left, the trade list (scrolling on its own) on the right.
        let height = ui.available_height();
        ui.horizontal_top(|ui| {
            let left_width = (ui.available_width() * 0.5).max(320.0);
            ui.allocate_ui_with_layout(
                egui::vec2(left_width, height),
                egui::Layout::top_down(egui::Align::Min),
                |ui| {
                    match &outcome.out_of_sample {
                        Some(oos) => metrics_side_by_side_ui(ui, report, Some(oos)),
                        None => metrics_ui(ui, report),
                    }
                    let rest = (ui.available_height() - 28.0).max(100.0);
                    curves_ui(ui, report, outcome.out_of_sample.as_ref(), rest * 0.6, rest * 0.4);
                },
            );
            ui.separator();
            let size = egui::vec2(ui.available_width(), height);
            ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::Min), |ui| {
                self.trades_ui(ui, report, actions);
            });
        });
    }

    fn trades_ui(&mut self, ui: &mut egui::Ui, report: &BacktestReport, actions: &mut Vec<BacktestAction>) {
        ui.strong(format!("Trades ({})", report.trades.len()));
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        TableBuilder::new(ui)
            .id_salt("trades_table")
            .striped(true)
            .max_scroll_height(f32::INFINITY)
            .sense(egui::Sense::click())
            .column(Column::auto().at_least(32.0))
            .column(Column::auto().at_least(140.0))
            .columns(Column::auto().at_least(56.0), 5)
            .column(Column::remainder())
            .header(20.0, |mut header| {
                for title in ["#", "entry (UTC)", "side", "entry px", "exit px", "P&L", "return %", "exit"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, report.trades.len(), |mut row| {
                    let k = row.index();
                    let Some(t) = report.trades.get(k) else { return };
                    row.set_selected(self.selected_trade == Some(k));
                    let pnl_color = if t.pnl >= 0.0 { crate::gui::theme::BULLISH } else { crate::gui::theme::BEARISH };
                    let exit = match t.exit_reason {
                        ExitReason::Signal => "signal",
                        ExitReason::Reverse => "reverse",
                        ExitReason::StopLoss => "stop",
                        ExitReason::TakeProfit => "target",
                        ExitReason::Open => "open",
                    };
                    let cells = [
                        (k + 1).to_string(),
                        format_ts_nanos(t.entry_time_nanos),
                        if t.side == Side::Long { "long".into() } else { "short".into() },
                        format!("{:.5}", t.entry_price),
                        format!("{:.5}", t.exit_price),
                    ];
                    // Labels that do not take the click, so that the whole row selects the trade.
                    let cell = |ui: &mut egui::Ui, text: egui::RichText| {
                        ui.add(egui::Label::new(text).selectable(false).truncate());
                    };
                    for text in cells {
                        row.col(|ui| cell(ui, text.into()));
                    }
                    row.col(|ui| cell(ui, egui::RichText::new(format!("{:.2}", t.pnl)).color(pnl_color)));
                    row.col(|ui| cell(ui, format!("{:+.3}", t.return_pct).into()));
                    row.col(|ui| cell(ui, exit.into()));
                    if row.response().clicked() {
                        self.selected_trade = Some(k);
                        actions.push(BacktestAction::Focus(t.entry_bar, t.exit_bar));
                    }
                });
            });
    }
}

fn metrics_ui(ui: &mut egui::Ui, report: &BacktestReport) {
    let m = &report.metrics;
    let rows: [(&str, String); 15] = [
        ("Net profit", format!("{:.2}", m.net_profit)),
        ("Return", format!("{:.2} %", m.return_pct)),
        ("Buy & hold", format!("{:.2} %", m.buy_and_hold_return_pct)),
        ("Max drawdown", format!("{:.2} % ({} bars)", m.max_drawdown_pct, m.max_drawdown_duration_bars)),
        ("Sharpe", format!("{:.2}", m.sharpe)),
        ("Sortino", format!("{:.2}", m.sortino)),
        ("Calmar", format!("{:.2}", m.calmar)),
        ("Profit factor", format!("{:.2}", m.profit_factor)),
        ("Win rate", format!("{:.1} %", m.win_rate_pct)),
        ("Avg trade", format!("{:.3} %", m.avg_trade_pct)),
        ("Expectancy", format!("{:.3} %", m.expectancy)),
        ("SQN", format!("{:.2}", m.sqn)),
        ("Exposure", format!("{:.1} %", m.exposure_pct)),
        ("Trades", m.trades.to_string()),
        (
            "Final equity",
            match &report.open_trade {
                Some(t) => format!("{:.2} (open {:?} {:+.2})", m.final_equity, t.side, t.pnl),
                None => format!("{:.2}", m.final_equity),
            },
        ),
    ];
    egui::Grid::new("metrics_grid").num_columns(6).striped(true).show(ui, |ui| {
        for (k, (name, value)) in rows.iter().enumerate() {
            ui.weak(*name);
            ui.strong(value);
            if k % 3 == 2 {
                ui.end_row();
            }
        }
    });
}

/// In-sample and out-of-sample metrics in two columns (the second says "none" without an out-of-sample run).
pub(crate) fn metrics_side_by_side_ui(ui: &mut egui::Ui, is: &BacktestReport, oos: Option<&BacktestReport>) {
    type Cell = fn(&crate::backtest::Metrics) -> String;
    let rows: [(&str, Cell); 10] = [
        ("Net profit", |m| format!("{:.2}", m.net_profit)),
        ("Return", |m| format!("{:.2} %", m.return_pct)),
        ("Buy & hold", |m| format!("{:.2} %", m.buy_and_hold_return_pct)),
        ("Max drawdown", |m| format!("{:.2} %", m.max_drawdown_pct)),
        ("Sharpe", |m| format!("{:.2}", m.sharpe)),
        ("Sortino", |m| format!("{:.2}", m.sortino)),
        ("Profit factor", |m| format!("{:.2}", m.profit_factor)),
        ("Win rate", |m| format!("{:.1} %", m.win_rate_pct)),
        ("Exposure", |m| format!("{:.1} %", m.exposure_pct)),
        ("Trades", |m| m.trades.to_string()),
    ];
    egui::Grid::new("metrics_is_oos").num_columns(3).striped(true).show(ui, |ui| {
        ui.weak("");
        ui.strong(format!("In-sample ({} bars)", is.range.len()));
        ui.strong(match oos {
            Some(r) => format!("Out-of-sample ({} bars)", r.range.len()),
            None => "Out-of-sample (none)".to_string(),
        });
        ui.end_row();
        for (name, cell) in rows {
            ui.weak(name);
            ui.label(cell(&is.metrics));
            ui.label(oos.map_or_else(|| "-".to_string(), |r| cell(&r.metrics)));
            ui.end_row();
        }
    });
}

/// Equity and drawdown over the report's bars; an out-of-sample run continues on its own bars beside it.
fn curves_ui(
    ui: &mut egui::Ui,
    report: &BacktestReport,
    out_of_sample: Option<&BacktestReport>,
    equity_height: f32,
    drawdown_height: f32,
) {
    let equity = |r: &BacktestReport| -> Vec<[f64; 2]> {
        r.equity.iter().enumerate().map(|(k, e)| [(r.range.start + k) as f64, *e]).collect()
    };
    let drawdown = |r: &BacktestReport| -> Vec<[f64; 2]> {
        r.drawdown_pct().iter().enumerate().map(|(k, d)| [(r.range.start + k) as f64, -*d]).collect()
    };
    let link = egui::Id::unique("backtest_curves");
    let is_name = if out_of_sample.is_some() { "in-sample" } else { "equity" };
    Plot::new("equity_plot").height(equity_height - 4.0).link_axis(link, [true, false]).show(ui, |plot_ui| {
        plot_ui.line(Line::new(is_name, equity(report)).color(crate::gui::theme::BULLISH));
        if let Some(oos) = out_of_sample {
            plot_ui.line(Line::new("out-of-sample", equity(oos)).color(crate::gui::theme::WARNING));
        }
    });
    Plot::new("drawdown_plot").height(drawdown_height - 4.0).link_axis(link, [true, false]).show(ui, |plot_ui| {
        plot_ui.line(Line::new("drawdown %", drawdown(report)).color(crate::gui::theme::BEARISH).fill(0.0));
        if let Some(oos) = out_of_sample {
            plot_ui
                .line(Line::new("out-of-sample drawdown %", drawdown(oos)).color(crate::gui::theme::WARNING).fill(0.0));
        }
    });
}
