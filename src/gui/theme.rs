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
