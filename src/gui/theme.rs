//! Every colour the workstation uses.

use egui::Color32;
use tracing::Level;

/// Up (close ≥ open) candle colour.
pub const CANDLE_UP: Color32 = Color32::from_rgb(38, 166, 154);
/// Down candle colour.
pub const CANDLE_DOWN: Color32 = Color32::from_rgb(239, 83, 80);
/// Error text.
pub const ERROR: Color32 = Color32::from_rgb(239, 83, 80);
/// Warning text.
pub const WARNING: Color32 = Color32::from_rgb(255, 183, 77);
/// Drop-target overlay.
pub const DROP_OVERLAY: Color32 = Color32::from_rgba_premultiplied(20, 60, 90, 160);

/// Text colour for a log level.
pub fn log_level_color(level: Level, visuals: &egui::Visuals) -> Color32 {
    match level {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => visuals.text_color(),
        _ => visuals.weak_text_color(),
    }
}

/// Colours of indicator lines, by position within an indicator (first line, second line, third line).
pub const STUDY_LINES: [Color32; 3] =
    [Color32::from_rgb(41, 98, 255), Color32::from_rgb(255, 109, 0), Color32::from_rgb(156, 39, 176)];
/// Bollinger Bands.
pub const BANDS: Color32 = Color32::from_rgb(33, 150, 243);
/// Overbought/oversold guide lines in oscillator panes.
pub const GUIDE: Color32 = Color32::from_rgb(120, 123, 134);
/// Bullish pattern markers.
pub const BULLISH: Color32 = Color32::from_rgb(0, 200, 83);
/// Bearish pattern markers.
pub const BEARISH: Color32 = Color32::from_rgb(213, 0, 0);
/// Chart-pattern outlines and labels.
pub const CHART_PATTERN: Color32 = Color32::from_rgb(255, 193, 7);
/// Positive MACD histogram bars.
pub const HIST_UP: Color32 = Color32::from_rgba_premultiplied(38, 166, 154, 160);
/// Negative MACD histogram bars.
pub const HIST_DOWN: Color32 = Color32::from_rgba_premultiplied(239, 83, 80, 160);

/// Pine syntax colours, in the spirit of TradingView's editor.
pub mod pine {
    use egui::Color32;

    /// Keywords (`if`, `var`, `and`).
    pub const KEYWORD: Color32 = Color32::from_rgb(197, 134, 192);
    /// Built-in namespaces and calls (`ta.sma`, `strategy.entry`).
    pub const BUILTIN: Color32 = Color32::from_rgb(86, 156, 214);
    /// Numbers.
    pub const NUMBER: Color32 = Color32::from_rgb(181, 206, 168);
    /// Strings.
    pub const STRING: Color32 = Color32::from_rgb(206, 145, 120);
    /// Comments.
    pub const COMMENT: Color32 = Color32::from_rgb(106, 153, 85);
    /// `#RRGGBB` literals.
    pub const COLOR: Color32 = Color32::from_rgb(220, 220, 170);
    /// Operators and punctuation.
    pub const OPERATOR: Color32 = Color32::from_rgb(180, 180, 180);
}
