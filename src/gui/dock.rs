//! The docked layout: which panels exist and their default arrangement (egui_tiles).

use serde::{Deserialize, Serialize};

/// A dockable panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tab {
    /// Candlestick chart of the loaded bars.
    Chart,
    /// Table of the loaded bars.
    Data,
    /// Datasets and strategies in the library.
    Library,
    /// Program log.
    Log,
    /// Model findings for the visible chart.
    Analysis,
    /// Generated Pine Script v5.
    PineScript,
    /// Backtest results.
    Backtest,
    /// Chart patterns, market state and the miner's pattern statistics.
    Patterns,
    /// The analysts: the local model (folder or hub id, memory, licence, speed), the rule-based fallback.
    Model,
}

impl Tab {
    /// Every panel.
    pub const ALL: [Self; 9] = [
        Self::Chart,
        Self::Data,
        Self::Library,
        Self::Log,
        Self::Analysis,
        Self::PineScript,
        Self::Backtest,
        Self::Patterns,
        Self::Model,
    ];

    /// Tab title.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Chart => "Chart",
            Self::Data => "Data",
            Self::Library => "Library",
            Self::Log => "Log",
            Self::Analysis => "Analysis",
            Self::PineScript => "Pine Script",
            Self::Backtest => "Backtest",
            Self::Patterns => "Patterns",
            Self::Model => "Model",
        }
    }
}

/// The default arrangement: chart and analysis on top left, data/backtest/log below, library and Pine on the right.
pub fn default_tree() -> egui_tiles::Tree<Tab> {
    let mut tiles = egui_tiles::Tiles::default();
    let chart = tiles.insert_pane(Tab::Chart);
    let analysis = tiles.insert_pane(Tab::Analysis);
    let top = tiles.insert_tab_tile(vec![chart, analysis]);
    let data = tiles.insert_pane(Tab::Data);
    let backtest = tiles.insert_pane(Tab::Backtest);
    let log = tiles.insert_pane(Tab::Log);
    let patterns = tiles.insert_pane(Tab::Patterns);
    let bottom = tiles.insert_tab_tile(vec![patterns, data, backtest, log]);
    let left = tiles.insert_vertical_tile(vec![top, bottom]);
    if let Some(egui_tiles::Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(left) {
        linear.shares.set_share(top, 2.0);
        linear.shares.set_share(bottom, 1.0);
    }
    let library = tiles.insert_pane(Tab::Library);
    let pine = tiles.insert_pane(Tab::PineScript);
    let model = tiles.insert_pane(Tab::Model);
    let right = tiles.insert_tab_tile(vec![library, pine, model]);
    let root = tiles.insert_horizontal_tile(vec![left, right]);
    if let Some(egui_tiles::Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(root) {
        linear.shares.set_share(left, 3.0);
        linear.shares.set_share(right, 1.0);
    }
    egui_tiles::Tree::new(egui::Id::unique("aio_dock"), root, tiles)
}

/// Brings `tab` to the front of its tab group.
pub fn focus(tree: &mut egui_tiles::Tree<Tab>, tab: Tab) {
    if let Some(id) = tree.tiles.find_pane(&tab) {
        tree.make_active(|tile_id, _| tile_id == id);
    }
}

/// True when every panel appears exactly once in `tree` (a persisted layout from another version may not).
pub fn tree_is_complete(tree: &egui_tiles::Tree<Tab>) -> bool {
    Tab::ALL
        .iter()
        .all(|tab| tree.tiles.iter().filter(|(_, t)| matches!(t, egui_tiles::Tile::Pane(p) if p == tab)).count() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_has_every_panel_once_and_survives_serde() {
        let tree = default_tree();
        assert!(tree_is_complete(&tree));
        let json = serde_json::to_string(&tree).unwrap();
        let back: egui_tiles::Tree<Tab> = serde_json::from_str(&json).unwrap();
        assert!(tree_is_complete(&back));
    }
}
