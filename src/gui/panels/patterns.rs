//! The Patterns panel: market state, the chart patterns found (click to show one on the chart) and the
//! historical miner's statistics for every pattern of the dataset.

use egui_extras::{Column, TableBuilder};

use crate::gui::{loader::JobProgress, studies::Studies};

/// What the panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PatternsAction {
    /// Bring bars `[from, to]` into view on the chart.
    Focus(usize, usize),
}

/// Draws the panel.
pub fn ui(
    ui: &mut egui::Ui,
    studies: Option<&Studies>,
    running: Option<&JobProgress>,
    actions: &mut Vec<PatternsAction>,
) {
    if let Some(progress) = running {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Computing studies: {}", progress.stage()));
        });
    }
    let Some(studies) = studies else {
        if running.is_none() {
            ui.label("Patterns are found once a dataset is loaded.");
        }
        return;
    };
    if let Some(chart) = &studies.chart {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Market state");
            ui.label(format!(
                "regime {} (slope {:+.3} ATR/bar, efficiency {:.2})",
                chart.regime.regime.name(),
                chart.regime.slope_atr_per_bar,
                chart.regime.efficiency
            ));
            ui.separator();
            ui.label(format!(
                "volatility {} (ATR percentile {:.0})",
                chart.volatility.state.name(),
                chart.volatility.percentile
            ));
        });
        if !chart.levels.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.strong("Levels");
                for level in chart.levels.iter().take(6) {
                    ui.label(format!("{:.5} ({} touches, {:?})", level.price, level.touches, level.kind));
                }
            });
        }
    }
    ui.separator();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    egui::CollapsingHeader::new(format!("Chart patterns ({})", studies.chart.as_ref().map_or(0, |c| c.patterns.len())))
        .default_open(true)
        .show(ui, |ui| {
            let Some(chart) = &studies.chart else { return };
            egui::ScrollArea::vertical().id_salt("chart_patterns").max_height(180.0).show(ui, |ui| {
                egui::Grid::new("chart_patterns_grid").striped(true).num_columns(5).show(ui, |ui| {
                    for title in ["pattern", "strength", "state", "bars", ""] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for p in chart.patterns.iter().rev() {
                        ui.label(p.kind.name());
                        ui.label(format!("{:.2}", p.strength));
                        ui.label(if p.confirmed { "confirmed" } else { "forming" });
                        ui.label(format!("{} - {}", p.start, p.end));
                        if ui.small_button("Show").on_hover_text("Show this pattern on the chart").clicked() {
                            actions.push(PatternsAction::Focus(p.start, p.end));
                        }
                        ui.end_row();
                    }
                });
            });
        });
    let Some(report) = &studies.mining else { return };
    ui.separator();
    ui.strong(format!(
        "Pattern statistics: {}-bar forward returns, out-of-sample from bar {} of {}",
        report.horizon_bars, report.split_index, report.bars
    ));
    TableBuilder::new(ui)
        .id_salt("mining_table")
        .striped(true)
        .column(Column::auto().at_least(170.0))
        .columns(Column::auto().at_least(52.0), 7)
        .column(Column::remainder())
        .header(20.0, |mut header| {
            for title in ["pattern", "dir", "n", "hit %", "mean %", "t", "t oos", "robust", "verdict"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, report.stats.len(), |mut row| {
                let Some(s) = report.stats.get(row.index()) else { return };
                let cells = [
                    s.pattern.clone(),
                    match s.direction {
                        1 => "up".into(),
                        -1 => "down".into(),
                        _ => "-".into(),
                    },
                    s.all.count.to_string(),
                    format!("{:.1}", s.all.hit_rate * 100.0),
                    format!("{:+.3}", s.all.mean * 100.0),
                    format!("{:+.2}", s.all.t_stat),
                    format!("{:+.2}", s.out_of_sample.t_stat),
                    s.robustness.map_or("-".into(), |r| format!("{:.0}%", r * 100.0)),
                ];
                for text in cells {
                    row.col(|ui| {
                        ui.label(text);
                    });
                }
                row.col(|ui| {
                    if s.validated {
                        ui.colored_label(crate::gui::theme::BULLISH, &s.verdict);
                    } else {
                        ui.weak(&s.verdict);
                    }
                });
            });
        });
}
