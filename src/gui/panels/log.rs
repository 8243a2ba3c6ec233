//! The Log panel: recent tracing events with a level filter.

use tracing::Level;

use crate::gui::{log::LogBuffer, theme};

/// State of the log panel.
#[derive(Debug)]
pub struct LogPanel {
    /// Least severe level shown.
    pub min_level: Level,
}

impl Default for LogPanel {
    fn default() -> Self {
        Self { min_level: Level::INFO }
    }
}

impl LogPanel {
    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, buffer: &LogBuffer) {
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt("log_level").selected_text(self.min_level.as_str()).show_ui(ui, |ui| {
                for level in [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE] {
                    ui.selectable_value(&mut self.min_level, level, level.as_str());
                }
            });
            if ui.button("Clear").clicked() {
                buffer.clear();
            }
        });
        let lines = buffer.snapshot(self.min_level);
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
        egui::ScrollArea::vertical().stick_to_bottom(true).auto_shrink(false).show_rows(
            ui,
            row_height,
            lines.len(),
            |ui, range| {
                for line in &lines[range] {
                    let color = theme::log_level_color(line.level, ui.visuals());
                    ui.label(
                        egui::RichText::new(format!("{} {:5} {}", line.time, line.level, line.text))
                            .monospace()
                            .color(color),
                    );
                }
            },
        );
    }
}
