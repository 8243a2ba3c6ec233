//! Panels whose content arrives with later features: each says what will appear there.

use crate::gui::dock::Tab;

/// What a not-yet-active panel will show.
pub fn description(tab: Tab) -> &'static str {
    match tab {
        Tab::Analysis => {
            "Analysis: press Analyze to have the local model (or the rule-based analyst) read the visible chart. \
             Findings appear here as cards with confidence bars, next to the chart image the model saw and the \
             proposed strategy with its rationale and risk."
        }
        Tab::PineScript => {
            "Pine Script: the generated Pine Script v5 of the current strategy appears here with syntax colouring, \
             the validator's diagnostics and a Copy to TradingView button."
        }
        Tab::Backtest => {
            "Backtest: the strategy's equity and drawdown curves, its metrics (net profit, drawdown, Sharpe, \
             Sortino, profit factor …) and the trade list appear here, in-sample and out-of-sample side by side."
        }
        _ => "",
    }
}

/// Draws the placeholder text.
pub fn ui(ui: &mut egui::Ui, tab: Tab) {
    ui.add_space(8.0);
    ui.label(egui::RichText::new(tab.title()).heading());
    ui.add_space(4.0);
    ui.label(description(tab));
    ui.add_space(8.0);
    ui.weak("Not available yet in this build.");
}
